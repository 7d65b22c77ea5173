//! The check groups: each compares one part of config.json with what the
//! process sees. Check names are `group/what` so the runner can show them.

use crate::fsinfo::{self, mount_at, mountinfo, node, status_field};
use crate::report::Report;
use crate::sys;
use serde_json::Value;
use std::collections::BTreeSet;

pub fn run(group: &str, c: &Value, host: &Value, r: &mut Report) {
    match group {
        "ns" => namespaces(c, host, r),
        "hostname" => hostname(c, r),
        "mounts" => mounts(c, host, r),
        "default-fs" => default_fs(r),
        "root" => root(c, r),
        "devices" => devices(c, r),
        "default-devices" => default_devices(c, r),
        "masked" => masked(c, r),
        "readonly" => readonly(c, r),
        "user" => user(c, r),
        "process" => process(c, r),
        "caps" => caps(c, r),
        "rlimits" => rlimits(c, r),
        "sysctl" => sysctl(c, r),
        "cgroups" => cgroups(c, r),
        "seccomp" => seccomp(c, r),
        "personality" => personality(c, r),
        "sched" => sched(c, r),
        "asserts" => asserts(host, r),
        other => r.fail(&format!("{other}/unknown"), "unknown check group"),
    }
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Spec namespace type -> /proc/self/ns name.
const NAMESPACES: [(&str, &str); 8] = [
    ("pid", "pid"),
    ("network", "net"),
    ("mount", "mnt"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("user", "user"),
    ("cgroup", "cgroup"),
    ("time", "time"),
];

fn namespaces(c: &Value, host: &Value, r: &mut Report) {
    let listed = c["linux"]["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (typ, proc_name) in NAMESPACES {
        let name = format!("ns/{typ}");
        let Ok(mine) = fsinfo::ns_inode(&format!("/proc/self/ns/{proc_name}")) else {
            r.skip(&name, format!("/proc/self/ns/{proc_name} not present"));
            continue;
        };
        let Some(host_ino) = host["ns"][proc_name].as_u64() else {
            r.skip(&name, "host inode not given");
            continue;
        };
        match listed.iter().find(|n| n["type"] == typ) {
            None => r.ok(
                &name,
                mine == host_ino,
                format!("not in config: expected host's {host_ino}, found {mine}"),
            ),
            Some(n) => match n["path"].as_str() {
                Some(p) => {
                    let want = host["ns_paths"][p].as_u64().unwrap_or(0);
                    r.ok(
                        &name,
                        mine == want,
                        format!("path {p}: expected inode {want}, found {mine}"),
                    );
                }
                None => r.ok(
                    &name,
                    mine != host_ino,
                    format!(
                        "new namespace: expected inode other than host's {host_ino}, found {mine}"
                    ),
                ),
            },
        }
    }
    // ID mappings of a new user namespace.
    for (key, file) in [("uidMappings", "uid_map"), ("gidMappings", "gid_map")] {
        let Some(maps) = c["linux"][key].as_array() else {
            continue;
        };
        let want: BTreeSet<(u64, u64, u64)> = maps
            .iter()
            .map(|m| {
                (
                    m["containerID"].as_u64().unwrap_or(0),
                    m["hostID"].as_u64().unwrap_or(0),
                    m["size"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        let text = std::fs::read_to_string(format!("/proc/self/{file}")).unwrap_or_default();
        let got: BTreeSet<(u64, u64, u64)> = text
            .lines()
            .filter_map(|l| {
                let v: Vec<u64> = l
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                (v.len() == 3).then(|| (v[0], v[1], v[2]))
            })
            .collect();
        r.eq(&format!("ns/{file}"), got, want);
    }
}

fn hostname(c: &Value, r: &mut Report) {
    let (node, domain) = sys::uname();
    match c["hostname"].as_str() {
        Some(h) => r.eq("hostname/hostname", node.as_str(), h),
        None => r.skip("hostname/hostname", "hostname not set in config"),
    }
    match c["domainname"].as_str() {
        Some(d) => r.eq("hostname/domainname", domain.as_str(), d),
        None => r.skip("hostname/domainname", "domainname not set in config"),
    }
}

/// Mount flags whose presence the per-mount options show, with their opposites.
const FLAG_OPTS: [(&str, &str, &str); 6] = [
    ("ro", "ro", "rw"),
    ("rw", "rw", "ro"),
    ("nosuid", "nosuid", ""),
    ("nodev", "nodev", ""),
    ("noexec", "noexec", ""),
    ("noatime", "noatime", ""),
];

fn mounts(c: &Value, host: &Value, r: &mut Report) {
    let mi = mountinfo();
    for m in c["mounts"].as_array().cloned().unwrap_or_default() {
        let dest = m["destination"].as_str().unwrap_or("");
        let name = format!("mounts{dest}");
        let typ = m["type"].as_str().unwrap_or("");
        let opts = strs(&m["options"]);
        let Some(found) = mount_at(&mi, dest) else {
            r.fail(&name, format!("no mount at {dest}"));
            continue;
        };
        let bind = typ == "bind" || opts.iter().any(|o| o == "bind" || o == "rbind");
        let mut problems = Vec::new();
        if !bind {
            // A v1 "cgroup" mount is a tmpfs holding one mount per controller.
            let ok = match typ {
                "cgroup" => ["cgroup", "cgroup2", "tmpfs"].contains(&found.fstype.as_str()),
                "" => true,
                t => found.fstype == t,
            };
            if !ok {
                problems.push(format!("type: expected {typ}, found {}", found.fstype));
            }
        } else if let Some(id) = host["binds"][dest].as_array() {
            // The bound object is the host's source: same device and inode.
            use std::os::unix::fs::MetadataExt;
            let want = (id[0].as_u64().unwrap_or(0), id[1].as_u64().unwrap_or(0));
            match std::fs::metadata(dest) {
                Ok(md) if (md.dev(), md.ino()) == want => {}
                Ok(md) => problems.push(format!(
                    "bind source: expected dev/ino {want:?}, found {:?}",
                    (md.dev(), md.ino())
                )),
                Err(e) => problems.push(format!("stat {dest}: {e}")),
            }
        }
        // A v1 cgroup mount's flags are those of its controller mounts (the
        // tmpfs holding them is the runtime's own scaffolding).
        let prefix = format!("{}/", dest.trim_end_matches('/'));
        let controllers: Vec<&fsinfo::MountInfo> = mi
            .iter()
            .filter(|m| m.fstype == "cgroup" && m.mount_point.starts_with(&prefix))
            .collect();
        let targets = if typ == "cgroup" && found.fstype == "tmpfs" && !controllers.is_empty() {
            controllers
        } else {
            vec![found]
        };
        for o in &opts {
            if let Some((_, flag, opposite)) = FLAG_OPTS.iter().find(|(k, _, _)| k == o) {
                for t in &targets {
                    if !t.has_opt(flag) || (!opposite.is_empty() && t.has_opt(opposite)) {
                        problems.push(format!("option {o}: {} has {:?}", t.mount_point, t.opts));
                    }
                }
            }
            let want_prop = match o.as_str() {
                "private" | "rprivate" => Some("private"),
                "shared" | "rshared" => Some("shared"),
                "slave" | "rslave" => Some("slave"),
                "unbindable" | "runbindable" => Some("unbindable"),
                _ => None,
            };
            if let Some(p) = want_prop {
                if found.propagation() != p {
                    problems.push(format!(
                        "propagation {o}: found {} ({:?})",
                        found.propagation(),
                        found.optional
                    ));
                }
            }
            // tmpfs/devpts data options that the kernel shows back in octal.
            if let Some((k, v)) = o.split_once('=') {
                if ["mode", "ptmxmode", "uid", "gid"].contains(&k) && !bind {
                    let parse = |s: &str| {
                        if k.ends_with("mode") {
                            u64::from_str_radix(s, 8).ok()
                        } else {
                            s.parse().ok()
                        }
                    };
                    let want = parse(v);
                    let got = found
                        .super_opts
                        .iter()
                        .find_map(|so| so.strip_prefix(&format!("{k}=")))
                        .and_then(parse);
                    // Absent from the superblock options means the default, which
                    // the kernel omits: only a different value is a failure.
                    if got.is_some() && got != want {
                        problems.push(format!("option {o}: superblock has {:?}", found.super_opts));
                    }
                }
            }
        }
        if problems.is_empty() {
            r.pass(&name, format!("{} {:?}", found.fstype, found.opts));
        } else {
            r.fail(&name, problems.join("; "));
        }
    }
    // rootfsPropagation applies to the container's /.
    if let Some(p) = c["linux"]["rootfsPropagation"].as_str() {
        let want = match p {
            "shared" | "rshared" => "shared",
            "slave" | "rslave" => "slave",
            "unbindable" | "runbindable" => "unbindable",
            _ => "private",
        };
        match mount_at(&mi, "/") {
            Some(m) => r.eq("mounts/rootfsPropagation", m.propagation(), want),
            None => r.fail("mounts/rootfsPropagation", "no mount at /"),
        }
    }
}

/// The filesystems the spec says every Linux container should have.
fn default_fs(r: &mut Report) {
    let mi = mountinfo();
    for (path, typ) in [
        ("/proc", "proc"),
        ("/sys", "sysfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
    ] {
        let name = format!("default-fs{path}");
        match mount_at(&mi, path) {
            Some(m) => r.eq(&name, m.fstype.as_str(), typ),
            None => r.fail(&name, format!("no {typ} mounted at {path}")),
        }
    }
}

fn root(c: &Value, r: &mut Report) {
    let want_ro = c["root"]["readonly"].as_bool().unwrap_or(false);
    let mi = mountinfo();
    match mount_at(&mi, "/") {
        Some(m) => r.eq("root/readonly-flag", m.has_opt("ro"), want_ro),
        None => r.fail("root/readonly-flag", "no mount at /"),
    }
    let e = sys::open_errno("/.oci-rw-probe", libc::O_WRONLY | libc::O_CREAT);
    let _ = std::fs::remove_file("/.oci-rw-probe");
    if want_ro {
        r.eq("root/write", e, libc::EROFS);
    } else {
        r.eq("root/write", e, 0);
    }
}

fn devices(c: &Value, r: &mut Report) {
    for d in c["linux"]["devices"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let path = d["path"].as_str().unwrap_or("");
        let name = format!("devices{path}");
        let n = match node(path) {
            Ok(n) => n,
            Err(e) => {
                r.fail(&name, format!("stat: {e}"));
                continue;
            }
        };
        let typ = d["type"].as_str().unwrap_or("");
        // "u" is a synonym of "c" in the spec.
        let want_kind = if typ == "u" {
            'c'
        } else {
            typ.chars().next().unwrap_or('?')
        };
        let mut problems = Vec::new();
        if n.kind != want_kind {
            problems.push(format!("type: expected {want_kind}, found {}", n.kind));
        }
        if want_kind != 'p' {
            let want = (
                d["major"].as_u64().unwrap_or(0),
                d["minor"].as_u64().unwrap_or(0),
            );
            if (n.major, n.minor) != want {
                problems.push(format!(
                    "number: expected {want:?}, found {:?}",
                    (n.major, n.minor)
                ));
            }
        }
        if let Some(m) = d["fileMode"].as_u64() {
            if u64::from(n.perm & 0o777) != m & 0o777 {
                problems.push(format!(
                    "mode: expected {:o}, found {:o}",
                    m & 0o777,
                    n.perm & 0o777
                ));
            }
        }
        if let Some(u) = d["uid"].as_u64() {
            if u64::from(n.uid) != u {
                problems.push(format!("uid: expected {u}, found {}", n.uid));
            }
        }
        if let Some(g) = d["gid"].as_u64() {
            if u64::from(n.gid) != g {
                problems.push(format!("gid: expected {g}, found {}", n.gid));
            }
        }
        if problems.is_empty() {
            r.pass(&name, format!("{n:?}"));
        } else {
            r.fail(&name, problems.join("; "));
        }
    }
}

/// The spec's default devices and /dev symlinks.
fn default_devices(c: &Value, r: &mut Report) {
    for (path, major, minor) in [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ] {
        let name = format!("default-devices{path}");
        match node(path) {
            Ok(n) => r.ok(
                &name,
                n.kind == 'c' && (n.major, n.minor) == (major, minor),
                format!(
                    "expected c {major}:{minor}, found {} {}:{}",
                    n.kind, n.major, n.minor
                ),
            ),
            Err(e) => r.fail(&name, format!("stat: {e}")),
        }
    }
    // /dev/ptmx: a symlink to pts/ptmx or a bind of it; either way it must
    // reach the container's own devpts ptmx.
    match (
        std::fs::metadata("/dev/ptmx"),
        std::fs::metadata("/dev/pts/ptmx"),
    ) {
        (Ok(a), Ok(b)) => {
            use std::os::unix::fs::MetadataExt;
            r.ok(
                "default-devices/ptmx",
                (a.dev(), a.ino()) == (b.dev(), b.ino()),
                "/dev/ptmx is not /dev/pts/ptmx",
            );
        }
        (a, b) => r.fail(
            "default-devices/ptmx",
            format!("stat: {:?} {:?}", a.err(), b.err()),
        ),
    }
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        let got = std::fs::read_link(link)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|e| format!("<{e}>"));
        r.eq(&format!("default-devices{link}"), got.as_str(), target);
    }
    if c["process"]["terminal"].as_bool() == Some(true) {
        match node("/dev/console") {
            Ok(n) => r.ok(
                "default-devices/console",
                n.kind == 'c' || n.kind == 'l',
                format!("/dev/console is {n:?}"),
            ),
            Err(e) => r.fail("default-devices/console", format!("stat: {e}")),
        }
    }
}

fn masked(c: &Value, r: &mut Report) {
    for p in strs(&c["linux"]["maskedPaths"]) {
        let name = format!("masked{p}");
        match node(&p) {
            Err(_) => r.pass(&name, "absent: nothing to mask"),
            Ok(n) if n.kind == 'd' => {
                let entries = std::fs::read_dir(&p).map(|d| d.count()).unwrap_or(0);
                r.ok(
                    &name,
                    entries == 0,
                    format!("directory has {entries} entries"),
                );
            }
            Ok(n) => {
                let content = std::fs::read(&p).map(|v| v.len());
                let devnull = n.kind == 'c' && (n.major, n.minor) == (1, 3);
                r.ok(
                    &name,
                    devnull || matches!(content, Ok(0)),
                    format!("not masked: {n:?}, read gives {content:?}"),
                );
            }
        }
    }
}

fn readonly(c: &Value, r: &mut Report) {
    let mi = mountinfo();
    for p in strs(&c["linux"]["readonlyPaths"]) {
        let name = format!("readonly{p}");
        match node(&p) {
            Err(_) => r.pass(&name, "absent"),
            Ok(n) if n.kind == 'd' => match mount_at(&mi, &p) {
                Some(m) => r.ok(
                    &name,
                    m.has_opt("ro"),
                    format!("mount options {:?}", m.opts),
                ),
                None => r.fail(&name, "no read-only mount at this path"),
            },
            Ok(_) => {
                let e = sys::open_errno(&p, libc::O_WRONLY);
                r.eq(&name, e, libc::EROFS);
            }
        }
    }
}

fn user(c: &Value, r: &mut Report) {
    let u = &c["process"]["user"];
    let (uid, euid, gid, egid) = sys::ids();
    let want_uid = u["uid"].as_u64().unwrap_or(0) as u32;
    let want_gid = u["gid"].as_u64().unwrap_or(0) as u32;
    r.eq("user/uid", (uid, euid), (want_uid, want_uid));
    r.eq("user/gid", (gid, egid), (want_gid, want_gid));
    let groups: BTreeSet<u64> = status_field("Groups")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|g| g.parse().ok())
        .collect();
    let want: BTreeSet<u64> = u["additionalGids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    r.eq("user/additionalGids", groups, want);
    match u["umask"].as_u64() {
        Some(m) => {
            let got = status_field("Umask").and_then(|s| u64::from_str_radix(&s, 8).ok());
            r.eq("user/umask", got, Some(m));
        }
        None => r.skip("user/umask", "umask not set in config"),
    }
}

fn process(c: &Value, r: &mut Report) {
    let p = &c["process"];
    let cwd = std::env::current_dir()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    r.eq(
        "process/cwd",
        cwd.as_str(),
        p["cwd"].as_str().unwrap_or("/"),
    );
    let env: BTreeSet<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let missing: Vec<String> = strs(&p["env"])
        .into_iter()
        .filter(|e| !env.contains(e))
        .collect();
    r.ok(
        "process/env",
        missing.is_empty(),
        format!("missing from environment: {missing:?}"),
    );
    let args: Vec<String> = std::env::args().collect();
    r.eq("process/args", args, strs(&p["args"]));
    let nnp = status_field("NoNewPrivs").unwrap_or_default();
    let want_nnp = if p["noNewPrivileges"].as_bool() == Some(true) {
        "1"
    } else {
        "0"
    };
    r.eq("process/noNewPrivileges", nnp.as_str(), want_nnp);
    match p["oomScoreAdj"].as_i64() {
        Some(v) => {
            let got = std::fs::read_to_string("/proc/self/oom_score_adj")
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok());
            r.eq("process/oomScoreAdj", got, Some(v));
        }
        None => r.skip("process/oomScoreAdj", "oomScoreAdj not set in config"),
    }
}

const CAPS: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

fn cap_names(mask: u64) -> BTreeSet<String> {
    (0..64)
        .filter(|b| mask & (1u64 << b) != 0)
        .map(|b| match CAPS.get(b) {
            Some(n) => format!("CAP_{n}"),
            None => format!("CAP_{b}"),
        })
        .collect()
}

fn caps(c: &Value, r: &mut Report) {
    let sets = &c["process"]["capabilities"];
    for (key, field) in [
        ("bounding", "CapBnd"),
        ("effective", "CapEff"),
        ("permitted", "CapPrm"),
        ("inheritable", "CapInh"),
        ("ambient", "CapAmb"),
    ] {
        let mask = status_field(field)
            .and_then(|s| u64::from_str_radix(&s, 16).ok())
            .unwrap_or(0);
        let want: BTreeSet<String> = strs(&sets[key]).into_iter().collect();
        r.eq(&format!("caps/{key}"), cap_names(mask), want);
    }
}

fn rlimit_resource(name: &str) -> Option<i32> {
    Some(match name {
        "RLIMIT_CPU" => 0,
        "RLIMIT_FSIZE" => 1,
        "RLIMIT_DATA" => 2,
        "RLIMIT_STACK" => 3,
        "RLIMIT_CORE" => 4,
        "RLIMIT_RSS" => 5,
        "RLIMIT_NPROC" => 6,
        "RLIMIT_NOFILE" => 7,
        "RLIMIT_MEMLOCK" => 8,
        "RLIMIT_AS" => 9,
        "RLIMIT_LOCKS" => 10,
        "RLIMIT_SIGPENDING" => 11,
        "RLIMIT_MSGQUEUE" => 12,
        "RLIMIT_NICE" => 13,
        "RLIMIT_RTPRIO" => 14,
        "RLIMIT_RTTIME" => 15,
        _ => return None,
    })
}

fn rlimits(c: &Value, r: &mut Report) {
    for l in c["process"]["rlimits"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let typ = l["type"].as_str().unwrap_or("");
        let name = format!("rlimits/{typ}");
        let Some(res) = rlimit_resource(typ) else {
            r.fail(&name, "unknown rlimit type");
            continue;
        };
        let want = (
            l["soft"].as_u64().unwrap_or(0),
            l["hard"].as_u64().unwrap_or(0),
        );
        r.eq(&name, sys::getrlimit(res), Some(want));
    }
}

fn sysctl(c: &Value, r: &mut Report) {
    let Some(map) = c["linux"]["sysctl"].as_object() else {
        r.skip("sysctl/none", "no sysctl in config");
        return;
    };
    for (k, v) in map {
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        let got = std::fs::read_to_string(&path)
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|e| format!("<{e}>"));
        let want = v
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        r.eq(&format!("sysctl/{k}"), got, want);
    }
}

/// Read the first existing file among candidates, trimmed.
fn read_first(paths: &[&str]) -> Option<String> {
    paths
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
}

fn cgroups(c: &Value, r: &mut Report) {
    let res = &c["linux"]["resources"];
    // Inside the container the runtime mounts its own cgroup at /sys/fs/cgroup.
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory").exists()
        || std::path::Path::new("/sys/fs/cgroup/pids").exists();
    if !v1 && !v2 {
        r.skip(
            "cgroups/fs",
            "no cgroup filesystem mounted in the container",
        );
        return;
    }
    let mut check = |name: &str, want: Option<String>, v1p: &[&str], v2p: &[&str]| {
        let Some(want) = want else { return };
        let got = read_first(if v2 { v2p } else { v1p });
        match got {
            Some(g) => r.eq(&format!("cgroups/{name}"), g, want),
            None => r.fail(
                &format!("cgroups/{name}"),
                format!("no file among {:?}", if v2 { v2p } else { v1p }),
            ),
        }
    };
    let mem = &res["memory"];
    check(
        "memory.limit",
        mem["limit"].as_i64().map(|v| v.to_string()),
        &["/sys/fs/cgroup/memory/memory.limit_in_bytes"],
        &["/sys/fs/cgroup/memory.max"],
    );
    check(
        "memory.reservation",
        mem["reservation"].as_i64().map(|v| v.to_string()),
        &["/sys/fs/cgroup/memory/memory.soft_limit_in_bytes"],
        &["/sys/fs/cgroup/memory.low"],
    );
    check(
        "pids.limit",
        res["pids"]["limit"]
            .as_i64()
            .map(|v| if v < 0 { "max".into() } else { v.to_string() }),
        &["/sys/fs/cgroup/pids/pids.max"],
        &["/sys/fs/cgroup/pids.max"],
    );
    let cpu = &res["cpu"];
    let shares = cpu["shares"].as_u64();
    check(
        "cpu.shares",
        shares.map(|s| {
            if v2 {
                (1 + ((s.max(2) - 2) * 9999) / 262142).to_string()
            } else {
                s.to_string()
            }
        }),
        &[
            "/sys/fs/cgroup/cpu,cpuacct/cpu.shares",
            "/sys/fs/cgroup/cpu/cpu.shares",
        ],
        &["/sys/fs/cgroup/cpu.weight"],
    );
    if v2 {
        let quota = cpu["quota"].as_i64();
        let period = cpu["period"].as_u64().unwrap_or(100000);
        check(
            "cpu.max",
            quota.map(|q| format!("{q} {period}")),
            &[],
            &["/sys/fs/cgroup/cpu.max"],
        );
    } else {
        check(
            "cpu.quota",
            cpu["quota"].as_i64().map(|v| v.to_string()),
            &[
                "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us",
                "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
            ],
            &[],
        );
        check(
            "cpu.period",
            cpu["period"].as_u64().map(|v| v.to_string()),
            &[
                "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us",
                "/sys/fs/cgroup/cpu/cpu.cfs_period_us",
            ],
            &[],
        );
    }
    check(
        "cpuset.cpus",
        cpu["cpus"].as_str().map(String::from),
        &["/sys/fs/cgroup/cpuset/cpuset.cpus"],
        &["/sys/fs/cgroup/cpuset.cpus"],
    );
}

fn seccomp(c: &Value, r: &mut Report) {
    let sc = &c["linux"]["seccomp"];
    if sc.is_null() {
        r.skip("seccomp/profile", "no seccomp profile in config");
        return;
    }
    // NoNewPrivs or CAP_SYS_ADMIN is needed to load a filter; "Seccomp: 2" = filter mode.
    r.eq(
        "seccomp/mode",
        status_field("Seccomp").as_deref(),
        Some("2"),
    );
    let mut listed = BTreeSet::new();
    for rule in sc["syscalls"].as_array().cloned().unwrap_or_default() {
        let names = strs(&rule["names"]);
        listed.extend(names.iter().cloned());
        if rule["action"] != "SCMP_ACT_ERRNO" || !rule["args"].is_null() {
            continue;
        }
        let want = rule["errnoRet"].as_i64().unwrap_or(libc::EPERM as i64) as i32;
        for n in names {
            if let Some(got) = sys::probe_syscall(&n) {
                r.eq(&format!("seccomp/{n}"), got, want);
            }
        }
    }
    if sc["defaultAction"] == "SCMP_ACT_ALLOW" && !listed.contains("getppid") {
        r.eq(
            "seccomp/allowed-getppid",
            sys::probe_syscall("getppid"),
            Some(0),
        );
    }
}

fn personality(c: &Value, r: &mut Report) {
    match c["linux"]["personality"]["domain"].as_str() {
        Some(d) => {
            // PER_LINUX32 = 0x0008, PER_LINUX = 0.
            let want = if d == "LINUX32" { 0x0008 } else { 0 };
            r.eq("personality/domain", sys::personality() & 0xff, want);
        }
        None => r.skip("personality/domain", "no personality in config"),
    }
}

/// process.scheduler (policy, nice) and process.ioPriority.
fn sched(c: &Value, r: &mut Report) {
    let p = &c["process"];
    let s = &p["scheduler"];
    if let Some(policy) = s["policy"].as_str() {
        let want = match policy {
            "SCHED_OTHER" => 0,
            "SCHED_FIFO" => 1,
            "SCHED_RR" => 2,
            "SCHED_BATCH" => 3,
            "SCHED_IDLE" => 5,
            "SCHED_DEADLINE" => 6,
            _ => -1,
        };
        r.eq("sched/policy", sys::sched_policy(), want);
    }
    if let Some(n) = s["nice"].as_i64() {
        r.eq("sched/nice", sys::nice(), n as i32);
    }
    let io = &p["ioPriority"];
    if let Some(class) = io["class"].as_str() {
        let class = match class {
            "IOPRIO_CLASS_RT" => 1,
            "IOPRIO_CLASS_BE" => 2,
            "IOPRIO_CLASS_IDLE" => 3,
            _ => 0,
        };
        let want = (class << 13) | io["priority"].as_i64().unwrap_or(0) as i32;
        r.eq("sched/ioPriority", sys::ioprio(), want);
    }
}

/// Ad hoc assertions the runner puts in host.json.
fn asserts(host: &Value, r: &mut Report) {
    for a in host["asserts"].as_array().cloned().unwrap_or_default() {
        let path = a["path"].as_str().unwrap_or("");
        let name = format!("asserts/{}:{path}", a["kind"].as_str().unwrap_or(""));
        match a["kind"].as_str().unwrap_or("") {
            "content" => {
                let got = std::fs::read_to_string(path).unwrap_or_else(|e| format!("<{e}>"));
                r.eq(&name, got.as_str(), a["content"].as_str().unwrap_or(""));
            }
            "write_errno" => {
                let e = sys::open_errno(path, libc::O_WRONLY | libc::O_CREAT);
                r.eq(&name, e as i64, a["errno"].as_i64().unwrap_or(0));
            }
            "read_errno" => {
                let e = sys::open_errno(path, libc::O_RDONLY);
                r.eq(&name, e as i64, a["errno"].as_i64().unwrap_or(0));
            }
            "exists" => r.eq(
                &name,
                node(path).is_ok(),
                a["exists"].as_bool().unwrap_or(true),
            ),
            "fd_count" => {
                // Only the descriptors the spec allows (0-2 plus preserved).
                let fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
                    .map(|d| {
                        d.filter_map(|e| e.ok())
                            .map(|e| e.file_name().to_string_lossy().into_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                // read_dir itself holds one descriptor open.
                let max = a["max"].as_u64().unwrap_or(3) as usize + 1;
                r.ok(&name, fds.len() <= max, format!("open fds: {fds:?}"));
            }
            "cwd_inside" => {
                // glibc's getcwd fails for a directory outside the root
                // ("(unreachable)"): a cwd leaked from the host.
                let cwd = std::env::current_dir();
                r.ok(
                    &name,
                    cwd.is_ok(),
                    format!("cwd is outside the container's root: {cwd:?}"),
                );
            }
            "cgroup_contains" => {
                let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
                let want = a["text"].as_str().unwrap_or("");
                r.ok(
                    &name,
                    text.contains(want),
                    format!("/proc/self/cgroup lacks {want}: {text}"),
                );
            }
            k => r.fail(&name, format!("unknown assert kind {k}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_masks() {
        // CapEff 0x20000420 = KILL (5), NET_BIND_SERVICE (10), AUDIT_WRITE (29).
        let names: Vec<String> = cap_names(0x2000_0420).into_iter().collect();
        assert_eq!(
            names,
            ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        );
        assert!(cap_names(1 << 40).contains("CAP_CHECKPOINT_RESTORE"));
    }

    #[test]
    fn rlimit_names() {
        assert_eq!(rlimit_resource("RLIMIT_NOFILE"), Some(7));
        assert_eq!(rlimit_resource("RLIMIT_NOSUCH"), None);
    }
}
