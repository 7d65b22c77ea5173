//! The one place that turns a tar entry name into something on disk.
//!
//! The root filesystem is held as a directory fd. Every lookup goes through
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, so a symlink anywhere in
//! a path (planted by an earlier layer, or swapped in by a racer) resolves
//! *inside* the root, the way it would inside the container. The last
//! component of an entry is never followed: it is created, removed or changed
//! with `*at` calls relative to its parent fd and `NOFOLLOW` flags.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};

/// Why an entry name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("contains a `..` component")]
    DotDot,
    #[error("contains a NUL byte")]
    Nul,
    #[error("is empty")]
    Empty,
}

/// A tar entry name, normalised: relative to the root, no `.`/`..`/empty
/// components. An empty component list (the default) is the root itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RelPath {
    // Kept as one byte string ("a/b/c") so it can key the per-layer sets cheaply.
    joined: Vec<u8>,
}

impl RelPath {
    /// Normalise a name from a tar header. Absolute names are taken as relative
    /// to the root (as tar and umoci do); `..` anywhere is refused outright,
    /// because no honest layer needs it and clamping would hide an attack.
    pub fn parse(name: &[u8]) -> Result<RelPath, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.contains(&0) {
            return Err(NameError::Nul);
        }
        let mut joined = Vec::with_capacity(name.len());
        for comp in name.split(|&b| b == b'/') {
            match comp {
                b"" | b"." => continue,
                b".." => return Err(NameError::DotDot),
                c => {
                    if !joined.is_empty() {
                        joined.push(b'/');
                    }
                    joined.extend_from_slice(c);
                }
            }
        }
        Ok(RelPath { joined })
    }

    pub fn is_root(&self) -> bool {
        self.joined.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.joined
    }

    pub fn as_os_str(&self) -> &OsStr {
        OsStr::from_bytes(&self.joined)
    }

    /// Parent path and final name. `None` for the root.
    pub fn split_last(&self) -> Option<(RelPath, &OsStr)> {
        if self.joined.is_empty() {
            return None;
        }
        match self.joined.iter().rposition(|&b| b == b'/') {
            Some(i) => Some((
                RelPath {
                    joined: self.joined[..i].to_vec(),
                },
                OsStr::from_bytes(&self.joined[i + 1..]),
            )),
            None => Some((RelPath { joined: Vec::new() }, self.as_os_str())),
        }
    }

    pub fn join(&self, name: &OsStr) -> RelPath {
        let mut joined = self.joined.clone();
        if !joined.is_empty() {
            joined.push(b'/');
        }
        joined.extend_from_slice(name.as_bytes());
        RelPath { joined }
    }

    /// Is `self` equal to `other` or below it?
    pub fn starts_with(&self, other: &RelPath) -> bool {
        other.joined.is_empty()
            || self.joined == other.joined
            || (self.joined.starts_with(&other.joined)
                && self.joined.get(other.joined.len()) == Some(&b'/'))
    }

    /// A symlink target read in directory `self`, as a path from the root:
    /// absolute targets start at the root, `..` stops at the root (as
    /// `RESOLVE_IN_ROOT` does).
    pub fn resolve_lexically(&self, target: &[u8]) -> RelPath {
        let mut parts: Vec<&[u8]> = if target.starts_with(b"/") {
            Vec::new()
        } else {
            self.joined
                .split(|&b| b == b'/')
                .filter(|c| !c.is_empty())
                .collect()
        };
        for c in target.split(|&b| b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        RelPath {
            joined: parts.join(&b'/'),
        }
    }

    pub fn display(&self) -> String {
        format!("/{}", String::from_utf8_lossy(&self.joined))
    }
}

/// `RESOLVE_IN_ROOT`: symlinks and absolute targets resolve inside the root.
/// `RESOLVE_NO_MAGICLINKS`: `/proc/self/fd/N`-style links never jump out.
fn in_root() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

/// The target root filesystem, held open.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    // One cached parent directory: tar entries come grouped by directory, so
    // this saves most lookups. Dropped whenever anything is removed.
    cache: Option<(RelPath, Rc<OwnedFd>)>,
    // Owner of directories made for missing parents (the mapped root).
    implied_owner: Option<(u32, u32)>,
}

impl Root {
    /// Open an existing directory as the root. The path itself is trusted (the
    /// caller made it); only what is below it is not.
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root {
            fd,
            cache: None,
            implied_owner: None,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Chown implied directories (and the caller chowns the root) to this
    /// owner: with an id map, container root is not host root.
    pub fn set_implied_owner(&mut self, owner: Option<(u32, u32)>) {
        self.implied_owner = owner;
    }

    /// Forget the cached parent (after anything was removed or replaced).
    pub fn invalidate(&mut self) {
        self.cache = None;
    }

    /// Open a path inside the root with the given flags (the final component
    /// is followed unless `flags` has `NOFOLLOW`, but always inside the root).
    pub fn open_at(&self, path: &RelPath, flags: OFlags) -> io::Result<OwnedFd> {
        let p: &OsStr = if path.is_root() {
            OsStr::new(".")
        } else {
            path.as_os_str()
        };
        let fd = rustix::fs::openat2(
            self.fd.as_fd(),
            p,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            in_root(),
        )?;
        Ok(fd)
    }

    /// Open directory `path` (for use as a parent of an entry), creating
    /// missing components as root-owned 0755 directories like `mkdir -p`.
    pub fn parent_dir(&mut self, path: &RelPath) -> io::Result<Rc<OwnedFd>> {
        if let Some((p, fd)) = &self.cache {
            if p == path {
                return Ok(fd.clone());
            }
        }
        let fd = Rc::new(self.open_or_create_dir(path, 0)?);
        self.cache = Some((path.clone(), fd.clone()));
        Ok(fd)
    }

    fn open_or_create_dir(&self, path: &RelPath, depth: u32) -> io::Result<OwnedFd> {
        let flags = OFlags::PATH | OFlags::DIRECTORY;
        match self.open_at(path, flags) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            r => return r,
        }
        // Slow path, rare: walk down from the root, creating what is missing.
        // Each step resolves from the root again so symlinks stay contained.
        let (parent, name) = path.split_last().expect("the root always exists");
        let pfd = self.open_or_create_dir(&parent, depth)?;
        match rustix::fs::mkdirat(&pfd, name, Mode::from_raw_mode(0o755)) {
            Ok(()) => {
                // mkdir honours the umask; the mode of an implied directory
                // must not depend on the caller's umask.
                let dfd = rustix::fs::openat(
                    &pfd,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                if let Some((uid, gid)) = self.implied_owner {
                    rustix::fs::fchown(
                        &dfd,
                        Some(rustix::fs::Uid::from_raw(uid)),
                        Some(rustix::fs::Gid::from_raw(gid)),
                    )?;
                }
                rustix::fs::fchmod(&dfd, Mode::from_raw_mode(0o755))?;
            }
            Err(rustix::io::Errno::EXIST) => {
                // A dangling symlink: create its target, inside the root, as
                // umoci does (`abs -> /a/b` then `abs/file`: makes /a/b).
                if depth >= 40 {
                    return Err(rustix::io::Errno::LOOP.into());
                }
                if let Some(st) = lstat_at(pfd.as_fd(), name)? {
                    if is_symlink(&st) {
                        let target = rustix::fs::readlinkat(&pfd, name, Vec::new())?;
                        let base = self.rel_of(&pfd)?;
                        let t = base.resolve_lexically(target.as_bytes());
                        if !t.is_root() {
                            self.open_or_create_dir(&t, depth + 1)?;
                        }
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
        self.open_at(path, flags)
    }

    /// Where directory `fd` is, relative to the root (both real paths, so
    /// the difference holds no symlinks).
    fn rel_of(&self, fd: &OwnedFd) -> io::Result<RelPath> {
        let real = |f: BorrowedFd<'_>| {
            std::fs::read_link(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&f)
            ))
        };
        let root = real(self.fd.as_fd())?;
        let dir = real(fd.as_fd())?;
        let rel = dir
            .strip_prefix(&root)
            .map_err(|_| io::Error::other("directory is outside the root"))?;
        RelPath::parse(rel.as_os_str().as_bytes()).or_else(|_| Ok(RelPath::default()))
    }
}

/// Lstat of `name` in `dir`; `None` if it does not exist.
pub fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<rustix::fs::Stat>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn is_dir(st: &rustix::fs::Stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

pub fn is_symlink(st: &rustix::fs::Stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFLNK
}

/// Remove `name` in `dir`, recursively if it is a directory, never following
/// symlinks. Iterative over an explicit stack, so depth costs no recursion
/// and the work is linear in the number of inodes removed.
pub fn remove_all_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => return Ok(()),
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        // EISDIR on Linux for a directory; EPERM on some filesystems.
        Err(rustix::io::Errno::ISDIR) | Err(rustix::io::Errno::PERM) => {}
        Err(e) => return Err(e.into()),
    }
    let st = match lstat_at(dir, name)? {
        None => return Ok(()),
        Some(st) => st,
    };
    if !is_dir(&st) {
        rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
        return Ok(());
    }
    remove_dir_contents(dir, name)?;
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
    Ok(())
}

/// A directory about to be emptied and removed: make sure its owner (us,
/// when rootless) may delete its entries.
fn writable_for_removal(fd: &OwnedFd) -> io::Result<()> {
    let st = rustix::fs::fstat(fd)?;
    if st.st_mode & 0o700 != 0o700 {
        rustix::fs::fchmod(fd, Mode::from_raw_mode((st.st_mode & 0o7777) | 0o700))?;
    }
    Ok(())
}

/// Remove every child of directory `name` in `dir`, keeping `name` itself.
pub fn remove_dir_contents(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let top = open_dir_nofollow(dir, name)?;
    writable_for_removal(&top)?;
    // Stack of (dir fd, name of that dir within its parent) still being emptied.
    let mut stack: Vec<(OwnedFd, Option<OsString>)> = vec![(top, None)];
    while let Some((fd, _)) = stack.last() {
        let mut sub: Option<(OwnedFd, OsString)> = None;
        let mut rd = rustix::fs::Dir::read_from(fd)?;
        for ent in rd.by_ref() {
            let ent = ent?;
            let n = ent.file_name().to_bytes();
            if n == b"." || n == b".." {
                continue;
            }
            let n = OsStr::from_bytes(n).to_os_string();
            match rustix::fs::unlinkat(fd, n.as_os_str(), AtFlags::empty()) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                Err(rustix::io::Errno::ISDIR) | Err(rustix::io::Errno::PERM) => {
                    match rustix::fs::unlinkat(fd, n.as_os_str(), AtFlags::REMOVEDIR) {
                        Ok(()) => {}
                        Err(rustix::io::Errno::NOTEMPTY) | Err(rustix::io::Errno::EXIST) => {
                            let sfd = open_dir_nofollow(fd.as_fd(), &n)?;
                            writable_for_removal(&sfd)?;
                            sub = Some((sfd, n));
                            break;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        match sub {
            // Descend; the parent is re-read afterwards, which only revisits
            // entries that are already gone, so the total stays linear.
            Some((fd, n)) => stack.push((fd, Some(n))),
            None => {
                let (_, n) = stack.pop().expect("non-empty");
                if let (Some(n), Some((pfd, _))) = (n, stack.last()) {
                    rustix::fs::unlinkat(pfd, n.as_os_str(), AtFlags::REMOVEDIR)?;
                }
            }
        }
    }
    Ok(())
}

pub fn open_dir_nofollow(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised() {
        let p = |s: &str| {
            RelPath::parse(s.as_bytes()).map(|p| String::from_utf8(p.as_bytes().to_vec()).unwrap())
        };
        assert_eq!(p("./a/b/").unwrap(), "a/b");
        assert_eq!(p("/etc//passwd").unwrap(), "etc/passwd");
        assert_eq!(p("./").unwrap(), "");
        assert_eq!(p("a/../b"), Err(NameError::DotDot));
        assert_eq!(p("../x"), Err(NameError::DotDot));
        assert_eq!(p(""), Err(NameError::Empty));
    }

    #[test]
    fn split_and_prefix() {
        let a = RelPath::parse(b"a/b/c").unwrap();
        let (parent, name) = a.split_last().unwrap();
        assert_eq!(parent.as_bytes(), b"a/b");
        assert_eq!(name, "c");
        assert!(a.starts_with(&parent));
        assert!(!RelPath::parse(b"a/bc")
            .unwrap()
            .starts_with(&RelPath::parse(b"a/b").unwrap()));
        assert!(RelPath::parse(b"x")
            .unwrap()
            .split_last()
            .unwrap()
            .0
            .is_root());
        let base = RelPath::parse(b"a/b").unwrap();
        assert_eq!(
            base.resolve_lexically(b"../../../../etc").as_bytes(),
            b"etc"
        );
        assert_eq!(base.resolve_lexically(b"/x/./y/").as_bytes(), b"x/y");
        assert_eq!(base.resolve_lexically(b"c/../d").as_bytes(), b"a/b/d");
    }
}
