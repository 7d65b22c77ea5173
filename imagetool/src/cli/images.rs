//! `oximg images`: list the refs in the store.

use super::pull::open_store;
use super::Global;
use crate::store::{media, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `table` (default) or `json`.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

#[derive(serde::Serialize)]
struct Row {
    name: String,
    digest: String,
    #[serde(rename = "mediaType")]
    media_type: String,
    platform: Option<String>,
    /// Manifest + config + layers, in bytes (for the host platform of an index).
    size: Option<u64>,
    created: Option<String>,
}

fn row(store: &Store, name: &str, d: &oci_spec::image::Descriptor) -> Row {
    let resolved = store.resolve(name).ok();
    let platform = match (d.platform(), media::kind_of_mt(d.media_type())) {
        (Some(p), _) => Some(format!("{}/{}", p.os(), p.architecture())),
        (None, Some(media::Kind::Index)) => Some("multi".into()),
        _ => resolved.as_ref().and_then(|(_, m)| {
            store
                .image_config(m)
                .ok()
                .map(|c| format!("{}/{}", c.os(), c.architecture()))
        }),
    };
    let size = resolved.as_ref().map(|(md, m)| {
        md.size() + m.config().size() + m.layers().iter().map(|l| l.size()).sum::<u64>()
    });
    let created = resolved
        .as_ref()
        .and_then(|(_, m)| store.image_config(m).ok())
        .and_then(|c| c.created().clone());
    Row {
        name: name.to_string(),
        digest: d.digest().to_string(),
        media_type: d.media_type().to_string(),
        platform,
        size,
        created,
    }
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let store = open_store(g)?;
    let rows: Vec<Row> = store
        .refs()?
        .iter()
        .map(|(n, d)| row(&store, n, d))
        .collect();
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<50} {:<19} {:<14} {:>12}  CREATED",
        "REFERENCE", "DIGEST", "PLATFORM", "SIZE"
    );
    for r in rows {
        let short: String = r
            .digest
            .split(':')
            .nth(1)
            .unwrap_or("")
            .chars()
            .take(12)
            .collect();
        println!(
            "{:<50} sha256:{:<12} {:<14} {:>12}  {}",
            r.name,
            short,
            r.platform.unwrap_or_default(),
            r.size.map(|s| s.to_string()).unwrap_or_else(|| "?".into()),
            r.created.unwrap_or_default()
        );
    }
    Ok(())
}
