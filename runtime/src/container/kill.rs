//! `kill`: a signal to init, or with `--all` to every process in the cgroup.

use super::state::Status;
use super::{Container, ContainerError};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

pub fn kill(c: &Container, sig: Signal, all: bool) -> Result<(), ContainerError> {
    let status = c.status();
    if status == Status::Stopped {
        // containerd sends `kill --all` after init exited: not an error.
        return if all {
            Ok(())
        } else {
            Err(ContainerError::WrongState("container not running".into()))
        };
    }
    if all {
        let pids = c.cgroup().and_then(|cg| cg.pids()).unwrap_or_default();
        for p in pids {
            let _ = nix::sys::signal::kill(Pid::from_raw(p), sig);
        }
    }
    nix::sys::signal::kill(Pid::from_raw(c.state.pid), sig)
        .map_err(|e| ContainerError::Other(format!("sending {sig} to container init: {e}")))?;
    // A frozen process cannot act on the signal: thaw it so it dies (runc).
    super::pause::thaw_after_kill(c, status, sig, all)
}
