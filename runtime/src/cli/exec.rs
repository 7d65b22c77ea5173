use super::Global;
use crate::container::create::write_pid_file;
use crate::container::{exec, Container, ContainerError};
use anyhow::Context;
use oci_spec::runtime::{Capability, Process};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
    /// The command and its arguments (unless --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// A process.json (the spec's `process` object) to run instead.
    #[arg(long, short = 'p')]
    pub process: Option<PathBuf>,
    #[arg(long, short = 't')]
    pub tty: bool,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long, short = 'd')]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// KEY=VALUE, added to the container's environment.
    #[arg(long, short = 'e')]
    pub env: Vec<String>,
    /// uid[:gid] or name[:group].
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    #[arg(long = "additional-gids", short = 'g')]
    pub additional_gids: Vec<u32>,
    /// Add a capability (e.g. CAP_NET_ADMIN).
    #[arg(long, short = 'c')]
    pub cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long)]
    pub apparmor: Option<String>,
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Accepted for runc compatibility; the process joins the container's cgroup.
    #[arg(long)]
    pub cgroup: Vec<String>,
}

/// runc's newProcess: from --process, else the container's process with the
/// command line's changes.
fn build(a: &Args, c: &Container) -> anyhow::Result<Process> {
    let base = c.state.config.process().clone().unwrap_or_default();
    let mut p: Process = match &a.process {
        Some(f) => {
            let data = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
            let mut p: Process = serde_json::from_slice(&data)
                .with_context(|| format!("parsing {}", f.display()))?;
            // No capabilities in the JSON: the container's, never the runtime's.
            if p.capabilities().is_none() {
                p.set_capabilities(base.capabilities().clone());
            }
            p
        }
        None => {
            if a.command.is_empty() {
                anyhow::bail!("exec args cannot be empty");
            }
            let mut p = base.clone();
            p.set_args(Some(a.command.clone()));
            p.set_terminal(Some(a.tty));
            p.set_console_size(None);
            let mut env = base.env().clone().unwrap_or_default();
            env.extend(a.env.iter().cloned());
            p.set_env(Some(env));
            if let Some(cwd) = &a.cwd {
                p.set_cwd(cwd.clone());
            }
            if let Some(u) = &a.user {
                let mut user = exec::parse_user(u, c.state.pid)?;
                user.set_umask(base.user().umask());
                p.set_user(user);
            }
            p
        }
    };
    if a.tty {
        p.set_terminal(Some(true));
    }
    if !a.additional_gids.is_empty() {
        let mut u = p.user().clone();
        u.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(u);
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(ap) = &a.apparmor {
        p.set_apparmor_profile(Some(ap.clone()));
    }
    if let Some(l) = &a.process_label {
        p.set_selinux_label(Some(l.clone()));
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &a.cap {
            let cap = Capability::from_str(name.trim_start_matches("CAP_"))
                .or_else(|_| serde_json::from_value(serde_json::Value::from(name.as_str())))
                .map_err(|_| anyhow::anyhow!("unknown capability {name:?}"))?;
            let add = |s: Option<oci_spec::runtime::Capabilities>| {
                let mut s = s.unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            caps.set_bounding(add(caps.bounding().clone()));
            caps.set_effective(add(caps.effective().clone()));
            caps.set_permitted(add(caps.permitted().clone()));
            // Ambient needs inheritable: only where the spec set some
            // (runc's rule since CVE-2022-29162).
            if caps.inheritable().as_ref().is_some_and(|i| !i.is_empty()) {
                caps.set_ambient(add(caps.ambient().clone()));
            }
        }
        p.set_capabilities(Some(caps));
    }
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        anyhow::bail!("exec args cannot be empty");
    }
    Ok(p)
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let mut c = Container::load(&g.root(), &a.id)?;
    let p = build(&a, &c)?;
    let ptrace = crate::sealed::grants_ptrace(p.capabilities().as_ref());
    if crate::sealed::needed(&c.state.config, ptrace) {
        // Returns only once we run from a read-only bind of our binary.
        drop(c);
        crate::sealed::ensure()?;
        c = Container::load(&g.root(), &a.id)?;
    }
    let terminal = p.terminal().unwrap_or(false);
    // runc's checkTerminal: nothing runs with a contradictory combination.
    if a.console_socket.is_some() && (!a.detach || !terminal) {
        anyhow::bail!("cannot use console socket if oxrun will not detach or allocate tty");
    }
    if a.detach && terminal && a.console_socket.is_none() {
        anyhow::bail!("cannot allocate tty if oxrun will detach without setting console socket");
    }
    let mut ours = None;
    let console = match &a.console_socket {
        Some(path) => Some(
            std::os::unix::net::UnixStream::connect(path)
                .with_context(|| format!("connecting to console socket {}", path.display()))?
                .into(),
        ),
        None if terminal && !a.detach => {
            let (x, y) = crate::process::console::local_pair()?;
            ours = Some(x);
            Some(y)
        }
        None => None,
    };
    let pid = exec::exec(&c, &p, console, a.preserve_fds, a.ignore_paused)?;
    if let Some(f) = &a.pid_file {
        write_pid_file(f, pid)?;
    }
    let master = match &ours {
        Some(s) => Some(crate::process::console::recv_fd(s.as_fd())?),
        None => None,
    };
    if a.detach {
        return Ok(0);
    }
    drop(c);
    Ok(crate::process::wait::wait(pid, master)
        .map_err(|e| ContainerError::Other(format!("waiting for the process: {e}")))?)
}
