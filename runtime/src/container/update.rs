//! `update`: merge a partial LinuxResources into the container's and apply
//! it live. The stored config changes only when the cgroup took it.

use super::state::Status;
use super::{io_err, Container, ContainerError};
use crate::cgroups::resources;
use serde_json::Value;

/// `patch` is a (partial) LinuxResources JSON: only the fields it names
/// change. On failure the previous resources are applied again.
pub fn update(c: &mut Container, patch: &Value) -> Result<(), ContainerError> {
    if c.status() == Status::Stopped {
        return Err(ContainerError::WrongState("container not running".into()));
    }
    let current = c
        .state
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let merged = resources::merge(&current, patch)?;
    let cg = c.cgroup()?;
    cg.check_before_update(&merged)?;
    // Device rules are not re-applied: runc's update leaves them alone, and
    // rewriting them on v1 would briefly deny devices to a live container.
    let live = |r: &oci_spec::runtime::LinuxResources| {
        let mut r = r.clone();
        r.set_devices(None);
        r
    };
    if let Err(e) = cg.apply(&live(&merged)) {
        let _ = cg.apply(&live(&current));
        return Err(e.into());
    }
    let mut linux = c.state.config.linux().clone().unwrap_or_default();
    linux.set_resources(Some(merged));
    c.state.config.set_linux(Some(linux));
    c.state.save(&c.dir).map_err(io_err("writing state"))
}
