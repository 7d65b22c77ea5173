//! OOM notifications for `events`: an eventfd registered on
//! `memory.oom_control` on v1 (the kernel signals it on every OOM in the
//! cgroup), inotify on `memory.events` on v2 (we report when `oom_kill`
//! grows), as runc does.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

enum Kind {
    V1 { event_control: PathBuf },
    V2 { events: PathBuf, oom_kill: u64 },
}

pub struct OomWatch {
    fd: OwnedFd,
    kind: Kind,
}

fn last_err(what: &str) -> std::io::Error {
    let e = std::io::Error::last_os_error();
    std::io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn oom_kill_count(events: &Path) -> u64 {
    std::fs::read_to_string(events)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

impl OomWatch {
    /// `dir` is the container's memory cgroup directory.
    pub fn v1(dir: &Path) -> std::io::Result<OomWatch> {
        let ctl = std::fs::File::open(dir.join("memory.oom_control"))?;
        // SAFETY: plain syscall; the fd is owned below.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(last_err("eventfd"));
        }
        // SAFETY: efd was just returned by eventfd and is ours.
        let fd = unsafe { OwnedFd::from_raw_fd(efd) };
        let event_control = dir.join("cgroup.event_control");
        std::fs::write(
            &event_control,
            format!("{} {}", fd.as_raw_fd(), ctl.as_raw_fd()),
        )?;
        Ok(OomWatch {
            fd,
            kind: Kind::V1 { event_control },
        })
    }

    /// `dir` is the container's v2 cgroup directory.
    pub fn v2(dir: &Path) -> std::io::Result<OomWatch> {
        let events = dir.join("memory.events");
        // SAFETY: plain syscalls on a NUL-terminated path.
        let ifd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if ifd < 0 {
            return Err(last_err("inotify_init1"));
        }
        // SAFETY: ifd is ours.
        let fd = unsafe { OwnedFd::from_raw_fd(ifd) };
        let c = std::ffi::CString::new(events.as_os_str().as_encoded_bytes())
            .map_err(std::io::Error::other)?;
        if unsafe { libc::inotify_add_watch(ifd, c.as_ptr(), libc::IN_MODIFY) } < 0 {
            return Err(last_err("inotify_add_watch memory.events"));
        }
        let oom_kill = oom_kill_count(&events);
        Ok(OomWatch {
            fd,
            kind: Kind::V2 { events, oom_kill },
        })
    }

    /// Poll this for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Called when [`Self::fd`] is readable: the number of new OOM events,
    /// or None once the cgroup is gone (the v1 eventfd also fires on rmdir).
    pub fn consume(&mut self) -> Option<u64> {
        let mut f = std::fs::File::from(self.fd.try_clone().ok()?);
        let mut buf = [0u8; 4096];
        match &mut self.kind {
            Kind::V1 { event_control } => {
                f.read_exact(&mut buf[..8]).ok()?;
                if !event_control.exists() {
                    return None;
                }
                Some(u64::from_ne_bytes(buf[..8].try_into().ok()?))
            }
            Kind::V2 { events, oom_kill } => {
                while f.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
                if !events.exists() {
                    return None;
                }
                let now = oom_kill_count(events);
                let new = now.saturating_sub(*oom_kill);
                *oom_kill = now;
                Some(new)
            }
        }
    }
}
