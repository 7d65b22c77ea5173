//! Image config → OCI runtime bundle (image-spec `conversion.md`).
//!
//! [`runtime_spec`] maps the image configuration onto a `runc spec`-like
//! default; [`make_bundle`] unpacks an image from the store and writes
//! `config.json` beside `rootfs/`, publishing the bundle directory only when
//! both are complete.

pub mod user;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oci_spec::image::{ImageConfiguration, ImageManifest};
use oci_spec::runtime::{
    LinuxIdMappingBuilder, LinuxNamespace, LinuxNamespaceType, Spec, UserBuilder,
};

use crate::store::Store;
use crate::unpack::paths::RelPath;
use crate::unpack::{self, cache, IdMap, Root, UnpackError, UnpackOptions};

pub use user::{ExecUser, UserError};

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("image config")]
    User(#[from] UserError),
    #[error("image has neither Entrypoint nor Cmd: nothing to run")]
    NoCommand,
    #[error("image config Volumes entry {0:?}: {1}")]
    Volume(String, &'static str),
    #[error("building config.json")]
    Spec(#[from] oci_spec::OciSpecError),
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error("image store")]
    Store(#[from] crate::store::StoreError),
    #[error("image has {layers} layers but its config lists {diff_ids} diff_ids")]
    LayerCount { layers: usize, diff_ids: usize },
    #[error("overlay mount for a cached bundle")]
    Overlay(#[source] std::io::Error),
    #[error("{op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How to build a bundle.
#[derive(Debug, Clone, Default)]
pub struct BundleOptions {
    pub unpack: UnpackOptions,
    /// Build `rootfs` as an overlay of layer trees cached in the store (fast
    /// second bundle) when possible; else, or when the mount fails, a copy.
    pub cached: bool,
}

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Normalise a `Volumes` key as a path inside the container: absolute,
/// `..` clamped at `/` (as it would resolve inside the root), and not `/`
/// itself. Never used to touch the host.
pub fn normalise_volume(v: &str) -> Result<String, BundleError> {
    if v.contains('\0') {
        return Err(BundleError::Volume(v.into(), "contains NUL"));
    }
    let p = RelPath::default().resolve_lexically(v.as_bytes());
    if p.is_root() {
        return Err(BundleError::Volume(
            v.into(),
            "resolves to the root directory",
        ));
    }
    // Whole UTF-8 components of `v`: nothing lossy.
    Ok(p.display())
}

/// The runtime spec for an image, per `conversion.md`. `rootfs` is read for
/// `/etc/passwd` and `/etc/group` only.
pub fn runtime_spec(
    image: &ImageConfiguration,
    rootfs: &Path,
    opts: &BundleOptions,
) -> Result<Spec, BundleError> {
    let root = Root::open(rootfs).map_err(|source| BundleError::Io {
        op: "open rootfs",
        path: rootfs.to_path_buf(),
        source,
    })?;
    let cfg = image.config().clone().unwrap_or_default();

    let mut spec = if opts.unpack.rootless {
        // Rootless: a user namespace mapping the caller to root, no network
        // namespace to configure, rootless mounts.
        Spec::rootless(
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        )
    } else {
        Spec::default()
    };
    spec.set_hostname(Some("oximg".into()));

    // Process: args, env, cwd, user.
    let mut args: Vec<String> = cfg.entrypoint().clone().unwrap_or_default();
    args.extend(cfg.cmd().clone().unwrap_or_default());
    if args.is_empty() {
        return Err(BundleError::NoCommand);
    }
    let mut env: Vec<String> = cfg.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.into());
    }
    let user_str = cfg.user().clone().unwrap_or_default();
    let u = user::resolve(&root, &user_str)?;
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", u.home));
    }
    if !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let cwd = match cfg.working_dir().as_deref() {
        None | Some("") => "/".to_string(),
        Some(w) if w.starts_with('/') => w.to_string(),
        Some(w) => format!("/{w}"),
    };
    let mut user_b = UserBuilder::default().uid(u.uid).gid(u.gid);
    if !u.additional_gids.is_empty() {
        user_b = user_b.additional_gids(u.additional_gids.clone());
    }
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_args(Some(args));
    process.set_env(Some(env));
    process.set_cwd(cwd.into());
    process.set_user(user_b.build()?);
    process.set_terminal(Some(false));
    // `runc spec`'s capabilities: no inheritable or ambient set, so exec'd
    // file-capability binaries gain nothing (CVE-2022-29162).
    if let Some(mut caps) = process.capabilities().clone() {
        caps.set_inheritable(None);
        caps.set_ambient(None);
        process.set_capabilities(Some(caps));
    }
    spec.set_process(Some(process));

    // Annotations (conversion.md "Annotation Fields"), labels included.
    let mut ann: HashMap<String, String> = HashMap::new();
    if let Some(labels) = cfg.labels() {
        ann.extend(labels.clone());
    }
    ann.insert("org.opencontainers.image.os".into(), image.os().to_string());
    ann.insert(
        "org.opencontainers.image.architecture".into(),
        image.architecture().to_string(),
    );
    if let Some(a) = image.author() {
        ann.insert("org.opencontainers.image.author".into(), a.clone());
    }
    if let Some(c) = image.created() {
        ann.insert("org.opencontainers.image.created".into(), c.clone());
    }
    if let Some(s) = cfg.stop_signal() {
        ann.insert("org.opencontainers.image.stopSignal".into(), s.clone());
    }
    if let Some(p) = cfg.exposed_ports() {
        let mut p = p.clone();
        p.sort();
        ann.insert("org.opencontainers.image.exposedPorts".into(), p.join(","));
    }
    if let Some(v) = cfg.volumes() {
        // Noted, not mounted: a bind would need a host source, and an
        // image must never choose one.
        let mut vs = v
            .iter()
            .map(|x| normalise_volume(x))
            .collect::<Result<Vec<_>, _>>()?;
        vs.sort();
        vs.dedup();
        ann.insert("org.oximg.image.volumes".into(), vs.join(","));
    }
    spec.set_annotations(Some(ann));

    // --uid-map/--gid-map: run in a user namespace with those maps.
    if !opts.unpack.rootless && (!opts.unpack.uid_map.is_empty() || !opts.unpack.gid_map.is_empty())
    {
        let map = |m: &[IdMap]| -> Result<Vec<_>, BundleError> {
            m.iter()
                .map(|m| {
                    Ok(LinuxIdMappingBuilder::default()
                        .container_id(m.container)
                        .host_id(m.host)
                        .size(m.size)
                        .build()?)
                })
                .collect()
        };
        let mut linux = spec.linux().clone().unwrap_or_default();
        let mut ns = linux.namespaces().clone().unwrap_or_default();
        if !ns.iter().any(|n| n.typ() == LinuxNamespaceType::User) {
            let mut n = LinuxNamespace::default();
            n.set_typ(LinuxNamespaceType::User);
            ns.push(n);
        }
        linux.set_namespaces(Some(ns));
        linux.set_uid_mappings(Some(map(&opts.unpack.uid_map)?));
        linux.set_gid_mappings(Some(map(&opts.unpack.gid_map)?));
        spec.set_linux(Some(linux));
    }
    Ok(spec)
}

/// Open every layer blob of `manifest` for [`unpack::unpack_rootfs`], checked
/// against the descriptor (digest, size) and the config's `diff_ids`.
pub fn image_layers(
    store: &Store,
    manifest: &ImageManifest,
    config: &ImageConfiguration,
) -> Result<Vec<unpack::Layer<std::fs::File>>, BundleError> {
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        return Err(BundleError::LayerCount {
            layers: manifest.layers().len(),
            diff_ids: diff_ids.len(),
        });
    }
    let mut out = Vec::new();
    for (desc, diff_id) in manifest.layers().iter().zip(diff_ids) {
        let path = store.blob_path(desc.digest());
        // Our own stream hashes the blob once (digest + size + diff_id), so
        // the plain file is opened rather than the store's verifying reader.
        let f = std::fs::File::open(&path).map_err(|source| BundleError::Io {
            op: "open layer blob",
            path: path.clone(),
            source,
        })?;
        let diff_id = diff_id.parse().map_err(|_| BundleError::Io {
            op: "parse diff_id",
            path: path.clone(),
            source: std::io::Error::other(format!("bad diff_id {diff_id:?}")),
        })?;
        out.push(unpack::Layer {
            reader: f,
            media_type: desc.media_type().clone(),
            expect: unpack::Expect {
                digest: Some(desc.digest().clone()),
                size: Some(desc.size()),
                diff_id: Some(diff_id),
            },
        });
    }
    Ok(out)
}

/// Unpack `reference` from `store` into `dir/rootfs` and write
/// `dir/config.json`. `dir` appears (atomically renamed from a hidden
/// sibling) only once both are complete; on error nothing is left.
pub fn make_bundle(
    store: &Store,
    reference: &str,
    dir: &Path,
    opts: &BundleOptions,
) -> Result<Spec, BundleError> {
    let (_desc, manifest) = store.resolve(reference)?;
    let config = store.image_config(&manifest)?;
    if opts.cached && cache_usable(&opts.unpack) {
        match make_bundle_cached(store, &manifest, &config, dir, opts) {
            // The filesystem cannot do it (no overlay, nested overlay...):
            // a full copy still works.
            Err(BundleError::Overlay(_)) => {}
            other => return other,
        }
    }
    let layers = image_layers(store, &manifest, &config)?;
    let staging = unpack::staging_dir(dir)?;
    let result = (|| {
        make_private(&staging, &opts.unpack)?;
        let rootfs = staging.join("rootfs");
        unpack::unpack_rootfs(&rootfs, layers, &opts.unpack)?;
        let spec = runtime_spec(&config, &rootfs, opts)?;
        write_config(&staging, &spec)?;
        Ok(spec)
    })();
    match result {
        Ok(spec) => {
            unpack::publish(&staging, dir)?;
            Ok(spec)
        }
        Err(e) => {
            let _ = unpack::remove_tree(&staging);
            Err(e)
        }
    }
}

/// The bundle directory is 0700 (as umoci makes it): the rootfs may hold
/// device nodes and setuid files that host users must not reach. With id
/// maps it belongs to the mapped root, who must traverse it.
fn make_private(dir: &Path, opts: &UnpackOptions) -> Result<(), BundleError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |op: &'static str| {
        move |source| BundleError::Io {
            op,
            path: dir.to_path_buf(),
            source,
        }
    };
    if let Some((uid, gid)) = opts.mapped_root() {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid)).map_err(io("chown"))?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io("chmod"))
}

/// Overlay mounts need privilege, and cached trees hold unshifted owners.
fn cache_usable(opts: &UnpackOptions) -> bool {
    !opts.rootless
        && opts.uid_map.is_empty()
        && opts.gid_map.is_empty()
        && rustix::process::geteuid().is_root()
}

/// `dir/rootfs` as an overlay: cached layer trees below, `dir/.oximg/upper`
/// for the container's writes. `config.json` is written last, so a bundle
/// directory without it is not finished.
fn make_bundle_cached(
    store: &Store,
    manifest: &ImageManifest,
    config: &ImageConfiguration,
    dir: &Path,
    opts: &BundleOptions,
) -> Result<Spec, BundleError> {
    unpack::check_target(dir)?;
    let layers = image_layers(store, manifest, config)?;
    // Parsed and checked by `image_layers`, which sets every one.
    let diff_ids: Vec<_> = layers
        .iter()
        .filter_map(|l| l.expect.diff_id.clone())
        .collect();
    let lowers = cache::LayerCache::new(store.root()).ensure(layers, &diff_ids, &opts.unpack)?;
    let existed = dir.exists();
    let rootfs = dir.join("rootfs");
    let result = (|| {
        let (upper, work) = (dir.join(".oximg/upper"), dir.join(".oximg/work"));
        for d in [&upper, &work, &rootfs] {
            std::fs::create_dir_all(d).map_err(|source| BundleError::Io {
                op: "create",
                path: d.clone(),
                source,
            })?;
        }
        make_private(dir, &opts.unpack)?;
        if !lowers.is_empty() {
            cache::mount_overlay(&lowers, Some((&upper, &work)), &rootfs)
                .map_err(BundleError::Overlay)?;
        }
        let spec = runtime_spec(config, &rootfs, opts)?;
        write_config(dir, &spec)?;
        Ok(spec)
    })();
    if result.is_err() {
        let _ = remove_bundle(dir);
        if existed {
            let _ = std::fs::create_dir(dir);
        }
    }
    result
}

/// Remove a bundle made by [`make_bundle`]: unmount an overlay rootfs, then
/// delete the tree (never following symlinks).
pub fn remove_bundle(dir: &Path) -> Result<(), BundleError> {
    let rootfs = dir.join("rootfs");
    if cache::is_overlay(&rootfs) {
        cache::unmount(&rootfs).map_err(|source| BundleError::Io {
            op: "unmount",
            path: rootfs.clone(),
            source,
        })?;
    }
    unpack::remove_tree(dir).map_err(|source| BundleError::Io {
        op: "remove",
        path: dir.to_path_buf(),
        source,
    })
}

/// Write `config.json` into `bundle` (temp + rename: never half-written).
pub fn write_config(bundle: &Path, spec: &Spec) -> Result<(), BundleError> {
    let path = bundle.join("config.json");
    let tmp = bundle.join(".config.json.tmp");
    let json = serde_json::to_vec_pretty(spec).map_err(|e| BundleError::Io {
        op: "serialise",
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(&tmp, json).map_err(|source| BundleError::Io {
        op: "write",
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, &path).map_err(|source| BundleError::Io {
        op: "rename",
        path: path.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_are_normalised_inside() {
        assert_eq!(normalise_volume("/data").unwrap(), "/data");
        assert_eq!(normalise_volume("/../../../etc").unwrap(), "/etc");
        assert_eq!(normalise_volume("var//lib/./x/").unwrap(), "/var/lib/x");
        assert!(normalise_volume("/../../..").is_err());
        assert!(normalise_volume("/").is_err());
    }
}
