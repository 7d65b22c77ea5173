//! linux.sysctl: namespaced kernel parameters set inside the container.

use super::check;
use crate::bundle::linux;
use crate::harness::{test, Ctx, Test, TestResult};
use std::collections::HashMap;

pub fn tests() -> Vec<Test> {
    vec![test("sysctl", "net", net), test("sysctl", "ipc", ipc)]
}

fn set(ctx: &mut Ctx, kv: &[(&str, &str)]) -> TestResult {
    let map: HashMap<String, String> = kv
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    check(ctx, &["sysctl"], |s| {
        linux(s).set_sysctl(Some(map));
    })
}

fn net(ctx: &mut Ctx) -> TestResult {
    set(
        ctx,
        &[
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.ping_group_range", "0 0"),
        ],
    )
}

fn ipc(ctx: &mut Ctx) -> TestResult {
    set(
        ctx,
        &[("kernel.shmmax", "123456789"), ("kernel.msgmax", "4096")],
    )
}
