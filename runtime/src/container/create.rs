//! `create`: claim the id, set everything up, leave init waiting for `start`.

use super::state::{live_start_time, State};
use super::{io_err, lock_dir, validate_id, Container, ContainerError, FIFO};
use crate::cgroups::{self, Cgroup};
use crate::container::state::hook_state;
use crate::process::{self, Launch};
use crate::{hooks, spec};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone)]
pub struct CreateOpts {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub systemd_cgroup: bool,
}

/// Creates the container. `console` is a socket that receives the pty master
/// (`run` passes its own; otherwise `--console-socket` is connected).
pub fn create(
    root: &Path,
    o: &CreateOpts,
    console: Option<OwnedFd>,
) -> Result<Container, ContainerError> {
    validate_id(&o.id)?;
    let bundle = std::fs::canonicalize(&o.bundle)
        .map_err(io_err(format!("bundle {}", o.bundle.display())))?;
    let spec = spec::load(&bundle)?;
    let rootfs = spec::rootfs_path(&spec, &bundle)?;
    if crate::sealed::needed(&spec, false) {
        crate::sealed::ensure().map_err(|e| ContainerError::Other(e.to_string()))?;
    }
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if o.console_socket.is_some() && !terminal {
        return Err(ContainerError::Other(
            "cannot use console socket if oxrun will not detach or allocate tty".into(),
        ));
    }
    let console = match (console, &o.console_socket) {
        (Some(c), _) => Some(c),
        (None, Some(path)) => Some(
            std::os::unix::net::UnixStream::connect(path)
                .map_err(io_err(format!(
                    "connecting to console socket {}",
                    path.display()
                )))?
                .into(),
        ),
        (None, None) if terminal => {
            return Err(ContainerError::Other(
                "cannot allocate tty if oxrun will detach without setting console socket".into(),
            ))
        }
        (None, None) => None,
    };

    std::fs::create_dir_all(root).map_err(io_err(format!("creating root {}", root.display())))?;
    let dir = root.join(&o.id);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(ContainerError::Exists(o.id.clone()))
        }
        Err(e) => return Err(io_err(format!("creating {}", dir.display()))(e)),
    }
    let lock = lock_dir(&dir, true).map_err(io_err("locking state dir"))?;
    let mut cgroup = None;
    let res = setup(&dir, o, &bundle, &rootfs, spec, console, &mut cgroup);
    match res {
        Ok(state) => Ok(Container {
            dir,
            state,
            _lock: lock,
        }),
        Err(e) => {
            // A failed create leaves nothing behind.
            if let Some(cg) = cgroup {
                let _ = cg.remove();
            }
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

fn setup(
    dir: &Path,
    o: &CreateOpts,
    bundle: &Path,
    rootfs: &Path,
    spec: oci_spec::runtime::Spec,
    console: Option<OwnedFd>,
    cgroup_out: &mut Option<Cgroup>,
) -> Result<State, ContainerError> {
    let fifo_path = dir.join(FIFO);
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| io_err("creating exec fifo")(e.into()))?;
    // O_RDWR never blocks on a fifo; init keeps this fd and blocks reading it.
    let fifo: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo_path)
        .map_err(io_err("opening exec fifo"))?
        .into();

    // init → `start`: a startContainer hook's failure, or EOF once init has
    // exec'd (the fd is close-on-exec) so `start` returns after the exec.
    let reply_path = dir.join(super::REPLY_FIFO);
    nix::unistd::mkfifo(&reply_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| io_err("creating start fifo")(e.into()))?;
    let reply: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&reply_path)
        .map_err(io_err("opening start fifo"))?
        .into();

    let cg_path = cgroups::resolve(
        spec.linux()
            .as_ref()
            .and_then(|l| l.cgroups_path().as_deref()),
        &o.id,
        o.systemd_cgroup,
    )?;
    let cg = Cgroup::open(&cg_path, &o.id, o.systemd_cgroup)?;
    // Limits in force before init runs user code: applied when stage 1 joins.
    cg.apply_on_join(spec.linux().as_ref().and_then(|l| l.resources().as_ref()));
    let cg = cgroup_out.insert(cg);

    let launch = Launch {
        spec: &spec,
        id: &o.id,
        bundle,
        rootfs,
        fifo: &fifo,
        reply: &reply,
        console: console.as_ref(),
        no_pivot: o.no_pivot,
        preserve_fds: o.preserve_fds,
    };
    let hooks_cfg = spec.hooks().clone().unwrap_or_default();
    let mut on_hooks = |pid: i32| -> Result<(), hooks::HookError> {
        let st = hook_state(&spec, &o.id, "creating", pid, bundle);
        if let Some(h) = hooks_cfg.prestart() {
            hooks::run("prestart", h, &st)?;
        }
        if let Some(h) = hooks_cfg.create_runtime() {
            hooks::run("createRuntime", h, &st)?;
        }
        Ok(())
    };
    let pid = process::launch(&launch, Some(cg), &mut on_hooks)?;
    drop(fifo);
    drop(reply);

    let state = State {
        id: o.id.clone(),
        pid,
        pid_start: live_start_time(pid).unwrap_or(0),
        bundle: bundle.to_path_buf(),
        rootfs: rootfs.to_path_buf(),
        created: crate::log::rfc3339_now(),
        owner: String::new(),
        cgroup_path: cg_path,
        systemd_cgroup: o.systemd_cgroup,
        config: spec.clone(),
    };
    let saved = state
        .save(dir)
        .map_err(io_err("writing state"))
        .and_then(|()| match &o.pid_file {
            Some(p) => write_pid_file(p, pid),
            None => Ok(()),
        });
    if let Err(e) = saved {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        return Err(e);
    }
    Ok(state)
}

/// The pid file appears whole or not at all (containerd polls for it).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<(), ContainerError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, pid.to_string())
        .map_err(io_err(format!("writing pid file {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(io_err(format!("writing pid file {}", path.display())))
}
