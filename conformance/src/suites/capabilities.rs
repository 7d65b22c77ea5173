//! process.capabilities: every set as configured, for root and non-root.

use super::{check, typed};
use crate::bundle::process;
use crate::harness::{test, Ctx, Test, TestResult};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    vec![
        test("capabilities", "defaults", defaults),
        test("capabilities", "reduced-sets", reduced),
        test("capabilities", "empty", empty),
        test("capabilities", "broad-set", broad),
        test("capabilities", "ambient-non-root", ambient),
    ]
}

fn caps(ctx: &mut Ctx, sets: serde_json::Value, user: Option<serde_json::Value>) -> TestResult {
    check(ctx, &["caps"], |s| {
        let p = process(s);
        p.set_capabilities(Some(typed(sets)));
        if let Some(u) = user {
            p.set_user(typed(u));
        }
    })
}

fn defaults(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["caps"], |_| {})
}

fn reduced(ctx: &mut Ctx) -> TestResult {
    caps(
        ctx,
        // For root, execve makes effective = permitted: configure them alike.
        json!({"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
               "effective": ["CAP_CHOWN", "CAP_KILL"], "permitted": ["CAP_CHOWN", "CAP_KILL"],
               "inheritable": ["CAP_KILL"], "ambient": []}),
        None,
    )
}

fn empty(ctx: &mut Ctx) -> TestResult {
    caps(
        ctx,
        json!({"bounding": [], "effective": [], "permitted": [], "inheritable": [], "ambient": []}),
        None,
    )
}

/// Docker's default set (CAP_SYS_RESOURCE is not in it, so hosts whose
/// bounding set lacks it still pass).
fn broad(ctx: &mut Ctx) -> TestResult {
    let set = json!([
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE"
    ]);
    caps(
        ctx,
        json!({"bounding": set, "effective": set, "permitted": set, "inheritable": [], "ambient": []}),
        None,
    )
}

fn ambient(ctx: &mut Ctx) -> TestResult {
    let set = json!(["CAP_NET_BIND_SERVICE"]);
    caps(
        ctx,
        json!({"bounding": set, "effective": set, "permitted": set, "inheritable": set, "ambient": set}),
        Some(json!({"uid": 1000, "gid": 1000})),
    )
}
