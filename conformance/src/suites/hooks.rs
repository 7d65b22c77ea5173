//! Hooks: each hook is the checker in `hook` mode, appending a timestamped
//! JSON line (namespaces, state from stdin, args, env) to one log file that
//! the test reads: order, namespaces and state are checked from it.

use crate::bundle::{base_spec, CHECKER};
use crate::harness::{path, test, wait_for, Ctx, Outcome, Test, TestError, TestResult};
use oci_spec::runtime::{Hook, Hooks};
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn tests() -> Vec<Test> {
    vec![
        test("hooks", "order", order),
        test("hooks", "poststart-after-start", poststart_after_start),
        test("hooks", "namespaces", namespaces),
        test("hooks", "state-on-stdin", state_stdin),
        test("hooks", "args-and-env", args_env),
        test("hooks", "create-runtime-failure-fails-create", failing),
        test("hooks", "start-container-failure-stops", |c| {
            failing_start(c, false)
        }),
        test("hooks", "start-container-failure-start-errors", |c| {
            failing_start(c, true)
        }),
        test("hooks", "poststop-failure-continues", poststop_failure),
        test("hooks", "timeout", timeout),
    ]
}

const KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// One hook running the checker. startContainer runs in the container, so
/// its path and log are the container's; the others use host paths.
fn hook(kind: &str, host_checker: &Path, host_log: &Path) -> Hook {
    let (bin, log) = if kind == "startContainer" {
        (CHECKER.to_string(), "/hooks.log".to_string())
    } else {
        (path(host_checker).to_string(), path(host_log).to_string())
    };
    super::typed(json!({
        "path": bin,
        "args": [bin, "hook", kind, log],
        "env": [format!("OC_HOOK={kind}")],
    }))
}

struct Run {
    id: String,
    lines: Vec<Value>,
    host_mnt: u64,
    host_pid: u64,
    bundle: PathBuf,
    /// Wall-clock time (ns) just before `start` was invoked.
    start_ns: u128,
}

/// A container with every hook, taken through create, start, kill, delete.
fn run_all_hooks(ctx: &mut Ctx) -> Result<Result<Run, String>, TestError> {
    // The process writes /tmp/ready once it runs: by then startContainer is done.
    let mut spec = base_spec(&[CHECKER, "wait-signal", "/tmp"]);
    spec.root_mut()
        .as_mut()
        .map(|r| r.set_readonly(Some(false)));
    // The bundle is written first so the hooks can name the checker in it.
    let b = ctx.bundles.join("bundle");
    let checker = b.join("rootfs/oci-checker");
    let log = b.join("rootfs/hooks.log");
    let mut hooks = Hooks::default();
    let h = |k| Some(vec![hook(k, &checker, &log)]);
    #[allow(deprecated)]
    hooks.set_prestart(h("prestart"));
    hooks.set_create_runtime(h("createRuntime"));
    hooks.set_create_container(h("createContainer"));
    hooks.set_start_container(h("startContainer"));
    hooks.set_poststart(h("poststart"));
    hooks.set_poststop(h("poststop"));
    spec.set_hooks(Some(hooks));
    let b = ctx.bundle("bundle", &spec, json!({}))?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    if !out.success() {
        return Ok(Err(out.describe()));
    }
    let start_ns = now_ns();
    let out = ctx.exec(&["start", &id])?;
    if !out.success() {
        return Ok(Err(out.describe()));
    }
    // Let the process start (startContainer, exec, poststart) before killing it.
    let ready = b.join("rootfs/tmp/ready");
    let running = || {
        ready.exists()
            && std::fs::read_to_string(&log)
                .map(|t| t.contains("\"poststart\""))
                .unwrap_or(false)
    };
    wait_for(Duration::from_secs(5), running);
    let out = ctx.exec(&["kill", &id, "KILL"])?;
    if !out.success() {
        return Ok(Err(out.describe()));
    }
    ctx.wait_status(&id, "stopped", Duration::from_secs(5));
    let out = ctx.exec(&["delete", &id])?;
    if !out.success() {
        return Ok(Err(out.describe()));
    }
    // poststop may lag behind delete's exit in some runtimes; wait briefly.
    let count = || {
        std::fs::read_to_string(&log)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    wait_for(Duration::from_secs(2), || count() >= KINDS.len());
    let lines = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let ino = |p: &str| std::fs::metadata(p).map(|m| m.ino()).unwrap_or(0);
    Ok(Ok(Run {
        id,
        lines,
        host_mnt: ino("/proc/self/ns/mnt"),
        host_pid: ino("/proc/self/ns/pid"),
        bundle: b,
        start_ns,
    }))
}

fn get<'a>(run: &'a Run, kind: &str) -> Option<&'a Value> {
    run.lines.iter().find(|l| l["hook"] == kind)
}

fn with_run(ctx: &mut Ctx, f: impl FnOnce(&Run) -> Vec<String>) -> TestResult {
    let run = match run_all_hooks(ctx)? {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::Fail(e)),
    };
    let mut problems: Vec<String> = KINDS
        .iter()
        .filter(|k| get(&run, k).is_none())
        .map(|k| format!("{k} hook did not run"))
        .collect();
    problems.extend(f(&run));
    Ok(if problems.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(problems.join("; "))
    })
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn time_of(run: &Run, kind: &str) -> Option<u128> {
    get(run, kind).and_then(|l| l["time_ns"].as_u64().map(u128::from))
}

/// "a ran before b" for each pair that both ran.
fn before(run: &Run, pairs: &[(&str, &str)]) -> Vec<String> {
    let t = |k: &str| {
        if k == "start" {
            Some(run.start_ns)
        } else {
            time_of(run, k)
        }
    };
    pairs
        .iter()
        .filter_map(|(a, b)| match (t(a), t(b)) {
            (Some(x), Some(y)) if x >= y => Some(format!("{b} ran before {a}")),
            _ => None,
        })
        .collect()
}

/// prestart, createRuntime, createContainer during create; startContainer
/// after `start` was invoked; poststop last.
fn order(ctx: &mut Ctx) -> TestResult {
    with_run(ctx, |run| {
        before(
            run,
            &[
                ("prestart", "createRuntime"),
                ("createRuntime", "createContainer"),
                ("createContainer", "start"),
                ("start", "startContainer"),
                ("startContainer", "poststop"),
                ("poststart", "poststop"),
            ],
        )
    })
}

/// The spec: startContainer, then the user process, then poststart, all in
/// the start operation. (runc before 1.4 ran poststart too early; its pull
/// request 5186 moved it.)
fn poststart_after_start(ctx: &mut Ctx) -> TestResult {
    with_run(ctx, |run| {
        before(
            run,
            &[("start", "poststart"), ("startContainer", "poststart")],
        )
    })
}

/// Runtime-namespace hooks run outside the container's mount namespace,
/// container-namespace hooks inside it. The container's namespaces are those
/// the startContainer hook saw (it runs in the container); comparing with
/// them, not with the runner's, keeps the test right for runtimes started
/// through a wrapper in a mount namespace of its own.
fn namespaces(ctx: &mut Ctx) -> TestResult {
    with_run(ctx, |run| {
        let mut p = Vec::new();
        let ns = |k: &str, n: &str| get(run, k).and_then(|l| l["ns"][n].as_u64());
        let Some(container_mnt) = ns("startContainer", "mnt") else {
            return vec!["startContainer reported no mount namespace".into()];
        };
        if ns("startContainer", "pid") == Some(run.host_pid) {
            p.push("startContainer ran in the host pid namespace".into());
        }
        if container_mnt == run.host_mnt {
            p.push("startContainer ran in the host mount namespace".into());
        }
        // Not poststop: it runs after the container's namespaces are gone,
        // when their inode numbers may already be reused.
        for k in ["prestart", "createRuntime", "poststart"] {
            if ns(k, "mnt") == Some(container_mnt) {
                p.push(format!(
                    "{k} ran in the container's mount namespace, not the runtime's"
                ));
            }
        }
        if let Some(m) = ns("createContainer", "mnt") {
            if m != container_mnt {
                p.push("createContainer ran outside the container's mount namespace".into());
            }
        }
        p
    })
}

/// The state on stdin: the container's id, its bundle, a spec status, and a
/// pid whenever the status is created or running (the spec's rule).
fn state_stdin(ctx: &mut Ctx) -> TestResult {
    with_run(ctx, |run| {
        let mut p = Vec::new();
        let bundle = std::fs::canonicalize(&run.bundle).unwrap_or_default();
        for k in KINDS {
            let Some(l) = get(run, k) else { continue };
            let st = &l["state"];
            if st["id"] != run.id.as_str() {
                p.push(format!("{k}: state id {} (expected {})", st["id"], run.id));
            }
            let b = st["bundle"]
                .as_str()
                .and_then(|b| std::fs::canonicalize(b).ok());
            // startContainer cannot see the host path; only check the others.
            if k != "startContainer" && b.as_ref() != Some(&bundle) {
                p.push(format!("{k}: state bundle {}", st["bundle"]));
            }
            if st["ociVersion"].as_str().unwrap_or("").is_empty() {
                p.push(format!("{k}: state without ociVersion"));
            }
            let status = st["status"].as_str().unwrap_or("");
            if !["creating", "created", "running", "stopped"].contains(&status) {
                p.push(format!("{k}: status {} is not a spec status", st["status"]));
            }
            if (status == "created" || status == "running") && st["pid"].as_i64().unwrap_or(0) <= 0
            {
                p.push(format!("{k}: status {status} with pid {}", st["pid"]));
            }
        }
        p
    })
}

fn args_env(ctx: &mut Ctx) -> TestResult {
    with_run(ctx, |run| {
        let mut p = Vec::new();
        for k in KINDS {
            let Some(l) = get(run, k) else { continue };
            let args: Vec<&str> = l["args"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if args.get(1..3) != Some(&["hook", k][..]) {
                p.push(format!("{k}: args {args:?}"));
            }
            let env: Vec<&str> = l["env"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let want = format!("OC_HOOK={k}");
            if !env.contains(&want.as_str()) {
                p.push(format!("{k}: env lacks {want}: {env:?}"));
            }
        }
        p
    })
}

/// A failing createRuntime hook: create fails and leaves no running container.
fn failing(ctx: &mut Ctx) -> TestResult {
    let mut spec = base_spec(&[CHECKER, "sleep"]);
    let checker = ctx.bundles.join("bundle/rootfs/oci-checker");
    let mut hooks = Hooks::default();
    hooks.set_create_runtime(Some(vec![super::typed(json!({
        "path": path(&checker), "args": ["oci-checker", "exit", "3"]
    }))]));
    spec.set_hooks(Some(hooks));
    let b = ctx.bundle("bundle", &spec, json!({}))?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    if out.success() {
        return Ok(Outcome::Fail(
            "`create` succeeded although a createRuntime hook failed".into(),
        ));
    }
    let s = ctx.status(&id);
    Ok(if s == "created" || s == "running" {
        Outcome::Fail(format!("container left {s} after the failed hook"))
    } else {
        Outcome::Pass
    })
}

/// A failing startContainer hook: the spec says the runtime MUST generate
/// an error and stop the container; the user process never runs. Whether
/// `start` itself reports the error is a separate test (`errors`): runc and
/// crun run the hook in the container's init after `start` has let it go.
fn failing_start(ctx: &mut Ctx, errors: bool) -> TestResult {
    let mut spec = base_spec(&[CHECKER, "wait-signal", "/tmp"]);
    spec.root_mut()
        .as_mut()
        .map(|r| r.set_readonly(Some(false)));
    let mut hooks = Hooks::default();
    hooks.set_start_container(Some(vec![super::typed(json!({
        "path": CHECKER, "args": ["oci-checker", "exit", "3"]
    }))]));
    spec.set_hooks(Some(hooks));
    let b = ctx.bundle("bundle", &spec, json!({}))?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    if !out.success() {
        return Ok(Outcome::Fail(out.describe()));
    }
    let out = ctx.exec(&["start", &id])?;
    std::thread::sleep(Duration::from_millis(300));
    let ran = b.join("rootfs/tmp/ready").exists();
    let s = ctx.status(&id);
    let mut p = Vec::new();
    if errors && out.success() {
        p.push("`start` succeeded although the startContainer hook failed".to_string());
    }
    if ran {
        p.push("the user process ran".into());
    }
    if s == "running" {
        p.push("the container is running".into());
    }
    Ok(if p.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(p.join("; "))
    })
}

/// A failing poststop hook is only a warning: delete succeeds and the next
/// poststop hook still runs.
fn poststop_failure(ctx: &mut Ctx) -> TestResult {
    let mut spec = base_spec(&[CHECKER, "sleep"]);
    let b = ctx.bundles.join("bundle");
    let checker = b.join("rootfs/oci-checker");
    let log = b.join("rootfs/hooks.log");
    let mut hooks = Hooks::default();
    hooks.set_poststop(Some(vec![
        super::typed(json!({"path": path(&checker), "args": ["oci-checker", "exit", "1"]})),
        hook("poststop", &checker, &log),
    ]));
    spec.set_hooks(Some(hooks));
    let b = ctx.bundle("bundle", &spec, json!({}))?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    if !out.success() {
        return Ok(Outcome::Fail(out.describe()));
    }
    let _ = ctx.exec(&["kill", &id, "KILL"])?;
    ctx.wait_status(&id, "stopped", Duration::from_secs(5));
    let out = ctx.exec(&["delete", &id])?;
    let ran = wait_for(Duration::from_secs(2), || log.exists());
    Ok(if !out.success() {
        Outcome::Fail(format!(
            "delete failed because of a poststop hook: {}",
            out.describe()
        ))
    } else if !ran {
        Outcome::Fail("the poststop hook after the failing one did not run".into())
    } else {
        Outcome::Pass
    })
}

/// A hook that never ends, with timeout 1: create fails after about a second.
fn timeout(ctx: &mut Ctx) -> TestResult {
    let mut spec = base_spec(&[CHECKER, "sleep"]);
    let checker = ctx.bundles.join("bundle/rootfs/oci-checker");
    let mut hooks = Hooks::default();
    hooks.set_create_runtime(Some(vec![super::typed(json!({
        "path": path(&checker), "args": ["oci-checker", "sleep"], "timeout": 1
    }))]));
    spec.set_hooks(Some(hooks));
    let b = ctx.bundle("bundle", &spec, json!({}))?;
    let id = ctx.new_id("c");
    let t = std::time::Instant::now();
    let out = ctx.create(&id, &b, &[])?;
    let took = t.elapsed();
    Ok(if out.success() {
        Outcome::Fail("`create` succeeded although a hook timed out".into())
    } else if took > Duration::from_secs(10) {
        Outcome::Fail(format!("hook with timeout 1s held create for {took:?}"))
    } else {
        Outcome::Pass
    })
}
