//! Test bundles: a config.json from oci-spec's typed defaults plus a rootfs
//! that holds only the checker, the dirs it needs and a copy of the config.

use oci_spec::runtime::{Linux, Mount, Process, Spec};
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("serialising config: {0}")]
    Json(#[from] serde_json::Error),
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BundleError {
    let path = path.to_path_buf();
    move |source| BundleError::Io { op, path, source }
}

/// Where the checker sits in every rootfs.
pub const CHECKER: &str = "/oci-checker";

/// The spec's defaults (as `runc spec` makes them) with the checker as process.
pub fn base_spec(args: &[&str]) -> Spec {
    let mut spec = Spec::default();
    spec.set_hostname(Some("oci-conformance".into()));
    let p = process(&mut spec);
    p.set_args(Some(args.iter().map(|s| s.to_string()).collect()));
    spec
}

/// The spec with the checker running `check GROUPS...`.
pub fn checker_spec(groups: &[&str]) -> Spec {
    let mut args = vec![CHECKER, "check"];
    args.extend_from_slice(groups);
    base_spec(&args)
}

pub fn process(spec: &mut Spec) -> &mut Process {
    spec.process_mut().get_or_insert_with(Process::default)
}

pub fn linux(spec: &mut Spec) -> &mut Linux {
    spec.linux_mut().get_or_insert_with(Linux::default)
}

pub fn mounts(spec: &mut Spec) -> &mut Vec<Mount> {
    spec.mounts_mut().get_or_insert_with(Vec::new)
}

/// A mount from its parts.
pub fn mount(dest: &str, typ: &str, source: &str, opts: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(dest.into());
    m.set_typ(Some(typ.into()));
    m.set_source(Some(source.into()));
    m.set_options(Some(opts.iter().map(|s| s.to_string()).collect()));
    m
}

/// Write `spec` as a bundle in `dir`. `host` is merged into the checker's
/// host.json next to facts gathered here (the host's namespace inodes, and
/// the device/inode of every bind source and namespace path).
/// `patch` is applied to the JSON, for configs the typed spec cannot express
/// (invalid values the runtime must refuse).
pub fn write_patched(
    dir: &Path,
    spec: &Spec,
    checker: &Path,
    mut host: Value,
    patch: impl FnOnce(&mut Value),
) -> Result<(), BundleError> {
    let rootfs = dir.join("rootfs");
    for d in ["proc", "sys", "dev", "tmp", ".oci-conformance"] {
        let p = rootfs.join(d);
        std::fs::create_dir_all(&p).map_err(io("mkdir", &p))?;
    }
    let tmp = rootfs.join("tmp");
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o1777))
        .map_err(io("chmod", &tmp))?;
    let dst = rootfs.join(CHECKER.trim_start_matches('/'));
    if !dst.exists() {
        // A hard link is free; fall back to a copy across filesystems.
        if std::fs::hard_link(checker, &dst).is_err() {
            std::fs::copy(checker, &dst).map_err(io("copy checker to", &dst))?;
        }
    }
    let mut value = serde_json::to_value(spec)?;
    patch(&mut value);
    let config = serde_json::to_string_pretty(&value)?;
    let cfg = dir.join("config.json");
    std::fs::write(&cfg, &config).map_err(io("write", &cfg))?;
    let inner = rootfs.join(".oci-conformance/config.json");
    std::fs::write(&inner, &config).map_err(io("write", &inner))?;

    let obj = host.as_object_mut().map(std::mem::take).unwrap_or_default();
    let mut facts = host_facts(spec, dir);
    if let Some(f) = facts.as_object_mut() {
        f.extend(obj);
    }
    let hp = rootfs.join(".oci-conformance/host.json");
    std::fs::write(&hp, serde_json::to_string_pretty(&facts)?).map_err(io("write", &hp))?;
    Ok(())
}

fn dev_ino(p: &Path) -> Option<Value> {
    std::fs::metadata(p).ok().map(|m| json!([m.dev(), m.ino()]))
}

fn host_facts(spec: &Spec, bundle: &Path) -> Value {
    let mut ns = serde_json::Map::new();
    for n in ["pid", "net", "mnt", "ipc", "uts", "user", "cgroup", "time"] {
        if let Ok(m) = std::fs::metadata(format!("/proc/self/ns/{n}")) {
            ns.insert(n.into(), json!(m.ino()));
        }
    }
    let mut ns_paths = serde_json::Map::new();
    if let Some(list) = spec.linux().as_ref().and_then(|l| l.namespaces().clone()) {
        for n in list {
            if let Some(p) = n.path() {
                if let Ok(m) = std::fs::metadata(p) {
                    ns_paths.insert(p.display().to_string(), json!(m.ino()));
                }
            }
        }
    }
    let mut binds = serde_json::Map::new();
    for m in spec.mounts().clone().unwrap_or_default() {
        let opts = m.options().clone().unwrap_or_default();
        let is_bind =
            m.typ().as_deref() == Some("bind") || opts.iter().any(|o| o == "bind" || o == "rbind");
        if let (true, Some(src)) = (is_bind, m.source()) {
            // Relative bind sources are relative to the bundle (config.md).
            if let Some(v) = dev_ino(&bundle.join(src)) {
                binds.insert(m.destination().display().to_string(), v);
            }
        }
    }
    json!({"ns": ns, "ns_paths": ns_paths, "binds": binds})
}
