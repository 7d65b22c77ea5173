//! Apply one layer's tar stream onto a root filesystem.
//!
//! Semantics follow the image spec's changeset rules and umoci's extractor:
//! an entry replaces whatever was at its path unless both are directories
//! (then only the metadata changes); hardlinks carry no metadata of their
//! own; whiteouts remove only what lower layers left (see `whiteout.rs`).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};
use tar::EntryType;

use super::paths::{self, NameError, RelPath, Root};
use super::{IdMap, UnpackOptions};

/// Why a layer could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("tar entry {name:?}: unsafe name: {reason}")]
    BadName { name: String, reason: NameError },
    #[error("tar entry {name}: refused: {why}")]
    Refused { name: String, why: String },
    #[error("tar entry {name}: {op}")]
    Io {
        name: String,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("reading tar stream")]
    Tar(#[source] io::Error),
}

/// What a layer apply did (for progress, logs and tests).
#[derive(Debug, Default, Clone)]
pub struct ApplyStats {
    pub entries: u64,
    pub bytes: u64,
    pub whiteouts: u64,
    /// Things skipped on purpose (xattrs the filesystem refused, devices in
    /// rootless mode); each with a short note.
    pub warnings: Vec<String>,
}

/// Metadata from one tar header (+ PAX records).
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Timespec,
    atime: Timespec,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Directory times are set after the layer: adding children changes them.
struct DeferredDir {
    path: RelPath,
    times: Timestamps,
    /// In rootless mode a directory is kept writable while filling it.
    mode: Option<u32>,
}

pub(crate) struct Applier<'a> {
    pub(crate) root: &'a mut Root,
    opts: &'a UnpackOptions,
    /// Every path this layer created: whiteouts must not remove them.
    pub(crate) upper: HashSet<RelPath>,
    /// Directories whose lower contents were already removed in this layer,
    /// so a repeated whiteout costs nothing (keeps many whiteouts linear).
    pub(crate) cleared: HashSet<RelPath>,
    /// Rootless: directories already made owner-writable in this layer.
    unlocked: HashSet<RelPath>,
    dirs: Vec<DeferredDir>,
    pub(crate) stats: ApplyStats,
    buf: Vec<u8>,
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn map_id(map: &[IdMap], id: u32, what: &str) -> Result<u32, String> {
    if map.is_empty() {
        return Ok(id);
    }
    for m in map {
        if id >= m.container && (id - m.container) < m.size {
            return Ok(m.host + (id - m.container));
        }
    }
    Err(format!("{what} {id} is not mapped by the {what} map"))
}

fn ts(secs: i64, nanos: i64) -> Timespec {
    Timespec {
        tv_sec: secs,
        tv_nsec: nanos as _,
    }
}

/// Parse a PAX time ("1700000000.123456789", maybe negative).
fn pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?;
    let (sec, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    let secs: i64 = sec.parse().ok()?;
    let mut nanos: i64 = 0;
    let digits: String = frac.chars().take(9).collect();
    if !digits.is_empty() {
        nanos = format!("{digits:0<9}").parse().ok()?;
    }
    if s.starts_with('-') && nanos > 0 {
        return Some(ts(secs - 1, 1_000_000_000 - nanos));
    }
    Some(ts(secs, nanos))
}

/// xattr namespaces we restore (as umoci: never `system.*`, i.e. ACLs).
/// `*.overlay.*` is overlayfs's own metadata (whiteouts, redirects): a layer
/// must not be able to plant it in a cached layer tree.
fn xattr_allowed(name: &[u8]) -> bool {
    (name.starts_with(b"user.") || name.starts_with(b"security.") || name.starts_with(b"trusted."))
        && !name.starts_with(b"trusted.overlay.")
        && !name.starts_with(b"user.overlay.")
}

/// Errors a filesystem or an unprivileged user gives for an xattr it will not
/// store: skipped with a warning rather than failing the image.
fn xattr_soft_error(e: rustix::io::Errno) -> bool {
    use rustix::io::Errno;
    matches!(
        e,
        Errno::OPNOTSUPP
            | Errno::PERM
            | Errno::ACCESS
            | Errno::INVAL
            | Errno::NOSPC
            | Errno::TOOBIG
            | Errno::RANGE
            | Errno::NAMETOOLONG
    )
}

/// The `user.rootlesscontainers` payload (a protobuf `Resource{uid=1, gid=2}`,
/// 0xFFFFFFFF meaning "unchanged"), as umoci records ownership it cannot apply.
pub fn rootless_xattr(uid: u32, gid: u32) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    let noop = u32::MAX;
    let mut out = Vec::new();
    out.push(0x08);
    varint(&mut out, if uid == 0 { noop } else { uid } as u64);
    out.push(0x10);
    varint(&mut out, if gid == 0 { noop } else { gid } as u64);
    out
}

/// A new regular file (mode 0600 until its metadata is applied), never
/// through an existing name or symlink.
fn create_new(pfd: BorrowedFd, name: &OsStr) -> io::Result<OwnedFd> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(
        pfd,
        name,
        flags,
        Mode::from_raw_mode(0o600),
    )?)
}

impl<'a> Applier<'a> {
    pub(crate) fn new(root: &'a mut Root, opts: &'a UnpackOptions) -> Self {
        Applier {
            root,
            opts,
            upper: HashSet::new(),
            cleared: HashSet::new(),
            unlocked: HashSet::new(),
            dirs: Vec::new(),
            stats: ApplyStats::default(),
            buf: vec![0u8; 256 * 1024],
        }
    }

    /// Apply every entry of `reader`, then fix directory times.
    pub(crate) fn apply<R: Read>(mut self, reader: R) -> Result<ApplyStats, ApplyError> {
        let mut ar = tar::Archive::new(reader);
        let entries = ar.entries().map_err(ApplyError::Tar)?;
        for entry in entries {
            let mut entry = entry.map_err(ApplyError::Tar)?;
            self.entry(&mut entry)?;
            self.stats.entries += 1;
        }
        self.finish_dirs()?;
        Ok(self.stats)
    }

    fn io<'n>(name: &'n RelPath, op: &'static str) -> impl FnOnce(io::Error) -> ApplyError + 'n {
        move |source| ApplyError::Io {
            name: name.display(),
            op,
            source,
        }
    }

    fn meta<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        path: &RelPath,
    ) -> Result<Meta, ApplyError> {
        let h = entry.header();
        let bad = |what: &str, e: io::Error| ApplyError::Refused {
            name: path.display(),
            why: format!("bad {what} field: {e}"),
        };
        let mode = h.mode().map_err(|e| bad("mode", e))?;
        let mut uid = h.uid().map_err(|e| bad("uid", e))?;
        let mut gid = h.gid().map_err(|e| bad("gid", e))?;
        let mut mtime = ts(h.mtime().map_err(|e| bad("mtime", e))? as i64, 0);
        let mut atime = None;
        let mut xattrs = Vec::new();
        if let Some(pax) = entry.pax_extensions().map_err(ApplyError::Tar)? {
            for ext in pax {
                let ext = ext.map_err(ApplyError::Tar)?;
                let key = ext.key_bytes();
                let val = ext.value_bytes();
                if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    if xattr_allowed(name) {
                        xattrs.push((name.to_vec(), val.to_vec()));
                    }
                } else {
                    match key {
                        b"mtime" => mtime = pax_time(val).unwrap_or(mtime),
                        b"atime" => atime = pax_time(val),
                        b"uid" => {
                            uid = std::str::from_utf8(val)
                                .ok()
                                .and_then(|s| s.parse().ok())
                                .unwrap_or(uid)
                        }
                        b"gid" => {
                            gid = std::str::from_utf8(val)
                                .ok()
                                .and_then(|s| s.parse().ok())
                                .unwrap_or(gid)
                        }
                        _ => {}
                    }
                }
            }
        }
        let uid = u32::try_from(uid).map_err(|_| ApplyError::Refused {
            name: path.display(),
            why: format!("uid {uid} out of range"),
        })?;
        let gid = u32::try_from(gid).map_err(|_| ApplyError::Refused {
            name: path.display(),
            why: format!("gid {gid} out of range"),
        })?;
        let (uid, gid) = if self.opts.rootless {
            (uid, gid)
        } else {
            let refuse = |why: String| ApplyError::Refused {
                name: path.display(),
                why,
            };
            (
                map_id(&self.opts.uid_map, uid, "uid").map_err(refuse)?,
                map_id(&self.opts.gid_map, gid, "gid").map_err(refuse)?,
            )
        };
        Ok(Meta {
            mode: mode & 0o7777,
            uid,
            gid,
            atime: atime.unwrap_or(mtime),
            mtime,
            xattrs,
        })
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ApplyError> {
        let kind = entry.header().entry_type();
        // Archive-level records, not files.
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        let raw = entry.path_bytes().into_owned();
        let path = RelPath::parse(&raw).map_err(|reason| ApplyError::BadName {
            name: lossy(&raw),
            reason,
        })?;
        if path.as_bytes().starts_with(b".wh..wh.") {
            // AUFS bookkeeping at the top (`/.wh..wh.plnk/...`), as Docker
            // skips it: never image content.
            return Ok(());
        }
        let Some((parent, name)) = path.split_last() else {
            return self.root_entry(entry, kind, &path);
        };
        let name = name.to_os_string();
        if let Some(target) = name.as_bytes().strip_prefix(b".wh.") {
            self.stats.whiteouts += 1;
            return self.whiteout(&parent, target, &path);
        }

        let pfd = self.parent(&parent, &path)?;
        let pfd = pfd.as_fd();
        let existing = paths::lstat_at(pfd, &name).map_err(Self::io(&path, "lstat"))?;

        // A hardlink to its own path would otherwise delete its target first.
        let link_target = if kind == EntryType::Link {
            let raw_t = entry
                .link_name_bytes()
                .map(|c| c.into_owned())
                .unwrap_or_default();
            let t = RelPath::parse(&raw_t).map_err(|reason| ApplyError::BadName {
                name: format!("{} (hardlink target {:?})", path.display(), lossy(&raw_t)),
                reason,
            })?;
            if t.is_root() {
                return Err(ApplyError::Refused {
                    name: path.display(),
                    why: "hardlink to the root directory".into(),
                });
            }
            if t == path {
                self.upper.insert(path);
                return Ok(());
            }
            Some(t)
        } else {
            None
        };

        let mut keep_dir = false;
        if let Some(st) = &existing {
            let is_dir_entry = kind == EntryType::Directory;
            keep_dir = paths::is_dir(st) && is_dir_entry;
            let keep_dirlink = !keep_dir
                && is_dir_entry
                && self.opts.keep_dirlinks
                && paths::is_symlink(st)
                && self
                    .root
                    .open_at(&path, OFlags::PATH | OFlags::DIRECTORY)
                    .is_ok();
            if keep_dirlink {
                // --keep-dirlinks: the symlink stays, children go through it
                // (inside the root); its own metadata is not touched.
                self.upper.insert(path);
                return Ok(());
            }
            if !keep_dir {
                paths::remove_all_at(pfd, &name).map_err(Self::io(&path, "remove existing"))?;
                if paths::is_dir(st) || paths::is_symlink(st) {
                    // Cached parents below this path are stale now.
                    self.root.invalidate();
                }
            }
        }
        self.upper.insert(path.clone());

        match kind {
            EntryType::Directory => {
                let meta = self.meta(entry, &path)?;
                if !keep_dir {
                    rustix::fs::mkdirat(pfd, &name, Mode::from_raw_mode(0o700))
                        .map_err(|e| Self::io(&path, "mkdir")(e.into()))?;
                }
                let dfd =
                    paths::open_dir_nofollow(pfd, &name).map_err(Self::io(&path, "open dir"))?;
                self.fd_meta(&dfd, &meta, &path, true, keep_dir)?;
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let meta = self.meta(entry, &path)?;
                let fd = create_new(pfd, &name).map_err(Self::io(&path, "create"))?;
                let mut file = std::fs::File::from(fd);
                self.copy_data(entry, &mut file, &path)?;
                let fd: OwnedFd = file.into();
                self.fd_meta(&fd, &meta, &path, false, false)?;
            }
            EntryType::Symlink => {
                let meta = self.meta(entry, &path)?;
                let target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                if target.is_empty() || target.contains(&0) {
                    return Err(ApplyError::Refused {
                        name: path.display(),
                        why: "symlink with an empty or NUL target".into(),
                    });
                }
                // The target is stored verbatim: it is only ever resolved
                // inside the root (here, and in the container).
                rustix::fs::symlinkat(OsStr::from_bytes(&target), pfd, &name)
                    .map_err(|e| Self::io(&path, "symlink")(e.into()))?;
                self.at_meta(pfd, &name, &meta, &path, FileType::Symlink)?;
            }
            EntryType::Link => {
                let t = link_target.expect("set for links");
                let (tparent, tname) = t.split_last().expect("not root");
                let tfd = self
                    .root
                    .open_at(&tparent, OFlags::PATH | OFlags::DIRECTORY)
                    .map_err(Self::io(&path, "open hardlink target dir"))?;
                // Flags 0: a link to a symlink links the symlink itself, never
                // what it points to.
                rustix::fs::linkat(&tfd, tname, pfd, &name, AtFlags::empty()).map_err(|e| {
                    Self::io(&path, "hardlink")(io::Error::other(format!(
                        "to {}: {}",
                        t.display(),
                        io::Error::from(e)
                    )))
                })?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let meta = self.meta(entry, &path)?;
                let h = entry.header();
                let major = h.device_major().ok().flatten().unwrap_or(0);
                let minor = h.device_minor().ok().flatten().unwrap_or(0);
                if self.opts.rootless && kind != EntryType::Fifo {
                    // mknod needs privilege: an empty file stands in (umoci).
                    self.stats.warnings.push(format!(
                        "{}: device {major}:{minor} replaced by an empty file (rootless)",
                        path.display()
                    ));
                    let fd = create_new(pfd, &name).map_err(Self::io(&path, "create"))?;
                    self.fd_meta(&fd, &meta, &path, false, false)?;
                    return Ok(());
                }
                let ft = match kind {
                    EntryType::Char => FileType::CharacterDevice,
                    EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                rustix::fs::mknodat(
                    pfd,
                    &name,
                    ft,
                    Mode::from_raw_mode(0o600),
                    rustix::fs::makedev(major, minor),
                )
                .map_err(|e| Self::io(&path, "mknod")(e.into()))?;
                self.at_meta(pfd, &name, &meta, &path, ft)?;
            }
            other => {
                self.stats.warnings.push(format!(
                    "{}: skipped tar entry of type {other:?}",
                    path.display()
                ));
            }
        }
        Ok(())
    }

    /// The parent directory of an entry, created if missing.
    pub(crate) fn parent(
        &mut self,
        parent: &RelPath,
        path: &RelPath,
    ) -> Result<Rc<OwnedFd>, ApplyError> {
        let fd = self
            .root
            .parent_dir(parent)
            .map_err(Self::io(path, "open parent directory"))?;
        self.unlock(parent, fd.as_fd(), path)?;
        Ok(fd)
    }

    /// Rootless: a directory an earlier layer left without owner rwx (say
    /// 0555) cannot take new entries; open it up until the layer ends, then
    /// put its mode and times back (umoci does the same).
    pub(crate) fn unlock(
        &mut self,
        dir: &RelPath,
        fd: BorrowedFd<'_>,
        path: &RelPath,
    ) -> Result<(), ApplyError> {
        if !self.opts.rootless || self.unlocked.contains(dir) {
            return Ok(());
        }
        let st = rustix::fs::fstat(fd).map_err(|e| Self::io(path, "stat parent")(e.into()))?;
        if st.st_mode & 0o700 != 0o700 {
            let proc_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
            rustix::fs::chmod(
                proc_path.as_str(),
                Mode::from_raw_mode((st.st_mode & 0o7777) | 0o700),
            )
            .map_err(|e| Self::io(path, "chmod parent")(e.into()))?;
            self.dirs.push(DeferredDir {
                path: dir.clone(),
                times: Timestamps {
                    last_access: ts(st.st_atime, st.st_atime_nsec as i64),
                    last_modification: ts(st.st_mtime, st.st_mtime_nsec as i64),
                },
                mode: Some(st.st_mode & 0o7777),
            });
        }
        self.unlocked.insert(dir.clone());
        Ok(())
    }

    /// `./` itself: metadata only; anything but a directory is refused
    /// (umoci CVE-2021-29136: a layer must not turn the root into a symlink).
    fn root_entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        kind: EntryType,
        path: &RelPath,
    ) -> Result<(), ApplyError> {
        if kind != EntryType::Directory {
            return Err(ApplyError::Refused {
                name: path.display(),
                why: format!("would replace the root directory with a {kind:?} entry"),
            });
        }
        let meta = self.meta(entry, path)?;
        let fd = self
            .root
            .open_at(path, OFlags::RDONLY | OFlags::DIRECTORY)
            .map_err(Self::io(path, "open root"))?;
        self.fd_meta(&fd, &meta, path, true, true)
    }

    fn copy_data<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        out: &mut std::fs::File,
        path: &RelPath,
    ) -> Result<(), ApplyError> {
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ApplyError::Tar(e)),
            };
            out.write_all(&self.buf[..n])
                .map_err(Self::io(path, "write"))?;
            self.stats.bytes += n as u64;
        }
        Ok(())
    }

    fn warn_xattr(&mut self, path: &RelPath, name: &[u8], e: rustix::io::Errno) {
        self.stats.warnings.push(format!(
            "{}: xattr {} not set: {}",
            path.display(),
            lossy(name),
            io::Error::from(e)
        ));
    }

    /// Owner, mode, xattrs and times through an fd we hold: a racer swapping
    /// the path for a symlink cannot redirect any of it.
    fn fd_meta(
        &mut self,
        fd: &OwnedFd,
        m: &Meta,
        path: &RelPath,
        is_dir: bool,
        existed: bool,
    ) -> Result<(), ApplyError> {
        if !self.opts.rootless {
            rustix::fs::fchown(
                fd,
                Some(rustix::fs::Uid::from_raw(m.uid)),
                Some(rustix::fs::Gid::from_raw(m.gid)),
            )
            .map_err(|e| Self::io(path, "chown")(e.into()))?;
        }
        // After chown: chown clears setuid/setgid.
        let mode = if self.opts.rootless && is_dir {
            m.mode | 0o700
        } else {
            m.mode
        };
        rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))
            .map_err(|e| Self::io(path, "chmod")(e.into()))?;
        if existed {
            // The header's xattrs replace the old set, not add to it.
            self.clear_xattrs(fd, m, path)?;
        }
        for (k, v) in &m.xattrs {
            if let Err(e) =
                rustix::fs::fsetxattr(fd, OsStr::from_bytes(k), v, rustix::fs::XattrFlags::empty())
            {
                if xattr_soft_error(e) {
                    self.warn_xattr(path, k, e);
                } else {
                    return Err(Self::io(path, "setxattr")(e.into()));
                }
            }
        }
        if self.opts.rootless && (m.uid, m.gid) != (0, 0) {
            let v = rootless_xattr(m.uid, m.gid);
            if let Err(e) = rustix::fs::fsetxattr(
                fd,
                "user.rootlesscontainers",
                &v,
                rustix::fs::XattrFlags::empty(),
            ) {
                self.warn_xattr(path, b"user.rootlesscontainers", e);
            }
        }
        let times = Timestamps {
            last_access: m.atime,
            last_modification: m.mtime,
        };
        if is_dir {
            self.dirs.push(DeferredDir {
                path: path.clone(),
                times,
                mode: (mode != m.mode).then_some(m.mode),
            });
        } else {
            rustix::fs::futimens(fd, &times).map_err(|e| Self::io(path, "utimens")(e.into()))?;
        }
        Ok(())
    }

    fn clear_xattrs(&mut self, fd: &OwnedFd, m: &Meta, path: &RelPath) -> Result<(), ApplyError> {
        let mut buf = vec![0u8; 4096];
        let n = match rustix::fs::flistxattr(fd, &mut buf[..]) {
            Ok(n) => n,
            Err(rustix::io::Errno::RANGE) => {
                let need = rustix::fs::flistxattr_query(fd)
                    .map_err(|e| Self::io(path, "listxattr")(e.into()))?;
                buf.resize(need, 0);
                rustix::fs::flistxattr(fd, &mut buf[..])
                    .map_err(|e| Self::io(path, "listxattr")(e.into()))?
            }
            Err(e) if xattr_soft_error(e) => 0,
            Err(e) => return Err(Self::io(path, "listxattr")(e.into())),
        };
        for name in buf[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
            if xattr_allowed(name) && !m.xattrs.iter().any(|(k, _)| k == name) {
                if let Err(e) = rustix::fs::fremovexattr(fd, OsStr::from_bytes(name)) {
                    if !xattr_soft_error(e) {
                        return Err(Self::io(path, "removexattr")(e.into()));
                    }
                }
            }
        }
        Ok(())
    }

    /// Metadata for symlinks, devices and fifos, which cannot be opened for
    /// writing: `*at` calls with NOFOLLOW relative to the parent fd.
    fn at_meta(
        &mut self,
        pfd: BorrowedFd<'_>,
        name: &OsStr,
        m: &Meta,
        path: &RelPath,
        ft: FileType,
    ) -> Result<(), ApplyError> {
        let nofollow = AtFlags::SYMLINK_NOFOLLOW;
        if !self.opts.rootless {
            rustix::fs::chownat(
                pfd,
                name,
                Some(rustix::fs::Uid::from_raw(m.uid)),
                Some(rustix::fs::Gid::from_raw(m.gid)),
                nofollow,
            )
            .map_err(|e| Self::io(path, "chown")(e.into()))?;
        }
        if ft != FileType::Symlink {
            // fchmodat cannot refuse to follow a symlink, so chmod through an
            // O_PATH fd checked to be the node we made (no chmod-through-symlink).
            let fd = rustix::fs::openat(
                pfd,
                name,
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| Self::io(path, "open")(e.into()))?;
            let st = rustix::fs::fstat(&fd).map_err(|e| Self::io(path, "stat")(e.into()))?;
            if FileType::from_raw_mode(st.st_mode) != ft {
                return Err(ApplyError::Refused {
                    name: path.display(),
                    why: "changed type while being unpacked".into(),
                });
            }
            let proc_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
            rustix::fs::chmod(proc_path.as_str(), Mode::from_raw_mode(m.mode))
                .map_err(|e| Self::io(path, "chmod")(e.into()))?;
        }
        if !m.xattrs.is_empty() {
            // lsetxattr on "<parent fd>/<name>": the final name is not followed.
            let p = format!("/proc/self/fd/{}/", std::os::fd::AsRawFd::as_raw_fd(&pfd));
            let mut full = p.into_bytes();
            full.extend_from_slice(name.as_bytes());
            for (k, v) in &m.xattrs {
                if let Err(e) = rustix::fs::lsetxattr(
                    OsStr::from_bytes(&full),
                    OsStr::from_bytes(k),
                    v,
                    rustix::fs::XattrFlags::empty(),
                ) {
                    if xattr_soft_error(e) {
                        self.warn_xattr(path, k, e);
                    } else {
                        return Err(Self::io(path, "setxattr")(e.into()));
                    }
                }
            }
        }
        let times = Timestamps {
            last_access: m.atime,
            last_modification: m.mtime,
        };
        rustix::fs::utimensat(pfd, name, &times, nofollow)
            .map_err(|e| Self::io(path, "utimens")(e.into()))?;
        Ok(())
    }

    /// Directory times (and rootless modes), deepest last-seen first.
    fn finish_dirs(&mut self) -> Result<(), ApplyError> {
        let dirs = std::mem::take(&mut self.dirs);
        // Latest record wins: a directory entry after a rootless unlock.
        let mut done = HashSet::new();
        for d in dirs.iter().rev() {
            if !done.insert(&d.path) {
                continue;
            }
            let fd = match self.root.open_at(
                &d.path,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW,
            ) {
                Ok(fd) => fd,
                // Replaced or removed later in the layer: nothing to fix.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOENT | libc::ENOTDIR | libc::ELOOP)
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(Self::io(&d.path, "open dir")(e)),
            };
            if let Some(mode) = d.mode {
                rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
                    .map_err(|e| Self::io(&d.path, "chmod")(e.into()))?;
            }
            rustix::fs::futimens(&fd, &d.times)
                .map_err(|e| Self::io(&d.path, "utimens")(e.into()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        assert_eq!(
            pax_time(b"12.5").map(|t| (t.tv_sec, t.tv_nsec)),
            Some((12, 500_000_000))
        );
        assert_eq!(pax_time(b"7").map(|t| (t.tv_sec, t.tv_nsec)), Some((7, 0)));
        assert_eq!(
            pax_time(b"-1.25").map(|t| (t.tv_sec, t.tv_nsec)),
            Some((-2, 750_000_000))
        );
        assert!(pax_time(b"x").is_none());
    }

    #[test]
    fn id_maps() {
        let m = [IdMap {
            container: 0,
            host: 100000,
            size: 65536,
        }];
        assert_eq!(map_id(&m, 0, "uid"), Ok(100000));
        assert_eq!(map_id(&m, 65535, "uid"), Ok(165535));
        assert!(map_id(&m, 65536, "uid").is_err());
        assert_eq!(map_id(&[], 7, "uid"), Ok(7));
    }

    #[test]
    fn rootless_payload() {
        assert_eq!(
            rootless_xattr(1000, 0),
            vec![0x08, 0xe8, 0x07, 0x10, 0xff, 0xff, 0xff, 0xff, 0x0f]
        );
    }
}
