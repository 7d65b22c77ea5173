//! Devices: the spec's default devices and /dev links, linux.devices
//! (char, block, fifo, mode, owner), and the device cgroup.

use super::{check, check_with, typed};
use crate::bundle::linux;
use crate::harness::{test, Ctx, Test, TestResult};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    vec![
        test("devices", "default-devices", defaults),
        test("devices", "char-device", char_dev),
        test("devices", "block-device", block_dev),
        test("devices", "fifo", fifo),
        test("devices", "mode-and-owner", mode_owner),
        test("devices", "cgroup-deny", cgroup_deny),
    ]
}

fn defaults(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["default-devices"], |_| {})
}

fn with_devices(ctx: &mut Ctx, devs: serde_json::Value) -> TestResult {
    check(ctx, &["devices"], |s| {
        linux(s).set_devices(Some(typed(devs)));
    })
}

fn char_dev(ctx: &mut Ctx) -> TestResult {
    with_devices(
        ctx,
        json!([{"path": "/dev/oc-null", "type": "c", "major": 1, "minor": 3}]),
    )
}

fn block_dev(ctx: &mut Ctx) -> TestResult {
    // Loop device numbers: creating the node needs no such device to exist.
    with_devices(
        ctx,
        json!([{"path": "/dev/oc-loop", "type": "b", "major": 7, "minor": 200}]),
    )
}

fn fifo(ctx: &mut Ctx) -> TestResult {
    with_devices(ctx, json!([{"path": "/dev/oc-fifo", "type": "p"}]))
}

fn mode_owner(ctx: &mut Ctx) -> TestResult {
    with_devices(
        ctx,
        json!([{"path": "/dev/oc-zero", "type": "c", "major": 1, "minor": 5,
                "fileMode": 0o640, "uid": 1234, "gid": 5678}]),
    )
}

/// With "deny all" in resources.devices, a node of a device outside the
/// runtime's default allow list cannot be opened (EPERM from the device cgroup).
fn cgroup_deny(ctx: &mut Ctx) -> TestResult {
    let host =
        json!({"asserts": [{"kind": "read_errno", "path": "/dev/oc-port", "errno": libc::EPERM}]});
    check_with(ctx, &["devices", "asserts"], host, |s| {
        let l = linux(s);
        l.set_devices(Some(typed(
            json!([{"path": "/dev/oc-port", "type": "c", "major": 1, "minor": 4}]),
        )));
        let mut res = l.resources().clone().unwrap_or_default();
        res.set_devices(Some(typed(json!([{"allow": false, "access": "rwm"}]))));
        l.set_resources(Some(res));
    })
}
