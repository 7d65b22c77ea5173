//! Attack classes from runc's advisories (see /work/shared/FIELD-NOTES.md):
//! leaked descriptors, a cwd through a leaked descriptor, /dev as a symlink.

use super::check_with;
use crate::bundle::{checker_spec, process};
use crate::harness::{path, test, Ctx, Outcome, Test, TestResult};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    vec![
        test("security", "no-leaked-fds", leaked_fds),
        test("security", "cwd-proc-self-fd", cwd_fd),
        test("security", "dev-symlink-escape", dev_symlink),
    ]
}

/// Inside, /proc/self/fd holds only 0-2 (runc CVE-2024-21626 leaked more).
fn leaked_fds(ctx: &mut Ctx) -> TestResult {
    let host = json!({"asserts": [{"kind": "fd_count", "path": "/proc/self/fd", "max": 3}]});
    check_with(ctx, &["asserts"], host, |_| {})
}

/// cwd=/proc/self/fd/N for N in 3..=9: refused, or a cwd inside the root
/// (CVE-2024-21626: a leaked host directory fd as the cwd).
fn cwd_fd(ctx: &mut Ctx) -> TestResult {
    let mut escaped = Vec::new();
    for n in 3..=9 {
        let mut spec = checker_spec(&["asserts"]);
        process(&mut spec).set_cwd(format!("/proc/self/fd/{n}").into());
        let host = json!({"asserts": [{"kind": "cwd_inside", "path": "."}]});
        let b = ctx.bundle(&format!("fd{n}"), &spec, host)?;
        let id = ctx.new_id(&format!("fd{n}"));
        let out = ctx.exec(&["run", "--bundle", path(&b), &id])?;
        // No report: the runtime refused, which is right.
        if out.stdout.contains("\"status\":\"fail\"") {
            escaped.push(format!("fd {n}"));
        }
    }
    Ok(if escaped.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(format!(
            "the process's cwd was outside the root with cwd=/proc/self/fd/N for {escaped:?}"
        ))
    })
}

/// A rootfs whose /dev is a symlink to an absolute host path: the runtime
/// must create nothing there (2026 runc/crun advisories).
fn dev_symlink(ctx: &mut Ctx) -> TestResult {
    let victim = ctx.work.join("victim");
    std::fs::create_dir_all(&victim)?;
    let spec = checker_spec(&["asserts"]);
    let b = ctx.bundle("bundle", &spec, json!({}))?;
    let dev = b.join("rootfs/dev");
    std::fs::remove_dir(&dev)?;
    std::os::unix::fs::symlink(&victim, &dev)?;
    let id = ctx.new_id("c");
    let _ = ctx.exec(&["run", "--bundle", path(&b), &id])?;
    let _ = ctx.exec(&["delete", "--force", &id])?;
    let left: Vec<String> = std::fs::read_dir(&victim)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    Ok(if left.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(format!(
            "the runtime created {left:?} in the host directory /dev pointed to"
        ))
    })
}
