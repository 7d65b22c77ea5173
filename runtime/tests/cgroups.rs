//! cgroups: limits applied at create and enforced, `update`, `pause`/`resume`,
//! `ps`, `events`, and nothing left after `delete`. On the host's real
//! cgroups (v1 here; hugetlb on the hybrid v2 hierarchy), with runc as the
//! oracle wherever runc supports the scenario.
//!
//! Every container gets the absolute cgroupsPath `/<id>`, so the host side
//! is `/sys/fs/cgroup/<controller>/<id>` and tests never share a cgroup.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The host directory of the container's cgroup in controller `ctrl`.
fn host_cg(ctrl: &str, id: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup").join(ctrl).join(id)
}

fn read_host(ctrl: &str, id: &str, file: &str) -> String {
    let p = host_cg(ctrl, id).join(file);
    fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// `key value` lines (cpu.stat, memory.oom_control, pids.events …).
fn keyed(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {text:?}"))
}

/// A bundle whose cgroup is `/<id>`, with `resources`, the cgroup
/// hierarchies mounted read-only at /sys/fs/cgroup and a /shared directory.
fn bundle(id: &str, script: &str, resources: Value) -> Bundle {
    let mut b = Bundle::sh(script);
    b.shared();
    b.add_mount(json!({"destination": "/sys/fs/cgroup", "type": "cgroup",
                       "source": "cgroup",
                       "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}));
    b.linux()["cgroupsPath"] = json!(format!("/{id}"));
    b.linux()["resources"] = resources;
    b
}

fn run_detached(rt: &Runtime, b: &Bundle, id: &str) -> Out {
    b.write();
    rt.run(&["run", "--detach", "-b", b.path_str(), id])
}

fn finish(rt: &Runtime, b: &Bundle, id: &str) {
    rt.run(&["delete", "--force", id]).ok();
    assert_nothing_left(rt, b, id);
}

/// `<runtime> --root … args…` with `input` on stdin.
fn run_with_stdin(rt: &Runtime, args: &[&str], input: &str) -> Out {
    let mut child = Command::new(&rt.bin)
        .arg("--root")
        .arg(rt.root())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An `events` stream running in the background; its lines arrive on `rx`.
struct Events {
    child: Child,
    rx: mpsc::Receiver<String>,
}

impl Events {
    fn start(rt: &Runtime, id: &str, interval: &str) -> Events {
        let mut child = Command::new(&rt.bin)
            .arg("--root")
            .arg(rt.root())
            .args(["events", "--interval", interval, id])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Events { child, rx }
    }

    /// The next event whose type is `ty`, within `timeout`.
    fn next_of(&self, ty: &str, timeout: Duration) -> Option<Value> {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let line = self.rx.recv_timeout(left).ok()?;
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("event is not JSON ({e}): {line:?}"));
            if v["type"] == ty {
                return Some(v);
            }
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stats(rt: &Runtime, id: &str) -> Value {
    let out = rt.run(&["events", "--stats", id]);
    out.ok();
    let v: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("[{}] stats not JSON ({e}): {:?}", rt.name, out.stdout));
    assert_eq!(v["type"], "stats", "[{}] {v}", rt.name);
    assert_eq!(v["id"], id, "[{}] {v}", rt.name);
    v["data"].clone()
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn memory_limit_is_visible_and_a_hog_is_oom_killed_and_reported() {
    each(|rt| {
        let id = rt.id("cg-oom");
        // dd's 64 MiB buffer cannot fit in 32 MiB (no swap: memsw = limit).
        let script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /shared/limit; \
                      while [ ! -e /shared/go ]; do sleep 0.05; done; \
                      dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; \
                      echo $? > /shared/dd; sleep 1000";
        let b = bundle(
            &id,
            script,
            json!({"memory": {"limit": 33554432, "swap": 33554432}}),
        );
        run_detached(rt, &b, &id).ok();
        let shared = b.path().join("shared");
        let inside = wait_file(&shared.join("limit")).trim().to_string();
        assert_eq!(
            read_host("memory", &id, "memory.limit_in_bytes"),
            "33554432"
        );
        // The stream is up (and its OOM watch registered) once it has
        // printed a stats event.
        let ev = Events::start(rt, &id, "200ms");
        assert!(
            ev.next_of("stats", Duration::from_secs(10)).is_some(),
            "[{}] no stats event",
            rt.name
        );
        fs::write(shared.join("go"), "").unwrap();
        let dd = wait_file(&shared.join("dd")).trim().to_string();
        let oom = ev.next_of("oom", Duration::from_secs(10));
        assert!(oom.is_some(), "[{}] no oom event", rt.name);
        assert_eq!(oom.unwrap()["id"], id.as_str());
        let oom_kills = keyed(&read_host("memory", &id, "memory.oom_control"), "oom_kill");
        drop(ev);
        finish(rt, &b, &id);
        // dd dies of SIGKILL: status 137.
        (inside, dd, oom_kills >= 1)
    });
}

#[test]
fn pids_limit_bounds_a_fork_loop() {
    each(|rt| {
        let id = rt.id("cg-pids");
        // The subshell dies at its first failed fork; `read` is a builtin,
        // so the reports need no fork once the cgroup is full.
        let script = "sh -c 'for i in $(seq 1 50); do sleep 1000 & done' 2>/dev/null; \
                      read cur < /sys/fs/cgroup/pids/pids.current; \
                      read k max < /sys/fs/cgroup/pids/pids.events; \
                      echo \"$cur $max\" > /shared/out; sleep 1000";
        let b = bundle(&id, script, json!({"pids": {"limit": 10}}));
        run_detached(rt, &b, &id).ok();
        let out = wait_file(&b.path().join("shared/out"));
        let mut it = out.split_whitespace();
        let cur: u64 = it.next().unwrap().parse().unwrap();
        let refused: u64 = it.next().unwrap().parse().unwrap();
        assert_eq!(read_host("pids", &id, "pids.max"), "10");
        let host_cur: u64 = read_host("pids", &id, "pids.current").parse().unwrap();
        finish(rt, &b, &id);
        assert!(
            cur <= 10 && host_cur <= 10,
            "[{}] {cur} {host_cur}",
            rt.name
        );
        (cur, refused > 0)
    });
}

#[test]
fn cpu_quota_throttles_a_busy_loop() {
    each(|rt| {
        let id = rt.id("cg-cpu");
        let b = bundle(
            &id,
            "while :; do :; done",
            json!({"cpu": {"quota": 20000, "period": 100000}}),
        );
        run_detached(rt, &b, &id).ok();
        let usage = || -> u64 { read_host("cpuacct", &id, "cpuacct.usage").parse().unwrap() };
        std::thread::sleep(Duration::from_millis(300));
        let (u0, t0) = (usage(), Instant::now());
        std::thread::sleep(Duration::from_millis(1500));
        let (u1, t1) = (usage(), Instant::now());
        let share = (u1 - u0) as f64 / (t1 - t0).as_nanos() as f64;
        let stat = read_host("cpu", &id, "cpu.stat");
        let quota = read_host("cpu", &id, "cpu.cfs_quota_us");
        finish(rt, &b, &id);
        // 20% of one CPU, with slack for accounting at period edges.
        assert!(share < 0.3, "[{}] busy loop got {share:.2} CPUs", rt.name);
        assert!(keyed(&stat, "nr_throttled") > 0, "[{}] {stat}", rt.name);
        quota
    });
}

#[test]
fn pause_freezes_and_resume_thaws() {
    each(|rt| {
        let id = rt.id("cg-pause");
        let b = bundle(
            &id,
            "i=0; while :; do i=$((i+1)); echo $i > /shared/n; sleep 0.02; done",
            json!({}),
        );
        run_detached(rt, &b, &id).ok();
        let n = b.path().join("shared/n");
        let count = || -> u64 {
            let mut v = 0;
            poll(POLL_TIMEOUT, || {
                v = fs::read_to_string(&n)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0);
                v > 0
            });
            v
        };
        count();
        let resume_running = rt.run(&["resume", &id]);
        rt.run(&["pause", &id]).ok();
        let paused = rt.status(&id);
        let listed: Value =
            serde_json::from_str(&rt.run(&["list", "--format", "json"]).stdout).unwrap();
        let listed = listed[0]["status"].clone();
        let freezer = read_host("freezer", &id, "freezer.state");
        let a = count();
        std::thread::sleep(Duration::from_millis(400));
        let frozen = count() == a;
        let pause_twice = rt.run(&["pause", &id]);
        rt.run(&["resume", &id]).ok();
        let resumed = rt.status(&id);
        let c0 = count();
        let moved = poll(Duration::from_secs(5), || count() > c0);
        finish(rt, &b, &id);
        (
            paused,
            listed,
            freezer,
            frozen,
            resumed,
            moved,
            (resume_running.status != 0)
                && contains_ci(&resume_running.stderr, "container not paused"),
            (pause_twice.status != 0) && contains_ci(&pause_twice.stderr, "container not running"),
        )
    });
}

#[test]
fn update_changes_live_limits_and_only_the_given_fields() {
    each(|rt| {
        let id = rt.id("cg-upd");
        let b = bundle(
            &id,
            "sleep 1000",
            json!({"memory": {"limit": 67108864},
                   "cpu": {"quota": 10000, "period": 100000},
                   "pids": {"limit": 50}}),
        );
        run_detached(rt, &b, &id).ok();
        let snap = || {
            (
                read_host("memory", &id, "memory.limit_in_bytes"),
                read_host("cpu", &id, "cpu.cfs_quota_us"),
                read_host("pids", &id, "pids.max"),
            )
        };
        let mut seen = vec![snap()];
        // podman: a partial LinuxResources file, --flag=value form.
        let res = rt.scratch().join(format!("{id}.json"));
        fs::write(&res, r#"{"cpu":{"quota":50000,"period":100000}}"#).unwrap();
        rt.run(&["update", &format!("--resources={}", res.display()), &id])
            .ok();
        seen.push(snap());
        // containerd: the JSON on stdin.
        run_with_stdin(rt, &["update", "-r", "-", &id], r#"{"pids":{"limit":20}}"#).ok();
        seen.push(snap());
        // runc's flags.
        rt.run(&["update", "--memory", "32m", "--cpu-quota", "-1", &id])
            .ok();
        seen.push(snap());
        // Bad values: refused, nothing changes.
        let bad = [
            rt.run(&["update", "--cpuset-cpus", "4096", &id]).status != 0,
            run_with_stdin(rt, &["update", "-r", "-", &id], "{not json").status != 0,
        ];
        seen.push(snap());
        rt.run(&["kill", &id, "KILL"]).ok();
        rt.wait_status(&id, "stopped");
        let stopped = [
            rt.run(&["update", "--memory", "16m", &id]),
            rt.run(&["pause", &id]),
            rt.run(&["resume", &id]),
        ]
        .map(|o| (o.status != 0, o.stderr.contains("container not")));
        finish(rt, &b, &id);
        (seen, bad, stopped)
    });
}

#[test]
fn ps_lists_the_containers_processes() {
    each(|rt| {
        let id = rt.id("cg-ps");
        let b = bundle(
            &id,
            "sleep 1000 & sleep 1000 & echo up > /shared/up; wait",
            json!({}),
        );
        run_detached(rt, &b, &id).ok();
        wait_file(&b.path().join("shared/up"));
        let out = rt.run(&["ps", "--format", "json", &id]);
        out.ok();
        let pids: Vec<i32> = serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("[{}] ps json ({e}): {:?}", rt.name, out.stdout));
        for p in &pids {
            let cg = fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap_or_default();
            assert!(cg.contains(&format!(":/{id}\n")), "[{}] {p}: {cg}", rt.name);
        }
        let table = rt.run(&["ps", &id]);
        table.ok();
        let t = rt.run(&["ps", &id, "-o", "pid,comm"]);
        t.ok();
        let comms: Vec<String> = t.lines()[1..]
            .iter()
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .collect();
        rt.run(&["kill", &id, "KILL"]).ok();
        rt.wait_status(&id, "stopped");
        finish(rt, &b, &id);
        (
            pids.len(),
            table.lines().len(),
            table.lines()[0].contains("PID"),
            comms,
        )
    });
}

#[test]
fn events_stats_numbers_move_with_the_workload() {
    each(|rt| {
        let id = rt.id("cg-stats");
        let b = bundle(
            &id,
            "while [ ! -e /shared/go ]; do sleep 0.05; done; \
             while :; do :; done",
            json!({"memory": {"limit": 67108864}, "pids": {"limit": 30}}),
        );
        run_detached(rt, &b, &id).ok();
        let s0 = stats(rt, &id);
        fs::write(b.path().join("shared/go"), "").unwrap();
        std::thread::sleep(Duration::from_millis(800));
        let s1 = stats(rt, &id);
        let total = |s: &Value| s["cpu"]["usage"]["total"].as_u64().unwrap_or(0);
        let moved = total(&s1) > total(&s0) + 100_000_000;
        let shape = (
            keys(&s1),
            keys(&s1["memory"]["usage"]),
            s1["memory"]["usage"]["limit"].clone(),
            s1["pids"]["limit"].clone(),
            s1["pids"]["current"].as_u64().unwrap_or(0) >= 1,
            s1["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
            s1["cpu"]["usage"]["percpu"].as_array().map(Vec::len),
        );
        rt.run(&["kill", &id, "KILL"]).ok();
        rt.wait_status(&id, "stopped");
        let stopped = rt.run(&["events", "--stats", &id]);
        finish(rt, &b, &id);
        (
            moved,
            shape,
            stopped.status != 0 && contains_ci(&stopped.stderr, "is not running"),
        )
    });
}

/// An `exec`'d process joins the container's cgroup (and so its limits):
/// every controller, `ps` lists it, the pids controller counts it.
#[test]
fn exec_joins_the_cgroup_and_its_limits() {
    each(|rt| {
        let id = rt.id("cg-exec");
        let b = bundle(&id, "sleep 1000", json!({"pids": {"limit": 50}}));
        run_detached(rt, &b, &id).ok();
        let pid = exec_detached(rt, &id, &["sleep", "1000"]);
        let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let joined: Vec<bool> = ["memory", "pids", "cpu", "freezer"]
            .iter()
            .map(|c| {
                cg.lines()
                    .any(|l| l.split(':').nth(1) == Some(c) && l.ends_with(&format!(":/{id}")))
            })
            .collect();
        let ps = rt.run(&["ps", "--format", "json", &id]);
        let listed: Vec<i32> = serde_json::from_str(ps.stdout.trim()).unwrap_or_default();
        let counted = read_host("pids", &id, "pids.current");
        finish(rt, &b, &id);
        // Each runtime on its own, not only the two alike.
        assert_eq!(joined, vec![true; 4], "[{}] {cg}", rt.name);
        assert!(listed.contains(&pid), "[{}] ps: {listed:?}", rt.name);
        (joined, listed.contains(&pid), listed.len(), counted)
    });
}

/// A container may make sub-cgroups of its own (systemd inside, a nested
/// runtime): `ps` lists the processes in them, and `delete --force` kills
/// them and removes the sub-cgroups with the container's cgroup.
#[test]
fn sub_cgroups_are_listed_killed_and_removed() {
    if !host_cg("pids", "").join("tasks").exists() {
        eprintln!("no cgroup v1 pids hierarchy: skipped");
        return;
    }
    each(|rt| {
        let id = rt.id("cg-sub");
        let b = bundle(&id, "sleep 1000", json!({}));
        run_detached(rt, &b, &id).ok();
        let pid = exec_detached(rt, &id, &["sleep", "999"]);
        for ctrl in ["pids", "memory", "devices", "freezer"] {
            let sub = host_cg(ctrl, &id).join("sub/inner");
            fs::create_dir_all(&sub).unwrap();
            fs::write(sub.join("cgroup.procs"), pid.to_string()).unwrap();
        }
        let ps = rt.run(&["ps", "--format", "json", &id]);
        let listed: Vec<i32> = serde_json::from_str(ps.stdout.trim()).unwrap_or_default();
        rt.run(&["delete", "--force", &id]).ok();
        let killed = poll(Duration::from_secs(5), || !pid_alive(pid));
        let gone: Vec<bool> = ["pids", "memory", "devices", "freezer"]
            .iter()
            .map(|c| !host_cg(c, &id).exists())
            .collect();
        finish(rt, &b, &id);
        assert!(listed.contains(&pid), "[{}] ps: {listed:?}", rt.name);
        assert!(killed, "[{}] pid {pid} in a sub-cgroup survived", rt.name);
        assert_eq!(gone, vec![true; 4], "[{}] cgroups left", rt.name);
        (listed.contains(&pid), killed, gone)
    });
}

/// Device rules apply in the order given: a later deny narrows an earlier
/// allow (v1 devices controller here).
#[test]
fn device_rules_in_order() {
    each(|rt| {
        let id = rt.id("cg-dev");
        let mut b = bundle(
            &id,
            "(exec 3</dev/fuse) 2>/dev/null && echo r-ok; \
             (exec 4>/dev/fuse) 2>/dev/null && echo w-ok; \
             (exec 5</dev/null) 2>/dev/null && echo null-ok; echo end",
            json!({"devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
                {"allow": false, "type": "c", "major": 10, "minor": 229, "access": "w"}
            ]}),
        );
        b.linux()["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10,
                                        "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}]);
        let out = rt.run_bundle(&b, &id);
        out.ok();
        rt.run(&["delete", "--force", &id]).ok();
        assert_nothing_left(rt, &b, &id);
        assert_eq!(out.stdout, "r-ok\nnull-ok\nend\n", "[{}]", rt.name);
        out.stdout
    });
}

#[test]
fn bad_resources_fail_create_and_leave_nothing() {
    each(|rt| {
        let mut seen = Vec::new();
        for res in [
            json!({"memory": {"limit": -5}}),
            json!({"cpu": {"cpus": "4096"}}),
            json!({"unified": {"memory.high": "1000000"}}),
        ] {
            let id = rt.id("cg-bad");
            let b = bundle(&id, "true", res);
            let out = rt.create(&b, &id);
            seen.push(out.status != 0);
            assert_nothing_left(rt, &b, &id);
        }
        seen
    });
}

#[test]
fn systemd_cgroup_without_systemd_is_a_clear_error() {
    if Path::new("/run/systemd/system").exists() {
        return;
    }
    each(|rt| {
        let id = rt.id("cg-sd");
        let mut b = Bundle::sh("true");
        b.linux()["cgroupsPath"] = json!(format!("system.slice:test:{id}"));
        b.write();
        let out = rt.run_full(
            &["--systemd-cgroup"],
            &["create", "-b", b.path_str(), &id],
            COMMAND_TIMEOUT,
        );
        assert_nothing_left(rt, &b, &id);
        (out.status != 0, contains_ci(&out.stderr, "systemd"))
    });
}

/// On this hybrid host hugetlb is a v2 controller: runc cannot set such a
/// limit (it only looks at v1), oxrun sets it through the v2 hierarchy.
#[test]
fn hugetlb_limit_on_the_hybrid_v2_hierarchy() {
    let uni = Path::new("/sys/fs/cgroup/unified");
    let on_v2 = fs::read_to_string(uni.join("cgroup.controllers"))
        .map(|c| c.split_whitespace().any(|x| x == "hugetlb"))
        .unwrap_or(false);
    if !on_v2 || !runtime_names().iter().any(|n| n == "oxrun") {
        return;
    }
    let rt = Runtime::new("oxrun");
    let id = rt.id("cg-huge");
    let b = bundle(
        &id,
        "sleep 1000",
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
               "memory": {"limit": 67108864}}),
    );
    run_detached(&rt, &b, &id).ok();
    let max = fs::read_to_string(uni.join(&id).join("hugetlb.2MB.max")).unwrap();
    assert_eq!(max.trim(), "4194304");
    assert_eq!(
        read_host("memory", &id, "memory.limit_in_bytes"),
        "67108864"
    );
    let s = stats(&rt, &id);
    assert!(s["hugetlb"]["2MB"].is_object(), "{s}");
    finish(&rt, &b, &id);
    assert!(!uni.join(&id).exists());
}

/// Besides the controllers, the container joins the named `name=systemd`
/// hierarchy, as runc does: init and `exec`'d processes are in `/<id>`
/// there, the `cgroup` mount inside shows that cgroup (not the hierarchy's
/// root, with every other cgroup and `release_agent`), and `delete` removes
/// it (`finish` checks). Found under podman: oxrun left its containers in
/// the caller's cgroup of that hierarchy.
#[test]
fn the_named_systemd_hierarchy_is_joined_too() {
    let named = Path::new("/sys/fs/cgroup/systemd");
    if !named.join("cgroup.procs").exists() {
        eprintln!("no name=systemd hierarchy: skipped");
        return;
    }
    each(|rt| {
        let id = rt.id("cg-named");
        let script = "{ cat /proc/self/cgroup; ls /sys/fs/cgroup/systemd; } > /shared/t; \
                      mv /shared/t /shared/seen; sleep 1000";
        let b = bundle(&id, script, json!({}));
        run_detached(rt, &b, &id).ok();
        let seen = wait_file(&b.path().join("shared/seen"));
        let pid = exec_detached(rt, &id, &["sleep", "1000"]);
        let exec_cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let host_dir = named.join(&id).is_dir();
        finish(rt, &b, &id);
        let in_own = |text: &str| {
            text.lines()
                .find(|l| l.contains(":name=systemd:"))
                .map(|l| l.ends_with(&format!(":/{id}")))
        };
        let v = (
            in_own(&seen),
            seen.lines().any(|l| l == "release_agent"),
            in_own(&exec_cg),
            host_dir,
        );
        assert_eq!(
            v,
            (Some(true), false, Some(true), true),
            "[{}] {seen}",
            rt.name
        );
        v
    });
}

#[test]
fn delete_removes_every_cgroup_directory() {
    each(|rt| {
        let id = rt.id("cg-del");
        let b = bundle(
            &id,
            "sleep 1000",
            json!({"memory": {"limit": 67108864}, "pids": {"limit": 20},
                   "cpu": {"shares": 512}}),
        );
        run_detached(rt, &b, &id).ok();
        let before = cgroups_named(&id).len();
        rt.run(&["kill", &id, "KILL"]).ok();
        rt.wait_status(&id, "stopped");
        rt.run(&["delete", &id]).ok();
        let after = cgroups_named(&id);
        assert_nothing_left(rt, &b, &id);
        (before > 5, after)
    });
}
