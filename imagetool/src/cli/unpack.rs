//! `oximg unpack REF DIR`: the image's root filesystem alone.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use super::pull::{open_store, strip_transport, RegistryArgs};
use super::Global;
use crate::bundle::image_layers;
use crate::store::{Store, StoreError};
use crate::unpack::{unpack_rootfs, IdMap, UnpackOptions};

// Unpack options shared by `unpack` and `bundle` (a `//` comment: a doc
// comment would become the verbs' help text).
#[derive(Debug, clap::Args)]
pub struct UnpackArgs {
    /// Unprivileged unpack: no chown (ownership recorded in the
    /// `user.rootlesscontainers` xattr), devices become empty files; the
    /// bundle gets a user namespace mapping the caller to root.
    #[arg(long)]
    pub rootless: bool,
    /// Shift file ownership and add a user namespace: CONTAINER:HOST:SIZE.
    #[arg(long = "uid-map", value_name = "C:H:N")]
    pub uid_map: Vec<IdMap>,
    /// As --uid-map, for groups.
    #[arg(long = "gid-map", value_name = "C:H:N")]
    pub gid_map: Vec<IdMap>,
    /// Keep a symlink to a directory when a layer has a directory at its path.
    #[arg(long)]
    pub keep_dirlinks: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

impl UnpackArgs {
    pub fn options(&self) -> UnpackOptions {
        UnpackOptions {
            rootless: self.rootless,
            uid_map: self.uid_map.clone(),
            gid_map: self.gid_map.clone(),
            keep_dirlinks: self.keep_dirlinks,
        }
    }
}

/// Unpack an image's root filesystem into DIR (pulls it first if needed).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image reference (pulled first if the store does not have it).
    pub reference: String,
    /// Directory for the root filesystem (must not exist, or be empty).
    pub dir: PathBuf,
    #[command(flatten)]
    pub unpack: UnpackArgs,
}

/// Open the store and pull `reference` into it unless it is there already.
pub fn ensure_image(reference: &str, args: &UnpackArgs, g: &Global) -> anyhow::Result<Store> {
    let store = open_store(g)?;
    let reference = strip_transport(reference);
    match store.resolve(reference) {
        Ok(_) => Ok(store),
        Err(StoreError::NotFound(_)) => {
            let opts = args.registry.pull_options(g.quiet)?;
            crate::registry::pull(reference, &store, &opts)
                .with_context(|| format!("pulling {reference}"))?;
            Ok(store)
        }
        Err(e) => Err(e).with_context(|| format!("looking up {reference}")),
    }
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let start = Instant::now();
    let store = ensure_image(&args.reference, &args.unpack, g)?;
    let reference = strip_transport(&args.reference);
    let (_, manifest) = store.resolve(reference)?;
    let config = store.image_config(&manifest)?;
    let layers = image_layers(&store, &manifest, &config)?;
    let stats = unpack_rootfs(&args.dir, layers, &args.unpack.options())
        .with_context(|| format!("unpacking {reference} into {}", args.dir.display()))?;
    if !g.quiet {
        let entries: u64 = stats.iter().map(|s| s.entries).sum();
        for w in stats.iter().flat_map(|s| &s.warnings) {
            eprintln!("warning: {w}");
        }
        eprintln!(
            "unpacked {} layers ({entries} entries) into {} in {:.0?}",
            stats.len(),
            args.dir.display(),
            start.elapsed()
        );
    }
    Ok(())
}
