use super::Global;
use crate::container::{kill::kill, Container};
use crate::signals;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
    /// Signal name or number (default SIGTERM).
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
    /// Send the signal to every process in the container.
    #[arg(long, short = 'a')]
    pub all: bool,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let sig = signals::parse(&a.signal)?;
    let c = Container::load(&g.root(), &a.id)?;
    kill(&c, sig, a.all)?;
    Ok(0)
}
