//! The cgroup v2 device filter: v2 has no devices controller, so, as runc
//! and crun do, the rules become an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE)
//! attached to the container's cgroup. libcgroups only does this behind its
//! `cgroupsv2_devices` feature, which needs libbpf; this is a small
//! self-contained version: the rules are first reduced the way the v1
//! controller would evaluate them (so both paths mean the same thing), then
//! compiled to straight-line checks, and loaded with bpf(2).

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

const ACC_MKNOD: u32 = 1;
const ACC_READ: u32 = 2;
const ACC_WRITE: u32 = 4;
const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;
const DEV_BLOCK: u32 = 1;
const DEV_CHAR: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum DeviceFilterError {
    #[error("device rule: invalid access {0:?}")]
    Access(String),
    #[error("device rule: type {0:?} cannot be filtered on cgroup v2")]
    Type(String),
    #[error("loading the device filter: {source}{log}")]
    Load { source: std::io::Error, log: String },
    #[error("attaching the device filter to {path}: {source}")]
    Attach {
        path: String,
        source: std::io::Error,
    },
}

/// One rule after reduction: type (None: any), major/minor (None: any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub typ: Option<u32>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u32,
}

/// What the v1 devices controller would end up with after the rules, in
/// order: a default (allow or deny) and exceptions to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reduced {
    pub default_allow: bool,
    pub exceptions: Vec<Rule>,
}

fn access_bits(a: Option<&str>) -> Result<u32, DeviceFilterError> {
    let a = a.unwrap_or("rwm");
    let mut bits = 0;
    for c in a.chars() {
        bits |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => return Err(DeviceFilterError::Access(a.to_string())),
        };
    }
    Ok(if bits == 0 { ACC_ALL } else { bits })
}

fn num(v: Option<i64>) -> Option<u32> {
    v.filter(|x| *x >= 0).map(|x| x as u32)
}

/// The v1 controller's semantics: a wildcard rule (`a`, or every field
/// wild with all access) resets the default and drops the exceptions; a
/// rule that agrees with the default removes the access it names from
/// matching exceptions; any other rule adds an exception.
pub fn reduce(rules: &[LinuxDeviceCgroup]) -> Result<Reduced, DeviceFilterError> {
    // runc's starting point: deny everything not allowed.
    let mut r = Reduced {
        default_allow: false,
        exceptions: Vec::new(),
    };
    for d in rules {
        let typ = match d.typ() {
            None | Some(LinuxDeviceType::A) => None,
            Some(LinuxDeviceType::B) => Some(DEV_BLOCK),
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Some(DEV_CHAR),
            Some(t @ LinuxDeviceType::P) => {
                return Err(DeviceFilterError::Type(t.as_str().to_string()))
            }
        };
        let rule = Rule {
            typ,
            major: num(d.major()),
            minor: num(d.minor()),
            access: access_bits(d.access().as_deref())?,
        };
        let wildcard = rule.typ.is_none() && rule.major.is_none() && rule.minor.is_none();
        if wildcard && rule.access == ACC_ALL {
            r.default_allow = d.allow();
            r.exceptions.clear();
        } else if d.allow() == r.default_allow {
            for e in r.exceptions.iter_mut() {
                if e.typ == rule.typ && e.major == rule.major && e.minor == rule.minor {
                    e.access &= !rule.access;
                }
            }
            r.exceptions.retain(|e| e.access != 0);
        } else if !r.exceptions.contains(&rule) {
            r.exceptions.push(rule);
        }
    }
    Ok(r)
}

/// One eBPF instruction (struct bpf_insn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0xf),
        off,
        imm,
    }
}

const LDX_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const AND_K: u8 = 0x57;
const RSH_K: u8 = 0x77;
const MOV_K: u8 = 0xb7;
const MOV_X: u8 = 0xbf;
const JNE_K: u8 = 0x55; // if dst != imm: pc += off
const EXIT: u8 = 0x95;

/// The program: r2 = type, r3 = access, r4 = major, r5 = minor (from
/// struct bpf_cgroup_dev_ctx), then one block per exception returning the
/// opposite of the default, then the default. Returns 1 to allow.
pub fn compile(r: &Reduced) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    let verdict = |allow: bool| [insn(MOV_K, 0, 0, 0, allow as i32), insn(EXIT, 0, 0, 0, 0)];
    for e in &r.exceptions {
        // Jumps are patched to skip the rest of the block once its length
        // is known.
        let mut b: Vec<Insn> = Vec::new();
        if let Some(t) = e.typ {
            b.push(insn(JNE_K, 2, 0, 0, t as i32));
        }
        if e.access != ACC_ALL {
            // Asked-for access outside the rule's: not this rule.
            b.push(insn(MOV_X, 1, 3, 0, 0));
            b.push(insn(AND_K, 1, 0, 0, (!e.access & ACC_ALL) as i32));
            b.push(insn(JNE_K, 1, 0, 0, 0));
        }
        if let Some(m) = e.major {
            b.push(insn(JNE_K, 4, 0, 0, m as i32));
        }
        if let Some(m) = e.minor {
            b.push(insn(JNE_K, 5, 0, 0, m as i32));
        }
        b.extend(verdict(!r.default_allow));
        let n = b.len();
        for (i, x) in b.iter_mut().enumerate() {
            if x.code == JNE_K {
                x.off = (n - i - 1) as i16;
            }
        }
        p.extend(b);
    }
    p.extend(verdict(r.default_allow));
    p
}

/// The devices every container gets, after its own rules (as libcgroups'
/// v1 controller and runc add them): mknod of anything, and the standard
/// character devices.
pub fn default_rules() -> Vec<LinuxDeviceCgroup> {
    let rule = |typ, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true);
        r.set_typ(Some(typ));
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some(access.to_string()));
        r
    };
    use LinuxDeviceType::{B, C};
    vec![
        rule(C, None, None, "m"),
        rule(B, None, None, "m"),
        rule(C, Some(1), Some(3), "rwm"),    // null
        rule(C, Some(1), Some(5), "rwm"),    // zero
        rule(C, Some(1), Some(7), "rwm"),    // full
        rule(C, Some(1), Some(8), "rwm"),    // random
        rule(C, Some(1), Some(9), "rwm"),    // urandom
        rule(C, Some(5), Some(0), "rwm"),    // tty
        rule(C, Some(5), Some(1), "rwm"),    // console
        rule(C, Some(5), Some(2), "rwm"),    // ptmx
        rule(C, Some(136), None, "rwm"),     // pts
        rule(C, Some(10), Some(200), "rwm"), // tun
    ]
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    // The kernel wants the rest of union bpf_attr zeroed.
    _pad: [u64; 12],
}

#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _pad: [u32; 11],
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> libc::c_long {
    // SAFETY: attr is a live, properly sized bpf_attr prefix for `cmd`.
    unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as u32,
        )
    }
}

pub fn load(prog: &[Insn]) -> Result<OwnedFd, DeviceFilterError> {
    let license = b"Apache\0";
    let mut log = vec![0u8; 64 * 1024];
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        ..Default::default()
    };
    let fd = bpf(BPF_PROG_LOAD, &mut attr);
    if fd < 0 {
        let source = std::io::Error::last_os_error();
        let end = log.iter().position(|b| *b == 0).unwrap_or(0);
        let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
        let log = if text.is_empty() {
            String::new()
        } else {
            format!(" (verifier: {text})")
        };
        return Err(DeviceFilterError::Load { source, log });
    }
    // SAFETY: a new fd from bpf(2), ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// v1: writes `rules`, then the defaults, to `devices.allow`/`devices.deny`
/// of `dir`, in order, as libcgroups' v1 controller does.
pub fn apply_v1(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), super::CgroupError> {
    for r in rules.iter().cloned().chain(default_rules()) {
        let f = dir.join(if r.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        });
        std::fs::write(&f, r.to_string()).map_err(|source| super::CgroupError::Io {
            path: f,
            what: "writing a device rule",
            source,
        })?;
    }
    Ok(())
}

/// Compiles `rules` (plus the defaults) and attaches the program to the v2
/// cgroup directory `dir`.
pub fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), DeviceFilterError> {
    let mut all = rules.to_vec();
    all.extend(default_rules());
    attach(dir, &compile(&reduce(&all)?))
}

fn attach(dir: &Path, prog: &[Insn]) -> Result<(), DeviceFilterError> {
    let prog = load(prog)?;
    let attach_err = |source| DeviceFilterError::Attach {
        path: dir.display().to_string(),
        source,
    };
    let cg = std::fs::File::open(dir).map_err(attach_err)?;
    let mut attr = ProgAttachAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    if bpf(BPF_PROG_ATTACH, &mut attr) < 0 {
        return Err(attach_err(std::io::Error::last_os_error()));
    }
    // The attachment holds the program; our fd may go.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(v: serde_json::Value) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_value(v).unwrap()
    }

    /// Runs the compiled program on (type, access, major, minor): a tiny
    /// interpreter for the instructions we emit.
    fn run(p: &[Insn], typ: u32, access: u32, major: u32, minor: u32) -> bool {
        let ctx = [(access << 16) | typ, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = ctx[(i.off / 4) as usize] as u64,
                AND_K => r[dst] &= i.imm as u32 as u64,
                RSH_K => r[dst] >>= i.imm,
                MOV_K => r[dst] = i.imm as u64,
                MOV_X => r[dst] = r[src],
                JNE_K => {
                    if r[dst] != i.imm as u32 as u64 {
                        pc += i.off as usize;
                    }
                }
                EXIT => return r[0] == 1,
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn whitelist_as_containerd_sends_it() {
        let mut all = rules(json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
            {"allow": false, "type": "c", "major": 10, "minor": 229, "access": "w"}
        ]));
        all.extend(default_rules());
        let red = reduce(&all).unwrap();
        assert!(!red.default_allow);
        let p = compile(&red);
        let (r, w, m) = (ACC_READ, ACC_WRITE, ACC_MKNOD);
        assert!(run(&p, DEV_CHAR, r | w, 1, 3));
        assert!(run(&p, DEV_CHAR, r, 10, 229));
        assert!(!run(&p, DEV_CHAR, w, 10, 229), "later deny narrows access");
        assert!(!run(&p, DEV_CHAR, r, 10, 230));
        assert!(!run(&p, DEV_BLOCK, r, 8, 0));
        assert!(run(&p, DEV_BLOCK, m, 8, 0), "mknod of anything");
        assert!(run(&p, DEV_CHAR, r | w, 136, 7), "pts");
    }

    #[test]
    fn blacklist_and_reset() {
        let red = reduce(&rules(json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3},
            {"allow": true, "access": "rwm"},
            {"allow": false, "type": "b", "major": 8, "access": "rw"}
        ])))
        .unwrap();
        assert!(red.default_allow);
        assert_eq!(red.exceptions.len(), 1);
        let p = compile(&red);
        assert!(run(&p, DEV_CHAR, ACC_READ, 4, 1));
        assert!(!run(&p, DEV_BLOCK, ACC_READ, 8, 1));
        assert!(run(&p, DEV_BLOCK, ACC_MKNOD, 8, 1));
    }

    /// The program on a real cgroup v2 directory (the v2 root on v2 hosts,
    /// the `unified` hierarchy on hybrid ones): /dev/zero readable, /dev/full
    /// refused.
    #[test]
    fn enforced_on_a_real_v2_cgroup() {
        use std::io::{Read, Write};
        use std::process::{Command, Stdio};
        let is_v2 = |p: &str| {
            nix::sys::statfs::statfs(p)
                .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
                .unwrap_or(false)
        };
        let root = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .into_iter()
            .find(|p| is_v2(p));
        let Some(root) = root.filter(|_| nix::unistd::geteuid().is_root()) else {
            eprintln!("no writable cgroup v2 hierarchy: skipped");
            return;
        };
        let dir = Path::new(root).join(format!("oxrun-devfilter-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let mut child = Command::new("sh")
            .args(["-c", "read x; head -c1 /dev/zero && head -c1 /dev/full"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).unwrap();
        let red = reduce(&rules(json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"}
        ])))
        .unwrap();
        let res = attach(&dir, &compile(&red));
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let mut out = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
        let st = child.wait().unwrap();
        let _ = std::fs::remove_dir(&dir);
        res.unwrap();
        assert_eq!(out, vec![0u8], "/dev/zero readable");
        assert!(!st.success(), "/dev/full must be refused");
    }

    #[test]
    fn bad_rules() {
        assert!(reduce(&rules(json!([{"allow": true, "access": "rwx"}]))).is_err());
        assert!(reduce(&rules(json!([{"allow": true, "type": "p"}]))).is_err());
    }
}
