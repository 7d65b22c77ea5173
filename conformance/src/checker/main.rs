//! `oci-checker`: runs as the container's process (or as a hook) and reports
//! what it sees from inside, as one JSON line on stdout.
//!
//! It is copied into every test bundle's rootfs, so it must be a static binary
//! with no files around it: only std, serde_json and libc.
//!
//! Modes:
//! - `check GROUP...`   compare what the process sees with
//!   `/.oci-conformance/config.json` (+ `host.json`, facts from the host side)
//! - `hook NAME LOG`    append a JSON line (time, namespaces, state from stdin) to LOG
//! - `wait-signal DIR`  write DIR/ready, wait for a signal, write its number to DIR/signal
//! - `sleep`            sleep until killed
//! - `exit N`           exit with status N
//! - `tty`              report whether stdin/stdout are a terminal
//! - `syscall NAME`     make one syscall and print its errno
//! - `cat FILE`         print FILE (for debugging a kept bundle by hand)

mod fsinfo;
mod groups;
mod report;
mod sys;

use report::Report;
use serde_json::{json, Value};
use std::io::Write;

const CONFIG: &str = "/.oci-conformance/config.json";
const HOST: &str = "/.oci-conformance/host.json";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("");
    let code = match mode {
        "check" => check(&args[2..]),
        "hook" if args.len() >= 4 => hook(&args[2], &args[3]),
        "wait-signal" if args.len() >= 3 => wait_signal(&args[2]),
        "sleep" => loop {
            // SAFETY: pause only blocks until a signal arrives.
            unsafe { libc::pause() };
        },
        // For debugging a kept bundle by hand: print a file as the container sees it.
        "cat" if args.len() >= 3 => match std::fs::read(&args[2]) {
            Ok(b) => {
                let _ = std::io::stdout().write_all(&b);
                0
            }
            Err(e) => {
                eprintln!("{}: {e}", args[2]);
                1
            }
        },
        // Make one syscall (seccomp tests); a killed process prints nothing.
        "syscall" if args.len() >= 3 => {
            let r = sys::probe_syscall(&args[2]);
            println!(
                "{}",
                json!({"oci-checker": 1, "syscall": args[2], "errno": r})
            );
            0
        }
        "exit" => args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0),
        "tty" => {
            // SAFETY: isatty only inspects the descriptor.
            let (i, o) = unsafe { (libc::isatty(0), libc::isatty(1)) };
            println!(
                "{}",
                json!({"oci-checker": 1, "stdin_tty": i == 1, "stdout_tty": o == 1})
            );
            0
        }
        _ => {
            eprintln!("usage: oci-checker check GROUP... | hook NAME LOG | wait-signal DIR | sleep | exit N | tty | syscall NAME | cat FILE");
            2
        }
    };
    std::process::exit(code);
}

fn read_json(path: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("read {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("parse {path}: {e}"))
}

fn check(groups: &[String]) -> i32 {
    let mut rep = Report::default();
    let mut config = match read_json(CONFIG) {
        Ok(v) => v,
        Err(e) => {
            rep.fail("setup/config", e);
            rep.print();
            return 1;
        }
    };
    // An exec'd process is described by its own process.json, not the config's.
    if let Ok(p) = std::env::var("OCI_CHECKER_PROCESS") {
        match read_json(&p) {
            Ok(v) => config["process"] = v,
            Err(e) => rep.fail("setup/process", e),
        }
    }
    // host.json is optional: most groups only need the config.
    let host = read_json(HOST).unwrap_or(Value::Null);
    // Arguments after "--" are payload for the process/args check.
    for g in groups.iter().take_while(|g| *g != "--") {
        groups::run(g, &config, &host, &mut rep);
    }
    rep.print();
    i32::from(rep.failed())
}

/// A hook: records when and where it ran and what the runtime gave it.
fn hook(name: &str, log: &str) -> i32 {
    // Read the state until EOF, or until it parses when the runtime keeps
    // stdin open (then say so), so the hook cannot hang on the runtime.
    let (input, eof) = sys::read_stdin(std::time::Duration::from_secs(3));
    let state: Value = serde_json::from_str(&input).unwrap_or(Value::String(input));
    let mut ns = serde_json::Map::new();
    for n in ["mnt", "pid", "net", "uts", "ipc", "user", "cgroup"] {
        if let Ok(ino) = fsinfo::ns_inode(&format!("/proc/self/ns/{n}")) {
            ns.insert(n.into(), json!(ino));
        }
    }
    let line = json!({
        "hook": name,
        "time_ns": sys::realtime_ns(),
        "ns": ns,
        "state": state,
        "stdin_eof": eof,
        "args": std::env::args().collect::<Vec<_>>(),
        "env": std::env::vars().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
    });
    // O_APPEND and one write(2) keep lines of concurrent hooks (startContainer
    // and poststart) whole; writeln! on a File would issue several writes,
    // which interleaved and lost lines under crun.
    match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        Ok(mut f) => {
            let _ = f.write_all(format!("{line}\n").as_bytes());
            0
        }
        Err(e) => {
            eprintln!("oci-checker hook: open {log}: {e}");
            1
        }
    }
}

fn wait_signal(dir: &str) -> i32 {
    // Handlers for every catchable signal: as pid 1 in a pid namespace the
    // default action of most signals would be "ignore".
    sys::catch_all_signals();
    let _ = std::fs::write(format!("{dir}/ready"), "ready\n");
    loop {
        let sig = sys::last_signal();
        if sig != 0 {
            // Written then renamed: the runner never reads a half-written file.
            let _ = std::fs::write(format!("{dir}/signal.tmp"), format!("{sig}\n"));
            let _ = std::fs::rename(format!("{dir}/signal.tmp"), format!("{dir}/signal"));
            return 0;
        }
        // SAFETY: pause only blocks until a signal arrives.
        unsafe { libc::pause() };
    }
}
