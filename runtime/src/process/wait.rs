//! Waiting in the foreground for a container process that is our child
//! (`run`, `exec` without --detach): signals are forwarded to it and, with a
//! terminal, our stdio is copied to and from its pty.

use super::console;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Waits for init (our child: it was cloned with CLONE_PARENT), forwarding
/// signals to it and, with a terminal, copying between our stdio and the pty.
pub fn wait(pid: i32, master: Option<OwnedFd>) -> nix::Result<i32> {
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        mask.add(s);
    }
    mask.thread_block()?;
    let sfd = SignalFd::new(&mask)?;
    let _raw = master.as_ref().map(|m| RawTerm::enter(m.as_raw_fd()));
    let child = Pid::from_raw(pid);
    loop {
        // Checked before each wait: init may have exited before we blocked SIGCHLD.
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => {}
            Err(nix::errno::Errno::ECHILD) => return Ok(255),
            Err(e) => return Err(e),
        }
        let mut fds = vec![libc::pollfd {
            fd: sfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(m) = &master {
            fds.push(libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            });
            fds.push(libc::pollfd {
                fd: m.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as _, -1) };
        if n < 0 {
            continue;
        }
        if fds[0].revents != 0 {
            if let Ok(Some(info)) = sfd.read_signal() {
                let sig = Signal::try_from(info.ssi_signo as i32).ok();
                match sig {
                    Some(Signal::SIGCHLD) | None => {}
                    Some(Signal::SIGWINCH) => {
                        if let (Some(m), Some(ws)) = (&master, console::get_winsize(0)) {
                            let _ = console::set_winsize(m.as_raw_fd(), ws.ws_row, ws.ws_col);
                        }
                    }
                    Some(s) => {
                        let _ = nix::sys::signal::kill(child, s);
                    }
                }
            }
        }
        if let Some(m) = &master {
            if fds[1].revents & libc::POLLIN != 0 && !copy(0, m.as_raw_fd()) {
                // Our stdin closed: stop watching it, keep the container's output.
                let _ = nix::unistd::close(0);
            }
            if fds[2].revents != 0 {
                copy(m.as_raw_fd(), 1);
            }
        }
    }
}

fn copy(from: i32, to: i32) -> bool {
    let mut buf = [0u8; 8192];
    match nix::unistd::read(from, &mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            let mut off = 0;
            while off < n {
                match nix::unistd::write(
                    unsafe { std::os::fd::BorrowedFd::borrow_raw(to) },
                    &buf[off..n],
                ) {
                    Ok(w) => off += w,
                    Err(_) => return false,
                }
            }
            true
        }
    }
}

/// Our terminal in raw mode for the life of the value, sized like the pty.
struct RawTerm(Option<nix::sys::termios::Termios>);

impl RawTerm {
    fn enter(master: i32) -> RawTerm {
        let stdin = std::io::stdin();
        let Ok(orig) = nix::sys::termios::tcgetattr(stdin.as_fd()) else {
            return RawTerm(None);
        };
        if let Some(ws) = console::get_winsize(0) {
            let _ = console::set_winsize(master, ws.ws_row, ws.ws_col);
        }
        let mut raw = orig.clone();
        nix::sys::termios::cfmakeraw(&mut raw);
        let _ =
            nix::sys::termios::tcsetattr(stdin.as_fd(), nix::sys::termios::SetArg::TCSANOW, &raw);
        RawTerm(Some(orig))
    }
}

impl Drop for RawTerm {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
    }
}
