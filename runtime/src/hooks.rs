//! Running OCI hooks: the state JSON on stdin, the `timeout` honoured, the
//! hook's output kept for the error message (as runc does).

use oci_spec::runtime::Hook;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("error running {kind} hook #{index} ({path}): {msg}")]
    Failed {
        kind: &'static str,
        index: usize,
        path: String,
        msg: String,
    },
}

/// Runs `hooks` in order; the first failure stops the rest.
pub fn run(kind: &'static str, hooks: &[Hook], state_json: &str) -> Result<(), HookError> {
    for (index, h) in hooks.iter().enumerate() {
        run_one(h, state_json).map_err(|msg| HookError::Failed {
            kind,
            index,
            path: h.path().display().to_string(),
            msg,
        })?;
    }
    Ok(())
}

/// For poststart and poststop: the spec says a failure is a warning and the
/// remaining hooks still run.
pub fn run_warn(kind: &'static str, hooks: &[Hook], state_json: &str) {
    for (index, h) in hooks.iter().enumerate() {
        if let Err(msg) = run_one(h, state_json) {
            let e = HookError::Failed {
                kind,
                index,
                path: h.path().display().to_string(),
                msg,
            };
            crate::log::warn(&e.to_string());
        }
    }
}

fn run_one(h: &Hook, state_json: &str) -> Result<(), String> {
    let mut cmd = Command::new(h.path());
    let args = h.args().clone().unwrap_or_default();
    if let Some((arg0, rest)) = args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    // A hook that does not read stdin must not block us: ignore EPIPE.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let deadline = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut nap = Duration::from_micros(200);
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(s) => break s,
            None => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "timeout after {} seconds",
                        h.timeout().unwrap_or(0)
                    ));
                }
                std::thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(20));
            }
        }
    };
    if status.success() {
        return Ok(());
    }
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Err(format!(
        "{status}, stdout: {}, stderr: {}",
        stdout.trim_end(),
        stderr.trim_end()
    ))
}

fn reader<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut r) = r {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            s = String::from_utf8_lossy(&buf).into_owned();
        }
        s
    })
}
