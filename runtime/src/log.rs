//! `--log` / `--log-format` / `--debug`: runc's logging contract.
//!
//! containerd's shim reads the `--log` file when a call fails, so every error
//! is written there as a JSON line `{"level","msg","time"}` (or logrus-style
//! text), and also to stderr for people at a shell.

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug)]
struct Config {
    file: Option<PathBuf>,
    format: Format,
    debug: bool,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// Sets the destination once, at start-up. The log file is created at once so
/// that it exists even when nothing fails (containerd opens it unconditionally).
pub fn init(file: Option<PathBuf>, format: Format, debug: bool) {
    if let Some(f) = &file {
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(f);
    }
    let _ = CONFIG.set(Config {
        file,
        format,
        debug,
    });
}

fn config() -> &'static Config {
    CONFIG.get_or_init(|| Config {
        file: None,
        format: Format::Text,
        debug: false,
    })
}

pub fn debug_enabled() -> bool {
    config().debug
}

fn write(level: &str, msg: &str) {
    let c = config();
    let Some(path) = &c.file else { return };
    let time = rfc3339_now();
    let line = match c.format {
        Format::Json => {
            serde_json::json!({"level": level, "msg": msg, "time": time}).to_string() + "\n"
        }
        Format::Text => format!(
            "time=\"{time}\" level={level} msg={}\n",
            serde_json::Value::from(msg)
        ),
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

pub fn error(msg: &str) {
    write("error", msg);
    eprintln!("{msg}");
}

/// An error for the log file only (the caller has told the terminal).
pub fn error_to_file(msg: &str) {
    write("error", msg);
}

pub fn warn(msg: &str) {
    write("warning", msg);
    if config().file.is_none() {
        eprintln!("warning: {msg}");
    }
}

pub fn debug(msg: &str) {
    if !config().debug {
        return;
    }
    write("debug", msg);
    if config().file.is_none() {
        eprintln!("debug: {msg}");
    }
}

/// The current time as RFC 3339 in UTC with nanoseconds (what runc's state and
/// logs use), without pulling in a date crate.
pub fn rfc3339_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(super::rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            super::rfc3339(951782400, 5),
            "2000-02-29T00:00:00.000000005Z"
        );
        assert_eq!(
            super::rfc3339(1795430096, 0),
            "2026-11-23T10:34:56.000000000Z"
        );
    }
}
