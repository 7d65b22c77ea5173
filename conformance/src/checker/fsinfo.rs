//! Reading the container's view: mountinfo, /proc/self/status, file metadata.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

pub fn ns_inode(path: &str) -> std::io::Result<u64> {
    std::fs::metadata(path).map(|m| m.ino())
}

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone)]
pub struct MountInfo {
    pub mount_point: String,
    /// Per-mount options (ro, nosuid, ...).
    pub opts: Vec<String>,
    /// Optional fields (shared:N, master:N, ...).
    pub optional: Vec<String>,
    pub fstype: String,
    /// Superblock options (mode=, size=, ...).
    pub super_opts: Vec<String>,
}

impl MountInfo {
    pub fn has_opt(&self, o: &str) -> bool {
        self.opts.iter().any(|x| x == o)
    }

    pub fn propagation(&self) -> &'static str {
        if self.optional.iter().any(|o| o.starts_with("shared:")) {
            "shared"
        } else if self.optional.iter().any(|o| o.starts_with("master:")) {
            "slave"
        } else if self.optional.iter().any(|o| o == "unbindable") {
            "unbindable"
        } else {
            "private"
        }
    }
}

/// Mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn mountinfo() -> Vec<MountInfo> {
    parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
}

fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if pre.len() < 6 || post.len() < 3 {
                return None;
            }
            Some(MountInfo {
                mount_point: unescape(pre[4]),
                opts: pre[5].split(',').map(String::from).collect(),
                optional: pre[6..].iter().map(|s| s.to_string()).collect(),
                fstype: post[0].to_string(),
                super_opts: post[2].split(',').map(String::from).collect(),
            })
        })
        .collect()
}

/// The mount visible at `path`: the last (topmost) entry for that mount point.
pub fn mount_at<'a>(mounts: &'a [MountInfo], path: &str) -> Option<&'a MountInfo> {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    mounts.iter().rev().find(|m| m.mount_point == path)
}

/// Fields of /proc/self/status, e.g. `status_field("Umask")`.
pub fn status_field(name: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == name).then(|| v.trim().to_string())
    })
}

#[derive(Debug, PartialEq)]
pub struct Node {
    pub kind: char,
    pub major: u64,
    pub minor: u64,
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Type (c, b, p, d, f, l), device numbers and owner of `path`, not following symlinks.
pub fn node(path: &str) -> std::io::Result<Node> {
    let m = std::fs::symlink_metadata(path)?;
    let ft = m.file_type();
    let kind = if ft.is_char_device() {
        'c'
    } else if ft.is_block_device() {
        'b'
    } else if ft.is_fifo() {
        'p'
    } else if ft.is_dir() {
        'd'
    } else if ft.is_symlink() {
        'l'
    } else {
        'f'
    };
    let rdev = m.rdev();
    Ok(Node {
        kind,
        major: libc::major(rdev) as u64,
        minor: libc::minor(rdev) as u64,
        perm: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines() {
        let text = "76 53 254:0 /b/rootfs / ro,relatime shared:5 master:2 - ext4 /dev/vda rw\n\
                    83 82 0:46 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs rw,mode=755\n\
                    90 76 0:50 / /with\\040space rw - tmpfs tmpfs rw\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].mount_point, "/");
        assert!(m[0].has_opt("ro"));
        assert_eq!(m[0].propagation(), "shared");
        assert_eq!(m[1].fstype, "tmpfs");
        assert_eq!(m[1].super_opts, vec!["rw", "mode=755"]);
        assert_eq!(m[1].propagation(), "private");
        assert_eq!(m[2].mount_point, "/with space");
        assert_eq!(
            mount_at(&m, "/sys/fs/cgroup/").map(|x| x.fstype.as_str()),
            Some("tmpfs")
        );
    }

    #[test]
    fn slave_propagation() {
        let m = parse_mountinfo("1 0 0:1 / /x rw master:3 - tmpfs t rw\n");
        assert_eq!(m[0].propagation(), "slave");
    }
}
