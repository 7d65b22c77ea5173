//! One test per attack class the runtime must resist (issue 5 and the
//! security table of FIELD-NOTES.md), each reproducing the attack for real
//! against a throwaway target and checking that nothing happened on the host.
//!
//! runc 1.1.5 is vulnerable to several of these classes; where a test does not
//! hold runc to the assertion (or does not run the attack under runc at all,
//! because it would change the host), it says so. Everything an attack could
//! reach is a temporary file or directory of the test, with one exception
//! noted in `masked_paths_survive_a_dev_null_symlink_to_core_pattern`.
//!
//! | class | test(s) |
//! |---|---|
//! | runtime binary overwrite (CVE-2019-5736) | `runtime_binary_cannot_be_overwritten_through_proc_exe`, `…_by_a_container_with_cap_sys_ptrace` (ignored: oxrun vulnerable), `…_through_a_waiting_init` |
//! | leaked fd / cwd (CVE-2024-21626) | `cwd_through_a_leaked_fd_in_the_config`, `exec_cwd_through_a_leaked_fd` |
//! | swapped /dev/null (CVE-2025-31133) | `masked_paths_survive_a_dev_null_symlink_to_core_pattern` (oxrun only) |
//! | /dev/console symlink (CVE-2025-52565) | `dev_console_symlink_never_reaches_the_host`, `dev_console_symlink_is_not_followed` |
//! | procfs writes redirected (CVE-2025-52881) | `sysctl_write_through_a_mount_over_proc_sys_is_refused`, `proc_replaced_by_a_host_directory_gets_no_runtime_writes` |
//! | mount destination symlinks (CVE-2021-30465, CVE-2024-45310) | `mount_destination_symlink_to_the_root`, `mount_destination_swapped_for_a_symlink_while_containers_start` |
//! | /dev a symlink | `dev_symlink_to_a_host_dir_creates_nothing_there` |
//! | inheritable caps (CVE-2022-29162) | `exec_as_non_root_gets_no_inheritable_caps` |
//! | user lookups (CVE-2024-40635 class) | `exec_user_name_is_never_looked_up_on_the_host` (and `exec.rs`) |
//!
//! `cargo test -p oxrun --test attacks -- --include-ignored` also runs the
//! one oxrun still fails.

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Docker's default capabilities: what a real attacker in a container has.
const DOCKER_CAPS: [&str; 14] = [
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
    "CAP_AUDIT_WRITE",
];

fn docker_caps(b: &mut Bundle) {
    let caps = json!(DOCKER_CAPS);
    b.process()["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
}

/// Entries of a host directory (names), sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

// ---------------------------------------------------------------------------
// CVE-2019-5736: the runtime binary reopened through /proc/<pid>/exe
// ---------------------------------------------------------------------------

/// The attacker, the container's init: for a bounded time, open every other
/// process's /proc/<pid>/exe; whatever is not the container's own busybox is
/// the runtime: log it, try to write it directly, and keep trying through the
/// fd (`/proc/self/fd/3`) after that process has exited (the CVE-2019-5736
/// exploit: ETXTBSY only holds while the binary runs).
const EXE_ATTACKER: &str = r#"
exec 2>/dev/null
: >/tmp/report
i=0
while [ $i -lt 200000 ] && [ ! -e /tmp/stop ]; do
  i=$((i+1))
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    case $p in 1|$$) continue;; esac
    if { printf PWNED >"$d/exe"; } 2>/dev/null; then echo "WROTE-DIRECT $p" >>/tmp/report; fi
    command exec 3<"$d/exe" || continue
    if [ /proc/self/fd/3 -ef /bin/busybox ]; then exec 3<&-; continue; fi
    t=$(readlink /proc/self/fd/3)
    echo "GOT $p $t" >>/tmp/report
    j=0
    while [ $j -lt 20000 ]; do
      j=$((j+1))
      if { printf PWNED >/proc/self/fd/3; } 2>/dev/null; then echo "WROTE $p $t" >>/tmp/report; break; fi
    done
    exec 3<&-
  done
done
echo done >>/tmp/report
sleep 1000
"#;

#[test]
fn runtime_binary_cannot_be_overwritten_through_proc_exe() {
    each(|rt| exe_attack(rt, false));
}

#[test]
fn runtime_binary_cannot_be_overwritten_by_a_container_with_cap_sys_ptrace() {
    // `--cap-add SYS_PTRACE` (common for debugging): a non-dumpable process
    // no longer keeps the attacker out of /proc/<pid>/exe.
    each(|rt| exe_attack(rt, true));
}

fn exe_attack(rt: &Runtime, ptrace: bool) {
    {
        // A copy of the runtime binary: the attack may destroy it.
        let bin_dir = TempDir::new("bin");
        let copy = bin_dir.path().join(&rt.name);
        fs::copy(&rt.bin, &copy).unwrap();
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
        let before = file_fingerprint(&copy);
        let mut crt = Runtime::new(&rt.name);
        crt.bin = copy.clone();

        let mut b = Bundle::sh(EXE_ATTACKER);
        docker_caps(&mut b);
        if ptrace {
            let mut caps = DOCKER_CAPS.to_vec();
            caps.push("CAP_SYS_PTRACE");
            let caps = json!(caps);
            b.process()["capabilities"] =
                json!({"bounding": caps, "effective": caps, "permitted": caps});
        }
        // The second vector: a program whose interpreter is /proc/self/exe,
        // i.e. the runtime binary itself when the runtime execs it. (On the
        // 6.18 test kernel both runtimes get ENOENT for that interpreter;
        // from a shell inside the container it runs busybox.)
        fs::write(b.rootfs().join("evil"), "#!/proc/self/exe\n").unwrap();
        fs::set_permissions(b.rootfs().join("evil"), fs::Permissions::from_mode(0o755)).unwrap();
        // The positive control: another binary (a copy of busybox, so a
        // different inode) that the attacker must be able to reopen and,
        // once it has exited, overwrite. It is inside the container.
        fs::create_dir_all(b.rootfs().join("opt")).unwrap();
        fs::copy(b.rootfs().join("bin/busybox"), b.rootfs().join("opt/sleep")).unwrap();
        let (id, _) = start_container(&crt, &b, "exe5736");
        let report_path = b.rootfs().join("tmp/report");
        assert!(
            poll(POLL_TIMEOUT, || report_path.exists()),
            "[{}] attacker never ran",
            rt.name
        );
        // Execs in flight while the attacker scans: plain ones (the runtime is
        // inside the container until it execs), and /evil as the command.
        let start = Instant::now();
        let mut n = 0;
        let mut broken = None;
        while n < 40 && start.elapsed() < Duration::from_secs(8) && broken.is_none() {
            // A runtime binary the attacker holds open for writing cannot be
            // executed any more (ETXTBSY): the harness panics on spawn.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                exec_in(&crt, &id, &[], &["true"]);
                let evil = exec_in(&crt, &id, &[], &["/evil"]);
                if n == 0 {
                    eprintln!("[{}] exec /evil: {evil:?}", rt.name);
                }
                let pid_file = crt.scratch().join(format!("evil{n}.pid"));
                exec_in(
                    &crt,
                    &id,
                    &["--detach", "--pid-file", pid_file.to_str().unwrap()],
                    &["/evil"],
                );
            }));
            if let Err(e) = r {
                broken = Some(
                    e.downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| "panic".into()),
                );
            }
            n += 1;
        }
        if let Some(e) = &broken {
            eprintln!("[{}] the runtime stopped working: {e}", rt.name);
        }
        if broken.is_none() {
            exec_in(&crt, &id, &[], &["/opt/sleep", "1"]).ok();
        }
        // The attacker gets a few rounds after the last exec.
        let last = Instant::now();
        poll(Duration::from_secs(3), || {
            fs::read_to_string(&report_path)
                .unwrap_or_default()
                .contains("WROTE")
                && last.elapsed() > Duration::from_millis(500)
        });
        fs::write(b.rootfs().join("tmp/stop"), "").unwrap();
        poll(POLL_TIMEOUT, || {
            fs::read_to_string(&report_path)
                .unwrap_or_default()
                .contains("done")
        });
        let report = fs::read_to_string(&report_path).unwrap_or_default();
        eprintln!("[{}] {n} rounds; attacker's report:\n{report}", rt.name);
        let after = file_fingerprint(&copy);
        // Clean up with the real binary: the copy may be destroyed.
        kill_processes_mentioning(b.path_str());
        crt.bin = rt.bin.clone();
        crt.run(&["delete", "--force", &id]);
        assert_nothing_left(&crt, &b, &id);
        assert_eq!(
            before, after,
            "[{}] the runtime binary was overwritten from inside the container; report:\n{report}",
            rt.name
        );
        assert!(
            report.contains("/opt/sleep"),
            "[{}] the attacker never reopened the control binary: {report}",
            rt.name
        );
        let wrote: Vec<&str> = report
            .lines()
            .filter(|l| l.starts_with("WROTE") && !l.ends_with(" /opt/sleep"))
            .collect();
        assert!(
            wrote.is_empty(),
            "[{}] a write reached the runtime binary: {wrote:?}",
            rt.name
        );
        // Reopened at all. A read-only, detached bind mount of the binary
        // (readlink "/": runc 1.1.5, and oxrun for containers with
        // CAP_SYS_PTRACE) or runc's sealed memfd can be reopened but never
        // written (checked above); the host's own file must never be reached.
        let reopened: Vec<&str> = report
            .lines()
            .filter(|l| l.starts_with("GOT") && !l.ends_with(" /opt/sleep"))
            .filter(|l| !(l.ends_with(" /") || (rt.is_runc() && l.contains("memfd:"))))
            .collect();
        assert!(
            reopened.is_empty(),
            "[{}] the host runtime binary was reopened from inside: {reopened:?}",
            rt.name
        );
    }
}

/// Exec'd into a created container: the init is still the runtime's binary
/// waiting for `start`. Reopen /proc/1/exe, then write through the fd once
/// `start` has made the init exec the user's program.
const INIT_ATTACKER: &str = r#"
exec 2>/dev/null
if command exec 3</proc/1/exe; then
  if [ /proc/self/fd/3 -ef /bin/busybox ]; then echo NOT-THE-RUNTIME >/tmp/report
  else echo "GOT $(readlink /proc/self/fd/3)" >/tmp/report; fi
else
  echo DENIED >/tmp/report
fi
i=0
while [ $i -lt 500000 ] && [ ! -e /tmp/stop ]; do
  i=$((i+1))
  if { printf PWNED >/proc/self/fd/3; }; then echo WROTE >>/tmp/report; break; fi
done
echo done >>/tmp/report
"#;

#[test]
fn runtime_binary_cannot_be_overwritten_through_a_waiting_init() {
    // runc allows exec into a created container; its init then waits for
    // `start` as the runtime's own binary (runc: a sealed memfd or a
    // read-only detached bind of itself).
    each(|rt| {
        let bin_dir = TempDir::new("bin");
        let copy = bin_dir.path().join(&rt.name);
        fs::copy(&rt.bin, &copy).unwrap();
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
        let before = file_fingerprint(&copy);
        let mut crt = Runtime::new(&rt.name);
        crt.bin = copy.clone();
        let mut b = Bundle::new(&["sleep", "1000"]);
        docker_caps(&mut b);
        let id = crt.id("initexe");
        crt.create(&b, &id).ok();
        exec_in(&crt, &id, &["--detach"], &["sh", "-c", INIT_ATTACKER]).ok();
        let report_path = b.rootfs().join("tmp/report");
        wait_file(&report_path);
        // `start` may find its own binary held open for writing (ETXTBSY).
        let started =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| crt.run(&["start", &id])));
        poll(Duration::from_secs(3), || {
            fs::read_to_string(&report_path)
                .unwrap_or_default()
                .contains("WROTE")
        });
        fs::write(b.rootfs().join("tmp/stop"), "").unwrap();
        poll(POLL_TIMEOUT, || {
            fs::read_to_string(&report_path)
                .unwrap_or_default()
                .contains("done")
        });
        let report = fs::read_to_string(&report_path).unwrap_or_default();
        let after = file_fingerprint(&copy);
        kill_processes_mentioning(b.path_str());
        crt.bin = rt.bin.clone();
        crt.run(&["delete", "--force", &id]);
        assert_nothing_left(&crt, &b, &id);
        assert_eq!(
            before, after,
            "[{}] the runtime binary was overwritten through the waiting init; \
             report: {report:?}; start: {started:?}",
            rt.name
        );
        assert!(!report.contains("WROTE"), "[{}] {report:?}", rt.name);
        let got_host_binary = report.starts_with("GOT")
            && !(rt.is_runc() && (report.starts_with("GOT /\n") || report.contains("memfd:")));
        assert!(
            !got_host_binary,
            "[{}] the host runtime binary was reopened from inside: {report:?}",
            rt.name
        );
    });
}

// ---------------------------------------------------------------------------
// CVE-2024-21626: a leaked fd as cwd
// ---------------------------------------------------------------------------

const WALK_UP: &str = "i=0; while [ $i -lt 40 ]; do cd ..; i=$((i+1)); done; \
                       [ -e .oxrun-root-marker ] && echo inside || echo OUTSIDE";

#[test]
fn cwd_through_a_leaked_fd_in_the_config() {
    each(|rt| {
        for n in 3..20 {
            let mut b = Bundle::sh(WALK_UP);
            fs::write(b.rootfs().join(".oxrun-root-marker"), "").unwrap();
            b.process()["cwd"] = json!(format!("/proc/self/fd/{n}"));
            let id = rt.id("cwdfd");
            let out = rt.run_bundle(&b, &id);
            assert!(
                !out.stdout.contains("OUTSIDE"),
                "[{}] cwd /proc/self/fd/{n} escaped the rootfs",
                rt.name
            );
            if out.status == 0 {
                assert_eq!(out.stdout, "inside\n", "[{}] fd {n}", rt.name);
            }
            assert_nothing_left(rt, &b, &id);
        }
    });
}

#[test]
fn exec_cwd_through_a_leaked_fd() {
    each(|rt| {
        let b = Bundle::new(&["sleep", "1000"]);
        fs::write(b.rootfs().join(".oxrun-root-marker"), "").unwrap();
        let (id, _) = start_container(rt, &b, "execcwdfd");
        for n in 3..20 {
            let cwd = format!("/proc/self/fd/{n}");
            let out = exec_in(rt, &id, &["--cwd", &cwd], &["sh", "-c", WALK_UP]);
            assert!(
                !out.stdout.contains("OUTSIDE"),
                "[{}] exec --cwd {cwd} escaped the rootfs",
                rt.name
            );
            if out.status == 0 {
                assert_eq!(out.stdout, "inside\n", "[{}] fd {n}", rt.name);
            }
            // The same through a process JSON (containerd's way).
            let pf = rt.scratch().join(format!("cwd{n}.json"));
            let mut p = process_json(&["sh", "-c", WALK_UP], false);
            p["cwd"] = json!(cwd);
            fs::write(&pf, p.to_string()).unwrap();
            let out = exec_in(rt, &id, &["--process", pf.to_str().unwrap()], &[]);
            assert!(!out.stdout.contains("OUTSIDE"), "[{}] {cwd}", rt.name);
        }
        // No fd of the runtime reaches the exec'd process: 0-2 (+ ls's own).
        let fds = exec_in(rt, &id, &[], &["ls", "/proc/self/fd"]);
        assert_eq!(fds.lines(), ["0", "1", "2", "3"], "[{}]", rt.name);
        rt.run(&["delete", "--force", &id]).ok();
        assert_nothing_left(rt, &b, &id);
    });
}

// ---------------------------------------------------------------------------
// CVE-2025-31133: /dev/null swapped for a symlink to core_pattern
// ---------------------------------------------------------------------------

#[test]
fn masked_paths_survive_a_dev_null_symlink_to_core_pattern() {
    // The image's /dev is used as is (no /dev tmpfs) and its /dev/null is a
    // symlink to /proc/sys/kernel/core_pattern. A runtime that bind-mounts
    // "/dev/null" by path over the masked paths binds the host's (not
    // namespaced) core_pattern there, writable.
    //
    // Not run under runc 1.1.5: it is vulnerable (fixed in runc 1.2.8) and
    // the attack would rewrite this host's core_pattern.
    const PAYLOAD: &str = "oxrun-attack-core-pattern";
    each(|rt| {
        if rt.is_runc() {
            return;
        }
        let host_before = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
        let mut b = Bundle::sh(&format!(
            "for p in /proc/timer_list /proc/keys /dev/null; do \
               {{ printf {PAYLOAD} >$p; }} 2>/dev/null && echo \"wrote $p\"; \
               grep -q {PAYLOAD} $p 2>/dev/null && echo \"LEAKED $p\"; done; \
             {{ printf {PAYLOAD} >/proc/sys/kernel/core_pattern; }} 2>/dev/null && echo CORE-PATTERN-WRITTEN; \
             stat -c '%n %F %t:%T' /proc/timer_list /proc/keys; \
             cat /proc/timer_list /proc/keys | wc -c"
        ));
        b.config["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/dev");
        let dev = b.rootfs().join("dev");
        let _ = fs::remove_file(dev.join("null"));
        symlink("/proc/sys/kernel/core_pattern", dev.join("null")).unwrap();
        let id = rt.id("devnull");
        let out = rt.run_bundle(&b, &id);
        let host_after = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
        if host_after.contains(PAYLOAD) {
            // Put the host back before failing.
            let _ = fs::write("/proc/sys/kernel/core_pattern", host_before.trim_end());
            panic!(
                "[{}] the host's core_pattern was rewritten from the container: {out:?}",
                rt.name
            );
        }
        assert!(!out.stdout.contains("LEAKED"), "[{}] {out:?}", rt.name);
        assert!(
            !out.stdout.contains("CORE-PATTERN-WRITTEN"),
            "[{}] {out:?}",
            rt.name
        );
        if out.status == 0 {
            // Masked files are the real null device (1:3), empty to read.
            for p in ["/proc/timer_list", "/proc/keys"] {
                assert!(
                    out.stdout
                        .contains(&format!("{p} character special file 1:3")),
                    "[{}] {p} not masked: {out:?}",
                    rt.name
                );
            }
            assert!(out.stdout.ends_with("0\n"), "[{}] {out:?}", rt.name);
        }
        assert_nothing_left(rt, &b, &id);
    });
}

// ---------------------------------------------------------------------------
// CVE-2025-52565: /dev/console redirected by a symlink
// ---------------------------------------------------------------------------

/// Runs a terminal=true container whose image has its own /dev (no tmpfs)
/// with /dev/console a symlink to core_pattern; returns what it printed on
/// its pty and the host's core_pattern before and after.
fn console_symlink_run(rt: &Runtime) -> (String, String, String) {
    let host_before = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let mut b = Bundle::sh(
        "stat -L -c '%t' /dev/console; \
         grep -c ' /proc/sys/kernel/core_pattern ' /proc/self/mountinfo; \
         { echo oxrun-console-attack >/proc/sys/kernel/core_pattern; } 2>/dev/null && echo WRITTEN; \
         true",
    );
    b.process()["terminal"] = json!(true);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
    let dev = b.rootfs().join("dev");
    symlink("/proc/sys/kernel/core_pattern", dev.join("console")).unwrap();
    b.write();
    let sock = ConsoleSocket::new(&rt.scratch());
    let id = rt.id("console");
    let created = rt.run(&[
        "create",
        "-b",
        b.path_str(),
        "--console-socket",
        sock.path_str(),
        &id,
    ]);
    let text;
    if created.status == 0 {
        let master = sock.receive_master(COMMAND_TIMEOUT);
        rt.run(&["start", &id]).ok();
        text = read_pty(&master, POLL_TIMEOUT);
        rt.wait_status(&id, "stopped");
        rt.run(&["delete", &id]).ok();
    } else {
        text = format!("create failed: {created:?}");
    }
    let host_after = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    assert_nothing_left(rt, &b, &id);
    (text, host_before, host_after)
}

#[test]
fn dev_console_symlink_never_reaches_the_host() {
    // CVE-2025-52565 class: whatever the runtime does with the symlinked
    // /dev/console, the host's core_pattern is untouched.
    each(|rt| {
        let (text, before, after) = console_symlink_run(rt);
        assert_eq!(before, after, "[{}] {text}", rt.name);
    });
}

#[test]
fn dev_console_symlink_is_not_followed() {
    // The console must be the pty, mounted on a real /dev/console: nothing
    // mounted on core_pattern, which stays read-only (readonlyPaths).
    // runc 1.1.5 follows the symlink as well (fixed in runc 1.2.8).
    each(|rt| {
        let (text, _, _) = console_symlink_run(rt);
        if rt.is_runc() {
            return;
        }
        assert_eq!(text, "88\n0\n", "[{}] {text:?}", rt.name);
    });
}

// ---------------------------------------------------------------------------
// CVE-2025-52881: procfs writes redirected by a mount over /proc/sys
// ---------------------------------------------------------------------------

#[test]
fn sysctl_write_through_a_mount_over_proc_sys_is_refused() {
    // The config puts a tmpfs over /proc/sys and a host directory (a stand-in
    // for any file the attacker wants written) at /proc/sys/net, with
    // ipv4/ip_forward a plain file. A runtime that writes the sysctl by path
    // writes the host file.
    each(|rt| {
        let victim = TempDir::new("sysctlvictim");
        fs::create_dir_all(victim.path().join("ipv4")).unwrap();
        let target = victim.path().join("ipv4/ip_forward");
        fs::write(&target, "0\n").unwrap();
        let mut b = Bundle::sh("cat /proc/sys/net/ipv4/ip_forward");
        b.add_mount(json!({"destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs"}));
        b.add_mount(json!({"destination": "/proc/sys/net", "type": "bind",
                           "source": victim.path(), "options": ["rbind", "rw"]}));
        // Keep /proc/sys writable for the runtime (no readonlyPaths there).
        b.linux()["readonlyPaths"] = json!([]);
        b.linux()["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        let id = rt.id("sysctl");
        let out = rt.run_bundle(&b, &id);
        let after = fs::read_to_string(&target).unwrap();
        eprintln!("[{}] sysctl: {out:?}", rt.name);
        if rt.is_runc() {
            // Differs on purpose: runc 1.1.5 writes the sysctl by path into
            // whatever is mounted there (CVE-2025-52881, fixed in 1.2.8).
            eprintln!("[runc] sysctl target after: {after:?}, {out:?}");
            return;
        }
        assert_eq!(
            after, "0\n",
            "[{}] the sysctl was written through the mount: {out:?}",
            rt.name
        );
        assert_ne!(out.status, 0, "[{}] not refused: {out:?}", rt.name);
        assert_nothing_left(rt, &b, &id);
    });
}

#[test]
fn proc_replaced_by_a_host_directory_gets_no_runtime_writes() {
    // The same class with /proc itself: the config mounts a host directory
    // (laid out like procfs, plain files) at /proc instead of a procfs. The
    // runtime's procfs writes (sysctl, oom_score_adj) must not land in it.
    each(|rt| {
        let victim = TempDir::new("fakeproc");
        let files = [
            "sys/net/ipv4/ip_forward",
            "self/oom_score_adj",
            "1/oom_score_adj",
        ];
        for f in files {
            let p = victim.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, "0\n").unwrap();
        }
        let mut b = Bundle::sh("true");
        for m in b.config["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/proc" {
                *m = json!({"destination": "/proc", "type": "bind",
                            "source": victim.path(), "options": ["rbind", "rw"]});
            }
        }
        b.linux()["maskedPaths"] = json!([]);
        b.linux()["readonlyPaths"] = json!([]);
        b.linux()["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        b.process()["oomScoreAdj"] = json!(100);
        let id = rt.id("fakeproc");
        let out = rt.run_bundle(&b, &id);
        let changed: Vec<&str> = files
            .iter()
            .copied()
            .filter(|f| fs::read_to_string(victim.path().join(f)).unwrap() != "0\n")
            .collect();
        assert!(
            changed.is_empty(),
            "[{}] the runtime wrote {changed:?} into the fake /proc: {out:?}",
            rt.name
        );
        assert_nothing_left(rt, &b, &id);
        out.status != 0
    });
}

// ---------------------------------------------------------------------------
// CVE-2021-30465 / CVE-2024-45310: mount destinations through symlinks
// ---------------------------------------------------------------------------

#[test]
fn mount_destination_symlink_to_the_root() {
    each(|rt| {
        let marker = format!("oxrun-atk-{}-{}", std::process::id(), rt.name);
        let payload = TempDir::new("payload");
        fs::write(payload.path().join("payload-file"), "x").unwrap();
        for (name, target) in [
            ("evil1", "/"),
            ("evil2", "../../.."),
            ("evil3", "../../../tmp"),
        ] {
            let mut b = Bundle::sh(&format!(
                "touch /{name}/{marker} 2>/dev/null; ls /{name}/payload-file 2>/dev/null; true"
            ));
            symlink(target, b.rootfs().join(name)).unwrap();
            b.add_mount(json!({"destination": format!("/{name}"), "type": "bind",
                               "source": payload.path(), "options": ["rbind", "rw"]}));
            let id = rt.id("mntlink");
            let out = rt.run_bundle(&b, &id);
            // Wherever it went on the host, it must not be outside the rootfs.
            for host in [
                Path::new("/").to_path_buf(),
                Path::new("/tmp").to_path_buf(),
                b.path().to_path_buf(),
                b.path().parent().unwrap().to_path_buf(),
            ] {
                let m = host.join(&marker);
                let escaped = m.exists();
                let _ = fs::remove_file(&m);
                assert!(
                    !escaped,
                    "[{}] {name} -> {target}: wrote {} on the host: {out:?}",
                    rt.name,
                    m.display()
                );
            }
            assert!(
                !b.path().join("payload-file").exists() && !Path::new("/tmp/payload-file").exists(),
                "[{}] {name}: the bind landed outside the rootfs",
                rt.name
            );
            assert_nothing_left(rt, &b, &id);
        }
    });
}

/// renameat2(RENAME_EXCHANGE): swaps two paths atomically.
fn exchange(a: &Path, b: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let a = std::ffi::CString::new(a.as_os_str().as_bytes()).unwrap();
    let b = std::ffi::CString::new(b.as_os_str().as_bytes()).unwrap();
    // SAFETY: two NUL-terminated paths.
    unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        ) == 0
    }
}

#[test]
fn mount_destination_swapped_for_a_symlink_while_containers_start() {
    // A shared volume (a host directory bind-mounted in every container) in
    // which `target` flips between a directory and a symlink to a host
    // directory, while containers that mount a tmpfs at /vol/target/deeper
    // start. Nothing may be created or mounted in the host directory.
    each(|rt| {
        let victim = TempDir::new("racevictim");
        let sub = victim.path().join("sub");
        fs::create_dir_all(&sub).unwrap();
        let vol = TempDir::new("vol");
        fs::set_permissions(vol.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let target = vol.path().join("target");
        let alt = vol.path().join("alt");
        fs::create_dir(&target).unwrap();
        symlink(&sub, &alt).unwrap();
        let stop = AtomicBool::new(false);
        let mut results = Vec::new();
        std::thread::scope(|s| {
            let swapper = s.spawn(|| {
                let start = Instant::now();
                let mut swaps = 0u64;
                while !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(30) {
                    if exchange(&target, &alt) {
                        swaps += 1;
                    }
                    std::thread::yield_now();
                }
                swaps
            });
            let start = Instant::now();
            let mut n = 0;
            while n < 25 && start.elapsed() < Duration::from_secs(15) {
                let mut b = Bundle::sh("echo hi >/vol/target/deeper/f 2>/dev/null; true");
                b.add_mount(json!({"destination": "/vol", "type": "bind",
                                   "source": vol.path(), "options": ["rbind", "rw"]}));
                b.add_mount(json!({"destination": "/vol/target/deeper", "type": "tmpfs",
                                   "source": "tmpfs"}));
                let id = rt.id("race");
                let out = rt.run_bundle(&b, &id);
                results.push(out.status);
                rt.run(&["delete", "--force", &id]);
                n += 1;
            }
            stop.store(true, Ordering::Relaxed);
            let swaps = swapper.join().unwrap();
            assert!(swaps > 0, "the swapper never ran");
        });
        let left = entries(&sub);
        let mounts = host_mounts_under(victim.path());
        if rt.is_runc() && !left.is_empty() {
            // Differs on purpose: runc 1.1.5 can be raced into creating the
            // mount point on the host (CVE-2024-45310, fixed in 1.1.14).
            eprintln!("[runc] created through the swapped symlink: {left:?}");
        } else {
            assert!(
                left.is_empty(),
                "[{}] created outside the rootfs: {left:?} (runs: {results:?})",
                rt.name
            );
        }
        assert!(mounts.is_empty(), "[{}] host mounts: {mounts:?}", rt.name);
        assert_eq!(entries(victim.path()), ["sub"], "[{}]", rt.name);
    });
}

// ---------------------------------------------------------------------------
// /dev itself a symlink to a host directory
// ---------------------------------------------------------------------------

#[test]
fn dev_symlink_to_a_host_dir_creates_nothing_there() {
    each(|rt| {
        for with_tmpfs in [true, false] {
            let victim = TempDir::new("devvictim");
            fs::write(victim.path().join("keep"), "keep").unwrap();
            let mut b = Bundle::new(&["sleep", "1000"]);
            b.process()["terminal"] = json!(false);
            if !with_tmpfs {
                b.config["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|m| m["destination"] != "/dev");
            }
            fs::remove_dir(b.rootfs().join("dev")).unwrap();
            symlink(victim.path(), b.rootfs().join("dev")).unwrap();
            let id = rt.id("devlink");
            let created = rt.create(&b, &id);
            if created.status == 0 {
                rt.run(&["start", &id]).ok();
                // exec with a tty: the runtime makes a pty through /dev/ptmx.
                let sock = ConsoleSocket::new(&rt.scratch());
                exec_in(
                    rt,
                    &id,
                    &["--tty", "--detach", "--console-socket", sock.path_str()],
                    &["sh", "-c", "echo x >/dev/created-by-exec 2>/dev/null; true"],
                );
                exec_in(rt, &id, &[], &["sh", "-c", "echo x >/dev/created-by-exec2"]);
                rt.run(&["delete", "--force", &id]).ok();
            }
            let left = entries(victim.path());
            let mounts = host_mounts_under(victim.path());
            if rt.is_runc() {
                // Differs on purpose: runc 1.1.5 writes /dev symlinks
                // (fd, stdin, …, ptmx) through the image's /dev symlink.
                continue;
            }
            assert_eq!(
                left,
                ["keep"],
                "[{}] tmpfs={with_tmpfs}: created or removed on the host",
                rt.name
            );
            assert!(mounts.is_empty(), "[{}] {mounts:?}", rt.name);
            assert_nothing_left(rt, &b, &id);
        }
    });
}

// ---------------------------------------------------------------------------
// CVE-2022-29162: inheritable capabilities on exec
// ---------------------------------------------------------------------------

#[test]
fn exec_as_non_root_gets_no_inheritable_caps() {
    // /opt/busybox carries file capabilities in its inheritable set: a
    // process with a non-empty CapInh gains them when it execs the file.
    each(|rt| {
        let mut b = Bundle::new(&["sleep", "1000"]);
        docker_caps(&mut b);
        let opt = b.rootfs().join("opt");
        fs::create_dir_all(&opt).unwrap();
        fs::copy(b.rootfs().join("bin/busybox"), opt.join("busybox")).unwrap();
        let st = std::process::Command::new("setcap")
            .arg("cap_net_admin,cap_sys_admin,cap_sys_ptrace+i")
            .arg(opt.join("busybox"))
            .status()
            .expect("setcap");
        assert!(st.success(), "setcap failed");
        let (id, _) = start_container(rt, &b, "capinh");
        let cmd = ["/opt/busybox", "grep", "^Cap", "/proc/self/status"];
        let user = exec_in(rt, &id, &["--user", "1000:1000"], &cmd);
        let root = exec_in(rt, &id, &[], &cmd);
        let with_cap = exec_in(rt, &id, &["--user", "1000", "--cap", "CAP_NET_ADMIN"], &cmd);
        rt.run(&["delete", "--force", &id]).ok();
        // The spec sets inheritable: then (and only then) it is inherited.
        let mut b2 = Bundle::new(&["sleep", "1000"]);
        b2.process()["capabilities"]["inheritable"] = json!(["CAP_KILL"]);
        let (id2, _) = start_container(rt, &b2, "capinh2");
        let set = exec_in(rt, &id2, &[], &["grep", "^Cap", "/proc/self/status"]);
        rt.run(&["delete", "--force", &id2]).ok();
        let u = parse_status(&user.ok().stdout);
        let r = parse_status(&root.ok().stdout);
        let c = parse_status(&with_cap.ok().stdout);
        let s = parse_status(&set.ok().stdout);
        let zero = "0000000000000000";
        for (what, m) in [("non-root", &u), ("root", &r), ("--cap", &c)] {
            assert_eq!(m["CapInh"], zero, "[{}] {what}: {m:?}", rt.name);
            assert_eq!(m["CapAmb"], zero, "[{}] {what}: {m:?}", rt.name);
            // Nothing gained from the file's inheritable set.
            let prm = u64::from_str_radix(&m["CapPrm"], 16).unwrap();
            let gained =
                (1u64 << cap_number("CAP_SYS_ADMIN")) | (1u64 << cap_number("CAP_SYS_PTRACE"));
            assert_eq!(prm & gained, 0, "[{}] {what}: {m:?}", rt.name);
        }
        assert_eq!(u["CapPrm"], zero, "[{}] {u:?}", rt.name);
        assert_eq!(u["CapEff"], zero, "[{}] {u:?}", rt.name);
        // Bounding is exactly the spec's.
        assert_eq!(u["CapBnd"], cap_mask(&DOCKER_CAPS), "[{}]", rt.name);
        assert_eq!(s["CapInh"], cap_mask(&["CAP_KILL"]), "[{}] {s:?}", rt.name);
        assert_nothing_left(rt, &b, &id);
        (u, r, c, s)
    });
}

// ---------------------------------------------------------------------------
// --user names looked up through an image symlink
// ---------------------------------------------------------------------------

#[test]
fn exec_user_name_is_never_looked_up_on_the_host() {
    // The image's /etc/passwd and /etc/group are symlinks to host files that
    // name a user the container does not have: `exec --user name` must not
    // read them (runc 1.1.5 takes numbers only and refuses any name).
    each(|rt| {
        let host = TempDir::new("hostpasswd");
        fs::write(
            host.path().join("passwd"),
            "hostonly:x:4321:4321::/:/bin/sh\n",
        )
        .unwrap();
        fs::write(host.path().join("group"), "hostgrp:x:4321:\n").unwrap();
        let b = Bundle::new(&["sleep", "1000"]);
        for f in ["passwd", "group"] {
            let p = b.rootfs().join("etc").join(f);
            fs::remove_file(&p).unwrap();
            symlink(host.path().join(f), &p).unwrap();
        }
        let (id, _) = start_container(rt, &b, "pwlink");
        let by_name = exec_in(rt, &id, &["--user", "hostonly"], &["id", "-u"]);
        let by_group = exec_in(rt, &id, &["--user", "1000:hostgrp"], &["id", "-g"]);
        rt.run(&["delete", "--force", &id]).ok();
        for out in [&by_name, &by_group] {
            assert_ne!(out.status, 0, "[{}] {out:?}", rt.name);
            assert!(!out.stdout.contains("4321"), "[{}] {out:?}", rt.name);
        }
        assert_nothing_left(rt, &b, &id);
    });
}
