//! The lifecycle from outside: state at each step, create/start/kill/delete
//! contracts, errors for unknown ids, --pid-file, --console-socket, run's exit.

use crate::bundle::{base_spec, process, CHECKER};
use crate::harness::{path, test, wait_for, Ctx, Outcome, Test, TestError, TestResult};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn tests() -> Vec<Test> {
    vec![
        test("lifecycle", "create-state", create_state),
        test("lifecycle", "create-runs-no-user-code", create_no_user_code),
        test("lifecycle", "start-runs-process", start),
        test("lifecycle", "start-twice-fails", start_twice),
        test("lifecycle", "kill-default-sigterm", |c| {
            kill(c, None, libc::SIGTERM)
        }),
        test("lifecycle", "kill-name", |c| {
            kill(c, Some("USR1"), libc::SIGUSR1)
        }),
        test("lifecycle", "kill-sig-name", |c| {
            kill(c, Some("SIGUSR2"), libc::SIGUSR2)
        }),
        test("lifecycle", "kill-number", |c| {
            kill(c, Some("10"), libc::SIGUSR1)
        }),
        test("lifecycle", "kill-all", kill_all),
        test("lifecycle", "kill-created", kill_created),
        test("lifecycle", "stopped-state", stopped),
        test("lifecycle", "kill-stopped-fails", kill_stopped),
        test("lifecycle", "start-stopped-fails", start_stopped),
        test("lifecycle", "delete-stopped", delete_stopped),
        test("lifecycle", "delete-running-fails", delete_running),
        test("lifecycle", "delete-force", delete_force),
        test("lifecycle", "unknown-id-errors", unknown_id),
        test("lifecycle", "duplicate-id-fails", duplicate),
        test("lifecycle", "missing-config-fails", missing_config),
        test("lifecycle", "annotations-in-state", annotations),
        test("lifecycle", "pid-file", pid_file),
        test("lifecycle", "console-socket", console_socket),
        test(
            "lifecycle",
            "terminal-needs-console-socket",
            terminal_without_socket,
        ),
        test("lifecycle", "run-exit-status", run_exit),
    ]
}

fn fail(msg: impl Into<String>) -> TestResult {
    Ok(Outcome::Fail(msg.into()))
}

/// A writable-root bundle whose process writes /tmp/ready, then waits for a
/// signal and records it in /tmp/signal. Returns (bundle, rootfs/tmp).
fn waiter(ctx: &Ctx, annotations: Option<Value>) -> Result<(PathBuf, PathBuf), TestError> {
    let mut spec = base_spec(&[CHECKER, "wait-signal", "/tmp"]);
    spec.root_mut()
        .as_mut()
        .map(|r| r.set_readonly(Some(false)));
    if let Some(a) = annotations {
        spec.set_annotations(Some(super::typed(a)));
    }
    let b = ctx.bundle("bundle", &spec, json!({}))?;
    let tmp = b.join("rootfs/tmp");
    Ok((b, tmp))
}

/// create + start a waiter and wait until its process runs.
fn running(ctx: &mut Ctx) -> Result<Result<(String, PathBuf), String>, TestError> {
    let (b, tmp) = waiter(ctx, None)?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    if !out.success() {
        return Ok(Err(out.describe()));
    }
    let out = ctx.exec(&["start", &id])?;
    if !out.success() {
        return Ok(Err(out.describe()));
    }
    if !wait_for(Duration::from_secs(5), || tmp.join("ready").exists()) {
        return Ok(Err("process did not start within 5s after `start`".into()));
    }
    Ok(Ok((id, tmp)))
}

fn create_state(ctx: &mut Ctx) -> TestResult {
    let (b, _) = waiter(ctx, None)?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    if !out.success() {
        return fail(out.describe());
    }
    let st = ctx.state(&id)?;
    let mut problems = Vec::new();
    if st["ociVersion"].as_str().unwrap_or("").is_empty() {
        problems.push("ociVersion missing".to_string());
    }
    if st["id"] != id.as_str() {
        problems.push(format!("id: expected {id}, found {}", st["id"]));
    }
    if st["status"] != "created" {
        problems.push(format!("status: expected created, found {}", st["status"]));
    }
    if st["pid"].as_i64().unwrap_or(0) <= 0 {
        problems.push(format!("pid: expected > 0, found {}", st["pid"]));
    }
    // The pid is the container's process: in the container's mount namespace.
    if let Some(pid) = st["pid"].as_i64().filter(|p| *p > 0) {
        let ino = |p: String| std::fs::metadata(p).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
        let (theirs, ours) = (
            ino(format!("/proc/{pid}/ns/mnt")),
            ino("/proc/self/ns/mnt".into()),
        );
        if theirs.is_err() || theirs.ok() == ours.ok() {
            problems.push(format!(
                "pid {pid} is not a process in the container's mount namespace"
            ));
        }
    }
    let want_bundle = std::fs::canonicalize(&b)?;
    let got = st["bundle"].as_str().map(PathBuf::from);
    if got.as_deref().and_then(|g| std::fs::canonicalize(g).ok()) != Some(want_bundle.clone())
        || !got.as_deref().is_some_and(Path::is_absolute)
    {
        problems.push(format!(
            "bundle: expected absolute {}, found {}",
            want_bundle.display(),
            st["bundle"]
        ));
    }
    Ok(if problems.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(problems.join("; "))
    })
}

fn create_no_user_code(ctx: &mut Ctx) -> TestResult {
    let (b, tmp) = waiter(ctx, None)?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    if !out.success() {
        return fail(out.describe());
    }
    // Give a runtime that wrongly execs at create time the chance to show it.
    std::thread::sleep(Duration::from_millis(300));
    Ok(if tmp.join("ready").exists() {
        Outcome::Fail("the process ran user code before `start`".into())
    } else {
        Outcome::Pass
    })
}

/// start runs the created process itself: state says running, same pid.
fn start(ctx: &mut Ctx) -> TestResult {
    let (b, tmp) = waiter(ctx, None)?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    if !out.success() {
        return fail(out.describe());
    }
    let created = ctx.state(&id)?["pid"].as_i64();
    let out = ctx.exec(&["start", &id])?;
    if !out.success() {
        return fail(out.describe());
    }
    if !wait_for(Duration::from_secs(5), || tmp.join("ready").exists()) {
        return fail("process did not run within 5s after `start`");
    }
    let st = ctx.state(&id)?;
    let mut problems = Vec::new();
    if st["status"] != "running" {
        problems.push(format!("status: expected running, found {}", st["status"]));
    }
    if st["pid"].as_i64() != created {
        problems.push(format!(
            "pid: {:?} after create, {} after start",
            created, st["pid"]
        ));
    }
    if st["id"] != id.as_str() {
        problems.push(format!("id: {}", st["id"]));
    }
    Ok(if problems.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(problems.join("; "))
    })
}

fn start_twice(ctx: &mut Ctx) -> TestResult {
    let (id, _) = match running(ctx)? {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let out = ctx.exec(&["start", &id])?;
    Ok(if out.success() {
        Outcome::Fail("second `start` succeeded".into())
    } else {
        Outcome::Pass
    })
}

fn kill(ctx: &mut Ctx, sig: Option<&str>, want: i32) -> TestResult {
    let (id, tmp) = match running(ctx)? {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let mut args = vec!["kill", id.as_str()];
    args.extend(sig);
    let out = ctx.exec(&args)?;
    if !out.success() {
        return fail(out.describe());
    }
    let f = tmp.join("signal");
    if !wait_for(Duration::from_secs(5), || f.exists()) {
        return fail("the process received no signal within 5s");
    }
    let got = std::fs::read_to_string(&f)?
        .trim()
        .parse::<i32>()
        .unwrap_or(-1);
    Ok(if got == want {
        Outcome::Pass
    } else {
        Outcome::Fail(format!("expected signal {want}, process got {got}"))
    })
}

/// Kill a running container; wait for it to be stopped.
fn stop(ctx: &mut Ctx) -> Result<Result<String, String>, TestError> {
    let (id, _) = match running(ctx)? {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    let out = ctx.exec(&["kill", &id, "KILL"])?;
    if !out.success() {
        return Ok(Err(out.describe()));
    }
    let s = ctx.wait_status(&id, "stopped", Duration::from_secs(5));
    if s != "stopped" {
        return Ok(Err(format!(
            "status after the process died: expected stopped, found {s}"
        )));
    }
    Ok(Ok(id))
}

/// After the process dies: status stopped, and the state keeps its fields.
fn stopped(ctx: &mut Ctx) -> TestResult {
    let id = match stop(ctx)? {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    let st = ctx.state(&id)?;
    let mut problems = Vec::new();
    if st["id"] != id.as_str() {
        problems.push(format!("id: {}", st["id"]));
    }
    if st["ociVersion"].as_str().unwrap_or("").is_empty() {
        problems.push("ociVersion missing".to_string());
    }
    if !st["bundle"]
        .as_str()
        .is_some_and(|b| Path::new(b).is_absolute())
    {
        problems.push(format!("bundle: {}", st["bundle"]));
    }
    Ok(if problems.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(problems.join("; "))
    })
}

/// `kill --all` (runc's flag; containerd sends it): every process gets the signal.
fn kill_all(ctx: &mut Ctx) -> TestResult {
    let (id, _) = match running(ctx)? {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let out = ctx.exec(&["kill", "--all", &id, "KILL"])?;
    if !out.success() {
        return fail(out.describe());
    }
    let s = ctx.wait_status(&id, "stopped", Duration::from_secs(5));
    Ok(if s == "stopped" {
        Outcome::Pass
    } else {
        Outcome::Fail(format!("status after kill --all KILL: {s}"))
    })
}

/// A created container can be signalled; KILL stops it before it ever runs.
fn kill_created(ctx: &mut Ctx) -> TestResult {
    let (b, tmp) = waiter(ctx, None)?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    if !out.success() {
        return fail(out.describe());
    }
    let out = ctx.exec(&["kill", &id, "KILL"])?;
    if !out.success() {
        return fail(out.describe());
    }
    let s = ctx.wait_status(&id, "stopped", Duration::from_secs(5));
    Ok(if s != "stopped" {
        Outcome::Fail(format!("status after KILL of a created container: {s}"))
    } else if tmp.join("ready").exists() {
        Outcome::Fail("the process ran user code although killed before start".into())
    } else {
        Outcome::Pass
    })
}

/// The spec: signalling a container that is neither created nor running
/// MUST generate an error and have no effect.
fn kill_stopped(ctx: &mut Ctx) -> TestResult {
    let id = match stop(ctx)? {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    let out = ctx.exec(&["kill", &id, "TERM"])?;
    let s = ctx.status(&id);
    Ok(if out.success() {
        Outcome::Fail("`kill` of a stopped container succeeded".into())
    } else if s != "stopped" {
        Outcome::Fail(format!("failed kill changed the container: status {s}"))
    } else {
        Outcome::Pass
    })
}

/// The spec: starting a container that is not created MUST generate an error.
fn start_stopped(ctx: &mut Ctx) -> TestResult {
    let id = match stop(ctx)? {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    let out = ctx.exec(&["start", &id])?;
    let s = ctx.status(&id);
    Ok(if out.success() {
        Outcome::Fail("`start` of a stopped container succeeded".into())
    } else if s != "stopped" {
        Outcome::Fail(format!("failed start changed the container: status {s}"))
    } else {
        Outcome::Pass
    })
}

fn delete_stopped(ctx: &mut Ctx) -> TestResult {
    let id = match stop(ctx)? {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    let out = ctx.exec(&["delete", &id])?;
    if !out.success() {
        return fail(out.describe());
    }
    let after = ctx.exec(&["state", &id])?;
    Ok(if after.success() {
        Outcome::Fail("`state` still succeeds after delete".into())
    } else {
        Outcome::Pass
    })
}

fn delete_running(ctx: &mut Ctx) -> TestResult {
    let (id, _) = match running(ctx)? {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let out = ctx.exec(&["delete", &id])?;
    if out.success() {
        return fail("`delete` of a running container succeeded");
    }
    let s = ctx.status(&id);
    Ok(if s == "running" {
        Outcome::Pass
    } else {
        Outcome::Fail(format!("failed delete changed the container: status {s}"))
    })
}

fn delete_force(ctx: &mut Ctx) -> TestResult {
    let (id, _) = match running(ctx)? {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let pid = ctx.state(&id)?["pid"].as_i64().unwrap_or(0) as i32;
    let out = ctx.exec(&["delete", "--force", &id])?;
    if !out.success() {
        return fail(out.describe());
    }
    if ctx.exec(&["state", &id])?.success() {
        return fail("`state` still succeeds after delete --force");
    }
    // SAFETY: signal 0 only checks that the pid exists.
    let gone = wait_for(
        Duration::from_secs(2),
        || unsafe { libc::kill(pid, 0) } != 0,
    );
    Ok(if gone {
        Outcome::Pass
    } else {
        Outcome::Fail(format!("process {pid} still alive after delete --force"))
    })
}

fn unknown_id(ctx: &mut Ctx) -> TestResult {
    let id = ctx.new_id("nonexistent");
    let mut problems = Vec::new();
    for verb in [
        vec!["state"],
        vec!["start"],
        vec!["kill", "KILL"],
        vec!["delete"],
    ] {
        let mut args = vec![verb[0], id.as_str()];
        args.extend_from_slice(&verb[1..]);
        // kill takes the id before the signal.
        let out = ctx.exec(&args)?;
        if out.success() {
            problems.push(format!("`{}` of an unknown id succeeded", verb[0]));
        }
    }
    Ok(if problems.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(problems.join("; "))
    })
}

fn duplicate(ctx: &mut Ctx) -> TestResult {
    let (b, _) = waiter(ctx, None)?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    if !out.success() {
        return fail(out.describe());
    }
    let again = ctx.create(&id, &b, &[])?;
    if again.success() {
        return fail("second `create` with the same id succeeded");
    }
    let s = ctx.status(&id);
    Ok(if s == "created" {
        Outcome::Pass
    } else {
        Outcome::Fail(format!("first container changed: status {s}"))
    })
}

fn missing_config(ctx: &mut Ctx) -> TestResult {
    let b = ctx.bundles.join("empty");
    std::fs::create_dir_all(b.join("rootfs"))?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    Ok(if out.success() {
        Outcome::Fail("`create` of a bundle without config.json succeeded".into())
    } else {
        Outcome::Pass
    })
}

fn annotations(ctx: &mut Ctx) -> TestResult {
    let (b, _) = waiter(ctx, Some(json!({"org.example.oc": "yes", "other": "2"})))?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    if !out.success() {
        return fail(out.describe());
    }
    let st = ctx.state(&id)?;
    let a = &st["annotations"];
    Ok(if a["org.example.oc"] == "yes" && a["other"] == "2" {
        Outcome::Pass
    } else {
        Outcome::Fail(format!("state annotations: {a}"))
    })
}

fn pid_file(ctx: &mut Ctx) -> TestResult {
    let (b, _) = waiter(ctx, None)?;
    let id = ctx.new_id("c");
    let pf = ctx.work.join("pidfile");
    let out = ctx.create(&id, &b, &["--pid-file", path(&pf)])?;
    if !out.success() {
        return fail(out.describe());
    }
    let text = std::fs::read_to_string(&pf).unwrap_or_default();
    let st = ctx.state(&id)?;
    let want = st["pid"].as_i64().unwrap_or(-1);
    Ok(if text.trim().parse::<i64>().ok() == Some(want) {
        Outcome::Pass
    } else {
        Outcome::Fail(format!("pid file has {text:?}, state pid is {want}"))
    })
}

/// terminal=true with --console-socket: the runtime sends the pty master
/// over the socket (SCM_RIGHTS); the process sees a terminal on stdio.
fn console_socket(ctx: &mut Ctx) -> TestResult {
    let mut spec = base_spec(&[CHECKER, "tty"]);
    process(&mut spec).set_terminal(Some(true));
    let b = ctx.bundle("bundle", &spec, json!({}))?;
    let sock = ctx.work.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock)?;
    listener.set_nonblocking(true)?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &["--console-socket", path(&sock)])?;
    if !out.success() {
        return fail(out.describe());
    }
    let stream = match listener.accept() {
        Ok((s, _)) => s,
        Err(e) => {
            return fail(format!(
                "runtime did not connect to the console socket: {e}"
            ))
        }
    };
    let Some(master) = super::console::recv_fd(&stream) else {
        return fail("no file descriptor received on the console socket");
    };
    let out = ctx.exec(&["start", &id])?;
    if !out.success() {
        return fail(out.describe());
    }
    let text = super::console::read_until(&master, "}", Duration::from_secs(5));
    Ok(
        if text.contains("\"stdin_tty\":true") && text.contains("\"stdout_tty\":true") {
            Outcome::Pass
        } else {
            Outcome::Fail(format!("process output through the pty: {text:?}"))
        },
    )
}

/// runc's contract: a detached create of a terminal container without
/// --console-socket is an error (nowhere to send the pty master).
fn terminal_without_socket(ctx: &mut Ctx) -> TestResult {
    let mut spec = base_spec(&[CHECKER, "tty"]);
    process(&mut spec).set_terminal(Some(true));
    let b = ctx.bundle("bundle", &spec, json!({}))?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    Ok(if out.success() {
        Outcome::Fail("`create` with terminal=true and no --console-socket succeeded".into())
    } else {
        Outcome::Pass
    })
}

fn run_exit(ctx: &mut Ctx) -> TestResult {
    let b = ctx.bundle("bundle", &base_spec(&[CHECKER, "exit", "7"]), json!({}))?;
    let id = ctx.new_id("c");
    let out = ctx.exec(&["run", "--bundle", path(&b), &id])?;
    Ok(if out.code == Some(7) {
        Outcome::Pass
    } else {
        Outcome::Fail(format!(
            "`run` exit status: expected 7, found {:?}",
            out.code
        ))
    })
}
