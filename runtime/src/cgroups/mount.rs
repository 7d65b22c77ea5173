//! The `cgroup` mount inside the container (runc's behaviour on v1, hybrid
//! and v2 hosts).

use crate::rootfs::{mount::Options, paths, RootfsError};
use crate::sys;
use nix::mount::MsFlags;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

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

pub(super) struct HostMount {
    pub mountpoint: PathBuf,
    pub fstype: String,
    pub super_opts: String,
}

/// The `(controllers, path)` of each `/proc/<pid>/cgroup` line
/// (`hierarchy-id:controllers:path`; controllers empty on v2).
pub(super) fn proc_cgroup_entries(data: &str) -> impl Iterator<Item = (&str, &str)> {
    data.lines().map(|line| {
        let mut parts = line.splitn(3, ':');
        parts.next();
        (parts.next().unwrap_or(""), parts.next().unwrap_or("/"))
    })
}

pub(super) fn host_cgroup_mounts() -> Vec<HostMount> {
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
    for (c, p) in proc_cgroup_entries(own) {
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
