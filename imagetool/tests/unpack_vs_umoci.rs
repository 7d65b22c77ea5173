//! Differential: the same images unpacked by `umoci unpack` and by oximg give
//! identical trees (names, types, modes, owners, link targets, xattrs, file
//! hashes, hardlink structure).

#[path = "common/layers.rs"]
mod layers;
#[path = "common/registry.rs"]
mod registry;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use layers::{busybox_layer, snapshot, write_layout, Node, Tar, GZIP, TAR};
use serde_json::json;

fn umoci_unpack(layout: &Path, tag: &str, bundle: &Path) -> BTreeMap<String, Node> {
    let out = Command::new("umoci")
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:{tag}", layout.display()))
        .arg(bundle)
        .output()
        .expect("umoci is installed by scripts/deps");
    assert!(
        out.status.success(),
        "umoci unpack: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    snapshot(&bundle.join("rootfs"))
}

fn oximg_unpack(layout: &Path, tag: &str, dir: &Path) -> BTreeMap<String, Node> {
    registry::oximg_ok(&[
        "--store",
        layout.to_str().unwrap(),
        "-q",
        "unpack",
        tag,
        dir.to_str().unwrap(),
    ]);
    snapshot(dir)
}

fn diff(a: &BTreeMap<String, Node>, b: &BTreeMap<String, Node>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => out.push(format!("only umoci: {k} {v:?}")),
            Some(w) if w != v => out.push(format!("differs: {k}\n  umoci: {v:?}\n  oximg: {w:?}")),
            _ => {}
        }
    }
    for (k, v) in b {
        if !a.contains_key(k) {
            out.push(format!("only oximg: {k} {v:?}"));
        }
    }
    out
}

/// Layers that exercise whiteouts, opaque dirs, hardlinks within and across
/// layers, ownership, special modes, devices, xattrs and type changes.
fn tricky_layers() -> Vec<(Vec<u8>, &'static str)> {
    let mut l1 = Tar::new();
    l1.dir("etc", 0o755)
        .file("etc/passwd", 0o644, b"root:x:0:0::/root:/bin/sh\n")
        .owner(1000, 1000)
        .dir("home/alice", 0o750)
        .file("home/alice/notes", 0o600, b"secret")
        .owner(33, 44)
        .file("srv/www/index.html", 0o664, b"<html>")
        .owner(0, 0)
        .file("usr/bin/tool", 0o4755, b"\x7fELF tool")
        .file("usr/bin/group-tool", 0o2755, b"\x7fELF gtool")
        .dir("tmp", 0o1777)
        .hardlink("usr/bin/tool-link", "usr/bin/tool")
        .symlink("usr/bin/rel", "tool")
        .symlink("usr/bin/abs", "/usr/bin/tool")
        .symlink("dangling", "/nowhere")
        .chardev("dev/null", 0o666, 1, 3)
        .chardev("dev/zero", 0o666, 1, 5)
        .fifo("run/fifo", 0o620)
        .xattr("user.origin", b"layer1")
        .file("var/lib/data", 0o644, b"data")
        .xattr(
            "security.capability",
            &[
                1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        )
        .file("usr/bin/ping", 0o755, b"ping")
        .file("gone/a", 0o644, b"a")
        .file("gone/sub/b", 0o644, b"b")
        .file("opq/lower", 0o644, b"lower")
        .dir("opq/lowerdir", 0o755)
        .file("opq/lowerdir/x", 0o644, b"x")
        .file("single", 0o644, b"single")
        .file("typechange/was-file", 0o644, b"f")
        .dir("typechange/was-dir", 0o755)
        .file("typechange/was-dir/child", 0o644, b"c")
        .symlink("typechange/was-link", "/etc")
        .symlink("dangling-abs", "/made/by/link")
        .symlink("dangling-rel", "../../up/and/over");
    let mut l2 = Tar::new();
    l2.whiteout("", "gone")
        .whiteout("", "single")
        .dir("opq", 0o700)
        .opaque("opq")
        .file("opq/upper", 0o644, b"upper")
        .dir("typechange/was-file", 0o711)
        .file("typechange/was-dir", 0o600, b"now a file")
        .file("typechange/was-link", 0o644, b"now a file too")
        // hardlink to a file from the layer below
        .hardlink("etc/passwd-link", "etc/passwd")
        .owner(1000, 1000)
        .file("home/alice/notes", 0o640, b"rewritten")
        .owner(0, 0)
        .dir("etc", 0o750)
        .xattr("user.origin", b"layer2")
        .file("var/lib/data", 0o600, b"data2")
        .file("dangling-abs/file", 0o644, b"through an absolute link")
        .file("dangling-rel/file", 0o644, b"through a relative link");
    let mut l3 = Tar::new();
    l3.whiteout("usr/bin", "tool")
        .file("gone/new", 0o644, b"resurrected")
        .whiteout("run", "fifo")
        .hardlink("usr/bin/tool2", "usr/bin/tool-link");
    vec![(l1.finish(), GZIP), (l2.finish(), TAR), (l3.finish(), GZIP)]
}

#[test]
fn same_tree_as_umoci_for_tricky_layers() {
    let td = tempfile::tempdir().unwrap();
    let layout = td.path().join("layout");
    write_layout(
        &layout,
        "tricky",
        &tricky_layers(),
        json!({"Cmd": ["/bin/sh"]}),
    );
    let u = umoci_unpack(&layout, "tricky", &td.path().join("umoci-bundle"));
    let o = oximg_unpack(&layout, "tricky", &td.path().join("oximg-rootfs"));
    assert!(u.len() > 30, "umoci unpacked too little: {}", u.len());
    // The premise: umoci applied the tricky parts as expected.
    for gone in [
        "/gone/a",
        "/gone/sub",
        "/single",
        "/opq/lower",
        "/opq/lowerdir",
        "/usr/bin/tool",
        "/run/fifo",
    ] {
        assert!(!u.contains_key(gone), "umoci kept {gone}");
    }
    assert_eq!(u["/home/alice/notes"].uid, 1000);
    assert_eq!(u["/typechange/was-dir"].kind, "file");
    assert!(u["/usr/bin/tool2"].nlink_group.is_some());
    assert_eq!(u["/dev/null"].kind, "char");
    assert_eq!(u["/var/lib/data"].xattrs["user.origin"], b"layer2");
    // And the comparison sees a difference when there is one.
    let mut tweaked = o.clone();
    tweaked.get_mut("/etc/passwd").unwrap().mode ^= 0o001;
    assert_eq!(diff(&u, &tweaked).len(), 1);
    let d = diff(&u, &o);
    assert!(d.is_empty(), "{} differences:\n{}", d.len(), d.join("\n"));
}

#[test]
fn same_tree_as_umoci_for_busybox() {
    let td = tempfile::tempdir().unwrap();
    let layout = td.path().join("layout");
    write_layout(
        &layout,
        "bb",
        &[(busybox_layer(), GZIP)],
        json!({"Cmd": ["/bin/sh"]}),
    );
    let u = umoci_unpack(&layout, "bb", &td.path().join("umoci-bundle"));
    let o = oximg_unpack(&layout, "bb", &td.path().join("oximg-rootfs"));
    let d = diff(&u, &o);
    assert!(d.is_empty(), "{} differences:\n{}", d.len(), d.join("\n"));
}

#[test]
fn same_tree_as_umoci_for_a_real_tree_made_by_gnu_tar() {
    // A layer written by GNU tar from this machine's own files: real-world
    // header forms (long names, PAX xattrs, hardlinks, odd owners).
    let dirs: Vec<&str> = [
        "etc",
        "usr/share/zoneinfo",
        "usr/lib/x86_64-linux-gnu/gconv",
        "usr/share/perl5",
    ]
    .into_iter()
    .filter(|d| Path::new("/").join(d).exists())
    .collect();
    let out = Command::new("tar")
        .args([
            "--xattrs",
            "--xattrs-include=user.*",
            "--xattrs-include=security.capability",
            "--format=pax",
            "-cf",
            "-",
            "-C",
            "/",
        ])
        .args(&dirs)
        .output()
        .unwrap();
    // Exit 1 means "some files changed while reading": fine for a snapshot.
    assert!(
        out.status.code().unwrap_or(2) <= 1,
        "tar: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let td = tempfile::tempdir().unwrap();
    let layout = td.path().join("layout");
    write_layout(
        &layout,
        "host",
        &[(out.stdout, GZIP)],
        json!({"Cmd": ["/bin/sh"]}),
    );
    let u = umoci_unpack(&layout, "host", &td.path().join("umoci-bundle"));
    let o = oximg_unpack(&layout, "host", &td.path().join("oximg-rootfs"));
    assert!(u.len() > 500, "too small a tree: {}", u.len());
    let d = diff(&u, &o);
    assert!(
        d.is_empty(),
        "{} differences:\n{}",
        d.len(),
        d.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

fn umoci_unpack_with(
    layout: &Path,
    tag: &str,
    bundle: &Path,
    flags: &[&str],
) -> BTreeMap<String, Node> {
    let out = Command::new("umoci")
        .arg("unpack")
        .args(flags)
        .arg("--image")
        .arg(format!("{}:{tag}", layout.display()))
        .arg(bundle)
        .output()
        .expect("umoci is installed by scripts/deps");
    assert!(
        out.status.success(),
        "umoci unpack {flags:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    snapshot(&bundle.join("rootfs"))
}

#[test]
fn same_tree_as_umoci_with_keep_dirlinks() {
    let l1 = Tar::new()
        .dir("usr/lib", 0o755)
        .file("usr/lib/a", 0o644, b"a")
        .symlink("lib", "usr/lib")
        .finish();
    let l2 = Tar::new()
        .dir("lib", 0o700)
        .file("lib/b", 0o644, b"b")
        .finish();
    let td = tempfile::tempdir().unwrap();
    let layout = td.path().join("layout");
    write_layout(
        &layout,
        "k",
        &[(l1, GZIP), (l2, TAR)],
        json!({"Cmd": ["/bin/sh"]}),
    );
    let u = umoci_unpack_with(&layout, "k", &td.path().join("u"), &["--keep-dirlinks"]);
    let dir = td.path().join("o");
    registry::oximg_ok(&[
        "--store",
        layout.to_str().unwrap(),
        "-q",
        "unpack",
        "--keep-dirlinks",
        "k",
        dir.to_str().unwrap(),
    ]);
    let o = snapshot(&dir);
    assert_eq!(u["/lib"].kind, "symlink");
    assert!(u.contains_key("/usr/lib/b"));
    let d = diff(&u, &o);
    assert!(d.is_empty(), "{} differences:\n{}", d.len(), d.join("\n"));
}

#[test]
fn same_tree_as_umoci_rootless() {
    let td = tempfile::tempdir().unwrap();
    let layout = td.path().join("layout");
    let l = Tar::new()
        .owner(1000, 1000)
        .file("home/alice/f", 0o600, b"f")
        .owner(0, 1000)
        .file("g-only", 0o640, b"g")
        .owner(1000, 0)
        .file("u-only", 0o640, b"u")
        .owner(0, 0)
        .fifo("fifo", 0o600)
        .dir("ro", 0o555)
        .finish();
    write_layout(&layout, "r", &[(l, GZIP)], json!({"Cmd": ["/bin/sh"]}));
    let u = umoci_unpack_with(&layout, "r", &td.path().join("u"), &["--rootless"]);
    let dir = td.path().join("o");
    registry::oximg_ok(&[
        "--store",
        layout.to_str().unwrap(),
        "-q",
        "unpack",
        "--rootless",
        "r",
        dir.to_str().unwrap(),
    ]);
    let o = snapshot(&dir);
    assert!(u["/home/alice/f"]
        .xattrs
        .contains_key("user.rootlesscontainers"));
    let d = diff(&u, &o);
    assert!(d.is_empty(), "{} differences:\n{}", d.len(), d.join("\n"));
}
