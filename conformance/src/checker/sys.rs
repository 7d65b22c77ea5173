//! Thin libc wrappers the checker needs (kept here so the rest stays safe code).

use std::ffi::CString;
use std::sync::atomic::{AtomicI32, Ordering};

static LAST_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    LAST_SIGNAL.store(sig, Ordering::SeqCst);
}

pub fn catch_all_signals() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing an async-signal-safe handler (one atomic store).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

pub fn last_signal() -> i32 {
    LAST_SIGNAL.load(Ordering::SeqCst)
}

pub fn realtime_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub fn ids() -> (u32, u32, u32, u32) {
    // SAFETY: these calls cannot fail.
    unsafe {
        (
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
        )
    }
}

pub fn uname() -> (String, String) {
    // SAFETY: uname fills the zeroed struct; fields are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        libc::uname(&mut u);
        let s = |f: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(f.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        (s(&u.nodename), s(&u.domainname))
    }
}

pub fn getrlimit(res: i32) -> Option<(u64, u64)> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: r is a valid out-pointer.
    let rc = unsafe { libc::getrlimit(res as _, &mut r) };
    (rc == 0).then_some((r.rlim_cur, r.rlim_max))
}

pub fn personality() -> u64 {
    // SAFETY: 0xffffffff only queries the current persona.
    unsafe { libc::personality(0xffff_ffff) as u64 }
}

/// Open `path` with `flags`; returns 0 on success or the errno.
pub fn open_errno(path: &str, flags: i32) -> i32 {
    let Ok(c) = CString::new(path) else {
        return libc::EINVAL;
    };
    // SAFETY: c is a valid C string; the fd is closed at once.
    unsafe {
        let fd = libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, 0o600);
        if fd < 0 {
            return errno();
        }
        libc::close(fd);
    }
    0
}

/// Try one syscall that a seccomp profile may deny; returns 0 or the errno.
/// None if the checker does not know how to call it harmlessly.
pub fn probe_syscall(name: &str) -> Option<i32> {
    let dir = CString::new("/tmp/.oci-seccomp-probe").ok()?;
    let root = CString::new("/").ok()?;
    let mut buf = [0u8; 256];
    // SAFETY: every call gets valid pointers; mkdir side effects are in /tmp.
    let rc = unsafe {
        match name {
            "getpid" => libc::syscall(libc::SYS_getpid),
            "getppid" => libc::syscall(libc::SYS_getppid),
            "getuid" => libc::syscall(libc::SYS_getuid),
            "getcwd" => libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()),
            "chdir" => libc::syscall(libc::SYS_chdir, root.as_ptr()),
            "mkdir" => libc::syscall(libc::SYS_mkdir, dir.as_ptr(), 0o700),
            "mkdirat" => libc::syscall(libc::SYS_mkdirat, libc::AT_FDCWD, dir.as_ptr(), 0o700),
            "uname" => {
                let mut u: libc::utsname = std::mem::zeroed();
                libc::syscall(libc::SYS_uname, &mut u)
            }
            _ => return None,
        }
    };
    if rc < 0 {
        Some(errno())
    } else {
        // Leave no probe dir behind to change the next probe's outcome.
        // SAFETY: dir is a valid C string.
        unsafe { libc::rmdir(dir.as_ptr()) };
        Some(0)
    }
}

/// Read stdin until EOF, until what was read parses as JSON, or `limit`.
/// Returns the text and whether EOF was seen.
pub fn read_stdin(limit: std::time::Duration) -> (String, bool) {
    let deadline = std::time::Instant::now() + limit;
    let mut buf = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return (String::from_utf8_lossy(&buf).into_owned(), false);
        }
        let mut p = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, left.as_millis().min(100) as i32) };
        if n <= 0 {
            continue;
        }
        let mut chunk = [0u8; 4096];
        // SAFETY: reading into a local buffer of the given length.
        let r = unsafe { libc::read(0, chunk.as_mut_ptr().cast(), chunk.len()) };
        if r <= 0 {
            return (String::from_utf8_lossy(&buf).into_owned(), true);
        }
        buf.extend_from_slice(&chunk[..r as usize]);
        if serde_json::from_slice::<serde_json::Value>(&buf).is_ok() {
            // A whole document: EOF should follow at once if stdin was closed.
            let mut q = libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut q, 1, 200) } > 0;
            // SAFETY: as above.
            let eof =
                ready && unsafe { libc::read(0, chunk.as_mut_ptr().cast(), chunk.len()) } == 0;
            return (String::from_utf8_lossy(&buf).into_owned(), eof);
        }
    }
}

pub fn sched_policy() -> i32 {
    // SAFETY: queries the calling process.
    unsafe { libc::sched_getscheduler(0) }
}

pub fn nice() -> i32 {
    // SAFETY: queries the calling process.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
}

/// ioprio_get(IOPRIO_WHO_PROCESS, self): class << 13 | level.
pub fn ioprio() -> i32 {
    // SAFETY: a query syscall with integer arguments.
    unsafe { libc::syscall(libc::SYS_ioprio_get, 1, 0) as i32 }
}
