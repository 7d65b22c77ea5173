//! The container process as the config describes it: env, cwd, user and
//! groups, umask, capabilities, rlimits, no_new_privs, oom_score_adj, terminal.

mod common;

use common::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::fs;

#[test]
fn env_and_cwd() {
    each(|rt| {
        let mut b = Bundle::sh("pwd; env | sort");
        // No HOME in env: runc adds HOME from the user's /etc/passwd entry
        // (/root for uid 0), and oxrun must do the same.
        b.process()["env"] = json!([PATH_ENV, "A=1", "B=two words", "EMPTY="]);
        b.process()["cwd"] = json!("/usr/bin");
        let out = rt.output(&b);
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("/usr/bin"), "[{}] cwd", rt.name);
        let env: Vec<&str> = lines
            .filter(|l| !l.starts_with("PWD=") && !l.starts_with("SHLVL="))
            .collect();
        assert_eq!(
            env,
            ["A=1", "B=two words", "EMPTY=", "HOME=/root", PATH_ENV],
            "[{}] env",
            rt.name
        );
        out
    });
}

#[test]
fn cwd_that_does_not_exist_is_created() {
    each(|rt| {
        let mut b = Bundle::sh("pwd");
        b.process()["cwd"] = json!("/work/dir");
        let out = rt.output(&b);
        assert_eq!(out, "/work/dir\n", "[{}]", rt.name);
        out
    });
}

#[test]
fn user_groups_and_umask() {
    each(|rt| {
        let mut b = Bundle::sh(
            "id; grep -E '^(Uid|Gid|Groups):' /proc/self/status; umask; \
             touch /tmp/f; stat -c '%a %u:%g' /tmp/f",
        );
        b.process()["user"] = json!({"uid": 65534, "gid": 65534, "additionalGids": [5, 1234],
                                     "umask": 23});
        b.config["ociVersion"] = json!("1.1.0");
        let out = rt.output(&b);
        let want = "uid=65534(nobody) gid=65534(nogroup) groups=5(tty),1234\n\
                    Uid:\t65534\t65534\t65534\t65534\n\
                    Gid:\t65534\t65534\t65534\t65534\n\
                    Groups:\t5 1234 \n\
                    0027\n\
                    640 65534:65534\n";
        // umask 23 is 0o027: files are created 0640.
        assert_eq!(out, want, "[{}]", rt.name);
        out
    });
}

#[test]
fn default_umask_and_root_groups() {
    each(|rt| {
        let b = Bundle::sh("id; umask; grep '^Groups:' /proc/self/status");
        let out = rt.output(&b);
        // runc's default umask is 0022; root with no additionalGids has no
        // supplementary groups (the runtime's own groups are dropped).
        assert_eq!(
            out, "uid=0(root) gid=0(root)\n0022\nGroups:\t \n",
            "[{}]",
            rt.name
        );
        out
    });
}

fn caps_of(out: &str) -> BTreeMap<String, String> {
    parse_status(out)
        .into_iter()
        .filter(|(k, _)| k.starts_with("Cap"))
        .collect()
}

#[test]
fn capability_sets_of_root() {
    let bounding = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETUID",
        "CAP_SYS_CHROOT",
    ];
    // uid 0 execs busybox (no file caps): the kernel gives root permitted =
    // inheritable | bounding and effective = permitted. With noNewPrivileges
    // the exec cannot gain anything: permitted stays what the config says.
    for (nnp, permitted) in [
        (true, &["CAP_KILL", "CAP_SETUID"][..]),
        (false, &bounding[..]),
    ] {
        each(|rt| {
            let mut b = Bundle::sh("grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status");
            b.process()["noNewPrivileges"] = json!(nnp);
            b.process()["capabilities"] = json!({
                "bounding": bounding,
                "effective": ["CAP_KILL"],
                "permitted": ["CAP_KILL", "CAP_SETUID"],
                "inheritable": ["CAP_KILL", "CAP_SYS_CHROOT"],
                "ambient": ["CAP_KILL"]
            });
            let caps = caps_of(&rt.output(&b));
            let want: BTreeMap<String, String> = [
                ("CapInh", cap_mask(&["CAP_KILL", "CAP_SYS_CHROOT"])),
                ("CapPrm", cap_mask(permitted)),
                ("CapEff", cap_mask(permitted)),
                ("CapBnd", cap_mask(&bounding)),
                ("CapAmb", cap_mask(&["CAP_KILL"])),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            assert_eq!(caps, want, "[{}] noNewPrivileges {nnp}", rt.name);
            caps
        });
    }
}

#[test]
fn capability_sets_of_a_user_with_ambient_caps() {
    each(|rt| {
        let mut b = Bundle::sh("grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status");
        b.process()["user"] = json!({"uid": 1000, "gid": 1000});
        let set = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"];
        b.process()["capabilities"] = json!({
            "bounding": set, "effective": set, "permitted": set, "inheritable": set,
            "ambient": ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]
        });
        let caps = caps_of(&rt.output(&b));
        // A non-root exec without file caps keeps exactly the ambient set in
        // permitted and effective.
        let amb = cap_mask(&["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]);
        let want: BTreeMap<String, String> = [
            ("CapInh", cap_mask(&set)),
            ("CapPrm", amb.clone()),
            ("CapEff", amb.clone()),
            ("CapBnd", cap_mask(&set)),
            ("CapAmb", amb),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(caps, want, "[{}]", rt.name);
        caps
    });
}

#[test]
fn no_capabilities_at_all() {
    each(|rt| {
        let mut b = Bundle::sh("grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status; chroot / true 2>&1 | grep -o 'Operation not permitted'");
        b.process()["capabilities"] = json!({});
        let out = rt.output(&b);
        let caps = caps_of(&out);
        assert!(
            caps.values().all(|v| v == "0000000000000000"),
            "[{}] {caps:?}",
            rt.name
        );
        assert!(
            out.ends_with("Operation not permitted\n"),
            "[{}] {out}",
            rt.name
        );
        caps
    });
}

#[test]
fn ambient_without_inheritable_is_skipped_as_runc_does() {
    // `runc spec` writes ambient capabilities and no inheritable set; the
    // kernel cannot raise those, and runc runs the container anyway.
    each(|rt| {
        let mut b = Bundle::sh("grep -E '^Cap(Inh|Prm|Eff|Amb):' /proc/self/status");
        let set = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
        b.process()["capabilities"] = json!({
            "bounding": set, "effective": set, "permitted": set, "ambient": set
        });
        let caps = caps_of(&rt.output(&b));
        assert_eq!(caps["CapAmb"], "0000000000000000", "[{}] {caps:?}", rt.name);
        assert_eq!(caps["CapInh"], "0000000000000000", "[{}] {caps:?}", rt.name);
        assert_eq!(caps["CapEff"], "0000000020000420", "[{}] {caps:?}", rt.name);
        caps
    });
}

#[test]
fn rlimits() {
    each(|rt| {
        let mut b = Bundle::sh(
            "ulimit -n; grep -E '^Max (open files|processes|core file size|msgqueue size|stack size|locked memory)' /proc/self/limits",
        );
        // All at or below this machine's hard limits (the bounding set lacks
        // CAP_SYS_RESOURCE, so nothing may be raised).
        b.process()["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
            {"type": "RLIMIT_NPROC", "soft": 1000, "hard": 2000},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
            {"type": "RLIMIT_MSGQUEUE", "soft": 4096, "hard": 8192},
            {"type": "RLIMIT_STACK", "soft": 4194304, "hard": 8388608},
            {"type": "RLIMIT_MEMLOCK", "soft": 65536, "hard": 65536}
        ]);
        let out = rt.output(&b);
        let got: Vec<Vec<String>> = out
            .lines()
            .skip(1)
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                // "Max open files 512 1024 files": keep the two numbers.
                let n = w.len();
                vec![w[..n - 3].join(" "), w[n - 3].into(), w[n - 2].into()]
            })
            .collect();
        assert_eq!(out.lines().next(), Some("512"), "[{}] ulimit -n", rt.name);
        let want = [
            ("Max stack size", "4194304", "8388608"),
            ("Max core file size", "0", "4096"),
            ("Max processes", "1000", "2000"),
            ("Max open files", "512", "1024"),
            ("Max locked memory", "65536", "65536"),
            ("Max msgqueue size", "4096", "8192"),
        ];
        let want: Vec<Vec<String>> = want
            .iter()
            .map(|(a, b, c)| vec![a.to_string(), b.to_string(), c.to_string()])
            .collect();
        assert_eq!(got, want, "[{}] {out}", rt.name);
        got
    });
}

#[test]
fn no_new_privileges_both_ways() {
    for (nnp, want) in [(true, "1"), (false, "0")] {
        each(|rt| {
            let mut b = Bundle::sh("grep '^NoNewPrivs:' /proc/self/status");
            b.process()["noNewPrivileges"] = json!(nnp);
            let out = rt.output(&b);
            assert_eq!(out, format!("NoNewPrivs:\t{want}\n"), "[{}]", rt.name);
            out
        });
    }
}

#[test]
fn oom_score_adj() {
    each(|rt| {
        let mut b = Bundle::sh("cat /proc/self/oom_score_adj");
        b.process()["oomScoreAdj"] = json!(123);
        let out = rt.output(&b);
        assert_eq!(out, "123\n", "[{}]", rt.name);
        out
    });
}

#[test]
fn args_are_passed_verbatim() {
    each(|rt| {
        let b = Bundle::new(&[
            "/bin/sh",
            "-c",
            "for a in \"$@\"; do echo \"[$a]\"; done",
            "argv0",
            "two words",
            "",
            "$HOME",
            "*",
        ]);
        let out = rt.output(&b);
        assert_eq!(out, "[two words]\n[]\n[$HOME]\n[*]\n", "[{}]", rt.name);
        out
    });
}

#[test]
fn terminal_over_the_console_socket() {
    // The containerd/conmon flow: create --console-socket, receive the pty
    // master by SCM_RIGHTS, start, read what the container writes.
    each(|rt| {
        let mut b = Bundle::sh(
            "tty; for fd in 0 1 2; do readlink /proc/self/fd/$fd; done; \
             stat -c '%F %t' /dev/console; [ -t 0 ] && echo stdin-is-a-tty",
        );
        b.process()["terminal"] = json!(true);
        b.write();
        let sock = ConsoleSocket::new(&rt.scratch());
        let id = rt.id("tty");
        let pid_file = b.path().join("pid");
        rt.run(&[
            "create",
            "-b",
            b.path_str(),
            "--console-socket",
            sock.path_str(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
        ])
        .ok();
        let master = sock.receive_master(COMMAND_TIMEOUT);
        rt.run(&["start", &id]).ok();
        let out = read_pty(&master, POLL_TIMEOUT);
        rt.wait_status(&id, "stopped");
        rt.run(&["delete", &id]).ok();
        // /dev/console is the pty itself (a bind of /dev/pts/0, major 0x88).
        assert_eq!(
            out,
            "/dev/pts/0\n/dev/pts/0\n/dev/pts/0\n/dev/pts/0\ncharacter special file 88\nstdin-is-a-tty\n",
            "[{}]",
            rt.name
        );
        out
    });
}

#[test]
fn console_size_is_applied() {
    each(|rt| {
        let mut b = Bundle::sh("stty size");
        b.process()["terminal"] = json!(true);
        b.process()["consoleSize"] = json!({"height": 30, "width": 100});
        b.write();
        let sock = ConsoleSocket::new(&rt.scratch());
        let id = rt.id("ttysize");
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
        let out = read_pty(&master, POLL_TIMEOUT);
        rt.wait_status(&id, "stopped");
        rt.run(&["delete", &id]).ok();
        assert_eq!(out, "30 100\n", "[{}]", rt.name);
        out
    });
}

#[test]
fn preserve_fds() {
    // `--preserve-fds N` passes the runtime's fds 3..3+N to the process.
    each(|rt| {
        let b = Bundle::sh("cat <&3; cat <&4; ls /proc/self/fd | sort -n | tr '\\n' ' '");
        b.write();
        let f3 = rt.scratch().join("fd3");
        let f4 = rt.scratch().join("fd4");
        fs::write(&f3, "three\n").unwrap();
        fs::write(&f4, "four\n").unwrap();
        let files = vec![fs::File::open(&f3).unwrap(), fs::File::open(&f4).unwrap()];
        let id = rt.id("fds");
        let root = rt.root();
        let out = rt.run_raw(
            &[
                "--root",
                root.to_str().unwrap(),
                "run",
                "--preserve-fds",
                "2",
                "-b",
                b.path_str(),
                &id,
            ],
            &[],
            files,
            COMMAND_TIMEOUT,
        );
        out.ok();
        // 0-2, the two preserved fds, and the fd `ls` reads /proc/self/fd with.
        assert_eq!(out.stdout, "three\nfour\n0 1 2 3 4 5 ", "[{}]", rt.name);
        out.stdout
    });
}

#[test]
fn only_stdio_is_inherited() {
    // Nothing of the runtime leaks into the container: fds 0-2 only
    // (CVE-2024-21626 class: a leaked fd is a way out of the rootfs).
    each(|rt| {
        let b = Bundle::sh("ls /proc/self/fd | sort -n | tr '\\n' ' '");
        let out = rt.output(&b);
        assert_eq!(out, "0 1 2 3 ", "[{}]", rt.name);
        out
    });
}

#[test]
fn personality_io_priority_and_scheduler() {
    each(|rt| {
        let mut b = Bundle::sh(
            "uname -m; ionice -p $$; awk '{print $19}' /proc/self/stat; \
             grep '^policy' /proc/self/sched | awk '{print $3}'",
        );
        b.config["ociVersion"] = json!("1.2.0");
        b.process()["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 5});
        b.process()["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
        b.linux()["personality"] = json!({"domain": "LINUX32"});
        let out = rt.output(&b);
        if rt.is_runc() {
            // Differs on purpose: runc 1.1 predates these runtime-spec 1.2
            // fields and ignores them.
            return;
        }
        // SCHED_BATCH is policy 3.
        assert_eq!(out, "i686\nbest-effort: prio 5\n7\n3\n", "[{}]", rt.name);
    });
}

#[test]
fn cwd_through_a_leaked_fd_never_escapes() {
    // CVE-2024-21626 class: cwd=/proc/self/fd/N must either be refused or end
    // up inside the rootfs (walking up with `cd ..` reaches the container's
    // own root, which holds a marker the host's / does not).
    for n in 3..=9 {
        each(|rt| {
            let mut b = Bundle::sh(
                "i=0; while [ $i -lt 40 ]; do cd ..; i=$((i+1)); done; \
                 [ -e .oxrun-root-marker ] && echo inside || echo OUTSIDE",
            );
            fs::write(b.rootfs().join(".oxrun-root-marker"), "").unwrap();
            b.process()["cwd"] = json!(format!("/proc/self/fd/{n}"));
            let id = rt.id("cwdfd");
            let out = rt.run_bundle(&b, &id);
            // Not compared: refusing (runc) and staying inside are both fine.
            if out.status == 0 {
                assert_eq!(out.stdout, "inside\n", "[{}] cwd fd {n} escaped", rt.name);
            }
            assert!(!out.stdout.contains("OUTSIDE"), "[{}] fd {n}", rt.name);
            assert_nothing_left(rt, &b, &id);
        });
    }
}
