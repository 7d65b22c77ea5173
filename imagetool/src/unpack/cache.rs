//! Unpacked layers kept once in the store, so a second bundle of an image
//! costs one overlay mount instead of a full unpack.
//!
//! Layer N is applied, with the ordinary applier, onto an overlay mount of
//! layers 1..N-1 (read-only lowers) whose upper directory becomes layer N's
//! cached tree: symlinks planted by lower layers resolve as in a flat unpack,
//! and overlayfs itself turns removals into whiteouts and copies hardlink
//! targets up. Cached trees are keyed by chain ID (they depend on what is
//! below them) and appear under their name only when complete.
//!
//! Layout: `<store>/.oximg/unpacked/<chain id hex>/fs`.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};

use super::{apply_layer, remove_tree, Layer, Root, UnpackError, UnpackOptions};

/// Chain IDs (image-spec `config.md`): `chain(1) = diff_id(1)`,
/// `chain(n) = sha256(chain(n-1) + " " + diff_id(n))`.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.to_string(),
            Some(prev) => format!(
                "sha256:{}",
                hex::encode(Sha256::digest(format!("{prev} {d}").as_bytes()))
            ),
        };
        out.push(next);
    }
    out
}

pub struct LayerCache {
    dir: PathBuf,
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> UnpackError + 'a {
    move |source| UnpackError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Overlay's option string cannot carry these in paths unescaped.
fn overlay_safe(p: &Path) -> bool {
    let s = p.as_os_str().as_encoded_bytes();
    !s.iter().any(|b| matches!(b, b':' | b',' | b'\\' | b'\n'))
}

/// Mount an overlay at `target`. `lowers` top first; without `upper` the
/// mount is read-only. Uses the fd-based mount API with one `lowerdir+` per
/// layer (no length limit, no escaping; Linux 6.8+), else the classic
/// option string.
pub fn mount_overlay(
    lowers: &[PathBuf],
    upper: Option<(&Path, &Path)>,
    target: &Path,
) -> io::Result<()> {
    match mount_overlay_fd(lowers, upper, target) {
        Ok(()) => Ok(()),
        Err(_) => mount_overlay_string(lowers, upper, target),
    }
}

// index/metacopy/redirect_dir off: lowers are shared by many mounts and must
// never be followed anywhere by a redirect.
const OVERLAY_OPTS: [(&str, &str); 3] = [
    ("index", "off"),
    ("metacopy", "off"),
    ("redirect_dir", "off"),
];

fn mount_overlay_fd(
    lowers: &[PathBuf],
    upper: Option<(&Path, &Path)>,
    target: &Path,
) -> io::Result<()> {
    use rustix::mount::*;
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    for l in lowers {
        fsconfig_set_string(&fs, "lowerdir+", l.as_path())?;
    }
    if let Some((u, w)) = upper {
        fsconfig_set_string(&fs, "upperdir", u)?;
        fsconfig_set_string(&fs, "workdir", w)?;
    }
    for (k, v) in OVERLAY_OPTS {
        fsconfig_set_string(&fs, k, v)?;
    }
    fsconfig_create(&fs)?;
    let mut attrs = MountAttrFlags::MOUNT_ATTR_NODEV;
    if upper.is_none() {
        attrs |= MountAttrFlags::MOUNT_ATTR_RDONLY;
    }
    let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs)?;
    move_mount(
        &mnt,
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )?;
    Ok(())
}

fn mount_overlay_string(
    lowers: &[PathBuf],
    upper: Option<(&Path, &Path)>,
    target: &Path,
) -> io::Result<()> {
    let all: Vec<&Path> = lowers
        .iter()
        .map(|p| p.as_path())
        .chain(upper.iter().flat_map(|(u, w)| [*u, *w]))
        .collect();
    if all.iter().any(|p| !overlay_safe(p)) {
        return Err(io::Error::other(
            "a store path holds ':' or ','; overlay cannot name it",
        ));
    }
    let lower = lowers
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let mut data = format!("lowerdir={lower}");
    for (k, v) in OVERLAY_OPTS {
        data += &format!(",{k}={v}");
    }
    if let Some((u, w)) = upper {
        data += &format!(",upperdir={},workdir={}", u.display(), w.display());
    }
    if data.len() >= 4000 {
        return Err(io::Error::other(
            "too many layers for one overlay mount option string",
        ));
    }
    let data = CString::new(data).map_err(io::Error::other)?;
    let flags = if upper.is_none() {
        rustix::mount::MountFlags::RDONLY
    } else {
        rustix::mount::MountFlags::empty()
    };
    rustix::mount::mount(
        "overlay",
        target,
        "overlay",
        flags | rustix::mount::MountFlags::NODEV,
        data.as_c_str(),
    )?;
    Ok(())
}

pub fn unmount(target: &Path) -> io::Result<()> {
    rustix::mount::unmount(target, rustix::mount::UnmountFlags::DETACH)?;
    Ok(())
}

/// Is `path` the root of an overlay mount?
pub fn is_overlay(path: &Path) -> bool {
    const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c7630;
    // f_type's width differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    rustix::fs::statfs(path).is_ok_and(|s| s.f_type as i64 == OVERLAYFS_SUPER_MAGIC)
}

impl LayerCache {
    pub fn new(store_root: &Path) -> LayerCache {
        LayerCache {
            dir: store_root.join(".oximg/unpacked"),
        }
    }

    pub fn layer_dir(&self, chain_id: &str) -> PathBuf {
        let hex = chain_id.rsplit(':').next().unwrap_or(chain_id);
        self.dir.join(hex).join("fs")
    }

    /// Make sure every layer is unpacked in the cache; returns the layer
    /// trees, top first (overlay `lowerdir` order). Layers already cached
    /// are not read at all.
    pub fn ensure(
        &self,
        layers: Vec<Layer<File>>,
        diff_ids: &[Digest],
        opts: &UnpackOptions,
    ) -> Result<Vec<PathBuf>, UnpackError> {
        let chains = chain_ids(diff_ids);
        std::fs::create_dir_all(&self.dir).map_err(io_err("create", &self.dir))?;
        let mut below: Vec<PathBuf> = Vec::new(); // top first
        for (index, (layer, chain)) in layers.into_iter().zip(&chains).enumerate() {
            let fs = self.layer_dir(chain);
            if !fs.is_dir() {
                self.build(index, layer, &fs, &below, opts)?;
            }
            below.insert(0, fs);
        }
        Ok(below)
    }

    fn build(
        &self,
        index: usize,
        layer: Layer<File>,
        fs: &Path,
        below: &[PathBuf],
        opts: &UnpackOptions,
    ) -> Result<(), UnpackError> {
        let entry = fs.parent().expect("fs has a parent");
        let name = entry
            .file_name()
            .expect("named")
            .to_string_lossy()
            .into_owned();
        let tmp = self
            .dir
            .join(format!(".tmp-{name}-{}-{index}", std::process::id()));
        let _ = remove_tree(&tmp);
        let (tfs, work, mnt) = (tmp.join("fs"), tmp.join("work"), tmp.join("mnt"));
        for d in [&tmp, &tfs, &work, &mnt] {
            std::fs::create_dir(d).map_err(io_err("create", d))?;
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tfs, std::fs::Permissions::from_mode(0o755))
            .map_err(io_err("chmod", &tfs))?;
        let digest = layer
            .expect
            .digest
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_default();
        let result = (|| {
            let target = if below.is_empty() {
                tfs.clone()
            } else {
                mount_overlay(below, Some((&tfs, &work)), &mnt)
                    .map_err(io_err("mount overlay", &mnt))?;
                mnt.clone()
            };
            let applied = Root::open(&target)
                .map_err(io_err("open", &target))
                .and_then(|mut root| {
                    apply_layer(&mut root, layer, opts).map_err(|e| e.at(index, digest))
                });
            if !below.is_empty() {
                unmount(&mnt).map_err(io_err("unmount", &mnt))?;
            }
            applied.map(|_| ())
        })();
        if let Err(e) = result {
            let _ = remove_tree(&tmp);
            return Err(e);
        }
        let _ = remove_tree(&work);
        let _ = std::fs::remove_dir(&mnt);
        match std::fs::rename(&tmp, entry) {
            Ok(()) => Ok(()),
            // Someone else finished the same layer first: theirs is as good.
            Err(_) if fs.is_dir() => {
                let _ = remove_tree(&tmp);
                Ok(())
            }
            Err(e) => {
                let _ = remove_tree(&tmp);
                Err(io_err("rename into cache", entry)(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_layers_mount_through_the_fd_api() {
        // 60 lowers: past the option-string limit with long paths.
        if !rustix::process::geteuid().is_root() {
            return;
        }
        let td = tempfile::tempdir().unwrap();
        let long = td.path().join("x".repeat(60));
        let mut lowers = Vec::new();
        for i in 0..60 {
            let d = long.join(format!("layer-with-a-long-name-{i:03}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(format!("f{i}")), b"").unwrap();
            lowers.insert(0, d);
        }
        let (u, w, m) = (
            td.path().join("u"),
            td.path().join("w"),
            td.path().join("m"),
        );
        for d in [&u, &w, &m] {
            std::fs::create_dir(d).unwrap();
        }
        mount_overlay(&lowers, Some((&u, &w)), &m).unwrap();
        let n = std::fs::read_dir(&m).unwrap().count();
        unmount(&m).unwrap();
        assert_eq!(n, 60);
        assert!(mount_overlay_string(&lowers, Some((&u, &w)), &m).is_err());
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let a: Digest = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            .parse()
            .unwrap();
        let b: Digest = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
            .parse()
            .unwrap();
        let c = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(c[0], a.to_string());
        let want = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(format!("{a} {b}").as_bytes()))
        );
        assert_eq!(c[1], want);
    }
}
