//! The container side: stage 1 (namespaces) and init (rootfs, process, exec).
//! Both run in forked children; they report failures over the sync channel
//! and leave with `_exit`, never returning into the runtime's code.

use super::channel::{Channel, Msg};
use super::console;
use super::setup::{prepare_process, reset_signals};
use super::Launch;
use crate::cgroups::SelfJoin;
use crate::container::state::hook_state;
use crate::namespaces::{self, Plan};
use crate::rootfs::{new_ns, Rootfs};
use crate::{hooks, sched, seccomp, sys};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

pub(super) fn fail(chan: &Channel, msg: String) -> ! {
    let _ = chan.send(&Msg::Error(msg));
    unsafe { libc::_exit(1) }
}

fn expect(chan: &Channel, want: &str) -> Result<Msg, String> {
    match chan.recv() {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(format!("runtime went away while waiting for {want}")),
        Err(e) => Err(format!("sync socket: {e}")),
    }
}

/// Stage 1: joins and creates namespaces, then clones init into them.
pub fn stage1(l: &Launch, plan: &Plan, join: Option<&SelfJoin>, chan: Channel) -> ! {
    let r = (|| -> Result<(), String> {
        // First: joining namespaces (a user namespace above all) could cost
        // the right to write the host's cgroup files.
        if let Some(j) = join {
            j.join()
                .map_err(|e| format!("joining the container's cgroup: {e}"))?;
        }
        plan.join_all().map_err(|e| e.to_string())?;
        if plan.new_user {
            nix::sched::unshare(CloneFlags::CLONE_NEWUSER)
                .map_err(|e| format!("creating user namespace: {e}"))?;
        }
        chan.send(&Msg::Stage1Ready).map_err(|e| e.to_string())?;
        // The cgroup namespace must be made after the parent has put us in
        // the container's cgroup; the others need not wait. Without a user
        // namespace they are made while the parent writes cgroup.procs (a
        // slow write on cgroup v1).
        // Raw bits: CLONE_NEWTIME is not a flag nix knows, and `!` on
        // bitflags would drop it.
        let rest = CloneFlags::from_bits_retain(plan.new.bits() & !libc::CLONE_NEWCGROUP);
        if !plan.new_user {
            plan.unshare(rest).map_err(|e| e.to_string())?;
        }
        match expect(&chan, "id maps")? {
            Msg::Ack => {}
            Msg::Error(e) => return Err(e),
            m => return Err(format!("unexpected {m:?}")),
        }
        if plan.new_user {
            // Become the namespace's root (the mapped uid 0) for the setup.
            nix::unistd::setresgid(0.into(), 0.into(), 0.into())
                .map_err(|e| format!("setresgid(0) in user namespace: {e}"))?;
            nix::unistd::setresuid(0.into(), 0.into(), 0.into())
                .map_err(|e| format!("setresuid(0) in user namespace: {e}"))?;
            plan.unshare(rest).map_err(|e| e.to_string())?;
        }
        plan.unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| e.to_string())?;
        if new_ns(l.spec, LinuxNamespaceType::Time) {
            namespaces::write_time_offsets(l.spec).map_err(|e| e.to_string())?;
        }
        // SAFETY: single-threaded child.
        let pid = unsafe { sys::clone_fork(libc::CLONE_PARENT as libc::c_ulong) }
            .map_err(|e| format!("clone: {e}"))?;
        if pid == 0 {
            init(l, plan, chan_dup(&chan));
        }
        chan.send(&Msg::InitPid(pid)).map_err(|e| e.to_string())?;
        Ok(())
    })();
    match r {
        Ok(()) => unsafe { libc::_exit(0) },
        Err(e) => fail(&chan, e),
    }
}

/// The same socket, for init: both stages hold it; stage 1 exits at once.
pub(super) fn chan_dup(c: &Channel) -> Channel {
    Channel(
        c.0.try_clone()
            .unwrap_or_else(|_| unsafe { libc::_exit(1) }),
    )
}

fn init(l: &Launch, plan: &Plan, chan: Channel) -> ! {
    match init_inner(l, plan, &chan) {
        Ok(never) => match never {},
        Err(e) => fail(&chan, e),
    }
}

enum Never {}

fn init_inner(l: &Launch, plan: &Plan, chan: &Channel) -> Result<Never, String> {
    reset_signals();
    // Nothing of the runtime's, nor of its caller's (conmon leaves fds 3-5),
    // reaches the container's process, except what --preserve-fds keeps.
    sys::cloexec_from(3u32.saturating_add(l.preserve_fds))
        .map_err(|e| format!("close_range: {e}"))?;
    let host_pid = match expect(chan, "go")? {
        Msg::Go { host_pid } => host_pid,
        m => return Err(format!("unexpected {m:?}")),
    };
    nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
    let spec = l.spec;
    // Compiled (and its listenerPath connected, a host path) before
    // pivot_root and Ready: a bad profile fails `create`.
    let seccomp = seccomp::prepare(spec).map_err(|e| format!("seccomp: {e}"))?;
    let seccomp_state = |status: &str| hook_state(spec, l.id, status, host_pid, l.bundle);
    let rootfs = Rootfs {
        spec,
        rootfs: l.rootfs,
        bundle: l.bundle,
        userns: plan.new_user
            || plan
                .join
                .iter()
                .any(|(t, _, _)| *t == LinuxNamespaceType::User),
        cgroupns: new_ns(spec, LinuxNamespaceType::Cgroup),
    };
    rootfs.prepare().map_err(|e| e.to_string())?;

    chan.send(&Msg::RunHooks).map_err(|e| e.to_string())?;
    match expect(chan, "hooks")? {
        Msg::HooksDone => {}
        m => return Err(format!("unexpected {m:?}")),
    }
    let hooks = spec.hooks().clone().unwrap_or_default();
    if let Some(h) = hooks.create_container() {
        let st = hook_state(spec, l.id, "creating", host_pid, l.bundle);
        hooks::run("createContainer", h, &st).map_err(|e| e.to_string())?;
    }

    rootfs.pivot(l.no_pivot).map_err(|e| e.to_string())?;

    let process = spec.process().as_ref();
    if process.and_then(|p| p.terminal()).unwrap_or(false) {
        setup_console(l, process)?;
    }

    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).map_err(|e| format!("sethostname: {e}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        let c = CString::new(d).map_err(|_| "bad domainname".to_string())?;
        if unsafe { libc::setdomainname(c.as_ptr(), d.len()) } != 0 {
            return Err(format!(
                "setdomainname: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    // As runc: sysctls before the read-only and masked paths (which
    // usually include /proc/sys).
    write_sysctls(spec)?;
    rootfs.finalize().map_err(|e| e.to_string())?;
    if new_ns(spec, LinuxNamespaceType::Network) {
        namespaces::loopback_up().map_err(|e| format!("bringing up lo: {e}"))?;
    }
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        sched::set_personality(p).map_err(|e| e.to_string())?;
    }

    let Some(process) = process else {
        // No process: the container can be created; `start` will refuse it.
        chan.send(&Msg::Ready).map_err(|e| e.to_string())?;
        wait_for_start(l)?;
        unsafe { libc::_exit(1) }
    };
    if let Some(sc) = &seccomp {
        // Without noNewPrivileges, loading needs CAP_SYS_ADMIN: now, before
        // the capabilities are dropped (a no-op otherwise).
        sc.install_at(seccomp::Stage::Privileged, host_pid, seccomp_state)
            .map_err(|e| format!("seccomp: {e}"))?;
    }
    let exec = prepare_process(process)?;

    // From now on a process exec'd into the container could look at us:
    // not dumpable, so /proc/<init>/exe (the runtime's binary) stays out of
    // its reach until our execve (CVE-2019-5736 class). Only now: our own
    // /proc/self writes are done (a non-dumpable process's /proc files
    // belong to the host's root).
    nix::sys::prctl::set_dumpable(false).map_err(|e| format!("prctl(PR_SET_DUMPABLE): {e}"))?;
    chan.send(&Msg::Ready).map_err(|e| e.to_string())?;
    wait_for_start(l)?;

    if let Some(h) = hooks.start_container() {
        let st = hook_state(spec, l.id, "created", host_pid, l.bundle);
        if let Err(e) = hooks::run("startContainer", h, &st) {
            start_failed(l, &e.to_string(), 1);
        }
    }
    if let Some(sc) = &seccomp {
        if let Err(e) = sc.install_at(seccomp::Stage::BeforeExec, host_pid, seccomp_state) {
            start_failed(l, &format!("seccomp: {e}"), 1);
        }
    }
    let err = nix::unistd::execve(&exec.path, &exec.args, &exec.env).unwrap_err();
    start_failed(l, &format!("exec {:?} failed: {err}", exec.path), 127)
}

/// After `start` released us: tell it why the process will not run, and go.
fn start_failed(l: &Launch, msg: &str, code: i32) -> ! {
    let _ = nix::unistd::write(l.reply, msg.as_bytes());
    eprintln!("{msg}");
    unsafe { libc::_exit(code) }
}

/// Blocks until `start` writes the byte into the exec fifo.
fn wait_for_start(l: &Launch) -> Result<(), String> {
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(l.fifo.as_raw_fd(), &mut b) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("waiting on exec fifo: {e}")),
        }
    }
}

fn setup_console(l: &Launch, p: Option<&Process>) -> Result<(), String> {
    let sock = l
        .console
        .ok_or("terminal requested but no console socket")?;
    let size = p
        .and_then(|p| p.console_size())
        .map(|b| (b.height() as u16, b.width() as u16));
    let (master, slave) = console::open_pty(size).map_err(|e| format!("creating pty: {e}"))?;
    // /dev/console is the pty, mounted by fd.
    let root = sys::openat2(
        unsafe { std::os::fd::BorrowedFd::borrow_raw(libc::AT_FDCWD) },
        Path::new("/"),
        libc::O_PATH,
        0,
        0,
    )
    .map_err(|e| format!("open /: {e}"))?;
    // A fresh file: an image's /dev/console symlink is replaced, never
    // followed (CVE-2025-52565 class).
    let target = crate::rootfs::paths::fresh_file(root.as_fd(), Path::new("/dev/console"), 0o600)
        .map_err(|e| format!("/dev/console: {e}"))?;
    let tree =
        sys::open_tree_clone(slave.as_fd(), false).map_err(|e| format!("/dev/console: {e}"))?;
    sys::move_mount_fd(tree.as_fd(), target.as_fd())
        .map_err(|e| format!("mounting /dev/console: {e}"))?;
    console::send_fd(sock.as_fd(), "/dev/ptmx", master.as_fd())
        .map_err(|e| format!("sending pty master: {e}"))?;
    drop(master);
    console::attach_stdio(&slave).map_err(|e| format!("console as stdio: {e}"))
}

/// `linux.sysctl`, written under the container's /proc/sys after checking
/// that it really is procfs (an image cannot redirect the writes).
fn write_sysctls(spec: &Spec) -> Result<(), String> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().clone()) else {
        return Ok(());
    };
    if sysctl.is_empty() {
        return Ok(());
    }
    let dir = sys::openat2(
        unsafe { std::os::fd::BorrowedFd::borrow_raw(libc::AT_FDCWD) },
        Path::new("/proc/sys"),
        libc::O_DIRECTORY | libc::O_RDONLY,
        0,
        sys::RESOLVE_NO_MAGICLINKS,
    )
    .map_err(|e| format!("opening /proc/sys: {e}"))?;
    check_procfs(dir.as_raw_fd(), "/proc/sys")?;
    for (k, v) in sysctl {
        let rel = k.replace('.', "/");
        let f = sys::openat2(
            dir.as_fd(),
            Path::new(&rel),
            libc::O_WRONLY | libc::O_TRUNC,
            0,
            sys::RESOLVE_BENEATH | sys::RESOLVE_NO_MAGICLINKS,
        )
        .map_err(|e| format!("sysctl {k}: {e}"))?;
        check_procfs(f.as_raw_fd(), &k)?;
        nix::unistd::write(&f, v.as_bytes()).map_err(|e| format!("sysctl {k}={v}: {e}"))?;
    }
    Ok(())
}

fn check_procfs(fd: i32, what: &str) -> Result<(), String> {
    let st = nix::sys::statfs::fstatfs(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })
        .map_err(|e| format!("statfs {what}: {e}"))?;
    if st.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(format!("{what} is not on procfs; refusing to write to it"));
    }
    Ok(())
}
