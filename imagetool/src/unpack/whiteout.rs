//! Whiteouts (`.wh.NAME`) and opaque directories (`.wh..wh..opq`).
//!
//! The image spec says a whiteout hides what *lower* layers have at a path;
//! something the same layer added stays, whatever the order of entries in the
//! tar. So removal skips every path recorded in `upper` and descends only
//! into directories this layer created. Each directory is cleared at most
//! once per layer, which keeps layers made of many whiteouts linear.

use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

use rustix::fs::OFlags;

use super::paths::{self, RelPath};
use super::tar_apply::{Applier, ApplyError};

const OPAQUE: &[u8] = b".wh..opq";
const AUFS_META: &[u8] = b".wh.";

impl Applier<'_> {
    /// `target` is the whiteout name without its `.wh.` prefix.
    pub(crate) fn whiteout(
        &mut self,
        parent: &RelPath,
        target: &[u8],
        entry: &RelPath,
    ) -> Result<(), ApplyError> {
        if target == OPAQUE {
            return self.clear_lower(parent, entry);
        }
        if target.starts_with(AUFS_META) {
            // AUFS bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): not content.
            return Ok(());
        }
        if target.is_empty() || target == b"." || target == b".." {
            return Err(ApplyError::Refused {
                name: entry.display(),
                why: "whiteout of `.` or `..`".into(),
            });
        }
        let path = parent.join(OsStr::from_bytes(target));
        if self.upper.contains(&path) {
            // Added by this layer: keep it; if it is a directory, only what
            // lower layers had inside it goes.
            return self.clear_lower(&path, entry);
        }
        let pfd = match self.root.open_at(parent, OFlags::PATH | OFlags::DIRECTORY) {
            Ok(fd) => fd,
            // Nothing there to hide.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                return Ok(())
            }
            Err(e) => {
                return Err(ApplyError::Io {
                    name: entry.display(),
                    op: "open whiteout parent",
                    source: e,
                })
            }
        };
        self.unlock(parent, pfd.as_fd(), entry)?;
        paths::remove_all_at(pfd.as_fd(), OsStr::from_bytes(target)).map_err(|e| {
            ApplyError::Io {
                name: entry.display(),
                op: "remove whited-out path",
                source: e,
            }
        })?;
        self.root.invalidate();
        Ok(())
    }

    /// Remove from directory `dir` everything this layer did not add.
    fn clear_lower(&mut self, dir: &RelPath, entry: &RelPath) -> Result<(), ApplyError> {
        if !self.cleared.insert(dir.clone()) {
            return Ok(());
        }
        let io = |op: &'static str| {
            move |source| ApplyError::Io {
                name: entry.display(),
                op,
                source,
            }
        };
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            let dfd = match self
                .root
                .open_at(&d, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW)
            {
                Ok(fd) => fd,
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOENT | libc::ENOTDIR | libc::ELOOP)
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(io("open directory")(e)),
            };
            self.unlock(&d, dfd.as_fd(), entry)?;
            let mut names = Vec::new();
            let mut rd =
                rustix::fs::Dir::read_from(&dfd).map_err(|e| io("read directory")(e.into()))?;
            for ent in rd.by_ref() {
                let ent = ent.map_err(|e| io("read directory")(e.into()))?;
                let n = ent.file_name().to_bytes();
                if n != b"." && n != b".." {
                    let is_dir = match ent.file_type() {
                        rustix::fs::FileType::Unknown => {
                            paths::lstat_at(dfd.as_fd(), OsStr::from_bytes(n))
                                .map_err(io("lstat"))?
                                .is_some_and(|st| paths::is_dir(&st))
                        }
                        t => t == rustix::fs::FileType::Directory,
                    };
                    names.push((n.to_vec(), is_dir));
                }
            }
            for (n, is_dir) in names {
                let child = d.join(OsStr::from_bytes(&n));
                if self.upper.contains(&child) {
                    if is_dir && self.cleared.insert(child.clone()) {
                        stack.push(child);
                    }
                } else {
                    paths::remove_all_at(dfd.as_fd(), OsStr::from_bytes(&n))
                        .map_err(io("remove lower path"))?;
                    self.root.invalidate();
                }
            }
        }
        Ok(())
    }
}
