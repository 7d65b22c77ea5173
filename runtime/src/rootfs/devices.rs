//! /dev: the spec's default devices, `linux.devices`, /dev/ptmx and the
//! /dev/fd, stdin, stdout, stderr symlinks.

use super::{paths, RootfsError};
use crate::sys;
use nix::sys::stat::{makedev, mknodat, Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

pub struct Dev {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices every Linux container gets (runtime spec, "Default Devices").
pub fn defaults() -> Vec<Dev> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(n, major, minor)| Dev {
        path: PathBuf::from("/dev").join(n),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

pub fn from_spec(d: &LinuxDevice) -> Result<Dev, RootfsError> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(RootfsError::Invalid(format!(
                "device {}: type 'a' is not a device",
                d.path().display()
            )))
        }
    };
    if !d.path().starts_with("/dev") {
        return Err(RootfsError::Invalid(format!(
            "device {} is not under /dev",
            d.path().display()
        )));
    }
    Ok(Dev {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

fn dev_err(p: &Path, e: impl Into<std::io::Error>) -> RootfsError {
    RootfsError::Device {
        path: p.to_path_buf(),
        source: e.into(),
    }
}

/// Creates one device node inside the root. In a user namespace mknod is not
/// allowed, so the host's node is bind-mounted onto an empty file instead.
pub fn create(root: BorrowedFd, d: &Dev, bind: bool) -> Result<(), RootfsError> {
    let (dir, name) = paths::parent_dir(root, &d.path).map_err(|e| dev_err(&d.path, e))?;
    let name = name.as_os_str();
    // Whatever the image had there (a file, a symlink planted to redirect us)
    // is replaced; unlinkat never follows a symlink.
    let _ = nix::unistd::unlinkat(
        Some(dir.as_raw_fd()),
        name,
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    if bind {
        let host = sys::openat2(
            unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) },
            &d.path,
            libc::O_PATH,
            0,
            0,
        )
        .map_err(|e| dev_err(&d.path, e))?;
        let target = paths::ensure_file(root, &d.path, 0o000).map_err(|e| dev_err(&d.path, e))?;
        let tree = sys::open_tree_clone(host.as_fd(), false).map_err(|e| dev_err(&d.path, e))?;
        return sys::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(|e| dev_err(&d.path, e));
    }
    let old = nix::sys::stat::umask(Mode::empty());
    let r = mknodat(
        Some(dir.as_raw_fd()),
        name,
        d.kind,
        Mode::from_bits_truncate(d.mode),
        makedev(d.major, d.minor),
    );
    nix::sys::stat::umask(old);
    r.map_err(|e| dev_err(&d.path, e))?;
    nix::unistd::fchownat(
        Some(dir.as_raw_fd()),
        name,
        Some(nix::unistd::Uid::from_raw(d.uid)),
        Some(nix::unistd::Gid::from_raw(d.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| dev_err(&d.path, e))
}

/// /dev/ptmx → pts/ptmx and the /proc/self/fd symlinks.
pub fn symlinks(root: BorrowedFd) -> Result<(), RootfsError> {
    let dev = paths::mkdir_all_open(root, Path::new("/dev"))
        .map_err(|e| dev_err(Path::new("/dev"), e))?;
    for (name, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        if name == "ptmx" {
            let _ = nix::unistd::unlinkat(
                Some(dev.as_raw_fd()),
                name,
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
        match nix::unistd::symlinkat(target, Some(dev.as_raw_fd()), name) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(dev_err(&Path::new("/dev").join(name), e)),
        }
    }
    Ok(())
}
