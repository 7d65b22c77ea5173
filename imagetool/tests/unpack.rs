//! Unpacking: entry kinds, metadata, whiteouts, compressions, verification.

#[path = "common/layers.rs"]
mod layers;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use layers::{gzip, layer, snapshot, zstd, Tar, GZIP, TAR, ZSTD};
use oximg::unpack::{unpack_rootfs, UnpackError, UnpackOptions};

fn unpack(
    dest: &Path,
    tars: &[(Vec<u8>, &str)],
) -> Result<Vec<oximg::unpack::ApplyStats>, UnpackError> {
    unpack_opts(dest, tars, &UnpackOptions::default())
}

fn unpack_opts(
    dest: &Path,
    tars: &[(Vec<u8>, &str)],
    opts: &UnpackOptions,
) -> Result<Vec<oximg::unpack::ApplyStats>, UnpackError> {
    let ls: Vec<_> = tars
        .iter()
        .map(|(t, mt)| {
            let blob = match *mt {
                GZIP => gzip(t),
                ZSTD => zstd(t),
                _ => t.clone(),
            };
            layer(blob, mt, Some(t))
        })
        .collect();
    unpack_rootfs(dest, ls, opts)
}

fn md(p: &Path) -> std::fs::Metadata {
    std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{p:?}: {e}"))
}

#[test]
fn entry_kinds_and_metadata() {
    let td = tempfile::tempdir().unwrap();
    let root = td.path().join("rootfs");
    let mut t = Tar::new();
    t.dir("./", 0o755)
        .dir("etc", 0o755)
        .owner(1000, 2000)
        .file("etc/owned", 0o640, b"hello")
        .owner(0, 0)
        .file("usr/bin/suid", 0o4755, b"#!")
        .file("usr/bin/sgid", 0o2711, b"#!")
        .dir("tmp", 0o1777)
        .symlink("etc/link", "../usr/bin/suid")
        .symlink("abs", "/etc/owned")
        .hardlink("etc/hard", "etc/owned")
        .chardev("dev/null", 0o666, 1, 3)
        .fifo("dev/fifo", 0o600)
        .xattr("user.greeting", b"hi")
        .xattr(
            "security.capability",
            b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        )
        .owner(0, 0)
        .file("usr/bin/ping", 0o755, b"ping")
        .xattr("user.dir", b"d")
        .dir("data", 0o700);
    t.mtime = 1_234_567_890;
    t.file("old", 0o644, b"old");
    let stats = unpack(&root, &[(t.finish(), GZIP)]).unwrap();
    assert_eq!(stats.len(), 1);

    let owned = md(&root.join("etc/owned"));
    assert_eq!(
        (owned.uid(), owned.gid(), owned.mode() & 0o7777),
        (1000, 2000, 0o640)
    );
    assert_eq!(std::fs::read(root.join("etc/owned")).unwrap(), b"hello");
    assert_eq!(md(&root.join("usr/bin/suid")).mode() & 0o7777, 0o4755);
    assert_eq!(md(&root.join("usr/bin/sgid")).mode() & 0o7777, 0o2711);
    assert_eq!(md(&root.join("tmp")).mode() & 0o7777, 0o1777);
    // Implied parent directories: 0755 root.
    assert_eq!(md(&root.join("usr/bin")).mode() & 0o7777, 0o755);
    assert_eq!(
        std::fs::read_link(root.join("etc/link")).unwrap(),
        Path::new("../usr/bin/suid")
    );
    assert_eq!(
        std::fs::read_link(root.join("abs")).unwrap(),
        Path::new("/etc/owned")
    );
    assert_eq!(md(&root.join("etc/hard")).ino(), owned.ino());
    let null = md(&root.join("dev/null"));
    assert!(null.file_type().is_char_device());
    assert_eq!(
        (null.rdev(), null.mode() & 0o7777),
        (libc::makedev(1, 3), 0o666)
    );
    assert!(md(&root.join("dev/fifo")).file_type().is_fifo());
    let snap = snapshot(&root);
    assert_eq!(
        snap["/usr/bin/ping"]
            .xattrs
            .get("user.greeting")
            .map(|v| &v[..]),
        Some(&b"hi"[..])
    );
    assert!(snap["/usr/bin/ping"]
        .xattrs
        .contains_key("security.capability"));
    assert_eq!(
        snap["/data"].xattrs.get("user.dir").map(|v| &v[..]),
        Some(&b"d"[..])
    );
    assert_eq!(md(&root.join("old")).mtime(), 1_234_567_890);
    // Directory times are restored after their children were written.
    assert_eq!(md(&root.join("data")).mtime(), 1_600_000_000);
    assert_eq!(md(&root.join("etc")).mtime(), 1_600_000_000);
    // No staging directory left behind.
    let left: Vec<_> = std::fs::read_dir(td.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("rootfs")]);
}

#[test]
fn layers_replace_and_hardlink_across_layers() {
    let td = tempfile::tempdir().unwrap();
    let root = td.path().join("rootfs");
    let l1 = Tar::new()
        .dir("a", 0o755)
        .file("a/file", 0o644, b"one")
        .dir("a/dir", 0o755)
        .file("a/dir/x", 0o644, b"x")
        .symlink("a/sym", "file")
        .file("base", 0o600, b"base")
        .finish();
    let l2 = Tar::new()
        // file replaced by dir, dir replaced by file, symlink by file
        .dir("a/file", 0o700)
        .file("a/dir", 0o644, b"now a file")
        .file("a/sym", 0o644, b"no longer a link")
        // hardlink to a file of the layer below
        .hardlink("a/base-link", "base")
        // existing dir: metadata only, children kept
        .dir("a", 0o711)
        .finish();
    unpack(&root, &[(l1, TAR), (l2, ZSTD)]).unwrap();
    assert!(md(&root.join("a/file")).is_dir());
    assert_eq!(std::fs::read(root.join("a/dir")).unwrap(), b"now a file");
    assert!(md(&root.join("a/sym")).is_file());
    assert_eq!(
        md(&root.join("a/base-link")).ino(),
        md(&root.join("base")).ino()
    );
    assert_eq!(md(&root.join("a")).mode() & 0o7777, 0o711);
}

#[test]
fn whiteouts_follow_the_changeset_rules() {
    let td = tempfile::tempdir().unwrap();
    let root = td.path().join("rootfs");
    let l1 = Tar::new()
        .file("gone", 0o644, b"")
        .file("d/gone", 0o644, b"")
        .file("d/kept", 0o644, b"")
        .file("tree/a/b/c", 0o644, b"")
        .file("opq/lower1", 0o644, b"")
        .file("opq/sub/lower2", 0o644, b"")
        .file("readd/lower", 0o644, b"")
        .file("before/lower", 0o644, b"")
        .finish();
    let l2 = Tar::new()
        .whiteout("", "gone")
        .whiteout("d", "gone")
        .whiteout("", "tree")
        .whiteout("", "missing-is-fine")
        .whiteout("no/such/dir", "x")
        // opaque dir with new content, the marker after the new entries
        .dir("opq", 0o755)
        .file("opq/new", 0o644, b"new")
        .opaque("opq")
        // re-added in the same layer, whiteout after the entry: stays
        .dir("readd", 0o755)
        .file("readd/upper", 0o644, b"")
        .whiteout("", "readd")
        // whiteout before the re-add: the lower content goes, new stays
        .whiteout("", "before")
        .dir("before", 0o755)
        .file("before/upper", 0o644, b"")
        // AUFS metadata is not content
        .file(".wh..wh.plnk/123", 0o644, b"")
        .finish();
    unpack(&root, &[(l1, GZIP), (l2, GZIP)]).unwrap();
    let snap = snapshot(&root);
    let names: Vec<&str> = snap.keys().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "/",
            "/before",
            "/before/upper",
            "/d",
            "/d/kept",
            "/opq",
            "/opq/new",
            "/readd",
            "/readd/upper",
        ]
    );
}

#[test]
fn all_compressions_and_media_types() {
    let t = Tar::new().file("f", 0o644, b"data").finish();
    for mt in [
        TAR,
        GZIP,
        ZSTD,
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    ] {
        let td = tempfile::tempdir().unwrap();
        let root = td.path().join("rootfs");
        let blob = if mt.ends_with("gzip") {
            gzip(&t)
        } else if mt == ZSTD {
            zstd(&t)
        } else {
            t.clone()
        };
        unpack_rootfs(
            &root,
            [layer(blob, mt, Some(&t))],
            &UnpackOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{mt}: {e}"));
        assert_eq!(std::fs::read(root.join("f")).unwrap(), b"data", "{mt}");
    }
    let td = tempfile::tempdir().unwrap();
    let err = unpack_rootfs(
        &td.path().join("r"),
        [layer(
            t.clone(),
            "application/vnd.oci.image.layer.v1.tar+lz4",
            None,
        )],
        &UnpackOptions::default(),
    )
    .unwrap_err();
    assert!(
        layers::chain(&err).contains("unsupported layer media type"),
        "{err}"
    );
    assert!(!td.path().join("r").exists());
}

fn assert_no_rootfs(td: &Path) {
    let left: Vec<_> = std::fs::read_dir(td)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// (what, the bad layer, error substrings separated by `|`)
type Case = (
    &'static str,
    oximg::unpack::Layer<std::io::Cursor<Vec<u8>>>,
    &'static str,
);

#[test]
fn truncated_and_tampered_layers_fail_cleanly() {
    let mut big = Tar::new();
    for i in 0..50 {
        big.file(&format!("f{i}"), 0o644, &vec![i as u8; 10_000]);
    }
    let t = big.finish();
    let gz = gzip(&t);

    let cases: Vec<Case> = vec![
        (
            "truncated gzip",
            {
                let mut l = layer(gz.clone(), GZIP, Some(&t));
                l.reader = std::io::Cursor::new(gz[..gz.len() / 2].to_vec());
                l
            },
            "size mismatch|decompressing",
        ),
        (
            "extra bytes",
            {
                let mut l = layer(gz.clone(), GZIP, Some(&t));
                let mut more = gz.clone();
                more.extend_from_slice(b"trailing junk");
                l.reader = std::io::Cursor::new(more);
                l
            },
            "size mismatch|decompressing",
        ),
        (
            "one flipped byte, same size",
            {
                let mut l = layer(gz.clone(), GZIP, Some(&t));
                let mut bad = gz.clone();
                let n = bad.len();
                bad[n - 10] ^= 0xff; // inside the gzip trailer (crc/size)
                l.reader = std::io::Cursor::new(bad);
                l
            },
            "digest mismatch|decompressing",
        ),
        (
            "wrong diff_id",
            {
                let mut l = layer(gz.clone(), GZIP, Some(&t));
                l.expect.diff_id = Some(layers::sha256(b"other").parse().unwrap());
                l
            },
            "diff_id mismatch",
        ),
        (
            "wrong digest",
            {
                let mut l = layer(gz.clone(), GZIP, Some(&t));
                l.expect.digest = Some(layers::sha256(b"other").parse().unwrap());
                l
            },
            "digest mismatch",
        ),
        (
            "truncated plain tar at an entry boundary",
            {
                let cut = t[..512 * 20 * 2].to_vec();
                let mut l = layer(t.clone(), TAR, Some(&t));
                l.reader = std::io::Cursor::new(cut);
                l
            },
            "size mismatch",
        ),
    ];
    for (what, l, want) in cases {
        let td = tempfile::tempdir().unwrap();
        let good = Tar::new().file("base", 0o644, b"").finish();
        let err = unpack_rootfs(
            &td.path().join("rootfs"),
            [layer(good.clone(), TAR, Some(&good)), l],
            &UnpackOptions::default(),
        )
        .expect_err(what);
        let msg = layers::chain(&err);
        assert!(want.split('|').any(|w| msg.contains(w)), "{what}: {msg}");
        assert!(
            msg.contains("layer 1"),
            "{what}: error names the layer: {msg}"
        );
        assert_no_rootfs(td.path());
    }
}

#[test]
fn rootless_records_ownership_and_fakes_devices() {
    let td = tempfile::tempdir().unwrap();
    let root = td.path().join("rootfs");
    let t = Tar::new()
        .owner(1000, 1000)
        .file("home/alice/f", 0o600, b"")
        .owner(0, 0)
        .chardev("dev/null", 0o666, 1, 3)
        .dir("ro", 0o555)
        .file("ro/inside", 0o444, b"")
        .finish();
    let opts = UnpackOptions {
        rootless: true,
        ..Default::default()
    };
    let stats = unpack_opts(&root, &[(t, GZIP)], &opts).unwrap();
    let me = (unsafe { libc::getuid() }, unsafe { libc::getgid() });
    let f = md(&root.join("home/alice/f"));
    assert_eq!((f.uid(), f.gid()), me);
    let snap = snapshot(&root);
    assert_eq!(
        snap["/home/alice/f"]
            .xattrs
            .get("user.rootlesscontainers")
            .map(|v| v.to_vec()),
        Some(vec![0x08, 0xe8, 0x07, 0x10, 0xe8, 0x07])
    );
    assert_eq!(snap["/dev/null"].kind, "file");
    assert!(stats[0].warnings.iter().any(|w| w.contains("device 1:3")));
    assert_eq!(md(&root.join("ro")).mode() & 0o7777, 0o555);
}

#[test]
fn id_maps_shift_ownership() {
    let td = tempfile::tempdir().unwrap();
    let root = td.path().join("rootfs");
    let t = Tar::new()
        .owner(0, 0)
        .dir("r", 0o755)
        .owner(1000, 50)
        .file("r/f", 0o644, b"")
        .finish();
    let opts = UnpackOptions {
        uid_map: vec!["0:100000:65536".parse().unwrap()],
        gid_map: vec!["0:200000:65536".parse().unwrap()],
        ..Default::default()
    };
    unpack_opts(&root, &[(t, TAR)], &opts).unwrap();
    assert_eq!(
        (md(&root.join("r")).uid(), md(&root.join("r")).gid()),
        (100000, 200000)
    );
    assert_eq!(
        (md(&root.join("r/f")).uid(), md(&root.join("r/f")).gid()),
        (101000, 200050)
    );

    // An id the map does not cover is an error, not root.
    let td = tempfile::tempdir().unwrap();
    let t = Tar::new().owner(70000, 0).file("f", 0o644, b"").finish();
    let err = unpack_opts(&td.path().join("rootfs"), &[(t, TAR)], &opts).unwrap_err();
    assert!(layers::chain(&err).contains("not mapped"), "{err}");
}

#[test]
fn target_must_be_empty() {
    let td = tempfile::tempdir().unwrap();
    std::fs::write(td.path().join("keep"), b"").unwrap();
    let t = Tar::new().file("f", 0o644, b"").finish();
    let err = unpack(td.path(), &[(t.clone(), TAR)]).unwrap_err();
    assert!(matches!(err, UnpackError::TargetNotEmpty(_)), "{err}");
    // An existing empty directory is fine.
    let empty = td.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    unpack(&empty, &[(t, TAR)]).unwrap();
    assert!(empty.join("f").exists());
}

#[test]
fn rootless_unpack_as_an_unprivileged_user() {
    use std::os::unix::fs::PermissionsExt;
    let td = tempfile::tempdir().unwrap();
    std::fs::set_permissions(td.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = td.path().join("store");
    let t = Tar::new()
        .owner(1000, 1000)
        .file("home/alice/f", 0o600, b"mine")
        .owner(0, 0)
        .dir("ro", 0o555)
        .file("ro/inside", 0o444, b"ro")
        .file("locked", 0o000, b"")
        .chardev("dev/null", 0o666, 1, 3)
        .xattr("user.note", b"kept")
        .xattr(
            "security.capability",
            &[
                1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        )
        .file("bin/ping", 0o755, b"ping")
        .finish();
    let t2 = Tar::new()
        .file("ro/added-later", 0o644, b"later")
        .whiteout("ro", "inside")
        .finish();
    layers::write_layout(
        &store,
        "r",
        &[(t, GZIP), (t2, ZSTD)],
        serde_json::json!({"Cmd": ["true"]}),
    );
    oximg::store::Store::open(&store).unwrap();
    let out = td.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::chown(&out, Some(65534), Some(65534)).unwrap();
    let rootfs = out.join("rootfs");
    let o = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_oximg"))
        .args([
            "--store",
            store.to_str().unwrap(),
            "unpack",
            "--rootless",
            "r",
            rootfs.to_str().unwrap(),
        ])
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "rootless unpack failed: {err}");
    assert!(
        err.contains("security.capability"),
        "the skipped xattr is reported: {err}"
    );
    let snap = snapshot(&rootfs);
    assert!(
        snap.values().all(|n| (n.uid, n.gid) == (65534, 65534)),
        "everything owned by the caller"
    );
    assert_eq!(
        snap["/home/alice/f"].xattrs["user.rootlesscontainers"],
        vec![0x08, 0xe8, 0x07, 0x10, 0xe8, 0x07]
    );
    assert_eq!(snap["/bin/ping"].xattrs["user.note"], b"kept");
    assert!(!snap["/bin/ping"].xattrs.contains_key("security.capability"));
    assert_eq!(snap["/dev/null"].kind, "file");
    assert_eq!(snap["/ro"].mode, 0o555);
    assert_eq!(snap["/locked"].mode, 0o000);
    assert!(snap.contains_key("/ro/added-later") && !snap.contains_key("/ro/inside"));
}

#[test]
fn odd_xattrs_are_warnings_not_failures() {
    let td = tempfile::tempdir().unwrap();
    let root = td.path().join("rootfs");
    let long_name = format!("user.{}", "n".repeat(300));
    let t = Tar::new()
        .xattr(&long_name, b"v")
        .xattr("user.huge", &vec![b'x'; 70_000])
        .xattr("system.posix_acl_access", b"\x02\x00\x00\x00")
        .xattr("trusted.overlay.opaque", b"y")
        .xattr("user.fine", b"ok")
        .file("f", 0o644, b"")
        .finish();
    let stats = unpack(&root, &[(t, GZIP)]).unwrap();
    let snap = snapshot(&root);
    assert_eq!(
        snap["/f"].xattrs.get("user.fine").map(|v| &v[..]),
        Some(&b"ok"[..])
    );
    assert!(
        !snap["/f"].xattrs.contains_key("trusted.overlay.opaque"),
        "overlay metadata is never applied"
    );
    assert!(!snap["/f"].xattrs.contains_key("system.posix_acl_access"));
    let w = stats[0].warnings.join("\n");
    assert!(w.contains("user.nnn") && w.contains("user.huge"), "{w}");
}
