//! Test helpers for pull/store tests: a real `docker-registry` on a free
//! loopback port (plain, or with htpasswd Basic auth), `skopeo` pushes,
//! a small OCI image layout writer, and running the `oximg` binary.
//!
//! Include with `#[path = "common/registry.rs"] mod registry;`.
#![allow(dead_code)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn need(bin: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "{bin} is not installed: run scripts/deps");
}

pub fn wait_port(port: u16) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `docker-registry` process on 127.0.0.1 with its own storage; killed on drop.
pub struct Registry {
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub auth: Option<(String, String)>,
    pub tls: bool,
    child: Option<Child>,
}

impl Registry {
    /// An open registry.
    pub fn start() -> Registry {
        Self::start_with(None)
    }

    /// A registry requiring Basic auth for `user`/`pass` (htpasswd, bcrypt).
    pub fn start_auth(user: &str, pass: &str) -> Registry {
        Self::start_with(Some((user.into(), pass.into())))
    }

    fn start_with(auth: Option<(String, String)>) -> Registry {
        need("docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let mut r = Registry {
            port: 0,
            dir,
            auth,
            tls: false,
            child: None,
        };
        r.spawn(free_port());
        r
    }

    /// A registry serving HTTPS with a certificate for IP 127.0.0.1 signed
    /// by a fresh CA, whose certificate is `certs/ca.crt` (see [`Self::ca_dir`]).
    pub fn start_tls() -> Registry {
        need("docker-registry");
        need("openssl");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("certs")).unwrap();
        let sh = format!(
            "set -e; cd {}; \
             openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=oximg-test-ca \
               -keyout ca.key -out certs/ca.crt 2>/dev/null; \
             openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout srv.key -out srv.csr 2>/dev/null; \
             printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > ext; \
             openssl x509 -req -in srv.csr -CA certs/ca.crt -CAkey ca.key -CAcreateserial \
               -days 2 -extfile ext -out srv.crt 2>/dev/null",
            d.display()
        );
        let st = Command::new("sh").args(["-c", &sh]).status().unwrap();
        assert!(st.success(), "openssl failed");
        let mut r = Registry {
            port: 0,
            dir,
            auth: None,
            tls: true,
            child: None,
        };
        r.spawn(free_port());
        r
    }

    /// A `--cert-dir` holding the CA of a [`Self::start_tls`] registry.
    pub fn ca_dir(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    fn spawn(&mut self, port: u16) {
        let d = self.dir.path();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: oximg-test\n",
            d.join("data").display()
        );
        if self.tls {
            cfg += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                d.join("srv.crt").display(),
                d.join("srv.key").display()
            );
        }
        if let Some((u, p)) = &self.auth {
            need("htpasswd");
            let out = Command::new("htpasswd")
                .args(["-Bbn", u, p])
                .output()
                .unwrap();
            assert!(out.status.success());
            std::fs::write(d.join("htpasswd"), &out.stdout).unwrap();
            cfg += &format!(
                "auth:\n  htpasswd:\n    realm: oximg-test\n    path: {}\n",
                d.join("htpasswd").display()
            );
        }
        std::fs::write(d.join("config.yml"), cfg).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("registry.log")).unwrap())
            .spawn()
            .unwrap();
        self.port = port;
        self.child = Some(child);
        wait_port(port);
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again on the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        let p = self.port;
        self.spawn(p);
    }

    /// `skopeo copy oci:<layout>:<tag> docker://HOST/<dest>` (+ extra args).
    pub fn push(&self, layout: &Path, tag: &str, dest: &str, extra: &[&str]) {
        need("skopeo");
        let mut c = Command::new("skopeo");
        c.args(["--insecure-policy", "copy", "--dest-tls-verify=false"]);
        if let Some((u, p)) = &self.auth {
            c.arg(format!("--dest-creds={u}:{p}"));
        }
        c.args(extra);
        c.arg(format!("oci:{}:{tag}", layout.display()));
        c.arg(format!("docker://{}/{dest}", self.host()));
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "skopeo copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The file holding blob `digest` in the registry's storage.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A minimal ustar archive with regular files (enough for layers here).
pub fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"14000000000\0");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// A layer with one file of `size` pseudo-random bytes (seeded).
pub fn big_layer(name: &str, size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let data: Vec<u8> = (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    tar(&[(name, &data)])
}

/// Writes an OCI image layout by hand (so tests control every byte).
pub struct Layout {
    pub dir: PathBuf,
    index: Vec<Value>,
}

pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let l = Layout {
            dir: dir.to_path_buf(),
            index: Vec::new(),
        };
        l.write_index();
        l
    }

    /// Store a blob; returns its descriptor.
    pub fn blob(&self, media_type: &str, data: &[u8]) -> Value {
        let d = sha256(data);
        std::fs::write(self.dir.join("blobs/sha256").join(&d[7..]), data).unwrap();
        json!({"mediaType": media_type, "digest": d, "size": data.len()})
    }

    /// An image manifest for `layers` (uncompressed tars) on `arch`;
    /// returns its descriptor (not yet tagged).
    pub fn image(&self, arch: &str, layers: &[Vec<u8>]) -> Value {
        let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
        let config = json!({
            "architecture": arch, "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "Labels": {"test": "oximg"}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "created": "2024-01-01T00:00:00Z"
        });
        let cfg = self.blob(
            "application/vnd.oci.image.config.v1+json",
            &serde_json::to_vec(&config).unwrap(),
        );
        let ls: Vec<Value> = layers.iter().map(|l| self.blob(LAYER_TAR, l)).collect();
        let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": ls});
        let mut d = self.blob(OCI_MANIFEST, &serde_json::to_vec(&m).unwrap());
        d["platform"] = json!({"architecture": arch, "os": "linux"});
        d
    }

    /// An index over manifest descriptors (with platforms).
    pub fn index_of(&self, manifests: &[Value]) -> Value {
        let i = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        self.blob(OCI_INDEX, &serde_json::to_vec(&i).unwrap())
    }

    /// Name `desc` in `index.json` as `tag`.
    pub fn tag(&mut self, tag: &str, desc: &Value) {
        let mut d = desc.clone();
        if let Some(o) = d.as_object_mut() {
            o.remove("platform");
        }
        d["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.index.push(d);
        self.write_index();
    }

    fn write_index(&self) {
        let i = json!({"schemaVersion": 2, "manifests": self.index});
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec(&i).unwrap()).unwrap();
    }
}

/// Run the oximg binary; returns its output.
pub fn oximg(args: &[&str]) -> Output {
    oximg_env(args, &[])
}

pub fn oximg_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_oximg"));
    c.args(args).stdin(Stdio::null());
    // Tests never read the invoking user's credentials.
    c.env("HOME", "/nonexistent")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("OXIMG_STORE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Like [`oximg`] but asserts success; returns stdout.
pub fn oximg_ok(args: &[&str]) -> String {
    let o = oximg(args);
    assert!(
        o.status.success(),
        "oximg {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file under `dir` with its bytes (to show a store unchanged).
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Write a small Python helper program to `dir` and start it; killed on drop.
pub struct Py {
    child: Child,
    pub port: u16,
}

impl Py {
    pub fn start(dir: &Path, name: &str, source: &str, args: &[&str]) -> Py {
        need("python3");
        let port = free_port();
        let script = dir.join(name);
        std::fs::File::create(&script)
            .unwrap()
            .write_all(source.as_bytes())
            .unwrap();
        let child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
            .spawn()
            .unwrap();
        wait_port(port);
        Py { child, port }
    }
}

impl Drop for Py {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
