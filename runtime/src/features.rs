//! `oxrun features`: the runtime-spec `features.md` document, true to what
//! this build and this kernel support (checked by runtime/tests/features.rs,
//! which tries each advertised seccomp action, operator and namespace).

use crate::seccomp;
use oci_spec::runtime::{
    Apparmor, Arch, Cgroup, Features, IDMap, IntelRdt, LinuxFeature, LinuxNamespaceType,
    LinuxSeccompAction, MountExtensions, Seccomp, Selinux,
};
use std::collections::HashMap;

pub const OCI_VERSION_MIN: &str = "1.0.0";
pub const OCI_VERSION_MAX: &str = "1.3.0";

/// Hooks run by oxrun (create, init and start/delete run them).
pub const HOOKS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// The options `rootfs::mount::Options::parse` understands (anything else is
/// passed to the filesystem as data).
pub const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "rnodev",
    "rnodiratime",
    "rnoatime",
    "rnoexec",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "sync",
    "tmpcopyup",
    "unbindable",
];

pub const NAMESPACES: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::User,
    LinuxNamespaceType::Uts,
];

pub const SECCOMP_ACTIONS: [LinuxSeccompAction; 9] = [
    LinuxSeccompAction::ScmpActAllow,
    LinuxSeccompAction::ScmpActErrno,
    LinuxSeccompAction::ScmpActKill,
    LinuxSeccompAction::ScmpActKillProcess,
    LinuxSeccompAction::ScmpActKillThread,
    LinuxSeccompAction::ScmpActLog,
    LinuxSeccompAction::ScmpActNotify,
    LinuxSeccompAction::ScmpActTrace,
    LinuxSeccompAction::ScmpActTrap,
];

pub const SECCOMP_OPERATORS: [&str; 7] = [
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

/// Capabilities the kernel knows and the spec's types can name.
fn capabilities() -> Vec<String> {
    let mut caps: Vec<caps::Capability> =
        caps::runtime::thread_all_supported().into_iter().collect();
    caps.sort_by_key(|c| c.index());
    caps.iter()
        .map(|c| c.to_string())
        .filter(|n| {
            serde_json::from_value::<oci_spec::runtime::Capability>(n.as_str().into()).is_ok()
        })
        .collect()
}

fn native_arch() -> Option<Arch> {
    serde_json::from_value(seccomp::native_arch().into()).ok()
}

pub fn features() -> Features {
    let seccomp_feature = {
        let mut s = Seccomp::default();
        s.set_enabled(Some(true));
        // An action is advertised only if this kernel implements it.
        s.set_actions(Some(
            SECCOMP_ACTIONS
                .into_iter()
                .filter(|a| seccomp::kernel_has_action(seccomp::action_value(*a, None)))
                .collect(),
        ));
        s.set_operators(Some(
            SECCOMP_OPERATORS.iter().map(|o| o.to_string()).collect(),
        ));
        s.set_archs(Some(native_arch().into_iter().collect()));
        s.set_known_flags(Some(
            seccomp::KNOWN_FLAGS
                .iter()
                .map(|(_, n)| n.to_string())
                .collect(),
        ));
        s.set_supported_flags(Some(
            seccomp::KNOWN_FLAGS
                .iter()
                .filter(|(f, _)| seccomp::kernel_has_flag(seccomp::flag_bit(*f)))
                .map(|(_, n)| n.to_string())
                .collect(),
        ));
        s
    };
    let mut cgroup = Cgroup::default();
    cgroup.set_v1(Some(true));
    cgroup.set_v2(Some(true));
    // systemd's manager drives cgroup v2 hosts; no user instance support.
    cgroup.set_systemd(Some(true));
    cgroup.set_systemd_user(Some(false));
    cgroup.set_rdma(Some(true));
    let mut apparmor = Apparmor::default();
    apparmor.set_enabled(Some(false));
    let mut selinux = Selinux::default();
    selinux.set_enabled(Some(false));
    let mut rdt = IntelRdt::default();
    rdt.set_enabled(Some(false));
    let mut idmap = IDMap::default();
    idmap.set_enabled(Some(false));
    let mut ext = MountExtensions::default();
    ext.set_idmap(Some(idmap));

    let mut linux = LinuxFeature::default();
    linux.set_namespaces(Some(NAMESPACES.to_vec()));
    linux.set_capabilities(Some(capabilities()));
    linux.set_cgroup(Some(cgroup));
    linux.set_seccomp(Some(seccomp_feature));
    linux.set_apparmor(Some(apparmor));
    linux.set_selinux(Some(selinux));
    linux.set_intel_rdt(Some(rdt));
    linux.set_mount_extensions(Some(ext));

    let mut f = Features::default();
    f.set_oci_version_min(OCI_VERSION_MIN.into());
    f.set_oci_version_max(OCI_VERSION_MAX.into());
    f.set_hooks(Some(HOOKS.iter().map(|h| h.to_string()).collect()));
    f.set_mount_options(Some(MOUNT_OPTIONS.iter().map(|o| o.to_string()).collect()));
    f.set_linux(Some(linux));
    f.set_annotations(Some(HashMap::from([(
        "org.opencontainers.oxrun.version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    )])));
    f
}

/// The document as JSON, without the fields oci-spec leaves `null`.
pub fn to_json(f: &Features) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.retain(|_, v| !v.is_null());
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(f).unwrap_or_default();
    strip(&mut v);
    v
}
