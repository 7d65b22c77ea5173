//! `oximg bundle REF DIR`: an OCI runtime bundle (`rootfs/` + `config.json`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use super::unpack::{ensure_image, UnpackArgs};
use super::Global;
use crate::bundle::{make_bundle, BundleOptions};

/// Make an OCI runtime bundle (DIR/rootfs + DIR/config.json) of an image.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image reference (pulled first if the store does not have it).
    pub reference: String,
    /// Bundle directory to create (must not exist, or be empty).
    pub dir: PathBuf,
    /// Always unpack a full copy of the image into `rootfs/` (default: as
    /// root, an overlay of layer trees cached in the store, so the second
    /// bundle of an image is nearly free; `umount DIR/rootfs` before
    /// removing such a bundle).
    #[arg(long)]
    pub copy: bool,
    #[command(flatten)]
    pub unpack: UnpackArgs,
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let start = Instant::now();
    let store = ensure_image(&args.reference, &args.unpack, g)?;
    let opts = BundleOptions {
        unpack: args.unpack.options(),
        cached: !args.copy,
    };
    let reference = super::pull::strip_transport(&args.reference);
    make_bundle(&store, reference, &args.dir, &opts)
        .with_context(|| format!("making a bundle of {reference} in {}", args.dir.display()))?;
    if !g.quiet {
        eprintln!(
            "bundle {} ready in {:.0?}: run it with `oxrun run -b {} ID` (or runc)",
            args.dir.display(),
            start.elapsed(),
            args.dir.display()
        );
    }
    Ok(())
}
