use oci_spec::runtime::Spec;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write config.json.
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    /// A spec for a rootless container (user namespace mapped to the caller).
    #[arg(long)]
    pub rootless: bool,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        anyhow::bail!("File {} exists. Remove it first", path.display());
    }
    let mut spec = if a.rootless {
        Spec::rootless(
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    } else {
        Spec::default()
    };
    // runc's template starts an interactive shell.
    if let Some(p) = spec.process_mut() {
        p.set_terminal(Some(true));
    }
    std::fs::write(&path, serde_json::to_string_pretty(&spec)? + "\n")?;
    Ok(0)
}
