//! `delete`: stop what is left, remove the cgroup, run poststop hooks,
//! forget the container.

use super::state::{hook_state, live_start_time, Status};
use super::{Container, ContainerError};
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
    match c.status() {
        Status::Stopped => {}
        // runc deletes a created container (containerd relies on it).
        Status::Created | Status::Creating => kill_and_wait(&c),
        s @ (Status::Running | Status::Paused) => {
            if !force {
                return Err(ContainerError::WrongState(format!(
                    "cannot delete container {id} that is not stopped: {s}"
                )));
            }
            kill_and_wait(&c);
        }
    }
    destroy(&c)
}

/// SIGKILL to everything in the container, then wait (bounded) for init to
/// be gone. Init is usually not our child, so we poll; a zombie counts as gone.
fn kill_and_wait(c: &Container) {
    let cg = c.cgroup().ok();
    if let Some(cg) = &cg {
        // A frozen cgroup would hold the SIGKILL until thawed.
        thaw(&c.state.cgroup_path);
        for p in cg.pids().unwrap_or_default() {
            let _ = nix::sys::signal::kill(Pid::from_raw(p), Signal::SIGKILL);
        }
    }
    let _ = nix::sys::signal::kill(Pid::from_raw(c.state.pid), Signal::SIGKILL);
    wait_gone(c.state.pid, c.state.pid_start);
}

fn thaw(cgroup: &Path) {
    let rel = cgroup.strip_prefix("/").unwrap_or(cgroup);
    let _ = std::fs::write(
        Path::new("/sys/fs/cgroup/freezer")
            .join(rel)
            .join("freezer.state"),
        "THAWED",
    );
    let _ = std::fs::write(
        Path::new("/sys/fs/cgroup").join(rel).join("cgroup.freeze"),
        "0",
    );
}

fn wait_gone(pid: i32, start: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut nap = Duration::from_micros(100);
    while live_start_time(pid) == Some(start) && Instant::now() < deadline {
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(50));
    }
}

fn destroy(c: &Container) -> Result<(), ContainerError> {
    if let Ok(cg) = c.cgroup() {
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
