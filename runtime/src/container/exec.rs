//! `exec`: run another process in a container that is running (or created).

use super::state::Status;
use super::{Container, ContainerError};
use crate::process::exec::{launch, ExecLaunch};
use crate::sys;
use oci_spec::runtime::{Process, User};
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Starts `process` in the container; returns its host pid.
pub fn exec(
    c: &Container,
    process: &Process,
    console: Option<OwnedFd>,
    preserve_fds: u32,
    ignore_paused: bool,
) -> Result<i32, ContainerError> {
    match c.status() {
        Status::Stopped => {
            return Err(ContainerError::WrongState(
                "cannot exec in a stopped container".into(),
            ))
        }
        Status::Paused if !ignore_paused => {
            return Err(ContainerError::WrongState(
                "cannot exec in a paused container (use --ignore-paused to override)".into(),
            ))
        }
        _ => {}
    }
    if process.terminal().unwrap_or(false) && console.is_none() {
        return Err(ContainerError::Other(
            "cannot allocate tty if oxrun will detach without setting console socket".into(),
        ));
    }
    let cg = c.cgroup().ok();
    let l = ExecLaunch {
        process,
        spec: &c.state.config,
        init_pid: c.state.pid,
        console: console.as_ref(),
        preserve_fds,
        id: &c.state.id,
        bundle: &c.state.bundle,
    };
    Ok(launch(&l, cg.as_ref())?)
}

/// `--user`: `uid`, `uid:gid`, `name` or `name:group`, names looked up in the
/// container's /etc/passwd and /etc/group (read inside its root, never
/// through a symlink out of it). Anything else is refused: `1000:`, signs,
/// values past i32::MAX never become root by overflow.
pub fn parse_user(spec: &str, init_pid: i32) -> Result<User, ContainerError> {
    let bad = || {
        ContainerError::Other(format!(
            "invalid user {spec:?}: want uid[:gid] or name[:group]"
        ))
    };
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let id = |s: &str, file: &str| -> Result<u32, ContainerError> {
        if s.is_empty() {
            return Err(bad());
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            let v: u64 = s.parse().map_err(|_| bad())?;
            return if v <= i32::MAX as u64 {
                Ok(v as u32)
            } else {
                Err(bad())
            };
        }
        lookup_name(init_pid, file, s).ok_or_else(|| {
            ContainerError::Other(format!(
                "unable to find {s:?} in the container's /etc/{file}"
            ))
        })
    };
    let uid = id(u, "passwd")?;
    let gid = match g {
        Some(g) => id(g, "group")?,
        None => primary_gid(init_pid, uid).unwrap_or(0),
    };
    let mut user = User::default();
    user.set_uid(uid);
    user.set_gid(gid);
    Ok(user)
}

fn read_in_root(init_pid: i32, path: &str) -> Option<String> {
    let root = std::fs::File::open(format!("/proc/{init_pid}/root")).ok()?;
    let fd = sys::openat2(
        root.as_fd(),
        Path::new(path),
        libc::O_RDONLY,
        0,
        sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS,
    )
    .ok()?;
    let mut s = String::new();
    std::fs::File::from(fd)
        .take(4 << 20)
        .read_to_string(&mut s)
        .ok()?;
    Some(s)
}

fn lookup_name(init_pid: i32, file: &str, name: &str) -> Option<u32> {
    let data = read_in_root(init_pid, &format!("etc/{file}"))?;
    data.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 3 && f[0] == name)
            .then(|| f[2].parse::<u32>().ok())
            .flatten()
    })
}

fn primary_gid(init_pid: i32, uid: u32) -> Option<u32> {
    let data = read_in_root(init_pid, "etc/passwd")?;
    data.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && f[2].parse::<u32>().ok() == Some(uid))
            .then(|| f[3].parse::<u32>().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::parse_user;

    #[test]
    fn numeric_users_and_bad_strings() {
        let me = std::process::id() as i32;
        let u = parse_user("1000:1001", me).unwrap();
        assert_eq!((u.uid(), u.gid()), (1000, 1001));
        for bad in [
            "1000:",
            ":1000",
            "",
            "-1",
            "4294967296",
            "2147483648",
            "+5",
            "1000:-1",
            "0x10",
        ] {
            assert!(parse_user(bad, me).is_err(), "{bad:?} accepted");
        }
    }
}
