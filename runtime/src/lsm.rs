//! AppArmor profile and SELinux label for the container's process, set for
//! the coming exec through /proc/self/attr. Where the host has the LSM off,
//! runc goes on without it; so do we, and say so under --debug.

use crate::sys;
use oci_spec::runtime::Process;
use std::io::Write;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct LsmError {
    what: String,
    source: std::io::Error,
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Writes to a /proc/self/attr file after checking it is on procfs (a
/// container's mounts must not redirect the write).
fn write_attr(rel: &str, value: &str) -> Result<(), LsmError> {
    let err = |source| LsmError {
        what: format!("writing /proc/self/{rel}"),
        source,
    };
    let root = unsafe { std::os::fd::BorrowedFd::borrow_raw(libc::AT_FDCWD) };
    let fd = sys::openat2(
        root,
        &Path::new("/proc/self").join(rel),
        libc::O_WRONLY,
        0,
        sys::RESOLVE_NO_MAGICLINKS,
    )
    .map_err(err)?;
    let st = nix::sys::statfs::fstatfs(&fd).map_err(|e| err(e.into()))?;
    if st.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(err(std::io::Error::other("not on procfs")));
    }
    std::fs::File::from(fd)
        .write_all(value.as_bytes())
        .map_err(err)
}

pub fn apply(p: &Process) -> Result<(), LsmError> {
    if let Some(profile) = p.apparmor_profile().as_deref().filter(|s| !s.is_empty()) {
        if apparmor_enabled() {
            let value = format!("exec {profile}");
            write_attr("attr/apparmor/exec", &value)
                .or_else(|_| write_attr("attr/exec", &value))?;
        } else {
            crate::log::debug(&format!(
                "apparmorProfile {profile:?} ignored: AppArmor is not enabled on this host"
            ));
        }
    }
    if let Some(label) = p.selinux_label().as_deref().filter(|s| !s.is_empty()) {
        if selinux_enabled() {
            write_attr("attr/exec", label)?;
        } else {
            crate::log::debug(&format!(
                "selinuxLabel {label:?} ignored: SELinux is not enabled on this host"
            ));
        }
    }
    Ok(())
}
