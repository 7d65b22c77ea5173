//! libcgroups' statistics in the shape of runc's `events` types
//! (runc/types/events.go), so tools that parse runc's `events --stats` parse
//! ours. Zero values are left out where runc's `omitempty` leaves them out.

use libcgroups::stats::{BlkioDeviceStat, HugeTlbStats, MemoryData, Stats};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// Inserts `v` unless it is zero/empty (Go's omitempty).
fn put(m: &mut Map<String, Value>, k: &str, v: impl Into<Value>) {
    let v = v.into();
    let empty = match &v {
        Value::Number(n) => n.as_u64() == Some(0) || n.as_i64() == Some(0),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Null => true,
        Value::Bool(b) => !b,
    };
    if !empty {
        m.insert(k.to_string(), v);
    }
}

fn memory_entry(d: &MemoryData) -> Value {
    let mut m = Map::new();
    m.insert("limit".into(), d.limit.into());
    put(&mut m, "usage", d.usage);
    put(&mut m, "max", d.max_usage);
    m.insert("failcnt".into(), d.fail_count.into());
    Value::Object(m)
}

fn blkio_entries(v: &[BlkioDeviceStat]) -> Value {
    v.iter()
        .map(|e| {
            let mut m = Map::new();
            put(&mut m, "major", e.major);
            put(&mut m, "minor", e.minor);
            put(&mut m, "op", e.op_type.clone().unwrap_or_default());
            put(&mut m, "value", e.value);
            Value::Object(m)
        })
        .collect()
}

fn hugetlb(h: &HashMap<String, HugeTlbStats>) -> Value {
    let mut out = Map::new();
    for (size, s) in h {
        let mut m = Map::new();
        put(&mut m, "usage", s.usage);
        put(&mut m, "max", s.max_usage);
        m.insert("failcnt".into(), s.fail_count.into());
        out.insert(size.clone(), Value::Object(m));
    }
    Value::Object(out)
}

/// cpuset.cpus "0-2,4" → [0,1,2,4].
fn cpu_list(s: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) {
            out.extend(a..=b);
        }
    }
    out
}

/// runc's `cpuset` section, read from the cpuset directory (v1) or the v2
/// cgroup (`cpuset.*.effective`).
fn cpuset(dir: Option<&Path>) -> Value {
    let mut m = Map::new();
    let Some(dir) = dir else {
        return Value::Object(m);
    };
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    let cpus = read("cpuset.cpus").or_else(|| read("cpuset.cpus.effective"));
    let mems = read("cpuset.mems").or_else(|| read("cpuset.mems.effective"));
    put(&mut m, "cpus", cpu_list(&cpus.unwrap_or_default()));
    for (key, file) in [
        ("cpu_exclusive", "cpuset.cpu_exclusive"),
        ("mems", ""),
        ("mem_hardwall", "cpuset.mem_hardwall"),
        ("mem_exclusive", "cpuset.mem_exclusive"),
        ("memory_migrate", "cpuset.memory_migrate"),
        ("memory_spread_page", "cpuset.memory_spread_page"),
        ("memory_spread_slab", "cpuset.memory_spread_slab"),
        ("memory_pressure", "cpuset.memory_pressure"),
        ("sched_load_balance", "cpuset.sched_load_balance"),
        (
            "sched_relax_domain_level",
            "cpuset.sched_relax_domain_level",
        ),
    ] {
        if key == "mems" {
            put(
                &mut m,
                "mems",
                cpu_list(mems.as_deref().unwrap_or_default()),
            );
            continue;
        }
        if let Some(v) = read(file).and_then(|s| s.trim().parse::<i64>().ok()) {
            m.insert(key.into(), v.into());
        }
    }
    Value::Object(m)
}

/// The `data` of a runc `stats` event.
pub fn to_runc(s: &Stats, cpuset_dir: Option<&Path>) -> Value {
    let u = &s.cpu.usage;
    let mut usage = Map::new();
    put(&mut usage, "total", u.usage_total);
    put(&mut usage, "percpu", u.per_core_usage_total.clone());
    put(&mut usage, "percpu_kernel", u.per_core_usage_kernel.clone());
    put(&mut usage, "percpu_user", u.per_core_usage_user.clone());
    usage.insert("kernel".into(), u.usage_kernel.into());
    usage.insert("user".into(), u.usage_user.into());
    let t = &s.cpu.throttling;
    let mut thr = Map::new();
    put(&mut thr, "periods", t.periods);
    put(&mut thr, "throttled_periods", t.throttled_periods);
    put(&mut thr, "throttled_time", t.throttled_time);

    let mem = &s.memory;
    let mut memory = Map::new();
    put(&mut memory, "cache", mem.cache);
    memory.insert("usage".into(), memory_entry(&mem.memory));
    memory.insert("swap".into(), memory_entry(&mem.memswap));
    memory.insert("kernel".into(), memory_entry(&mem.kernel));
    memory.insert("kernelTCP".into(), memory_entry(&mem.kernel_tcp));
    let raw: Map<String, Value> = mem
        .stats
        .iter()
        .map(|(k, v)| (k.clone(), (*v).into()))
        .collect();
    put(&mut memory, "raw", Value::Object(raw));

    let mut pids = Map::new();
    put(&mut pids, "current", s.pids.current);
    put(&mut pids, "limit", s.pids.limit);

    let b = &s.blkio;
    let mut blkio = Map::new();
    for (k, v) in [
        ("ioServiceBytesRecursive", &b.service_bytes),
        ("ioServicedRecursive", &b.serviced),
        ("ioQueueRecursive", &b.queued),
        ("ioServiceTimeRecursive", &b.service_time),
        ("ioWaitTimeRecursive", &b.wait_time),
        ("ioMergedRecursive", &b.merged),
        ("ioTimeRecursive", &b.time),
        ("sectorsRecursive", &b.sectors),
    ] {
        put(&mut blkio, k, blkio_entries(v));
    }

    json!({
        "cpu": {"usage": usage, "throttling": thr},
        "cpuset": cpuset(cpuset_dir),
        "memory": memory,
        "pids": pids,
        "blkio": blkio,
        "hugetlb": hugetlb(&s.hugetlb),
        "intel_rdt": {},
        "network_interfaces": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_shape_and_omitempty() {
        let mut s = Stats::default();
        s.cpu.usage.usage_total = 5;
        s.cpu.usage.per_core_usage_total = vec![2, 3];
        s.memory.memory.limit = 64;
        s.memory.memory.usage = 10;
        s.pids.current = 2;
        s.hugetlb.insert(
            "2MB".into(),
            HugeTlbStats {
                usage: 0,
                max_usage: 0,
                fail_count: 1,
            },
        );
        let v = to_runc(&s, None);
        assert_eq!(v["cpu"]["usage"]["total"], 5);
        assert_eq!(v["cpu"]["usage"]["percpu"], json!([2, 3]));
        assert_eq!(v["cpu"]["usage"]["kernel"], 0);
        assert!(v["cpu"]["usage"].get("percpu_user").is_none());
        assert_eq!(v["cpu"]["throttling"], json!({}));
        assert_eq!(
            v["memory"]["usage"],
            json!({"limit": 64, "usage": 10, "failcnt": 0})
        );
        assert_eq!(v["pids"], json!({"current": 2}));
        assert_eq!(v["blkio"], json!({}));
        assert_eq!(v["hugetlb"], json!({"2MB": {"failcnt": 1}}));
        assert!(v["network_interfaces"].is_null());
        assert_eq!(cpu_list("0-2,4\n"), vec![0, 1, 2, 4]);
    }
}
