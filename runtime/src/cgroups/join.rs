//! Joining a v1 cgroup from the inside.
//!
//! Writing a pid to `cgroup.procs` moves a whole thread group, so the kernel
//! write-locks `cgroup_threadgroup_rwsem`, and that waits for an RCU grace
//! period: 5-10 ms, most of a container start. A thread that writes "0" to
//! `tasks` moves only itself and skips that lock. The parent opens the
//! `tasks` files (creating the directories), the forked, single-threaded
//! stage 1 writes "0" to each; init and exec'd processes inherit the cgroup.
//!
//! Besides the controllers, the container joins the named `name=systemd`
//! hierarchy (as runc does, best effort): left in the runtime's own cgroup
//! there, it would count as part of the caller's unit on a systemd v1 host,
//! and the `cgroup` mount inside would show that hierarchy's root.

use super::mount::HostMount;
use super::CgroupError;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// The v1 controllers libcgroups manages (its `CONTROLLERS`): the ones a
/// container is put in.
const CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "hugetlb",
    "memory",
    "pids",
    "perf_event",
    "blkio",
    "net_prio",
    "net_cls",
    "freezer",
];

/// Open `tasks` files of the container's cgroup, one per v1 hierarchy.
pub struct SelfJoin(Vec<File>);

impl SelfJoin {
    /// Moves the calling thread into every hierarchy. Only for a
    /// single-threaded process (a forked child): other threads would stay.
    pub fn join(&self) -> std::io::Result<()> {
        for f in &self.0 {
            (&*f).write_all(b"0")?;
        }
        Ok(())
    }
}

/// The named v1 hierarchy runc puts containers in too (its `NameGroup`).
const NAMED: &str = "name=systemd";

/// Whether a v1 mount's super options name the [`NAMED`] hierarchy.
fn is_named(super_opts: &str) -> bool {
    super_opts.split(',').any(|o| o == NAMED)
}

/// Opens `tasks` under `path` in each v1 hierarchy holding one of
/// [`CONTROLLERS`]; with `create`, makes the directories first (seeding an
/// empty cpuset from its parent, as joining needs). The [`NAMED`] hierarchy,
/// when mounted, is joined too, but best effort: a failure there is skipped
/// (runc ignores it as well).
pub(super) fn prepare(
    mounts: &[HostMount],
    path: &Path,
    create: bool,
) -> Result<SelfJoin, CgroupError> {
    let mut files = Vec::new();
    let mut seen = Vec::new();
    for m in mounts {
        if m.fstype != "cgroup" || seen.contains(&&m.mountpoint) {
            continue;
        }
        let opts: Vec<&str> = m.super_opts.split(',').collect();
        if !opts.iter().any(|o| CONTROLLERS.contains(o)) {
            if is_named(&m.super_opts) {
                let dir = super::under(&m.mountpoint, path);
                let opened = (!create || std::fs::create_dir_all(&dir).is_ok())
                    .then(|| OpenOptions::new().write(true).open(dir.join("tasks")).ok())
                    .flatten();
                if let Some(f) = opened {
                    files.push(f);
                    seen.push(&m.mountpoint);
                }
            }
            continue;
        }
        let dir = super::under(&m.mountpoint, path);
        let io = |what: &'static str| {
            let dir = dir.clone();
            move |source| CgroupError::Io {
                path: dir,
                what,
                source,
            }
        };
        if create {
            if opts.contains(&"cpuset") {
                create_cpuset(&m.mountpoint, path).map_err(io("creating cpuset cgroup"))?;
            } else {
                std::fs::create_dir_all(&dir).map_err(io("creating cgroup"))?;
            }
        }
        let f = OpenOptions::new()
            .write(true)
            .open(dir.join("tasks"))
            .map_err(io("opening tasks"))?;
        files.push(f);
        seen.push(&m.mountpoint);
    }
    Ok(SelfJoin(files))
}

/// Removes the container's cgroup from every v1 hierarchy it joins (the
/// controllers' and [`NAMED`]), without libcgroups' manager: children first
/// (a container may make sub-cgroups), whatever is left in one is killed,
/// and a directory still busy with exiting tasks is retried for a second.
/// Gone already is fine.
pub(super) fn remove(mounts: &[HostMount], path: &Path) -> Result<(), CgroupError> {
    let mut seen = Vec::new();
    let mut res = Ok(());
    for m in mounts {
        if m.fstype != "cgroup" || seen.contains(&&m.mountpoint) {
            continue;
        }
        let opts: Vec<&str> = m.super_opts.split(',').collect();
        if !opts.iter().any(|o| CONTROLLERS.contains(o)) && !is_named(&m.super_opts) {
            continue;
        }
        seen.push(&m.mountpoint);
        let dir = super::under(&m.mountpoint, path);
        if dir == m.mountpoint {
            continue;
        }
        if let Err(source) = remove_tree(&dir) {
            if res.is_ok() {
                res = Err(CgroupError::Io {
                    path: dir,
                    what: "removing cgroup",
                    source,
                });
            }
        }
    }
    res
}

/// The pids in `dir`'s `cgroup.procs` and in those of its sub-cgroups.
pub(super) fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> std::io::Result<()> {
    let procs = std::fs::read_to_string(dir.join("cgroup.procs"))?;
    out.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    for e in std::fs::read_dir(dir)?.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            match collect_pids(&e.path(), out) {
                // A sub-cgroup removed meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                r => r?,
            }
        }
    }
    Ok(())
}

fn remove_tree(dir: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&e.path())?;
        }
    }
    if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let mut tries = 0;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Creates each level of `path` below the cpuset mount, copying
/// `cpuset.cpus`/`cpuset.mems` down where a level has none (a task cannot
/// join an empty cpuset).
fn create_cpuset(mountpoint: &Path, path: &Path) -> std::io::Result<()> {
    let mut dir = PathBuf::from(mountpoint);
    for part in path.components() {
        let part = match part {
            Component::RootDir | Component::CurDir => continue,
            Component::Normal(p) => p,
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "cgroup path leaves its hierarchy",
                ))
            }
        };
        let parent = dir.clone();
        dir.push(part);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if std::fs::read_to_string(dir.join(f))?.trim().is_empty() {
                std::fs::write(dir.join(f), std::fs::read(parent.join(f))?)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::mount;

    /// A nested path whose levels do not exist yet: every level is made
    /// (cpuset seeded), and a forked child joining through `tasks` ends up
    /// in the cgroup in every v1 hierarchy it opened.
    #[test]
    fn self_join_creates_and_joins_nested_v1_cgroup() {
        let v1 = mount::host_cgroup_mounts()
            .iter()
            .any(|m| m.fstype == "cgroup" && m.super_opts.contains("pids"));
        if !v1 {
            eprintln!("skip: no cgroup v1 pids hierarchy");
            return;
        }
        let top = format!("oxrun-join-test-{}", std::process::id());
        let path = PathBuf::from(format!("/{top}/a/b"));
        let mounts = mount::host_cgroup_mounts();
        let j = prepare(&mounts, &path, true).expect("prepare");
        assert!(!j.0.is_empty());
        // A forked child joins and reports its /proc/self/cgroup.
        let (rd, wr) = nix::unistd::pipe().unwrap();
        // SAFETY: the child only writes and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            drop(rd);
            if j.join().is_err() {
                unsafe { libc::_exit(1) };
            }
            // No allocation after fork in a threaded test binary.
            let mut buf = [0u8; 4096];
            let fd = unsafe { libc::open(c"/proc/self/cgroup".as_ptr(), libc::O_RDONLY) };
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                let _ = nix::unistd::write(&wr, &buf[..n as usize]);
            }
            unsafe { libc::_exit(0) };
        }
        drop(wr);
        let mut own = String::new();
        std::io::Read::read_to_string(&mut File::from(rd), &mut own).unwrap();
        let mut status = 0;
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(status, 0, "join failed in the child");
        for line in own.lines() {
            let ctrls = line.split(':').nth(1).unwrap_or("");
            if ctrls
                .split(',')
                .any(|c| c == "pids" || c == "cpuset" || c == "memory")
            {
                assert!(line.ends_with(&format!("/{top}/a/b")), "{line}");
            }
        }
        let cpus = std::fs::read_to_string(format!("/sys/fs/cgroup/cpuset/{top}/a/b/cpuset.cpus"));
        if let Ok(c) = cpus {
            assert!(!c.trim().is_empty(), "cpuset.cpus not seeded");
        }
        drop(j);
        for m in mount::host_cgroup_mounts() {
            if m.fstype == "cgroup" {
                for sub in ["a/b", "a", ""] {
                    let _ = std::fs::remove_dir(m.mountpoint.join(&top).join(sub));
                }
            }
        }
    }
}
