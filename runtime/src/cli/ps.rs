use super::Global;
use crate::container::{ps, Container};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format: table or json (a JSON array of host pids).
    #[arg(long, short = 'f', default_value = "table")]
    pub format: String,
    pub id: String,
    /// Options for ps(1) (default -ef); table format only.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let c = Container::load(&g.root(), &a.id)?;
    let pids = ps::pids(&c)?;
    drop(c);
    match a.format.as_str() {
        // runc prints null for no processes (a Go nil slice).
        "json" if pids.is_empty() => println!("null"),
        "json" => println!("{}", serde_json::to_string(&pids)?),
        "table" => print!("{}", ps::table(&pids, &a.ps_args)?),
        _ => anyhow::bail!("invalid format option"),
    }
    Ok(0)
}
