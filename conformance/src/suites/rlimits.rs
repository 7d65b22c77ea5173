//! process.rlimits: soft and hard values as configured; unknown types refused.

use super::typed;
use crate::bundle::{checker_spec, process};
use crate::harness::{path, test, Ctx, Outcome, Test, TestResult};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    vec![
        test("rlimits", "nofile", nofile),
        test("rlimits", "several", several),
        test("rlimits", "unknown-type-refused", unknown),
    ]
}

fn limits(ctx: &mut Ctx, l: serde_json::Value) -> TestResult {
    super::check(ctx, &["rlimits"], |s| {
        process(s).set_rlimits(Some(typed(l)));
    })
}

fn nofile(ctx: &mut Ctx) -> TestResult {
    limits(
        ctx,
        json!([{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000}]),
    )
}

/// Only values below the usual hard limits: raising a hard limit needs
/// CAP_SYS_RESOURCE, which a host's bounding set may lack.
fn several(ctx: &mut Ctx) -> TestResult {
    limits(
        ctx,
        json!([
            {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
            {"type": "RLIMIT_NPROC", "soft": 1000, "hard": 2000},
            {"type": "RLIMIT_MSGQUEUE", "soft": 4096, "hard": 8192},
            {"type": "RLIMIT_FSIZE", "soft": 1048576, "hard": 2097152}
        ]),
    )
}

/// The spec: "The runtime MUST generate an error for any values which cannot
/// be mapped to a relevant kernel interface."
fn unknown(ctx: &mut Ctx) -> TestResult {
    let spec = checker_spec(&["rlimits"]);
    let b = ctx.bundle_patched("bundle", &spec, json!({}), |v| {
        v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOSUCHTHING", "soft": 1, "hard": 1}]);
    })?;
    let id = ctx.new_id("c");
    let out = ctx.exec(&["run", "--bundle", path(&b), &id])?;
    // The checker's report on stdout means the process ran.
    Ok(
        if out.success() || out.stdout.contains("{\"oci-checker\"") {
            Outcome::Fail("runtime ran a config with an unknown rlimit type".into())
        } else {
            Outcome::Pass
        },
    )
}
