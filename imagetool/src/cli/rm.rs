//! `oximg rm REF…`: drop refs from the store, then collect unreferenced blobs.

use anyhow::Context;

use super::pull::open_store;
use super::Global;
use crate::store::ref_name;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// References as `oximg images` lists them (or as given to pull).
    #[arg(required = true)]
    pub references: Vec<String>,
    /// Keep the blobs (do not run gc afterwards).
    #[arg(long)]
    pub no_gc: bool,
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let store = open_store(g)?;
    for r in &args.references {
        let d = store.lookup(r).with_context(|| format!("rm {r}"))?;
        let name = ref_name(&d)
            .map(str::to_string)
            .with_context(|| format!("{r} names an entry without a ref name"))?;
        store.remove_ref(&name)?;
        if !g.quiet {
            println!("removed {name}");
        }
    }
    if !args.no_gc {
        store.gc()?;
    }
    Ok(())
}
