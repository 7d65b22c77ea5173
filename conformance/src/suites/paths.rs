//! linux.maskedPaths and linux.readonlyPaths.

use super::check;
use crate::bundle::{checker_spec, linux};
use crate::harness::{test, Ctx, Test, TestResult};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    vec![
        test("paths", "masked-defaults", masked_defaults),
        test("paths", "readonly-defaults", readonly_defaults),
        test("paths", "masked-custom", masked_custom),
        test("paths", "readonly-custom", readonly_custom),
    ]
}

fn masked_defaults(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["masked"], |_| {})
}

fn readonly_defaults(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["readonly"], |_| {})
}

/// A dir and a file with content in the rootfs, masked.
fn masked_custom(ctx: &mut Ctx) -> TestResult {
    let mut spec = checker_spec(&["masked"]);
    linux(&mut spec).set_masked_paths(Some(vec![
        "/oc-secret-dir".into(),
        "/oc-secret-file".into(),
    ]));
    let b = ctx.bundle("bundle", &spec, json!({}))?;
    let root = b.join("rootfs");
    std::fs::create_dir_all(root.join("oc-secret-dir"))?;
    std::fs::write(root.join("oc-secret-dir/data"), "secret\n")?;
    std::fs::write(root.join("oc-secret-file"), "secret\n")?;
    ctx.run_bundle(&b)
}

fn readonly_custom(ctx: &mut Ctx) -> TestResult {
    let mut spec = checker_spec(&["readonly"]);
    spec.root_mut()
        .as_mut()
        .map(|r| r.set_readonly(Some(false)));
    linux(&mut spec).set_readonly_paths(Some(vec!["/oc-ro-dir".into(), "/oc-ro-file".into()]));
    let b = ctx.bundle("bundle", &spec, json!({}))?;
    let root = b.join("rootfs");
    std::fs::create_dir_all(root.join("oc-ro-dir"))?;
    std::fs::write(root.join("oc-ro-file"), "data\n")?;
    ctx.run_bundle(&b)
}
