//! What the runtime keeps about a container under `--root/<id>/state.json`,
//! and the runtime-spec state it reports.

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The runtime-spec version whose state format we report.
pub const OCI_VERSION: &str = "1.2.1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    /// Host pid of the container's init.
    pub pid: i32,
    /// Its start time (clock ticks since boot, /proc/<pid>/stat field 22):
    /// a recycled pid has another, so we never signal a stranger.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339, as runc writes it.
    pub created: String,
    pub owner: String,
    pub cgroup_path: PathBuf,
    pub systemd_cgroup: bool,
    /// The config the container was created from (hooks at start and delete,
    /// annotations, and whether `process` exists).
    pub config: Spec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

impl State {
    pub fn load(dir: &Path) -> std::io::Result<State> {
        let data = std::fs::read(dir.join("state.json"))?;
        serde_json::from_slice(&data).map_err(std::io::Error::other)
    }

    /// Written to a temporary file and renamed over, so a reader never sees
    /// half a state. Not fsynced: the state describes live processes, which a
    /// machine crash ends anyway (and --root is a tmpfs as a rule).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(".state.json.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(self).map_err(std::io::Error::other)?)?;
        std::fs::rename(&tmp, dir.join("state.json"))
    }

    /// The runtime-spec state object with runc's extra fields.
    pub fn oci(&self, status: Status) -> serde_json::Value {
        let pid = if status == Status::Stopped {
            0
        } else {
            self.pid
        };
        let mut v = serde_json::json!({
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "pid": pid,
            "status": status,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if let Some(a) = self.config.annotations().as_ref().filter(|a| !a.is_empty()) {
            v["annotations"] = serde_json::to_value(a).unwrap_or_default();
        }
        v
    }
}

/// The state JSON given to hooks on stdin.
pub fn hook_state(spec: &Spec, id: &str, status: &str, pid: i32, bundle: &Path) -> String {
    let annotations: HashMap<String, String> = spec.annotations().clone().unwrap_or_default();
    let mut v = serde_json::json!({
        "ociVersion": OCI_VERSION,
        "id": id,
        "status": status,
        "bundle": bundle,
        "annotations": annotations,
    });
    // A stopped container has no process: the pid is left out, as runc does.
    if pid > 0 {
        v["pid"] = pid.into();
    }
    v.to_string()
}

/// Start time of a process, or None if it is gone or a zombie.
pub fn live_start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parens: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}
