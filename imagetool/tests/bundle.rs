//! Bundles: image config → config.json, the CLI, and real runs under runc.

#[path = "common/layers.rs"]
mod layers;
#[path = "common/registry.rs"]
mod registry;

use std::path::Path;
use std::process::Command;

use layers::{busybox_layer, write_layout, Tar, GZIP, ZSTD};
use oci_spec::runtime::Spec;
use oximg::bundle::{make_bundle, BundleOptions};
use oximg::store::Store;
use serde_json::json;

fn store_with(dir: &Path, tag: &str, extra: Vec<u8>, config: serde_json::Value) -> Store {
    write_layout(dir, tag, &[(busybox_layer(), GZIP), (extra, ZSTD)], config);
    Store::open(dir).unwrap()
}

fn spec_of(bundle: &Path) -> Spec {
    Spec::load(bundle.join("config.json")).unwrap()
}

#[test]
fn config_follows_conversion_md() {
    let td = tempfile::tempdir().unwrap();
    let extra = Tar::new().dir("work", 0o755).finish();
    let store = store_with(
        &td.path().join("store"),
        "app",
        extra,
        json!({
            "User": "alice",
            "Env": ["FOO=bar", "PATH=/bin"],
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["echo hi"],
            "WorkingDir": "/work",
            "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
            "StopSignal": "SIGTERM",
            "Labels": {"com.example.team": "oximg"},
            "Volumes": {"/data": {}, "/../../../var/lib/x": {}},
        }),
    );
    let b = td.path().join("bundle");
    make_bundle(&store, "app", &b, &BundleOptions::default()).unwrap();
    assert!(b.join("rootfs/bin/busybox").is_file());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&b).unwrap().permissions().mode() & 0o7777,
        0o700,
        "bundle dir is private"
    );
    assert_eq!(
        std::fs::metadata(b.join("rootfs"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o755
    );
    let spec = spec_of(&b);
    let p = spec.process().as_ref().unwrap();
    assert_eq!(p.args().as_ref().unwrap(), &["/bin/sh", "-c", "echo hi"]);
    let env = p.env().as_ref().unwrap();
    assert!(env.contains(&"FOO=bar".to_string()) && env.contains(&"PATH=/bin".to_string()));
    assert!(env.contains(&"HOME=/home/alice".to_string()), "{env:?}");
    assert_eq!(p.cwd(), Path::new("/work"));
    assert_eq!((p.user().uid(), p.user().gid()), (1000, 1000));
    let mut extra_gids = p.user().additional_gids().clone().unwrap();
    extra_gids.sort();
    assert_eq!(extra_gids, vec![10, 50]);
    assert_eq!(p.terminal(), Some(false));
    let caps = p.capabilities().as_ref().unwrap();
    assert!(caps.inheritable().is_none() && caps.ambient().is_none());
    let ann = spec.annotations().as_ref().unwrap();
    assert_eq!(
        ann["org.opencontainers.image.exposedPorts"],
        "53/udp,8080/tcp"
    );
    assert_eq!(ann["org.opencontainers.image.stopSignal"], "SIGTERM");
    assert_eq!(ann["com.example.team"], "oximg");
    assert_eq!(ann["org.opencontainers.image.architecture"], "amd64");
    // Crafted volume paths are normalised inside the container, never joined
    // onto a host path, and nothing is mounted for them.
    assert_eq!(ann["org.oximg.image.volumes"], "/data,/var/lib/x");
    assert!(spec
        .mounts()
        .as_ref()
        .unwrap()
        .iter()
        .all(|m| m.destination() != Path::new("/data")));
    let ns: Vec<_> = spec
        .linux()
        .as_ref()
        .unwrap()
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .map(|n| n.typ())
        .collect();
    assert!(ns.contains(&oci_spec::runtime::LinuxNamespaceType::Pid));
    assert!(!ns.contains(&oci_spec::runtime::LinuxNamespaceType::User));
}

#[test]
fn bad_configs_leave_no_bundle() {
    for (what, cfg, want) in [
        (
            "unknown user",
            json!({"User": "mallory", "Cmd": ["true"]}),
            "mallory",
        ),
        (
            "overflowing uid",
            json!({"User": "4294967296", "Cmd": ["true"]}),
            "invalid id",
        ),
        (
            "volume over the root",
            json!({"Cmd": ["true"], "Volumes": {"/../../..": {}}}),
            "root directory",
        ),
        ("nothing to run", json!({}), "neither Entrypoint nor Cmd"),
    ] {
        let td = tempfile::tempdir().unwrap();
        let store = store_with(&td.path().join("store"), "x", Tar::new().finish(), cfg);
        let b = td.path().join("bundle");
        let err = make_bundle(&store, "x", &b, &BundleOptions::default()).expect_err(what);
        assert!(layers::chain(&err).contains(want), "{what}: {err}");
        let left: Vec<_> = std::fs::read_dir(td.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("store")], "{what}");
    }
}

#[test]
fn passwd_symlink_is_read_inside_the_rootfs() {
    // /etc/passwd → a host path with a tempting user: looked up inside the
    // rootfs, where it does not exist, so the user is unknown.
    let td = tempfile::tempdir().unwrap();
    let host = td.path().join("hostetc");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("passwd"), "evil:x:0:0::/:/bin/sh\n").unwrap();
    let extra = Tar::new()
        .symlink("etc/passwd", &format!("{}/passwd", host.display()))
        .finish();
    let store = store_with(
        &td.path().join("store"),
        "x",
        extra,
        json!({"User": "evil", "Cmd": ["true"]}),
    );
    let err =
        make_bundle(&store, "x", &td.path().join("b"), &BundleOptions::default()).unwrap_err();
    assert!(layers::chain(&err).contains("\"evil\" not found"), "{err}");
}

#[test]
fn tampered_blob_in_store_fails_cleanly() {
    let td = tempfile::tempdir().unwrap();
    let sdir = td.path().join("store");
    let extra = Tar::new().file("f", 0o644, &[7u8; 100_000]).finish();
    let store = store_with(&sdir, "x", extra, json!({"Cmd": ["true"]}));
    // Flip one byte of the biggest blob (busybox layer) without changing its size.
    let blobs = sdir.join("blobs/sha256");
    let biggest = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut data = std::fs::read(&biggest).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x55;
    std::fs::write(&biggest, data).unwrap();
    let b = td.path().join("bundle");
    let err = make_bundle(&store, "x", &b, &BundleOptions::default()).unwrap_err();
    let msg = layers::chain(&err);
    assert!(msg.contains("layer 0"), "{msg}");
    assert!(!b.exists());
    assert_eq!(
        std::fs::read_dir(td.path()).unwrap().count(),
        1,
        "staging left behind"
    );
}

fn runc_run(bundle: &Path, id: &str) -> (bool, String, String) {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new("runc")
        .arg("--root")
        .arg(state.path())
        .args(["run", "-b"])
        .arg(bundle)
        .arg(id)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("runc is installed by scripts/deps");
    let _ = Command::new("runc")
        .arg("--root")
        .arg(state.path())
        .args(["delete", "-f", id])
        .output();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn unique_id(tag: &str) -> String {
    format!(
        "oximg-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

#[test]
fn bundle_runs_under_runc_via_the_cli() {
    let td = tempfile::tempdir().unwrap();
    let sdir = td.path().join("store");
    write_layout(
        &sdir,
        "hello",
        &[(busybox_layer(), GZIP)],
        json!({"Cmd": ["sh", "-c", "echo hello from $(id -u):$(id -g) in $(pwd)"], "WorkingDir": "/tmp"}),
    );
    write_layout(
        &sdir,
        "nobody",
        &[(busybox_layer(), ZSTD)],
        json!({"User": "nobody", "Cmd": ["id", "-u"]}),
    );
    let s = sdir.to_str().unwrap();
    let mut guards = Vec::new();
    for (tag, want) in [("hello", "hello from 0:0 in /tmp"), ("nobody", "65534")] {
        let b = td.path().join(format!("b-{tag}"));
        guards.push(BundleGuard(b.clone()));
        registry::oximg_ok(&["--store", s, "-q", "bundle", tag, b.to_str().unwrap()]);
        let (ok, out, err) = runc_run(&b, &unique_id(tag));
        assert!(ok, "runc run {tag}: {err}");
        assert_eq!(out.trim(), want, "{tag}");
    }
    // The same verb refuses a non-empty target and says why.
    let o = registry::oximg(&[
        "--store",
        s,
        "-q",
        "bundle",
        "hello",
        td.path().join("b-hello").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        registry::stderr(&o).contains("not an empty directory"),
        "{}",
        registry::stderr(&o)
    );
    // `unpack` gives the rootfs alone.
    let r = td.path().join("rootfs-only");
    registry::oximg_ok(&["--store", s, "-q", "unpack", "hello", r.to_str().unwrap()]);
    assert!(r.join("bin/busybox").is_file() && !r.join("config.json").exists());
}

#[test]
fn pulled_from_loopback_registry_runs_under_runc() {
    let reg = registry::Registry::start();
    let td = tempfile::tempdir().unwrap();
    let layout = td.path().join("layout");
    write_layout(
        &layout,
        "v1",
        &[
            (busybox_layer(), GZIP),
            (
                Tar::new()
                    .file("msg", 0o644, b"pulled and bundled")
                    .finish(),
                GZIP,
            ),
        ],
        json!({"Cmd": ["cat", "/msg"]}),
    );
    reg.push(&layout, "v1", "test/hello:v1", &[]);
    let store = td.path().join("store");
    let b = td.path().join("bundle");
    let reference = format!("{}/test/hello:v1", reg.host());
    let _g = BundleGuard(b.clone());
    // Not in the store: bundle pulls it first.
    registry::oximg_ok(&[
        "--store",
        store.to_str().unwrap(),
        "-q",
        "bundle",
        "--tls-verify=false",
        &reference,
        b.to_str().unwrap(),
    ]);
    let (ok, out, err) = runc_run(&b, &unique_id("pulled"));
    assert!(ok, "runc run: {err}");
    assert_eq!(out.trim(), "pulled and bundled");
    // And under oxrun (built beside oximg by `cargo build --workspace --bins`).
    let oxrun = Path::new(env!("CARGO_BIN_EXE_oximg")).with_file_name("oxrun");
    let state = td.path().join("oxrun-state");
    let id = unique_id("pulled-oxrun");
    let o = Command::new(&oxrun)
        .arg("--root")
        .arg(&state)
        .args(["run", "-b"])
        .arg(&b)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run `cargo build --workspace --bins`)",
                oxrun.display()
            )
        });
    let _ = Command::new(&oxrun)
        .arg("--root")
        .arg(&state)
        .args(["delete", "-f", &id])
        .output();
    assert!(
        o.status.success(),
        "oxrun run: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "pulled and bundled"
    );
}

#[test]
fn uid_map_adds_a_user_namespace_and_shifts_files() {
    let td = tempfile::tempdir().unwrap();
    let sdir = td.path().join("store");
    write_layout(
        &sdir,
        "m",
        &[(busybox_layer(), GZIP)],
        json!({"Cmd": ["sh", "-c", "id -u; cat /proc/self/uid_map"]}),
    );
    let b = td.path().join("b");
    registry::oximg_ok(&[
        "--store",
        sdir.to_str().unwrap(),
        "-q",
        "bundle",
        "--uid-map",
        "0:200000:65536",
        "--gid-map",
        "0:200000:65536",
        "m",
        b.to_str().unwrap(),
    ]);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(b.join("rootfs/bin/busybox"))
            .unwrap()
            .uid(),
        200000
    );
    let spec = spec_of(&b);
    let linux = spec.linux().as_ref().unwrap();
    assert_eq!(linux.uid_mappings().as_ref().unwrap()[0].host_id(), 200000);
    let (ok, out, err) = runc_run(&b, &unique_id("userns"));
    assert!(ok, "runc run: {err}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"));
    let map: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(map, vec!["0", "200000", "65536"]);
}

/// Unmounts and removes a bundle when the test ends, passed or not.
struct BundleGuard(std::path::PathBuf);
impl Drop for BundleGuard {
    fn drop(&mut self) {
        let _ = oximg::bundle::remove_bundle(&self.0);
    }
}

fn cached_layers() -> Vec<(Vec<u8>, &'static str)> {
    let l2 = Tar::new()
        .dir("usr/lib", 0o755)
        .file("usr/lib/libc.so", 0o755, b"libc")
        .symlink("lib", "usr/lib")
        .file("etc/motd", 0o644, b"lower motd")
        .file("opq/old", 0o644, b"old")
        .file("gone", 0o644, b"")
        .finish();
    let l3 = Tar::new()
        // through a symlink planted by the layer below
        .file("lib/libextra.so", 0o755, b"extra")
        .whiteout("", "gone")
        .dir("opq", 0o755)
        .opaque("opq")
        .file("opq/new", 0o644, b"new")
        .hardlink("etc/motd-link", "etc/motd")
        .file("etc/motd", 0o600, b"upper motd")
        .finish();
    vec![(busybox_layer(), GZIP), (l2, GZIP), (l3, ZSTD)]
}

#[test]
fn cached_overlay_bundle_matches_a_copy_and_is_fast_the_second_time() {
    let td = tempfile::tempdir().unwrap();
    let sdir = td.path().join("store");
    write_layout(
        &sdir,
        "c",
        &cached_layers(),
        json!({"Cmd": ["sh", "-c", "cat /lib/libextra.so /etc/motd; ls /opq"]}),
    );
    let store = Store::open(&sdir).unwrap();
    let copy = td.path().join("copy");
    make_bundle(&store, "c", &copy, &BundleOptions::default()).unwrap();
    let cached = BundleOptions {
        cached: true,
        ..Default::default()
    };
    let first = td.path().join("first");
    let _g1 = BundleGuard(first.clone());
    make_bundle(&store, "c", &first, &cached).unwrap();
    assert!(
        oximg::unpack::cache::is_overlay(&first.join("rootfs")),
        "first cached bundle is not an overlay"
    );

    // The merged view is the same tree a flat unpack gives. (The overlay's
    // root directory is the one thing that may differ in metadata.)
    let mut a = layers::snapshot(&copy.join("rootfs"));
    let mut b = layers::snapshot(&first.join("rootfs"));
    a.remove("/");
    b.remove("/");
    // Overlay reports a hardlink's nlink per layer; compare link targets by content.
    for m in [&mut a, &mut b] {
        for n in m.values_mut() {
            n.nlink_group = None;
        }
    }
    assert_eq!(a, b);
    assert!(!b.contains_key("/gone") && !b.contains_key("/opq/old"));
    assert_eq!(
        std::fs::read(first.join("rootfs/usr/lib/libextra.so")).unwrap(),
        b"extra"
    );

    // Second bundle: no layer is read again, one mount.
    let second = td.path().join("second");
    let _g2 = BundleGuard(second.clone());
    let layer_dir_mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let cache_root = sdir.join(".oximg/unpacked");
    let before: Vec<_> = std::fs::read_dir(&cache_root)
        .unwrap()
        .map(|e| layer_dir_mtime(&e.unwrap().path()))
        .collect();
    let start = std::time::Instant::now();
    make_bundle(&store, "c", &second, &cached).unwrap();
    let took = start.elapsed();
    let after: Vec<_> = std::fs::read_dir(&cache_root)
        .unwrap()
        .map(|e| layer_dir_mtime(&e.unwrap().path()))
        .collect();
    assert_eq!(before, after, "cache was rebuilt");
    assert_eq!(before.len(), 3);
    eprintln!("second cached bundle took {took:?}");
    assert!(
        took < std::time::Duration::from_millis(250),
        "second bundle took {took:?}"
    );

    // Writes in one bundle stay in its upper dir.
    std::fs::write(second.join("rootfs/etc/motd"), b"changed in second").unwrap();
    assert_eq!(
        std::fs::read(first.join("rootfs/etc/motd")).unwrap(),
        b"upper motd"
    );

    let (ok, out, err) = runc_run(&first, &unique_id("cached"));
    assert!(ok, "runc run: {err}");
    assert_eq!(out, "extraupper motdnew\n");
}

#[test]
fn cached_bundle_via_cli_and_copy_flag() {
    let td = tempfile::tempdir().unwrap();
    let sdir = td.path().join("store");
    write_layout(&sdir, "c", &cached_layers(), json!({"Cmd": ["true"]}));
    let s = sdir.to_str().unwrap();
    let b = td.path().join("b");
    let _g = BundleGuard(b.clone());
    registry::oximg_ok(&["--store", s, "-q", "bundle", "c", b.to_str().unwrap()]);
    assert!(oximg::unpack::cache::is_overlay(&b.join("rootfs")));
    let c = td.path().join("c");
    registry::oximg_ok(&[
        "--store",
        s,
        "-q",
        "bundle",
        "--copy",
        "c",
        c.to_str().unwrap(),
    ]);
    assert!(!oximg::unpack::cache::is_overlay(&c.join("rootfs")));
    assert!(c.join("rootfs/usr/lib/libextra.so").is_file());
}

#[test]
fn rootless_bundle_runs_under_rootless_runc() {
    use std::os::unix::fs::PermissionsExt;
    let td = tempfile::tempdir().unwrap();
    std::fs::set_permissions(td.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sdir = td.path().join("store");
    write_layout(
        &sdir,
        "r",
        &[(busybox_layer(), GZIP)],
        json!({"Cmd": ["sh", "-c", "id -u; cat /proc/self/uid_map"]}),
    );
    Store::open(&sdir).unwrap();
    let home = td.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    let as_nobody = |prog: &str| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(prog);
        c.env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &home)
            .stdin(std::process::Stdio::null());
        c
    };
    let b = home.join("bundle");
    let o = as_nobody(env!("CARGO_BIN_EXE_oximg"))
        .args([
            "--store",
            sdir.to_str().unwrap(),
            "-q",
            "bundle",
            "--rootless",
            "r",
            b.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "rootless bundle: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let spec = spec_of(&b);
    let ns: Vec<_> = spec
        .linux()
        .as_ref()
        .unwrap()
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .map(|n| n.typ())
        .collect();
    assert!(ns.contains(&oci_spec::runtime::LinuxNamespaceType::User));
    let o = as_nobody("runc")
        .arg("--root")
        .arg(home.join("runc"))
        .args(["run", "-b"])
        .arg(&b)
        .arg(unique_id("rootless"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "rootless runc run: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"), "{out}");
    let map: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(map, vec!["0", "65534", "1"], "{out}");
}

#[test]
fn bundle_runs_under_oxrun() {
    // oxrun is built beside oximg by `cargo build --workspace --bins`
    // (which .ci/run does before the tests).
    let oxrun = Path::new(env!("CARGO_BIN_EXE_oximg")).with_file_name("oxrun");
    assert!(
        oxrun.exists(),
        "{} missing: run `cargo build --workspace --bins` first",
        oxrun.display()
    );
    let td = tempfile::tempdir().unwrap();
    let sdir = td.path().join("store");
    write_layout(
        &sdir,
        "x",
        &[(busybox_layer(), GZIP)],
        json!({"User": "nobody", "Cmd": ["sh", "-c", "echo hello from oxrun as $(id -u)"]}),
    );
    let s = sdir.to_str().unwrap();
    let mut guards = Vec::new();
    for (name, extra) in [("overlay", None), ("copy", Some("--copy"))] {
        let b = td.path().join(name);
        guards.push(BundleGuard(b.clone()));
        let mut args = vec!["--store", s, "-q", "bundle"];
        args.extend(extra);
        args.extend(["x", b.to_str().unwrap()]);
        registry::oximg_ok(&args);
        let state = td.path().join(format!("state-{name}"));
        let id = unique_id(name);
        let out = Command::new(&oxrun)
            .arg("--root")
            .arg(&state)
            .args(["run", "-b"])
            .arg(&b)
            .arg(&id)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let _ = Command::new(&oxrun)
            .arg("--root")
            .arg(&state)
            .args(["delete", "-f", &id])
            .output();
        assert!(
            out.status.success(),
            "oxrun run ({name}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "hello from oxrun as 65534",
            "{name}"
        );
    }
}

#[test]
fn tampered_layer_in_cached_mode_leaves_no_bundle_and_no_cache_entry() {
    let td = tempfile::tempdir().unwrap();
    let sdir = td.path().join("store");
    let extra = Tar::new().file("f", 0o644, &[7u8; 100_000]).finish();
    let store = store_with(&sdir, "x", extra, json!({"Cmd": ["true"]}));
    let blobs = sdir.join("blobs/sha256");
    let biggest = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut data = std::fs::read(&biggest).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x55;
    std::fs::write(&biggest, data).unwrap();
    let b = td.path().join("bundle");
    let _g = BundleGuard(b.clone());
    let opts = BundleOptions {
        cached: true,
        ..Default::default()
    };
    let err = make_bundle(&store, "x", &b, &opts).unwrap_err();
    let msg = layers::chain(&err);
    assert!(msg.contains("layer 0") && msg.contains("mismatch"), "{msg}");
    assert!(!b.exists(), "bundle left behind");
    let cache = sdir.join(".oximg/unpacked");
    let left: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "cache holds {left:?}");
}

#[test]
fn concurrent_cached_bundles_of_one_image() {
    // Three processes fill the same cold cache at once: all succeed, each
    // layer ends up cached once, no temporary directory is left.
    let td = tempfile::tempdir().unwrap();
    let sdir = td.path().join("store");
    write_layout(&sdir, "c", &cached_layers(), json!({"Cmd": ["true"]}));
    let s = sdir.to_str().unwrap().to_string();
    let dirs: Vec<_> = (0..3).map(|i| td.path().join(format!("b{i}"))).collect();
    let _guards: Vec<_> = dirs.iter().map(|d| BundleGuard(d.clone())).collect();
    let children: Vec<_> = dirs
        .iter()
        .map(|d| {
            Command::new(env!("CARGO_BIN_EXE_oximg"))
                .args(["--store", &s, "-q", "bundle", "c", d.to_str().unwrap()])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    for d in &dirs {
        assert_eq!(
            std::fs::read(d.join("rootfs/usr/lib/libextra.so")).unwrap(),
            b"extra"
        );
    }
    let names: Vec<String> = std::fs::read_dir(sdir.join(".oximg/unpacked"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.iter().all(|n| !n.starts_with(".tmp")), "{names:?}");
}
