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
        test("devices", "cgroup-allow", cgroup_allow),
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

/// A node of c 240:0 (a "local use" major no driver registers): opening it
/// gives EPERM when the device cgroup denies it and ENXIO when it allows it,
/// so the errno tells what the runtime programmed, whatever the caps.
fn cgroup_rule(ctx: &mut Ctx, rules: serde_json::Value, errno: i32) -> TestResult {
    let host =
        json!({"asserts": [{"kind": "read_errno", "path": "/dev/oc-local", "errno": errno}]});
    check_with(ctx, &["devices", "asserts"], host, |s| {
        let l = linux(s);
        l.set_devices(Some(typed(
            json!([{"path": "/dev/oc-local", "type": "c", "major": 240, "minor": 0}]),
        )));
        let mut res = l.resources().clone().unwrap_or_default();
        res.set_devices(Some(typed(rules)));
        l.set_resources(Some(res));
    })
}

/// "Deny all" in resources.devices: the node cannot be opened.
fn cgroup_deny(ctx: &mut Ctx) -> TestResult {
    cgroup_rule(ctx, json!([{"allow": false, "access": "rwm"}]), libc::EPERM)
}

/// Deny all, then allow c 240:0: the open reaches the (absent) driver.
fn cgroup_allow(ctx: &mut Ctx) -> TestResult {
    cgroup_rule(
        ctx,
        json!([{"allow": false, "access": "rwm"},
               {"allow": true, "type": "c", "major": 240, "minor": 0, "access": "rw"}]),
        libc::ENXIO,
    )
}
