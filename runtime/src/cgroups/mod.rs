//! Our small interface over `libcgroups`: the rest of the runtime sees one
//! `Cgroup` whatever the host runs (v1, v2, hybrid, systemd). The container's
//! cgroup is created and joined before any user code runs, and its resources
//! applied right then; `update`, `pause`/`resume`, `ps` and `events` work on
//! it through this module too.

mod devices;
mod join;
mod mount;
mod oom;
pub mod resources;
pub mod stats;

pub use join::SelfJoin;
pub use mount::mount_cgroupfs;
pub use oom::OomWatch;

use libcgroups::common::{
    AnyCgroupManager, CgroupConfig, CgroupManager, CgroupSetup, ControllerOpt, FreezerState,
};
use oci_spec::runtime::LinuxResources;
use std::cell::{OnceCell, RefCell};
use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroup {path}: {msg}")]
    Manager { path: PathBuf, msg: String },
    #[error("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the cgroupfs driver")]
    NoSystemd,
    #[error("--systemd-cgroup needs a cgroup v2 host; this host has its controllers on cgroup v1")]
    SystemdNeedsV2,
    #[error("expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got {0:?} instead")]
    SystemdPath(String),
    #[error("invalid resources: {0}")]
    Invalid(String),
    #[error("cgroup {path}: applying resources: {msg}")]
    Apply { path: PathBuf, msg: String },
    #[error(transparent)]
    Devices(#[from] devices::DeviceFilterError),
    #[error("cgroup {path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
}

/// Which hierarchy (and driver) holds the controllers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    V1,
    V2,
    Systemd,
}

pub struct Cgroup {
    pub path: PathBuf,
    id: String,
    kind: Kind,
    /// Made on first use: libcgroups' v1 manager reads mountinfo and
    /// /proc/self/cgroup once per controller (~1.6 ms), which joining,
    /// `exec` and removing on v1 do without.
    manager: OnceCell<AnyCgroupManager>,
    /// The host's cgroup mounts, read once.
    mounts: OnceCell<Vec<mount::HostMount>>,
    /// On a hybrid host whose hugetlb controller sits on the v2 hierarchy
    /// (v1 everything else): hugetlb goes through a v2 manager there.
    hugetlb_v2: Option<(PathBuf, libcgroups::v2::manager::Manager)>,
    /// Resources applied right after the first task joins (at create).
    pending: RefCell<Option<LinuxResources>>,
    /// Where the v2 hierarchy is mounted (tests use the hybrid one).
    v2_root: PathBuf,
}

/// The runtime's own cgroup path (as seen in /proc/self/cgroup), which runc
/// uses as the parent of relative and default cgroup paths.
fn own_cgroup() -> PathBuf {
    let data = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut v2 = None;
    for (ctrls, path) in mount::proc_cgroup_entries(&data) {
        if ctrls.split(',').any(|c| c == "memory" || c == "pids") {
            return PathBuf::from(path);
        }
        if ctrls.is_empty() {
            v2 = Some(PathBuf::from(path));
        }
    }
    v2.unwrap_or_else(|| PathBuf::from("/"))
}

/// runc's semantics for `linux.cgroupsPath`: absolute as given; relative
/// under the runtime's own cgroup; absent → `<own cgroup>/<id>`.
pub fn resolve_path(spec_path: Option<&Path>, id: &str) -> PathBuf {
    match spec_path {
        Some(p) if p.is_absolute() => p.to_path_buf(),
        Some(p) if !p.as_os_str().is_empty() => own_cgroup().join(p),
        _ => own_cgroup().join(id),
    }
}

/// runc's cgroupsPath rules for both drivers. cgroupfs: see [`resolve_path`].
/// systemd: `slice:prefix:name`, and `system.slice:oxrun:<id>` when absent.
pub fn resolve(spec_path: Option<&Path>, id: &str, systemd: bool) -> Result<PathBuf, CgroupError> {
    if !systemd {
        return Ok(resolve_path(spec_path, id));
    }
    match spec_path
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
    {
        None => Ok(PathBuf::from(format!("system.slice:oxrun:{id}"))),
        Some(s) if s.split(':').count() == 3 => Ok(PathBuf::from(s)),
        Some(s) => Err(CgroupError::SystemdPath(s)),
    }
}

/// Where systemd puts the unit of `slice:prefix:name` (below the v2 root):
/// the slice expanded (`a-b.slice` → `a.slice/a-b.slice`), then
/// `prefix-name.scope` (or `name` itself when it is a slice). libcgroups
/// keeps its path private; we need it for the device filter, OOM events and
/// cpuset stats.
fn systemd_unit_dir(path: &Path) -> Option<PathBuf> {
    let s = path.to_str()?;
    let mut parts = s.splitn(3, ':');
    let (slice, prefix, name) = (parts.next()?, parts.next()?, parts.next()?);
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    let base = slice.strip_suffix(".slice")?;
    let mut dir = PathBuf::new();
    if base != "-" {
        let mut acc = String::new();
        for part in base.split('-') {
            if !acc.is_empty() {
                acc.push('-');
            }
            acc.push_str(part);
            dir.push(format!("{acc}.slice"));
        }
    }
    if name.ends_with(".slice") {
        dir.push(name);
    } else if prefix.is_empty() {
        dir.push(format!("{name}.scope"));
    } else {
        dir.push(format!("{prefix}-{name}.scope"));
    }
    Some(dir)
}

/// Whether the cgroup at `path` is frozen, for `state` and `list`: cheap (no
/// manager, no D-Bus), v1 freezer first, then v2's `cgroup.freeze`.
pub fn is_frozen(path: &Path, systemd: bool) -> bool {
    let v1 = mount::host_cgroup_mounts()
        .into_iter()
        .find(|m| m.fstype == "cgroup" && m.super_opts.split(',').any(|o| o == "freezer"));
    if let Some(m) = v1 {
        return std::fs::read_to_string(under(&m.mountpoint, path).join("freezer.state"))
            .map(|s| s.trim() == "FROZEN")
            .unwrap_or(false);
    }
    let dir = if systemd {
        match systemd_unit_dir(path) {
            Some(rel) => Path::new(ROOT).join(rel),
            None => return false,
        }
    } else {
        under(Path::new(ROOT), path)
    };
    std::fs::read_to_string(dir.join("cgroup.freeze"))
        .map(|s| s.trim() == "1")
        .unwrap_or(false)
}

/// The v2 mount of a hybrid host, when it (not v1) holds hugetlb.
fn hybrid_hugetlb_root(mounts: &[mount::HostMount]) -> Option<PathBuf> {
    let v1_has = mounts
        .iter()
        .any(|m| m.fstype == "cgroup" && m.super_opts.split(',').any(|o| o == "hugetlb"));
    if v1_has {
        return None;
    }
    let uni = mounts
        .iter()
        .find(|m| m.fstype == "cgroup2" && m.mountpoint != Path::new(ROOT))?;
    let ctrls = std::fs::read_to_string(uni.mountpoint.join("cgroup.controllers")).ok()?;
    ctrls
        .split_whitespace()
        .any(|c| c == "hugetlb")
        .then(|| uni.mountpoint.clone())
}

/// `path` (absolute) below `root`.
fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

impl Cgroup {
    pub fn open(path: &Path, id: &str, systemd: bool) -> Result<Cgroup, CgroupError> {
        if systemd && !Path::new("/run/systemd/system").exists() {
            return Err(CgroupError::NoSystemd);
        }
        let merr = |msg: String| CgroupError::Manager {
            path: path.to_path_buf(),
            msg,
        };
        let setup = libcgroups::common::get_cgroup_setup().map_err(|e| merr(e.to_string()))?;
        let unified = matches!(setup, CgroupSetup::Unified);
        // libcgroups has no systemd manager for v1 controllers: it would
        // treat "slice:prefix:name" as a directory name.
        if systemd && !unified {
            return Err(CgroupError::SystemdNeedsV2);
        }
        let kind = match (unified, systemd) {
            (false, _) => Kind::V1,
            (true, false) => Kind::V2,
            (true, true) => Kind::Systemd,
        };
        let mounts = mount::host_cgroup_mounts();
        let hugetlb_v2 = match (unified, hybrid_hugetlb_root(&mounts)) {
            (false, Some(root)) => {
                let m = libcgroups::v2::manager::Manager::new(root.clone(), path.to_path_buf())
                    .map_err(|e| merr(e.to_string()))?;
                Some((root, m))
            }
            _ => None,
        };
        Ok(Cgroup {
            path: path.to_path_buf(),
            id: id.to_string(),
            kind,
            manager: OnceCell::new(),
            mounts: OnceCell::from(mounts),
            hugetlb_v2,
            pending: RefCell::new(None),
            v2_root: PathBuf::from(ROOT),
        })
    }

    /// A v2 manager on the v2 hierarchy mounted at `root` (tests: lets a
    /// hybrid host exercise the v2 path on its `unified` mount).
    #[cfg(test)]
    fn open_v2_at(root: &Path, path: &Path) -> Result<Cgroup, CgroupError> {
        let m = libcgroups::v2::manager::Manager::new(root.to_path_buf(), path.to_path_buf())
            .map_err(|e| CgroupError::Manager {
                path: path.to_path_buf(),
                msg: e.to_string(),
            })?;
        Ok(Cgroup {
            path: path.to_path_buf(),
            id: String::new(),
            kind: Kind::V2,
            manager: OnceCell::from(m.any()),
            mounts: OnceCell::new(),
            hugetlb_v2: None,
            pending: RefCell::new(None),
            v2_root: root.to_path_buf(),
        })
    }

    /// libcgroups' manager for this cgroup, made on first use.
    fn manager(&self) -> Result<&AnyCgroupManager, CgroupError> {
        if let Some(m) = self.manager.get() {
            return Ok(m);
        }
        let m = libcgroups::common::create_cgroup_manager(CgroupConfig {
            cgroup_path: self.path.clone(),
            systemd_cgroup: self.kind == Kind::Systemd,
            container_name: self.id.clone(),
        })
        .map_err(|e| self.err(e))?;
        Ok(self.manager.get_or_init(|| m))
    }

    fn mounts(&self) -> &[mount::HostMount] {
        self.mounts.get_or_init(mount::host_cgroup_mounts)
    }

    fn err(&self, e: impl std::fmt::Display) -> CgroupError {
        CgroupError::Manager {
            path: self.path.clone(),
            msg: e.to_string(),
        }
    }

    fn apply_err(&self, e: impl std::fmt::Display) -> CgroupError {
        CgroupError::Apply {
            path: self.path.clone(),
            msg: e.to_string(),
        }
    }

    /// Whether the controllers are on cgroup v2 (pure v2 or systemd).
    pub fn is_v2(&self) -> bool {
        self.kind != Kind::V1
    }

    /// Resources to apply as soon as the first task joins: `create` sets the
    /// spec's here, so they are in force before init runs any user code and
    /// a failure fails the create.
    pub fn apply_on_join(&self, r: Option<&LinuxResources>) {
        let mut r = r.cloned().unwrap_or_default();
        // No rules still means a device policy (the defaults), as in runc.
        if r.devices().is_none() {
            r.set_devices(Some(Vec::new()));
        }
        *self.pending.borrow_mut() = Some(r);
    }

    /// On v1, the `tasks` files through which a forked, single-threaded
    /// stage 1 puts itself in the cgroup (see [`join`]; `create` makes the
    /// directories). None on v2, where [`Self::add_task`] joins the pid.
    pub fn self_join(&self, create: bool) -> Result<Option<SelfJoin>, CgroupError> {
        if self.kind != Kind::V1 {
            return Ok(None);
        }
        join::prepare(self.mounts(), &self.path, create).map(Some)
    }

    /// Puts `pid` in the cgroup where it does not join by itself (v2, and
    /// the hybrid hugetlb hierarchy; v1 goes through [`Self::self_join`]),
    /// then applies the resources given to [`Self::apply_on_join`].
    pub fn add_task(&self, pid: i32) -> Result<(), CgroupError> {
        let pid = nix::unistd::Pid::from_raw(pid);
        if self.kind != Kind::V1 {
            self.manager()?.add_task(pid).map_err(|e| self.err(e))?;
        }
        if let Some((_, m)) = &self.hugetlb_v2 {
            m.add_task(pid).map_err(|e| self.err(e))?;
        }
        let pending = self.pending.borrow_mut().take();
        if let Some(r) = pending {
            self.apply(&r)?;
        }
        Ok(())
    }

    /// The directory of controller `ctrl` (v1), or the cgroup's directory (v2).
    pub fn controller_dir(&self, ctrl: &str) -> Option<PathBuf> {
        match self.kind {
            Kind::V1 => self
                .mounts()
                .iter()
                .find(|m| m.fstype == "cgroup" && m.super_opts.split(',').any(|o| o == ctrl))
                .map(|m| under(&m.mountpoint, &self.path)),
            Kind::V2 => Some(under(&self.v2_root, &self.path)),
            Kind::Systemd => systemd_unit_dir(&self.path).map(|rel| Path::new(ROOT).join(rel)),
        }
    }

    /// Applies `r` (all of it; `update` passes the merged resources).
    pub fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        resources::validate(r, self.is_v2())?;
        if self.kind == Kind::V1 && only_devices(r) {
            // A bundle without limits (the usual create): device rules are
            // all there is to write, with no need of libcgroups' manager.
            if let Some(dir) = self.controller_dir("devices") {
                return devices::apply_v1(&dir, r.devices().as_deref().unwrap_or_default());
            }
        }
        let mut main = r.clone();
        let mut huge = LinuxResources::default();
        if self.hugetlb_v2.is_some() {
            huge.set_hugepage_limits(main.hugepage_limits_mut().take());
        }
        if let Some(rdma) = main.rdma_mut().take().filter(|r| !r.is_empty()) {
            self.apply_rdma(&rdma)?;
        }
        if let Some(m) = main.memory() {
            if let Some(h) = m.use_hierarchy() {
                self.set_use_hierarchy(h)?;
            }
        }
        let opt = |res| ControllerOpt {
            resources: res,
            disable_oom_killer: res
                .memory()
                .as_ref()
                .and_then(|m| m.disable_oom_killer())
                .unwrap_or(false),
            oom_score_adj: None,
            freezer_state: None,
        };
        self.manager()?
            .apply(&opt(&main))
            .map_err(|e| self.apply_err(e))?;
        // v2 has no devices controller (libcgroups' filter needs libbpf):
        // our eBPF program. `update` passes no devices and leaves it be.
        if let (Kind::V2, Some(devs)) = (self.kind, r.devices()) {
            if let Some(dir) = self.controller_dir("devices") {
                devices::apply(&dir, devs)?;
            }
        }
        if let Some((_, m)) = &self.hugetlb_v2 {
            if huge.hugepage_limits().is_some() {
                m.apply(&opt(&huge)).map_err(|e| self.apply_err(e))?;
            }
        }
        Ok(())
    }

    /// `memory.checkBeforeUpdate` (v2): a new memory limit below the current
    /// usage is refused, instead of the kernel reclaiming or OOM-killing to
    /// get under it. (v1 refuses such a limit by itself: EBUSY.)
    pub fn check_before_update(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        let Some(m) = r.memory().as_ref() else {
            return Ok(());
        };
        let limit = match m.limit() {
            Some(l) if l > 0 && m.check_before_update() == Some(true) && self.is_v2() => l,
            _ => return Ok(()),
        };
        let Some(dir) = self.controller_dir("memory") else {
            return Ok(());
        };
        let usage: i64 = std::fs::read_to_string(dir.join("memory.current"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        if usage > limit {
            return Err(CgroupError::Invalid(format!(
                "unable to set memory limit to {limit} (current usage: {usage})"
            )));
        }
        Ok(())
    }

    /// memory.use_hierarchy (v1 only; current kernels fix it at 1 and
    /// refuse 0, which then is an error, as asked).
    fn set_use_hierarchy(&self, on: bool) -> Result<(), CgroupError> {
        if self.is_v2() {
            return Ok(());
        }
        let Some(dir) = self.controller_dir("memory") else {
            return Ok(());
        };
        let f = dir.join("memory.use_hierarchy");
        let want = if on { "1" } else { "0" };
        if std::fs::read_to_string(&f)
            .map(|s| s.trim() == want)
            .unwrap_or(false)
        {
            return Ok(());
        }
        std::fs::write(&f, want).map_err(|source| CgroupError::Io {
            path: f,
            what: "setting memory.use_hierarchy",
            source,
        })
    }

    /// libcgroups has no rdma controller: `rdma.max`, one line per device.
    fn apply_rdma(
        &self,
        rdma: &std::collections::HashMap<String, oci_spec::runtime::LinuxRdma>,
    ) -> Result<(), CgroupError> {
        let dir = match self.kind {
            Kind::V1 => self.controller_dir("rdma"),
            _ => self.controller_dir("rdma").filter(|d| {
                std::fs::read_to_string(Path::new(ROOT).join("cgroup.controllers"))
                    .map(|c| c.split_whitespace().any(|x| x == "rdma"))
                    .unwrap_or(false)
                    && d.is_dir()
            }),
        }
        .filter(|d| d.join("rdma.max").exists())
        .ok_or_else(|| CgroupError::Invalid("rdma: no rdma controller on this host".into()))?;
        for (dev, l) in rdma {
            let mut line = dev.clone();
            if let Some(h) = l.hca_handles() {
                line.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = l.hca_objects() {
                line.push_str(&format!(" hca_object={o}"));
            }
            let f = dir.join("rdma.max");
            std::fs::write(&f, &line).map_err(|source| CgroupError::Io {
                path: f,
                what: "setting rdma.max",
                source,
            })?;
        }
        Ok(())
    }

    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.manager()?
            .freeze(FreezerState::Frozen)
            .map_err(|e| self.err(e))
    }

    pub fn thaw(&self) -> Result<(), CgroupError> {
        // v1 needs one write, not libcgroups' manager (delete thaws first).
        if self.kind == Kind::V1 {
            if let Some(dir) = self.controller_dir("freezer") {
                let f = dir.join("freezer.state");
                return std::fs::write(&f, "THAWED").map_err(|source| CgroupError::Io {
                    path: f,
                    what: "thawing",
                    source,
                });
            }
        }
        self.manager()?
            .freeze(FreezerState::Thawed)
            .map_err(|e| self.err(e))
    }

    pub fn stats(&self) -> Result<libcgroups::stats::Stats, CgroupError> {
        let mut s = self.manager()?.stats().map_err(|e| self.err(e))?;
        if let Some((root, _)) = &self.hugetlb_v2 {
            s.hugetlb = v2_hugetlb_stats(&under(root, &self.path));
        }
        Ok(s)
    }

    /// runc's `events --stats` data for this cgroup.
    pub fn runc_stats(&self) -> Result<serde_json::Value, CgroupError> {
        let mut s = self.stats()?;
        // runc reports nanoseconds; libcgroups passes the files' units on.
        let u = &mut s.cpu.usage;
        if self.is_v2() {
            u.usage_total *= 1000;
            u.usage_user *= 1000;
            u.usage_kernel *= 1000;
            s.cpu.throttling.throttled_time *= 1000;
        } else {
            // cpuacct.stat counts clock ticks.
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
            u.usage_user = u.usage_user * 1_000_000_000 / hz;
            u.usage_kernel = u.usage_kernel * 1_000_000_000 / hz;
        }
        Ok(stats::to_runc(&s, self.controller_dir("cpuset").as_deref()))
    }

    /// A watch for OOM kills in this cgroup (None where we cannot watch:
    /// no memory controller, or systemd).
    pub fn oom_watch(&self) -> Result<Option<OomWatch>, CgroupError> {
        let Some(dir) = self.controller_dir("memory") else {
            return Ok(None);
        };
        let w = if self.is_v2() {
            OomWatch::v2(&dir)
        } else {
            OomWatch::v1(&dir)
        };
        w.map(Some).map_err(|source| CgroupError::Io {
            path: dir,
            what: "watching for OOM",
            source,
        })
    }

    /// Every pid in the cgroup and its sub-cgroups.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        if self.kind == Kind::V1 {
            // As libcgroups does (the devices hierarchy), without its manager.
            if let Some(dir) = self.controller_dir("devices") {
                let mut out = Vec::new();
                return match join::collect_pids(&dir, &mut out) {
                    Ok(()) => Ok(out),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(out),
                    Err(source) => Err(CgroupError::Io {
                        path: dir,
                        what: "listing pids",
                        source,
                    }),
                };
            }
        }
        Ok(self
            .manager()?
            .get_all_pids()
            .map_err(|e| self.err(e))?
            .into_iter()
            .map(|p| p.as_raw())
            .collect())
    }

    pub fn remove(&self) -> Result<(), CgroupError> {
        // v1: ours, without the manager (see `join::remove`).
        let r = match self.kind {
            Kind::V1 => join::remove(self.mounts(), &self.path),
            _ => self.manager()?.remove().map_err(|e| self.err(e)),
        };
        if let Some((_, m)) = &self.hugetlb_v2 {
            m.remove().map_err(|e| self.err(e))?;
        }
        r
    }
}

/// Whether `r` holds device rules and nothing else.
fn only_devices(r: &LinuxResources) -> bool {
    let mut rest = r.clone();
    rest.set_devices(None);
    rest == LinuxResources::default()
}

/// hugetlb usage from a v2 cgroup (what the v1 manager cannot see on a
/// hybrid host): `hugetlb.<size>.current` and the `max` count of `.events`.
fn v2_hugetlb_stats(
    dir: &Path,
) -> std::collections::HashMap<String, libcgroups::stats::HugeTlbStats> {
    let mut out = std::collections::HashMap::new();
    for size in libcgroups::stats::supported_page_sizes().unwrap_or_default() {
        let read = |f: String| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        let usage = read(format!("hugetlb.{size}.current"))
            .trim()
            .parse()
            .unwrap_or(0);
        let fail_count = read(format!("hugetlb.{size}.events"))
            .lines()
            .find_map(|l| l.strip_prefix("max "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        out.insert(
            size,
            libcgroups::stats::HugeTlbStats {
                usage,
                max_usage: 0,
                fail_count,
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_devices_means_nothing_else_set() {
        let mut r = LinuxResources::default();
        assert!(only_devices(&r));
        r.set_devices(Some(vec![Default::default()]));
        assert!(only_devices(&r));
        let mut p = oci_spec::runtime::LinuxPids::default();
        p.set_limit(10);
        r.set_pids(Some(p));
        assert!(!only_devices(&r));
    }

    #[test]
    fn cgroups_path_semantics() {
        assert_eq!(
            resolve_path(Some(Path::new("/default/c1")), "c1"),
            PathBuf::from("/default/c1")
        );
        let own = own_cgroup();
        assert_eq!(
            resolve_path(Some(Path::new("kube/c1")), "c1"),
            own.join("kube/c1")
        );
        assert_eq!(resolve_path(None, "c1"), own.join("c1"));
    }

    #[test]
    fn systemd_cgroups_path_semantics() {
        assert_eq!(
            resolve(Some(Path::new("system.slice:docker:c1")), "c1", true).unwrap(),
            PathBuf::from("system.slice:docker:c1")
        );
        assert_eq!(
            resolve(None, "c1", true).unwrap(),
            PathBuf::from("system.slice:oxrun:c1")
        );
        assert!(matches!(
            resolve(Some(Path::new("/default/c1")), "c1", true),
            Err(CgroupError::SystemdPath(_))
        ));
        assert_eq!(
            resolve(Some(Path::new("/default/c1")), "c1", false).unwrap(),
            PathBuf::from("/default/c1")
        );
    }

    /// The v2 path through libcgroups on a real cgroup2 hierarchy: the v2
    /// root on v2 hosts, the hybrid `unified` mount here (which holds at
    /// most hugetlb, so memory/cpu/pids/io limits and OOM events on v2 stay
    /// untested on such a host). Joining, the device filter and hugetlb
    /// applied at join, pids, freeze/thaw, removal.
    #[test]
    fn v2_path_on_a_real_cgroup2_hierarchy() {
        use serde_json::json;
        let is_v2 = |p: &str| {
            nix::sys::statfs::statfs(p)
                .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
                .unwrap_or(false)
        };
        let root = [ROOT, "/sys/fs/cgroup/unified"]
            .into_iter()
            .find(|p| is_v2(p));
        let Some(root) = root.filter(|_| nix::unistd::geteuid().is_root()) else {
            eprintln!("no writable cgroup v2 hierarchy: skipped");
            return;
        };
        let root = Path::new(root);
        let path = PathBuf::from(format!("/oxrun-v2test-{}", std::process::id()));
        let cg = Cgroup::open_v2_at(root, &path).unwrap();
        assert!(cg.is_v2());
        let ctrls = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap();
        let huge = ctrls.split_whitespace().any(|c| c == "hugetlb")
            && Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists();
        let mut res = json!({"devices": [{"allow": false, "access": "rwm"}]});
        if huge {
            res["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 4194304}]);
        }
        cg.apply_on_join(Some(&serde_json::from_value(res).unwrap()));
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let dir = under(root, &path);
        let r = (|| -> Result<(), String> {
            cg.add_task(pid).map_err(|e| e.to_string())?;
            if huge {
                let max = std::fs::read_to_string(dir.join("hugetlb.2MB.max")).unwrap();
                assert_eq!(max.trim(), "4194304");
            }
            assert_eq!(cg.pids().unwrap(), vec![pid]);
            cg.freeze().map_err(|e| e.to_string())?;
            let frozen = std::fs::read_to_string(dir.join("cgroup.events")).unwrap();
            assert!(frozen.contains("frozen 1"), "{frozen}");
            cg.thaw().map_err(|e| e.to_string())?;
            let events = std::fs::read_to_string(dir.join("cgroup.events")).unwrap();
            assert!(events.contains("frozen 0"), "{events}");
            // unified keys are v2's: accepted by validation, and an unknown
            // one is refused by the kernel.
            let bad: LinuxResources =
                serde_json::from_value(json!({"unified": {"nosuch.key": "1"}})).unwrap();
            assert!(cg.apply(&bad).is_err());
            Ok(())
        })();
        let _ = child.kill();
        let _ = child.wait();
        let removed = cg.remove();
        r.unwrap();
        removed.unwrap();
        assert!(!dir.exists());
    }

    /// On a real v1 freezer (an empty cgroup freezes at once).
    #[test]
    fn is_frozen_reads_the_freezer() {
        let fz = Path::new("/sys/fs/cgroup/freezer");
        if !fz.is_dir() || !nix::unistd::geteuid().is_root() {
            return;
        }
        let rel = PathBuf::from(format!("/oxrun-frz-{}", std::process::id()));
        let dir = under(fz, &rel);
        if std::fs::create_dir(&dir).is_err() {
            return;
        }
        let a = is_frozen(&rel, false);
        std::fs::write(dir.join("freezer.state"), "FROZEN").unwrap();
        let b = is_frozen(&rel, false);
        std::fs::write(dir.join("freezer.state"), "THAWED").unwrap();
        let c = is_frozen(&rel, false);
        std::fs::remove_dir(&dir).unwrap();
        assert_eq!((a, b, c), (false, true, false));
    }

    #[test]
    fn systemd_unit_paths() {
        let d = |s: &str| systemd_unit_dir(Path::new(s)).map(|p| p.display().to_string());
        assert_eq!(
            d("system.slice:docker:abc").as_deref(),
            Some("system.slice/docker-abc.scope")
        );
        assert_eq!(
            d("machine-kube-pod1.slice:cri:c1").as_deref(),
            Some("machine.slice/machine-kube.slice/machine-kube-pod1.slice/cri-c1.scope")
        );
        assert_eq!(
            d(":oxrun:c1").as_deref(),
            Some("system.slice/oxrun-c1.scope")
        );
        assert_eq!(d("-.slice::c1").as_deref(), Some("c1.scope"));
        assert_eq!(d("nonsense"), None);
    }

    #[test]
    fn systemd_without_systemd_is_a_clear_error() {
        if Path::new("/run/systemd/system").exists() {
            return;
        }
        let e = Cgroup::open(Path::new("system.slice:oxrun:x"), "x", true)
            .err()
            .unwrap();
        assert!(matches!(e, CgroupError::NoSystemd), "{e}");
    }
}
