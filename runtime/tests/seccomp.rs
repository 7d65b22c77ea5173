//! `linux.seccomp` in real containers: actions, errno values, argument
//! operators, flags, NOTIFY's listener, the Docker-style example profile,
//! and profiles that must fail `create` without leaving anything behind.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::{Duration, Instant};

fn allow_but(rules: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})
}

fn bundle(script: &str, profile: Value, nnp: bool) -> Bundle {
    let mut b = Bundle::sh(script);
    b.process()["noNewPrivileges"] = json!(nnp);
    b.linux()["seccomp"] = profile;
    b
}

/// The Docker-style profile of `bundle-examples/seccomp`.
fn example_profile() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bundle-examples/seccomp/config.json");
    let cfg: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    cfg["linux"]["seccomp"].clone()
}

#[test]
fn denied_syscall_returns_its_errno() {
    for nnp in [true, false] {
        each(|rt| {
            let b = bundle(
                "mkdir /tmp/a 2>&1; echo rc=$?; rmdir /tmp 2>&1; echo rc=$?; \
                 mkdir -p /tmp/ok/b 2>&1; echo rc=$?",
                allow_but(json!([
                    {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
                ])),
                nnp,
            );
            let out = rt.output(&b);
            assert!(
                out.contains("Operation not permitted") && out.contains("Permission denied"),
                "[{}] nnp={nnp}: {out}",
                rt.name
            );
            out
        });
    }
}

#[test]
fn default_errno_ret_with_the_example_profile() {
    each(|rt| {
        let mut profile = example_profile();
        profile["defaultErrnoRet"] = json!(libc::EROFS);
        let names = profile["syscalls"][0]["names"].as_array_mut().unwrap();
        names.retain(|n| n != "mkdir" && n != "mkdirat");
        for nnp in [true, false] {
            let b = bundle(
                "echo hi; ls / >/dev/null && echo ls-ok; mkdir /tmp/x 2>&1; echo rc=$?",
                profile.clone(),
                nnp,
            );
            let out = rt.output(&b);
            assert_eq!(
                out,
                "hi\nls-ok\nmkdir: can't create directory '/tmp/x': Read-only file system\nrc=1\n",
                "[{}] nnp={nnp}",
                rt.name
            );
        }
    });
}

#[test]
fn example_bundle_profile_allows_a_shell_and_refuses_unshare() {
    each(|rt| {
        for with in [true, false] {
            let mut b = Bundle::sh(
                "mkdir -p /tmp/d && echo mkdir-ok; unshare -U true 2>&1 && echo unshare-ok; true",
            );
            b.process()["noNewPrivileges"] = json!(false);
            if with {
                b.linux()["seccomp"] = example_profile();
            }
            let out = rt.output(&b);
            let want = if with {
                "mkdir-ok\nunshare: unshare(0x10000000): Operation not permitted\n"
            } else {
                "mkdir-ok\nunshare-ok\n"
            };
            assert_eq!(out, want, "[{}] with profile: {with}", rt.name);
        }
    });
}

/// bundle-examples/seccomp runs as its README row says.
#[test]
fn example_bundle_as_is() {
    each(|rt| {
        let mut b = Bundle::new(&["true"]);
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../bundle-examples/seccomp/config.json");
        b.config = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let out = rt.output(&b);
        assert_eq!(
            out,
            "hello from seccomp under a Docker-style seccomp profile\n\
             mkdir: allowed\n\
             unshare: refused by the profile (EPERM)\n",
            "[{}]",
            rt.name
        );
        out
    });
}

/// (operator, value, valueTwo, modes denied, modes allowed).
type OpCase = (
    &'static str,
    u64,
    u64,
    &'static [&'static str],
    &'static [&'static str],
);

#[test]
fn argument_operators() {
    // chmod(path, mode): mode is argument 1; ftruncate(fd, length): 1.
    let cases: &[OpCase] = &[
        ("SCMP_CMP_EQ", 0o700, 0, &["700"], &["755", "600"]),
        ("SCMP_CMP_NE", 0o700, 0, &["755", "600"], &["700"]),
        ("SCMP_CMP_LT", 0o600, 0, &["500", "400"], &["600", "700"]),
        ("SCMP_CMP_LE", 0o600, 0, &["600", "400"], &["601", "700"]),
        ("SCMP_CMP_GE", 0o700, 0, &["700", "755"], &["600", "677"]),
        ("SCMP_CMP_GT", 0o700, 0, &["701", "755"], &["700", "600"]),
        // The setuid bit set, whatever the rest.
        (
            "SCMP_CMP_MASKED_EQ",
            0o7000,
            0o4000,
            &["4755", "4700"],
            &["755", "2755"],
        ),
    ];
    for (op, value, value_two, denied, allowed) in cases {
        each(|rt| {
            let mut script = String::from("touch /tmp/f; ");
            for m in denied.iter().chain(allowed.iter()) {
                script.push_str(&format!("chmod {m} /tmp/f 2>/dev/null; echo {m}=$?; "));
            }
            let rule = json!([{"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 1, "value": value, "valueTwo": value_two, "op": op}]}]);
            let out = rt.output(&bundle(&script, allow_but(rule), true));
            for m in *denied {
                assert!(
                    out.contains(&format!("{m}=1\n")),
                    "[{}] {op} {m}: {out}",
                    rt.name
                );
            }
            for m in *allowed {
                assert!(
                    out.contains(&format!("{m}=0\n")),
                    "[{}] {op} {m}: {out}",
                    rt.name
                );
            }
            out
        });
    }
    // 64-bit values: a length above 4 GiB.
    each(|rt| {
        let rule = json!([{"names": ["ftruncate"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 1, "value": 0x1_0000_0000u64, "op": "SCMP_CMP_GT"}]}]);
        let out = rt.output(&bundle(
            "touch /tmp/f; truncate -s 5G /tmp/f 2>/dev/null; echo big=$?; \
             truncate -s 1G /tmp/f; echo small=$?; truncate -s 4G /tmp/f; echo four=$?",
            allow_but(rule),
            true,
        ));
        assert_eq!(out, "big=1\nsmall=0\nfour=0\n", "[{}]", rt.name);
        out
    });
}

#[test]
fn repeated_argument_index_means_any_of() {
    each(|rt| {
        let rule = json!([{"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"},
            {"index": 1, "value": 0o600, "op": "SCMP_CMP_EQ"}]}]);
        let out = rt.output(&bundle(
            "touch /tmp/f; for m in 700 600 755; do chmod $m /tmp/f 2>/dev/null; echo $m=$?; done",
            allow_but(rule),
            true,
        ));
        assert_eq!(out, "700=1\n600=1\n755=0\n", "[{}]", rt.name);
        out
    });
}

#[test]
fn kill_trap_and_trace_actions() {
    // 159 = 128 + SIGSYS: the forked mkdir dies, the shell goes on.
    for (action, want) in [
        ("SCMP_ACT_KILL", "rc=159"),
        ("SCMP_ACT_KILL_THREAD", "rc=159"),
        ("SCMP_ACT_KILL_PROCESS", "rc=159"),
        ("SCMP_ACT_TRAP", "rc=159"),
        // No tracer: the syscall fails with ENOSYS.
        ("SCMP_ACT_TRACE", "Function not implemented"),
    ] {
        each(|rt| {
            let b = bundle(
                "mkdir /tmp/k 2>&1; echo rc=$?",
                allow_but(json!([{"names": ["mkdir"], "action": action}])),
                true,
            );
            let out = rt.output(&b);
            assert!(out.contains(want), "[{}] {action}: {out}", rt.name);
            out
        });
    }
}

/// The kernel log, one entry a line.
fn dmesg_lines() -> Vec<String> {
    let out = std::process::Command::new("dmesg").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn log_action_and_log_flag_reach_the_kernel_log() {
    each(|rt| {
        // runc 1.1 refuses every seccomp flag.
        let flags = if rt.is_runc() {
            json!([])
        } else {
            json!(["SECCOMP_FILTER_FLAG_LOG"])
        };
        let b = bundle(
            "rm -f /tmp/p; mkfifo /tmp/p && echo made; link /tmp/p /tmp/q 2>/dev/null; echo rc=$?",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": flags,
                   "syscalls": [{"names": ["mknod", "mknodat"], "action": "SCMP_ACT_LOG"},
                                {"names": ["link", "linkat"], "action": "SCMP_ACT_ERRNO"}]}),
            true,
        );
        // The kernel rate-limits audit lines printed without auditd, and
        // other tests may be logging too: a few tries.
        let (mut out, mut new) = (String::new(), Vec::new());
        for _ in 0..4 {
            // Lines are told apart by timestamp and audit serial: a set, not
            // a count (the ring buffer may be full and rolling).
            let before: std::collections::HashSet<String> = dmesg_lines().into_iter().collect();
            out = rt.output(&b);
            assert_eq!(out, "made\nrc=1\n", "[{}]", rt.name);
            let found = poll(Duration::from_secs(3), || {
                new = dmesg_lines()
                    .into_iter()
                    .filter(|l| !before.contains(l))
                    .collect();
                new.iter().any(|l| l.contains("comm=\"mkfifo\""))
                    && (rt.is_runc() || new.iter().any(|l| l.contains("comm=\"link\"")))
            });
            if found {
                break;
            }
            std::thread::sleep(Duration::from_secs(5));
        }
        let logged = |comm: &str, code: &str| {
            new.iter()
                .any(|l| l.contains(&format!("comm=\"{comm}\"")) && l.contains(code))
        };
        // LOG is logged; with the LOG flag so is ERRNO (code 0x50000: the action, not its errno).
        assert!(
            logged("mkfifo", "code=0x7ffc0000"),
            "[{}] {new:#?}",
            rt.name
        );
        if !rt.is_runc() {
            assert!(logged("link", "code=0x50000"), "[{}] {new:#?}", rt.name);
        }
        out
    });
}

#[test]
fn unknown_syscall_names_are_skipped() {
    each(|rt| {
        let b = bundle(
            "mkdir /tmp/u 2>&1; echo rc=$?",
            allow_but(
                json!([{"names": ["no_such_syscall", "mkdir", "another_fake"],
                              "action": "SCMP_ACT_ERRNO"}]),
            ),
            true,
        );
        rt.output(&b)
    });
}

// --- NOTIFY -----------------------------------------------------------------

/// seccomp_notif and seccomp_notif_resp (linux/seccomp.h).
#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

const NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const NOTIF_SEND: libc::c_ulong = 0xc018_2101;

/// What the agent saw: the container process state and whether it could
/// answer one notification through the fd it got.
#[derive(Debug)]
struct AgentSaw {
    state: Value,
    answered: bool,
}

/// A seccomp agent on `path`: takes one connection, the fd and the state,
/// answers one notification with EACCES, then closes the fd.
fn agent(listener: UnixListener) -> std::thread::JoinHandle<Result<AgentSaw, String>> {
    std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let start = Instant::now();
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if start.elapsed() > COMMAND_TIMEOUT {
                        return Err("nobody connected to listenerPath".into());
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(format!("accept: {e}")),
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(COMMAND_TIMEOUT)).unwrap();
        let (mut data, fd) = recv_with_fd(stream.as_raw_fd())?;
        let fd = fd.ok_or("no fd with the state")?;
        // One JSON document; read on only while it is incomplete (runc
        // keeps the connection open for a while).
        let state: Value = loop {
            match serde_json::from_slice(&data) {
                Ok(v) => break v,
                Err(e) if e.is_eof() => {
                    let mut buf = [0u8; 4096];
                    match (&stream).read(&mut buf) {
                        Ok(n) if n > 0 => data.extend_from_slice(&buf[..n]),
                        _ => return Err(format!("state cut short: {e}")),
                    }
                }
                Err(e) => {
                    let text = String::from_utf8_lossy(&data).into_owned();
                    return Err(format!("state is not JSON ({e}): {text:?}"));
                }
            }
        };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd, a live fd.
        let ready = unsafe { libc::poll(&mut pfd, 1, 15_000) } == 1;
        let mut answered = false;
        if ready {
            let mut n = Notif::default();
            // SAFETY: the kernel fills a zeroed seccomp_notif.
            if unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_RECV, &mut n) } == 0 {
                let resp = NotifResp {
                    id: n.id,
                    val: 0,
                    error: -libc::EACCES,
                    flags: 0,
                };
                // SAFETY: the kernel reads one seccomp_notif_resp.
                answered = unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_SEND, &resp) } == 0;
            }
        }
        Ok(AgentSaw { state, answered })
    })
}

fn recv_with_fd(sock: RawFd) -> Result<(Vec<u8>, Option<OwnedFd>), String> {
    let mut data = vec![0u8; 1 << 16];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut cbuf = [0u64; 16];
    // SAFETY: msghdr points into live buffers.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
        let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
        if n < 0 {
            return Err(format!("recvmsg: {}", std::io::Error::last_os_error()));
        }
        data.truncate(n as usize);
        let mut fd = None;
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                fd = Some(OwnedFd::from_raw_fd(*(libc::CMSG_DATA(c) as *const RawFd)));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        Ok((data, fd))
    }
}

#[test]
fn notify_sends_the_listener_fd_and_state_to_the_agent() {
    for nnp in [true, false] {
        each(|rt| {
            let dir = TempDir::new("agent");
            let path = dir.path().join("agent.sock");
            let handle = agent(UnixListener::bind(&path).unwrap());
            let b = bundle(
                "mkdir /tmp/n 2>&1; echo rc=$?",
                json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path,
                       "listenerMetadata": "hello-agent",
                       "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
                nnp,
            );
            let id = rt.id("notify");
            let out = rt.run_bundle(&b, &id);
            let saw = handle
                .join()
                .unwrap()
                .unwrap_or_else(|e| panic!("[{}] {e}", rt.name));
            assert_eq!(
                out.stdout, "mkdir: can't create directory '/tmp/n': Permission denied\nrc=1\n",
                "[{}] nnp={nnp} {out:#?} {saw:#?}",
                rt.name
            );
            let s = &saw.state;
            assert!(saw.answered, "[{}] {saw:#?}", rt.name);
            assert_eq!(s["fds"], json!(["seccompFd"]), "[{}] {s}", rt.name);
            assert_eq!(s["metadata"], "hello-agent", "[{}] {s}", rt.name);
            assert!(s["pid"].as_i64().unwrap_or(0) > 0, "[{}] {s}", rt.name);
            assert_eq!(s["state"]["id"], json!(id), "[{}] {s}", rt.name);
            assert_eq!(s["state"]["pid"], s["pid"], "[{}] {s}", rt.name);
            assert_eq!(
                s["state"]["bundle"],
                json!(b.path_str()),
                "[{}] {s}",
                rt.name
            );
            let status = s["state"]["status"].as_str().unwrap_or("");
            assert!(
                matches!(status, "creating" | "created"),
                "[{}] {s}",
                rt.name
            );
            out.stdout
        });
    }
}

// --- bad profiles -------------------------------------------------------------

#[test]
fn bad_profiles_fail_create_and_leave_nothing() {
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "unknown action",
            json!({"defaultAction": "SCMP_ACT_FOO"}),
            "SCMP_ACT_FOO",
        ),
        (
            "unknown operator",
            allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}])),
            "SCMP_CMP_FOO",
        ),
        (
            "argument index out of range",
            allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}])),
            "6",
        ),
        (
            "notify without listenerPath",
            allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}])),
            "listenerPath",
        ),
        (
            "listenerPath that does not exist",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent/agent.sock",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "/nonexistent/agent.sock",
        ),
        (
            "notify as the default action",
            json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/nonexistent/agent.sock"}),
            "default action",
        ),
        (
            "notify on write",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent/agent.sock",
                   "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]}),
            "write",
        ),
    ];
    for (what, profile, needle) in cases {
        each(|rt| {
            let b = bundle("echo should-not-run", profile.clone(), true);
            let id = rt.id("bad");
            let out = rt.create(&b, &id);
            out.failed();
            assert!(
                out.stderr.contains(needle),
                "[{}] {what}: error does not mention {needle:?}: {}",
                rt.name,
                out.stderr
            );
            assert_nothing_left(rt, &b, &id);
        });
    }
}

#[test]
fn killed_container_process_exits_with_sigsys() {
    each(|rt| {
        let mut b = Bundle::new(&["mkdir", "/tmp/k"]);
        b.linux()["seccomp"] =
            allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_KILL_PROCESS"}]));
        let out = rt.run_bundle(&b, &rt.id("sigsys"));
        assert_eq!(out.status, 128 + libc::SIGSYS, "[{}] {out:#?}", rt.name);
        out.status
    });
}

#[test]
fn user_namespace_without_no_new_privileges() {
    // Loaded while init holds CAP_SYS_ADMIN in its user namespace.
    each(|rt| {
        let mut b = bundle(
            "id -u; mkdir /tmp/u 2>&1; echo rc=$?",
            allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28}])),
            false,
        );
        b.linux()["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        b.linux()["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.linux()["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        let out = rt.output(&b);
        assert_eq!(
            out, "0\nmkdir: can't create directory '/tmp/u': No space left on device\nrc=1\n",
            "[{}]",
            rt.name
        );
        out
    });
}

#[test]
fn notify_from_a_user_namespace() {
    // The agent's socket must be writable by the container's mapped root
    // (oxrun connects from init, inside the user namespace).
    each(|rt| {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new("agent-userns");
        let path = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let handle = agent(listener);
        let mut b = bundle(
            "mkdir /tmp/n 2>&1; echo rc=$?",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path,
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            false,
        );
        b.linux()["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        b.linux()["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.linux()["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        let out = rt.output(&b);
        let saw = handle
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("[{}] {e}", rt.name));
        assert!(saw.answered, "[{}] {saw:#?}", rt.name);
        assert_eq!(
            out, "mkdir: can't create directory '/tmp/n': Permission denied\nrc=1\n",
            "[{}]",
            rt.name
        );
        out
    });
}
