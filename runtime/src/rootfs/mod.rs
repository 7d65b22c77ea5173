//! The container's root filesystem: mounts, devices, pivot_root, masked and
//! read-only paths. Runs inside the container's mount namespace, in init.
//!
//! `prepare` (before the createRuntime hooks) → `pivot` → `finalize`.

mod copy;
pub mod devices;
pub mod mount;
pub mod paths;

use crate::sys;
use nix::mount::MsFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("error mounting on {dest}: {source}")]
    Mount {
        dest: PathBuf,
        source: std::io::Error,
    },
    #[error("error creating device {path}: {source}")]
    Device {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Sys {
        what: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

fn sys_err(what: impl Into<String>, e: impl Into<std::io::Error>) -> RootfsError {
    RootfsError::Sys {
        what: what.into(),
        source: e.into(),
    }
}

pub struct Rootfs<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    /// In a new user namespace: devices are bind-mounted, not made.
    pub userns: bool,
    pub cgroupns: bool,
}

impl Rootfs<'_> {
    fn propagation(&self) -> Option<MsFlags> {
        let p = self
            .spec
            .linux()
            .as_ref()?
            .rootfs_propagation()
            .as_deref()?;
        mount::propagation(p)
    }

    /// Everything up to pivot_root: the root's propagation, the rootfs bind,
    /// every mount in order, devices, the cwd.
    pub fn prepare(&self) -> Result<(), RootfsError> {
        let prop = self
            .propagation()
            .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
        nix::mount::mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
            .map_err(|e| sys_err("making / private to the container", e))?;
        make_parent_private(self.rootfs)?;
        nix::mount::mount(
            Some(self.rootfs),
            self.rootfs,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| sys_err(format!("bind-mounting rootfs {}", self.rootfs.display()), e))?;
        let root = sys::openat2(
            unsafe { std::os::fd::BorrowedFd::borrow_raw(libc::AT_FDCWD) },
            self.rootfs,
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            0,
        )
        .map_err(|e| sys_err(format!("opening rootfs {}", self.rootfs.display()), e))?;
        let mounts = self.spec.mounts().clone().unwrap_or_default();
        for m in &mounts {
            mount::mount_entry(root.as_fd(), m, self.bundle, self.cgroupns)?;
        }
        let dev_is_host_bind = mounts.iter().any(|m| {
            m.destination() == Path::new("/dev")
                && (m.typ().as_deref() == Some("bind")
                    || m.options()
                        .iter()
                        .flatten()
                        .any(|o| o == "bind" || o == "rbind"))
        });
        if !dev_is_host_bind {
            let mut devs = devices::defaults();
            for d in self
                .spec
                .linux()
                .as_ref()
                .and_then(|l| l.devices().clone())
                .unwrap_or_default()
            {
                let d = devices::from_spec(&d)?;
                devs.retain(|x| x.path != d.path);
                devs.push(d);
            }
            for d in &devs {
                devices::create(root.as_fd(), d, self.userns)?;
            }
            devices::symlinks(root.as_fd())?;
        }
        if let Some(p) = self.spec.process() {
            paths::mkdir_all(root.as_fd(), p.cwd(), 0o755)
                .map_err(|e| sys_err(format!("creating cwd {}", p.cwd().display()), e))?;
        }
        Ok(())
    }

    /// Switches to the new root (pivot_root, or MS_MOVE + chroot with
    /// --no-pivot) and detaches the old one.
    pub fn pivot(&self, no_pivot: bool) -> Result<(), RootfsError> {
        if no_pivot {
            nix::unistd::chdir(self.rootfs).map_err(|e| sys_err("chdir to rootfs", e))?;
            nix::mount::mount(
                Some(self.rootfs),
                "/",
                None::<&str>,
                MsFlags::MS_MOVE,
                None::<&str>,
            )
            .map_err(|e| sys_err("moving rootfs to /", e))?;
            nix::unistd::chroot(".").map_err(|e| sys_err("chroot", e))?;
        } else {
            let old = nix::fcntl::open(
                "/",
                nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_RDONLY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(|e| sys_err("opening /", e))?;
            let old = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(old) };
            nix::unistd::chdir(self.rootfs).map_err(|e| sys_err("chdir to rootfs", e))?;
            sys::pivot_root(Path::new("."), Path::new("."))
                .map_err(|e| sys_err("pivot_root", e))?;
            nix::unistd::fchdir(old.as_raw_fd()).map_err(|e| sys_err("fchdir to old root", e))?;
            // rslave first, so that detaching the old root cannot propagate
            // an unmount to the host.
            nix::mount::mount(
                None::<&str>,
                ".",
                None::<&str>,
                MsFlags::MS_SLAVE | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| sys_err("making old root rslave", e))?;
            nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)
                .map_err(|e| sys_err("detaching old root", e))?;
        }
        nix::unistd::chdir("/").map_err(|e| sys_err("chdir /", e))?;
        if let Some(p) = self.propagation() {
            if !p.contains(MsFlags::MS_PRIVATE) {
                nix::mount::mount(None::<&str>, "/", None::<&str>, p, None::<&str>)
                    .map_err(|e| sys_err("applying rootfsPropagation", e))?;
            }
        }
        Ok(())
    }

    /// After pivot_root: read-only and masked paths, then a read-only root.
    pub fn finalize(&self) -> Result<(), RootfsError> {
        let root = sys::openat2(
            unsafe { std::os::fd::BorrowedFd::borrow_raw(libc::AT_FDCWD) },
            Path::new("/"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            0,
        )
        .map_err(|e| sys_err("opening /", e))?;
        let linux = self.spec.linux().clone().unwrap_or_default();
        for p in linux.readonly_paths().iter().flatten() {
            readonly_path(root.as_fd(), Path::new(p))?;
        }
        let masked = linux.masked_paths().clone().unwrap_or_default();
        if !masked.is_empty() {
            let null = checked_dev_null(root.as_fd())?;
            for p in &masked {
                mask_path(root.as_fd(), Path::new(p), null.as_fd())?;
            }
        }
        if self
            .spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false)
        {
            let attr = sys::MountAttr {
                attr_set: sys::MOUNT_ATTR_RDONLY,
                ..Default::default()
            };
            sys::mount_setattr(root.as_fd(), false, &attr)
                .map_err(|e| sys_err("remounting / read-only", e))?;
        }
        Ok(())
    }
}

/// pivot_root refuses a new root whose parent mount is shared: make the
/// mount that holds the rootfs private (in our namespace only).
fn make_parent_private(rootfs: &Path) -> Result<(), RootfsError> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| sys_err("reading mountinfo", e))?;
    let mut best: Option<(PathBuf, bool)> = None;
    for line in info.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 7 {
            continue;
        }
        let mp = PathBuf::from(unescape(f[4]));
        if rootfs.starts_with(&mp)
            && best
                .as_ref()
                .is_none_or(|(b, _)| mp.as_os_str().len() >= b.as_os_str().len())
        {
            let shared = f[6..]
                .iter()
                .take_while(|x| **x != "-")
                .any(|x| x.starts_with("shared:"));
            best = Some((mp, shared));
        }
    }
    if let Some((mp, true)) = best {
        nix::mount::mount(
            None::<&str>,
            &mp,
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(|e| sys_err(format!("making {} private", mp.display()), e))?;
    }
    Ok(())
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn enoent(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOENT)
}

/// Bind the path onto itself, read-only, without a writable window: the
/// clone is made read-only while still detached.
fn readonly_path(root: std::os::fd::BorrowedFd, p: &Path) -> Result<(), RootfsError> {
    let fd = match paths::open_path(root, p) {
        Ok(fd) => fd,
        Err(e) if enoent(&e) => return Ok(()),
        Err(e) => return Err(sys_err(format!("readonly path {}", p.display()), e)),
    };
    let err = |e| sys_err(format!("readonly path {}", p.display()), e);
    let tree = sys::open_tree_clone(fd.as_fd(), true).map_err(err)?;
    let attr = sys::MountAttr {
        attr_set: sys::MOUNT_ATTR_RDONLY,
        ..Default::default()
    };
    sys::mount_setattr(tree.as_fd(), true, &attr).map_err(err)?;
    sys::move_mount_fd(tree.as_fd(), fd.as_fd()).map_err(err)
}

/// The container's /dev/null, checked to really be the null device (1:3)
/// before anything is masked with it: an image that replaced it with a
/// symlink or a file must not turn a masked path into a writable one.
fn checked_dev_null(root: std::os::fd::BorrowedFd) -> Result<OwnedFd, RootfsError> {
    let fd = paths::open(
        root,
        Path::new("/dev/null"),
        libc::O_PATH | libc::O_NOFOLLOW,
    )
    .map_err(|e| sys_err("opening /dev/null for masked paths", e))?;
    let st = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|e| sys_err("stat /dev/null", e))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != nix::sys::stat::makedev(1, 3) {
        return Err(RootfsError::Invalid(
            "/dev/null is not the null device (1:3); refusing to mask paths with it".into(),
        ));
    }
    Ok(fd)
}

fn mask_path(
    root: std::os::fd::BorrowedFd,
    p: &Path,
    null: std::os::fd::BorrowedFd,
) -> Result<(), RootfsError> {
    let fd = match paths::open_path(root, p) {
        Ok(fd) => fd,
        Err(e) if enoent(&e) => return Ok(()),
        Err(e) => return Err(sys_err(format!("masked path {}", p.display()), e)),
    };
    let err = |e| sys_err(format!("masking {}", p.display()), e);
    let tree = if paths::is_dir(fd.as_fd()).map_err(err)? {
        sys::fsmount_tmpfs_ro().map_err(err)?
    } else {
        sys::open_tree_clone(null, false).map_err(err)?
    };
    sys::move_mount_fd(tree.as_fd(), fd.as_fd()).map_err(err)
}

/// Which namespaces are new (not joined by path).
pub fn new_ns(spec: &Spec, t: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|n| n.typ() == t && n.path().is_none()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn mountinfo_unescape() {
        assert_eq!(super::unescape(r"/a\040b"), "/a b");
        assert_eq!(super::unescape(r"/plain"), "/plain");
    }
}
