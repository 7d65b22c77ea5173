//! Command line: one file per verb. Parsing only; the work is in the library.

use clap::{Parser, Subcommand};

mod bundle;
mod fsck;
mod gc;
mod images;
mod inspect;
mod login;
mod logout;
mod pull;
mod rm;
mod unpack;

/// Options every verb shares.
#[derive(Debug, clap::Args, Clone)]
pub struct Global {
    /// The OCI image layout used as the store (default: see README).
    #[arg(long, global = true, env = "OXIMG_STORE")]
    pub store: Option<std::path::PathBuf>,
    /// No progress output.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

#[derive(Debug, Parser)]
#[command(
    name = "oximg",
    version,
    about = "Pull OCI images, unpack them and make runtime bundles"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch an image from its registry into the store.
    Pull(pull::Args),
    /// Show an image from the store, or from its registry with `docker://`.
    Inspect(inspect::Args),
    /// List the refs in the store.
    Images(images::Args),
    /// Drop refs from the store, then collect unreferenced blobs.
    Rm(rm::Args),
    /// Delete blobs no ref reaches (and stale partial downloads).
    Gc(gc::Args),
    /// Re-hash every blob and check every referenced blob exists.
    Fsck(fsck::Args),
    /// Check credentials against a registry and save them in auth.json.
    Login(login::Args),
    /// Remove saved credentials from auth.json.
    Logout(logout::Args),
    /// Unpack an image's root filesystem into DIR (pulls it first if needed).
    Unpack(unpack::Args),
    /// Make an OCI runtime bundle (DIR/rootfs + DIR/config.json) of an image.
    Bundle(bundle::Args),
}

pub fn main() -> i32 {
    let cli = Cli::parse();
    let g = cli.global;
    let res = match cli.command {
        Command::Pull(a) => pull::run(a, &g),
        Command::Inspect(a) => inspect::run(a, &g),
        Command::Images(a) => images::run(a, &g),
        Command::Rm(a) => rm::run(a, &g),
        Command::Gc(a) => gc::run(a, &g),
        Command::Fsck(a) => fsck::run(a, &g),
        Command::Login(a) => login::run(a, &g),
        Command::Logout(a) => logout::run(a, &g),
        Command::Unpack(a) => unpack::run(a, &g),
        Command::Bundle(a) => bundle::run(a, &g),
    };
    match res {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("oximg: {e:#}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Each verb's help line says what it does (it once showed the doc of a
    /// flattened option struct, or nothing).
    #[test]
    fn every_verb_has_its_own_about() {
        let cmd = Cli::command();
        let mut seen = std::collections::BTreeSet::new();
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(!about.is_empty(), "{} has no about", sub.get_name());
            assert!(
                !about.contains("Options for"),
                "{}: {about}",
                sub.get_name()
            );
            assert!(
                seen.insert(about.clone()),
                "{} repeats {about:?}",
                sub.get_name()
            );
        }
    }
}
