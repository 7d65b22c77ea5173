//! The container handle: where its state lives, its lock, its status, and
//! the lifecycle operations (one file each).

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod kill;
pub mod pause;
pub mod ps;
pub mod start;
pub mod state;
pub mod update;

use crate::cgroups::CgroupError;
use crate::hooks::HookError;
use crate::process::ProcessError;
use crate::spec::SpecError;
use state::{State, Status};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("container does not exist")]
    NotExist,
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("invalid id format: {0}")]
    InvalidId(String),
    #[error("{0}")]
    WrongState(String),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

pub fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ContainerError {
    let what = what.into();
    move |source| ContainerError::Io { what, source }
}

/// runc's rule: letters, digits, `_`, `+`, `-`, `.`; not `.` or `..`.
pub fn validate_id(id: &str) -> Result<(), ContainerError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ContainerError::InvalidId(id.to_string()))
    }
}

/// A container whose state directory is locked for the life of this value:
/// two commands on one id never interleave.
pub struct Container {
    pub dir: PathBuf,
    pub state: State,
    _lock: OwnedFd,
}

/// Locks a container's state directory. A POSIX record lock on `dir/lock`:
/// unlike flock, it is not shared with the forked container processes (an
/// init blocked until `start` must not hold the container's lock), and the
/// kernel drops it if we die.
pub fn lock_dir(dir: &Path, create: bool) -> std::io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    if !dir.is_dir() {
        return Err(std::io::Error::from(std::io::ErrorKind::NotFound));
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .mode(0o600)
        .open(dir.join("lock"))?;
    let fl = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    while unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLKW, &fl) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(f.into())
}

impl Container {
    pub fn load(root: &Path, id: &str) -> Result<Container, ContainerError> {
        validate_id(id)?;
        let dir = root.join(id);
        let lock = match lock_dir(&dir, false) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NotExist)
            }
            Err(e) => return Err(io_err(format!("locking {}", dir.display()))(e)),
        };
        // The directory may have been deleted while we waited for the lock.
        let state = match State::load(&dir) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NotExist)
            }
            Err(e) => return Err(io_err(format!("reading state of {id}"))(e)),
        };
        Ok(Container {
            dir,
            state,
            _lock: lock,
        })
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.dir.join(FIFO)
    }

    /// Derived from the live process each time, never stored: created while
    /// the exec fifo exists, running after, stopped once init is gone (or its
    /// pid belongs to another process now).
    pub fn status(&self) -> Status {
        status_of(&self.dir, &self.state)
    }

    pub fn cgroup(&self) -> Result<crate::cgroups::Cgroup, CgroupError> {
        crate::cgroups::Cgroup::open(
            &self.state.cgroup_path,
            &self.state.id,
            self.state.systemd_cgroup,
        )
    }
}

pub const FIFO: &str = "exec.fifo";
pub const REPLY_FIFO: &str = "start.fifo";

pub fn status_of(dir: &Path, st: &State) -> Status {
    match state::live_start_time(st.pid) {
        Some(t) if t == st.pid_start => {
            // Paused first, as runc: a frozen created container is paused.
            if crate::cgroups::is_frozen(&st.cgroup_path, st.systemd_cgroup) {
                Status::Paused
            } else if dir.join(FIFO).exists() {
                Status::Created
            } else {
                Status::Running
            }
        }
        _ => Status::Stopped,
    }
}

/// Every container under `root`, with its status (for `list`).
pub fn list(root: &Path) -> Vec<(State, Status)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root) else {
        return out;
    };
    let mut names: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    for id in names {
        // No lock: `list` must not wait behind a `create` in progress.
        let dir = root.join(&id);
        if let Ok(s) = State::load(&dir) {
            let st = status_of(&dir, &s);
            out.push((s, st));
        }
    }
    out
}
