use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("fsck: not implemented yet")
}
