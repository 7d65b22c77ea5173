//! Seccomp: `linux.seccomp` compiled into one classic BPF program and loaded
//! by init.
//!
//! seccompiler builds filters with a single match action, while a profile
//! mixes actions (ALLOW for most, ERRNO for some, NOTIFY...). So the rules
//! are grouped by action and each group is compiled by seccompiler with a
//! stand-in action, then the groups are chained: a group's "no match" return
//! becomes a jump to the next group, its "match" return the group's real
//! action. Groups are ordered conditional-before-unconditional, then most
//! restrictive first (the order the kernel uses between stacked filters).
//!
//! The program is compiled and the listener socket connected in init before
//! it reports ready (a bad profile fails `create`), and loaded with seccomp(2)
//! directly (for NOTIFY's listener fd and the flags seccompiler lacks).

mod syscalls;

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompArg, LinuxSeccompFilterFlag as Flag,
    LinuxSeccompOperator as Op, LinuxSyscall, Spec,
};
use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("syscall {name}: argument index {index} is out of range (0 to 5)")]
    ArgIndex { name: String, index: usize },
    #[error("compiling the filter: {0}")]
    Compile(String),
    #[error("the filter has {0} BPF instructions, more than the kernel's 4096")]
    TooLarge(usize),
    #[error("SCMP_ACT_NOTIFY is used but listenerPath is not set")]
    NoListener,
    #[error("SCMP_ACT_NOTIFY cannot be used as default action")]
    NotifyDefault,
    #[error("listenerMetadata is set but listenerPath is not")]
    MetadataWithoutListener,
    #[error(
        "SCMP_ACT_NOTIFY cannot be used for {0}: the runtime calls it after loading the filter"
    )]
    NotifyOn(String),
    #[error("seccomp is not supported on this architecture")]
    Arch,
    #[error("connecting to listenerPath {path}: {source}")]
    Connect { path: PathBuf, source: io::Error },
    #[error("loading the filter: {0}")]
    Load(io::Error),
    #[error("sending the seccomp listener fd to {path}: {source}")]
    Send { path: PathBuf, source: io::Error },
}

// Kernel ABI (linux/seccomp.h, linux/audit.h).
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;
const RET_DATA: u32 = 0xffff;
const SET_MODE_FILTER: libc::c_ulong = 1;
const GET_ACTION_AVAIL: libc::c_ulong = 2;
pub const FLAG_TSYNC: u32 = 1;
pub const FLAG_LOG: u32 = 2;
pub const FLAG_SPEC_ALLOW: u32 = 4;
pub const FLAG_NEW_LISTENER: u32 = 8;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 32;
const BPF_MAXINSNS: usize = 4096;

#[cfg(target_arch = "x86_64")]
const NATIVE: (TargetArch, u32, &str) = (TargetArch::x86_64, 0xc000_003e, "SCMP_ARCH_X86_64");
#[cfg(target_arch = "aarch64")]
const NATIVE: (TargetArch, u32, &str) = (TargetArch::aarch64, 0xc000_00b7, "SCMP_ARCH_AARCH64");
#[cfg(target_arch = "riscv64")]
const NATIVE: (TargetArch, u32, &str) = (TargetArch::riscv64, 0xc000_00f3, "SCMP_ARCH_RISCV64");

/// The architecture whose syscalls oxrun filters (the native one: a
/// profile's other `architectures` are accepted but not compiled).
pub fn native_arch() -> &'static str {
    NATIVE.2
}

/// The syscall number on this architecture, if it has that syscall.
pub fn syscall_nr(name: &str) -> Option<i64> {
    syscalls::TABLE
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| syscalls::TABLE[i].1)
}

/// The filter return value of a profile action (errnoRet defaults to EPERM
/// for ERRNO and TRACE, as runc's).
pub fn action_value(act: Act, errno_ret: Option<u32>) -> u32 {
    let data = errno_ret.unwrap_or(libc::EPERM as u32) & RET_DATA;
    match act {
        Act::ScmpActKill | Act::ScmpActKillThread => RET_KILL_THREAD,
        Act::ScmpActKillProcess => RET_KILL_PROCESS,
        Act::ScmpActTrap => RET_TRAP,
        Act::ScmpActErrno => RET_ERRNO | data,
        Act::ScmpActTrace => RET_TRACE | data,
        Act::ScmpActLog => RET_LOG,
        Act::ScmpActAllow => RET_ALLOW,
        Act::ScmpActNotify => RET_USER_NOTIF,
    }
}

/// The kernel orders actions by their high half as a signed number: lower
/// is more restrictive.
fn restrictiveness(ret: u32) -> (i32, u32) {
    ((ret & 0xffff_0000) as i32, ret)
}

fn permissive(ret: u32) -> bool {
    matches!(ret & 0xffff_0000, RET_ALLOW | RET_LOG)
}

pub fn flag_bit(f: Flag) -> u32 {
    match f {
        Flag::SeccompFilterFlagTsync => FLAG_TSYNC,
        Flag::SeccompFilterFlagLog => FLAG_LOG,
        Flag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
        Flag::SeccompFilterFlagWaitKillableRecv => FLAG_WAIT_KILLABLE_RECV,
    }
}

/// Whether the running kernel knows a filter flag: seccomp(2) with a NULL
/// program fails with EFAULT once the flags have passed its checks, EINVAL
/// before (libseccomp probes the same way).
pub fn kernel_has_flag(bit: u32) -> bool {
    // WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER.
    let flags = if bit == FLAG_WAIT_KILLABLE_RECV {
        bit | FLAG_NEW_LISTENER
    } else {
        bit
    };
    // SAFETY: a NULL program is never dereferenced past the EFAULT check.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SET_MODE_FILTER,
            flags as libc::c_ulong,
            std::ptr::null::<libc::c_void>(),
        )
    };
    r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

/// Whether the running kernel implements a filter return action.
pub fn kernel_has_action(ret: u32) -> bool {
    let action: u32 = ret & 0xffff_0000;
    // SAFETY: the kernel reads one u32.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            GET_ACTION_AVAIL,
            0 as libc::c_ulong,
            &action as *const u32,
        )
    };
    r == 0
}

/// Every flag the spec defines, by its spec name.
pub const KNOWN_FLAGS: [(Flag, &str); 4] = [
    (Flag::SeccompFilterFlagTsync, "SECCOMP_FILTER_FLAG_TSYNC"),
    (Flag::SeccompFilterFlagLog, "SECCOMP_FILTER_FLAG_LOG"),
    (
        Flag::SeccompFilterFlagSpecAllow,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    ),
    (
        Flag::SeccompFilterFlagWaitKillableRecv,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ),
];

/// A compiled profile.
#[derive(Debug, Clone)]
pub struct Program {
    pub filter: BpfProgram,
    /// seccomp(2) flags, NEW_LISTENER included when NOTIFY is used.
    pub flags: u32,
    /// Syscall names this architecture does not have (skipped, as runc does).
    pub skipped: Vec<String>,
}

impl Program {
    pub fn notify(&self) -> bool {
        self.flags & FLAG_NEW_LISTENER != 0
    }
}

/// One group: the rules of one action, all conditional or all not.
type Rules = BTreeMap<i64, Vec<SeccompRule>>;

/// Compiles a profile. Pure: touches nothing but the kernel flag probes.
pub fn compile(p: &LinuxSeccomp) -> Result<Program, SeccompError> {
    // Every syscall init makes after loading would wait on the agent, the
    // sendmsg handing it the fd first (runc refuses it too).
    if p.default_action() == Act::ScmpActNotify {
        return Err(SeccompError::NotifyDefault);
    }
    let default = action_value(
        p.default_action(),
        p.default_errno_ret()
            .or(Some(libc::EPERM as u32))
            .filter(|_| p.default_action() == Act::ScmpActErrno),
    );
    // Keyed (unconditional?, restrictiveness): iteration order is the
    // order the groups are chained in.
    let mut groups: BTreeMap<(bool, (i32, u32)), Rules> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut notify = false;
    let mut max_nr = -1i64;
    for rule in p.syscalls().iter().flatten() {
        let ret = action_value(rule.action(), rule.errno_ret());
        let conds = conditions(rule)?;
        for name in rule.names() {
            let Some(nr) = syscall_nr(name) else {
                skipped.push(name.clone());
                continue;
            };
            max_nr = max_nr.max(nr);
            if rule.action() == Act::ScmpActNotify {
                // Init writes to the sync socket and sends the listener fd
                // after loading: notifying those would wait on an agent that
                // has no fd yet (runc refuses `write` for the same reason).
                if matches!(name.as_str(), "write" | "sendmsg") {
                    return Err(SeccompError::NotifyOn(name.clone()));
                }
                notify = true;
            }
            // The default applies anyway (runc skips these too).
            if ret == default {
                continue;
            }
            let Some(conds) = &conds else {
                continue; // a condition that can never hold
            };
            let key = (conds.is_empty(), restrictiveness(ret));
            let entry = groups.entry(key).or_default().entry(nr).or_default();
            entry.extend(conds.iter().cloned());
        }
    }

    let foreign = if permissive(default) || default & 0xffff_0000 == RET_TRACE {
        // Syscalls of another ABI cannot be matched against the rules; a
        // permissive default would let them bypass the denials.
        RET_ERRNO | libc::ENOSYS as u32
    } else {
        default
    };
    let mut prog = prelude(foreign);
    // runc's ENOSYS stub: syscalls newer than any the profile names fail
    // with ENOSYS (so that libc falls back, e.g. clone3 to clone) rather
    // than with the default errno.
    if !permissive(default) && default != RET_ERRNO | libc::ENOSYS as u32 && max_nr >= 0 {
        prog.push(jump(BPF_JGT, max_nr as u32, 0, 1));
        prog.push(ret(RET_ERRNO | libc::ENOSYS as u32));
    }
    for ((_, (_, real)), rules) in groups {
        prog.extend(group(rules, real)?);
    }
    prog.push(ret(default));
    if prog.len() > BPF_MAXINSNS {
        return Err(SeccompError::TooLarge(prog.len()));
    }

    let mut flags = 0;
    for f in p.flags().iter().flatten() {
        let bit = flag_bit(*f);
        if bit == FLAG_WAIT_KILLABLE_RECV && !notify {
            continue; // only meaningful with a listener
        }
        if kernel_has_flag(bit) {
            flags |= bit;
        } else {
            crate::log::debug(&format!("seccomp: kernel lacks flag {f}, ignored"));
        }
    }
    if notify {
        // TSYNC with a listener needs TSYNC_ESRCH; init is single-threaded,
        // so TSYNC is moot.
        flags = (flags & !FLAG_TSYNC) | FLAG_NEW_LISTENER;
    }
    if !skipped.is_empty() {
        crate::log::debug(&format!(
            "seccomp: syscalls unknown on {}, skipped: {}",
            native_arch(),
            skipped.join(" ")
        ));
    }
    Ok(Program {
        filter: prog,
        flags,
        skipped,
    })
}

/// The rule's argument conditions as seccompiler rules: `Some(vec![])` for
/// an unconditional rule, `None` for one that can never match. As runc: when
/// an argument index repeats, each condition is a rule of its own (OR);
/// otherwise all must hold (AND).
fn conditions(rule: &LinuxSyscall) -> Result<Option<Vec<SeccompRule>>, SeccompError> {
    let args: &[LinuxSeccompArg] = rule.args().as_deref().unwrap_or(&[]);
    if args.is_empty() {
        return Ok(Some(vec![]));
    }
    let name = rule.names().first().cloned().unwrap_or_default();
    let mut count = [0usize; 6];
    let mut conds = Vec::new();
    for a in args {
        if a.index() > 5 {
            return Err(SeccompError::ArgIndex {
                name,
                index: a.index(),
            });
        }
        count[a.index()] += 1;
        conds.push(condition(a)?);
    }
    let compile_err = |e: seccompiler::BackendError| SeccompError::Compile(e.to_string());
    if count.iter().any(|c| *c > 1) {
        let rules = conds
            .into_iter()
            .flatten()
            .map(|c| SeccompRule::new(vec![c]).map_err(compile_err))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((!rules.is_empty()).then_some(rules));
    }
    match conds.into_iter().collect::<Option<Vec<_>>>() {
        Some(c) => Ok(Some(vec![SeccompRule::new(c).map_err(compile_err)?])),
        None => Ok(None),
    }
}

/// One argument condition; `None` if it can never hold (libseccomp's
/// MASKED_EQ compares `arg & value` with `valueTwo` as given).
fn condition(a: &LinuxSeccompArg) -> Result<Option<SeccompCondition>, SeccompError> {
    let (op, value) = match a.op() {
        Op::ScmpCmpNe => (SeccompCmpOp::Ne, a.value()),
        Op::ScmpCmpLt => (SeccompCmpOp::Lt, a.value()),
        Op::ScmpCmpLe => (SeccompCmpOp::Le, a.value()),
        Op::ScmpCmpEq => (SeccompCmpOp::Eq, a.value()),
        Op::ScmpCmpGe => (SeccompCmpOp::Ge, a.value()),
        Op::ScmpCmpGt => (SeccompCmpOp::Gt, a.value()),
        Op::ScmpCmpMaskedEq => {
            let want = a.value_two().unwrap_or(0);
            if want & !a.value() != 0 {
                return Ok(None);
            }
            (SeccompCmpOp::MaskedEq(a.value()), want)
        }
    };
    SeccompCondition::new(a.index() as u8, SeccompCmpArgLen::Qword, op, value)
        .map(Some)
        .map_err(|e| SeccompError::Compile(e.to_string()))
}

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP: u16 = 0x05;
const BPF_JA: u16 = BPF_JMP;
const BPF_JEQ: u16 = BPF_JMP | 0x10;
const BPF_JGT: u16 = BPF_JMP | 0x20;
const BPF_JGE: u16 = BPF_JMP | 0x30;
const BPF_RET_K: u16 = 0x06;
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

fn ret(k: u32) -> sock_filter {
    sock_filter {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

fn load(off: u32) -> sock_filter {
    sock_filter {
        code: BPF_LD_W_ABS,
        jt: 0,
        jf: 0,
        k: off,
    }
}

/// Arch check once for all groups; on x86_64 also the x32 ABI (same audit
/// arch, syscall numbers with bit 30 set), which the rules do not cover.
fn prelude(foreign: u32) -> BpfProgram {
    let mut p = vec![
        load(DATA_ARCH),
        jump(BPF_JEQ, NATIVE.1, 1, 0),
        ret(foreign),
        load(DATA_NR),
    ];
    if cfg!(target_arch = "x86_64") {
        p.push(jump(BPF_JGE, 0x4000_0000, 0, 1));
        p.push(ret(foreign));
    }
    p
}

/// One group compiled by seccompiler with ALLOW as the stand-in match action
/// and KILL_THREAD as the stand-in mismatch, then patched: ALLOW returns
/// become `real`, KILL_THREAD returns a jump past the group.
fn group(rules: Rules, real: u32) -> Result<BpfProgram, SeccompError> {
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::KillThread,
        SeccompAction::Allow,
        NATIVE.0,
    )
    .and_then(BpfProgram::try_from)
    .map_err(|e| SeccompError::Compile(e.to_string()))?;
    // seccompiler starts with its own 3-instruction arch check; ours is done.
    if filter.len() < 3 || filter[0] != load(DATA_ARCH) {
        return Err(SeccompError::Compile(
            "unexpected seccompiler output".into(),
        ));
    }
    let mut g: BpfProgram = filter[3..].to_vec();
    let len = g.len();
    for (i, ins) in g.iter_mut().enumerate() {
        if ins.code != BPF_RET_K {
            continue;
        }
        match ins.k {
            RET_ALLOW => ins.k = real,
            RET_KILL_THREAD => {
                *ins = sock_filter {
                    code: BPF_JA,
                    jt: 0,
                    jf: 0,
                    k: (len - i - 1) as u32,
                }
            }
            k => return Err(SeccompError::Compile(format!("unexpected return {k:#x}"))),
        }
    }
    Ok(g)
}

/// When the filter is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// While init still holds CAP_SYS_ADMIN, before the user switch and
    /// capability drop: without no_new_privs the kernel requires it (runc
    /// loads the filter at the same point then).
    Privileged,
    /// Right before execve: with no_new_privs, so that none of the
    /// runtime's own syscalls are filtered.
    BeforeExec,
}

/// A compiled profile with its listener connection, made in init before
/// pivot_root (listenerPath is a host path) and before init reports ready.
pub struct Prepared {
    program: Program,
    stage: Stage,
    listener: Option<Listener>,
}

struct Listener {
    path: PathBuf,
    sock: OwnedFd,
    metadata: Option<String>,
}

/// Compiles the spec's profile, if any, and connects to its listener.
pub fn prepare(spec: &Spec) -> Result<Option<Prepared>, SeccompError> {
    let Some(profile) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let nnp = spec
        .process()
        .as_ref()
        .and_then(|p| p.no_new_privileges())
        .unwrap_or(false);
    prepare_profile(profile, nnp).map(Some)
}

/// Compiles a profile for a process with or without no_new_privs, and
/// connects to its listener (call it while the host's listenerPath is
/// reachable: before pivot_root or joining the container's mount namespace).
pub fn prepare_profile(
    profile: &LinuxSeccomp,
    no_new_privileges: bool,
) -> Result<Prepared, SeccompError> {
    let program = compile(profile)?;
    if profile.listener_metadata().is_some() && profile.listener_path().is_none() {
        return Err(SeccompError::MetadataWithoutListener);
    }
    let listener = if program.notify() {
        let path = profile
            .listener_path()
            .clone()
            .filter(|p| !p.as_os_str().is_empty())
            .ok_or(SeccompError::NoListener)?;
        let sock: OwnedFd = std::os::unix::net::UnixStream::connect(&path)
            .map_err(|source| SeccompError::Connect {
                path: path.clone(),
                source,
            })?
            .into();
        Some(Listener {
            path,
            sock,
            metadata: profile.listener_metadata().clone(),
        })
    } else {
        None
    };
    Ok(Prepared {
        program,
        stage: if no_new_privileges {
            Stage::BeforeExec
        } else {
            Stage::Privileged
        },
        listener,
    })
}

impl Prepared {
    /// Loads the filter if `stage` is its stage, and hands a NOTIFY listener
    /// to the agent with the state `state(status)` returns.
    pub fn install_at(
        &self,
        stage: Stage,
        pid: i32,
        state: impl FnOnce(&str) -> String,
    ) -> Result<(), SeccompError> {
        if stage != self.stage {
            return Ok(());
        }
        let fd =
            load_filter(&self.program.filter, self.program.flags).map_err(SeccompError::Load)?;
        if let (Some(l), Some(fd)) = (&self.listener, fd) {
            let status = match stage {
                Stage::Privileged => "creating",
                Stage::BeforeExec => "created",
            };
            let msg = serde_json::json!({
                "ociVersion": crate::container::state::OCI_VERSION,
                "fds": ["seccompFd"],
                "pid": pid,
                "metadata": l.metadata.clone().unwrap_or_default(),
                "state": serde_json::from_str::<serde_json::Value>(&state(status))
                    .unwrap_or_default(),
            });
            send_with_fd(l.sock.as_fd(), msg.to_string().as_bytes(), fd.as_fd()).map_err(
                |source| SeccompError::Send {
                    path: l.path.clone(),
                    source,
                },
            )?;
            // One state per connection, closed after sending (spec); our
            // copy of the listener fd closes when `fd` drops.
            let _ =
                nix::sys::socket::shutdown(l.sock.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        }
        Ok(())
    }
}

/// seccomp(SECCOMP_SET_MODE_FILTER); the listener fd when NEW_LISTENER.
pub fn load_filter(prog: &[sock_filter], flags: u32) -> io::Result<Option<OwnedFd>> {
    #[repr(C)]
    struct SockFprog {
        len: libc::c_ushort,
        filter: *const sock_filter,
    }
    let fprog = SockFprog {
        len: prog.len() as libc::c_ushort,
        filter: prog.as_ptr(),
    };
    // SAFETY: fprog points at `prog`, alive for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SET_MODE_FILTER,
            flags as libc::c_ulong,
            &fprog as *const SockFprog,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & FLAG_NEW_LISTENER != 0 {
        // SAFETY: the kernel returned a new fd that nothing else owns.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(r as i32) }));
    }
    Ok(None)
}

/// One sendmsg carrying the whole message and the fd (SCM_RIGHTS).
fn send_with_fd(sock: BorrowedFd, data: &[u8], fd: BorrowedFd) -> io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let mut sent = sendmsg::<()>(
        sock.as_raw_fd(),
        &[io::IoSlice::new(data)],
        &cmsg,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(io::Error::from)?;
    while sent < data.len() {
        let n = nix::sys::socket::send(sock.as_raw_fd(), &data[sent..], MsgFlags::MSG_NOSIGNAL)
            .map_err(io::Error::from)?;
        sent += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
