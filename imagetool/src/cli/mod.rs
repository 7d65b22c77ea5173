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
    Pull(pull::Args),
    Inspect(inspect::Args),
    Images(images::Args),
    Rm(rm::Args),
    Gc(gc::Args),
    Fsck(fsck::Args),
    Login(login::Args),
    Logout(logout::Args),
    Unpack(unpack::Args),
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
