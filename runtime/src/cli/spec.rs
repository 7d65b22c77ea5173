use oci_spec::runtime::Spec;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write config.json.
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
}

/// `--rootless` is the global flag (`oxrun spec --rootless` sets it too).
pub fn run(a: Args, g: &super::Global) -> anyhow::Result<i32> {
    let rootless = g.rootless.as_deref().is_some_and(|v| v != "false");
    let path = a.bundle.join("config.json");
    if path.exists() {
        anyhow::bail!("File {} exists. Remove it first", path.display());
    }
    let mut spec = if rootless {
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
