//! The hand-written bundles in bundle-examples/ run as the README says, under
//! every runtime, and show what they claim. (hooks: see hooks.rs.)

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

/// A bundle whose config.json is bundle-examples/<name>/config.json, verbatim.
fn example(name: &str) -> Bundle {
    let mut b = Bundle::new(&["true"]);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../bundle-examples")
        .join(name)
        .join("config.json");
    let text = fs::read_to_string(&path).unwrap();
    b.config = serde_json::from_str::<Value>(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    b
}

#[test]
fn minimal() {
    each(|rt| {
        let out = rt.output(&example("minimal"));
        assert_eq!(
            out, "hello from minimal, I am pid 1\nuid=0(root) gid=0(root)\n",
            "[{}]",
            rt.name
        );
        out
    });
}

#[test]
fn readonly() {
    each(|rt| {
        let out = rt.output(&example("readonly"));
        assert!(
            out.starts_with("rootfs is read-only\n/tmp is writable: tmpfs /tmp tmpfs rw,"),
            "[{}] {out}",
            rt.name
        );
        out
    });
}

#[test]
fn userns() {
    each(|rt| {
        let b = example("userns");
        let out = rt.output(&b);
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>().join(" "),
            "inside: uid=0(root) gid=0(root) uid_map: 0 100000 65536 gid_map: 0 100000 65536",
            "[{}]",
            rt.name
        );
        out
    });
}

#[test]
fn user_namespace_process_is_unprivileged_on_the_host() {
    each(|rt| {
        let mut b = example("userns");
        b.config["process"]["args"] = serde_json::json!(["sleep", "1000"]);
        let id = rt.id("userns");
        rt.create(&b, &id).ok();
        let pid = read_pid_file(&b);
        rt.run(&["start", &id]).ok();
        // Seen from the host, container root is uid/gid 100000 in a new user ns.
        let status = parse_status(&fs::read_to_string(format!("/proc/{pid}/status")).unwrap());
        assert_eq!(
            status["Uid"], "100000\t100000\t100000\t100000",
            "[{}]",
            rt.name
        );
        assert_eq!(
            status["Gid"], "100000\t100000\t100000\t100000",
            "[{}]",
            rt.name
        );
        let ns = fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
        assert_ne!(ns.to_string_lossy(), host_ns("user"));
        rt.run(&["delete", "--force", &id]).ok();
        assert_nothing_left(rt, &b, &id);
    });
}

#[test]
fn tty_shell() {
    // The interactive example, driven the way containerd does it: the pty
    // master over --console-socket; we type two commands into it.
    each(|rt| {
        let b = example("tty-shell");
        b.write();
        let sock = ConsoleSocket::new(&rt.scratch());
        let id = rt.id("ttyshell");
        rt.run(&[
            "create",
            "-b",
            b.path_str(),
            "--console-socket",
            sock.path_str(),
            &id,
        ])
        .ok();
        let master = sock.receive_master(COMMAND_TIMEOUT);
        rt.run(&["start", &id]).ok();
        let mut f = fs::File::from(master.try_clone().unwrap());
        std::io::Write::write_all(&mut f, b"echo \"[$(hostname) $$ $(tty)]\"; exit 5\n").unwrap();
        let out = read_pty(&master, POLL_TIMEOUT);
        rt.wait_status(&id, "stopped");
        rt.run(&["delete", &id]).ok();
        assert!(
            out.contains("[tty-shell 1 /dev/pts/0]"),
            "[{}] {out}",
            rt.name
        );
    });
}
