//! One file per feature group; each returns its tests.

mod capabilities;
mod console;
mod devices;
mod exec;
mod hooks;
mod hostname;
mod lifecycle;
mod misc;
mod mounts;
mod namespaces;
mod paths;
mod process;
mod rlimits;
mod security;
mod sysctl;

use crate::bundle::checker_spec;
use crate::harness::{Ctx, Test, TestResult};
use oci_spec::runtime::Spec;
use serde_json::Value;

pub fn all() -> Vec<Test> {
    let mut v = Vec::new();
    v.extend(lifecycle::tests());
    v.extend(namespaces::tests());
    v.extend(hostname::tests());
    v.extend(mounts::tests());
    v.extend(devices::tests());
    v.extend(paths::tests());
    v.extend(process::tests());
    v.extend(capabilities::tests());
    v.extend(rlimits::tests());
    v.extend(sysctl::tests());
    v.extend(hooks::tests());
    v.extend(exec::tests());
    v.extend(misc::tests());
    v.extend(security::tests());
    v
}

/// Run the checker's `groups` on the default spec changed by `f`.
pub fn check(ctx: &mut Ctx, groups: &[&str], f: impl FnOnce(&mut Spec)) -> TestResult {
    check_with(ctx, groups, Value::Null, f)
}

/// As `check`, with extra host.json content (e.g. `asserts`).
pub fn check_with(
    ctx: &mut Ctx,
    groups: &[&str],
    host: Value,
    f: impl FnOnce(&mut Spec),
) -> TestResult {
    let mut spec = checker_spec(groups);
    f(&mut spec);
    ctx.run_checker(&spec, host)
}

/// A typed spec value from JSON: the suite writes configs in the spec's own
/// JSON shape, and oci-spec's types check that shape here.
pub fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
    match serde_json::from_value(v.clone()) {
        Ok(t) => t,
        // A bug in the test itself, caught by the harness as a failure.
        Err(e) => panic!("test config does not fit oci-spec types ({e}): {v}"),
    }
}
