//! `oci-conformance`: drives any runc-compatible runtime through the OCI
//! lifecycle, one test per spec feature, and reports pass/fail/skip.

mod bundle;
mod coverage;
mod harness;
mod report;
mod runtime;
mod suites;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "oci-conformance", about = "OCI runtime conformance suite")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Tap,
    Table,
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the suite against a runtime.
    Run {
        /// The runtime: a binary or wrapper script taking runc's command line.
        #[arg(long)]
        runtime: PathBuf,
        /// The static checker binary copied into every bundle.
        #[arg(long)]
        checker: Option<PathBuf>,
        /// Only tests whose name contains one of these (comma-separated) substrings.
        #[arg(long)]
        filter: Option<String>,
        /// Leave out tests whose name contains one of these (comma-separated) substrings.
        #[arg(long)]
        exclude: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Write every test's bundle under DIR/<test> and keep it.
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Tests run at once.
        #[arg(short = 'j', long, default_value_t = 4)]
        jobs: usize,
        /// Seconds before one runtime command is killed.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
    },
    /// List the tests.
    List,
    /// Say which items the runtime's `features` advertises that no test checks.
    Coverage {
        #[arg(long)]
        runtime: PathBuf,
        /// Exit non-zero when something advertised is untested.
        #[arg(long)]
        strict: bool,
    },
    /// Merge `--format json` results (NAME=FILE ...) into a Markdown table.
    Report { results: Vec<String> },
}

/// The default checker: next to this binary, then the static build.
fn default_checker() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let mut candidates = vec![dir.join("oci-checker")];
    // target/debug/oci-conformance -> target/x86_64-unknown-linux-gnu/debug/oci-checker
    if let (Some(profile), Some(target)) = (dir.file_name(), dir.parent()) {
        candidates.insert(
            0,
            target
                .join("x86_64-unknown-linux-gnu")
                .join(profile)
                .join("oci-checker"),
        );
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// Whether an ELF64 file has no program interpreter (PT_INTERP): the rootfs
/// holds no dynamic loader, so a dynamically linked checker cannot run there.
fn is_static(path: &std::path::Path) -> Result<bool> {
    let b = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    let u16_at = |o: usize| {
        b.get(o..o + 2)
            .map(|x| u16::from_le_bytes([x[0], x[1]]) as usize)
    };
    let u32_at = |o: usize| {
        b.get(o..o + 4)
            .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
    };
    let u64_at = |o: usize| {
        b.get(o..o + 8)
            .and_then(|x| <[u8; 8]>::try_from(x).ok())
            .map(|x| u64::from_le_bytes(x) as usize)
    };
    if b.get(..5) != Some(b"\x7fELF\x02") {
        bail!("{} is not a 64-bit ELF file", path.display());
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        bail!("{}: truncated ELF header", path.display());
    };
    Ok((0..phnum).all(|i| u32_at(phoff + i * phentsize) != Some(3)))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::List => {
            for t in suites::all() {
                println!("{}", t.name);
            }
            Ok(())
        }
        Cmd::Coverage { runtime, strict } => {
            // A runtime without `features` advertises nothing: say so, no error.
            let (text, all) = match coverage::report(&runtime) {
                Ok(r) => r,
                Err(e) => {
                    let e = format!("{e:#}")
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ");
                    (format!("- no `features` to compare: {e}\n"), true)
                }
            };
            print!("{text}");
            std::process::exit(i32::from(strict && !all));
        }
        Cmd::Report { results } => {
            print!("{}", report::markdown(&results)?);
            Ok(())
        }
        Cmd::Run {
            runtime,
            checker,
            filter,
            exclude,
            format,
            keep,
            jobs,
            timeout,
        } => {
            let checker = match checker.or_else(default_checker) {
                Some(c) => c,
                None => bail!("no checker found: build it (see README.md) or pass --checker"),
            };
            // SAFETY: geteuid cannot fail.
            if unsafe { libc::geteuid() } != 0 {
                bail!("the suite runs containers as root (rootless mode is not covered)");
            }
            let runtime = std::fs::canonicalize(&runtime)
                .with_context(|| format!("runtime {}", runtime.display()))?;
            let checker = std::fs::canonicalize(&checker)
                .with_context(|| format!("checker {}", checker.display()))?;
            if !is_static(&checker)? {
                bail!(
                    "{} is dynamically linked; build it static (see conformance/README.md)",
                    checker.display()
                );
            }
            let split = |f: Option<String>| -> Vec<String> {
                f.map(|f| {
                    f.split(',')
                        .filter(|x| !x.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
            };
            let (filters, excludes) = (split(filter), split(exclude));
            let tests: Vec<_> = suites::all()
                .into_iter()
                .filter(|t| {
                    filters.is_empty() || filters.iter().any(|f| t.name.contains(f.as_str()))
                })
                .filter(|t| !excludes.iter().any(|f| t.name.contains(f.as_str())))
                .collect();
            // Absolute: bundles, hook paths and bind sources are passed on as is.
            let keep = match keep {
                Some(k) => {
                    std::fs::create_dir_all(&k)?;
                    Some(std::fs::canonicalize(&k)?)
                }
                None => None,
            };
            let opts = harness::Options {
                runtime,
                checker,
                keep,
                timeout: std::time::Duration::from_secs(timeout),
            };
            let results = harness::run_all(&opts, tests, jobs.max(1))?;
            let failed = report::print(&results, format);
            std::process::exit(i32::from(failed));
        }
    }
}
