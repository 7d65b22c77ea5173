use super::Global;
use crate::container::{start::start, Container};

#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let c = Container::load(&g.root(), &a.id)?;
    start(&c)?;
    Ok(0)
}
