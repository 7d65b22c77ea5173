//! Test harness: each test gets its own `--root`, container ids and temp dir,
//! so tests run concurrently; helpers drive the runtime's lifecycle verbs.

use crate::bundle::{self, BundleError};
use crate::runtime::{Output, Runtime, RuntimeError};
use oci_spec::runtime::Spec;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

pub type TestResult = Result<Outcome, TestError>;

pub struct Test {
    pub name: String,
    pub run: fn(&mut Ctx) -> TestResult,
}

pub fn test(group: &str, name: &str, run: fn(&mut Ctx) -> TestResult) -> Test {
    Test {
        name: format!("{group}/{name}"),
        run,
    }
}

pub struct Options {
    pub runtime: PathBuf,
    pub checker: PathBuf,
    pub keep: Option<PathBuf>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Record {
    pub name: String,
    pub outcome: Outcome,
    pub millis: u128,
}

pub struct Ctx<'a> {
    pub opts: &'a Options,
    pub rt: Runtime,
    /// Private scratch space (removed afterwards).
    pub work: PathBuf,
    /// Where this test's bundles go (under --keep DIR when given).
    pub bundles: PathBuf,
    base_id: String,
    ids: Vec<String>,
    features: &'a Option<Value>,
}

impl<'a> Ctx<'a> {
    /// A fresh container id, deleted when the test ends.
    pub fn new_id(&mut self, suffix: &str) -> String {
        let id = format!("{}-{suffix}", self.base_id);
        self.ids.push(id.clone());
        id
    }

    /// Write `spec` as bundle `name` of this test.
    pub fn bundle(&self, name: &str, spec: &Spec, host: Value) -> Result<PathBuf, TestError> {
        self.bundle_patched(name, spec, host, |_| {})
    }

    /// A bundle whose config.json is `spec` with `patch` applied to its JSON.
    pub fn bundle_patched(
        &self,
        name: &str,
        spec: &Spec,
        host: Value,
        patch: impl FnOnce(&mut Value),
    ) -> Result<PathBuf, TestError> {
        let dir = self.bundles.join(name);
        bundle::write_patched(&dir, spec, &self.opts.checker, host, patch)?;
        if self.opts.keep.is_some() {
            let script = format!(
                "#!/bin/sh\n# Rerun this test's container by hand: RUNTIME=crun sh run.sh\ncd \"$(dirname \"$0\")\"\nexec \"${{RUNTIME:-runc}}\" run --bundle . oci-conformance-{name}\n"
            );
            std::fs::write(dir.join("run.sh"), script)?;
        }
        Ok(dir)
    }

    pub fn exec(&self, args: &[&str]) -> Result<Output, TestError> {
        Ok(self.rt.exec(args)?)
    }

    /// `run` the checker with `spec` and turn its report into an outcome.
    pub fn run_checker(&mut self, spec: &Spec, host: Value) -> TestResult {
        let b = self.bundle("bundle", spec, host)?;
        self.run_bundle(&b)
    }

    /// `run` a bundle already written (and perhaps added to) whose process is the checker.
    pub fn run_bundle(&mut self, b: &Path) -> TestResult {
        let id = self.new_id("c");
        let out = self.exec(&["run", "--bundle", path(b), &id])?;
        Ok(checker_outcome(&out))
    }

    pub fn create(&mut self, id: &str, bundle: &Path, extra: &[&str]) -> Result<Output, TestError> {
        let mut args = vec!["create", "--bundle", path(bundle)];
        args.extend_from_slice(extra);
        args.push(id);
        self.exec(&args)
    }

    /// `state ID` parsed; Err if the runtime failed or printed no JSON.
    pub fn state(&self, id: &str) -> Result<Value, TestError> {
        let out = self.exec(&["state", id])?;
        if !out.success() {
            return Err(TestError::Other(out.describe()));
        }
        serde_json::from_str(&out.stdout).map_err(|e| {
            TestError::Other(format!("state output is not JSON ({e}): {}", out.stdout))
        })
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)
            .ok()
            .and_then(|s| s["status"].as_str().map(String::from))
            .unwrap_or_else(|| "<none>".into())
    }

    /// Poll until `status` is `want`; returns the last status seen.
    pub fn wait_status(&self, id: &str, want: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.status(id);
            if s == want || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The runtime's `features` document, when it has the command.
    pub fn features(&self) -> Option<&Value> {
        self.features.as_ref()
    }
}

/// "1.0.2-dev" -> (1, 0, 2).
fn version(v: &str) -> (u32, u32, u32) {
    let mut it = v
        .split(['.', '-', '+'])
        .map(|x| x.parse::<u32>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

impl Ctx<'_> {
    /// Skip reason when the runtime's `features` says it implements a spec
    /// older than `v`, the version that introduced `what`.
    pub fn needs_spec(&self, v: &str, what: &str) -> Option<String> {
        let max = self.features()?["ociVersionMax"].as_str()?;
        (version(max) < version(v))
            .then(|| format!("{what} is in runtime-spec {v}; the runtime implements up to {max}"))
    }
}

pub fn path(p: &Path) -> &str {
    p.to_str().unwrap_or("")
}

pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Turn the checker's JSON line (plus the runtime's exit) into an outcome.
pub fn checker_outcome(out: &Output) -> Outcome {
    let report = out
        .stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("{\"oci-checker\""))
        .and_then(|l| serde_json::from_str::<Value>(l).ok());
    let Some(report) = report else {
        return Outcome::Fail(format!("no report from the checker; {}", out.describe()));
    };
    let results = report["results"].as_array().cloned().unwrap_or_default();
    let pick = |status: &str| -> Vec<String> {
        results
            .iter()
            .filter(|r| r["status"] == status)
            .map(|r| {
                format!(
                    "{}: {}",
                    r["name"].as_str().unwrap_or(""),
                    r["detail"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    let fails = pick("fail");
    let skips = pick("skip");
    if !fails.is_empty() {
        Outcome::Fail(fails.join("; "))
    } else if !out.success() {
        Outcome::Fail(format!("checks passed but {}", out.describe()))
    } else if results.iter().all(|r| r["status"] == "skip") {
        Outcome::Skip(skips.join("; "))
    } else {
        Outcome::Pass
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn run_one(
    opts: &Options,
    t: &Test,
    idx: usize,
    features: &Option<Value>,
    scratch_base: &Path,
) -> Record {
    let start = Instant::now();
    let work = scratch_base.join(format!("t{idx}"));
    let bundles = match &opts.keep {
        Some(k) => k.join(sanitize(&t.name)),
        None => work.join("bundles"),
    };
    let setup = (|| -> std::io::Result<Ctx> {
        std::fs::create_dir_all(work.join("root"))?;
        std::fs::create_dir_all(work.join("scratch"))?;
        if opts.keep.is_some() {
            // A rerun with --keep starts from clean bundles.
            let _ = std::fs::remove_dir_all(&bundles);
        }
        std::fs::create_dir_all(&bundles)?;
        Ok(Ctx {
            opts,
            rt: Runtime {
                path: opts.runtime.clone(),
                root: work.join("root"),
                scratch: work.join("scratch"),
                timeout: opts.timeout,
            },
            work: work.clone(),
            bundles,
            base_id: format!("occ{}-{idx}", std::process::id()),
            ids: Vec::new(),
            features,
        })
    })();
    let outcome = match setup {
        Err(e) => Outcome::Fail(format!("test setup: {e}")),
        Ok(mut ctx) => {
            // A panic is a bug in the test: report it, keep the run going.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (t.run)(&mut ctx)));
            let o = match r {
                Ok(Ok(o)) => o,
                Ok(Err(e)) => Outcome::Fail(format!("error: {e}")),
                Err(_) => Outcome::Fail("the test panicked (a bug in the test)".into()),
            };
            // Leave no container behind, whatever the test did: delete, then
            // kill what a broken runtime may have left (found by this test's
            // unique paths, so nothing else is touched).
            ctx.rt.timeout = ctx.rt.timeout.min(Duration::from_secs(5));
            let ids = std::mem::take(&mut ctx.ids);
            for id in &ids {
                let _ = ctx.rt.exec(&["delete", "--force", id]);
            }
            reap(&work, &ctx.bundles);
            remove_cgroups(&ids);
            o
        }
    };
    let _ = std::fs::remove_dir_all(&work);
    Record {
        name: t.name.clone(),
        outcome,
        millis: start.elapsed().as_millis(),
    }
}

/// SIGKILL every process whose command line names `work` or whose root
/// directory lies under `bundles`: leftovers of this test only.
fn reap(work: &Path, bundles: &Path) {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    // With the trailing slash: t1 must not match t10.
    let w = format!("{}/", work.to_string_lossy());
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == std::process::id() as i32 {
            continue;
        }
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let root = std::fs::read_link(e.path().join("root")).unwrap_or_default();
        if cmdline.contains(&w) || (root.starts_with(bundles) && root != Path::new("/")) {
            // SAFETY: plain kill(2) of a pid we just matched.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Remove the (empty) cgroups a runtime left for our ids: runtimes name a
/// container's cgroup after its id when cgroupsPath is unset.
fn remove_cgroups(ids: &[String]) {
    let Ok(ctrls) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    // v1: one hierarchy per controller; v2: the unified root itself.
    let mut ctrls: Vec<PathBuf> = ctrls.flatten().map(|e| e.path()).collect();
    ctrls.push(PathBuf::from("/sys/fs/cgroup"));
    for id in ids {
        for c in &ctrls {
            let d = c.join(id);
            if d.is_dir() {
                // rmdir only removes an empty cgroup; a live one stays.
                let _ = std::fs::remove_dir(&d);
            }
        }
    }
}

/// Run tests on `jobs` threads; results come back in the tests' order.
pub fn run_all(opts: &Options, tests: Vec<Test>, jobs: usize) -> std::io::Result<Vec<Record>> {
    let scratch = std::env::temp_dir().join(format!("oci-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let features = query_features(opts, &scratch);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Record>>> = Mutex::new(vec![None; tests.len()]);
    std::thread::scope(|s| {
        for _ in 0..jobs.min(tests.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(t) = tests.get(i) else { break };
                let r = run_one(opts, t, i, &features, &scratch);
                if let Ok(mut v) = results.lock() {
                    v[i] = Some(r);
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect())
}

fn query_features(opts: &Options, scratch: &Path) -> Option<Value> {
    let dir = scratch.join("features");
    std::fs::create_dir_all(&dir).ok()?;
    let rt = Runtime {
        path: opts.runtime.clone(),
        root: dir.clone(),
        scratch: dir,
        timeout: opts.timeout,
    };
    let out = rt.exec(&["features"]).ok()?;
    if !out.success() {
        return None;
    }
    serde_json::from_str(&out.stdout).ok()
}
