use super::Global;
use crate::container::delete::delete;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
    /// Kill a running container first; a missing container is not an error.
    #[arg(long, short = 'f')]
    pub force: bool,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    delete(&g.root(), &a.id, a.force)?;
    Ok(0)
}
