//! The process side shared by a container's init and `exec`: signals,
//! rlimits, scheduling, user, capabilities, cwd, and the executable lookup.

use crate::{caps, rlimits, sched};
use oci_spec::runtime::Process;
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Rust ignores SIGPIPE and the caller may have blocked signals: the
/// container's process must start with defaults.
pub fn reset_signals() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for s in Signal::iterator() {
        if s != Signal::SIGKILL && s != Signal::SIGSTOP {
            let _ = unsafe { sigaction(s, &dfl) };
        }
    }
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&SigSet::empty()),
        None,
    );
}

pub struct Exec {
    pub path: CString,
    pub args: Vec<CString>,
    pub env: Vec<CString>,
}

fn cstring(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("{s:?} contains a NUL byte"))
}

/// Everything about the process, as runc orders it: rlimits and scheduling
/// while privileged, bounding set, user switch with keep-caps, the other
/// capability sets, no_new_privs, cwd, and finally the executable lookup (so
/// that a missing binary fails `create`).
pub fn prepare_process(p: &Process) -> Result<Exec, String> {
    if let Some(r) = p.rlimits() {
        rlimits::apply(r).map_err(|e| e.to_string())?;
    }
    if let Some(v) = p.oom_score_adj() {
        sched::set_oom_score_adj(v).map_err(|e| e.to_string())?;
    }
    if let Some(s) = p.scheduler() {
        sched::set_scheduler(s).map_err(|e| e.to_string())?;
    }
    if let Some(io) = p.io_priority() {
        sched::set_io_priority(io).map_err(|e| e.to_string())?;
    }
    let user = p.user();
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        user.umask().unwrap_or(0o022) as libc::mode_t,
    ));
    let caps_cfg = p.capabilities().as_ref();
    if let Some(c) = caps_cfg {
        caps::drop_bounding(c).map_err(|e| e.to_string())?;
        nix::sys::prctl::set_keepcaps(true).map_err(|e| format!("keepcaps: {e}"))?;
    }
    let groups: Vec<nix::unistd::Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    // setgroups is denied in a user namespace whose setgroups file says so.
    let sg_allowed = std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true);
    if sg_allowed {
        nix::unistd::setgroups(&groups).map_err(|e| format!("setgroups: {e}"))?;
    }
    let (uid, gid) = (
        nix::unistd::Uid::from_raw(user.uid()),
        nix::unistd::Gid::from_raw(user.gid()),
    );
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| format!("setgid {gid}: {e}"))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| format!("setuid {uid}: {e}"))?;
    if let Some(c) = caps_cfg {
        nix::sys::prctl::set_keepcaps(false).map_err(|e| format!("keepcaps: {e}"))?;
        caps::apply(c).map_err(|e| e.to_string())?;
    }
    if p.no_new_privileges().unwrap_or(false) {
        nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no_new_privs: {e}"))?;
    }
    nix::unistd::chdir(p.cwd()).map_err(|e| {
        format!(
            "chdir to cwd ({:?}) set in config.json failed: {e}",
            p.cwd()
        )
    })?;
    // A cwd reached through a leaked fd would be outside our root: getcwd
    // then fails or says "(unreachable)".
    match nix::unistd::getcwd() {
        Ok(d) if d.is_absolute() => {}
        _ => return Err(format!("cwd {:?} is outside the container's root", p.cwd())),
    }

    crate::lsm::apply(p).map_err(|e| e.to_string())?;

    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!(
            "HOME={}",
            home_of(user.uid()).unwrap_or_else(|| "/".into())
        ));
    }
    let args = p.args().clone().unwrap_or_default();
    let arg0 = args.first().ok_or("process.args is empty")?;
    let path_var = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .map(str::to_owned);
    let path = lookup(arg0, path_var.as_deref())?;
    Ok(Exec {
        path: cstring(&path.to_string_lossy())?,
        args: args.iter().map(|a| cstring(a)).collect::<Result<_, _>>()?,
        env: env.iter().map(|a| cstring(a)).collect::<Result<_, _>>()?,
    })
}

fn home_of(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Go's exec.LookPath, with its messages: podman maps "executable file not
/// found in $PATH" and "no such file or directory" to 127, "permission
/// denied" to 126.
pub fn lookup(arg0: &str, path_var: Option<&str>) -> Result<PathBuf, String> {
    let executable = |p: &Path| -> Result<(), std::io::Error> {
        let md = std::fs::metadata(p)?;
        if md.is_dir() {
            return Err(std::io::Error::from_raw_os_error(libc::EACCES));
        }
        nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).map_err(std::io::Error::from)
    };
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        return match executable(&p) {
            Ok(()) => Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
                "exec: \"{arg0}\": stat {arg0}: no such file or directory"
            )),
            Err(_) => Err(format!("exec: \"{arg0}\": permission denied")),
        };
    }
    let mut denied = false;
    for dir in path_var.unwrap_or(DEFAULT_PATH).split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(arg0);
        match executable(&cand) {
            Ok(()) => return Ok(cand),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => denied = true,
            Err(_) => {}
        }
    }
    if denied {
        return Err(format!("exec: \"{arg0}\": permission denied"));
    }
    Err(format!(
        "exec: \"{arg0}\": executable file not found in $PATH"
    ))
}
