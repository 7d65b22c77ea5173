//! `oximg inspect REF [--raw] [--config]`: an image from the store, or from
//! its registry with a `docker://` prefix (as skopeo writes it).

use anyhow::Context;
use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};

use super::pull::{open_store, RegistryArgs};
use super::Global;
use crate::reference::Reference;
use crate::registry;
use crate::store::{media, PlatformSpec, JSON_LIMIT};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A ref in the store, or `docker://REF` for a registry.
    pub reference: String,
    /// Print the manifest (or index) exactly as stored/served.
    #[arg(long)]
    pub raw: bool,
    /// Print the image configuration (with --raw: as stored/served).
    #[arg(long)]
    pub config: bool,
    #[command(flatten)]
    pub reg: RegistryArgs,
}

/// skopeo's `inspect` summary.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    name: String,
    digest: String,
    created: Option<String>,
    architecture: String,
    os: String,
    variant: Option<String>,
    labels: Option<std::collections::HashMap<String, String>>,
    layers: Vec<String>,
    env: Option<Vec<String>>,
    #[serde(rename = "LayersData")]
    layers_data: Vec<LayerData>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct LayerData {
    #[serde(rename = "MIMEType")]
    mime_type: String,
    digest: String,
    size: u64,
}

fn summary(name: String, digest: String, m: &ImageManifest, c: &ImageConfiguration) -> Summary {
    let cc = c.config().as_ref();
    Summary {
        name,
        digest,
        created: c.created().clone(),
        architecture: c.architecture().to_string(),
        os: c.os().to_string(),
        variant: c.variant().clone(),
        labels: cc.and_then(|x| x.labels().clone()),
        layers: m.layers().iter().map(|l| l.digest().to_string()).collect(),
        env: cc.and_then(|x| x.env().clone()),
        layers_data: m
            .layers()
            .iter()
            .map(|l| LayerData {
                mime_type: l.media_type().to_string(),
                digest: l.digest().to_string(),
                size: l.size(),
            })
            .collect(),
    }
}

fn print_json_bytes(b: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    o.write_all(b)?;
    if !b.ends_with(b"\n") {
        o.write_all(b"\n")?;
    }
    Ok(())
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    match args.reference.strip_prefix("docker://") {
        Some(r) => remote(&args, r),
        None => local(&args, g),
    }
}

fn local(args: &Args, g: &Global) -> anyhow::Result<()> {
    let store = open_store(g)?;
    let top = store.lookup(&args.reference)?;
    if args.raw && !args.config {
        return print_json_bytes(&store.read_bytes(&top, JSON_LIMIT)?);
    }
    let (md, m) = store.resolve(&args.reference)?;
    if args.config {
        let b = store.read_bytes(m.config(), JSON_LIMIT)?;
        if args.raw {
            return print_json_bytes(&b);
        }
        let c: ImageConfiguration = serde_json::from_slice(&b)?;
        println!("{}", serde_json::to_string_pretty(&c)?);
        return Ok(());
    }
    let c = store.image_config(&m)?;
    let name = crate::store::ref_name(&top)
        .unwrap_or(&args.reference)
        .to_string();
    let s = summary(name, md.digest().to_string(), &m, &c);
    println!("{}", serde_json::to_string_pretty(&s)?);
    Ok(())
}

fn remote(args: &Args, r: &str) -> anyhow::Result<()> {
    let reference = Reference::parse(r)?;
    let opts = args.reg.pull_options(true)?;
    let client =
        registry::connect(&reference, &opts).with_context(|| format!("connecting for {r}"))?;
    let top = client.manifest(&reference.manifest_ref(), None)?;
    if args.raw && !args.config {
        return print_json_bytes(&top.bytes);
    }
    let m = match top.kind {
        media::Kind::Manifest => top,
        media::Kind::Index => {
            let idx: ImageIndex = serde_json::from_slice(&top.bytes)?;
            let want = PlatformSpec::host();
            let d = want
                .choose(idx.manifests())
                .with_context(|| format!("{r} has no image for {want}"))?;
            client.manifest(d.digest().as_ref(), Some(d))?
        }
    };
    let man: ImageManifest = serde_json::from_slice(&m.bytes)?;
    let cb = client.blob_bytes(man.config())?;
    if args.config {
        if args.raw {
            return print_json_bytes(&cb);
        }
        let c: ImageConfiguration = serde_json::from_slice(&cb)?;
        println!("{}", serde_json::to_string_pretty(&c)?);
        return Ok(());
    }
    let c: ImageConfiguration = serde_json::from_slice(&cb)?;
    let s = summary(reference.name(), m.digest.to_string(), &man, &c);
    println!("{}", serde_json::to_string_pretty(&s)?);
    Ok(())
}
