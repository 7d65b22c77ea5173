//! Starting the container's init, parent side.
//!
//! No re-exec of the runtime: the runtime forks a short-lived stage 1 that
//! joins the cgroup (v1: by itself, see `cgroups::SelfJoin`), joins/creates
//! the namespaces (the parent writes its id maps and applies the resources),
//! then clones init with CLONE_PARENT so that init is the runtime's own child
//! (`run` can wait for it; under a subreaper like containerd's shim it is
//! reparented there when `create` exits). Init sets
//! up the rootfs and the process, reports `Ready`, and blocks on the exec
//! fifo until `start`.

pub mod channel;
pub mod console;
pub mod exec;
pub mod init;
pub mod setup;
pub mod wait;

use crate::cgroups::{Cgroup, CgroupError};
use crate::hooks::HookError;
use crate::namespaces::{self, NsError, Plan};
use channel::{Channel, Msg};
use oci_spec::runtime::Spec;
use std::os::fd::OwnedFd;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Ns(#[from] NsError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Hook(#[from] HookError),
    /// An error reported by the container's setup processes.
    #[error("unable to start container process: {0}")]
    Init(String),
    #[error("unable to start container process: container init exited before it was ready")]
    Died,
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> ProcessError + '_ {
    move |source| ProcessError::Io {
        what: what.to_string(),
        source,
    }
}

/// What the parent hands to the container's setup processes.
pub struct Launch<'a> {
    pub spec: &'a Spec,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    /// The exec fifo, opened O_RDWR; init blocks reading it until `start`.
    pub fifo: &'a OwnedFd,
    /// The start fifo, O_RDWR: init writes why it could not exec, and its
    /// closing at exec tells `start` that the process runs.
    pub reply: &'a OwnedFd,
    /// A connected console socket when `process.terminal` is set.
    pub console: Option<&'a OwnedFd>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
}

/// Starts init and waits until it is ready (or failed). `on_hooks` runs the
/// prestart and createRuntime hooks with init's pid when init asks for them.
/// Returns init's host pid.
pub fn launch(
    l: &Launch,
    cgroup: Option<&Cgroup>,
    on_hooks: &mut dyn FnMut(i32) -> Result<(), HookError>,
) -> Result<i32, ProcessError> {
    let plan = Plan::of(l.spec)?;
    let join = match cgroup {
        Some(cg) => cg.self_join(true)?,
        None => None,
    };
    let mut on_stage1 = |stage1: i32| -> Result<(), ProcessError> {
        if plan.new_user {
            namespaces::write_id_maps(stage1, l.spec)?;
        }
        if let Some(cg) = cgroup {
            cg.add_task(stage1)?;
        }
        Ok(())
    };
    run_stages(
        |chan| init::stage1(l, &plan, join.as_ref(), chan),
        &mut on_stage1,
        on_hooks,
    )
}

/// The parent side shared by `create` and `exec`: forks stage 1 (which runs
/// `stage1_main`), answers its requests over the sync channel — `on_stage1`
/// with stage 1's pid (id maps, cgroup), `on_hooks` with the final pid — and
/// returns that pid once the process is ready. On error nothing it started
/// survives: stage 1 may be blocked waiting for us, so it is killed too.
// The child arm never returns: `stage1_main` ends in _exit.
#[allow(unreachable_code)]
pub(crate) fn run_stages(
    stage1_main: impl FnOnce(Channel) -> std::convert::Infallible,
    on_stage1: &mut dyn FnMut(i32) -> Result<(), ProcessError>,
    on_hooks: &mut dyn FnMut(i32) -> Result<(), HookError>,
) -> Result<i32, ProcessError> {
    let (parent, child) = Channel::pair().map_err(io("creating sync socket"))?;
    // SAFETY: the runtime is single-threaded here.
    let stage1 = match unsafe { nix::unistd::fork() }.map_err(|e| io("fork")(e.into()))? {
        nix::unistd::ForkResult::Child => {
            drop(parent);
            match stage1_main(child) {}
        }
        nix::unistd::ForkResult::Parent { child: pid } => pid.as_raw(),
    };
    drop(child);
    let mut pid = None;
    let res = drive(&parent, stage1, &mut pid, on_stage1, on_hooks);
    let kill = |p: i32| {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    };
    if res.is_err() {
        kill(stage1);
    }
    // Stage 1 exits after cloning the process: reap it.
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(stage1), None);
    if let (Err(_), Some(p)) = (&res, pid) {
        kill(p);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(p), None);
    }
    res
}

fn drive(
    chan: &Channel,
    stage1: i32,
    pid: &mut Option<i32>,
    on_stage1: &mut dyn FnMut(i32) -> Result<(), ProcessError>,
    on_hooks: &mut dyn FnMut(i32) -> Result<(), HookError>,
) -> Result<i32, ProcessError> {
    loop {
        match chan.recv().map_err(io("reading sync socket"))? {
            Some(Msg::Stage1Ready) => {
                on_stage1(stage1)?;
                chan.send(&Msg::Ack).map_err(io("sync"))?;
            }
            Some(Msg::InitPid(p)) => {
                *pid = Some(p);
                chan.send(&Msg::Go { host_pid: p }).map_err(io("sync"))?;
            }
            Some(Msg::RunHooks) => {
                on_hooks(pid.ok_or(ProcessError::Died)?)?;
                chan.send(&Msg::HooksDone).map_err(io("sync"))?;
            }
            Some(Msg::Ready) => return pid.ok_or(ProcessError::Died),
            Some(Msg::Error(e)) => return Err(ProcessError::Init(e)),
            Some(other) => return Err(ProcessError::Init(format!("unexpected message {other:?}"))),
            None => return Err(ProcessError::Died),
        }
    }
}
