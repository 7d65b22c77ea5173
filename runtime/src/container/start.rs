//! `start`: release init from the exec fifo, then run poststart hooks.

use super::state::{hook_state, Status};
use super::{io_err, Container, ContainerError};
use crate::hooks;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

pub fn start(c: &Container) -> Result<(), ContainerError> {
    match c.status() {
        Status::Created => {}
        Status::Stopped => {
            return Err(ContainerError::WrongState(
                "cannot start a container that has stopped".into(),
            ))
        }
        Status::Running | Status::Paused => {
            return Err(ContainerError::WrongState(
                "cannot start an already running container".into(),
            ))
        }
        Status::Creating => {
            return Err(ContainerError::WrongState(
                "cannot start a container that is being created".into(),
            ))
        }
    }
    if c.state.config.process().is_none() {
        return Err(ContainerError::WrongState(
            "cannot start a container without a process (config.json has no \"process\")".into(),
        ));
    }
    let fifo = c.fifo_path();
    // Non-blocking: with no reader (init died) this fails at once with ENXIO
    // instead of hanging.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENXIO) => {
                ContainerError::WrongState("cannot start a container that has stopped".into())
            }
            _ => io_err("opening exec fifo")(e),
        })?;
    // Opened before init is released, so that we see everything it writes;
    // EOF comes when init's end closes at exec (or at its death).
    let reply_path = c.dir.join(super::REPLY_FIFO);
    let mut reply = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&reply_path)
        .map_err(io_err("opening start fifo"))?;
    nix::fcntl::fcntl(
        reply.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
    )
    .map_err(|e| io_err("start fifo")(e.into()))?;
    f.write_all(b"0").map_err(io_err("writing exec fifo"))?;
    drop(f);
    let mut why = String::new();
    reply
        .read_to_string(&mut why)
        .map_err(io_err("reading start fifo"))?;
    let _ = std::fs::remove_file(&fifo);
    let _ = std::fs::remove_file(&reply_path);
    if !why.is_empty() {
        return Err(ContainerError::Other(format!(
            "unable to start container process: {why}"
        )));
    }

    if let Some(h) = c
        .state
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststart().clone())
    {
        let st = hook_state(
            &c.state.config,
            &c.state.id,
            "running",
            c.state.pid,
            &c.state.bundle,
        );
        // The spec: a failing poststart hook is logged as a warning and the
        // lifecycle goes on as if it had succeeded.
        hooks::run_warn("poststart", &h, &st);
    }
    Ok(())
}
