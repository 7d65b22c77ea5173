//! Layers to a root filesystem.
//!
//! A layer is a (maybe compressed) tar stream with a media type and the
//! digests to check it against. [`apply_layer`] decompresses and verifies it
//! on a helper thread while `tar_apply` writes entries into a root held as a
//! directory fd (`paths`: every lookup is `openat2(RESOLVE_IN_ROOT)`).
//! [`unpack_rootfs`] applies a list of layers into a fresh directory that only
//! appears at its final name once every layer applied and verified.

pub mod cache;
pub mod decompress;
pub mod paths;
pub mod tar_apply;
mod whiteout;

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_spec::image::MediaType;

pub use decompress::{Compression, Expect, StreamError};
pub use paths::Root;
pub use tar_apply::{ApplyError, ApplyStats};

pub use crate::error_chain;

/// One range of an id map, as in `--uid-map CONTAINER:HOST:SIZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

impl FromStr for IdMap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        let [c, h, n] = parts[..] else {
            return Err(format!("id map {s:?}: want CONTAINER:HOST:SIZE"));
        };
        let num = |v: &str| {
            v.parse::<u32>()
                .map_err(|e| format!("id map {s:?}: {v:?}: {e}"))
        };
        let m = IdMap {
            container: num(c)?,
            host: num(h)?,
            size: num(n)?,
        };
        if m.size == 0
            || m.container.checked_add(m.size - 1).is_none()
            || m.host.checked_add(m.size - 1).is_none()
        {
            return Err(format!("id map {s:?}: empty or overflowing range"));
        }
        Ok(m)
    }
}

/// How to unpack.
#[derive(Debug, Clone, Default)]
pub struct UnpackOptions {
    /// No chown, no mknod: ownership is recorded in `user.rootlesscontainers`
    /// and devices become empty files (as `umoci unpack --rootless`).
    pub rootless: bool,
    /// Container → host ids for file ownership (empty: identity).
    pub uid_map: Vec<IdMap>,
    pub gid_map: Vec<IdMap>,
    /// A directory entry over an existing symlink-to-directory keeps the
    /// symlink (umoci `--keep-dirlinks`).
    pub keep_dirlinks: bool,
}

impl UnpackOptions {
    /// The host ids of container root when id maps shift ownership.
    pub fn mapped_root(&self) -> Option<(u32, u32)> {
        if self.rootless || (self.uid_map.is_empty() && self.gid_map.is_empty()) {
            return None;
        }
        let find = |m: &[IdMap]| {
            if m.is_empty() {
                return Some(0);
            }
            m.iter().find(|r| r.container == 0).map(|r| r.host)
        };
        Some((find(&self.uid_map)?, find(&self.gid_map)?))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("layer {index} ({digest})")]
    Stream {
        index: usize,
        digest: String,
        #[source]
        source: StreamError,
    },
    #[error("layer {index} ({digest})")]
    Apply {
        index: usize,
        digest: String,
        #[source]
        source: ApplyError,
    },
    #[error("{op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("target {0} exists and is not an empty directory")]
    TargetNotEmpty(PathBuf),
}

/// One layer to apply.
pub struct Layer<R> {
    pub reader: R,
    pub media_type: MediaType,
    pub expect: Expect,
}

/// Either failure of one layer, before it is tagged with the layer's index.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

impl LayerError {
    /// Tag with the layer's place in the image.
    pub fn at(self, index: usize, digest: String) -> UnpackError {
        match self {
            LayerError::Stream(source) => UnpackError::Stream {
                index,
                digest,
                source,
            },
            LayerError::Apply(source) => UnpackError::Apply {
                index,
                digest,
                source,
            },
        }
    }
}

/// Apply one layer onto `root`. Returns only after the blob digest, size and
/// diff_id were checked at EOF; on error the root holds a partial layer and
/// must be thrown away (which [`unpack_rootfs`] does).
pub fn apply_layer<R: Read + Send + 'static>(
    root: &mut Root,
    layer: Layer<R>,
    opts: &UnpackOptions,
) -> Result<ApplyStats, LayerError> {
    let compression = decompress::compression_for(&layer.media_type)?;
    let mut stream = decompress::VerifiedStream::spawn(layer.reader, compression, layer.expect)?;
    let applied = tar_apply::Applier::new(root, opts).apply(&mut stream);
    match applied {
        Ok(stats) => {
            stream.finish()?;
            Ok(stats)
        }
        Err(e) => {
            // A read error in the tar usually has a truer cause upstream
            // (truncated or corrupt blob): report that one.
            if let Some(cause) = stream.abort() {
                return Err(cause.into());
            }
            Err(e.into())
        }
    }
}

/// Apply `layers` in order into a new directory `dest`.
///
/// Work happens in a hidden sibling (`.NAME.oximg-tmp-PID`) renamed to `dest`
/// at the end, so `dest` never shows a partly applied image; on error the
/// sibling is removed. `dest` may exist only as an empty directory.
pub fn unpack_rootfs<R: Read + Send + 'static>(
    dest: &Path,
    layers: impl IntoIterator<Item = Layer<R>>,
    opts: &UnpackOptions,
) -> Result<Vec<ApplyStats>, UnpackError> {
    let tmp = staging_dir(dest)?;
    let result = (|| {
        let mut root = Root::open(&tmp).map_err(|source| UnpackError::Io {
            op: "open",
            path: tmp.clone(),
            source,
        })?;
        if let Some((uid, gid)) = opts.mapped_root() {
            rustix::fs::fchown(
                root.fd(),
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )
            .map_err(|e| UnpackError::Io {
                op: "chown",
                path: tmp.clone(),
                source: e.into(),
            })?;
            root.set_implied_owner(Some((uid, gid)));
        }
        let mut all = Vec::new();
        for (index, layer) in layers.into_iter().enumerate() {
            let digest = layer
                .expect
                .digest
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_else(|| "unverified".into());
            let stats = apply_layer(&mut root, layer, opts).map_err(|e| e.at(index, digest))?;
            all.push(stats);
        }
        Ok(all)
    })();
    match result {
        Ok(all) => {
            publish(&tmp, dest)?;
            Ok(all)
        }
        Err(e) => {
            let _ = remove_tree(&tmp);
            Err(e)
        }
    }
}

/// A fresh, empty, root-owned 0755 directory next to `dest`.
pub fn staging_dir(dest: &Path) -> Result<PathBuf, UnpackError> {
    check_target(dest)?;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dest
        .file_name()
        .ok_or_else(|| UnpackError::TargetNotEmpty(dest.to_path_buf()))?;
    std::fs::create_dir_all(&parent).map_err(|source| UnpackError::Io {
        op: "create",
        path: parent.clone(),
        source,
    })?;
    let tmp = parent.join(format!(
        ".{}.oximg-tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = remove_tree(&tmp);
    std::fs::create_dir(&tmp).map_err(|source| UnpackError::Io {
        op: "create",
        path: tmp.clone(),
        source,
    })?;
    // Like an image's implied root: 0755, whatever the umask.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).map_err(|source| {
        UnpackError::Io {
            op: "chmod",
            path: tmp.clone(),
            source,
        }
    })?;
    Ok(tmp)
}

pub fn check_target(dest: &Path) -> Result<(), UnpackError> {
    match std::fs::symlink_metadata(dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(UnpackError::Io {
            op: "stat",
            path: dest.to_path_buf(),
            source,
        }),
        Ok(md) if md.is_dir() => {
            let mut rd = std::fs::read_dir(dest).map_err(|source| UnpackError::Io {
                op: "read",
                path: dest.to_path_buf(),
                source,
            })?;
            if rd.next().is_none() {
                Ok(())
            } else {
                Err(UnpackError::TargetNotEmpty(dest.to_path_buf()))
            }
        }
        Ok(_) => Err(UnpackError::TargetNotEmpty(dest.to_path_buf())),
    }
}

/// Move a finished staging directory to its name (rename(2) replaces an
/// empty directory atomically).
pub fn publish(tmp: &Path, dest: &Path) -> Result<(), UnpackError> {
    std::fs::rename(tmp, dest).map_err(|source| {
        let _ = remove_tree(tmp);
        UnpackError::Io {
            op: "rename into place",
            path: dest.to_path_buf(),
            source,
        }
    })
}

/// `rm -rf` that never follows symlinks (the tree came from an image).
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("no file name"))?;
    let pfd = rustix::fs::open(
        parent,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    paths::remove_all_at(std::os::fd::AsFd::as_fd(&pfd), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_map_parsing() {
        assert_eq!(
            "0:1000:1".parse::<IdMap>(),
            Ok(IdMap {
                container: 0,
                host: 1000,
                size: 1
            })
        );
        assert!("0:1000".parse::<IdMap>().is_err());
        assert!("0:1000:0".parse::<IdMap>().is_err());
        assert!("4294967295:0:2".parse::<IdMap>().is_err());
    }
}
