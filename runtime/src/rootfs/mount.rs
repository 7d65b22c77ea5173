//! Mount option strings (runc's table) and mounting one `mounts[]` entry
//! onto a target resolved inside the root.

use super::paths;
use super::RootfsError;
use crate::sys;
use nix::mount::MsFlags;
use oci_spec::runtime::Mount;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

/// What a mount's `options` array means.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub flags: MsFlags,
    /// Flags to clear on a bind remount (e.g. `rw`, `suid`).
    pub clear: MsFlags,
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes (`rro`, `rnosuid`, ...) applied with mount_setattr.
    pub rec_set: u64,
    pub rec_clr: u64,
    pub data: Vec<String>,
    pub bind: bool,
    pub recursive: bool,
    pub tmpcopyup: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            flags: MsFlags::empty(),
            clear: MsFlags::empty(),
            propagation: vec![],
            rec_set: 0,
            rec_clr: 0,
            data: vec![],
            bind: false,
            recursive: false,
            tmpcopyup: false,
        }
    }
}

/// Not in nix's MsFlags yet.
const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

impl Options {
    pub fn parse(opts: &[String]) -> Options {
        let mut o = Options::default();
        for opt in opts {
            let (set, clr): (MsFlags, MsFlags) = match opt.as_str() {
                "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
                "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
                "bind" => {
                    o.bind = true;
                    (MsFlags::MS_BIND, MsFlags::empty())
                }
                "rbind" => {
                    o.bind = true;
                    o.recursive = true;
                    (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty())
                }
                "defaults" => (MsFlags::empty(), MsFlags::empty()),
                "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
                "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
                "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
                "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
                "iversion" => (MsFlags::MS_I_VERSION, MsFlags::empty()),
                "noiversion" => (MsFlags::empty(), MsFlags::MS_I_VERSION),
                "lazytime" => (MsFlags::MS_LAZYTIME, MsFlags::empty()),
                "nolazytime" => (MsFlags::empty(), MsFlags::MS_LAZYTIME),
                "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
                "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
                "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
                "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
                "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
                "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
                "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
                "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
                "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
                "nosymfollow" => (MS_NOSYMFOLLOW, MsFlags::empty()),
                "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
                "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
                "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
                "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
                "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
                "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
                "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
                "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
                "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
                "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
                | "unbindable" | "runbindable" => {
                    o.propagation
                        .push(propagation(opt).unwrap_or(MsFlags::empty()));
                    continue;
                }
                "tmpcopyup" => {
                    o.tmpcopyup = true;
                    continue;
                }
                s if s.starts_with('r') && rec_attr(&s[1..]).is_some() => {
                    let (attr, set) = rec_attr(&s[1..]).unwrap_or((0, true));
                    if set {
                        o.rec_set |= attr;
                        o.rec_clr &= !attr;
                    } else {
                        o.rec_clr |= attr;
                        o.rec_set &= !attr;
                    }
                    continue;
                }
                // Anything else is filesystem data (size=, mode=, uid=, ...).
                _ => {
                    o.data.push(opt.clone());
                    continue;
                }
            };
            o.flags.insert(set);
            o.flags.remove(clr);
            o.clear.insert(clr);
            o.clear.remove(set);
        }
        o
    }
}

/// Recursive attribute names after the leading `r` (`rro`, `rnosuid`, ...):
/// (attribute, set?).
fn rec_attr(s: &str) -> Option<(u64, bool)> {
    Some(match s {
        "ro" => (sys::MOUNT_ATTR_RDONLY, true),
        "rw" => (sys::MOUNT_ATTR_RDONLY, false),
        "nosuid" => (sys::MOUNT_ATTR_NOSUID, true),
        "suid" => (sys::MOUNT_ATTR_NOSUID, false),
        "nodev" => (sys::MOUNT_ATTR_NODEV, true),
        "dev" => (sys::MOUNT_ATTR_NODEV, false),
        "noexec" => (sys::MOUNT_ATTR_NOEXEC, true),
        "exec" => (sys::MOUNT_ATTR_NOEXEC, false),
        "nosymfollow" => (sys::MOUNT_ATTR_NOSYMFOLLOW, true),
        "symfollow" => (sys::MOUNT_ATTR_NOSYMFOLLOW, false),
        "noatime" => (sys::MOUNT_ATTR_NOATIME, true),
        "strictatime" => (sys::MOUNT_ATTR_STRICTATIME, true),
        "nodiratime" => (sys::MOUNT_ATTR_NODIRATIME, true),
        "diratime" => (sys::MOUNT_ATTR_NODIRATIME, false),
        _ => return None,
    })
}

pub fn propagation(s: &str) -> Option<MsFlags> {
    Some(match s {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

fn mnt_err(dest: &Path, e: impl Into<std::io::Error>) -> RootfsError {
    RootfsError::Mount {
        dest: dest.to_path_buf(),
        source: e.into(),
    }
}

pub fn mount_raw(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    nix::mount::mount(source, target, fstype, flags, data)
}

/// Mounts one entry of `mounts[]` inside the root held by `root`.
/// `bundle` anchors relative bind sources.
pub fn mount_entry(
    root: BorrowedFd,
    m: &Mount,
    bundle: &Path,
    in_userns: bool,
) -> Result<(), RootfsError> {
    let dest = m.destination();
    let typ = m.typ().clone().unwrap_or_default();
    let opts = Options::parse(m.options().as_deref().unwrap_or(&[]));
    let is_bind = opts.bind || typ == "bind";
    if is_bind {
        return bind_entry(root, m, &opts, bundle);
    }
    if typ == "cgroup" || typ == "cgroup2" {
        return crate::cgroups::mount_cgroupfs(root, dest, &opts, in_userns);
    }
    let target = paths::mkdir_all(root, dest, 0o755).map_err(|e| mnt_err(dest, e))?;
    let tpath = sys::fd_path(target.as_fd());
    let source = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| typ.clone());
    // For tmpcopyup: the directory under the mount point, still readable
    // through this fd once the tmpfs covers it.
    let under = if opts.tmpcopyup && typ == "tmpfs" {
        Some(
            sys::openat2(
                target.as_fd(),
                Path::new("."),
                libc::O_DIRECTORY | libc::O_RDONLY,
                0,
                0,
            )
            .map_err(|e| mnt_err(dest, e))?,
        )
    } else {
        None
    };
    let data = opts.data.join(",");
    let flags = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let res = mount_raw(
        Some(&source),
        &tpath,
        Some(&typ),
        flags,
        (!data.is_empty()).then_some(data.as_str()),
    );
    match res {
        Ok(()) => {}
        // sysfs cannot be mounted in a user namespace that does not own the
        // network namespace: bind the host's, as runc does.
        Err(nix::errno::Errno::EPERM) if typ == "sysfs" => {
            mount_raw(
                Some("/sys"),
                &tpath,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )
            .map_err(|e| mnt_err(dest, e))?;
            let fd = paths::open_path(root, dest).map_err(|e| mnt_err(dest, e))?;
            let attr = sys::MountAttr {
                attr_set: sys::MOUNT_ATTR_RDONLY
                    | sys::MOUNT_ATTR_NOSUID
                    | sys::MOUNT_ATTR_NODEV
                    | sys::MOUNT_ATTR_NOEXEC,
                ..Default::default()
            };
            sys::mount_setattr(fd.as_fd(), true, &attr).map_err(|e| mnt_err(dest, e))?;
        }
        Err(e) => return Err(mnt_err(dest, e)),
    }
    if let Some(under) = under {
        let top = paths::open(root, dest, libc::O_DIRECTORY | libc::O_RDONLY)
            .map_err(|e| mnt_err(dest, e))?;
        super::copy::copy_tree(under.as_raw_fd(), top.as_raw_fd(), 0)
            .map_err(|e| mnt_err(dest, std::io::Error::other(format!("tmpcopyup: {e}"))))?;
    }
    after_mount(root, dest, &opts)
}

/// Propagation and recursive attributes, applied to the mount now at `dest`.
fn after_mount(root: BorrowedFd, dest: &Path, opts: &Options) -> Result<(), RootfsError> {
    if opts.propagation.is_empty() && opts.rec_set == 0 && opts.rec_clr == 0 {
        return Ok(());
    }
    let fd = paths::open_path(root, dest).map_err(|e| mnt_err(dest, e))?;
    for p in &opts.propagation {
        mount_raw(None, &sys::fd_path(fd.as_fd()), None, *p, None).map_err(|e| mnt_err(dest, e))?;
    }
    if opts.rec_set != 0 || opts.rec_clr != 0 {
        let mut attr = sys::MountAttr {
            attr_set: opts.rec_set,
            attr_clr: opts.rec_clr,
            ..Default::default()
        };
        // The atime modes are one field: setting one means clearing the field.
        if attr.attr_set & (sys::MOUNT_ATTR_NOATIME | sys::MOUNT_ATTR_STRICTATIME) != 0 {
            attr.attr_clr |= sys::MOUNT_ATTR__ATIME;
        }
        sys::mount_setattr(fd.as_fd(), true, &attr).map_err(|e| mnt_err(dest, e))?;
    }
    Ok(())
}

fn bind_entry(
    root: BorrowedFd,
    m: &Mount,
    opts: &Options,
    bundle: &Path,
) -> Result<(), RootfsError> {
    let dest = m.destination();
    let src: PathBuf = match m.source() {
        Some(s) if s.is_absolute() => s.clone(),
        Some(s) => bundle.join(s),
        None => {
            return Err(RootfsError::Invalid(format!(
                "bind mount on {} has no source",
                dest.display()
            )))
        }
    };
    // The source is a host path given by the caller: open it once and work on
    // that fd from here on.
    let src_fd = sys::openat2(
        unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) },
        &src,
        libc::O_PATH,
        0,
        0,
    )
    .map_err(|e| RootfsError::Mount {
        dest: dest.to_path_buf(),
        source: std::io::Error::new(e.kind(), format!("bind source {}: {e}", src.display())),
    })?;
    let target = if paths::is_dir(src_fd.as_fd()).map_err(|e| mnt_err(dest, e))? {
        paths::mkdir_all(root, dest, 0o755)
    } else {
        paths::ensure_file(root, dest, 0o644)
    }
    .map_err(|e| mnt_err(dest, e))?;
    let tree =
        sys::open_tree_clone(src_fd.as_fd(), opts.recursive).map_err(|e| mnt_err(dest, e))?;
    // Per-mount flags go on the detached tree before it is attached, so the
    // container never sees a writable window.
    let mut attr = sys::MountAttr::default();
    let f = opts.flags;
    for (flag, a) in [
        (MsFlags::MS_RDONLY, sys::MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, sys::MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, sys::MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, sys::MOUNT_ATTR_NOEXEC),
        (MS_NOSYMFOLLOW, sys::MOUNT_ATTR_NOSYMFOLLOW),
    ] {
        if f.contains(flag) {
            attr.attr_set |= a;
        } else if opts.clear.contains(flag) {
            attr.attr_clr |= a;
        }
    }
    if f.contains(MsFlags::MS_NOATIME) {
        attr.attr_clr |= sys::MOUNT_ATTR__ATIME;
        attr.attr_set |= sys::MOUNT_ATTR_NOATIME;
    } else if f.contains(MsFlags::MS_STRICTATIME) {
        attr.attr_clr |= sys::MOUNT_ATTR__ATIME;
        attr.attr_set |= sys::MOUNT_ATTR_STRICTATIME;
    }
    if attr.attr_set != 0 || attr.attr_clr != 0 {
        sys::mount_setattr(tree.as_fd(), false, &attr).map_err(|e| mnt_err(dest, e))?;
    }
    sys::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(|e| mnt_err(dest, e))?;
    after_mount(root, dest, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Options {
        Options::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn runc_option_table() {
        let o = p(&["nosuid", "noexec", "nodev", "ro", "mode=755", "size=65536k"]);
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV | MsFlags::MS_RDONLY
        );
        assert_eq!(o.data, vec!["mode=755", "size=65536k"]);
        let o = p(&["rbind", "rprivate", "rw"]);
        assert!(o.bind && o.recursive);
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert!(o.clear.contains(MsFlags::MS_RDONLY));
        let o = p(&["ro", "rw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        let o = p(&["rro", "rnosuid"]);
        assert_eq!(o.rec_set, sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID);
        assert!(o.data.is_empty());
    }
}
