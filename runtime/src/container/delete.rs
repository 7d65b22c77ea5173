//! `delete`: stop what is left, remove the cgroup, run poststop hooks,
//! forget the container.

use super::state::{hook_state, live_start_time, Status};
use super::{Container, ContainerError};
use crate::cgroups::Cgroup;
use crate::{hooks, log};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::path::Path;
use std::time::{Duration, Instant};

pub fn delete(root: &Path, id: &str, force: bool) -> Result<(), ContainerError> {
    let c = match Container::load(root, id) {
        Ok(c) => c,
        Err(ContainerError::NotExist) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    // Opened once for the kill and the removal (each open reads mountinfo).
    let cg = c.cgroup().ok();
    match c.status() {
        Status::Stopped => {}
        // runc deletes a created container (containerd relies on it).
        Status::Created | Status::Creating => kill_and_wait(&c, cg.as_ref()),
        s @ (Status::Running | Status::Paused) => {
            if !force {
                return Err(ContainerError::WrongState(format!(
                    "cannot delete container {id} that is not stopped: {s}"
                )));
            }
            kill_and_wait(&c, cg.as_ref());
        }
    }
    destroy(&c, cg.as_ref())
}

/// SIGKILL to everything in the container, then wait (bounded) for init to
/// be gone. Init is usually not our child, so we poll; a zombie counts as gone.
fn kill_and_wait(c: &Container, cg: Option<&Cgroup>) {
    if let Some(cg) = cg {
        // A frozen cgroup would hold the SIGKILL until thawed.
        let _ = cg.thaw();
        for p in cg.pids().unwrap_or_default() {
            let _ = nix::sys::signal::kill(Pid::from_raw(p), Signal::SIGKILL);
        }
    }
    let _ = nix::sys::signal::kill(Pid::from_raw(c.state.pid), Signal::SIGKILL);
    wait_gone(c.state.pid, c.state.pid_start);
}

fn wait_gone(pid: i32, start: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut nap = Duration::from_micros(100);
    while live_start_time(pid) == Some(start) && Instant::now() < deadline {
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(50));
    }
}

fn destroy(c: &Container, cg: Option<&Cgroup>) -> Result<(), ContainerError> {
    if let Some(cg) = cg {
        // Without a private pid namespace other processes outlive init.
        let pids = cg.pids().unwrap_or_default();
        if !pids.is_empty() {
            for p in &pids {
                let _ = nix::sys::signal::kill(Pid::from_raw(*p), Signal::SIGKILL);
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while !cg.pids().unwrap_or_default().is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if let Err(e) = cg.remove() {
            log::warn(&format!("removing cgroup: {e}"));
        }
    }
    if let Some(h) = c
        .state
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststop().clone())
    {
        let st = hook_state(&c.state.config, &c.state.id, "stopped", 0, &c.state.bundle);
        // The spec: a failing poststop hook is logged, and deletion goes on.
        hooks::run_warn("poststop", &h, &st);
    }
    std::fs::remove_dir_all(&c.dir).map_err(super::io_err(format!("removing {}", c.dir.display())))
}
