//! Loading and validating a bundle's `config.json`.

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("JSON specification file {path} not found")]
    Missing { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config.json: {0}")]
    Parse(String),
    #[error("unsupported spec version {0:?}: oxrun implements runtime-spec 1.x")]
    Version(String),
    #[error("invalid config.json: {0}")]
    Invalid(String),
    #[error("rootfs ({path}) does not exist")]
    NoRootfs { path: PathBuf },
}

/// Reads `<bundle>/config.json`. Parse errors name the line and column, and
/// the field when serde knows it.
pub fn load(bundle: &Path) -> Result<Spec, SpecError> {
    let path = bundle.join("config.json");
    let data = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SpecError::Missing { path: path.clone() },
        _ => SpecError::Read {
            path: path.clone(),
            source: e,
        },
    })?;
    parse(&data)
}

pub fn parse(data: &[u8]) -> Result<Spec, SpecError> {
    // serde_json's error text carries "at line L column C".
    let spec: Spec = serde_json::from_slice(data).map_err(|e| SpecError::Parse(e.to_string()))?;
    validate(&spec)?;
    Ok(spec)
}

/// Every published 1.x version is accepted (1.0.0 … 1.3.0 and their -rc/-dev
/// forms); another major version is refused.
pub fn check_version(v: &str) -> Result<(), SpecError> {
    let major = v.split('.').next().unwrap_or("");
    if major != "1" || v.split('.').count() < 2 {
        return Err(SpecError::Version(v.to_string()));
    }
    Ok(())
}

fn validate(spec: &Spec) -> Result<(), SpecError> {
    check_version(spec.version())?;
    if spec.root().is_none() {
        return Err(SpecError::Invalid("root must be set".into()));
    }
    if let Some(p) = spec.process() {
        if p.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err(SpecError::Invalid("process.args must not be empty".into()));
        }
        if !p.cwd().is_absolute() {
            return Err(SpecError::Invalid(format!(
                "process.cwd {:?} is not an absolute path",
                p.cwd()
            )));
        }
    }
    for m in spec.mounts().iter().flatten() {
        if !m.destination().is_absolute() {
            return Err(SpecError::Invalid(format!(
                "mount destination {:?} is not an absolute path",
                m.destination()
            )));
        }
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let nss = linux.namespaces().clone().unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    for ns in &nss {
        if !seen.insert(ns.typ()) {
            return Err(SpecError::Invalid(format!(
                "duplicate namespace {:?}",
                ns.typ()
            )));
        }
    }
    let has = |t: LinuxNamespaceType| nss.iter().any(|n| n.typ() == t);
    let has_new = |t: LinuxNamespaceType| nss.iter().any(|n| n.typ() == t && n.path().is_none());
    if !has(LinuxNamespaceType::Mount) {
        return Err(SpecError::Invalid(
            "a mount namespace is required: oxrun never mounts in the host's".into(),
        ));
    }
    let maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if has_new(LinuxNamespaceType::User) && !maps {
        return Err(SpecError::Invalid(
            "user namespace enabled, but no mappings found".into(),
        ));
    }
    if maps && !has(LinuxNamespaceType::User) {
        return Err(SpecError::Invalid(
            "user namespace mappings specified, but user namespace isn't enabled in the config"
                .into(),
        ));
    }
    if (spec.hostname().as_ref().is_some_and(|h| !h.is_empty())
        || spec.domainname().as_ref().is_some_and(|h| !h.is_empty()))
        && !has_new(LinuxNamespaceType::Uts)
    {
        return Err(SpecError::Invalid(
            "unable to set hostname without a private UTS namespace".into(),
        ));
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty())
        && !has_new(LinuxNamespaceType::Time)
    {
        return Err(SpecError::Invalid(
            "time offsets specified, but no new time namespace".into(),
        ));
    }
    for (key, _) in linux.sysctl().iter().flatten() {
        if key.contains("..") || key.starts_with('/') || key.contains('\0') {
            return Err(SpecError::Invalid(format!(
                "sysctl {key:?} is not a valid name"
            )));
        }
    }
    if let Some(p) = linux.rootfs_propagation() {
        if !matches!(
            p.as_str(),
            "" | "shared"
                | "rshared"
                | "slave"
                | "rslave"
                | "private"
                | "rprivate"
                | "unbindable"
                | "runbindable"
        ) {
            return Err(SpecError::Invalid(format!(
                "rootfsPropagation {p:?} is not valid"
            )));
        }
    }
    Ok(())
}

/// The root filesystem's path: relative paths are relative to the bundle.
pub fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf, SpecError> {
    let root = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_else(|| "rootfs".into());
    let p = if root.is_absolute() {
        root
    } else {
        bundle.join(root)
    };
    std::fs::canonicalize(&p).map_err(|_| SpecError::NoRootfs { path: p })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(version: &str) -> String {
        format!(
            r#"{{"ociVersion":"{version}","root":{{"path":"rootfs"}},
            "process":{{"args":["sh"],"cwd":"/","user":{{"uid":0,"gid":0}}}},
            "linux":{{"namespaces":[{{"type":"mount"}}]}}}}"#
        )
    }

    #[test]
    fn every_published_1x_version_is_accepted() {
        for v in [
            "1.0.0",
            "1.0.1",
            "1.0.2",
            "1.0.2-dev",
            "1.1.0",
            "1.1.0-rc.1",
            "1.2.0",
            "1.2.1",
            "1.3.0",
        ] {
            parse(cfg(v).as_bytes()).unwrap_or_else(|e| panic!("{v}: {e}"));
        }
    }

    #[test]
    fn other_majors_are_refused() {
        for v in ["2.0.0", "0.6.0", "", "banana"] {
            let e = parse(cfg(v).as_bytes()).unwrap_err();
            assert!(matches!(e, SpecError::Version(_)), "{v}: {e}");
        }
    }

    #[test]
    fn broken_json_says_where() {
        let e = parse(b"{\"ociVersion\": \"1.0.0\",\n \"root\": ")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn unknown_capability_is_refused() {
        let c = cfg("1.0.0").replace(
            r#""cwd":"/""#,
            r#""cwd":"/","capabilities":{"bounding":["CAP_NOT_A_CAP"]}"#,
        );
        let e = parse(c.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("CAP_NOT_A_CAP"), "{e}");
    }

    #[test]
    fn unknown_rlimit_is_refused() {
        let c = cfg("1.0.0").replace(
            r#""cwd":"/""#,
            r#""cwd":"/","rlimits":[{"type":"RLIMIT_BOGUS","hard":1,"soft":1}]"#,
        );
        let e = parse(c.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("RLIMIT_BOGUS"), "{e}");
    }

    #[test]
    fn userns_without_mappings_is_refused() {
        let c = cfg("1.0.0").replace(
            r#"[{"type":"mount"}]"#,
            r#"[{"type":"mount"},{"type":"user"}]"#,
        );
        assert!(parse(c.as_bytes()).is_err());
    }
}
