//! `oximg logout HOST | --all`: remove saved credentials from auth.json.

use super::login::host_key;
use super::Global;
use crate::registry::auth::{default_auth_file, AuthFile};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Registry host.
    #[arg(required_unless_present = "all")]
    pub registry: Option<String>,
    /// Remove every saved credential.
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<std::path::PathBuf>,
}

pub fn run(args: Args, _g: &Global) -> anyhow::Result<()> {
    let path = args.authfile.clone().unwrap_or_else(default_auth_file);
    let mut f = AuthFile::load(&path)?;
    if args.all {
        f.auths.clear();
    } else {
        let key = host_key(args.registry.as_deref().unwrap_or_default())?;
        if f.auths.remove(&key).is_none() && f.auths.remove(&format!("https://{key}")).is_none() {
            anyhow::bail!("not logged in to {key}");
        }
        println!("Removed login credentials for {key}");
    }
    f.save(&path)?;
    Ok(())
}
