//! `pause` / `resume`: the freezer, with runc's checks and wording.

use super::state::Status;
use super::{Container, ContainerError};

pub fn pause(c: &Container) -> Result<(), ContainerError> {
    match c.status() {
        // runc freezes a created container too.
        Status::Running | Status::Created => Ok(c.cgroup()?.freeze()?),
        _ => Err(ContainerError::WrongState("container not running".into())),
    }
}

pub fn resume(c: &Container) -> Result<(), ContainerError> {
    if c.status() != Status::Paused {
        return Err(ContainerError::WrongState("container not paused".into()));
    }
    Ok(c.cgroup()?.thaw()?)
}

/// runc's rule after `kill` of a paused container: a frozen task does not
/// die until thawed, so SIGKILL thaws the cgroup, and `--all` (which runc
/// sends inside a freeze/thaw pair) leaves it thawed too. `was` is the
/// status before the signal. `kill` calls it after signalling.
pub fn thaw_after_kill(
    c: &Container,
    was: Status,
    sig: nix::sys::signal::Signal,
    all: bool,
) -> Result<(), ContainerError> {
    if was == Status::Paused && (all || sig == nix::sys::signal::Signal::SIGKILL) {
        c.cgroup()?.thaw()?;
    }
    Ok(())
}
