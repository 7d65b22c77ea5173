//! `tmpcopyup`: a tmpfs mounted over an image directory starts with a copy of
//! what the image had there. Both sides are directory fds; nothing is looked
//! up by path and no symlink is followed.

use nix::dir::{Dir, Type};
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fchmodat, fstatat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchownat, Gid, Uid};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn own(dst: RawFd, name: &std::ffi::CStr, st: &libc::stat) -> nix::Result<()> {
    fchownat(
        Some(dst),
        name,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
}

/// Copies the contents of `src` into `dst` (both open directories).
pub fn copy_tree(src: RawFd, dst: RawFd, depth: u32) -> nix::Result<()> {
    if depth > 256 {
        return Err(nix::errno::Errno::ELOOP);
    }
    let mut dir = Dir::from_fd(nix::unistd::dup(src)?)?;
    let names: Vec<(std::ffi::CString, Option<Type>)> = dir
        .iter()
        .flatten()
        .filter(|e| e.file_name().to_bytes() != b"." && e.file_name().to_bytes() != b"..")
        .map(|e| (e.file_name().to_owned(), e.file_type()))
        .collect();
    for (name, _) in names {
        let st = fstatat(Some(src), name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                nix::sys::stat::mkdirat(Some(dst), name.as_c_str(), mode)?;
                let flags =
                    OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                let s = unsafe {
                    OwnedFd::from_raw_fd(openat(Some(src), name.as_c_str(), flags, Mode::empty())?)
                };
                let d = unsafe {
                    OwnedFd::from_raw_fd(openat(Some(dst), name.as_c_str(), flags, Mode::empty())?)
                };
                copy_tree(s.as_raw_fd(), d.as_raw_fd(), depth + 1)?;
            }
            libc::S_IFREG => {
                let s = unsafe {
                    OwnedFd::from_raw_fd(openat(
                        Some(src),
                        name.as_c_str(),
                        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )?)
                };
                let d = unsafe {
                    OwnedFd::from_raw_fd(openat(
                        Some(dst),
                        name.as_c_str(),
                        OFlag::O_WRONLY
                            | OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_CLOEXEC,
                        mode,
                    )?)
                };
                let mut from = std::fs::File::from(s);
                let mut to = std::fs::File::from(d);
                std::io::copy(&mut from, &mut to).map_err(|e| {
                    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
                })?;
            }
            libc::S_IFLNK => {
                let target = nix::fcntl::readlinkat(Some(src), name.as_c_str())?;
                nix::unistd::symlinkat(target.as_os_str(), Some(dst), name.as_c_str())?;
            }
            kind => {
                let sflag = SFlag::from_bits_truncate(kind);
                mknodat(Some(dst), name.as_c_str(), sflag, mode, st.st_rdev)?;
            }
        }
        own(dst, name.as_c_str(), &st)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
            // After chown, which clears setuid/setgid bits.
            fchmodat(
                Some(dst),
                name.as_c_str(),
                mode,
                FchmodatFlags::NoFollowSymlink,
            )?;
        }
    }
    Ok(())
}
