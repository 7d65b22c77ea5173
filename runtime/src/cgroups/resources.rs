//! `linux.resources` before it reaches libcgroups: our own validation (for
//! clear errors instead of a bare EINVAL from a cgroup file), the partial
//! merge `update` needs, and the parsing of runc's update flags.

use super::CgroupError;
use oci_spec::runtime::LinuxResources;
use serde_json::Value;

fn invalid(msg: impl Into<String>) -> CgroupError {
    CgroupError::Invalid(msg.into())
}

/// -1 means "unlimited", 0 "unset"; anything else below zero is a mistake.
fn limit_ok(name: &str, v: Option<i64>) -> Result<(), CgroupError> {
    match v {
        Some(x) if x < -1 => Err(invalid(format!("{name} must be -1 or >= 0, got {x}"))),
        _ => Ok(()),
    }
}

/// Checks what the kernel would reject with a bare EINVAL (or not at all).
/// `v2` is whether the container's controllers are on cgroup v2.
pub fn validate(r: &LinuxResources, v2: bool) -> Result<(), CgroupError> {
    if let Some(m) = r.memory() {
        limit_ok("memory.limit", m.limit())?;
        limit_ok("memory.reservation", m.reservation())?;
        limit_ok("memory.swap", m.swap())?;
        if let (Some(l), Some(s)) = (m.limit(), m.swap()) {
            // runc's wording: on v1 swap is memory+swap, so it bounds limit.
            if l > 0 && s > 0 && s < l {
                return Err(invalid(
                    "memory+swap limit should be larger than memory limit",
                ));
            }
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(invalid(format!(
                    "invalid memory swappiness {s}: valid range is 0-100"
                )));
            }
        }
    }
    if let Some(c) = r.cpu() {
        limit_ok("cpu.quota", c.quota())?;
        if let Some(p) = c.period() {
            // The kernel's CFS bounds: 1ms .. 1s.
            if p != 0 && !(1000..=1_000_000).contains(&p) {
                return Err(invalid(format!(
                    "cpu.period {p} out of range (1000-1000000 µs)"
                )));
            }
        }
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            check_cpuset("cpus", cpus, &host_list("/sys/devices/system/cpu/online"))?;
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            check_cpuset("mems", mems, &host_list("/sys/devices/system/node/online"))?;
        }
    }
    if let Some(p) = r.pids() {
        limit_ok("pids.limit", Some(p.limit()))?;
    }
    if let Some(b) = r.block_io() {
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            if !(10..=1000).contains(&w) {
                return Err(invalid(format!(
                    "blockIO.weight {w} out of range (10-1000)"
                )));
            }
        }
    }
    if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
        if !v2 {
            return Err(invalid(
                "linux.resources.unified needs cgroup v2, but this host's controllers are on cgroup v1",
            ));
        }
        for k in u.keys() {
            if k.contains('/') || k.starts_with("cgroup.") || !k.contains('.') {
                return Err(invalid(format!("unified: invalid key {k:?}")));
            }
        }
    }
    Ok(())
}

/// Parses a cpuset list ("0-3,5") and checks every entry exists on the host
/// (`avail` empty: unknown, accept).
fn check_cpuset(what: &str, list: &str, avail: &[u32]) -> Result<(), CgroupError> {
    let bad = || invalid(format!("invalid cpuset.{what} {list:?}"));
    for part in list.split(',') {
        let (a, b) = match part.trim().split_once('-') {
            Some((a, b)) => (a, b),
            None => (part.trim(), part.trim()),
        };
        let a: u32 = a.parse().map_err(|_| bad())?;
        let b: u32 = b.parse().map_err(|_| bad())?;
        if a > b {
            return Err(bad());
        }
        if !avail.is_empty() {
            if let Some(x) = (a..=b).find(|x| !avail.contains(x)) {
                return Err(invalid(format!(
                    "cpuset.{what} {list:?}: {x} does not exist on this host"
                )));
            }
        }
    }
    Ok(())
}

fn host_list(path: &str) -> Vec<u32> {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
            out.extend(a..=b);
        }
    }
    out
}

/// The LinuxResources keys `update` changes; runc ignores the others
/// (devices, network, rdma) on update, and so do we.
const UPDATABLE: &[&str] = &[
    "memory",
    "cpu",
    "pids",
    "blockIO",
    "hugepageLimits",
    "unified",
];

/// Merges a partial LinuxResources JSON into `current`: only the fields the
/// patch names change (objects merge key by key, anything else replaces).
pub fn merge(current: &LinuxResources, patch: &Value) -> Result<LinuxResources, CgroupError> {
    let Value::Object(p) = patch else {
        return Err(invalid("resources must be a JSON object"));
    };
    let mut cur = serde_json::to_value(current).map_err(|e| invalid(e.to_string()))?;
    if !cur.is_object() {
        cur = Value::Object(Default::default());
    }
    for (k, v) in p {
        if UPDATABLE.contains(&k.as_str()) {
            deep_merge(&mut cur[k.as_str()], v);
        }
    }
    serde_json::from_value(cur).map_err(|e| invalid(format!("invalid resources: {e}")))
}

fn deep_merge(dst: &mut Value, src: &Value) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in s {
                deep_merge(d.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (d, s) => *d = s.clone(),
    }
}

/// runc's update flags, as given on the command line (strings: sizes take
/// k/m/g suffixes as runc's do).
#[derive(Debug, Default, Clone)]
pub struct UpdateFlags {
    pub blkio_weight: Option<u16>,
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_burst: Option<u64>,
    pub cpu_share: Option<u64>,
    pub cpu_rt_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
    pub memory_swap: Option<String>,
    pub pids_limit: Option<i64>,
}

impl UpdateFlags {
    /// The flags as a partial LinuxResources JSON, for [`merge`].
    pub fn to_patch(&self) -> Result<Value, CgroupError> {
        let mut v = serde_json::json!({});
        let mut set = |sect: &str, key: &str, val: Value| {
            v[sect][key] = val;
        };
        if let Some(x) = self.blkio_weight {
            set("blockIO", "weight", x.into());
        }
        if let Some(x) = self.cpu_period {
            set("cpu", "period", x.into());
        }
        if let Some(x) = self.cpu_quota {
            set("cpu", "quota", x.into());
        }
        if let Some(x) = self.cpu_burst {
            set("cpu", "burst", x.into());
        }
        if let Some(x) = self.cpu_share {
            set("cpu", "shares", x.into());
        }
        if let Some(x) = self.cpu_rt_period {
            set("cpu", "realtimePeriod", x.into());
        }
        if let Some(x) = self.cpu_rt_runtime {
            set("cpu", "realtimeRuntime", x.into());
        }
        if let Some(x) = &self.cpuset_cpus {
            set("cpu", "cpus", x.as_str().into());
        }
        if let Some(x) = &self.cpuset_mems {
            set("cpu", "mems", x.as_str().into());
        }
        if let Some(x) = &self.memory {
            set("memory", "limit", ram_in_bytes(x)?.into());
        }
        if let Some(x) = &self.memory_reservation {
            set("memory", "reservation", ram_in_bytes(x)?.into());
        }
        if let Some(x) = &self.memory_swap {
            set("memory", "swap", ram_in_bytes(x)?.into());
        }
        if let Some(x) = self.pids_limit {
            set("pids", "limit", x.into());
        }
        Ok(v)
    }
}

/// docker's RAMInBytes, which runc uses: "-1", "1024", "512k", "64m", "1g"
/// (binary units, optional trailing "b"/"ib").
pub fn ram_in_bytes(s: &str) -> Result<i64, CgroupError> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let bad = || invalid(format!("invalid size: {s:?}"));
    let t = t
        .strip_suffix("ib")
        .or_else(|| t.strip_suffix('b'))
        .unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        Some('p') => (&t[..t.len() - 1], 1 << 50),
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    if n < 0.0 || !n.is_finite() {
        return Err(bad());
    }
    Ok((n * mult as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(v: Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn partial_merge_changes_only_given_fields() {
        let cur = res(json!({"memory": {"limit": 1048576, "swap": 2097152},
                             "cpu": {"shares": 512, "cpus": "0"},
                             "devices": [{"allow": false, "access": "rwm"}]}));
        // podman's call: only quota and period.
        let m = merge(&cur, &json!({"cpu": {"quota": 50000, "period": 100000}})).unwrap();
        let c = m.cpu().as_ref().unwrap();
        assert_eq!(c.quota(), Some(50000));
        assert_eq!(c.period(), Some(100000));
        assert_eq!(c.shares(), Some(512));
        assert_eq!(c.cpus().as_deref(), Some("0"));
        assert_eq!(m.memory().as_ref().unwrap().limit(), Some(1048576));
        assert_eq!(m.devices().as_ref().unwrap().len(), 1);
        // devices are not updatable (runc ignores them too).
        let m = merge(&cur, &json!({"devices": []})).unwrap();
        assert_eq!(m.devices().as_ref().unwrap().len(), 1);
        assert!(merge(&cur, &json!([1])).is_err());
        assert!(merge(&cur, &json!({"memory": {"limit": "x"}})).is_err());
    }

    #[test]
    fn flags_become_a_patch() {
        let f = UpdateFlags {
            memory: Some("64m".into()),
            memory_swap: Some("-1".into()),
            cpu_quota: Some(-1),
            pids_limit: Some(10),
            cpuset_cpus: Some("0".into()),
            ..Default::default()
        };
        assert_eq!(
            f.to_patch().unwrap(),
            json!({"memory": {"limit": 67108864, "swap": -1},
                   "cpu": {"quota": -1, "cpus": "0"}, "pids": {"limit": 10}})
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(ram_in_bytes("1024").unwrap(), 1024);
        assert_eq!(ram_in_bytes("512k").unwrap(), 512 * 1024);
        assert_eq!(ram_in_bytes("64M").unwrap(), 64 << 20);
        assert_eq!(ram_in_bytes("1gb").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("-1").unwrap(), -1);
        assert!(ram_in_bytes("-5").is_err());
        assert!(ram_in_bytes("lots").is_err());
    }

    #[test]
    fn validation() {
        assert!(validate(&res(json!({"memory": {"limit": -5}})), false).is_err());
        assert!(validate(&res(json!({"memory": {"limit": -1}})), false).is_ok());
        assert!(validate(&res(json!({"memory": {"limit": 100, "swap": 50}})), false).is_err());
        assert!(validate(&res(json!({"memory": {"swappiness": 101}})), false).is_err());
        assert!(validate(&res(json!({"cpu": {"cpus": "9999"}})), false).is_err());
        assert!(validate(&res(json!({"cpu": {"cpus": "0-x"}})), false).is_err());
        assert!(validate(&res(json!({"cpu": {"cpus": "0"}})), false).is_ok());
        assert!(validate(&res(json!({"cpu": {"period": 10}})), false).is_err());
        assert!(validate(&res(json!({"pids": {"limit": -7}})), false).is_err());
        assert!(validate(&res(json!({"blockIO": {"weight": 5}})), false).is_err());
        let u = res(json!({"unified": {"memory.high": "1000000"}}));
        assert!(validate(&u, false).is_err());
        assert!(validate(&u, true).is_ok());
        assert!(validate(&res(json!({"unified": {"nonsense": "1"}})), true).is_err());
        assert!(validate(&res(json!({"unified": {"../x.y": "1"}})), true).is_err());
    }
}
