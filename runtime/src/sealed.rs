//! Keeping the runtime's binary out of a container's reach when
//! non-dumpable is not enough (CVE-2019-5736 class).
//!
//! Init and exec'd processes are the runtime's binary until their execve, and
//! non-dumpable, which keeps container processes out of /proc/<pid>/exe —
//! unless they hold CAP_SYS_PTRACE (outside a user namespace). For such
//! containers the command re-executes itself once from a read-only detached
//! bind of its own binary: /proc/<pid>/exe then leads to a file that cannot be
//! opened for writing (EROFS). No copy of the binary, one extra execve, and
//! only for the containers that need it.

use crate::sys;
use oci_spec::runtime::{Capability, LinuxCapabilities, LinuxNamespaceType, Spec};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;

/// Set in the environment of the re-executed command, so it runs on.
const MARK: &str = "_OXRUN_SEALED";

#[derive(Debug, thiserror::Error)]
#[error("re-executing from a read-only bind of the runtime binary: {0}")]
pub struct SealError(std::io::Error);

/// Can a process in this container trace ours? It needs CAP_SYS_PTRACE over
/// our user namespace: only a container without its own user namespace,
/// whose capabilities (or `extra`, e.g. `exec --cap`) include it.
pub fn needed(spec: &Spec, extra: bool) -> bool {
    let userns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|n| n.typ() == LinuxNamespaceType::User));
    if userns {
        return false;
    }
    extra
        || grants_ptrace(
            spec.process()
                .as_ref()
                .and_then(|p| p.capabilities().as_ref()),
        )
}

/// Does any set of `caps` hold CAP_SYS_PTRACE?
pub fn grants_ptrace(caps: Option<&LinuxCapabilities>) -> bool {
    caps.is_some_and(|c| {
        [
            c.bounding(),
            c.effective(),
            c.permitted(),
            c.inheritable(),
            c.ambient(),
        ]
        .iter()
        .any(|s| {
            s.as_ref()
                .is_some_and(|s| s.contains(&Capability::SysPtrace))
        })
    })
}

/// Re-executes this command from a read-only bind of its binary, unless it
/// already runs from one. Returns only when nothing needs doing.
pub fn ensure() -> Result<(), SealError> {
    if std::env::var_os(MARK).is_some() {
        return Ok(());
    }
    let err = SealError;
    let exe = std::fs::File::open("/proc/self/exe").map_err(err)?;
    let tree = sys::open_tree_clone(exe.as_fd(), false).map_err(err)?;
    let attr = sys::MountAttr {
        attr_set: sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOSUID,
        ..Default::default()
    };
    sys::mount_setattr(tree.as_fd(), false, &attr).map_err(err)?;
    let cstr = |b: &[u8]| {
        CString::new(b).map_err(|_| err(std::io::Error::from_raw_os_error(libc::EINVAL)))
    };
    let args: Vec<CString> = std::env::args_os()
        .map(|a| cstr(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    let mut env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| cstr(&[k.as_bytes(), b"=", v.as_bytes()].concat()))
        .collect::<Result<_, _>>()?;
    env.push(cstr(format!("{MARK}=1").as_bytes())?);
    crate::log::debug("re-executing from a read-only bind of the runtime binary");
    let e = nix::unistd::execveat(
        Some(tree.as_raw_fd()),
        c"",
        &args,
        &env,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
    .unwrap_err();
    Err(err(e.into()))
}
