use super::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_a: Args, _g: &Global) -> anyhow::Result<i32> {
    let f = crate::features::to_json(&crate::features::features());
    println!("{}", serde_json::to_string_pretty(&f)?);
    Ok(0)
}
