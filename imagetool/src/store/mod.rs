//! The image store: a standard OCI image layout (`oci-layout`, `index.json`,
//! `blobs/<alg>/<hex>`), readable by umoci and skopeo. Refs are
//! `org.opencontainers.image.ref.name` annotations on `index.json` entries.
//!
//! # Public API (used by `registry`, `unpack`, `bundle`)
//! - [`Store::open`]`(dir)` creates the layout if absent; [`Store::default_dir`]
//!   is `$OXIMG_STORE`, else `$XDG_DATA_HOME/oximg`, else `~/.local/share/oximg`
//!   (`/var/lib/oximg` when there is no home).
//! - [`Store::resolve`]`(ref)` → `(manifest descriptor, ImageManifest)`: matches the
//!   ref name as written (skopeo's `oci:dir:tag` names), then the normalised
//!   full reference (`docker.io/library/busybox:latest`, what `pull` stores),
//!   then a manifest digest. An index is resolved to this machine's platform;
//!   [`Store::resolve_for`] takes another platform.
//! - [`Store::blob_path`], [`Store::has_blob`], [`Store::open_blob`] (a
//!   [`VerifyingReader`]: digest and size checked at EOF), [`Store::read_json`]
//!   (4 MiB limit), [`Store::image_config`].
//! - Writing: [`Store::ingest`] (resumable, hash-while-writing, atomic commit),
//!   [`Store::put_bytes`], [`Store::set_ref`], [`Store::remove_ref`], [`Store::refs`].
//! - Upkeep: [`Store::gc`], [`Store::fsck`].
//!
//! # Consistency
//! Blobs are written to `.oximg/ingest/` and renamed into `blobs/` only after
//! their digest and size check out (temp + fsync + rename), so a blob path
//! that exists is always complete. `index.json` is rewritten the same way
//! (plus a fsync of the store directory) under an exclusive `flock` on
//! `.oximg/index.lock`; before that, the `blobs/<alg>` directories are
//! fsynced, which makes every blob name renamed so far durable before any
//! `index.json` that can refer to it (one directory fsync per pull rather
//! than one per blob). A pull holds a
//! shared lock on `.oximg/gc.lock` from its first blob to its `set_ref`, and
//! `gc` takes it exclusively, so gc never deletes blobs a pull is about to
//! reference. A killed pull leaves only a partial file in `ingest/`, which
//! the next pull resumes.

pub mod media;
pub mod platform;
pub mod verify;

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use oci_spec::image::{
    Descriptor, Digest, ImageConfiguration, ImageIndex, ImageIndexBuilder, ImageManifest,
    MediaType, OciLayout, ANNOTATION_REF_NAME,
};
use serde::de::DeserializeOwned;

pub use platform::PlatformSpec;
pub use verify::{Hasher, VerifyingReader};

use crate::reference::Reference;

/// Manifests, indexes and configs larger than this are refused (CVE-2023-25153).
pub const JSON_LIMIT: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    IoAt { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("{0}: not an OCI image layout ({1})")]
    NotLayout(PathBuf, String),
    #[error("unsupported digest algorithm {0}")]
    UnsupportedDigest(String),
    #[error("blob {digest}: size {found}, expected {expected}")]
    SizeMismatch {
        digest: String,
        expected: u64,
        found: u64,
    },
    #[error("digest mismatch: expected {expected}, got {found}")]
    DigestMismatch { expected: String, found: String },
    #[error("{what} is {size} bytes, over the {limit} byte limit")]
    TooLarge { what: String, size: u64, limit: u64 },
    #[error("blob {0} is not in the store")]
    MissingBlob(String),
    #[error("no image {0:?} in the store")]
    NotFound(String),
    #[error("image {reference:?} has no manifest for platform {platform}")]
    NoPlatform { reference: String, platform: String },
    #[error("bad platform {0:?}: expected os/arch[/variant]")]
    BadPlatform(String),
    #[error("Docker schema1 manifests are not supported (deprecated format); push the image again with a current client")]
    Schema1,
    #[error("unknown manifest media type {0:?}")]
    UnknownMediaType(String),
    #[error("media type confusion: {0}")]
    MediaTypeConfusion(String),
    #[error("bad manifest: {0}")]
    BadManifest(String),
    #[error("bad JSON in {what}: {source}")]
    Json {
        what: String,
        source: serde_json::Error,
    },
    #[error("nested indexes deeper than {0} levels")]
    TooDeep(usize),
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::IoAt {
        path: path.to_path_buf(),
        source,
    }
}

/// An open OCI image layout.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A held `flock`; released on drop.
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
}

/// A partial blob being written: resumable, hashed as written.
pub struct Ingest {
    store: Store,
    path: PathBuf,
    file: File,
    hasher: Hasher,
    written: u64,
    expected: Digest,
    size: u64,
}

/// What `gc` did.
#[derive(Debug, Default)]
pub struct GcReport {
    pub removed: Vec<String>,
    pub freed_bytes: u64,
}

/// A problem `fsck` found.
#[derive(Debug)]
pub struct FsckProblem {
    pub digest: String,
    pub problem: String,
}

impl Store {
    /// Open the layout at `dir`, creating it (and `dir`) if absent.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        fs::create_dir_all(dir).map_err(at(dir))?;
        let store = Store {
            root: dir.to_path_buf(),
        };
        let layout = dir.join("oci-layout");
        let index = dir.join("index.json");
        if !layout.exists() {
            // Refuse to turn an unrelated, non-empty directory into a store
            // (another oximg may be creating this one right now).
            let foreign = dir.read_dir().map_err(at(dir))?.flatten().any(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                // Ours: lock dir, temp files, what creation writes.
                !(n.starts_with('.') || n == "blobs" || n == "index.json")
            });
            if foreign {
                return Err(StoreError::NotLayout(
                    dir.into(),
                    "directory is not empty and has no oci-layout".into(),
                ));
            }
        }
        if !layout.exists() || !index.exists() || !dir.join("blobs").exists() {
            // Creation races with other oximg processes: do it under the lock.
            let _l = store.lock_index()?;
            // Made durable by the store directory fsync that ends
            // `write_index` (below, or at the first pull).
            if !layout.exists() {
                store.write_atomic(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#, false)?;
            }
            fs::create_dir_all(store.root.join("blobs/sha256")).map_err(at(dir))?;
            if !index.exists() {
                store.write_index(&empty_index())?;
            }
        }
        let b = fs::read(&layout).map_err(at(&layout))?;
        let l: OciLayout = serde_json::from_slice(&b)
            .map_err(|e| StoreError::NotLayout(dir.into(), e.to_string()))?;
        if !l.image_layout_version().starts_with("1.") {
            return Err(StoreError::NotLayout(
                dir.into(),
                format!("imageLayoutVersion {}", l.image_layout_version()),
            ));
        }
        Ok(store)
    }

    /// The per-user default store: `$XDG_DATA_HOME/oximg`, else
    /// `$HOME/.local/share/oximg`, else `/var/lib/oximg`.
    pub fn default_dir() -> PathBuf {
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
            return PathBuf::from(x).join("oximg");
        }
        if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            return PathBuf::from(h).join(".local/share/oximg");
        }
        PathBuf::from("/var/lib/oximg")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn ingest_dir(&self) -> PathBuf {
        self.root.join(".oximg/ingest")
    }

    /// `blobs/<alg>/<hex>`. The digest type guarantees the parts hold no `/`.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().as_ref())
            .join(digest.digest())
    }

    /// Is the blob present with the descriptor's size? (Presence implies
    /// verified content, since only verified blobs are renamed into place.)
    pub fn has_blob(&self, desc: &Descriptor) -> bool {
        fs::metadata(self.blob_path(desc.digest())).is_ok_and(|m| m.len() == desc.size())
    }

    /// A reader over a blob that fails unless digest and size match at EOF.
    pub fn open_blob(&self, desc: &Descriptor) -> Result<VerifyingReader<File>, StoreError> {
        let p = self.blob_path(desc.digest());
        let f = File::open(&p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                StoreError::MissingBlob(desc.digest().to_string())
            } else {
                at(&p)(e)
            }
        })?;
        VerifyingReader::new(f, desc.digest(), desc.size())
    }

    /// A whole small blob, verified, refusing anything over `limit`.
    pub fn read_bytes(&self, desc: &Descriptor, limit: u64) -> Result<Vec<u8>, StoreError> {
        if desc.size() > limit {
            return Err(StoreError::TooLarge {
                what: desc.digest().to_string(),
                size: desc.size(),
                limit,
            });
        }
        let mut out = Vec::with_capacity(desc.size() as usize);
        self.open_blob(desc)?
            .read_to_end(&mut out)
            .map_err(verify::unwrap_io)?;
        Ok(out)
    }

    /// A JSON blob (manifest, index, config), verified, at most 4 MiB.
    pub fn read_json<T: DeserializeOwned>(&self, desc: &Descriptor) -> Result<T, StoreError> {
        let b = self.read_bytes(desc, JSON_LIMIT)?;
        serde_json::from_slice(&b).map_err(|source| StoreError::Json {
            what: desc.digest().to_string(),
            source,
        })
    }

    /// The image configuration a manifest points at.
    pub fn image_config(&self, manifest: &ImageManifest) -> Result<ImageConfiguration, StoreError> {
        self.read_json(manifest.config())
    }

    /// The parsed `index.json`.
    pub fn index(&self) -> Result<ImageIndex, StoreError> {
        let p = self.root.join("index.json");
        let b = fs::read(&p).map_err(at(&p))?;
        if b.len() as u64 > JSON_LIMIT {
            return Err(StoreError::TooLarge {
                what: "index.json".into(),
                size: b.len() as u64,
                limit: JSON_LIMIT,
            });
        }
        serde_json::from_slice(&b).map_err(|source| StoreError::Json {
            what: "index.json".into(),
            source,
        })
    }

    /// `(ref name, descriptor)` for every named entry of `index.json`.
    pub fn refs(&self) -> Result<Vec<(String, Descriptor)>, StoreError> {
        Ok(self
            .index()?
            .manifests()
            .iter()
            .filter_map(|d| ref_name(d).map(|n| (n.to_string(), d.clone())))
            .collect())
    }

    /// The `index.json` entry a user's reference names (see module docs).
    pub fn lookup(&self, reference: &str) -> Result<Descriptor, StoreError> {
        let refs = self.refs()?;
        if let Some((_, d)) = refs.iter().find(|(n, _)| n == reference) {
            return Ok(d.clone());
        }
        if let Ok(r) = Reference::parse(reference) {
            let full = r.to_string();
            if let Some((_, d)) = refs.iter().find(|(n, _)| *n == full) {
                return Ok(d.clone());
            }
            if let Some(dg) = r.digest() {
                let by_digest = self
                    .index()?
                    .manifests()
                    .iter()
                    .find(|d| d.digest() == dg)
                    .cloned();
                if let Some(d) = by_digest {
                    return Ok(d);
                }
            }
        }
        let want = reference.strip_prefix("@").unwrap_or(reference);
        if let Ok(dg) = want.parse::<Digest>() {
            if let Some(d) = self.index()?.manifests().iter().find(|d| *d.digest() == dg) {
                return Ok(d.clone());
            }
        }
        Err(StoreError::NotFound(reference.to_string()))
    }

    /// Resolve a reference to this machine's image manifest.
    pub fn resolve(&self, reference: &str) -> Result<(Descriptor, ImageManifest), StoreError> {
        self.resolve_for(reference, &PlatformSpec::host())
    }

    /// Resolve a reference to the image manifest for `platform`.
    pub fn resolve_for(
        &self,
        reference: &str,
        platform: &PlatformSpec,
    ) -> Result<(Descriptor, ImageManifest), StoreError> {
        let mut desc = self.lookup(reference)?;
        for _ in 0..4 {
            let bytes = self.read_bytes(&desc, JSON_LIMIT)?;
            let (kind, _) = media::classify(Some(desc.media_type().as_ref()), &bytes)?;
            match kind {
                media::Kind::Manifest => {
                    let m: ImageManifest = parse_json(&desc, &bytes)?;
                    return Ok((desc, m));
                }
                media::Kind::Index => {
                    let idx: ImageIndex = parse_json(&desc, &bytes)?;
                    desc = platform.choose(idx.manifests()).cloned().ok_or_else(|| {
                        StoreError::NoPlatform {
                            reference: reference.to_string(),
                            platform: platform.to_string(),
                        }
                    })?;
                }
            }
        }
        Err(StoreError::TooDeep(4))
    }

    fn lock(&self, name: &str, exclusive: bool) -> Result<LockGuard, StoreError> {
        let dir = self.root.join(".oximg");
        fs::create_dir_all(&dir).map_err(at(&dir))?;
        let p = dir.join(name);
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(at(&p))?;
        let op = if exclusive {
            rustix::fs::FlockOperation::LockExclusive
        } else {
            rustix::fs::FlockOperation::LockShared
        };
        rustix::fs::flock(f.as_fd(), op).map_err(|e| at(&p)(e.into()))?;
        Ok(LockGuard { _file: f })
    }

    fn lock_index(&self) -> Result<LockGuard, StoreError> {
        self.lock("index.lock", true)
    }

    /// Held by a pull while it writes blobs it has not yet referenced, so
    /// that a concurrent `gc` does not delete them.
    pub fn pin(&self) -> Result<LockGuard, StoreError> {
        self.lock("gc.lock", false)
    }

    /// Write `bytes` to `path` atomically: temp file, fsync, rename, and with
    /// `sync_dir` a fsync of the directory (blobs leave that to
    /// [`Self::write_index`]).
    fn write_atomic(&self, path: &Path, bytes: &[u8], sync_dir: bool) -> Result<(), StoreError> {
        let dir = path.parent().unwrap_or(&self.root);
        let tmp = dir.join(format!(
            ".{}.tmp-{}-{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("x"),
            std::process::id(),
            unique()
        ));
        let res = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, path)?;
            if sync_dir {
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        if res.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        res.map_err(at(path))
    }

    fn write_index(&self, idx: &ImageIndex) -> Result<(), StoreError> {
        let b = serde_json::to_vec(idx).map_err(|source| StoreError::Json {
            what: "index.json".into(),
            source,
        })?;
        self.sync_blob_dirs()?;
        self.write_atomic(&self.root.join("index.json"), &b, true)
    }

    /// fsync each `blobs/<alg>` directory: the blob renames done so far
    /// become durable before an `index.json` naming them does.
    fn sync_blob_dirs(&self) -> Result<(), StoreError> {
        let blobs = self.root.join("blobs");
        let entries = match fs::read_dir(&blobs) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(at(&blobs)(e)),
        };
        for e in entries {
            let p = e.map_err(at(&blobs))?.path();
            if p.is_dir() {
                File::open(&p).and_then(|d| d.sync_all()).map_err(at(&p))?;
            }
        }
        Ok(())
    }

    /// Edit `index.json` under the index lock.
    fn update_index<T>(&self, f: impl FnOnce(&mut Vec<Descriptor>) -> T) -> Result<T, StoreError> {
        let _l = self.lock_index()?;
        let mut idx = self.index()?;
        let mut list = idx.manifests().clone();
        let out = f(&mut list);
        idx.set_manifests(list);
        self.write_index(&idx)?;
        Ok(out)
    }

    /// Point ref `name` at `desc` (replacing any entry with that name).
    pub fn set_ref(&self, name: &str, desc: &Descriptor) -> Result<(), StoreError> {
        let mut d = desc.clone();
        let mut ann = d.annotations().clone().unwrap_or_default();
        ann.insert(ANNOTATION_REF_NAME.to_string(), name.to_string());
        d.set_annotations(Some(ann));
        self.update_index(|list| {
            list.retain(|e| ref_name(e) != Some(name));
            list.push(d);
        })
    }

    /// Remove ref `name`; returns the entry it pointed at.
    pub fn remove_ref(&self, name: &str) -> Result<Option<Descriptor>, StoreError> {
        self.update_index(|list| {
            let pos = list.iter().position(|e| ref_name(e) == Some(name))?;
            Some(list.remove(pos))
        })
    }

    /// Store a small blob held in memory (manifests, configs), verifying it
    /// against `expected` when given. Returns its digest.
    pub fn put_bytes(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Digest, StoreError> {
        let digest = match expected {
            Some(e) => {
                let found = verify::digest_of(e.algorithm(), bytes)?;
                if found != *e {
                    return Err(StoreError::DigestMismatch {
                        expected: e.to_string(),
                        found: found.to_string(),
                    });
                }
                found
            }
            None => verify::sha256_of(bytes),
        };
        let p = self.blob_path(&digest);
        if fs::metadata(&p).is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(digest);
        }
        fs::create_dir_all(p.parent().expect("blob has a parent")).map_err(at(&p))?;
        self.write_atomic(&p, bytes, false)?;
        Ok(digest)
    }

    /// Start (or resume) writing the blob `expected` of `size` bytes. The
    /// partial file is locked, so two pulls of one blob take turns; the
    /// second finds the blob committed and returns `None`.
    pub fn ingest(&self, expected: &Digest, size: u64) -> Result<Option<Ingest>, StoreError> {
        let hasher = Hasher::new(expected.algorithm())?;
        let dir = self.ingest_dir();
        fs::create_dir_all(&dir).map_err(at(&dir))?;
        let path = dir.join(format!("{}-{}", expected.algorithm(), expected.digest()));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(at(&path))?;
        rustix::fs::flock(file.as_fd(), rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| at(&path)(e.into()))?;
        let d = Descriptor::new(MediaType::Other(String::new()), size, expected.clone());
        if self.has_blob(&d) {
            // Someone committed it while we waited; whatever is at the
            // partial's path now is garbage (a waiter that holds it will
            // find the blob too).
            let _ = fs::remove_file(&path);
            return Ok(None);
        }
        // Resume: re-hash what an earlier attempt left (only after a crash).
        let mut ing = Ingest {
            store: self.clone(),
            path,
            file: file.try_clone().map_err(at(&dir))?,
            hasher,
            written: 0,
            expected: expected.clone(),
            size,
        };
        let have = file.metadata().map_err(at(&ing.path))?.len();
        if have > size {
            file.set_len(0).map_err(at(&ing.path))?;
        } else if have > 0 {
            let mut buf = vec![0u8; 1 << 16];
            file.seek(SeekFrom::Start(0)).map_err(at(&ing.path))?;
            loop {
                let n = file.read(&mut buf).map_err(at(&ing.path))?;
                if n == 0 {
                    break;
                }
                ing.hasher.update(&buf[..n]);
                ing.written += n as u64;
            }
        }
        ing.file.seek(SeekFrom::End(0)).map_err(at(&ing.path))?;
        Ok(Some(ing))
    }

    /// Collect every blob not reachable from `index.json`, and stale partials.
    pub fn gc(&self) -> Result<GcReport, StoreError> {
        let _g = self.lock("gc.lock", true)?;
        let _i = self.lock_index()?;
        let live = self.reachable()?;
        let mut report = GcReport::default();
        for (digest, path) in self.all_blobs()? {
            if !live.contains(&digest) {
                let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                fs::remove_file(&path).map_err(at(&path))?;
                report.removed.push(digest);
                report.freed_bytes += len;
            }
        }
        // No pull holds gc.lock now, so no partial or temp file is in use.
        if let Ok(rd) = fs::read_dir(self.ingest_dir()) {
            for e in rd.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
        for alg in fs::read_dir(self.root.join("blobs"))?.flatten() {
            for f in fs::read_dir(alg.path()).into_iter().flatten().flatten() {
                if f.file_name().to_string_lossy().starts_with('.') {
                    let _ = fs::remove_file(f.path());
                }
            }
        }
        Ok(report)
    }

    /// Digests of every blob reachable from `index.json`.
    pub fn reachable(&self) -> Result<BTreeSet<String>, StoreError> {
        let mut live = BTreeSet::new();
        let mut todo: Vec<Descriptor> = self.index()?.manifests().clone();
        while let Some(d) = todo.pop() {
            if !live.insert(d.digest().to_string()) {
                continue;
            }
            let Ok(bytes) = self.read_bytes(&d, JSON_LIMIT) else {
                continue; // absent or not JSON-sized: a leaf (or a broken ref fsck reports)
            };
            match media::classify(Some(d.media_type().as_ref()), &bytes) {
                Ok((media::Kind::Index, _)) => {
                    if let Ok(i) = parse_json::<ImageIndex>(&d, &bytes) {
                        todo.extend(i.manifests().iter().cloned());
                    }
                }
                Ok((media::Kind::Manifest, _)) => {
                    if let Ok(m) = parse_json::<ImageManifest>(&d, &bytes) {
                        todo.push(m.config().clone());
                        todo.extend(m.layers().iter().cloned());
                        if let Some(s) = m.subject() {
                            todo.push(s.clone());
                        }
                    }
                }
                Err(_) => {}
            }
        }
        Ok(live)
    }

    /// `(digest string, path)` of every file under `blobs/`.
    pub fn all_blobs(&self) -> Result<Vec<(String, PathBuf)>, StoreError> {
        let mut out = Vec::new();
        let blobs = self.root.join("blobs");
        for alg in fs::read_dir(&blobs).map_err(at(&blobs))? {
            let alg = alg?;
            if !alg.file_type()?.is_dir() {
                continue;
            }
            let a = alg.file_name().to_string_lossy().into_owned();
            for f in fs::read_dir(alg.path())? {
                let f = f?;
                if f.file_name().to_string_lossy().starts_with('.') {
                    continue; // a put_bytes temp file, renamed into place soon
                }
                out.push((format!("{a}:{}", f.file_name().to_string_lossy()), f.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Re-hash every blob and check every reachable blob is present.
    pub fn fsck(&self) -> Result<Vec<FsckProblem>, StoreError> {
        let mut problems = Vec::new();
        let mut present = HashMap::new();
        for (name, path) in self.all_blobs()? {
            let Ok(d) = name.parse::<Digest>() else {
                problems.push(FsckProblem {
                    digest: name,
                    problem: "not a digest name".into(),
                });
                continue;
            };
            let len = fs::metadata(&path).map_err(at(&path))?.len();
            present.insert(name.clone(), len);
            let desc = Descriptor::new(MediaType::Other(String::new()), len, d);
            let res = self
                .open_blob(&desc)
                .and_then(|mut r| io::copy(&mut r, &mut io::sink()).map_err(verify::unwrap_io));
            if let Err(e) = res {
                problems.push(FsckProblem {
                    digest: name,
                    problem: e.to_string(),
                });
            }
        }
        for d in self.reachable()? {
            if !present.contains_key(&d) {
                problems.push(FsckProblem {
                    digest: d,
                    problem: "referenced but missing".into(),
                });
            }
        }
        Ok(problems)
    }
}

impl Ingest {
    /// Bytes already in the partial file (the offset to resume from).
    pub fn offset(&self) -> u64 {
        self.written
    }

    /// The blob's declared size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Throw away what was written (e.g. the server ignored our Range).
    pub fn reset(&mut self) -> Result<(), StoreError> {
        self.file.set_len(0).map_err(at(&self.path))?;
        self.file.seek(SeekFrom::Start(0)).map_err(at(&self.path))?;
        self.hasher = Hasher::new(self.expected.algorithm())?;
        self.written = 0;
        Ok(())
    }

    /// Append bytes; fails as soon as more than the declared size arrive.
    pub fn write_chunk(&mut self, buf: &[u8]) -> Result<(), StoreError> {
        if self.written + buf.len() as u64 > self.size {
            let found = self.written + buf.len() as u64;
            let _ = self.reset();
            return Err(StoreError::SizeMismatch {
                digest: self.expected.to_string(),
                expected: self.size,
                found,
            });
        }
        self.file.write_all(buf).map_err(at(&self.path))?;
        self.hasher.update(buf);
        self.written += buf.len() as u64;
        Ok(())
    }

    /// Check size and digest, then move the blob into `blobs/`. On a
    /// mismatch the partial is deleted and nothing enters the store.
    pub fn commit(self) -> Result<(), StoreError> {
        let fail = |e: StoreError| {
            let _ = fs::remove_file(&self.path);
            Err(e)
        };
        if self.written != self.size {
            return fail(StoreError::SizeMismatch {
                digest: self.expected.to_string(),
                expected: self.size,
                found: self.written,
            });
        }
        let found = self.hasher.clone().finish();
        if found != self.expected {
            return fail(StoreError::DigestMismatch {
                expected: self.expected.to_string(),
                found: found.to_string(),
            });
        }
        self.file.sync_all().map_err(at(&self.path))?;
        let dest = self.store.blob_path(&self.expected);
        let dir = dest.parent().expect("blob has a parent");
        fs::create_dir_all(dir).map_err(at(dir))?;
        // The new name is made durable by the next `index.json` write (the
        // first thing that can refer to it), which fsyncs `blobs/<alg>`.
        fs::rename(&self.path, &dest).map_err(at(&dest))?;
        Ok(())
    }
}

/// The ref name annotation of an `index.json` entry.
pub fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations()
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_REF_NAME))
        .map(String::as_str)
}

fn parse_json<T: DeserializeOwned>(d: &Descriptor, b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|source| StoreError::Json {
        what: d.digest().to_string(),
        source,
    })
}

fn empty_index() -> ImageIndex {
    ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(Vec::<Descriptor>::new())
        .build()
        .expect("static index is valid")
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    (N.fetch_add(1, Ordering::Relaxed) << 32) ^ t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "oximg-store-ut-{}-{}",
            std::process::id(),
            unique()
        ));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn open_creates_layout_and_reopens() {
        let d = tmp();
        let s = Store::open(&d).unwrap();
        assert!(d.join("oci-layout").exists());
        assert!(s.index().unwrap().manifests().is_empty());
        Store::open(&d).unwrap();
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn ingest_resume_and_commit() {
        let d = tmp();
        let s = Store::open(&d).unwrap();
        let data = b"0123456789".repeat(1000);
        let dg = verify::sha256_of(&data);
        let mut i = s.ingest(&dg, data.len() as u64).unwrap().unwrap();
        i.write_chunk(&data[..3000]).unwrap();
        drop(i); // a "killed" pull
        let mut i = s.ingest(&dg, data.len() as u64).unwrap().unwrap();
        assert_eq!(i.offset(), 3000);
        i.write_chunk(&data[3000..]).unwrap();
        i.commit().unwrap();
        let desc = Descriptor::new(MediaType::ImageLayer, data.len() as u64, dg.clone());
        assert!(s.has_blob(&desc));
        assert!(s.ingest(&dg, data.len() as u64).unwrap().is_none());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn bad_ingest_never_enters_store() {
        let d = tmp();
        let s = Store::open(&d).unwrap();
        let dg = verify::sha256_of(b"good");
        let mut i = s.ingest(&dg, 4).unwrap().unwrap();
        i.write_chunk(b"evil").unwrap();
        assert!(matches!(i.commit(), Err(StoreError::DigestMismatch { .. })));
        assert!(!s.blob_path(&dg).exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn refs_set_replace_remove() {
        let d = tmp();
        let s = Store::open(&d).unwrap();
        let m = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
        let dg = s.put_bytes(m, None).unwrap();
        s.put_bytes(b"{}", None).unwrap();
        let desc = Descriptor::new(MediaType::ImageManifest, m.len() as u64, dg);
        s.set_ref("example.com/a:1", &desc).unwrap();
        s.set_ref("example.com/a:1", &desc).unwrap();
        assert_eq!(s.refs().unwrap().len(), 1);
        let (_, man) = s.resolve("example.com/a:1").unwrap();
        assert!(man.layers().is_empty());
        assert!(s.remove_ref("example.com/a:1").unwrap().is_some());
        assert!(matches!(
            s.resolve("example.com/a:1"),
            Err(StoreError::NotFound(_))
        ));
        let r = s.gc().unwrap();
        assert_eq!(r.removed.len(), 2);
        fs::remove_dir_all(&d).unwrap();
    }
}
