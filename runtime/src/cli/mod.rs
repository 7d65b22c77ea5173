//! The command line, runc's flag for flag. One file per verb: parse, call
//! the library, map the result to an exit code. No logic here.

mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod resume;
mod run;
mod spec;
mod start;
mod state;
mod update;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "oxrun",
    version,
    about = "An OCI runtime with runc's command line"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
pub struct Global {
    /// Root directory for container state.
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Log file (errors are always written there too).
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, default_value = "text")]
    pub log_format: String,
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd for cgroups (needs a running systemd).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (accepted as runc does).
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
}

impl Global {
    /// `--root`, else /run/oxrun as root (also when XDG_RUNTIME_DIR is set but
    /// empty, as podman runs us), else $XDG_RUNTIME_DIR/oxrun.
    pub fn root(&self) -> PathBuf {
        if let Some(r) = &self.root {
            return r.clone();
        }
        if !nix::unistd::geteuid().is_root() {
            if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty()) {
                return PathBuf::from(x).join("oxrun");
            }
        }
        PathBuf::from("/run/oxrun")
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new specification file (config.json).
    Spec(spec::Args),
    /// Create a container (it waits for `start`).
    Create(create::CreateArgs),
    /// Start a created container.
    Start(start::Args),
    /// Create and start a container, and wait for it unless --detach.
    Run(run::Args),
    /// Print the state of a container.
    State(state::Args),
    /// Send a signal to a container's init (or all its processes).
    Kill(kill::Args),
    /// Delete a container and what the runtime holds for it.
    Delete(delete::Args),
    /// List containers.
    List(list::Args),
    /// Print the features this runtime supports (runtime-spec features.md).
    Features(features::Args),
    /// Run a new process inside a running container.
    Exec(Box<exec::Args>),
    /// Suspend all processes of a container (freezer).
    Pause(pause::Args),
    /// Resume a paused container.
    Resume(resume::Args),
    /// Update a container's resource limits.
    Update(Box<update::Args>),
    /// List the processes of a container.
    Ps(ps::Args),
    /// Print a container's resource usage and OOM events.
    Events(events::Args),
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let format = if cli.global.log_format == "json" {
        crate::log::Format::Json
    } else {
        crate::log::Format::Text
    };
    crate::log::init(cli.global.log.clone(), format, cli.global.debug);
    let g = &cli.global;
    let exec = matches!(cli.command, Command::Exec(_));
    let res = match cli.command {
        Command::Spec(a) => spec::run(a, g),
        Command::Create(a) => create::run(a, g),
        Command::Start(a) => start::run(a, g),
        Command::Run(a) => run::run(a, g),
        Command::State(a) => state::run(a, g),
        Command::Kill(a) => kill::run(a, g),
        Command::Delete(a) => delete::run(a, g),
        Command::List(a) => list::run(a, g),
        Command::Features(a) => features::run(a, g),
        Command::Exec(a) => exec::run(*a, g),
        Command::Pause(a) => pause::run(a, g),
        Command::Resume(a) => resume::run(a, g),
        Command::Update(a) => update::run(*a, g),
        Command::Ps(a) => ps::run(a, g),
        Command::Events(a) => events::run(a, g),
    };
    match res {
        Ok(code) => code,
        // As runc: a failure of `exec` itself is `exec failed: …` with status
        // 255, never to be mistaken for the exit status of the process.
        Err(e) if exec => {
            crate::log::error(&format!("exec failed: {e:#}"));
            255
        }
        Err(e) => {
            crate::log::error(&format!("{e:#}"));
            1
        }
    }
}

/// A command line clap rejects: printed as clap does and, as runc does, also
/// written to the `--log` file when the raw argv names one. containerd's
/// shim reports only what that file holds ("unable to retrieve OCI runtime
/// error" when it is missing).
fn usage_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    if !matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let argv: Vec<String> = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        if let Some(file) = raw_flag(&argv, "--log") {
            let format = match raw_flag(&argv, "--log-format") {
                Some("json") => crate::log::Format::Json,
                _ => crate::log::Format::Text,
            };
            crate::log::init(Some(PathBuf::from(file)), format, false);
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            crate::log::error_to_file(first.strip_prefix("error: ").unwrap_or(first));
        }
    }
    let _ = e.print();
    e.exit_code()
}

/// The value of `--name value` or `--name=value` in an argv clap could not
/// parse (up to a `--`).
fn raw_flag<'a>(argv: &'a [String], name: &str) -> Option<&'a str> {
    let mut it = argv.iter().skip(1).take_while(|a| *a != "--");
    while let Some(a) = it.next() {
        if a == name {
            return it.next().map(String::as_str);
        }
        if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::{CommandFactory, Parser};

    #[test]
    fn raw_flag_finds_both_forms() {
        let argv: Vec<String> =
            "oxrun --log-format=json --root /r --log /l create --bogus x -- --log y"
                .split(' ')
                .map(String::from)
                .collect();
        assert_eq!(super::raw_flag(&argv, "--log"), Some("/l"));
        assert_eq!(super::raw_flag(&argv, "--log-format"), Some("json"));
        assert_eq!(super::raw_flag(&argv, "--pid-file"), None);
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every call from CLIENT-CONTRACT.md parses, in both flag forms.
    #[test]
    fn manager_argv_parses() {
        let calls: &[&str] = &[
            "oxrun --root /r/ns --log /b/log.json --log-format json create --bundle /b --pid-file /b/init.pid c1",
            "oxrun --root /r/ns --log /b/log.json --log-format json create --bundle /b --pid-file /b/init.pid --console-socket /tmp/pty1/pty.sock c1",
            "oxrun --log-format=json --log /x/oci-log create --bundle /x/userdata --pid-file /x/pidfile c1",
            "oxrun --root /r start c1",
            "oxrun --root /r kill c1 15",
            "oxrun --root /r kill --all c1 9",
            "oxrun --root /r kill c1 SIGKILL",
            "oxrun --root /r delete c1",
            "oxrun --root /r delete --force c1",
            "oxrun delete --force c1",
            "oxrun state c1",
            "oxrun list --format json",
            "oxrun list -q",
            "oxrun --rootless true --systemd-cgroup --debug run -d --bundle=/b c1",
            "oxrun create --no-pivot --no-new-keyring --preserve-fds 2 -b /b c1",
            "oxrun spec --rootless --bundle /b",
            "oxrun --root /r ps --format json c1",
            "oxrun ps c1 -o pid,comm",
            "oxrun pause c1",
            "oxrun resume c1",
            "oxrun update --resources=/x/res.json c1",
            "oxrun update -r - c1",
            "oxrun update --memory 64m --memory-swap=-1 --cpu-quota -1 --pids-limit 10 c1",
            "oxrun events --stats c1",
            "oxrun events --interval 1s c1",
        ];
        for c in calls {
            Cli::try_parse_from(c.split(' ')).unwrap_or_else(|e| panic!("{c}: {e}"));
        }
    }
}
