//! `oximg pull` against a real `docker-registry` on loopback.

#[path = "common/registry.rs"]
mod registry;

use registry::*;
use serde_json::Value;

fn store_json(store: &std::path::Path, rel: &str) -> Value {
    serde_json::from_slice(&std::fs::read(store.join(rel)).unwrap()).unwrap()
}

fn blob_exists(store: &std::path::Path, digest: &str) -> bool {
    store.join("blobs/sha256").join(&digest[7..]).exists()
}

#[test]
fn pull_single_arch_oci() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let l1 = tar(&[("hello.txt", b"hello from layer one\n")]);
    let l2 = big_layer("big.bin", 300_000, 7);
    let m = l.image("amd64", &[l1.clone(), l2.clone()]);
    l.tag("v1", &m);
    reg.push(&l.dir, "v1", "test/single:v1", &["--preserve-digests"]);

    let store = t.path().join("store");
    let r = format!("{}/test/single:v1", reg.host());
    let out = oximg_ok(&["pull", "--store", store.to_str().unwrap(), "-q", &r]);
    let digest = out.trim();
    assert_eq!(
        digest,
        m["digest"].as_str().unwrap(),
        "skopeo keeps OCI manifests byte for byte"
    );
    let idx = store_json(&store, "index.json");
    let e = &idx["manifests"][0];
    assert_eq!(
        e["annotations"]["org.opencontainers.image.ref.name"],
        r.as_str()
    );
    assert_eq!(e["mediaType"], OCI_MANIFEST);
    for l in [&l1, &l2] {
        assert!(blob_exists(&store, &sha256(l)));
    }
    assert!(store.join("oci-layout").exists());
    // An explicit --platform the image is not: refused, no ref written.
    let st2 = store.with_file_name("store-arm");
    let o = oximg(&[
        "pull",
        "--store",
        st2.to_str().unwrap(),
        "-q",
        "--platform",
        "linux/s390x",
        &r,
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("linux/s390x"), "{}", stderr(&o));
    oximg_ok(&[
        "pull",
        "--store",
        st2.to_str().unwrap(),
        "-q",
        "--platform",
        "linux/amd64",
        &r,
    ]);
    // fsck agrees, and a second pull is a no-op that succeeds.
    oximg_ok(&["fsck", "--store", store.to_str().unwrap()]);
    assert_eq!(
        oximg_ok(&["pull", "--store", store.to_str().unwrap(), "-q", &r]).trim(),
        digest
    );
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// The `index.json` entries of a store, by ref name.
fn refs(store: &std::path::Path) -> Vec<(String, Value)> {
    store_json(store, "index.json")["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                e.clone(),
            )
        })
        .collect()
}

fn inspect(store: &std::path::Path, r: &str) -> Value {
    serde_json::from_str(&oximg_ok(&["inspect", "--store", s(store), r])).unwrap()
}

#[test]
fn pull_docker_schema2() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let m = l.image("amd64", &[tar(&[("a", b"docker v2 schema 2\n")])]);
    l.tag("d", &m);
    reg.push(&l.dir, "d", "test/docker:v2s2", &["--format", "v2s2"]);
    let store = t.path().join("store");
    let r = format!("{}/test/docker:v2s2", reg.host());
    oximg_ok(&["pull", "--store", s(&store), "-q", &r]);
    let (_, e) = &refs(&store)[0];
    assert_eq!(
        e["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let i = inspect(&store, &r);
    assert_eq!(i["Architecture"], "amd64");
    assert_eq!(i["Layers"].as_array().unwrap().len(), 1);
    assert!(i["LayersData"][0]["MIMEType"]
        .as_str()
        .unwrap()
        .starts_with("application/vnd.docker.image.rootfs.diff.tar"));
    oximg_ok(&["fsck", "--store", s(&store)]);
}

#[test]
fn pull_multi_platform_index() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let amd = l.image("amd64", &[tar(&[("arch", b"amd64\n")])]);
    let arm = l.image("arm64", &[tar(&[("arch", b"arm64\n")])]);
    let idx = l.index_of(&[amd.clone(), arm.clone()]);
    l.tag("multi", &idx);
    reg.push(
        &l.dir,
        "multi",
        "test/multi:1",
        &["--all", "--preserve-digests"],
    );
    let r = format!("{}/test/multi:1", reg.host());
    let host_arch = if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "amd64"
    };
    let (host_m, other_m, other_arch) = if host_arch == "amd64" {
        (&amd, &arm, "arm64")
    } else {
        (&arm, &amd, "amd64")
    };

    // Default: this machine's platform only.
    let st1 = t.path().join("s1");
    assert_eq!(
        oximg_ok(&["pull", "--store", s(&st1), "-q", &r]).trim(),
        host_m["digest"].as_str().unwrap()
    );
    let (_, e) = &refs(&st1)[0];
    assert_eq!(e["platform"]["architecture"], host_arch);
    assert!(!blob_exists(&st1, other_m["digest"].as_str().unwrap()));

    // --platform picks another.
    let st2 = t.path().join("s2");
    let plat = format!("linux/{other_arch}");
    assert_eq!(
        oximg_ok(&["pull", "--store", s(&st2), "-q", "--platform", &plat, &r]).trim(),
        other_m["digest"].as_str().unwrap()
    );
    assert_eq!(
        inspect(&st2, &r)["Architecture"],
        "amd64".replace("amd64", other_arch)
    );

    // --all-platforms keeps the index; resolving picks the host.
    let st3 = t.path().join("s3");
    assert_eq!(
        oximg_ok(&["pull", "--store", s(&st3), "-q", "--all-platforms", &r]).trim(),
        idx["digest"].as_str().unwrap()
    );
    assert_eq!(refs(&st3)[0].1["mediaType"], OCI_INDEX);
    assert!(blob_exists(&st3, amd["digest"].as_str().unwrap()));
    assert!(blob_exists(&st3, arm["digest"].as_str().unwrap()));
    assert_eq!(inspect(&st3, &r)["Architecture"], host_arch);
    oximg_ok(&["fsck", "--store", s(&st3)]);

    // The same images as a Docker manifest list (schema2 list + manifests).
    reg.push(
        &l.dir,
        "multi",
        "test/multi:list",
        &["--all", "--format", "v2s2"],
    );
    let rl = format!("{}/test/multi:list", reg.host());
    let st4 = t.path().join("s4");
    oximg_ok(&["pull", "--store", s(&st4), "-q", "--all-platforms", &rl]);
    assert_eq!(
        refs(&st4)[0].1["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    let plat = format!("linux/{other_arch}");
    oximg_ok(&["pull", "--store", s(&st4), "-q", "--platform", &plat, &rl]);
    assert_eq!(
        refs(&st4)[0].1["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(inspect(&st4, &rl)["Architecture"], other_arch);
    oximg_ok(&["fsck", "--store", s(&st4)]);

    // A platform the index lacks is a clear error.
    let o = oximg(&[
        "pull",
        "--store",
        s(&st2),
        "-q",
        "--platform",
        "linux/s390x",
        &r,
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("platform linux/s390x"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn pull_shared_layers_stored_once() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let base = big_layer("base.bin", 200_000, 1);
    let a = l.image("amd64", &[base.clone(), tar(&[("a", b"app a\n")])]);
    let b = l.image("amd64", &[base.clone(), tar(&[("b", b"app b\n")])]);
    l.tag("a", &a);
    l.tag("b", &b);
    reg.push(&l.dir, "a", "test/app-a:1", &["--preserve-digests"]);
    reg.push(&l.dir, "b", "test/app-b:1", &["--preserve-digests"]);
    let store = t.path().join("store");
    oximg_ok(&[
        "pull",
        "--store",
        s(&store),
        "-q",
        &format!("{}/test/app-a:1", reg.host()),
    ]);
    // Remove the shared layer from the registry: the second pull can only
    // succeed if it does not fetch what the store already has.
    std::fs::remove_file(reg.blob_file(&sha256(&base))).unwrap();
    oximg_ok(&[
        "pull",
        "--store",
        s(&store),
        "-q",
        &format!("{}/test/app-b:1", reg.host()),
    ]);
    let blobs = std::fs::read_dir(store.join("blobs/sha256"))
        .unwrap()
        .count();
    // 2 manifests + 2 configs + shared base + 2 app layers
    assert_eq!(blobs, 7);
    assert_eq!(refs(&store).len(), 2);
    oximg_ok(&["fsck", "--store", s(&store)]);
    // rm one: the shared layer stays; rm both: gc empties the store.
    oximg_ok(&[
        "rm",
        "--store",
        s(&store),
        &format!("{}/test/app-a:1", reg.host()),
    ]);
    assert!(blob_exists(&store, &sha256(&base)));
    assert_eq!(
        std::fs::read_dir(store.join("blobs/sha256"))
            .unwrap()
            .count(),
        4
    );
    oximg_ok(&[
        "rm",
        "--store",
        s(&store),
        &format!("{}/test/app-b:1", reg.host()),
    ]);
    assert_eq!(
        std::fs::read_dir(store.join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
}

/// The store as it matters: blobs and index.json (not lock files).
fn content(store: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    tree(store)
        .into_iter()
        .filter(|(k, _)| !k.starts_with(".oximg/") || k.starts_with(".oximg/ingest"))
        .collect()
}

#[test]
fn pull_tampered_blob_fails_and_store_unchanged() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let good = l.image("amd64", &[tar(&[("ok", b"fine\n")])]);
    let evil_layer = big_layer("x.bin", 100_000, 3);
    let evil = l.image("amd64", std::slice::from_ref(&evil_layer));
    l.tag("good", &good);
    l.tag("evil", &evil);
    reg.push(&l.dir, "good", "test/good:1", &["--preserve-digests"]);
    reg.push(&l.dir, "evil", "test/evil:1", &["--preserve-digests"]);
    let store = t.path().join("store");
    oximg_ok(&[
        "pull",
        "--store",
        s(&store),
        "-q",
        &format!("{}/test/good:1", reg.host()),
    ]);
    // Flip one byte of the layer in the registry's own storage.
    let f = reg.blob_file(&sha256(&evil_layer));
    let mut b = std::fs::read(&f).unwrap();
    b[5000] ^= 0xff;
    std::fs::write(&f, b).unwrap();
    let before = content(&store);
    let o = oximg(&[
        "pull",
        "--store",
        s(&store),
        "-q",
        &format!("{}/test/evil:1", reg.host()),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("digest mismatch"), "{}", stderr(&o));
    // index.json and every blob already there are byte-identical; the bad
    // layer is neither in blobs/ nor left as a partial. (Blobs of the image
    // that verified fine may stay, unreferenced, for the next pull or gc.)
    let after = content(&store);
    for (k, v) in &before {
        assert!(after.get(k) == Some(v), "{k} changed or vanished");
    }
    assert!(!blob_exists(&store, &sha256(&evil_layer)));
    assert_eq!(ingest_len(&store), 0, "bad bytes left in ingest/");
    let extra: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(
        extra
            .iter()
            .all(|k| k.starts_with("blobs/") && !k.contains(&sha256(&evil_layer)[7..])),
        "{extra:?}"
    );
    oximg_ok(&["fsck", "--store", s(&store)]);
}

#[test]
fn pull_401_without_creds_and_auth_sources() {
    let reg = Registry::start_auth("alice", "s3cret");
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let m = l.image("amd64", &[tar(&[("a", b"private\n")])]);
    l.tag("p", &m);
    reg.push(&l.dir, "p", "private/img:1", &[]);
    let r = format!("{}/private/img:1", reg.host());
    let store = t.path().join("store");

    let o = oximg(&["pull", "--store", s(&store), "-q", &r]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unauthorized"), "{}", stderr(&o));
    let o = oximg(&[
        "pull",
        "--store",
        s(&store),
        "-q",
        "--creds",
        "alice:wrong",
        &r,
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unauthorized"), "{}", stderr(&o));
    assert!(refs(&store).is_empty());

    oximg_ok(&[
        "pull",
        "--store",
        s(&store),
        "-q",
        "--creds",
        "alice:s3cret",
        &r,
    ]);
    assert_eq!(refs(&store).len(), 1);

    // auth.json (podman/skopeo format, base64 `auth`), via --authfile, via
    // $REGISTRY_AUTH_FILE, and ~/.docker/config.json.
    let authfile = t.path().join("auth.json");
    let st2 = t.path().join("s2");
    let login = oximg(&[
        "login",
        "--authfile",
        s(&authfile),
        "-u",
        "alice",
        "-p",
        "s3cret",
        &reg.host(),
    ]);
    assert!(login.status.success(), "{}", stderr(&login));
    let a: Value = serde_json::from_slice(&std::fs::read(&authfile).unwrap()).unwrap();
    assert_eq!(a["auths"][reg.host()]["auth"], "YWxpY2U6czNjcmV0");
    let bad = oximg(&[
        "login",
        "--authfile",
        s(&t.path().join("bad.json")),
        "-u",
        "alice",
        "-p",
        "nope",
        &reg.host(),
    ]);
    assert!(!bad.status.success());
    assert!(!t.path().join("bad.json").exists());
    oximg_ok(&[
        "pull",
        "--store",
        s(&st2),
        "-q",
        "--authfile",
        s(&authfile),
        &r,
    ]);
    let st3 = t.path().join("s3");
    let o = oximg_env(
        &["pull", "--store", s(&st3), "-q", &r],
        &[("REGISTRY_AUTH_FILE", s(&authfile))],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let home = t.path().join("home");
    std::fs::create_dir_all(home.join(".docker")).unwrap();
    std::fs::copy(&authfile, home.join(".docker/config.json")).unwrap();
    let st4 = t.path().join("s4");
    let o = oximg_env(
        &["pull", "--store", s(&st4), "-q", &r],
        &[("HOME", s(&home))],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // podman's default: $XDG_RUNTIME_DIR/containers/auth.json, where
    // `oximg login` writes without --authfile.
    let run = t.path().join("run");
    let o = oximg_env(
        &["login", "-u", "alice", "-p", "s3cret", &reg.host()],
        &[("XDG_RUNTIME_DIR", s(&run))],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(run.join("containers/auth.json").exists());
    let o = oximg_env(
        &["pull", "--store", s(&t.path().join("s6")), "-q", &r],
        &[("XDG_RUNTIME_DIR", s(&run))],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&authfile).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "auth.json readable by others: {mode:o}");
    oximg_ok(&["logout", "--authfile", s(&authfile), &reg.host()]);
    let a: Value = serde_json::from_slice(&std::fs::read(&authfile).unwrap()).unwrap();
    assert!(a["auths"].get(reg.host()).is_none());
    assert!(!oximg(&["logout", "--authfile", s(&authfile), &reg.host()])
        .status
        .success());
    let o = oximg(&[
        "pull",
        "--store",
        s(&t.path().join("s5")),
        "-q",
        "--authfile",
        s(&authfile),
        &r,
    ]);
    assert!(!o.status.success());
}

#[test]
fn pull_404_missing_tag() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let m = l.image("amd64", &[tar(&[("a", b"x\n")])]);
    l.tag("t", &m);
    reg.push(&l.dir, "t", "test/there:yes", &[]);
    let store = t.path().join("store");
    for r in ["test/there:no", "test/absent:1"] {
        let o = oximg(&[
            "pull",
            "--store",
            s(&store),
            "-q",
            &format!("{}/{r}", reg.host()),
        ]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
    }
    assert!(refs(&store).is_empty());
}

const PROXY: &str = include_str!("common/proxy.py");

fn ingest_len(store: &std::path::Path) -> u64 {
    std::fs::read_dir(store.join(".oximg/ingest"))
        .map(|rd| rd.flatten().map(|e| e.metadata().unwrap().len()).sum())
        .unwrap_or(0)
}

fn range_requests(log: &std::path::Path, digest: &str) -> Vec<u64> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["path"].as_str().unwrap_or("").ends_with(digest))
        .filter_map(|v| {
            let h = v["headers"].as_object()?;
            let r = h
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("range"))?
                .1
                .as_str()?;
            r.strip_prefix("bytes=")?.trim_end_matches('-').parse().ok()
        })
        .collect()
}

#[test]
fn pull_resumes_after_dropped_connection() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let big = big_layer("big.bin", 3 << 20, 11);
    let m = l.image("amd64", std::slice::from_ref(&big));
    l.tag("big", &m);
    reg.push(&l.dir, "big", "test/big:1", &["--preserve-digests"]);
    let log = t.path().join("proxy.log");
    let port = reg.port.to_string();
    let proxy = Py::start(t.path(), "proxy.py", PROXY, &[&port, s(&log), "cut-once"]);
    let store = t.path().join("store");
    oximg_ok(&[
        "pull",
        "--store",
        s(&store),
        "-q",
        &format!("127.0.0.1:{}/test/big:1", proxy.port),
    ]);
    assert!(blob_exists(&store, &sha256(&big)));
    let ranges = range_requests(&log, &sha256(&big));
    assert!(
        ranges.iter().any(|&r| r >= 1 << 20),
        "no Range resume: {ranges:?}"
    );
    oximg_ok(&["fsck", "--store", s(&store)]);
}

#[test]
fn pull_registry_stopped_mid_pull_then_resumed() {
    let mut reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let big = big_layer("big.bin", 6 << 20, 12);
    let m = l.image("amd64", std::slice::from_ref(&big));
    l.tag("big", &m);
    reg.push(&l.dir, "big", "test/big:1", &["--preserve-digests"]);
    let log = t.path().join("proxy.log");
    let port = reg.port.to_string();
    let proxy = Py::start(t.path(), "proxy.py", PROXY, &[&port, s(&log), "slow"]);
    let store = t.path().join("store");
    let r = format!("127.0.0.1:{}/test/big:1", proxy.port);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_oximg"))
        .args(["pull", "--store", s(&store), "-q", "--retry-times", "2", &r])
        .env("HOME", "/nonexistent")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while ingest_len(&store) < 512 * 1024 {
        assert!(t0.elapsed().as_secs() < 30, "pull never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    reg.stop();
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success(), "pull succeeded with the registry down");
    let partial = ingest_len(&store);
    assert!(
        partial > 0 && partial < big.len() as u64,
        "partial {partial}"
    );
    assert!(refs(&store).is_empty(), "a ref to an incomplete image");
    oximg_ok(&["fsck", "--store", s(&store)]);

    reg.restart();
    oximg_ok(&["pull", "--store", s(&store), "-q", &r]);
    assert!(blob_exists(&store, &sha256(&big)));
    let ranges = range_requests(&log, &sha256(&big));
    assert!(
        ranges.iter().any(|&x| x >= partial),
        "no resume from {partial}: {ranges:?}"
    );
    assert_eq!(ingest_len(&store), 0);
    oximg_ok(&["fsck", "--store", s(&store)]);
}

#[test]
fn pull_killed_mid_blob_leaves_store_consistent_and_next_pull_resumes() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let big = big_layer("big.bin", 6 << 20, 13);
    let small = tar(&[("s", b"small\n")]);
    let m = l.image("amd64", &[small.clone(), big.clone()]);
    l.tag("big", &m);
    reg.push(&l.dir, "big", "test/killed:1", &["--preserve-digests"]);
    let log = t.path().join("proxy.log");
    let port = reg.port.to_string();
    let proxy = Py::start(t.path(), "proxy.py", PROXY, &[&port, s(&log), "slow"]);
    let store = t.path().join("store");
    let r = format!("127.0.0.1:{}/test/killed:1", proxy.port);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_oximg"))
        .args(["pull", "--store", s(&store), "-q", &r])
        .env("HOME", "/nonexistent")
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while ingest_len(&store) < 512 * 1024 {
        assert!(t0.elapsed().as_secs() < 30, "pull never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup code runs
    child.wait().unwrap();
    let partial = ingest_len(&store);
    assert!(partial > 0 && partial < big.len() as u64);
    assert!(refs(&store).is_empty());
    assert!(!blob_exists(&store, &sha256(&big)));
    oximg_ok(&["fsck", "--store", s(&store)]);
    // The next pull finishes the job from where the killed one stopped.
    oximg_ok(&["pull", "--store", s(&store), "-q", &r]);
    let ranges = range_requests(&log, &sha256(&big));
    assert!(
        ranges.iter().any(|&x| x >= partial),
        "no resume from {partial}: {ranges:?}"
    );
    assert_eq!(refs(&store).len(), 1);
    oximg_ok(&["fsck", "--store", s(&store)]);
}

#[test]
fn pull_by_digest_already_stored_needs_no_network() {
    let mut reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let m = l.image("amd64", &[tar(&[("a", b"offline\n")])]);
    l.tag("v1", &m);
    reg.push(&l.dir, "v1", "test/offline:v1", &["--preserve-digests"]);
    let store = t.path().join("store");
    oximg_ok(&[
        "pull",
        "--store",
        s(&store),
        "-q",
        &format!("{}/test/offline:v1", reg.host()),
    ]);
    reg.stop();
    let by_digest = format!(
        "{}/test/offline@{}",
        reg.host(),
        m["digest"].as_str().unwrap()
    );
    oximg_ok(&["pull", "--store", s(&store), "-q", &by_digest]);
    assert!(refs(&store).iter().any(|(n, _)| *n == by_digest));
}

#[test]
fn pull_https_verifies_certificates() {
    let reg = Registry::start_tls();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let m = l.image("amd64", &[tar(&[("tls", b"over https\n")])]);
    l.tag("v1", &m);
    reg.push(&l.dir, "v1", "tls/img:v1", &["--preserve-digests"]);
    let r = format!("{}/tls/img:v1", reg.host());
    let store = t.path().join("store");
    // Unknown CA: refused, and the error is about the certificate.
    let o = oximg(&["pull", "--store", s(&store), "-q", &r]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("https://") && e.to_lowercase().contains("certificate"),
        "{e}"
    );
    assert!(refs(&store).is_empty());
    // With the CA in --cert-dir: verified HTTPS.
    let ca = reg.ca_dir();
    oximg_ok(&["pull", "--store", s(&store), "-q", "--cert-dir", s(&ca), &r]);
    assert_eq!(refs(&store).len(), 1);
    // --tls-verify=false: accepted without the CA.
    let st2 = t.path().join("s2");
    oximg_ok(&["pull", "--store", s(&st2), "-q", "--tls-verify=false", &r]);
    assert_eq!(refs(&st2).len(), 1);
}

#[test]
fn pull_gc_during_pull_keeps_the_pulls_blobs() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let small = tar(&[("s", b"first, small\n")]);
    let big = big_layer("big.bin", 4 << 20, 21);
    let m = l.image("amd64", &[small.clone(), big.clone()]);
    l.tag("v1", &m);
    reg.push(&l.dir, "v1", "test/gc:1", &["--preserve-digests"]);
    let log = t.path().join("proxy.log");
    let port = reg.port.to_string();
    let proxy = Py::start(t.path(), "proxy.py", PROXY, &[&port, s(&log), "slow"]);
    let store = t.path().join("store");
    let r = format!("127.0.0.1:{}/test/gc:1", proxy.port);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_oximg"))
        .args(["pull", "--store", s(&store), "-q", &r])
        .env("HOME", "/nonexistent")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the small layer is committed (unreferenced so far) while
    // the big one is still streaming, then collect garbage.
    let t0 = std::time::Instant::now();
    while !(blob_exists(&store, &sha256(&small)) && ingest_len(&store) > 0) {
        assert!(t0.elapsed().as_secs() < 30, "pull never got going");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let gc = oximg(&["gc", "--store", s(&store)]);
    assert!(gc.status.success(), "{}", stderr(&gc));
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        blob_exists(&store, &sha256(&small)),
        "gc deleted a running pull's blob"
    );
    assert_eq!(refs(&store).len(), 1);
    oximg_ok(&["fsck", "--store", s(&store)]);
}

#[test]
fn pull_umoci_manifest_without_media_type_field() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let lay = t.path().join("umoci");
    let file = t.path().join("payload.txt");
    std::fs::write(&file, b"made by umoci\n").unwrap();
    for args in [
        vec!["init", "--layout", s(&lay)],
        vec!["new", "--image", &format!("{}:u", s(&lay))],
        vec![
            "insert",
            "--image",
            &format!("{}:u", s(&lay)),
            s(&file),
            "/payload.txt",
        ],
    ] {
        let o = std::process::Command::new("umoci")
            .args(&args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "umoci {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    reg.push(&lay, "u", "test/umoci:u", &["--preserve-digests"]);
    let store = t.path().join("store");
    let r = format!("{}/test/umoci:u", reg.host());
    oximg_ok(&["pull", "--store", s(&store), "-q", &r]);
    let raw = oximg_ok(&["inspect", "--store", s(&store), "--raw", &r]);
    let v: Value = serde_json::from_str(&raw).unwrap();
    assert!(
        v.get("mediaType").is_none(),
        "umoci started writing mediaType: test is moot"
    );
    assert_eq!(refs(&store)[0].1["mediaType"], OCI_MANIFEST);
    assert_eq!(inspect(&store, &r)["Layers"].as_array().unwrap().len(), 1);
}

#[test]
fn pull_partials_left_by_a_dead_pull_are_verified_not_trusted() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let good = big_layer("g.bin", 300_000, 31);
    let other = big_layer("o.bin", 300_000, 32);
    let third = big_layer("t.bin", 300_000, 33);
    let m = l.image("amd64", &[good.clone(), other.clone(), third.clone()]);
    l.tag("v1", &m);
    reg.push(&l.dir, "v1", "test/partial:1", &["--preserve-digests"]);
    let log = t.path().join("proxy.log");
    let port = reg.port.to_string();
    let proxy = Py::start(t.path(), "proxy.py", PROXY, &[&port, s(&log), "plain"]);
    let store = t.path().join("store");
    oximg_ok(&["images", "--store", s(&store)]); // creates the layout
                                                 // As if a pull died after writing all bytes but before the rename: one
                                                 // whole, correct partial and one whole partial with wrong bytes.
    let ingest = store.join(".oximg/ingest");
    std::fs::create_dir_all(&ingest).unwrap();
    std::fs::write(
        ingest.join(format!("sha256-{}", &sha256(&good)[7..])),
        &good,
    )
    .unwrap();
    let mut bad = other.clone();
    bad[1000] ^= 0x55;
    std::fs::write(
        ingest.join(format!("sha256-{}", &sha256(&other)[7..])),
        &bad,
    )
    .unwrap();
    // And a half partial whose prefix is wrong: resumed, fails the digest,
    // then fetched once from zero within the same pull.
    let mut half = third[..150_000].to_vec();
    half[10] ^= 0x55;
    std::fs::write(
        ingest.join(format!("sha256-{}", &sha256(&third)[7..])),
        &half,
    )
    .unwrap();
    let r = format!("127.0.0.1:{}/test/partial:1", proxy.port);
    oximg_ok(&["pull", "--store", s(&store), "-q", &r]);
    let fetched = |d: &str| {
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|x| x.contains(&format!("/blobs/{d}")))
            .count()
    };
    assert_eq!(
        fetched(&sha256(&good)),
        0,
        "a whole verified partial was fetched again"
    );
    assert!(
        fetched(&sha256(&other)) >= 1,
        "a corrupt partial was trusted"
    );
    assert_eq!(
        fetched(&sha256(&third)),
        2,
        "expected a Range resume, then a fresh fetch"
    );
    oximg_ok(&["fsck", "--store", s(&store)]);
}
