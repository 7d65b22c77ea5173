//! `oxrun features`: the document parses as the spec's `Features`, and what
//! it advertises works: every seccomp action, operator, arch and supported
//! flag is accepted in a real container (the actions' effects are checked
//! in seccomp.rs), every namespace is really made, every mount option mounts.
//! oxrun only: runc 1.1's `features` is experimental and says other things.

mod common;

use common::*;
use oci_spec::runtime::Features;
use serde_json::{json, Value};
use std::os::unix::net::UnixListener;

fn oxrun() -> Runtime {
    Runtime::new("oxrun")
}

fn features(rt: &Runtime) -> (Features, Value) {
    let out = rt.run(&["features"]);
    out.ok();
    let v: Value = serde_json::from_str(&out.stdout).expect("features is JSON");
    let f: Features = serde_json::from_value(v.clone()).expect("features parses as Features");
    (f, v)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn document_shape() {
    let rt = oxrun();
    let (f, v) = features(&rt);
    assert_eq!(f.oci_version_min(), "1.0.0");
    assert_eq!(f.oci_version_max(), "1.3.0");
    assert_eq!(
        strings(&v["hooks"]),
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ]
    );
    let linux = &v["linux"];
    assert_eq!(linux["seccomp"]["enabled"], true);
    assert_eq!(linux["apparmor"]["enabled"], false);
    assert_eq!(linux["selinux"]["enabled"], false);
    for k in ["v1", "v2", "systemd", "systemdUser", "rdma"] {
        assert!(linux["cgroup"][k].is_boolean(), "cgroup.{k}: {v}");
    }
    // Every capability this kernel has (cap_last_cap), by name.
    let last: usize = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let caps = strings(&linux["capabilities"]);
    assert_eq!(caps.len(), last + 1, "{caps:?}");
    assert!(caps.iter().all(|c| cap_number(c) as usize <= last));
    // Known flags are the spec's; supported ones are a subset.
    let known = strings(&linux["seccomp"]["knownFlags"]);
    let supported = strings(&linux["seccomp"]["supportedFlags"]);
    assert!(supported.iter().all(|s| known.contains(s)));
    assert!(v["annotations"].is_object());
}

/// A container that runs `echo ok` under `profile`.
fn runs_with(rt: &Runtime, profile: Value, what: &str) {
    let mut b = Bundle::sh("echo ok");
    b.linux()["seccomp"] = profile;
    let id = rt.id("feat");
    let out = rt.run_bundle(&b, &id);
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (0, "ok\n"),
        "{what}: {out:#?}"
    );
}

#[test]
fn advertised_seccomp_actions_operators_archs_and_flags_work() {
    let rt = oxrun();
    let (_, v) = features(&rt);
    let sc = &v["linux"]["seccomp"];
    let dir = TempDir::new("feat-agent");
    let sock = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    // An agent that takes connections and keeps them (the fd is never used:
    // the container does not call the notified syscall).
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        for s in listener.incoming().flatten() {
            kept.push(s);
        }
    });
    let actions = strings(&sc["actions"]);
    assert_eq!(actions.len(), 9, "{actions:?}");
    for a in &actions {
        runs_with(
            &rt,
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock,
                   "syscalls": [{"names": ["mknodat", "mknod"], "action": a}]}),
            a,
        );
        // And as the default, with what sh needs allowed for the non-lethal ones.
        if a == "SCMP_ACT_ALLOW" || a == "SCMP_ACT_LOG" {
            runs_with(&rt, json!({"defaultAction": a}), a);
        }
    }
    for op in strings(&sc["operators"]) {
        runs_with(
            &rt,
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chmod"],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 1, "value": 0o7000, "valueTwo": 0o4000, "op": op}]}]}),
            &op,
        );
    }
    let archs = strings(&sc["archs"]);
    assert!(!archs.is_empty());
    for arch in &archs {
        runs_with(
            &rt,
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [arch],
                   "syscalls": [{"names": ["mknod"], "action": "SCMP_ACT_ERRNO"}]}),
            arch,
        );
    }
    for flag in strings(&sc["supportedFlags"]) {
        runs_with(
            &rt,
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [flag], "listenerPath": sock,
                   "syscalls": [{"names": ["mknod"], "action": "SCMP_ACT_NOTIFY"}]}),
            &flag,
        );
    }
}

#[test]
fn advertised_namespaces_are_made() {
    let rt = oxrun();
    let (_, v) = features(&rt);
    for ns in strings(&v["linux"]["namespaces"]) {
        let file = match ns.as_str() {
            "mount" => "mnt",
            "network" => "net",
            other => other,
        };
        let mut b = Bundle::sh(&format!("readlink /proc/self/ns/{file}"));
        let list = b.linux()["namespaces"].as_array_mut().unwrap();
        if !list.iter().any(|n| n["type"] == ns.as_str()) {
            list.push(json!({"type": ns}));
        }
        if ns == "user" {
            b.linux()["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
            b.linux()["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
        }
        let out = rt.output(&b);
        assert_ne!(out.trim(), host_ns(file), "{ns} namespace not made");
        assert!(out.starts_with(&format!("{file}:[")), "{ns}: {out}");
    }
}

#[test]
fn advertised_mount_options_mount() {
    let rt = oxrun();
    let (_, v) = features(&rt);
    let mut failed = Vec::new();
    // One container per option, so that a failure names it.
    for o in strings(&v["mountOptions"]) {
        let mut b = Bundle::sh("grep -c ' /o ' /proc/self/mountinfo");
        let m = match o.as_str() {
            // Bind options: a bind mount of the rootfs's /etc.
            "bind" | "rbind" => json!({"destination": "/o", "type": "bind",
                                       "source": b.rootfs().join("etc"), "options": [o]}),
            _ => json!({"destination": "/o", "type": "tmpfs", "source": "tmpfs", "options": [o]}),
        };
        b.add_mount(m);
        let id = rt.id("opt");
        let out = rt.run_bundle(&b, &id);
        if out.status != 0 || out.stdout != "1\n" {
            failed.push(format!("{o}: {}{}", out.stdout, out.stderr));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}
