//! A malicious `config.json` never panics the loader: `spec::parse` and what
//! oxrun derives from a parsed spec without touching the host (rootfs path,
//! mount options, seccomp compilation, hook state) return errors, never
//! panic, on arbitrary bytes, on generated JSON, and on mutations of the kept
//! corpus in `tests/corpus/` (valid examples and hand-made nasty cases: huge
//! and out-of-range numbers, odd paths, NUL bytes, deep nesting, seccomp
//! oddities). More cases: `PROPTEST_CASES=20000 cargo test --test fuzz_config`.
//! A failing case found by proptest is saved to
//! `tests/corpus/proptest-regressions.txt` and replayed first next time.

use oxrun::container::state::hook_state;
use oxrun::rootfs::mount::Options;
use oxrun::{seccomp, spec};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Everything the loader and its pure consumers do with a config.
fn exercise(data: &[u8]) {
    let Ok(spec) = spec::parse(data) else {
        return;
    };
    let _ = spec::rootfs_path(&spec, Path::new("/nonexistent-bundle"));
    for m in spec.mounts().iter().flatten() {
        if let Some(o) = m.options() {
            let _ = Options::parse(o);
        }
    }
    if let Some(sc) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        let _ = seccomp::compile(sc);
    }
    let _ = hook_state(&spec, "fuzz", "creating", 1, Path::new("/bundle"));
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "corpus went missing: {files:?}");
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// The corpus files that are valid JSON, as mutation seeds.
fn seeds() -> Vec<Value> {
    corpus()
        .into_iter()
        .filter_map(|(_, d)| serde_json::from_slice(&d).ok())
        .filter(Value::is_object)
        .collect()
}

fn config() -> Config {
    let mut c = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 512;
    }
    c.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(
        "tests/corpus/proptest-regressions.txt",
    )));
    c
}

#[test]
fn corpus_never_panics() {
    for (name, data) in corpus() {
        let r = std::panic::catch_unwind(|| exercise(&data));
        assert!(r.is_ok(), "{name} panicked");
    }
    // The valid examples stay valid (the corpus is not all rejects).
    for (name, data) in corpus() {
        if name.starts_with("example-") {
            spec::parse(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[test]
fn deep_nesting_and_huge_inputs_are_errors() {
    let base = std::fs::read_to_string(corpus_dir().join("example-minimal.json")).unwrap();
    let open = base.trim_end().trim_end_matches('}');
    // Far beyond serde_json's recursion limit: never a stack overflow. An
    // unknown field is skipped without recursion (accepted); nesting where
    // the spec expects a type, or as the whole document, is an error.
    for depth in [129, 10_000, 200_000] {
        for (o, c) in [("[", "]"), ("{\"a\":", "}")] {
            let nest = format!("{}1{}", o.repeat(depth), c.repeat(depth));
            exercise(format!("{open}, \"x\": {nest}}}").as_bytes());
            let typed = format!("{open}, \"hostname\": {nest}}}");
            assert!(spec::parse(typed.as_bytes()).is_err(), "depth {depth} {o}");
            assert!(spec::parse(nest.as_bytes()).is_err(), "depth {depth} {o}");
        }
    }
    // Very long strings and arrays where the spec has them.
    let mut v: Value = serde_json::from_str(&base).unwrap();
    v["process"]["args"] = json!(vec!["a".repeat(1 << 20); 4]);
    v["process"]["env"] = json!((0..100_000).map(|i| format!("K{i}=v")).collect::<Vec<_>>());
    v["linux"]["maskedPaths"] = json!(vec!["/".to_string() + &"x/".repeat(50_000); 8]);
    v["mounts"][0]["options"] = json!(vec!["r"; 100_000]);
    exercise(v.to_string().as_bytes());
    // A seccomp profile with every syscall name many times and many args.
    let mut v: Value = serde_json::from_str(&base).unwrap();
    let names: Vec<String> = (0..20_000).map(|i| format!("name{i}")).collect();
    v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": names, "action": "SCMP_ACT_ALLOW"},
        {"names": ["read", "write", "openat"], "action": "SCMP_ACT_ERRNO",
         "args": vec![json!({"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}); 5000]}]});
    exercise(v.to_string().as_bytes());
}

/// Strings that have hurt path and option handling elsewhere.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("/".to_string()),
        Just("..".to_string()),
        Just("/../../../../etc/shadow".to_string()),
        Just("/proc/self/fd/3".to_string()),
        Just("rootfs/../../..".to_string()),
        Just("\u{0}".to_string()),
        Just("a\u{0}b".to_string()),
        Just("SCMP_ACT_ALLOW".to_string()),
        Just("SCMP_CMP_MASKED_EQ".to_string()),
        Just("CAP_SYS_ADMIN".to_string()),
        Just("RLIMIT_NOFILE".to_string()),
        Just("1.0.2".to_string()),
        Just("2.0.0".to_string()),
        Just("user".to_string()),
        Just("bind".to_string()),
        Just("rro".to_string()),
        Just("x".repeat(5000)),
        "\\PC{0,40}",
        "(/[a-z.]{0,6}){0,8}",
    ]
}

fn nasty_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(u32::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(1.5)),
        Just(json!(1e300)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
    ]
}

/// Keys a config uses, so that generated objects hit real fields.
const KEYS: &[&str] = &[
    "ociVersion",
    "process",
    "root",
    "mounts",
    "linux",
    "hooks",
    "hostname",
    "args",
    "env",
    "cwd",
    "user",
    "uid",
    "gid",
    "path",
    "destination",
    "source",
    "type",
    "options",
    "namespaces",
    "uidMappings",
    "gidMappings",
    "containerID",
    "hostID",
    "size",
    "seccomp",
    "defaultAction",
    "syscalls",
    "names",
    "action",
    "index",
    "value",
    "valueTwo",
    "op",
    "errnoRet",
    "capabilities",
    "bounding",
    "rlimits",
    "hard",
    "soft",
    "resources",
    "memory",
    "limit",
    "devices",
    "maskedPaths",
    "readonlyPaths",
    "sysctl",
    "prestart",
    "annotations",
    "terminal",
    "consoleSize",
    "height",
    "width",
    "noNewPrivileges",
    "readonly",
    "flags",
    "listenerPath",
    "architectures",
    "timeOffsets",
    "personality",
    "domain",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        nasty_number(),
        nasty_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// Replaces the node that `path` steers to (each step picks a child by index
/// modulo the children) with `new`.
fn mutate(v: &mut Value, path: &[usize], new: Value) {
    let child = match (path.first(), &mut *v) {
        (Some(step), Value::Object(m)) if !m.is_empty() => {
            let n = m.len();
            m.values_mut().nth(step % n)
        }
        (Some(step), Value::Array(a)) if !a.is_empty() => {
            let n = a.len();
            a.get_mut(step % n)
        }
        _ => None,
    };
    match child {
        Some(c) => mutate(c, &path[1..], new),
        None => *v = new,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&data);
    }

    #[test]
    fn generated_json(v in json_value()) {
        exercise(v.to_string().as_bytes());
    }

    #[test]
    fn mutated_corpus(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(
            (prop::collection::vec(any::<usize>(), 0..6), json_value()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let seeds = seeds();
        let mut v = seeds[seed.index(seeds.len())].clone();
        for (path, new) in edits {
            mutate(&mut v, &path, new);
        }
        let mut text = v.to_string().into_bytes();
        if truncate {
            text.truncate(cut.index(text.len() + 1));
        }
        exercise(&text);
    }
}
