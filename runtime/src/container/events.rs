//! `events`: runc's event stream. `--stats` prints one `stats` event and
//! returns; otherwise a `stats` event every interval plus an `oom` event
//! whenever the kernel OOM-kills in the container, until it stops.

use super::state::{live_start_time, State, Status};
use super::{status_of, Container, ContainerError};
use crate::cgroups::Cgroup;
use serde_json::{json, Value};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

fn not_running(id: &str) -> ContainerError {
    ContainerError::WrongState(format!("container with id {id} is not running"))
}

pub fn stats_event(id: &str, cg: &Cgroup) -> Result<Value, ContainerError> {
    Ok(json!({"type": "stats", "id": id, "data": cg.runc_stats()?}))
}

pub fn oom_event(id: &str) -> Value {
    json!({"type": "oom", "id": id})
}

/// One `stats` event (`events --stats`).
pub fn stats_once(c: &Container) -> Result<Value, ContainerError> {
    if c.status() == Status::Stopped {
        return Err(not_running(&c.state.id));
    }
    stats_event(&c.state.id, &c.cgroup()?)
}

/// The stream: `emit` gets every event. Takes the state, not a locked
/// container: a stream that runs for hours must not block `delete`.
pub fn stream(
    dir: &Path,
    st: &State,
    interval: Duration,
    emit: &mut dyn FnMut(&Value) -> std::io::Result<()>,
) -> Result<(), ContainerError> {
    if status_of(dir, st) == Status::Stopped {
        return Err(not_running(&st.id));
    }
    let cg = Cgroup::open(&st.cgroup_path, &st.id, st.systemd_cgroup)?;
    let mut oom = cg.oom_watch()?;
    let alive = || live_start_time(st.pid) == Some(st.pid_start) && dir.exists();
    let mut next = Instant::now() + interval;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        let fired = match &oom {
            Some(w) => {
                let mut pfd = libc::pollfd {
                    fd: w.fd().as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // Wake at least every 200 ms to notice the container stop.
                let ms = wait.as_millis().min(200) as i32;
                // SAFETY: one valid pollfd for the duration of the call.
                unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
            }
            None => {
                std::thread::sleep(wait.min(Duration::from_millis(200)));
                false
            }
        };
        if fired {
            match oom.as_mut().and_then(|w| w.consume()) {
                Some(0) => {}
                Some(_) => emit(&oom_event(&st.id)).map_err(super::io_err("writing events"))?,
                None => oom = None,
            }
            continue;
        }
        if !alive() {
            return Ok(());
        }
        if Instant::now() >= next {
            next += interval;
            match stats_event(&st.id, &cg) {
                Ok(e) => emit(&e).map_err(super::io_err("writing events"))?,
                // runc logs a failed sample and goes on.
                Err(e) => crate::log::warn(&format!("stats: {e}")),
            }
        }
    }
}

/// Go's time.ParseDuration for what people pass to `--interval`: "5s",
/// "100ms", "1m30s", "1.5s", "2h".
pub fn parse_duration(s: &str) -> Result<Duration, ContainerError> {
    let bad = || ContainerError::Other(format!("invalid duration {s:?}"));
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += num * secs;
        rest = &rest[u..];
    }
    if total <= 0.0 {
        return Err(ContainerError::Other(
            "duration interval must be greater than 0".into(),
        ));
    }
    // Go's limit (i64 nanoseconds, about 292 years): past it, and for an
    // infinite parse, an error rather than a panic in Duration or Instant.
    if total > i64::MAX as f64 / 1e9 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("9999999999999999999999h").is_err());
        assert!(parse_duration(&format!("{}s", "9".repeat(400))).is_err());
    }
}
