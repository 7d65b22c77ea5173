//! Pull-side attack classes from FIELD-NOTES, each against a scripted
//! registry on loopback that serves exactly the hostile bytes.

#[path = "common/registry.rs"]
mod registry;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use registry::*;
use serde_json::{json, Value};

const FAKEREG: &str = include_str!("common/fakereg.py");
const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Routes for the scripted registry, serving repository `x`.
struct Fake {
    dir: PathBuf,
    auth: Option<String>,
    bearer: Option<Value>,
    routes: serde_json::Map<String, Value>,
    n: usize,
}

impl Fake {
    fn new(dir: &Path) -> Fake {
        Fake {
            dir: dir.to_path_buf(),
            auth: None,
            bearer: None,
            routes: Default::default(),
            n: 0,
        }
    }

    fn route(&mut self, path: &str, status: u16, headers: Value, body: &[u8]) -> &mut Value {
        self.n += 1;
        let f = self.dir.join(format!("body-{}", self.n));
        std::fs::write(&f, body).unwrap();
        self.routes.insert(
            path.to_string(),
            json!({"status": status, "headers": headers, "body_file": f.to_str().unwrap()}),
        );
        self.routes.get_mut(path).unwrap()
    }

    /// A blob at its digest path; returns its descriptor.
    fn blob(&mut self, media_type: &str, data: &[u8]) -> Value {
        let d = sha256(data);
        self.route(&format!("/v2/x/blobs/{d}"), 200, json!({}), data);
        json!({"mediaType": media_type, "digest": d, "size": data.len()})
    }

    /// A manifest under `/v2/x/manifests/<reference>` with a Content-Type.
    fn manifest(&mut self, reference: &str, content_type: &str, body: &[u8]) {
        self.route(
            &format!("/v2/x/manifests/{reference}"),
            200,
            json!({"Content-Type": content_type, "Docker-Content-Digest": sha256(body)}),
            body,
        );
    }

    /// A well-formed single-layer image; returns (manifest bytes, layer bytes).
    fn image(&mut self, layer_urls: Option<Vec<String>>) -> (Vec<u8>, Vec<u8>) {
        let layer = tar(&[("f", b"payload\n")]);
        let cfg = self.blob(
            "application/vnd.oci.image.config.v1+json",
            &serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]}}))
            .unwrap(),
        );
        let mut l = self.blob(LAYER_TAR, &layer);
        if let Some(u) = layer_urls {
            l["urls"] = json!(u);
        }
        let m = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": cfg, "layers": [l]}))
        .unwrap();
        (m, layer)
    }

    fn start(&self, name: &str) -> (Py, PathBuf) {
        let routes = self.dir.join(format!("{name}.routes.json"));
        std::fs::write(
            &routes,
            serde_json::to_vec(
                &json!({"auth": self.auth, "bearer": self.bearer, "routes": self.routes}),
            )
            .unwrap(),
        )
        .unwrap();
        let log = self.dir.join(format!("{name}.requests"));
        let py = Py::start(
            &self.dir,
            &format!("{name}.py"),
            FAKEREG,
            &[routes.to_str().unwrap(), log.to_str().unwrap()],
        );
        (py, log)
    }
}

fn requests(log: &Path) -> Vec<Value> {
    // The server logs after answering; give it a moment.
    std::thread::sleep(Duration::from_millis(200));
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A request header from the log, by case-insensitive name.
fn header<'a>(r: &'a Value, name: &str) -> Option<&'a str> {
    r["headers"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))?
        .1
        .as_str()
}

fn pull(store: &Path, port: u16, reference: &str, extra: &[&str]) -> std::process::Output {
    let r = format!("127.0.0.1:{port}/x:{reference}");
    let mut args = vec!["pull", "--store", store.to_str().unwrap(), "-q"];
    if !extra.contains(&"--retry-times") {
        args.extend_from_slice(&["--retry-times", "2"]);
    }
    args.extend_from_slice(extra);
    args.push(&r);
    oximg(&args)
}

fn assert_fails_with(o: &std::process::Output, needle: &str) {
    assert!(!o.status.success(), "pull succeeded");
    let e = stderr(o).to_lowercase();
    eprintln!("refused as expected: {}", e.trim());
    assert!(e.contains(needle), "expected {needle:?} in: {e}");
}

fn assert_nothing_stored(store: &Path) {
    let idx: Value =
        serde_json::from_slice(&std::fs::read(store.join("index.json")).unwrap()).unwrap();
    assert!(
        idx["manifests"].as_array().unwrap().is_empty(),
        "a ref was written"
    );
}

#[test]
fn attack_unbounded_manifest_declared_length() {
    let t = tempfile::tempdir().unwrap();
    let mut f = Fake::new(t.path());
    f.manifest("t", OCI_MANIFEST, br#"{"schemaVersion":2,"layers":["#);
    f.routes.get_mut("/v2/x/manifests/t").unwrap()["content_length"] = json!(10u64 << 30);
    f.routes.get_mut("/v2/x/manifests/t").unwrap()["endless"] = json!(true);
    let (py, log) = f.start("reg");
    let store = t.path().join("store");
    let t0 = Instant::now();
    let o = pull(&store, py.port, "t", &[]);
    assert_fails_with(&o, "limit");
    assert!(t0.elapsed() < Duration::from_secs(20));
    let sent: u64 = requests(&log)
        .iter()
        .map(|r| r["sent"].as_u64().unwrap())
        .sum();
    assert!(
        sent < 64 << 20,
        "client read {sent} bytes of a 10 GB manifest"
    );
    assert_nothing_stored(&store);
}

#[test]
fn attack_unbounded_manifest_streamed_without_length() {
    let t = tempfile::tempdir().unwrap();
    let mut f = Fake::new(t.path());
    f.manifest("t", OCI_MANIFEST, br#"{"schemaVersion":2,"layers":["#);
    f.routes.get_mut("/v2/x/manifests/t").unwrap()["endless"] = json!(true);
    let (py, log) = f.start("reg");
    let store = t.path().join("store");
    let t0 = Instant::now();
    let o = pull(&store, py.port, "t", &[]);
    assert_fails_with(&o, "limit");
    assert!(t0.elapsed() < Duration::from_secs(20));
    let sent: u64 = requests(&log)
        .iter()
        .map(|r| r["sent"].as_u64().unwrap())
        .sum();
    assert!(
        sent < 64 << 20,
        "client read {sent} bytes of an endless manifest"
    );
    assert_nothing_stored(&store);
}

#[test]
fn attack_oversized_config_descriptor_refused_before_fetch() {
    let t = tempfile::tempdir().unwrap();
    let mut f = Fake::new(t.path());
    let cfg = json!({"mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": sha256(b"{}"), "size": 10u64 << 30});
    let m = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": cfg, "layers": []}))
    .unwrap();
    f.manifest("t", OCI_MANIFEST, &m);
    let (py, log) = f.start("reg");
    let store = t.path().join("store");
    assert_fails_with(&pull(&store, py.port, "t", &[]), "limit");
    assert!(requests(&log)
        .iter()
        .all(|r| !r["path"].as_str().unwrap().contains("/blobs/")));
    assert_nothing_stored(&store);
}

#[test]
fn attack_manifest_size_disagrees_with_index_descriptor() {
    let t = tempfile::tempdir().unwrap();
    let mut f = Fake::new(t.path());
    let (m, _) = f.image(None);
    let md = sha256(&m);
    f.manifest(&md, OCI_MANIFEST, &m);
    let idx = serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": md, "size": 100,
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": OCI_MANIFEST, "digest": md, "size": 100,
         "platform": {"architecture": "arm64", "os": "linux"}}]}),
    )
    .unwrap();
    f.manifest("t", OCI_INDEX, &idx);
    let (py, _log) = f.start("reg");
    let store = t.path().join("store");
    assert_fails_with(&pull(&store, py.port, "t", &[]), "limit");
    assert_nothing_stored(&store);
}

#[test]
fn attack_media_type_confusion_layers_and_manifests() {
    let t = tempfile::tempdir().unwrap();
    let mut f = Fake::new(t.path());
    let (m, _) = f.image(None);
    let mut v: Value = serde_json::from_slice(&m).unwrap();
    v["manifests"] = json!([]);
    let both = serde_json::to_vec(&v).unwrap();
    f.manifest("both", OCI_MANIFEST, &both);
    // Same body, served as an index.
    f.manifest("both-idx", OCI_INDEX, &both);
    // Without any type claim (no mediaType field, a generic Content-Type),
    // only the shape check stands between us and a guess.
    v.as_object_mut().unwrap().remove("mediaType");
    let untyped = serde_json::to_vec(&v).unwrap();
    f.manifest("untyped", "application/json", &untyped);
    let (py, _log) = f.start("reg");
    let store = t.path().join("store");
    assert_fails_with(&pull(&store, py.port, "both", &[]), "media type confusion");
    assert_fails_with(
        &pull(&store, py.port, "both-idx", &[]),
        "media type confusion",
    );
    assert_fails_with(
        &pull(&store, py.port, "untyped", &[]),
        "media type confusion",
    );
    assert_nothing_stored(&store);
}

#[test]
fn attack_media_type_disagrees_with_descriptor_or_header() {
    let t = tempfile::tempdir().unwrap();
    let mut f = Fake::new(t.path());
    let (m, _) = f.image(None);
    // Header says index, body is a manifest.
    f.manifest("hdr", OCI_INDEX, &m);
    // Header says Docker v2, body's own mediaType says OCI.
    f.manifest("field", DOCKER_V2, &m);
    // An index whose entry claims a manifest but points at another index.
    let inner =
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}))
            .unwrap();
    f.manifest(&sha256(&inner), OCI_INDEX, &inner);
    let outer = serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sha256(&inner), "size": inner.len(),
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": OCI_MANIFEST, "digest": sha256(&inner), "size": inner.len(),
         "platform": {"architecture": "arm64", "os": "linux"}}]}),
    )
    .unwrap();
    f.manifest("desc", OCI_INDEX, &outer);
    // Schema 1 and unknown types get clear errors.
    f.manifest(
        "s1",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        br#"{"schemaVersion":1,"fsLayers":[]}"#,
    );
    f.manifest("odd", "application/x-odd", &m);
    let (py, _log) = f.start("reg");
    let store = t.path().join("store");
    assert_fails_with(&pull(&store, py.port, "hdr", &[]), "media type confusion");
    assert_fails_with(&pull(&store, py.port, "field", &[]), "media type confusion");
    assert_fails_with(&pull(&store, py.port, "desc", &[]), "media type confusion");
    assert_fails_with(&pull(&store, py.port, "s1", &[]), "schema1");
    assert_fails_with(
        &pull(&store, py.port, "odd", &[]),
        "unknown manifest media type",
    );
    assert_nothing_stored(&store);
}

#[test]
fn attack_credentials_never_sent_to_foreign_urls() {
    let t = tempfile::tempdir().unwrap();
    // The foreign host: answers 401 to everything and records headers.
    let mut foreign = Fake::new(&t.path().join("foreign"));
    std::fs::create_dir_all(&foreign.dir).unwrap();
    foreign.auth = Some("nobody:nothing".into());
    let (fpy, flog) = foreign.start("foreign");

    let mut f = Fake::new(t.path());
    f.auth = Some("alice:s3cret".into());
    let url = format!("http://127.0.0.1:{}/layer.tar", fpy.port);
    let (m, layer) = f.image(Some(vec![url.clone()]));
    f.manifest("t", OCI_MANIFEST, &m);
    // Second image: the registry redirects its blob to the foreign host.
    let evil_layer = tar(&[("g", b"elsewhere\n")]);
    let (m2, _) = {
        let cfg = f.blob(
            "application/vnd.oci.image.config.v1+json",
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        );
        let l = json!({"mediaType": LAYER_TAR, "digest": sha256(&evil_layer), "size": evil_layer.len()});
        (serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": [l]})).unwrap(), ())
    };
    f.manifest("redirect", OCI_MANIFEST, &m2);
    f.route(
        &format!("/v2/x/blobs/{}", sha256(&evil_layer)),
        307,
        json!({"Location": url}),
        b"",
    );
    // Third image: redirected to a host that answers with a Bearer
    // challenge whose realm is itself, fishing for our credentials.
    let mut fisher = Fake::new(&t.path().join("fisher"));
    std::fs::create_dir_all(&fisher.dir).unwrap();
    fisher.bearer = Some(json!({"creds": null, "token": "never-given"}));
    let (fish_py, fish_log) = fisher.start("fisher");
    let fish_layer = tar(&[("h", b"fishing\n")]);
    let fish_cfg = f.blob(
        "application/vnd.oci.image.config.v1+json",
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    let fl =
        json!({"mediaType": LAYER_TAR, "digest": sha256(&fish_layer), "size": fish_layer.len()});
    let m3 = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": fish_cfg, "layers": [fl]}))
    .unwrap();
    f.manifest("fish", OCI_MANIFEST, &m3);
    f.route(
        &format!("/v2/x/blobs/{}", sha256(&fish_layer)),
        307,
        json!({"Location": format!("http://127.0.0.1:{}/layer.tar", fish_py.port)}),
        b"",
    );
    let (py, _log) = f.start("reg");
    let store = t.path().join("store");

    // urls are ignored: the layer comes from the registry, with our creds.
    let o = pull(&store, py.port, "t", &["--creds", "alice:s3cret"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(store
        .join("blobs/sha256")
        .join(&sha256(&layer)[7..])
        .exists());
    assert!(requests(&flog).is_empty(), "the foreign url was contacted");

    // A redirect to another host is followed without our Authorization.
    let o = pull(&store, py.port, "redirect", &["--creds", "alice:s3cret"]);
    assert!(!o.status.success());
    let reqs = requests(&flog);
    assert!(
        !reqs.is_empty(),
        "redirect not followed at all (test is moot)"
    );
    for r in reqs {
        assert!(
            header(&r, "authorization").is_none(),
            "credentials sent to the foreign host: {r}"
        );
    }

    // A challenge from the redirect target is not answered with our creds.
    let o = pull(&store, py.port, "fish", &["--creds", "alice:s3cret"]);
    assert!(!o.status.success());
    let reqs = requests(&fish_log);
    assert!(
        !reqs.is_empty(),
        "redirect not followed at all (test is moot)"
    );
    for r in reqs {
        assert!(
            header(&r, "authorization").is_none(),
            "credentials sent to a redirect target's realm: {r}"
        );
    }
}

#[test]
fn attack_truncated_blob_refused() {
    let t = tempfile::tempdir().unwrap();
    let mut f = Fake::new(t.path());
    let (m, layer) = f.image(None);
    f.manifest("t", OCI_MANIFEST, &m);
    // Right prefix, missing tail.
    f.route(
        &format!("/v2/x/blobs/{}", sha256(&layer)),
        200,
        json!({}),
        &layer[..layer.len() - 700],
    );
    let (py, _log) = f.start("reg");
    let store = t.path().join("store");
    assert_fails_with(
        &pull(&store, py.port, "t", &[]),
        &format!("ended at {} of {} bytes", layer.len() - 700, layer.len()),
    );
    assert!(!store
        .join("blobs/sha256")
        .join(&sha256(&layer)[7..])
        .exists());
    assert_nothing_stored(&store);
}

#[test]
fn attack_oversized_blob_refused() {
    let t = tempfile::tempdir().unwrap();
    let mut f = Fake::new(t.path());
    let (m, layer) = f.image(None);
    f.manifest("t", OCI_MANIFEST, &m);
    // Right prefix, extra bytes.
    let mut longer = layer.clone();
    longer.extend_from_slice(&[0u8; 4096]);
    f.route(
        &format!("/v2/x/blobs/{}", sha256(&layer)),
        200,
        json!({}),
        &longer,
    );
    let (py, _log) = f.start("reg");
    let store = t.path().join("store");
    let why = format!("size {}, expected {}", longer.len(), layer.len());
    assert_fails_with(&pull(&store, py.port, "t", &[]), &why);
    assert!(!store
        .join("blobs/sha256")
        .join(&sha256(&layer)[7..])
        .exists());
    assert_nothing_stored(&store);
    let partial: u64 = std::fs::read_dir(store.join(".oximg/ingest"))
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert_eq!(partial, 0, "oversized bytes kept as a partial");
}

#[test]
fn pull_bearer_token_flow() {
    let t = tempfile::tempdir().unwrap();
    let mut f = Fake::new(t.path());
    let (m, layer) = f.image(None);
    f.manifest("t", OCI_MANIFEST, &m);
    let (py, log) = {
        // Token flow with credentials, as Docker Hub / distribution's token auth do.
        let path = t.path().join("reg.routes.json");
        std::fs::write(
            &path,
            serde_json::to_vec(&json!({"auth": null,
                "bearer": {"creds": "bob:hunter2", "token": "tok-123"},
                "routes": f.routes}))
            .unwrap(),
        )
        .unwrap();
        let log = t.path().join("reg.requests");
        let py = Py::start(
            t.path(),
            "reg.py",
            FAKEREG,
            &[path.to_str().unwrap(), log.to_str().unwrap()],
        );
        (py, log)
    };
    let store = t.path().join("store");
    assert_fails_with(&pull(&store, py.port, "t", &[]), "unauthorized");
    let o = pull(&store, py.port, "t", &["--creds", "bob:hunter2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(store
        .join("blobs/sha256")
        .join(&sha256(&layer)[7..])
        .exists());
    let reqs = requests(&log);
    let tok = reqs
        .iter()
        .find(|r| {
            r["path"].as_str().unwrap().starts_with("/token")
                && header(r, "authorization").is_some()
        })
        .unwrap_or_else(|| panic!("no token request with credentials: {reqs:?}"));
    let q = tok["path"].as_str().unwrap();
    assert!(
        q.contains("scope=repository%3Ax%3Apull") && q.contains("service=fake-registry"),
        "{q}"
    );
    assert!(reqs
        .iter()
        .any(|r| r["path"].as_str().unwrap().contains("/blobs/")
            && header(r, "authorization") == Some("Bearer tok-123")));
}

#[test]
fn pull_retries_transient_5xx_a_bounded_number_of_times() {
    let t = tempfile::tempdir().unwrap();
    let mut f = Fake::new(t.path());
    let (m, layer) = f.image(None);
    f.manifest("t", OCI_MANIFEST, &m);
    f.routes.get_mut("/v2/x/manifests/t").unwrap()["fail_first"] = json!(2);
    f.routes
        .get_mut(&format!("/v2/x/blobs/{}", sha256(&layer)))
        .unwrap()["fail_first"] = json!(2);
    let (py, log) = f.start("reg");
    // Two 503s then success: 3 attempts suffice.
    let store = t.path().join("store");
    let o = pull(&store, py.port, "t", &["--retry-times", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reqs = requests(&log);
    let count = |p: &str| {
        reqs.iter()
            .filter(|r| r["path"].as_str().unwrap().ends_with(p))
            .count()
    };
    assert_eq!(count("/manifests/t"), 3);
    assert_eq!(count(&sha256(&layer)), 3);

    // The same registry failing more often than the budget: a clear 503.
    let mut f2 = Fake::new(&t.path().join("two"));
    std::fs::create_dir_all(&f2.dir).unwrap();
    let (m2, _) = f2.image(None);
    f2.manifest("t", OCI_MANIFEST, &m2);
    f2.routes.get_mut("/v2/x/manifests/t").unwrap()["fail_first"] = json!(100);
    let (py2, log2) = f2.start("reg2");
    let st2 = t.path().join("s2");
    let o = pull(&st2, py2.port, "t", &["--retry-times", "3"]);
    assert_fails_with(&o, "503");
    let n = requests(&log2)
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("/manifests/t"))
        .count();
    assert_eq!(n, 3, "not bounded by --retry-times");
}

#[test]
fn pull_sha512_digests_are_verified() {
    use sha2::Digest as _;
    let t = tempfile::tempdir().unwrap();
    let mut f = Fake::new(t.path());
    let layer = tar(&[("f", b"sha512 content\n")]);
    let d512 = format!("sha512:{}", hex::encode(sha2::Sha512::digest(&layer)));
    let cfg = f.blob(
        "application/vnd.oci.image.config.v1+json",
        &serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [d512]}}))
        .unwrap(),
    );
    f.route(&format!("/v2/x/blobs/{d512}"), 200, json!({}), &layer);
    let l = json!({"mediaType": LAYER_TAR, "digest": d512, "size": layer.len()});
    let m = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": cfg, "layers": [l]}))
    .unwrap();
    f.manifest("good", OCI_MANIFEST, &m);
    // Same manifest shape, but the registry serves other bytes for the layer.
    let evil = tar(&[("f", b"sha512 CONTENT\n")]);
    let e512 = format!(
        "sha512:{}",
        hex::encode(sha2::Sha512::digest(&layer)).replace('a', "b")
    );
    f.route(&format!("/v2/x/blobs/{e512}"), 200, json!({}), &evil);
    let le = json!({"mediaType": LAYER_TAR, "digest": e512, "size": evil.len()});
    let me = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": cfg, "layers": [le]}))
    .unwrap();
    f.manifest("evil", OCI_MANIFEST, &me);
    let (py, _log) = f.start("reg");
    let store = t.path().join("store");
    let o = pull(&store, py.port, "good", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(store.join("blobs/sha512").join(&d512[7..]).exists());
    oximg_ok(&["fsck", "--store", store.to_str().unwrap()]);
    assert_fails_with(&pull(&store, py.port, "evil", &[]), "digest mismatch");
    assert!(!store.join("blobs/sha512").join(&e512[7..]).exists());
}
