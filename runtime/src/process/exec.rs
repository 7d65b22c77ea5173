//! `exec`: a new process in a running container. Same shape as `create`
//! (a stage 1 that the parent puts in the cgroup, then a process cloned with
//! CLONE_PARENT), but joining the init's namespaces instead of making new ones.

use super::channel::{Channel, Msg};
use super::init::{chan_dup, fail};
use super::setup::{prepare_process, reset_signals};
use super::{console, ProcessError};
use crate::cgroups::{Cgroup, SelfJoin};
use crate::namespaces::{flag, NsError};
use crate::{seccomp, sys};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

pub struct ExecLaunch<'a> {
    pub process: &'a Process,
    /// The container's config (its namespaces and seccomp profile).
    pub spec: &'a Spec,
    pub init_pid: i32,
    pub console: Option<&'a OwnedFd>,
    pub preserve_fds: u32,
    /// For the seccomp agent's state: the container's id and bundle.
    pub id: &'a str,
    pub bundle: &'a std::path::Path,
}

const NS_FILES: [(LinuxNamespaceType, &str); 8] = [
    (LinuxNamespaceType::User, "user"),
    (LinuxNamespaceType::Ipc, "ipc"),
    (LinuxNamespaceType::Uts, "uts"),
    (LinuxNamespaceType::Network, "net"),
    (LinuxNamespaceType::Pid, "pid"),
    (LinuxNamespaceType::Cgroup, "cgroup"),
    (LinuxNamespaceType::Time, "time"),
    (LinuxNamespaceType::Mount, "mnt"),
];

/// The init's namespaces that differ from ours, opened now (user first, the
/// mount namespace last: joining it changes how paths resolve).
fn open_namespaces(init_pid: i32) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>, NsError> {
    let mut out = Vec::new();
    for (t, name) in NS_FILES {
        let theirs = PathBuf::from(format!("/proc/{init_pid}/ns/{name}"));
        let ours = PathBuf::from(format!("/proc/self/ns/{name}"));
        let (Ok(a), Ok(b)) = (std::fs::metadata(&theirs), std::fs::metadata(&ours)) else {
            continue;
        };
        if a.ino() == b.ino() && a.dev() == b.dev() {
            continue;
        }
        let fd = std::fs::File::open(&theirs).map_err(|e| NsError::Open {
            path: theirs.clone(),
            source: e,
        })?;
        out.push((t, fd.into()));
    }
    Ok(out)
}

/// Starts the process; returns its host pid once it is about to exec.
pub fn launch(l: &ExecLaunch, cgroup: Option<&Cgroup>) -> Result<i32, ProcessError> {
    let nss = open_namespaces(l.init_pid)?;
    // Compiled (and the listenerPath, a host path, connected) before anything
    // joins the container: a bad profile fails here with nothing started.
    let sc = match l.spec.linux().as_ref().and_then(|x| x.seccomp().as_ref()) {
        Some(profile) => Some(
            seccomp::prepare_profile(profile, l.process.no_new_privileges().unwrap_or(false))
                .map_err(|e| ProcessError::Init(format!("seccomp: {e}")))?,
        ),
        None => None,
    };
    let join = match cgroup {
        Some(cg) => cg.self_join(false)?,
        None => None,
    };
    let mut on_stage1 = |stage1: i32| -> Result<(), ProcessError> {
        if let Some(cg) = cgroup {
            cg.add_task(stage1)?;
        }
        Ok(())
    };
    // exec asks for no hooks.
    let mut no_hooks = |_: i32| Ok(());
    super::run_stages(
        |chan| stage1(l, &nss, sc.as_ref(), join.as_ref(), chan),
        &mut on_stage1,
        &mut no_hooks,
    )
}

fn stage1(
    l: &ExecLaunch,
    nss: &[(LinuxNamespaceType, OwnedFd)],
    sc: Option<&seccomp::Prepared>,
    join: Option<&SelfJoin>,
    chan: Channel,
) -> ! {
    let r = (|| -> Result<(), String> {
        if let Some(j) = join {
            j.join()
                .map_err(|e| format!("joining the container's cgroup: {e}"))?;
        }
        // Until it execs the user's program this process is the runtime's
        // binary inside the container: not dumpable, so no process there can
        // open /proc/<pid>/exe and reach the host binary (CVE-2019-5736).
        nix::sys::prctl::set_dumpable(false).map_err(|e| format!("prctl(PR_SET_DUMPABLE): {e}"))?;
        chan.send(&Msg::Stage1Ready).map_err(|e| e.to_string())?;
        match chan.recv() {
            Ok(Some(Msg::Ack)) => {}
            other => return Err(format!("waiting for the cgroup: {other:?}")),
        }
        for (t, fd) in nss {
            nix::sched::setns(fd.as_fd(), flag(*t))
                .map_err(|e| format!("joining the container's {t:?} namespace: {e}"))?;
        }
        // SAFETY: single-threaded child.
        let pid = unsafe { sys::clone_fork(libc::CLONE_PARENT as libc::c_ulong) }
            .map_err(|e| format!("clone: {e}"))?;
        if pid == 0 {
            let c = chan_dup(&chan);
            match process(l, sc, &c) {
                Ok(never) => match never {},
                Err(e) => fail(&c, e),
            }
        }
        chan.send(&Msg::InitPid(pid)).map_err(|e| e.to_string())
    })();
    match r {
        Ok(()) => unsafe { libc::_exit(0) },
        Err(e) => fail(&chan, e),
    }
}

enum Never {}

fn process(
    l: &ExecLaunch,
    sc: Option<&seccomp::Prepared>,
    chan: &Channel,
) -> Result<Never, String> {
    reset_signals();
    sys::cloexec_from(3u32.saturating_add(l.preserve_fds))
        .map_err(|e| format!("close_range: {e}"))?;
    let host_pid = match chan.recv() {
        Ok(Some(Msg::Go { host_pid })) => host_pid,
        other => return Err(format!("waiting to go: {other:?}")),
    };
    let state = |status: &str| {
        crate::container::state::hook_state(l.spec, l.id, status, host_pid, l.bundle)
    };
    if l.process.terminal().unwrap_or(false) {
        nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
        let sock = l
            .console
            .ok_or("terminal requested but no console socket")?;
        let size = l
            .process
            .console_size()
            .map(|b| (b.height() as u16, b.width() as u16));
        let (master, slave) = console::open_pty(size).map_err(|e| format!("creating pty: {e}"))?;
        console::send_fd(sock.as_fd(), "/dev/ptmx", master.as_fd())
            .map_err(|e| format!("sending pty master: {e}"))?;
        drop(master);
        console::attach_stdio(&slave).map_err(|e| format!("console as stdio: {e}"))?;
    }
    if let Some(sc) = sc {
        // Without no_new_privs loading needs CAP_SYS_ADMIN: before the drop.
        sc.install_at(seccomp::Stage::Privileged, host_pid, state)
            .map_err(|e| format!("seccomp: {e}"))?;
    }
    let exec = prepare_process(l.process)?;
    chan.send(&Msg::Ready).map_err(|e| e.to_string())?;
    if let Some(sc) = sc {
        if let Err(e) = sc.install_at(seccomp::Stage::BeforeExec, host_pid, state) {
            eprintln!("seccomp: {e}");
            unsafe { libc::_exit(1) }
        }
    }
    let err = nix::unistd::execve(&exec.path, &exec.args, &exec.env).unwrap_err();
    eprintln!("exec {:?} failed: {err}", exec.path);
    unsafe { libc::_exit(127) }
}
