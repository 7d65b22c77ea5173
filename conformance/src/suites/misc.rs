//! Cgroup limits, cgroupsPath, seccomp, personality, `features`, LSMs.

use super::{check, check_with, typed};
use crate::bundle::linux;
use crate::harness::{test, Ctx, Outcome, Test, TestResult};
use oci_spec::runtime::LinuxResources;
use serde_json::json;

pub fn tests() -> Vec<Test> {
    vec![
        test("cgroups", "memory", memory),
        test("cgroups", "pids", pids),
        test("cgroups", "cpu", cpu),
        test("cgroups", "cpuset", cpuset),
        test("cgroups", "cgroups-path", cgroups_path),
        test("cgroups", "delete-removes-cgroup", delete_removes_cgroup),
        test("seccomp", "errno", seccomp_errno),
        test("seccomp", "errno-default-eperm", seccomp_default_errno),
        test("seccomp", "kill", seccomp_kill),
        test("misc", "personality", personality),
        test("misc", "features", features),
    ]
}

fn resources(ctx: &mut Ctx, r: serde_json::Value) -> TestResult {
    check(ctx, &["cgroups"], |s| {
        let res: LinuxResources = typed(r);
        linux(s).set_resources(Some(res));
    })
}

fn memory(ctx: &mut Ctx) -> TestResult {
    // Page multiples: the kernel rounds limits to pages.
    resources(
        ctx,
        json!({"memory": {"limit": 67108864, "reservation": 33554432}}),
    )
}

fn pids(ctx: &mut Ctx) -> TestResult {
    resources(ctx, json!({"pids": {"limit": 123}}))
}

fn cpu(ctx: &mut Ctx) -> TestResult {
    resources(
        ctx,
        json!({"cpu": {"shares": 512, "quota": 50000, "period": 100000}}),
    )
}

fn cpuset(ctx: &mut Ctx) -> TestResult {
    resources(ctx, json!({"cpu": {"cpus": "0"}}))
}

/// Without a cgroup namespace /proc/self/cgroup shows the configured path.
fn cgroups_path(ctx: &mut Ctx) -> TestResult {
    let p = format!(
        "/oci-conformance-{}-{}",
        std::process::id(),
        ctx.new_id("cg")
    );
    let host = json!({"asserts": [{"kind": "cgroup_contains", "text": p}]});
    check_with(ctx, &["asserts"], host, |s| {
        let l = linux(s);
        l.set_cgroups_path(Some(p.clone().into()));
        l.set_namespaces(Some(vec![
            typed(json!({"type": "pid"})),
            typed(json!({"type": "mount"})),
            typed(json!({"type": "network"})),
            typed(json!({"type": "uts"})),
            typed(json!({"type": "ipc"})),
        ]));
    })
}

/// `delete` undoes what `create` made: the container's cgroup is gone
/// from every hierarchy.
fn delete_removes_cgroup(ctx: &mut Ctx) -> TestResult {
    let name = format!(
        "oci-conformance-{}-{}",
        std::process::id(),
        ctx.new_id("cgdel")
    );
    let mut spec = crate::bundle::base_spec(&[crate::bundle::CHECKER, "sleep"]);
    linux(&mut spec).set_cgroups_path(Some(format!("/{name}").into()));
    let b = ctx.bundle("bundle", &spec, json!({}))?;
    let id = ctx.new_id("c");
    let out = ctx.create(&id, &b, &[])?;
    if !out.success() {
        return Ok(Outcome::Fail(out.describe()));
    }
    let dirs = || -> Vec<std::path::PathBuf> {
        // v1: one hierarchy per controller; v2: the unified root itself.
        let mut roots: Vec<std::path::PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        roots.push("/sys/fs/cgroup".into());
        roots
            .into_iter()
            .map(|r| r.join(&name))
            .filter(|p| p.is_dir())
            .collect()
    };
    let made = dirs().len();
    let _ = ctx.exec(&["kill", &id, "KILL"])?;
    ctx.wait_status(&id, "stopped", std::time::Duration::from_secs(5));
    let out = ctx.exec(&["delete", &id])?;
    if !out.success() {
        return Ok(Outcome::Fail(out.describe()));
    }
    let left = dirs();
    for d in &left {
        // Leave the host clean even when the runtime did not.
        let _ = std::fs::remove_dir(d);
    }
    Ok(if made == 0 {
        Outcome::Fail(format!("no cgroup /{name} was made at create"))
    } else if left.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(format!("cgroups left after delete: {left:?}"))
    })
}

fn seccomp_errno(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["seccomp"], |s| {
        linux(s).set_seccomp(Some(typed(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV},
                {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS}
            ]
        }))));
    })
}

/// errnoRet absent: the runtime's default is EPERM.
fn seccomp_default_errno(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["seccomp"], |s| {
        linux(s).set_seccomp(Some(typed(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]
        }))));
    })
}

/// SCMP_ACT_KILL: the process dies (SIGSYS) at the syscall.
fn seccomp_kill(ctx: &mut Ctx) -> TestResult {
    let mut spec = crate::bundle::base_spec(&[crate::bundle::CHECKER, "syscall", "getcwd"]);
    linux(&mut spec).set_seccomp(Some(typed(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_KILL"}]
    }))));
    let b = ctx.bundle("bundle", &spec, json!({}))?;
    let id = ctx.new_id("c");
    let out = ctx.exec(&["run", "--bundle", crate::harness::path(&b), &id])?;
    Ok(if out.stdout.contains("\"syscall\"") {
        Outcome::Fail(format!(
            "the process survived the syscall: {}",
            out.stdout.trim()
        ))
    } else if out.success() {
        Outcome::Fail("`run` exited 0 although the process was killed".into())
    } else if !out.stderr.is_empty() && out.code != Some(128 + libc::SIGSYS) {
        // No report and no SIGSYS status: the runtime failed before exec.
        Outcome::Fail(format!(
            "expected exit status {}; {}",
            128 + libc::SIGSYS,
            out.describe()
        ))
    } else {
        Outcome::Pass
    })
}

fn personality(ctx: &mut Ctx) -> TestResult {
    if let Some(why) = ctx.needs_spec("1.1.0", "linux.personality") {
        return Ok(Outcome::Skip(why));
    }
    check(ctx, &["personality"], |s| {
        linux(s).set_personality(Some(typed(json!({"domain": "LINUX32"}))));
    })
}

/// `features` (runtime-spec 1.1): a JSON document with the version range.
fn features(ctx: &mut Ctx) -> TestResult {
    let out = ctx.exec(&["features"])?;
    if !out.success() {
        return Ok(Outcome::Skip(format!(
            "no `features` command ({})",
            out.describe()
        )));
    }
    let v: serde_json::Value = match serde_json::from_str(&out.stdout) {
        Ok(v) => v,
        Err(e) => return Ok(Outcome::Fail(format!("features output is not JSON: {e}"))),
    };
    let mut missing = Vec::new();
    for k in ["ociVersionMin", "ociVersionMax"] {
        if !v[k].is_string() {
            missing.push(k);
        }
    }
    Ok(if missing.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(format!("features lacks {missing:?}"))
    })
}
