//! The image's `User` → uid, gid, additional gids and home, looked up in the
//! rootfs's own `/etc/passwd` and `/etc/group` (read inside the root: a
//! symlinked `/etc/passwd` cannot make us read a host file).

use std::io::Read;

use rustix::fs::OFlags;

use crate::unpack::paths::{RelPath, Root};

/// Larger account files are refused rather than read whole.
const FILE_LIMIT: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserError {
    #[error("user {0:?} not found in the image's /etc/passwd")]
    NoSuchUser(String),
    #[error("group {0:?} not found in the image's /etc/group")]
    NoSuchGroup(String),
    #[error("invalid id {0:?} in User (must be 0..=2147483647)")]
    BadId(String),
    #[error("invalid User {0:?}")]
    Bad(String),
    #[error("reading {0} in the image: {1}")]
    Read(&'static str, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

struct Passwd {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct Group {
    name: String,
    gid: u32,
    members: Vec<String>,
}

fn read_in_root(root: &Root, path: &'static str) -> Result<Option<String>, UserError> {
    let rel = RelPath::parse(path.as_bytes()).expect("static path");
    let fd = match root.open_at(&rel, OFlags::RDONLY) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(UserError::Read(path, e.to_string())),
    };
    let mut f = std::fs::File::from(fd);
    let mut buf = Vec::new();
    (&mut f)
        .take(FILE_LIMIT + 1)
        .read_to_end(&mut buf)
        .map_err(|e| UserError::Read(path, e.to_string()))?;
    if buf.len() as u64 > FILE_LIMIT {
        return Err(UserError::Read(path, "larger than 4 MiB".into()));
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// A numeric id as runc accepts it: decimal, 0..=i32::MAX (so no value can
/// wrap around to root).
fn parse_id(s: &str) -> Option<Result<u32, UserError>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match s.parse::<u64>() {
        Ok(v) if v <= i32::MAX as u64 => Ok(v as u32),
        _ => Err(UserError::BadId(s.to_string())),
    })
}

fn passwd_entries(text: &str) -> Vec<Passwd> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(Passwd {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).map(|s| s.to_string()).unwrap_or_default(),
            })
        })
        .collect()
}

fn group_entries(text: &str) -> Vec<Group> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(Group {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Resolve `user` (`""`, `uid`, `name`, `uid:gid`, `name:group`, ...) the way
/// runc and containerd do: a name must exist; a bare uid need not (gid 0);
/// additional gids are the groups listing the user by name.
pub fn resolve(root: &Root, user: &str) -> Result<ExecUser, UserError> {
    let passwd = read_in_root(root, "etc/passwd")?
        .map(|t| passwd_entries(&t))
        .unwrap_or_default();
    resolve_with(user, &passwd, &mut || {
        Ok(read_in_root(root, "etc/group")?
            .map(|t| group_entries(&t))
            .unwrap_or_default())
    })
}

fn resolve_with(
    user: &str,
    passwd: &[Passwd],
    groups: &mut dyn FnMut() -> Result<Vec<Group>, UserError>,
) -> Result<ExecUser, UserError> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => {
            if g.is_empty() || u.is_empty() {
                return Err(UserError::Bad(user.to_string()));
            }
            (u, Some(g))
        }
        None => (user, None),
    };
    let u = if u.is_empty() { "0" } else { u };
    let (uid, entry) = match parse_id(u) {
        Some(id) => {
            let id = id?;
            (id, passwd.iter().find(|p| p.uid == id))
        }
        None => {
            let p = passwd
                .iter()
                .find(|p| p.name == u)
                .ok_or_else(|| UserError::NoSuchUser(u.to_string()))?;
            (p.uid, Some(p))
        }
    };
    let mut gid = entry.map(|p| p.gid).unwrap_or(0);
    let home = entry
        .map(|p| p.home.clone())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into());
    let mut all_groups = None;
    if let Some(g) = g {
        gid = match parse_id(g) {
            Some(id) => id?,
            None => {
                let gs = groups()?;
                let found = gs.iter().find(|x| x.name == g).map(|x| x.gid);
                all_groups = Some(gs);
                found.ok_or_else(|| UserError::NoSuchGroup(g.to_string()))?
            }
        };
    }
    let mut additional_gids = Vec::new();
    if let Some(p) = entry {
        let gs = match all_groups {
            Some(gs) => gs,
            None => groups()?,
        };
        for x in gs.iter().filter(|x| x.members.contains(&p.name)) {
            if x.gid != gid && !additional_gids.contains(&x.gid) {
                additional_gids.push(x.gid);
            }
        }
    }
    Ok(ExecUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    const GROUP: &str =
        "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\nstaff:x:50:alice,bob\nwheel:x:10:alice\n";

    fn r(user: &str) -> Result<ExecUser, UserError> {
        resolve_with(user, &passwd_entries(PASSWD), &mut || {
            Ok(group_entries(GROUP))
        })
    }

    #[test]
    fn user_forms() {
        assert_eq!(
            r("").unwrap(),
            ExecUser {
                uid: 0,
                gid: 0,
                additional_gids: vec![],
                home: "/root".into()
            }
        );
        let a = r("alice").unwrap();
        assert_eq!(
            (a.uid, a.gid, a.additional_gids.clone(), a.home.as_str()),
            (1000, 1000, vec![50, 10], "/home/alice")
        );
        assert_eq!(r("1000").unwrap(), a);
        let n = r("nobody").unwrap();
        assert_eq!((n.uid, n.gid), (65534, 65534));
        let ag = r("alice:staff").unwrap();
        assert_eq!((ag.uid, ag.gid, ag.additional_gids), (1000, 50, vec![10]));
        assert_eq!((r("alice:7").unwrap().gid), 7);
        let unknown = r("4242").unwrap();
        assert_eq!(
            (unknown.uid, unknown.gid, unknown.home.as_str()),
            (4242, 0, "/")
        );
        assert_eq!(r("4242:4343").unwrap().gid, 4343);
    }

    #[test]
    fn bad_users_are_errors_never_root() {
        assert_eq!(r("mallory"), Err(UserError::NoSuchUser("mallory".into())));
        assert_eq!(
            r("alice:nogroup2"),
            Err(UserError::NoSuchGroup("nogroup2".into()))
        );
        assert_eq!(r("4294967296"), Err(UserError::BadId("4294967296".into())));
        assert_eq!(r("2147483648"), Err(UserError::BadId("2147483648".into())));
        assert_eq!(
            r("1000:99999999999"),
            Err(UserError::BadId("99999999999".into()))
        );
        assert!(matches!(r("1000:"), Err(UserError::Bad(_))));
        assert!(matches!(r(":0"), Err(UserError::Bad(_))));
        assert!(matches!(r("-1"), Err(UserError::NoSuchUser(_))));
    }
}
