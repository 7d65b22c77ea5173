use super::Global;
use crate::container::Container;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let c = Container::load(&g.root(), &a.id)?;
    let st = c.state.oci(c.status());
    println!("{}", serde_json::to_string_pretty(&st)?);
    Ok(0)
}
