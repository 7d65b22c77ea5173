//! `oximg login HOST`: check credentials against the registry and save them
//! in auth.json (the format podman and skopeo use).

use std::io::BufRead;

use anyhow::Context;

use super::pull::RegistryArgs;
use super::Global;
use crate::reference::Reference;
use crate::registry::auth::{default_auth_file, AuthEntry, AuthFile};
use crate::registry::{Client, Credentials};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Registry host (`host[:port]`, `docker.io`).
    pub registry: String,
    #[arg(long, short)]
    pub username: Option<String>,
    #[arg(long, short)]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub reg: RegistryArgs,
}

/// auth.json key for a host: Docker Hub's is `docker.io`, as podman writes.
pub fn host_key(registry: &str) -> anyhow::Result<String> {
    let host = registry
        .trim_start_matches("docker://")
        .trim_end_matches('/');
    let r = Reference::parse(&format!("{host}/x")).context("bad registry name")?;
    Ok(r.registry().to_string())
}

pub fn run(args: Args, _g: &Global) -> anyhow::Result<()> {
    let key = host_key(&args.registry)?;
    let username = args.username.clone().context("--username is required")?;
    let password = match (&args.password, args.password_stdin) {
        (Some(p), false) => p.clone(),
        (None, true) => {
            let mut l = String::new();
            std::io::stdin().lock().read_line(&mut l)?;
            l.trim_end_matches(['\n', '\r']).to_string()
        }
        _ => anyhow::bail!("give exactly one of --password or --password-stdin"),
    };
    let creds = Credentials { username, password };
    let mut opts = args.reg.client_options()?;
    opts.credentials = Some(creds.clone());
    let r = Reference::parse(&format!("{key}/oximg-login-check"))?;
    Client::connect(&r, &opts)
        .and_then(|c| c.check_auth())
        .with_context(|| format!("logging in to {key}"))?;
    let path = args.reg.authfile.clone().unwrap_or_else(default_auth_file);
    let mut f = AuthFile::load(&path)?;
    f.auths.insert(
        key.clone(),
        AuthEntry {
            auth: Some(creds.basic()),
            ..Default::default()
        },
    );
    f.save(&path)?;
    println!("Login Succeeded!");
    Ok(())
}
