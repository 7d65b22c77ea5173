//! `oximg fsck`: re-hash every blob and check every referenced blob exists.

use super::pull::open_store;
use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, g: &Global) -> anyhow::Result<()> {
    let store = open_store(g)?;
    let problems = store.fsck()?;
    for p in &problems {
        println!("{}: {}", p.digest, p.problem);
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "{} problem(s) in {}",
            problems.len(),
            store.root().display()
        );
    }
    if !g.quiet {
        eprintln!("store {} is consistent", store.root().display());
    }
    Ok(())
}
