//! `oximg pull REF`: fetch an image into the store.

use std::path::PathBuf;
use std::time::Duration;

use crate::registry::{self, ClientOptions, Credentials, PullOptions};
use crate::store::{PlatformSpec, Store};
use anyhow::Context;

use super::Global;

/// Options for talking to a registry (shared by pull, inspect, login).
#[derive(Debug, clap::Args, Clone)]
pub struct RegistryArgs {
    /// Credentials USER:PASS for the registry.
    #[arg(long, value_name = "USER:PASS")]
    pub creds: Option<String>,
    /// auth.json to read credentials from (default: $REGISTRY_AUTH_FILE,
    /// podman's auth.json, ~/.docker/config.json).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Require HTTPS and verify certificates (loopback registries may use HTTP).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value_t = true,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tls_verify: bool,
    /// Directory with extra CA certificates (*.crt).
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Attempts for a request that fails transiently.
    #[arg(long, default_value_t = 3)]
    pub retry_times: u32,
}

impl RegistryArgs {
    pub fn client_options(&self) -> anyhow::Result<ClientOptions> {
        Ok(ClientOptions {
            tls_verify: self.tls_verify,
            cert_dir: self.cert_dir.clone(),
            credentials: self.creds.as_deref().map(Credentials::parse).transpose()?,
            retries: self.retry_times.max(1),
            backoff: Duration::from_millis(250),
        })
    }

    pub fn pull_options(&self, quiet: bool) -> anyhow::Result<PullOptions> {
        Ok(PullOptions {
            quiet,
            client: self.client_options()?,
            authfile: self.authfile.clone(),
            ..PullOptions::default()
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image reference: `busybox`, `host:port/ns/name:tag`, `name@sha256:…`
    /// (an optional `docker://` prefix is accepted).
    pub reference: String,
    /// Platform to pick from a multi-platform image (default: this machine).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Keep every platform of a multi-platform image.
    #[arg(long, conflicts_with = "platform")]
    pub all_platforms: bool,
    /// Blobs downloaded at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// The store named by `--store` / `$OXIMG_STORE`, else the default.
pub fn open_store(g: &Global) -> anyhow::Result<Store> {
    let dir = g.store.clone().unwrap_or_else(Store::default_dir);
    Store::open(&dir).with_context(|| format!("opening store {}", dir.display()))
}

pub fn strip_transport(r: &str) -> &str {
    r.strip_prefix("docker://").unwrap_or(r)
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let store = open_store(g)?;
    let mut opts = args.registry.pull_options(g.quiet)?;
    opts.all_platforms = args.all_platforms;
    opts.jobs = args.jobs;
    opts.platform = args
        .platform
        .as_deref()
        .map(PlatformSpec::parse)
        .transpose()?;
    let reference = strip_transport(&args.reference);
    let d =
        registry::pull(reference, &store, &opts).with_context(|| format!("pulling {reference}"))?;
    if !g.quiet {
        eprintln!("stored {reference} as {}", d.digest());
    }
    println!("{}", d.digest());
    Ok(())
}
