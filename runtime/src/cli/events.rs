use super::Global;
use crate::container::{events, Container};
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
    /// Print the container's stats once, then exit.
    #[arg(long)]
    pub stats: bool,
    /// The stats collection interval (Go duration: 5s, 500ms, 1m).
    #[arg(long, default_value = "5s")]
    pub interval: String,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let interval = events::parse_duration(&a.interval)?;
    let c = Container::load(&g.root(), &a.id)?;
    if a.stats {
        println!("{}", events::stats_once(&c)?);
        return Ok(0);
    }
    let (dir, st) = (c.dir.clone(), c.state.clone());
    // The stream runs for long: release the container's lock.
    drop(c);
    let mut out = std::io::stdout().lock();
    events::stream(&dir, &st, interval, &mut |e| {
        writeln!(out, "{e}")?;
        out.flush()
    })?;
    Ok(0)
}
