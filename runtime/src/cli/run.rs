use super::create::CreateArgs;
use super::Global;
use crate::container::{create::create, delete::delete, start::start};
use crate::process::console;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the container has started.
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// Do not delete the container after it exits.
    #[arg(long)]
    pub keep: bool,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let root = g.root();
    let opts = a.create.opts(g);
    // With a terminal and nobody to hand the pty to, we are the console.
    let spec_terminal =
        crate::spec::load(&std::fs::canonicalize(&opts.bundle).unwrap_or(opts.bundle.clone()))
            .ok()
            .and_then(|s| s.process().as_ref().and_then(|p| p.terminal()))
            .unwrap_or(false);
    let mut ours = None;
    let mut theirs = None;
    if spec_terminal && !a.detach && opts.console_socket.is_none() {
        let (x, y) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::Stream,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )?;
        ours = Some(x);
        theirs = Some(y);
    }
    let c = create(&root, &opts, theirs)?;
    let pid = c.state.pid;
    let master = match &ours {
        Some(s) => Some(console::recv_fd(s.as_fd())?),
        None => None,
    };
    if let Err(e) = start(&c) {
        drop(c);
        let _ = delete(&root, &opts.id, true);
        return Err(e.into());
    }
    if a.detach {
        return Ok(0);
    }
    // Let `state`/`kill` from elsewhere work while we wait.
    drop(c);
    let code = wait(pid, master)?;
    if !a.keep {
        delete(&root, &opts.id, true)?;
    }
    Ok(code)
}

/// Waits for init (our child: it was cloned with CLONE_PARENT), forwarding
/// signals to it and, with a terminal, copying between our stdio and the pty.
fn wait(pid: i32, master: Option<OwnedFd>) -> anyhow::Result<i32> {
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
            Err(e) => return Err(e.into()),
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
