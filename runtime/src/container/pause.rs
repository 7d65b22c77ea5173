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
