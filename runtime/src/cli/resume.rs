use super::Global;
use crate::container::{pause::resume, Container};

#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    resume(&Container::load(&g.root(), &a.id)?)?;
    Ok(0)
}
