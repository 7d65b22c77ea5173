//! Pulling from OCI/Docker registries into the [`Store`].
//!
//! Public API: [`pull`]`(reference, &Store, &PullOptions) -> Descriptor` (the
//! descriptor the stored ref names: a manifest, or an index with
//! `all_platforms`), [`Client`] for remote `inspect`, [`auth`] for
//! credentials and `login`/`logout`.
//!
//! Order of writes: blobs, then manifests, then the index, then the ref, so
//! `index.json` never names anything absent, whatever point a pull dies at.

pub mod auth;
pub mod client;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};

pub use auth::Credentials;
pub use client::{Client, ClientOptions, FetchedManifest};

use crate::progress::Progress;
use crate::reference::{Reference, ReferenceError};
use crate::store::{media, PlatformSpec, Store, StoreError, JSON_LIMIT};

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Platform to pick from an index (default: this machine).
    pub platform: Option<PlatformSpec>,
    /// Keep the whole index and every platform's image.
    pub all_platforms: bool,
    /// No progress output.
    pub quiet: bool,
    /// Blobs downloaded at once.
    pub jobs: usize,
    pub client: ClientOptions,
    /// `--authfile` (else the usual search path) when `client.credentials` is unset.
    pub authfile: Option<PathBuf>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: None,
            all_platforms: false,
            quiet: true,
            jobs: 4,
            client: ClientOptions::default(),
            authfile: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    // With its causes: reqwest's own message omits e.g. the TLS reason.
    #[error("{url}: {}", crate::error_chain(source))]
    Http { url: String, source: reqwest::Error },
    #[error("{0}: transfer failed: {1}")]
    Transfer(String, std::io::Error),
    #[error("{url}: HTTP {status} {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("registry protocol: {0}")]
    Protocol(String),
    #[error("credentials: {0}")]
    BadCredentials(String),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// Connect to the registry of `r` with credentials from the options or the
/// auth files.
pub fn connect(r: &Reference, opts: &PullOptions) -> Result<Client, RegistryError> {
    let mut co = opts.client.clone();
    co.credentials = auth::find_credentials(
        co.credentials.as_ref(),
        opts.authfile.as_deref(),
        r.registry(),
        r.repository(),
    )?;
    Client::connect(r, &co)
}

/// Pull `reference` into `store` and point the ref (its normalised full
/// form, e.g. `docker.io/library/busybox:latest`) at it. Returns that
/// descriptor: the platform's manifest, or the index with `all_platforms`.
pub fn pull(
    reference: &str,
    store: &Store,
    opts: &PullOptions,
) -> Result<Descriptor, RegistryError> {
    let r = Reference::parse(reference)?;
    if let Some(d) = stored_by_digest(&r, store)? {
        store.set_ref(&r.to_string(), &d)?;
        return Ok(d);
    }
    let client = connect(&r, opts)?;
    let progress = Progress::new(opts.quiet);
    // Blobs we write stay safe from a concurrent gc until the ref exists.
    let _pin = store.pin()?;
    let top = client.manifest(&r.manifest_ref(), None)?;
    if let Some(d) = r.digest() {
        if *d != top.digest {
            return Err(StoreError::DigestMismatch {
                expected: d.to_string(),
                found: top.digest.to_string(),
            }
            .into());
        }
    }
    let top_desc = Descriptor::new(
        MediaType::from(top.media_type.as_str()),
        top.bytes.len() as u64,
        top.digest.clone(),
    );
    let named = match top.kind {
        media::Kind::Manifest => {
            if let Some(want) = &opts.platform {
                check_platform(&client, store, &top, want)?;
            }
            fetch_image(&client, store, &top, opts, &progress)?;
            top_desc
        }
        media::Kind::Index => {
            let idx: ImageIndex = parse(&top)?;
            if opts.all_platforms {
                for d in idx.manifests() {
                    let m = client.manifest(d.digest().as_ref(), Some(d))?;
                    match m.kind {
                        media::Kind::Manifest => fetch_image(&client, store, &m, opts, &progress)?,
                        media::Kind::Index => {
                            return Err(RegistryError::Protocol(
                                "nested index in an index is not supported".into(),
                            ))
                        }
                    }
                }
                store.put_bytes(&top.bytes, Some(&top.digest))?;
                top_desc
            } else {
                let want = opts.platform.clone().unwrap_or_else(PlatformSpec::host);
                let d = want
                    .choose(idx.manifests())
                    .ok_or_else(|| StoreError::NoPlatform {
                        reference: r.to_string(),
                        platform: want.to_string(),
                    })?;
                let m = client.manifest(d.digest().as_ref(), Some(d))?;
                if m.kind != media::Kind::Manifest {
                    return Err(RegistryError::Protocol(
                        "nested index in an index is not supported".into(),
                    ));
                }
                fetch_image(&client, store, &m, opts, &progress)?;
                let mut nd = Descriptor::new(
                    MediaType::from(m.media_type.as_str()),
                    m.bytes.len() as u64,
                    m.digest.clone(),
                );
                nd.set_platform(d.platform().clone());
                nd
            }
        }
    };
    store.set_ref(&r.to_string(), &named)?;
    progress.finish();
    Ok(named)
}

/// An explicit `--platform` against a single-platform image: its config must
/// say that platform (the image is not pulled otherwise).
fn check_platform(
    client: &Client,
    store: &Store,
    m: &FetchedManifest,
    want: &PlatformSpec,
) -> Result<(), RegistryError> {
    let man: ImageManifest = parse(m)?;
    let bytes = client.blob_bytes(man.config())?;
    // Verified already; keep it so the pull does not fetch it again.
    store.put_bytes(&bytes, Some(man.config().digest()))?;
    let cfg: oci_spec::image::ImageConfiguration =
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Json {
            what: man.config().digest().to_string(),
            source,
        })?;
    let mut p = oci_spec::image::Platform::default();
    p.set_os(cfg.os().clone());
    p.set_architecture(cfg.architecture().clone());
    p.set_variant(cfg.variant().clone());
    if want.matches(&p) {
        Ok(())
    } else {
        Err(StoreError::NoPlatform {
            reference: format!("{} (a {}/{} image)", m.digest, cfg.os(), cfg.architecture()),
            platform: want.to_string(),
        }
        .into())
    }
}

/// A digest reference whose image is already complete in the store needs
/// no network at all (content is pinned by the digest).
fn stored_by_digest(r: &Reference, store: &Store) -> Result<Option<Descriptor>, RegistryError> {
    let Some(dg) = r.digest() else {
        return Ok(None);
    };
    let Ok(meta) = std::fs::metadata(store.blob_path(dg)) else {
        return Ok(None);
    };
    let probe = Descriptor::new(MediaType::Other(String::new()), meta.len(), dg.clone());
    let bytes = store.read_bytes(&probe, JSON_LIMIT)?;
    let (kind, mt) = media::classify(None, &bytes)?;
    let complete = |m: &ImageManifest| {
        std::iter::once(m.config())
            .chain(m.layers().iter())
            .all(|d| store.has_blob(d))
    };
    let desc = Descriptor::new(MediaType::from(mt.as_str()), meta.len(), dg.clone());
    match kind {
        media::Kind::Manifest => {
            let m: ImageManifest =
                serde_json::from_slice(&bytes).map_err(|source| StoreError::Json {
                    what: dg.to_string(),
                    source,
                })?;
            Ok(complete(&m).then_some(desc))
        }
        // An index may be stored with only some platforms: ask the registry.
        media::Kind::Index => Ok(None),
    }
}

fn parse<T: serde::de::DeserializeOwned>(m: &FetchedManifest) -> Result<T, RegistryError> {
    serde_json::from_slice(&m.bytes).map_err(|source| {
        StoreError::Json {
            what: m.digest.to_string(),
            source,
        }
        .into()
    })
}

/// Fetch the config and layers of one image manifest (in parallel, bounded,
/// skipping blobs already stored), then store the manifest itself.
fn fetch_image(
    client: &Client,
    store: &Store,
    m: &FetchedManifest,
    opts: &PullOptions,
    progress: &Progress,
) -> Result<(), RegistryError> {
    let man: ImageManifest = parse(m)?;
    let cfg = man.config();
    if cfg.size() > JSON_LIMIT {
        return Err(StoreError::TooLarge {
            what: format!("config {}", cfg.digest()),
            size: cfg.size(),
            limit: JSON_LIMIT,
        }
        .into());
    }
    // Dedupe by digest: a layer listed twice is fetched once.
    let mut want: BTreeMap<String, Descriptor> = BTreeMap::new();
    for d in std::iter::once(cfg).chain(man.layers().iter()) {
        if !store.has_blob(d) {
            want.entry(d.digest().to_string())
                .or_insert_with(|| d.clone());
        }
    }
    let queue = Mutex::new(want.into_values().collect::<Vec<_>>());
    let first_err: Mutex<Option<RegistryError>> = Mutex::new(None);
    let workers = opts.jobs.max(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if first_err.lock().expect("lock").is_some() {
                    return;
                }
                let Some(d) = queue.lock().expect("lock").pop() else {
                    return;
                };
                let bar = progress.blob(d.digest().as_ref(), d.size());
                if let Err(e) = client.fetch_blob(store, &d, &bar) {
                    first_err.lock().expect("lock").get_or_insert(e);
                    return;
                }
            });
        }
    });
    if let Some(e) = first_err.into_inner().expect("lock") {
        return Err(e);
    }
    store.put_bytes(&m.bytes, Some(&m.digest))?;
    Ok(())
}
