//! Our small interface over `libcgroups`: the container's cgroup is created,
//! joined before any user code runs, listed and removed here. Resource limits,
//! freezing, stats and `update` are the cgroups issue's; this module is where
//! they go.

use crate::rootfs::{mount::Options, paths, RootfsError};
use crate::sys;
use libcgroups::common::{AnyCgroupManager, CgroupConfig, CgroupManager};
use nix::mount::MsFlags;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroup {path}: {msg}")]
    Manager { path: PathBuf, msg: String },
    #[error("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the cgroupfs driver")]
    NoSystemd,
}

pub struct Cgroup {
    pub path: PathBuf,
    manager: AnyCgroupManager,
}

/// The runtime's own cgroup path (as seen in /proc/self/cgroup), which runc
/// uses as the parent of relative and default cgroup paths.
fn own_cgroup() -> PathBuf {
    let data = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut v2 = None;
    for line in data.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("/"),
        );
        if ctrls.split(',').any(|c| c == "memory" || c == "pids") {
            return PathBuf::from(path);
        }
        if ctrls.is_empty() {
            v2 = Some(PathBuf::from(path));
        }
    }
    v2.unwrap_or_else(|| PathBuf::from("/"))
}

/// runc's semantics for `linux.cgroupsPath`: absolute as given; relative
/// under the runtime's own cgroup; absent → `<own cgroup>/<id>`.
pub fn resolve_path(spec_path: Option<&Path>, id: &str) -> PathBuf {
    match spec_path {
        Some(p) if p.is_absolute() => p.to_path_buf(),
        Some(p) if !p.as_os_str().is_empty() => own_cgroup().join(p),
        _ => own_cgroup().join(id),
    }
}

impl Cgroup {
    pub fn open(path: &Path, id: &str, systemd: bool) -> Result<Cgroup, CgroupError> {
        if systemd && !Path::new("/run/systemd/system").exists() {
            return Err(CgroupError::NoSystemd);
        }
        let manager = libcgroups::common::create_cgroup_manager(CgroupConfig {
            cgroup_path: path.to_path_buf(),
            systemd_cgroup: systemd,
            container_name: id.to_string(),
        })
        .map_err(|e| CgroupError::Manager {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
        Ok(Cgroup {
            path: path.to_path_buf(),
            manager,
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> CgroupError {
        CgroupError::Manager {
            path: self.path.clone(),
            msg: e.to_string(),
        }
    }

    pub fn add_task(&self, pid: i32) -> Result<(), CgroupError> {
        self.manager
            .add_task(nix::unistd::Pid::from_raw(pid))
            .map_err(|e| self.err(e))
    }

    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        Ok(self
            .manager
            .get_all_pids()
            .map_err(|e| self.err(e))?
            .into_iter()
            .map(|p| p.as_raw())
            .collect())
    }

    pub fn remove(&self) -> Result<(), CgroupError> {
        self.manager.remove().map_err(|e| self.err(e))
    }
}

/// A `cgroup` mount: with a private cgroup namespace the hierarchies are
/// mounted afresh (rooted at the container's cgroup); without one, the
/// container's own cgroup directories are bind-mounted from the host.
pub fn mount_cgroupfs(
    root: BorrowedFd,
    dest: &Path,
    opts: &Options,
    cgroupns: bool,
) -> Result<(), RootfsError> {
    let merr = |e: std::io::Error| RootfsError::Mount {
        dest: dest.to_path_buf(),
        source: e,
    };
    let flags = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let mounts = host_cgroup_mounts();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let unified_root = mounts
        .iter()
        .find(|m| m.mountpoint == Path::new("/sys/fs/cgroup") && m.fstype == "cgroup2");
    let target = paths::mkdir_all(root, dest, 0o755).map_err(merr)?;
    if let Some(m) = unified_root {
        return mount_one(target.as_fd(), m, &own, flags, cgroupns).map_err(merr);
    }
    // cgroup v1 or hybrid: a tmpfs holding one directory per hierarchy.
    nix::mount::mount(
        Some("tmpfs"),
        sys::fd_path(target.as_fd()).as_str(),
        Some("tmpfs"),
        flags & !MsFlags::MS_RDONLY,
        Some("mode=755"),
    )
    .map_err(|e| merr(e.into()))?;
    let top = paths::open(root, dest, libc::O_DIRECTORY | libc::O_RDONLY).map_err(merr)?;
    for m in mounts
        .iter()
        .filter(|m| m.mountpoint.parent() == Some(Path::new("/sys/fs/cgroup")))
    {
        let name = m.mountpoint.file_name().unwrap_or_default();
        let sub = paths::mkdir_all(top.as_fd(), Path::new(name), 0o755).map_err(merr)?;
        mount_one(sub.as_fd(), m, &own, flags, cgroupns).map_err(merr)?;
        // cpu -> cpu,cpuacct and friends, as on the host.
        let name = name.to_string_lossy();
        if name.contains(',') {
            for part in name.split(',') {
                let _ = nix::unistd::symlinkat(
                    name.as_ref(),
                    Some(std::os::fd::AsRawFd::as_raw_fd(&top)),
                    part,
                );
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let fd = paths::open_path(root, dest).map_err(merr)?;
        let attr = sys::MountAttr {
            attr_set: sys::MOUNT_ATTR_RDONLY,
            ..Default::default()
        };
        sys::mount_setattr(fd.as_fd(), false, &attr).map_err(merr)?;
    }
    Ok(())
}

struct HostMount {
    mountpoint: PathBuf,
    fstype: String,
    super_opts: String,
}

fn host_cgroup_mounts() -> Vec<HostMount> {
    let data = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out = Vec::new();
    for line in data.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        if post[0] != "cgroup" && post[0] != "cgroup2" {
            continue;
        }
        out.push(HostMount {
            mountpoint: PathBuf::from(pre[4]),
            fstype: post[0].into(),
            super_opts: post[2].into(),
        });
    }
    out
}

fn mount_one(
    target: BorrowedFd,
    m: &HostMount,
    own: &str,
    flags: MsFlags,
    cgroupns: bool,
) -> std::io::Result<()> {
    let tpath = sys::fd_path(target);
    if cgroupns {
        let data: Vec<&str> = m
            .super_opts
            .split(',')
            .filter(|o| *o != "rw" && *o != "ro")
            .collect();
        let data = if m.fstype == "cgroup"
            && data.iter().all(|o| o.starts_with("name=") || *o == "xattr")
        {
            let mut d = vec!["none"];
            d.extend(data);
            d.join(",")
        } else {
            data.join(",")
        };
        let ty = m.fstype.as_str();
        return nix::mount::mount(
            Some(ty),
            tpath.as_str(),
            Some(ty),
            flags,
            (!data.is_empty()).then_some(data.as_str()),
        )
        .map_err(Into::into);
    }
    // Our own cgroup in this hierarchy, from /proc/self/cgroup.
    let ctrls: Vec<&str> = m.super_opts.split(',').collect();
    let mut rel = "/";
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, c, p) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("/"),
        );
        let hit = if m.fstype == "cgroup2" {
            c.is_empty()
        } else {
            !c.is_empty() && c.split(',').all(|x| ctrls.contains(&x))
        };
        if hit {
            rel = p;
            break;
        }
    }
    let src = m.mountpoint.join(rel.trim_start_matches('/'));
    let src_fd = sys::openat2(
        unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) },
        &src,
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        0,
    )?;
    let tree = sys::open_tree_clone(src_fd.as_fd(), false)?;
    let mut attr = sys::MountAttr {
        attr_set: sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC,
        ..Default::default()
    };
    if flags.contains(MsFlags::MS_RDONLY) {
        attr.attr_set |= sys::MOUNT_ATTR_RDONLY;
    }
    sys::mount_setattr(tree.as_fd(), false, &attr)?;
    sys::move_mount_fd(tree.as_fd(), target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_path_semantics() {
        assert_eq!(
            resolve_path(Some(Path::new("/default/c1")), "c1"),
            PathBuf::from("/default/c1")
        );
        let own = own_cgroup();
        assert_eq!(
            resolve_path(Some(Path::new("kube/c1")), "c1"),
            own.join("kube/c1")
        );
        assert_eq!(resolve_path(None, "c1"), own.join("c1"));
    }
}
