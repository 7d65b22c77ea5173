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

/// Open `tasks` files of the container's cgroup, one per v1 hierarchy, with
/// their paths for the error message.
pub struct SelfJoin(Vec<(PathBuf, File)>);

impl SelfJoin {
    /// Moves the calling thread into every hierarchy. Only for a
    /// single-threaded process (a forked child): other threads would stay.
    pub fn join(&self) -> Result<(), String> {
        for (path, f) in &self.0 {
            (&*f)
                .write_all(b"0")
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
        Ok(())
    }
}

/// The named v1 hierarchy runc puts containers in too (its `NameGroup`).
const NAMED: &str = "name=systemd";

/// The v1 hierarchies a container is put in, each mount point once: those
/// holding one of [`CONTROLLERS`] (`true`: required) and [`NAMED`] (`false`:
/// best effort, as runc).
fn hierarchies(mounts: &[HostMount]) -> Vec<(&HostMount, bool)> {
    let mut out: Vec<(&HostMount, bool)> = Vec::new();
    for m in mounts.iter().filter(|m| m.fstype == "cgroup") {
        if out.iter().any(|(o, _)| o.mountpoint == m.mountpoint) {
            continue;
        }
        let mut opts = m.super_opts.split(',');
        if opts.clone().any(|o| CONTROLLERS.contains(&o)) {
            out.push((m, true));
        } else if opts.any(|o| o == NAMED) {
            out.push((m, false));
        }
    }
    out
}

/// Opens `tasks` under `path` in each hierarchy of [`hierarchies`]; with
/// `create`, makes the directories first (seeding an empty cpuset from its
/// parent, as joining needs). A failure in the [`NAMED`] hierarchy is
/// skipped (runc ignores it as well).
pub(super) fn prepare(
    mounts: &[HostMount],
    path: &Path,
    create: bool,
) -> Result<SelfJoin, CgroupError> {
    let mut files = Vec::new();
    for (m, required) in hierarchies(mounts) {
        let dir = super::under(&m.mountpoint, path);
        let tasks = dir.join("tasks");
        let opened = (|| -> Result<File, (&'static str, std::io::Error)> {
            if create {
                if m.super_opts.split(',').any(|o| o == "cpuset") {
                    create_cpuset(&m.mountpoint, path)
                        .map_err(|e| ("creating cpuset cgroup", e))?;
                } else {
                    std::fs::create_dir_all(&dir).map_err(|e| ("creating cgroup", e))?;
                }
            }
            OpenOptions::new()
                .write(true)
                .open(&tasks)
                .map_err(|e| ("opening tasks", e))
        })();
        match opened {
            Ok(f) => files.push((tasks, f)),
            Err(_) if !required => {}
            Err((what, source)) => {
                return Err(CgroupError::Io {
                    path: dir,
                    what,
                    source,
                })
            }
        }
    }
    Ok(SelfJoin(files))
}

/// Removes the container's cgroup from every hierarchy it joins (see
/// [`hierarchies`]), without libcgroups' manager: children first (a
/// container may make sub-cgroups), whatever is left in one is killed, and a
/// directory still busy with exiting tasks is retried for a second. Gone
/// already is fine.
pub(super) fn remove(mounts: &[HostMount], path: &Path) -> Result<(), CgroupError> {
    let mut res = Ok(());
    for (m, _) in hierarchies(mounts) {
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
        let mut checked = 0;
        for (ctrls, path) in mount::proc_cgroup_entries(&own) {
            if ctrls
                .split(',')
                .any(|c| c == "pids" || c == "cpuset" || c == "memory")
            {
                assert!(path.ends_with(&format!("/{top}/a/b")), "{ctrls}:{path}");
                checked += 1;
            }
        }
        // pids at least (checked above): an empty report is a failure.
        assert!(
            checked > 0,
            "no v1 controller in the child's cgroups: {own:?}"
        );
        if let Some(m) = mounts
            .iter()
            .find(|m| m.fstype == "cgroup" && m.super_opts.split(',').any(|o| o == "cpuset"))
        {
            let f = m.mountpoint.join(&top).join("a/b/cpuset.cpus");
            let cpus = std::fs::read_to_string(&f).unwrap();
            assert!(!cpus.trim().is_empty(), "cpuset.cpus not seeded");
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
