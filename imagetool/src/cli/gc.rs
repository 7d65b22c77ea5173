//! `oximg gc`: delete blobs no ref reaches (and stale partial downloads).

use super::pull::open_store;
use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, g: &Global) -> anyhow::Result<()> {
    let store = open_store(g)?;
    let r = store.gc()?;
    if !g.quiet {
        println!("removed {} blobs, {} bytes", r.removed.len(), r.freed_bytes);
    }
    Ok(())
}
