//! `exec` (runc's command line, what containerd drives): a process joins the
//! running container's namespaces, with its own user, cwd, env, caps from
//! `--process`, its exit status, and no cwd escape through /proc/self/fd.

use crate::bundle::{base_spec, CHECKER};
use crate::harness::{checker_outcome, path, test, Ctx, Outcome, Test, TestResult};
use serde_json::{json, Value};
use std::path::PathBuf;

pub fn tests() -> Vec<Test> {
    vec![
        test("exec", "joins-container-namespaces", namespaces),
        test("exec", "process-file", process_file),
        test("exec", "exit-status", exit_status),
        test("exec", "cwd-proc-self-fd", cwd_fd),
        test("exec", "stopped-container-fails", stopped),
    ]
}

/// A created and started container sleeping, with `host` as its host.json.
fn sleeper(
    ctx: &mut Ctx,
    host: Value,
) -> Result<Result<(String, PathBuf), String>, crate::harness::TestError> {
    let b = ctx.bundle("bundle", &base_spec(&[CHECKER, "sleep"]), host)?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    if !out.success() {
        return Ok(Err(out.describe()));
    }
    let out = ctx.exec(&["start", &id])?;
    if !out.success() {
        return Ok(Err(out.describe()));
    }
    Ok(Ok((id, b)))
}

/// Why a plain `exec` does not work, if it does not: tests whose pass
/// means "exec refused" need a runtime whose exec works at all.
fn exec_broken(ctx: &mut Ctx, id: &str) -> Result<Option<String>, crate::harness::TestError> {
    let out = ctx.exec(&["exec", id, CHECKER, "exit", "0"])?;
    Ok((!out.success()).then(|| format!("a plain `exec` fails: {}", out.describe())))
}

/// The exec'd checker sees the container's namespaces (new, not the host's)
/// and its hostname.
fn namespaces(ctx: &mut Ctx) -> TestResult {
    let (id, _) = match sleeper(ctx, json!({}))? {
        Ok(x) => x,
        Err(e) => return Ok(Outcome::Fail(e)),
    };
    let out = ctx.exec(&["exec", &id, CHECKER, "check", "ns", "hostname"])?;
    Ok(checker_outcome(&out))
}

/// `exec --process FILE`: user, groups, umask, cwd, env, args, capabilities
/// and noNewPrivileges of the exec'd process are those of FILE.
fn process_file(ctx: &mut Ctx) -> TestResult {
    let (id, b) = match sleeper(ctx, json!({}))? {
        Ok(x) => x,
        Err(e) => return Ok(Outcome::Fail(e)),
    };
    let caps = json!(["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let process = json!({
        "terminal": false,
        // No umask: runc 1.1 ignores it for exec (the init's umask is tested in process/).
        "user": {"uid": 1000, "gid": 1001, "additionalGids": [2000]},
        "args": [CHECKER, "check", "user", "process", "caps"],
        "env": ["PATH=/", "OC_EXEC=1", "OCI_CHECKER_PROCESS=/.oci-conformance/exec.json"],
        "cwd": "/tmp",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps,
                         "inheritable": caps, "ambient": caps},
        "noNewPrivileges": true
    });
    let file = b.join("rootfs/.oci-conformance/exec.json");
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&process).unwrap_or_default(),
    )?;
    let out = ctx.exec(&["exec", "--process", path(&file), &id])?;
    Ok(checker_outcome(&out))
}

fn exit_status(ctx: &mut Ctx) -> TestResult {
    let (id, _) = match sleeper(ctx, json!({}))? {
        Ok(x) => x,
        Err(e) => return Ok(Outcome::Fail(e)),
    };
    let out = ctx.exec(&["exec", &id, CHECKER, "exit", "5"])?;
    Ok(if out.code == Some(5) {
        Outcome::Pass
    } else {
        Outcome::Fail(format!(
            "`exec` exit status: expected 5; {}",
            out.describe()
        ))
    })
}

/// `exec --cwd /proc/self/fd/N` (CVE-2024-21626): refused, or a cwd inside
/// the container's root.
fn cwd_fd(ctx: &mut Ctx) -> TestResult {
    let host = json!({"asserts": [{"kind": "cwd_inside", "path": "."}]});
    let (id, _) = match sleeper(ctx, host)? {
        Ok(x) => x,
        Err(e) => return Ok(Outcome::Fail(e)),
    };
    if let Some(why) = exec_broken(ctx, &id)? {
        return Ok(Outcome::Fail(why));
    }
    let mut escaped = Vec::new();
    for n in 3..=9 {
        let cwd = format!("/proc/self/fd/{n}");
        let out = ctx.exec(&["exec", "--cwd", &cwd, &id, CHECKER, "check", "asserts"])?;
        if out.stdout.contains("\"status\":\"fail\"") {
            escaped.push(n);
        }
    }
    Ok(if escaped.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(format!(
            "exec'd process's cwd was outside the root for fds {escaped:?}"
        ))
    })
}

fn stopped(ctx: &mut Ctx) -> TestResult {
    let (id, _) = match sleeper(ctx, json!({}))? {
        Ok(x) => x,
        Err(e) => return Ok(Outcome::Fail(e)),
    };
    if let Some(why) = exec_broken(ctx, &id)? {
        return Ok(Outcome::Fail(why));
    }
    let _ = ctx.exec(&["kill", &id, "KILL"])?;
    let s = ctx.wait_status(&id, "stopped", std::time::Duration::from_secs(5));
    if s != "stopped" {
        return Ok(Outcome::Fail(format!("container did not stop: {s}")));
    }
    let out = ctx.exec(&["exec", &id, CHECKER, "exit", "0"])?;
    Ok(if out.success() {
        Outcome::Fail("`exec` into a stopped container succeeded".into())
    } else {
        Outcome::Pass
    })
}
