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
    // fsck agrees, and a second pull is a no-op that succeeds.
    oximg_ok(&["fsck", "--store", store.to_str().unwrap()]);
    assert_eq!(
        oximg_ok(&["pull", "--store", store.to_str().unwrap(), "-q", &r]).trim(),
        digest
    );
}
