//! Mounts: the spec's default filesystems, types and options, bind mounts,
//! propagation, readonly root and rootfsPropagation.

use super::{check, check_with};
use crate::bundle::{linux, mount, mounts};
use crate::harness::{path, test, Ctx, Test, TestResult};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    vec![
        test("mounts", "default-filesystems", default_fs),
        test("mounts", "default-config-mounts", default_mounts),
        test("mounts", "tmpfs-options", tmpfs),
        test("mounts", "tmpfs-ro-noatime", tmpfs_ro),
        test("mounts", "nested-destination-created", nested),
        test("mounts", "bind-rw", bind_rw),
        test("mounts", "bind-ro", bind_ro),
        test("mounts", "bind-file", bind_file),
        test("mounts", "bind-relative-source", bind_relative),
        test("mounts", "bind-recursive", bind_recursive),
        test("mounts", "bind-rprivate", bind_private),
        test("mounts", "bind-rshared", bind_shared),
        test("mounts", "bind-runbindable", bind_unbindable),
        test("mounts", "root-readonly", root_ro),
        test("mounts", "root-readwrite", root_rw),
        test("mounts", "rootfs-propagation-private", prop_private),
    ]
}

fn default_fs(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["default-fs"], |_| {})
}

fn default_mounts(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["mounts"], |_| {})
}

fn tmpfs(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["mounts"], |s| {
        mounts(s).push(mount(
            "/oc-tmp",
            "tmpfs",
            "tmpfs",
            &["nosuid", "nodev", "noexec", "mode=700", "size=1m"],
        ));
    })
}

fn tmpfs_ro(ctx: &mut Ctx) -> TestResult {
    let host =
        json!({"asserts": [{"kind": "write_errno", "path": "/oc-tmp/x", "errno": libc::EROFS}]});
    check_with(ctx, &["mounts", "asserts"], host, |s| {
        mounts(s).push(mount(
            "/oc-tmp",
            "tmpfs",
            "tmpfs",
            &["ro", "noatime", "nosuid"],
        ));
    })
}

fn nested(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["mounts"], |s| {
        mounts(s).push(mount("/oc/a/b/c", "tmpfs", "tmpfs", &["mode=755"]));
    })
}

/// A host directory with one file, for bind mounts.
fn host_dir(ctx: &Ctx) -> std::io::Result<String> {
    // Beside the bundles, so a --keep bundle can be rerun by hand.
    let d = ctx.bundles.join("bindsrc");
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join("hello"), "hello from the host\n")?;
    Ok(path(&d).to_string())
}

fn bind_rw(ctx: &mut Ctx) -> TestResult {
    let src = host_dir(ctx)?;
    let asserts = json!({"asserts": [
        {"kind": "content", "path": "/oc-bind/hello", "content": "hello from the host\n"},
        {"kind": "write_errno", "path": "/oc-bind/new", "errno": 0},
    ]});
    check_with(ctx, &["mounts", "asserts"], asserts, |s| {
        mounts(s).push(mount("/oc-bind", "bind", &src, &["rbind", "rw"]));
    })
}

fn bind_ro(ctx: &mut Ctx) -> TestResult {
    let src = host_dir(ctx)?;
    let asserts = json!({"asserts": [
        {"kind": "content", "path": "/oc-bind/hello", "content": "hello from the host\n"},
        {"kind": "write_errno", "path": "/oc-bind/new", "errno": libc::EROFS},
    ]});
    check_with(ctx, &["mounts", "asserts"], asserts, |s| {
        mounts(s).push(mount("/oc-bind", "bind", &src, &["rbind", "ro"]));
    })
}

fn bind_file(ctx: &mut Ctx) -> TestResult {
    let src = format!("{}/hello", host_dir(ctx)?);
    let asserts = json!({"asserts": [
        {"kind": "content", "path": "/oc-file", "content": "hello from the host\n"},
    ]});
    check_with(ctx, &["mounts", "asserts"], asserts, |s| {
        mounts(s).push(mount("/oc-file", "bind", &src, &["bind", "ro"]));
    })
}

/// A tmpfs mounted on the host under `dir`, unmounted when dropped.
struct HostMount(std::ffi::CString);

impl HostMount {
    fn tmpfs(dir: &std::path::Path) -> std::io::Result<HostMount> {
        std::fs::create_dir_all(dir)?;
        let c = std::ffi::CString::new(path(dir)).map_err(std::io::Error::other)?;
        let t = c"tmpfs";
        // SAFETY: valid C strings; a fresh tmpfs on our own temp dir.
        let rc = unsafe { libc::mount(t.as_ptr(), c.as_ptr(), t.as_ptr(), 0, std::ptr::null()) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(HostMount(c))
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        // SAFETY: detaching the mount made in `tmpfs`.
        unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
    }
}

/// rbind brings the source's submounts along; bind does not.
fn bind_recursive(ctx: &mut Ctx) -> TestResult {
    let src = host_dir(ctx)?;
    let sub = std::path::Path::new(&src).join("sub");
    let _m = HostMount::tmpfs(&sub)?;
    std::fs::write(sub.join("inner"), "in the submount\n")?;
    let asserts = json!({"asserts": [
        {"kind": "content", "path": "/oc-rbind/sub/inner", "content": "in the submount\n"},
        {"kind": "exists", "path": "/oc-bind/sub/inner", "exists": false},
    ]});
    check_with(ctx, &["mounts", "asserts"], asserts, |s| {
        mounts(s).push(mount("/oc-rbind", "bind", &src, &["rbind", "ro"]));
        mounts(s).push(mount("/oc-bind", "bind", &src, &["bind", "ro"]));
    })
}

/// "Path values for bind mounts are either absolute or relative to the bundle."
fn bind_relative(ctx: &mut Ctx) -> TestResult {
    // host_dir is bundles/bindsrc; the bundle is bundles/bundle.
    host_dir(ctx)?;
    let asserts = json!({"asserts": [
        {"kind": "content", "path": "/oc-bind/hello", "content": "hello from the host\n"},
    ]});
    check_with(ctx, &["mounts", "asserts"], asserts, |s| {
        mounts(s).push(mount("/oc-bind", "bind", "../bindsrc", &["rbind", "ro"]));
    })
}

fn bind_private(ctx: &mut Ctx) -> TestResult {
    let src = host_dir(ctx)?;
    check(ctx, &["mounts"], |s| {
        mounts(s).push(mount("/oc-bind", "bind", &src, &["rbind", "rprivate"]));
    })
}

fn bind_shared(ctx: &mut Ctx) -> TestResult {
    let src = host_dir(ctx)?;
    check(ctx, &["mounts"], |s| {
        mounts(s).push(mount("/oc-bind", "bind", &src, &["rbind", "rshared"]));
    })
}

fn root_ro(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["root"], |s| {
        s.root_mut().as_mut().map(|r| r.set_readonly(Some(true)));
    })
}

fn root_rw(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["root"], |s| {
        s.root_mut().as_mut().map(|r| r.set_readonly(Some(false)));
    })
}

fn prop_private(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["mounts"], |s| {
        linux(s).set_rootfs_propagation(Some("private".into()));
    })
}

fn bind_unbindable(ctx: &mut Ctx) -> TestResult {
    let src = host_dir(ctx)?;
    check(ctx, &["mounts"], |s| {
        mounts(s).push(mount("/oc-bind", "bind", &src, &["rbind", "runbindable"]));
    })
}
