//! Receiving the pty master sent on a --console-socket (SCM_RIGHTS).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

pub fn recv_fd(stream: &UnixStream) -> Option<OwnedFd> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut data = [0u8; 4096];
    let mut cmsg = [0u8; 64];
    // SAFETY: msghdr points at live buffers for the duration of recvmsg; the
    // control message is checked for SCM_RIGHTS before the fd is taken.
    unsafe {
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg.as_mut_ptr().cast();
        msg.msg_controllen = cmsg.len();
        if libc::recvmsg(stream.as_raw_fd(), &mut msg, 0) < 0 {
            return None;
        }
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_level != libc::SOL_SOCKET || (*c).cmsg_type != libc::SCM_RIGHTS
        {
            return None;
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::c_int);
        Some(OwnedFd::from_raw_fd(fd))
    }
}

/// Read from `fd` until `end` shows up, EOF/EIO (pty closed) or `limit`.
pub fn read_until(fd: &OwnedFd, end: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, 100) };
        if n <= 0 {
            continue;
        }
        let mut buf = [0u8; 1024];
        // SAFETY: reading into a local buffer of the given length.
        let r = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if r <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..r as usize]);
        if String::from_utf8_lossy(&out).contains(end) {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
