//! The one place that resolves a path inside the container's root.
//!
//! Everything goes through openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
//! relative to an fd of the root: `..` stops at the root and symlinks in the
//! image are resolved as if the root were `/`, so no image content can send a
//! mount, a device or a directory outside it. Callers then act on the
//! returned fd, never on the path again.

use crate::sys;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

const RESOLVE: u64 = sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS;

/// Opens `path` (absolute or relative, always taken inside `root`).
pub fn open(root: BorrowedFd, path: &Path, flags: i32) -> io::Result<OwnedFd> {
    sys::openat2(root, &rel(path), flags, 0, RESOLVE)
}

pub fn open_path(root: BorrowedFd, path: &Path) -> io::Result<OwnedFd> {
    open(root, path, libc::O_PATH)
}

/// `path` without its leading `/`, with `.` parts dropped, for openat2.
pub fn rel(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// mkdir -p inside the root; returns an O_PATH fd of the final directory.
/// A dangling symlink on the way (`/var/run -> /run` with no `/run`) has its
/// target made, inside the root, as runc does.
pub fn mkdir_all(root: BorrowedFd, path: &Path, mode: u32) -> io::Result<OwnedFd> {
    mkdir_all_depth(root, path, mode, 0)
}

fn mkdir_all_depth(root: BorrowedFd, path: &Path, mode: u32, depth: u32) -> io::Result<OwnedFd> {
    if depth > 40 {
        return Err(io::Error::from_raw_os_error(libc::ELOOP));
    }
    let mut cur: OwnedFd = open(root, Path::new("."), libc::O_PATH | libc::O_DIRECTORY)?;
    let mut prefix = PathBuf::new();
    for c in rel(path).components() {
        let name = c.as_os_str();
        if name == "." {
            continue;
        }
        let parent = prefix.clone();
        prefix.push(name);
        match open(root, &prefix, libc::O_PATH | libc::O_DIRECTORY) {
            Ok(fd) => cur = fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && name != ".." => {
                let cur_raw = std::os::fd::AsRawFd::as_raw_fd(&cur);
                match nix::sys::stat::mkdirat(
                    Some(cur_raw),
                    name,
                    nix::sys::stat::Mode::from_bits_truncate(mode),
                ) {
                    Ok(()) => {}
                    Err(nix::errno::Errno::EEXIST) => {
                        // A dangling symlink: make its target (inside the root).
                        let target = nix::fcntl::readlinkat(Some(cur_raw), name)?;
                        let target = Path::new(&target);
                        let full = if target.is_absolute() {
                            target.to_path_buf()
                        } else {
                            parent.join(target)
                        };
                        mkdir_all_depth(root, &full, mode, depth + 1)?;
                    }
                    Err(e) => return Err(e.into()),
                }
                // Re-resolve from the root: what we made is now looked up
                // under the same rules as everything else.
                cur = open(root, &prefix, libc::O_PATH | libc::O_DIRECTORY)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(cur)
}

/// mkdir -p inside the root, then the directory opened for real (not
/// O_PATH), to create entries in it with the *at calls.
pub fn mkdir_all_open(root: BorrowedFd, path: &Path) -> io::Result<OwnedFd> {
    let dir = mkdir_all(root, path, 0o755)?;
    sys::openat2(
        dir.as_fd(),
        Path::new("."),
        libc::O_DIRECTORY | libc::O_RDONLY,
        0,
        0,
    )
}

/// The parent of `path` (made if missing) as an open directory, and the last
/// component's name: for creating or replacing one entry without following it.
pub fn parent_dir(root: BorrowedFd, path: &Path) -> io::Result<(OwnedFd, std::ffi::OsString)> {
    let r = rel(path);
    let parent = r
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = r
        .file_name()
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    Ok((mkdir_all_open(root, parent)?, name.to_owned()))
}

/// Makes sure a file (not a directory) exists at `path` inside the root and
/// returns an O_PATH fd of it.
pub fn ensure_file(root: BorrowedFd, path: &Path, mode: u32) -> io::Result<OwnedFd> {
    match open_path(root, path) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let (dir, name) = parent_dir(root, path)?;
    let name = name.as_os_str();
    match nix::fcntl::openat(
        Some(std::os::fd::AsRawFd::as_raw_fd(&dir)),
        name,
        nix::fcntl::OFlag::O_CREAT
            | nix::fcntl::OFlag::O_EXCL
            | nix::fcntl::OFlag::O_WRONLY
            | nix::fcntl::OFlag::O_NOFOLLOW
            | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::from_bits_truncate(mode),
    ) {
        Ok(fd) => drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }),
        Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => return Err(e.into()),
    }
    open_path(root, path)
}

/// A fresh regular file at `path` (its parent resolved inside the root),
/// replacing whatever non-directory the image had there: a symlink is
/// removed, never followed. For mount targets like /dev/console.
pub fn fresh_file(root: BorrowedFd, path: &Path, mode: u32) -> io::Result<OwnedFd> {
    use nix::fcntl::OFlag;
    let (dir, name) = parent_dir(root, path)?;
    let name = name.as_os_str();
    let dfd = std::os::fd::AsRawFd::as_raw_fd(&dir);
    let _ = nix::unistd::unlinkat(Some(dfd), name, nix::unistd::UnlinkatFlags::NoRemoveDir);
    let fd = nix::fcntl::openat(
        Some(dfd),
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::from_bits_truncate(mode),
    )?;
    drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
    let fd = nix::fcntl::openat(
        Some(dfd),
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Is the inode behind `fd` a directory?
pub fn is_dir(fd: BorrowedFd) -> io::Result<bool> {
    let st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd))?;
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn root() -> (PathBuf, OwnedFd) {
        let d = std::env::temp_dir().join(format!("oxrun-paths-{}-{}", std::process::id(), rand()));
        std::fs::create_dir_all(&d).unwrap();
        let fd = sys::openat2(
            unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) },
            &d,
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            0,
        )
        .unwrap();
        (d, fd)
    }

    fn rand() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    }

    #[test]
    fn symlink_to_outside_stays_inside() {
        let (d, fd) = root();
        let outside = std::env::temp_dir().join(format!("oxrun-victim-{}", rand()));
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, d.join("evil")).unwrap();
        mkdir_all(fd.as_fd(), Path::new("/evil/sub"), 0o755).unwrap();
        assert!(
            !outside.join("sub").exists(),
            "mkdir escaped through a symlink"
        );
        assert!(d
            .join(outside.strip_prefix("/").unwrap())
            .join("sub")
            .is_dir());
        ensure_file(fd.as_fd(), Path::new("/../../evil/f"), 0o644).unwrap();
        assert!(!outside.join("f").exists());
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn dotdot_is_clamped() {
        let (d, fd) = root();
        mkdir_all(fd.as_fd(), Path::new("../../../x/y"), 0o755).unwrap();
        assert!(d.join("x/y").is_dir());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
