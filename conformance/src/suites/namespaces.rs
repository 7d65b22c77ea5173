//! Namespaces: new ones differ from the host's, unlisted ones are the host's,
//! `path` joins an existing one, user namespaces get their ID mappings.

use super::{check, check_with, typed};
use crate::bundle::{base_spec, linux, CHECKER};
use crate::harness::{test, Ctx, Outcome, Test, TestError, TestResult};
use oci_spec::runtime::LinuxNamespace;
use serde_json::json;

pub fn tests() -> Vec<Test> {
    vec![
        test("namespaces", "defaults-new", defaults),
        test("namespaces", "unlisted-shared-with-host", unlisted),
        test("namespaces", "join-by-path", join),
        test("namespaces", "user-with-mappings", user),
        test("namespaces", "time", time),
    ]
}

fn ns(types: &[&str]) -> Vec<LinuxNamespace> {
    types.iter().map(|t| typed(json!({"type": t}))).collect()
}

/// The default config: pid, network, ipc, uts, mount, cgroup all new.
fn defaults(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["ns"], |_| {})
}

fn unlisted(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["ns"], |s| {
        // No network ns: /sys then has to be a bind of the host's (runtimes do that).
        linux(s).set_namespaces(Some(ns(&["pid", "mount"])));
        // Setting a hostname in the host's uts namespace is refused by runtimes.
        s.set_hostname(None);
    })
}

/// Join the network and uts namespaces of another (created) container.
fn join(ctx: &mut Ctx) -> TestResult {
    let holder = ctx.new_id("holder");
    let hb = ctx.bundle("holder", &base_spec(&[CHECKER, "sleep"]), json!({}))?;
    let out = ctx.create(&holder, &hb, &[])?;
    if !out.success() {
        return Ok(Outcome::Fail(format!(
            "creating the holder: {}",
            out.describe()
        )));
    }
    let pid = ctx.state(&holder)?["pid"]
        .as_i64()
        .ok_or_else(|| TestError::Other("holder state has no pid".into()))?;
    check(ctx, &["ns"], |s| {
        let mut list = ns(&["pid", "ipc", "mount", "cgroup"]);
        list.push(typed(
            json!({"type": "network", "path": format!("/proc/{pid}/ns/net")}),
        ));
        list.push(typed(
            json!({"type": "uts", "path": format!("/proc/{pid}/ns/uts")}),
        ));
        linux(s).set_namespaces(Some(list));
        // Joining the holder's uts ns: setting a hostname would change the holder's.
        s.set_hostname(None);
    })
}

fn user(ctx: &mut Ctx) -> TestResult {
    check_with(ctx, &["ns", "user"], json!({}), |s| {
        let l = linux(s);
        l.set_namespaces(Some(ns(&["pid", "network", "ipc", "uts", "mount", "user"])));
        l.set_uid_mappings(Some(vec![typed(
            json!({"containerID": 0, "hostID": 100000, "size": 65536}),
        )]));
        l.set_gid_mappings(Some(vec![typed(
            json!({"containerID": 0, "hostID": 100000, "size": 65536}),
        )]));
        // No cgroup mount: a user ns cannot mount the host's v1 hierarchies.
        if let Some(m) = s.mounts_mut() {
            m.retain(|m| m.typ().as_deref() != Some("cgroup"));
        }
    })
}

fn time(ctx: &mut Ctx) -> TestResult {
    if let Some(why) = ctx.needs_spec("1.2.0", "the time namespace") {
        return Ok(Outcome::Skip(why));
    }
    if !std::path::Path::new("/proc/self/ns/time").exists() {
        return Ok(Outcome::Skip("kernel without time namespaces".into()));
    }
    check(ctx, &["ns"], |s| {
        linux(s).set_namespaces(Some(ns(&[
            "pid", "network", "ipc", "uts", "mount", "cgroup", "time",
        ])));
    })
}
