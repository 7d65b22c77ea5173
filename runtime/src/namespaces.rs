//! Namespaces: which to create, which to join by path, in what order.

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum NsError {
    #[error("cannot open namespace {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot join {kind:?} namespace {path}: {source}")]
    Join {
        kind: LinuxNamespaceType,
        path: PathBuf,
        source: nix::Error,
    },
    #[error("cannot create namespaces ({flags:?}): {source}")]
    Unshare {
        flags: CloneFlags,
        source: nix::Error,
    },
    #[error("writing {what}: {source}")]
    Write {
        what: String,
        source: std::io::Error,
    },
}

pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The namespace plan of a spec.
pub struct Plan {
    /// Namespaces to join, opened up front (before joining any of them
    /// changes how paths resolve), user namespace first.
    pub join: Vec<(LinuxNamespaceType, PathBuf, OwnedFd)>,
    pub new_user: bool,
    /// Every other namespace to create.
    pub new: CloneFlags,
}

impl Plan {
    pub fn of(spec: &Spec) -> Result<Plan, NsError> {
        let mut plan = Plan {
            join: vec![],
            new_user: false,
            new: CloneFlags::empty(),
        };
        let nss = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        for ns in nss {
            match ns.path() {
                Some(p) => {
                    let fd = std::fs::File::open(p).map_err(|e| NsError::Open {
                        path: p.clone(),
                        source: e,
                    })?;
                    plan.join.push((ns.typ(), p.clone(), fd.into()));
                }
                None if ns.typ() == LinuxNamespaceType::User => plan.new_user = true,
                None => plan.new |= flag(ns.typ()),
            }
        }
        plan.join
            .sort_by_key(|(t, _, _)| *t != LinuxNamespaceType::User);
        Ok(plan)
    }

    pub fn join_all(&self) -> Result<(), NsError> {
        for (t, p, fd) in &self.join {
            nix::sched::setns(fd.as_fd(), flag(*t)).map_err(|e| NsError::Join {
                kind: *t,
                path: p.clone(),
                source: e,
            })?;
        }
        Ok(())
    }

    /// Creates the new namespaces among `which`.
    pub fn unshare(&self, which: CloneFlags) -> Result<(), NsError> {
        let flags = self.new & which;
        if flags.is_empty() {
            return Ok(());
        }
        nix::sched::unshare(flags).map_err(|e| NsError::Unshare { flags, source: e })
    }
}

/// Writes the container's id maps into a process's user namespace (done by
/// the parent, which has the privilege the child lacks).
pub fn write_id_maps(pid: i32, spec: &Spec) -> Result<(), NsError> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    for (file, maps) in [
        ("uid_map", linux.uid_mappings()),
        ("gid_map", linux.gid_mappings()),
    ] {
        let Some(maps) = maps else { continue };
        let text: String = maps
            .iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect();
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text.as_bytes()).map_err(|e| NsError::Write {
            what: path,
            source: e,
        })?;
    }
    Ok(())
}

/// Time namespace offsets, written before any process enters the namespace.
pub fn write_time_offsets(spec: &Spec) -> Result<(), NsError> {
    let Some(offsets) = spec.linux().as_ref().and_then(|l| l.time_offsets().clone()) else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in offsets {
        text += &format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        );
    }
    std::fs::write("/proc/self/timens_offsets", text).map_err(|e| NsError::Write {
        what: "/proc/self/timens_offsets".into(),
        source: e,
    })
}

/// A fresh network namespace has `lo` down; runc brings it up.
pub fn loopback_up() -> std::io::Result<()> {
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo\0".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    let res = unsafe {
        if libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(sock, libc::SIOCSIFFLAGS, &req) < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        }
    };
    unsafe { libc::close(sock) };
    res
}
