//! Test helpers for unpack/bundle tests: a raw tar writer that can express
//! malicious names (`..`, absolute paths, odd link targets), compressors, an
//! OCI image layout writer, and a tree snapshot for comparisons.
//!
//! Included with `#[path = "common/layers.rs"] mod layers;`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Writes tar entries byte by byte so any name or link target can be used.
#[derive(Default)]
pub struct Tar {
    out: Vec<u8>,
    pending_xattrs: Vec<(String, Vec<u8>)>,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
}

fn pax_record(key: &str, val: &[u8]) -> Vec<u8> {
    // "LEN KEY=VAL\n" where LEN counts itself.
    let body_len = 1 + key.len() + 1 + val.len() + 1;
    let mut len = body_len + 1;
    while format!("{len}").len() + body_len != len {
        len = format!("{len}").len() + body_len;
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(val);
    r.push(b'\n');
    r
}

impl Tar {
    pub fn new() -> Tar {
        Tar {
            mtime: 1_600_000_000,
            ..Default::default()
        }
    }

    /// Owner for the entries that follow.
    pub fn owner(&mut self, uid: u64, gid: u64) -> &mut Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    /// An xattr for the next entry only (PAX `SCHILY.xattr.`).
    pub fn xattr(&mut self, name: &str, val: &[u8]) -> &mut Self {
        self.pending_xattrs.push((name.to_string(), val.to_vec()));
        self
    }

    fn raw(
        &mut self,
        name: &[u8],
        kind: tar::EntryType,
        mode: u32,
        link: &[u8],
        data: &[u8],
        dev: (u32, u32),
    ) {
        let mut pax = Vec::new();
        for (k, v) in std::mem::take(&mut self.pending_xattrs) {
            pax.extend(pax_record(&format!("SCHILY.xattr.{k}"), &v));
        }
        if name.len() > 100 {
            pax.extend(pax_record("path", name));
        }
        if link.len() > 100 {
            pax.extend(pax_record("linkpath", link));
        }
        if !pax.is_empty() {
            self.header(
                b"PaxHeaders/x",
                tar::EntryType::XHeader,
                0o644,
                b"",
                pax.len() as u64,
                (0, 0),
            );
            self.data(&pax);
        }
        self.header(name, kind, mode, link, data.len() as u64, dev);
        self.data(data);
    }

    fn header(
        &mut self,
        name: &[u8],
        kind: tar::EntryType,
        mode: u32,
        link: &[u8],
        size: u64,
        dev: (u32, u32),
    ) {
        let mut h = tar::Header::new_ustar();
        {
            let old = h.as_old_mut();
            let n = name.len().min(100);
            old.name[..n].copy_from_slice(&name[..n]);
            let l = link.len().min(100);
            old.linkname[..l].copy_from_slice(&link[..l]);
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(self.uid);
        h.set_gid(self.gid);
        h.set_mtime(self.mtime);
        h.set_size(size);
        if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
            h.set_device_major(dev.0).unwrap();
            h.set_device_minor(dev.1).unwrap();
        }
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
    }

    fn data(&mut self, data: &[u8]) {
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
    }

    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.raw(
            name.as_bytes(),
            tar::EntryType::Directory,
            mode,
            b"",
            b"",
            (0, 0),
        );
        self
    }
    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        self.raw(
            name.as_bytes(),
            tar::EntryType::Regular,
            mode,
            b"",
            data,
            (0, 0),
        );
        self
    }
    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(
            name.as_bytes(),
            tar::EntryType::Symlink,
            0o777,
            target.as_bytes(),
            b"",
            (0, 0),
        );
        self
    }
    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(
            name.as_bytes(),
            tar::EntryType::Link,
            0o644,
            target.as_bytes(),
            b"",
            (0, 0),
        );
        self
    }
    pub fn whiteout(&mut self, dir: &str, name: &str) -> &mut Self {
        let p = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        self.file(&p, 0o644, b"")
    }
    pub fn opaque(&mut self, dir: &str) -> &mut Self {
        self.whiteout(dir, ".wh..opq")
    }
    pub fn chardev(&mut self, name: &str, mode: u32, major: u32, minor: u32) -> &mut Self {
        self.raw(
            name.as_bytes(),
            tar::EntryType::Char,
            mode,
            b"",
            b"",
            (major, minor),
        );
        self
    }
    pub fn fifo(&mut self, name: &str, mode: u32) -> &mut Self {
        self.raw(
            name.as_bytes(),
            tar::EntryType::Fifo,
            mode,
            b"",
            b"",
            (0, 0),
        );
        self
    }
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.out);
        out.extend(std::iter::repeat_n(0u8, 1024));
        out
    }
}

/// An error with its causes, as the CLI prints it.
pub fn chain(e: &dyn std::error::Error) -> String {
    oximg::unpack::error_chain(e)
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

pub const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// An `oci_spec` layer description for `oximg::unpack::apply_layer`.
pub fn layer(
    blob: Vec<u8>,
    media_type: &str,
    diff_id: Option<&[u8]>,
) -> oximg::unpack::Layer<std::io::Cursor<Vec<u8>>> {
    let expect = oximg::unpack::Expect {
        digest: Some(sha256(&blob).parse().unwrap()),
        size: Some(blob.len() as u64),
        diff_id: diff_id.map(|t| sha256(t).parse().unwrap()),
    };
    oximg::unpack::Layer {
        reader: std::io::Cursor::new(blob),
        media_type: media_type.into(),
        expect,
    }
}

/// Write an OCI image layout at `dir` with one image tagged `tag`, made of
/// `layers` (uncompressed tars, compressed as `media_type` says) and an image
/// config built from `config` (the `config` object of the image config JSON).
/// Returns the manifest digest.
pub fn write_layout(
    dir: &Path,
    tag: &str,
    layers: &[(Vec<u8>, &str)],
    config: serde_json::Value,
) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| -> (String, u64) {
        let d = sha256(data);
        std::fs::write(blobs.join(&d[7..]), data).unwrap();
        (d, data.len() as u64)
    };
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    for (tar, mt) in layers {
        diff_ids.push(sha256(tar));
        let blob = match *mt {
            GZIP => gzip(tar),
            ZSTD => zstd(tar),
            _ => tar.clone(),
        };
        let (d, s) = put(&blob);
        layer_descs.push(serde_json::json!({"mediaType": mt, "digest": d, "size": s}));
    }
    let cfg = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [],
    });
    let cfg = serde_json::to_vec(&cfg).unwrap();
    let (cd, cs) = put(&cfg);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": layer_descs,
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let (md, ms) = put(&manifest);
    let index_path = dir.join("index.json");
    let mut index: serde_json::Value = std::fs::read(&index_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| serde_json::json!({"schemaVersion": 2, "manifests": []}));
    index["manifests"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md, "size": ms,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }));
    std::fs::write(index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    md
}

/// A minimal busybox root filesystem layer: /bin/busybox plus applet links.
pub fn busybox_layer() -> Vec<u8> {
    let bb = std::fs::read(busybox_binary()).expect("busybox-static is installed by scripts/deps");
    let mut t = Tar::new();
    t.dir("bin", 0o755).file("bin/busybox", 0o755, &bb);
    for app in [
        "sh", "echo", "id", "cat", "ls", "true", "sleep", "pwd", "env",
    ] {
        t.hardlink(&format!("bin/{app}"), "bin/busybox");
    }
    t.dir("etc", 0o755)
        .file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .file("etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\nalice:x:1000:\nstaff:x:50:alice\nwheel:x:10:bob,alice\n")
        .dir("tmp", 0o1777)
        .dir("root", 0o700);
    t.finish()
}

pub fn busybox_binary() -> PathBuf {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("busybox-static not installed (run scripts/deps)");
}

/// One inode's observable state, for tree comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub link: Option<String>,
    pub sha256: Option<String>,
    pub rdev: u64,
    pub xattrs: BTreeMap<String, Vec<u8>>,
    pub nlink_group: Option<String>,
}

/// Snapshot a tree: path → node. Hardlinked files are tagged with the first
/// path of their inode, so link structure is compared too.
pub fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let full = root.join(&rel);
        let md = std::fs::symlink_metadata(&full).unwrap();
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else if ft.is_char_device() {
            "char"
        } else if ft.is_block_device() {
            "block"
        } else if ft.is_fifo() {
            "fifo"
        } else {
            "other"
        };
        let key = format!("/{}", rel.display());
        let nlink_group = if ft.is_file() && md.nlink() > 1 {
            Some(
                inodes
                    .entry((md.dev(), md.ino()))
                    .or_insert_with(|| key.clone())
                    .clone(),
            )
        } else {
            None
        };
        let mut xattrs = BTreeMap::new();
        let mut buf = vec![0u8; 65536];
        if let Ok(n) = rustix::fs::llistxattr(&full, &mut buf[..]) {
            for name in buf[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
                let mut v = vec![0u8; 65536];
                if let Ok(len) =
                    rustix::fs::lgetxattr(&full, std::ffi::OsStr::from_bytes(name), &mut v[..])
                {
                    v.truncate(len);
                    xattrs.insert(String::from_utf8_lossy(name).into_owned(), v);
                }
            }
        }
        out.insert(
            key,
            Node {
                kind,
                mode: md.mode() & 0o7777,
                uid: md.uid(),
                gid: md.gid(),
                link: ft.is_symlink().then(|| {
                    std::fs::read_link(&full)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned()
                }),
                sha256: ft.is_file().then(|| sha256(&std::fs::read(&full).unwrap())),
                rdev: if ft.is_char_device() || ft.is_block_device() {
                    md.rdev()
                } else {
                    0
                },
                xattrs,
                nlink_group,
            },
        );
        if ft.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(&full)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            names.sort();
            for n in names {
                stack.push(rel.join(n));
            }
        }
    }
    out
}

/// A temp dir with a sentinel file beside the rootfs target: attacks aim at
/// it. Returns (tempdir, rootfs path, sentinel dir).
pub fn arena() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let td = tempfile::tempdir().unwrap();
    let victim = td.path().join("victim");
    let rootfs = td.path().join("rootfs");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("sentinel"), b"untouched").unwrap();
    std::fs::set_permissions(
        victim.join("sentinel"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    (td, rootfs, victim)
}

/// Assert the victim directory holds exactly the untouched sentinel.
pub fn assert_victim_untouched(victim: &Path) {
    let names: Vec<_> = std::fs::read_dir(victim)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("sentinel")],
        "something was created in {victim:?}"
    );
    let s = victim.join("sentinel");
    assert_eq!(std::fs::read(&s).unwrap(), b"untouched");
    let md = std::fs::symlink_metadata(&s).unwrap();
    assert_eq!(md.mode() & 0o7777, 0o600, "sentinel mode changed");
    assert_eq!((md.uid(), md.gid()), (0, 0), "sentinel owner changed");
    assert_eq!(md.nlink(), 1, "sentinel was hardlinked");
}
