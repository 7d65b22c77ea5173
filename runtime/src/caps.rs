//! The five capability sets of `process.capabilities`.

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    #[error("unknown capability {0:?}")]
    Unknown(String),
    #[error("{op} {set:?} capabilities: {msg}")]
    Apply {
        op: &'static str,
        set: CapSet,
        msg: String,
    },
}

fn convert(set: &Option<Capabilities>) -> Result<CapsHashSet, CapsError> {
    let mut out = CapsHashSet::new();
    for c in set.iter().flatten() {
        // oci-spec serialises as "CAP_CHOWN", the name the caps crate parses.
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let cap = Capability::from_str(&name).map_err(|_| CapsError::Unknown(name.clone()))?;
        out.insert(cap);
    }
    Ok(out)
}

/// Capabilities this kernel knows; runc ignores the ones it does not.
fn supported() -> CapsHashSet {
    caps::runtime::thread_all_supported()
}

/// Drops from the bounding set whatever the spec does not keep. Done while
/// still privileged (before setuid).
pub fn drop_bounding(c: &LinuxCapabilities) -> Result<(), CapsError> {
    let keep = convert(c.bounding())?;
    let current = caps::read(None, CapSet::Bounding).unwrap_or_default();
    for cap in current.iter().filter(|cap| !keep.contains(cap)) {
        caps::drop(None, CapSet::Bounding, *cap).map_err(|e| CapsError::Apply {
            op: "dropping",
            set: CapSet::Bounding,
            msg: e.to_string(),
        })?;
    }
    Ok(())
}

/// Sets effective, permitted, inheritable and ambient sets (after setuid with
/// keep-caps).
pub fn apply(c: &LinuxCapabilities) -> Result<(), CapsError> {
    let sup = supported();
    let only =
        |s: CapsHashSet| -> CapsHashSet { s.into_iter().filter(|c| sup.contains(c)).collect() };
    let eff = only(convert(c.effective())?);
    let perm = only(convert(c.permitted())?);
    let inh = only(convert(c.inheritable())?);
    let amb = only(convert(c.ambient())?);
    let set = |s: CapSet, v: &CapsHashSet| {
        caps::set(None, s, v).map_err(|e| CapsError::Apply {
            op: "setting",
            set: s,
            msg: e.to_string(),
        })
    };
    // Inheritable first, while permitted is still full (a new inheritable
    // must lie within the old permitted). Then each capset must keep
    // effective within permitted: shrink effective, set permitted, raise
    // effective to what is asked.
    set(CapSet::Inheritable, &inh)?;
    set(
        CapSet::Effective,
        &eff.intersection(&perm).copied().collect(),
    )?;
    set(CapSet::Permitted, &perm)?;
    set(CapSet::Effective, &eff)?;
    caps::clear(None, CapSet::Ambient).ok();
    // The kernel raises an ambient capability only if it is both permitted
    // and inheritable. runc's own `spec` template asks for ambient without
    // inheritable: like runc, skip those with a warning instead of failing.
    for cap in amb {
        if !(perm.contains(&cap) && inh.contains(&cap)) {
            crate::log::debug(&format!(
                "ambient {cap} skipped: not in both permitted and inheritable"
            ));
            continue;
        }
        caps::raise(None, CapSet::Ambient, cap).map_err(|e| CapsError::Apply {
            op: "raising",
            set: CapSet::Ambient,
            msg: e.to_string(),
        })?;
    }
    Ok(())
}
