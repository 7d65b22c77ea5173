//! Shared harness for oxrun's black-box integration tests.
//!
//! Every scenario runs once per runtime named in `OXRUN_TEST_RUNTIMES` (comma
//! separated, default `runc,oxrun`): `oxrun` is the binary under test
//! (`CARGO_BIN_EXE_oxrun`), any other name is looked up on `PATH` (`runc` is the
//! oracle). [`each`] runs the scenario under every runtime, reports the failures
//! of all of them together, and then checks that all runtimes observed the same
//! thing. Each [`Runtime`] has its own temporary `--root`, each [`Bundle`] its own
//! directory and a fresh copy of a busybox rootfs built once per test binary by
//! `bundle-examples/mkrootfs`, and container ids are unique, so tests run in
//! parallel without seeing each other.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long any single runtime command may take before the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// How long to poll for a state change (a container stopping, a file appearing).
pub const POLL_TIMEOUT: Duration = Duration::from_secs(10);

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

// ---------------------------------------------------------------------------
// Temporary directories
// ---------------------------------------------------------------------------

/// A directory under /tmp, mode 0755 (so that a user-namespaced container root
/// can traverse it), removed on drop after any mount left under it is detached.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "oxrun-t-{}-{}-{}",
            std::process::id(),
            unique(),
            tag
        ));
        fs::create_dir_all(&path).expect("create temp dir");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        safe_remove(&self.0);
    }
}

/// Removes `path`, first detaching any mount below it (a runtime that leaked a
/// mount into the host namespace must not make us delete through it).
pub fn safe_remove(path: &Path) {
    let mut leaked: Vec<String> = host_mounts_under(path);
    leaked.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in leaked {
        if let Ok(c) = std::ffi::CString::new(m) {
            // SAFETY: a plain syscall on a NUL-terminated path.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
    if host_mounts_under(path).is_empty() {
        let _ = fs::remove_dir_all(path);
    }
}

// ---------------------------------------------------------------------------
// The busybox rootfs, built once per test binary
// ---------------------------------------------------------------------------

static ROOTFS: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_rootfs_template() {
    if let Some(p) = ROOTFS.get() {
        let _ = fs::remove_dir_all(p.parent().unwrap_or(p));
    }
}

pub fn mkrootfs_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bundle-examples/mkrootfs")
}

/// The busybox rootfs template of this test binary (built on first use).
pub fn rootfs_template() -> &'static Path {
    ROOTFS.get_or_init(|| {
        let parent = std::env::temp_dir().join(format!("oxrun-t-{}-rootfs", std::process::id()));
        let dir = parent.join("rootfs");
        let out = Command::new("bash")
            .arg(mkrootfs_script())
            .arg(&dir)
            .stdin(Stdio::null())
            .output()
            .expect("run bundle-examples/mkrootfs");
        assert!(
            out.status.success(),
            "mkrootfs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::set_permissions(&parent, fs::Permissions::from_mode(0o755)).unwrap();
        // SAFETY: registering a plain extern "C" fn that only touches a OnceLock.
        unsafe { libc::atexit(remove_rootfs_template) };
        dir
    })
}

// ---------------------------------------------------------------------------
// Bundles
// ---------------------------------------------------------------------------

pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The config.json template: the same shape as `bundle-examples/minimal`.
pub fn config_template(args: &[&str]) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": [PATH_ENV, "HOME=/root"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "oxrun-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                           {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"]
        }
    })
}

/// A bundle directory with its own copy of the busybox rootfs. Edit `config`,
/// then [`Bundle::write`] (the runtime helpers write it for you). On drop, any
/// process still rooted in the bundle (a container a runtime failed to clean
/// up) is killed before the directory is removed.
pub struct Bundle {
    dir: TempDir,
    pub config: Value,
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for pid in host_processes_under(self.path()) {
            // SAFETY: plain kill(2) of a container process our test created.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        kill_processes_mentioning(&self.path().to_string_lossy());
    }
}

impl Bundle {
    /// A bundle whose process runs `args` (e.g. `["sh", "-c", "…"]`).
    pub fn new(args: &[&str]) -> Bundle {
        let dir = TempDir::new("bundle");
        let st = Command::new("cp")
            .arg("-a")
            .arg(rootfs_template())
            .arg(dir.path().join("rootfs"))
            .status()
            .expect("cp rootfs");
        assert!(st.success(), "copying the rootfs template failed");
        Bundle {
            dir,
            config: config_template(args),
        }
    }

    /// `sh -c script` as the container process.
    pub fn sh(script: &str) -> Bundle {
        Bundle::new(&["sh", "-c", script])
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn path_str(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.path().join("rootfs")
    }

    pub fn write(&self) {
        let text = serde_json::to_string_pretty(&self.config).unwrap();
        fs::write(self.path().join("config.json"), text).expect("write config.json");
    }

    /// A host directory `<bundle>/shared`, bind-mounted read-write at `/shared`
    /// in the container. Returns the host path.
    pub fn shared(&mut self) -> PathBuf {
        let host = self.path().join("shared");
        fs::create_dir_all(&host).unwrap();
        fs::set_permissions(&host, fs::Permissions::from_mode(0o777)).unwrap();
        self.add_mount(json!({"destination": "/shared", "type": "bind",
                              "source": host, "options": ["rbind", "rw"]}));
        host
    }

    pub fn add_mount(&mut self, m: Value) {
        self.config["mounts"].as_array_mut().unwrap().push(m);
    }

    pub fn process(&mut self) -> &mut Value {
        &mut self.config["process"]
    }

    pub fn linux(&mut self) -> &mut Value {
        &mut self.config["linux"]
    }
}

// ---------------------------------------------------------------------------
// Runtimes
// ---------------------------------------------------------------------------

/// Output of one runtime command. `status` is the exit code, or 128+signal.
#[derive(Debug, Clone)]
pub struct Out {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Panics with the whole output unless the command exited 0.
    #[track_caller]
    pub fn ok(&self) -> &Out {
        assert_eq!(self.status, 0, "command failed: {self:#?}");
        self
    }

    /// Panics with the whole output if the command exited 0.
    #[track_caller]
    pub fn failed(&self) -> &Out {
        assert_ne!(self.status, 0, "command unexpectedly succeeded: {self:#?}");
        self
    }

    pub fn lines(&self) -> Vec<String> {
        self.stdout.lines().map(str::to_string).collect()
    }
}

fn exit_code(st: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// One runc-compatible runtime binary with its own state directory.
pub struct Runtime {
    pub name: String,
    pub bin: PathBuf,
    base: TempDir,
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The runtime names to test, from `OXRUN_TEST_RUNTIMES` (default `runc,oxrun`).
pub fn runtime_names() -> Vec<String> {
    let v = std::env::var("OXRUN_TEST_RUNTIMES").unwrap_or_default();
    let v = if v.trim().is_empty() {
        "runc,oxrun".to_string()
    } else {
        v
    };
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Runtime {
    pub fn new(name: &str) -> Runtime {
        let bin = if name == "oxrun" {
            PathBuf::from(env!("CARGO_BIN_EXE_oxrun"))
        } else {
            find_on_path(name).unwrap_or_else(|| panic!("runtime {name:?} not found on PATH"))
        };
        let base = TempDir::new(&format!("rt-{}", name.replace('/', "_")));
        fs::create_dir_all(base.path().join("io")).unwrap();
        Runtime {
            name: name.to_string(),
            bin,
            base,
        }
    }

    pub fn is_runc(&self) -> bool {
        self.name == "runc" || self.name.ends_with("/runc")
    }

    pub fn is_oxrun(&self) -> bool {
        self.name == "oxrun"
    }

    /// The `--root` this runtime keeps its state in.
    pub fn root(&self) -> PathBuf {
        self.base.path().join("root")
    }

    /// A scratch directory owned by this runtime instance (log files etc.).
    pub fn scratch(&self) -> PathBuf {
        self.base.path().join("io")
    }

    /// A container id nobody else uses: `<tag>-<pid>-<n>`.
    pub fn id(&self, tag: &str) -> String {
        format!("{tag}-{}-{}", std::process::id(), unique())
    }

    /// `<bin> --root <root> args…`, stdin from /dev/null, with the default timeout.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_full(&[], args, COMMAND_TIMEOUT)
    }

    /// `<bin> --root <root> global… args…`. stdout and stderr go to files (a
    /// container started by `create` inherits them and may outlive the command);
    /// they are read when the runtime process exits. Panics on timeout.
    pub fn run_full(&self, global: &[&str], args: &[&str], timeout: Duration) -> Out {
        let root = self.root();
        let mut all: Vec<&str> = vec!["--root", root.to_str().unwrap()];
        all.extend_from_slice(global);
        all.extend_from_slice(args);
        self.run_raw(&all, &[], Vec::new(), timeout)
    }

    /// `<bin> args…` exactly (no `--root` added), with extra environment
    /// variables and `extra_fds` open as fds 3, 4, … in the runtime process.
    pub fn run_raw(
        &self,
        args: &[&str],
        envs: &[(&str, &str)],
        extra_fds: Vec<fs::File>,
        timeout: Duration,
    ) -> Out {
        let n = unique();
        let out_path = self.scratch().join(format!("{n}.out"));
        let err_path = self.scratch().join(format!("{n}.err"));
        let mut cmd = Command::new(&self.bin);
        cmd.args(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(fs::File::create(&out_path).unwrap())
            .stderr(fs::File::create(&err_path).unwrap());
        if !extra_fds.is_empty() {
            let raw: Vec<RawFd> = extra_fds.iter().map(|f| f.as_raw_fd()).collect();
            use std::os::unix::process::CommandExt;
            // SAFETY: only async-signal-safe calls (dup/dup2/fcntl) between fork
            // and exec. First move every source fd above the targets, then
            // dup2 into place (dup2 clears FD_CLOEXEC on the new fd).
            unsafe {
                cmd.pre_exec(move || {
                    let base = 3 + raw.len() as RawFd + 16;
                    let mut moved = Vec::with_capacity(raw.len());
                    for fd in &raw {
                        let m = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, base);
                        if m < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        moved.push(m);
                    }
                    for (i, m) in moved.iter().enumerate() {
                        if libc::dup2(*m, 3 + i as RawFd) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {} {:?}: {e}", self.bin.display(), args));
        drop(extra_fds);
        let start = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "[{}] {:?} timed out after {timeout:?}; stderr so far: {}",
                    self.name,
                    args,
                    fs::read_to_string(&err_path).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let out = Out {
            status: exit_code(status),
            stdout: fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        };
        let _ = fs::remove_file(&out_path);
        let _ = fs::remove_file(&err_path);
        out
    }

    /// `run -b <bundle> <id>` in the foreground (writes config.json first).
    pub fn run_bundle(&self, bundle: &Bundle, id: &str) -> Out {
        bundle.write();
        self.run(&["run", "-b", bundle.path_str(), id])
    }

    /// Runs the bundle under a fresh id and returns its output, failing unless
    /// the container exited 0.
    #[track_caller]
    pub fn output(&self, bundle: &Bundle) -> String {
        let id = self.id("run");
        let out = self.run_bundle(bundle, &id);
        assert_eq!(out.status, 0, "[{}] container failed: {out:#?}", self.name);
        out.stdout
    }

    /// `create -b <bundle> --pid-file <bundle>/pid <id>` (writes config.json first).
    pub fn create(&self, bundle: &Bundle, id: &str) -> Out {
        bundle.write();
        let pid_file = bundle.path().join("pid");
        self.run(&[
            "create",
            "-b",
            bundle.path_str(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            id,
        ])
    }

    /// The `state` JSON, or None when the command fails.
    pub fn state(&self, id: &str) -> Option<Value> {
        let out = self.run(&["state", id]);
        if out.status != 0 {
            return None;
        }
        Some(serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "[{}] state output is not JSON ({e}): {:?}",
                self.name, out.stdout
            )
        }))
    }

    pub fn status(&self, id: &str) -> Option<String> {
        self.state(id)
            .and_then(|s| s["status"].as_str().map(str::to_string))
    }

    /// Polls `state` until the status is `want`; panics after [`POLL_TIMEOUT`].
    #[track_caller]
    pub fn wait_status(&self, id: &str, want: &str) {
        let mut last = None;
        let ok = poll(POLL_TIMEOUT, || {
            last = self.status(id);
            last.as_deref() == Some(want)
        });
        assert!(
            ok,
            "[{}] container {id} never became {want}; last status {last:?}",
            self.name
        );
    }

    /// Ids listed by `list -q`.
    pub fn list_ids(&self) -> Vec<String> {
        let out = self.run(&["list", "-q"]);
        out.stdout.lines().map(|l| l.trim().to_string()).collect()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Leave no container behind, whatever the test did: `delete --force`
        // every id in our root (with a timeout, in case the runtime hangs), then
        // SIGKILL any process still running with our root in its argv (a
        // runtime's forked child or a stuck command).
        let ids: Vec<String> = fs::read_dir(self.root())
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        for id in ids {
            if let Ok(mut child) = Command::new(&self.bin)
                .arg("--root")
                .arg(self.root())
                .args(["delete", "--force", &id])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                let done = poll(Duration::from_secs(10), || {
                    matches!(child.try_wait(), Ok(Some(_)))
                });
                if !done {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        kill_processes_mentioning(&self.base.path().to_string_lossy());
    }
}

/// SIGKILLs every process (other than us) whose command line contains `needle`.
pub fn kill_processes_mentioning(needle: &str) {
    let me = std::process::id() as i32;
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            // SAFETY: plain kill(2) on a pid our test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Runs `scenario` under every runtime of [`runtime_names`], then fails if any
/// of them failed (naming all of them) or if they observed different values.
/// Returns the observations, in runtime order.
#[track_caller]
pub fn each<T, F>(scenario: F) -> Vec<(String, T)>
where
    T: Debug + PartialEq,
    F: Fn(&Runtime) -> T,
{
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for name in runtime_names() {
        let r = catch_unwind(AssertUnwindSafe(|| {
            let rt = Runtime::new(&name);
            scenario(&rt)
        }));
        match r {
            Ok(v) => results.push((name, v)),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                failures.push(format!("[{name}] {msg}"));
            }
        }
    }
    if !failures.is_empty() {
        panic!(
            "scenario failed under {} runtime(s):\n{}",
            failures.len(),
            failures.join("\n---\n")
        );
    }
    if let Some((first_name, first)) = results.first() {
        for (name, v) in &results[1..] {
            assert!(
                v == first,
                "runtimes disagree:\n[{first_name}] {first:#?}\n[{name}] {v:#?}"
            );
        }
    }
    results
}

// ---------------------------------------------------------------------------
// Polling and host-side inspection
// ---------------------------------------------------------------------------

/// Calls `f` until it returns true or `timeout` passes (1 ms, doubling to 20 ms).
pub fn poll(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut delay = Duration::from_millis(1);
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    }
}

/// Waits for a file to exist and be non-empty, and returns its contents.
#[track_caller]
pub fn wait_file(path: &Path) -> String {
    let mut s = String::new();
    let ok = poll(POLL_TIMEOUT, || {
        s = fs::read_to_string(path).unwrap_or_default();
        !s.is_empty()
    });
    assert!(ok, "{} never appeared", path.display());
    s
}

pub fn pid_alive(pid: i32) -> bool {
    // A zombie is not alive for our purposes.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s.rsplit(')').next().unwrap_or("").split_whitespace().next();
            state != Some("Z") && state != Some("X")
        }
        Err(_) => false,
    }
}

/// Waits for `pid` to be gone (or a zombie); panics after [`POLL_TIMEOUT`].
#[track_caller]
pub fn wait_pid_gone(pid: i32) {
    assert!(
        poll(POLL_TIMEOUT, || !pid_alive(pid)),
        "process {pid} still alive"
    );
}

/// Host mount points at or below `path`.
pub fn host_mounts_under(path: &Path) -> Vec<String> {
    let p = path.to_string_lossy().into_owned();
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_mountinfo(&info)
        .into_iter()
        .map(|m| m.mountpoint)
        .filter(|m| m == &p || m.starts_with(&format!("{p}/")))
        .collect()
}

/// Host processes whose root or cwd is at or below `path`, or whose root
/// directory is `path` or `path/rootfs` itself (after pivot_root a container's
/// /proc/<pid>/root no longer reads as a host path, but it is still the same
/// inode).
pub fn host_processes_under(path: &Path) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let p = path.to_string_lossy().into_owned();
    let inodes: Vec<(u64, u64)> = [path.to_path_buf(), path.join("rootfs")]
        .iter()
        .filter_map(|d| fs::metadata(d).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me || !pid_alive(pid) {
            continue;
        }
        let same_root = fs::metadata(format!("/proc/{pid}/root"))
            .map(|m| inodes.contains(&(m.dev(), m.ino())))
            .unwrap_or(false);
        let under = ["root", "cwd"].iter().any(|link| {
            fs::read_link(format!("/proc/{pid}/{link}"))
                .map(|t| {
                    let t = t.to_string_lossy();
                    t == p || t.starts_with(&format!("{p}/"))
                })
                .unwrap_or(false)
        });
        if same_root || under {
            found.push(pid);
        }
    }
    found
}

/// Asserts that nothing of container `id` remains: no state dir under the
/// runtime's root, no host mount and no process in the bundle, not listed.
#[track_caller]
pub fn assert_nothing_left(rt: &Runtime, bundle: &Bundle, id: &str) {
    let state_dir = rt.root().join(id);
    assert!(
        !state_dir.exists(),
        "[{}] state dir {} left behind",
        rt.name,
        state_dir.display()
    );
    let mounts = host_mounts_under(bundle.path());
    assert!(
        mounts.is_empty(),
        "[{}] mounts left behind: {mounts:?}",
        rt.name
    );
    let mut procs = Vec::new();
    let gone = poll(Duration::from_secs(2), || {
        procs = host_processes_under(bundle.path());
        procs.is_empty()
    });
    assert!(gone, "[{}] processes left behind: {procs:?}", rt.name);
    assert!(
        !rt.list_ids().contains(&id.to_string()),
        "[{}] {id} still listed",
        rt.name
    );
    let cgroups = cgroups_named(id);
    assert!(
        cgroups.is_empty(),
        "[{}] cgroups left behind: {cgroups:?}",
        rt.name
    );
}

/// Removes the cgroups named `id` that a failed runtime left behind: kills
/// what is still in them (processes our test started), then retries rmdir
/// until the dying processes have left.
pub fn remove_cgroups_named(id: &str) {
    for c in cgroups_named(id) {
        let procs = fs::read_to_string(c.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            // SAFETY: plain kill(2) of a container process our test created.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        poll(Duration::from_secs(5), || {
            fs::remove_dir(&c).is_ok() || !c.exists()
        });
    }
}

/// Cgroup directories named `id` (at depth 1 or 2 under any v1 hierarchy or
/// under the v2 root): where runtimes put a container without cgroupsPath.
pub fn cgroups_named(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![PathBuf::from("/sys/fs/cgroup")];
    for e in fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        if e.path().is_dir() {
            dirs.push(e.path());
            for e2 in fs::read_dir(e.path()).into_iter().flatten().flatten() {
                if e2.path().is_dir() {
                    dirs.push(e2.path());
                }
            }
        }
    }
    for d in dirs {
        let c = d.join(id);
        if c.is_dir() {
            found.push(c);
        }
    }
    found
}

/// The host's own namespace inode for `kind` (e.g. "pid"), as `pid:[4026531836]`.
pub fn host_ns(kind: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

pub fn read_pid_file(bundle: &Bundle) -> i32 {
    let s = fs::read_to_string(bundle.path().join("pid")).expect("pid file");
    s.trim()
        .parse()
        .unwrap_or_else(|_| panic!("pid file holds {s:?}"))
}

// ---------------------------------------------------------------------------
// Parsing what the container prints
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MountInfo {
    pub mountpoint: String,
    pub fstype: String,
    pub source: String,
    /// Per-mount options (ro/rw, nosuid, nodev, noexec, relatime, …).
    pub opts: Vec<String>,
    pub super_opts: Vec<String>,
    /// Propagation: "shared", "master", "shared+master" or "private".
    pub propagation: String,
}

pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    let mut v = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 6 || r.len() < 3 {
            continue;
        }
        let optional = &l[6..];
        let shared = optional.iter().any(|o| o.starts_with("shared:"));
        let master = optional.iter().any(|o| o.starts_with("master:"));
        let propagation = match (shared, master) {
            (true, true) => "shared+master",
            (true, false) => "shared",
            (false, true) => "master",
            _ => "private",
        };
        v.push(MountInfo {
            mountpoint: unescape_mount(l[4]),
            fstype: r[0].to_string(),
            source: unescape_mount(r[1]),
            opts: l[5].split(',').map(str::to_string).collect(),
            super_opts: r[2].split(',').map(str::to_string).collect(),
            propagation: propagation.to_string(),
        });
    }
    v
}

fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// `Key:\tvalue` lines of /proc/<pid>/status.
pub fn parse_status(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Splits output on lines of the form `== name ==` into named sections.
pub fn sections(text: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut cur: Option<String> = None;
    let mut buf = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("== ").and_then(|s| s.strip_suffix(" ==")) {
            if let Some(c) = cur.take() {
                map.insert(c, std::mem::take(&mut buf));
            }
            cur = Some(name.to_string());
        } else if cur.is_some() {
            buf.push_str(line);
            buf.push('\n');
        }
    }
    if let Some(c) = cur {
        map.insert(c, buf);
    }
    map
}

/// A mask of capability numbers, as /proc/self/status prints it.
pub fn cap_mask(caps: &[&str]) -> String {
    let mut mask: u64 = 0;
    for c in caps {
        mask |= 1u64 << cap_number(c);
    }
    format!("{mask:016x}")
}

pub fn cap_number(name: &str) -> u32 {
    const NAMES: [&str; 41] = [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];
    let short = name.trim_start_matches("CAP_");
    NAMES
        .iter()
        .position(|n| *n == short)
        .unwrap_or_else(|| panic!("unknown capability {name}")) as u32
}

// ---------------------------------------------------------------------------
// Console socket (the containerd / conmon way of getting the pty master)
// ---------------------------------------------------------------------------

/// A unix socket a runtime sends the pty master to (`--console-socket`).
pub struct ConsoleSocket {
    pub path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    pub fn new(dir: &Path) -> ConsoleSocket {
        let path = dir.join(format!("console-{}.sock", unique()));
        let listener = UnixListener::bind(&path).expect("bind console socket");
        listener.set_nonblocking(true).unwrap();
        ConsoleSocket { path, listener }
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Accepts one connection and receives the pty master fd (SCM_RIGHTS).
    #[track_caller]
    pub fn receive_master(&self, timeout: Duration) -> OwnedFd {
        let start = Instant::now();
        let stream = loop {
            match self.listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(
                        start.elapsed() < timeout,
                        "nobody connected to the console socket"
                    );
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => panic!("accept on console socket: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(timeout)).unwrap();
        recv_fd(stream.as_raw_fd()).expect("no fd received over the console socket")
    }
}

fn recv_fd(sock: RawFd) -> Option<OwnedFd> {
    let mut data = [0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // Room for a few fds, aligned for cmsghdr.
    let mut cbuf = [0u64; 16];
    // SAFETY: msghdr is plain old data; all pointers point into live buffers.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
        let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
        if n < 0 {
            return None;
        }
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const RawFd);
                return Some(OwnedFd::from_raw_fd(fd));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    None
}

/// Reads a pty master until the other side is closed (EIO) or `timeout` passes.
/// Carriage returns are dropped.
pub fn read_pty(master: &OwnedFd, timeout: Duration) -> String {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut f = fs::File::from(master.try_clone().unwrap());
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        let mut pfd = libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(100) as i32) };
        if r <= 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).replace('\r', "")
}

/// Whether `s` contains `needle`, ignoring ASCII case.
pub fn contains_ci(s: &str, needle: &str) -> bool {
    s.to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

// ---------------------------------------------------------------------------
// exec (tests/exec.rs, tests/attacks.rs)
// ---------------------------------------------------------------------------

/// Creates and starts `bundle` under a fresh id; returns the id and the
/// init's host pid.
#[track_caller]
pub fn start_container(rt: &Runtime, bundle: &Bundle, tag: &str) -> (String, i32) {
    let id = rt.id(tag);
    rt.create(bundle, &id).ok();
    let pid = read_pid_file(bundle);
    rt.run(&["start", &id]).ok();
    rt.wait_status(&id, "running");
    (id, pid)
}

/// `exec <flags…> <id> <cmd…>` (runc wants every flag before the id).
pub fn exec_in(rt: &Runtime, id: &str, flags: &[&str], cmd: &[&str]) -> Out {
    let mut args = vec!["exec"];
    args.extend_from_slice(flags);
    args.push(id);
    args.extend_from_slice(cmd);
    rt.run(&args)
}

/// `exec --detach --pid-file` of `cmd` into `id`; the exec'd process's host
/// pid (from the pid file, written once it runs).
pub fn exec_detached(rt: &Runtime, id: &str, cmd: &[&str]) -> i32 {
    let pid_file = rt
        .scratch()
        .join(format!("{id}.exec-{}.pid", cmd.join("_").replace('/', "_")));
    let _ = fs::remove_file(&pid_file);
    exec_in(
        rt,
        id,
        &["--detach", "--pid-file", pid_file.to_str().unwrap()],
        cmd,
    )
    .ok();
    wait_file(&pid_file).trim().parse().unwrap()
}

/// A process JSON (the spec's `process` object, as containerd writes it for
/// `exec --process`) from the config template, running `args`.
pub fn process_json(args: &[&str], terminal: bool) -> Value {
    let mut p = config_template(args)["process"].clone();
    p["terminal"] = json!(terminal);
    p
}

/// SHA-256-free content fingerprint good enough to see a changed file: its
/// length and a 64-bit FNV-1a hash of every byte.
pub fn file_fingerprint(path: &Path) -> (u64, u64) {
    let data = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut h: u64 = 0xcbf29ce484222325;
    for b in &data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    (data.len() as u64, h)
}
