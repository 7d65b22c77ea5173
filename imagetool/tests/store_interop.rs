//! The store is a plain OCI image layout: umoci and skopeo read what oximg
//! writes, and oximg reads what skopeo and umoci write.

#[path = "common/registry.rs"]
mod registry;

use std::process::Command;

use registry::*;
use serde_json::Value;

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn store_written_by_oximg_is_read_by_umoci_and_skopeo() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let m = l.image(
        "amd64",
        &[
            tar(&[("hello.txt", b"hello from oximg\n")]),
            tar(&[("second.txt", b"layer two\n")]),
        ],
    );
    l.tag("v1", &m);
    reg.push(&l.dir, "v1", "interop/img:v1", &["--preserve-digests"]);
    let store = t.path().join("store");
    let r = format!("{}/interop/img:v1", reg.host());
    oximg_ok(&["pull", "--store", s(&store), "-q", &r]);

    // skopeo inspect oci:STORE:REF
    let out = run(Command::new("skopeo").args(["inspect", &format!("oci:{}:{r}", s(&store))]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Digest"], m["digest"]);
    assert_eq!(v["Layers"].as_array().unwrap().len(), 2);

    // umoci unpack --image STORE:REF BUNDLE
    let bundle = t.path().join("bundle");
    let mut c = Command::new("umoci");
    c.arg("unpack");
    if !rustix::process::geteuid().is_root() {
        c.arg("--rootless");
    }
    run(c.args(["--image", &format!("{}:{r}", s(&store)), s(&bundle)]));
    assert_eq!(
        std::fs::read(bundle.join("rootfs/hello.txt")).unwrap(),
        b"hello from oximg\n"
    );
    assert_eq!(
        std::fs::read(bundle.join("rootfs/second.txt")).unwrap(),
        b"layer two\n"
    );
    // umoci's own listing finds the ref.
    let ls = run(Command::new("umoci").args(["ls", "--layout", s(&store)]));
    assert!(ls.lines().any(|x| x == r), "{ls}");
}

#[test]
fn layout_written_by_skopeo_and_umoci_is_read_by_oximg() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let m = l.image("amd64", &[tar(&[("a.txt", b"from skopeo\n")])]);
    l.tag("v1", &m);
    reg.push(&l.dir, "v1", "interop/sk:v1", &[]);
    // skopeo copy docker://… oci:DIR:mytag
    let dir = t.path().join("skopeo-layout");
    run(Command::new("skopeo").args([
        "--insecure-policy",
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}/interop/sk:v1", reg.host()),
        &format!("oci:{}:mytag", s(&dir)),
    ]));
    let imgs: Value = serde_json::from_str(&oximg_ok(&[
        "images",
        "--store",
        s(&dir),
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(imgs[0]["name"], "mytag");
    let i: Value =
        serde_json::from_str(&oximg_ok(&["inspect", "--store", s(&dir), "mytag"])).unwrap();
    assert_eq!(i["Architecture"], "amd64");
    assert_eq!(i["Labels"]["test"], "oximg");
    oximg_ok(&["fsck", "--store", s(&dir)]);
    // oximg can pull into the same layout, and skopeo still reads both.
    let r = format!("{}/interop/sk:v1", reg.host());
    oximg_ok(&["pull", "--store", s(&dir), "-q", &r]);
    run(Command::new("skopeo").args(["inspect", &format!("oci:{}:mytag", s(&dir))]));
    run(Command::new("skopeo").args(["inspect", &format!("oci:{}:{r}", s(&dir))]));

    // umoci writes manifests without a mediaType field.
    let ul = t.path().join("umoci-layout");
    run(Command::new("umoci").args(["init", "--layout", s(&ul)]));
    run(Command::new("umoci").args(["new", "--image", &format!("{}:fresh", s(&ul))]));
    let cfg: Value = serde_json::from_str(&oximg_ok(&[
        "inspect",
        "--store",
        s(&ul),
        "--config",
        "fresh",
    ]))
    .unwrap();
    assert!(cfg["os"].is_string(), "{cfg}");
    oximg_ok(&["fsck", "--store", s(&ul)]);
}

#[test]
fn store_concurrent_pulls_keep_every_ref() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let base = big_layer("base.bin", 500_000, 5);
    for i in 0..4 {
        let m = l.image(
            "amd64",
            &[base.clone(), tar(&[("n", format!("{i}\n").as_bytes())])],
        );
        l.tag(&format!("t{i}"), &m);
        reg.push(&l.dir, &format!("t{i}"), &format!("conc/img{i}:1"), &[]);
    }
    let store = t.path().join("store");
    // Four images sharing a base layer, plus two more pulls of image 0:
    // every blob is fetched by one process while the others wait for it.
    let children: Vec<_> = [0, 1, 2, 3, 0, 0]
        .into_iter()
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_oximg"))
                .args(["pull", "--store", s(&store), "-q"])
                .arg(format!("{}/conc/img{i}:1", reg.host()))
                .env("HOME", "/nonexistent")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let idx: Value =
        serde_json::from_slice(&std::fs::read(store.join("index.json")).unwrap()).unwrap();
    assert_eq!(idx["manifests"].as_array().unwrap().len(), 4, "{idx}");
    let partials = std::fs::read_dir(store.join(".oximg/ingest"))
        .unwrap()
        .flatten()
        .count();
    assert_eq!(partials, 0, "partial downloads left behind");
    oximg_ok(&["fsck", "--store", s(&store)]);
}

#[test]
fn store_fsck_finds_corruption_and_reads_refuse_it() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let layer = tar(&[("x", b"precious\n")]);
    let m = l.image("amd64", std::slice::from_ref(&layer));
    l.tag("v1", &m);
    reg.push(&l.dir, "v1", "fsck/img:v1", &["--preserve-digests"]);
    let store = t.path().join("store");
    let r = format!("{}/fsck/img:v1", reg.host());
    oximg_ok(&["pull", "--store", s(&store), "-q", &r]);
    oximg_ok(&["fsck", "--store", s(&store)]);
    // Corrupt the layer (same size) and delete the config.
    let lp = store.join("blobs/sha256").join(&sha256(&layer)[7..]);
    let mut b = std::fs::read(&lp).unwrap();
    b[600] ^= 1;
    std::fs::write(&lp, b).unwrap();
    let st = oximg_ok(&["inspect", "--store", s(&store), "--raw", &r]);
    let man: Value = serde_json::from_str(&st).unwrap();
    let cfg = man["config"]["digest"].as_str().unwrap().to_string();
    std::fs::remove_file(store.join("blobs/sha256").join(&cfg[7..])).unwrap();
    let o = oximg(&["fsck", "--store", s(&store)]);
    assert!(!o.status.success());
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains(&sha256(&layer)) && out.contains("digest mismatch"),
        "{out}"
    );
    assert!(out.contains(&cfg) && out.contains("missing"), "{out}");
    // The library's verifying reader refuses the corrupt layer.
    let store_api = oximg::store::Store::open(&store).unwrap();
    let man: oci_spec::image::ImageManifest = serde_json::from_str(&st).unwrap();
    let mut rd = store_api.open_blob(&man.layers()[0]).unwrap();
    let err = std::io::copy(&mut rd, &mut std::io::sink()).unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    // Pulling again repairs the missing config (the corrupt layer is the
    // user's to remove: rm + gc, then pull).
    oximg_ok(&["rm", "--store", s(&store), &r]);
    oximg_ok(&["pull", "--store", s(&store), "-q", &r]);
    oximg_ok(&["fsck", "--store", s(&store)]);
}

#[test]
fn store_images_inspect_remote_and_gc() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let m = l.image("amd64", &[tar(&[("x", b"1\n")])]);
    l.tag("v1", &m);
    reg.push(&l.dir, "v1", "misc/img:v1", &["--preserve-digests"]);
    let r = format!("{}/misc/img:v1", reg.host());
    // Remote inspect: raw bytes are the registry's, summary has the config.
    let raw = oximg_ok(&["inspect", &format!("docker://{r}"), "--raw"]);
    assert_eq!(
        sha256(raw.trim_end().as_bytes()),
        m["digest"].as_str().unwrap()
    );
    let sum: Value =
        serde_json::from_str(&oximg_ok(&["inspect", &format!("docker://{r}")])).unwrap();
    assert_eq!(sum["Digest"], m["digest"]);
    assert_eq!(sum["Env"][0], "PATH=/bin");
    let store = t.path().join("store");
    oximg_ok(&["pull", "--store", s(&store), "-q", &r]);
    let table = oximg_ok(&["images", "--store", s(&store)]);
    assert!(table.lines().nth(1).unwrap().starts_with(&r), "{table}");
    // Short names resolve through normalisation; by digest too.
    let by_digest = oximg_ok(&[
        "inspect",
        "--store",
        s(&store),
        m["digest"].as_str().unwrap(),
    ]);
    assert!(by_digest.contains("PATH=/bin"));
    // A stray blob is collected, referenced ones are kept.
    std::fs::write(store.join("blobs/sha256").join("0".repeat(64)), b"stray").unwrap();
    let out = oximg_ok(&["gc", "--store", s(&store)]);
    assert!(out.contains("removed 1 blobs"), "{out}");
    oximg_ok(&["fsck", "--store", s(&store)]);
}

#[test]
fn store_library_api_pull_resolve_read() {
    use oximg::registry::{pull, PullOptions};
    use oximg::store::{Store, StoreError};
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let layer = tar(&[("lib.txt", b"via the library\n")]);
    let m = l.image("amd64", std::slice::from_ref(&layer));
    l.tag("v1", &m);
    reg.push(&l.dir, "v1", "lib/img:v1", &["--preserve-digests"]);
    let store = Store::open(&t.path().join("store")).unwrap();
    let r = format!("{}/lib/img:v1", reg.host());
    assert!(matches!(store.resolve(&r), Err(StoreError::NotFound(_))));
    let d = pull(&r, &store, &PullOptions::default()).unwrap();
    assert_eq!(d.digest().to_string(), m["digest"].as_str().unwrap());
    let (md, man) = store.resolve(&r).unwrap();
    assert_eq!(md.digest(), d.digest());
    let cfg = store.image_config(&man).unwrap();
    assert_eq!(cfg.architecture().to_string(), "amd64");
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut store.open_blob(&man.layers()[0]).unwrap(), &mut body).unwrap();
    assert_eq!(body, layer);
    assert_eq!(
        store.blob_path(man.layers()[0].digest()),
        t.path()
            .join("store/blobs/sha256")
            .join(&sha256(&layer)[7..])
    );
    // read_json refuses a descriptor over 4 MiB before reading anything.
    let mut big = man.config().clone();
    big.set_size(5 << 20);
    assert!(matches!(
        store.read_json::<Value>(&big),
        Err(StoreError::TooLarge { .. })
    ));
}

#[test]
fn store_default_location_is_per_user() {
    let reg = Registry::start();
    let t = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&t.path().join("src"));
    let m = l.image("amd64", &[tar(&[("d", b"default store\n")])]);
    l.tag("v1", &m);
    reg.push(&l.dir, "v1", "def/img:v1", &[]);
    let r = format!("{}/def/img:v1", reg.host());
    // $XDG_DATA_HOME/oximg first, then ~/.local/share/oximg, $OXIMG_STORE over both.
    let xdg = t.path().join("xdg");
    let o = oximg_env(&["pull", "-q", &r], &[("XDG_DATA_HOME", s(&xdg))]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(xdg.join("oximg/index.json").exists());
    let home = t.path().join("home");
    let o = oximg_env(
        &["pull", "-q", &r],
        &[("HOME", s(&home)), ("XDG_DATA_HOME", "")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(home.join(".local/share/oximg/index.json").exists());
    let env_store = t.path().join("env-store");
    let o = oximg_env(&["images"], &[("OXIMG_STORE", s(&env_store))]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(env_store.join("oci-layout").exists());
}
