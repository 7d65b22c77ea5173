//! The sync channel between the runtime (parent) and the container's setup
//! processes: one JSON message per SOCK_SEQPACKET packet.

use serde::{Deserialize, Serialize};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Msg {
    /// Stage 1 has joined/unshared the user namespace: write its id maps and
    /// put it into the container's cgroup, then `Ack`.
    Stage1Ready,
    Ack,
    /// Stage 1 cloned the container's init: its pid as the host sees it.
    InitPid(i32),
    /// The parent knows the init's pid; init may go on. Carries that pid so
    /// that hooks run by init get the right state.
    Go {
        host_pid: i32,
    },
    /// Init has finished its mounts: run prestart and createRuntime hooks.
    RunHooks,
    HooksDone,
    /// Init is set up and now waits for `start`.
    Ready,
    Error(String),
}

pub struct Channel(pub OwnedFd);

impl Channel {
    pub fn pair() -> io::Result<(Channel, Channel)> {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        Ok((Channel(a), Channel(b)))
    }

    pub fn send(&self, msg: &Msg) -> io::Result<()> {
        let buf = serde_json::to_vec(msg).map_err(io::Error::other)?;
        let n = nix::unistd::write(self.0.as_fd(), &buf).map_err(io::Error::from)?;
        if n != buf.len() {
            return Err(io::Error::other("short write on sync channel"));
        }
        Ok(())
    }

    /// The next message; `None` when the other side closed without a word
    /// (it died).
    pub fn recv(&self) -> io::Result<Option<Msg>> {
        let mut buf = vec![0u8; 1 << 16];
        let n = loop {
            match nix::unistd::read(self.0.as_raw_fd(), &mut buf) {
                Ok(n) => break n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(Some)
            .map_err(io::Error::other)
    }
}
