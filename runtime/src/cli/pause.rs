use super::Global;
use crate::container::{pause::pause, Container};

#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    pause(&Container::load(&g.root(), &a.id)?)?;
    Ok(0)
}
