//! What a runtime's `features` advertises that no test of this suite checks.

use crate::runtime::Runtime;
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// (JSON pointer in `features`, the items the suite's tests verify).
const COVERED: &[(&str, &[&str])] = &[
    (
        "/hooks",
        &[
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop",
        ],
    ),
    (
        "/linux/namespaces",
        &[
            "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time",
        ],
    ),
    (
        "/mountOptions",
        &[
            "ro",
            "rw",
            "nosuid",
            "nodev",
            "noexec",
            "noatime",
            "bind",
            "rbind",
            "rprivate",
            "rshared",
            "runbindable",
        ],
    ),
    (
        "/linux/capabilities",
        &[
            "CAP_AUDIT_WRITE",
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_FSETID",
            "CAP_KILL",
            "CAP_MKNOD",
            "CAP_NET_BIND_SERVICE",
            "CAP_NET_RAW",
            "CAP_SETFCAP",
            "CAP_SETGID",
            "CAP_SETPCAP",
            "CAP_SETUID",
            "CAP_SYS_CHROOT",
        ],
    ),
    (
        "/linux/seccomp/actions",
        &["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL"],
    ),
    ("/linux/seccomp/operators", &[]),
    (
        "/linux/seccomp/archs",
        &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    ),
];

/// A report of advertised items without a test; Ok(true) if all are covered.
pub fn report(runtime: &Path) -> Result<(String, bool)> {
    let scratch = std::env::temp_dir().join(format!("oci-conformance-cov-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let rt = Runtime {
        path: runtime.to_path_buf(),
        root: scratch.clone(),
        scratch: scratch.clone(),
        timeout: Duration::from_secs(10),
    };
    let out = rt.exec(&["features"]);
    let _ = std::fs::remove_dir_all(&scratch);
    let out = out?;
    if !out.success() {
        bail!("no features: {}", out.describe());
    }
    let f: Value = serde_json::from_str(&out.stdout).context("features output is not JSON")?;
    let mut text = String::new();
    let mut all = true;
    for (ptr, covered) in COVERED {
        let Some(list) = f.pointer(ptr).and_then(Value::as_array) else {
            continue;
        };
        let items: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
        let missing: Vec<&str> = items
            .iter()
            .copied()
            .filter(|i| !covered.contains(i))
            .collect();
        all &= missing.is_empty();
        text.push_str(&format!(
            "- `{ptr}`: {} of {} advertised items tested",
            items.len() - missing.len(),
            items.len()
        ));
        if missing.is_empty() {
            text.push('\n');
        } else {
            text.push_str(&format!("; untested: {}\n", missing.join(", ")));
        }
    }
    Ok((text, all))
}
