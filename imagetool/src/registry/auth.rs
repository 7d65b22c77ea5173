//! Credentials (`auth.json` as podman/skopeo write it, Docker's
//! `config.json`) and `WWW-Authenticate` challenges.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::RegistryError;

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    // Never print a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

impl Credentials {
    /// `USER:PASS` as `--creds` takes it.
    pub fn parse(s: &str) -> Result<Credentials, RegistryError> {
        match s.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok(Credentials {
                username: u.to_string(),
                password: p.to_string(),
            }),
            _ => Err(RegistryError::BadCredentials("expected USER:PASS".into())),
        }
    }

    /// base64 of `user:pass`, as auth.json's `auth` and HTTP Basic use it.
    pub fn basic(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password))
    }

    fn from_auth_field(b64: &str) -> Option<Credentials> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()?;
        let s = String::from_utf8(raw).ok()?;
        let (u, p) = s.split_once(':')?;
        Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        })
    }
}

/// The auth file, as podman and skopeo write it.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct AuthFile {
    #[serde(default)]
    pub auths: BTreeMap<String, AuthEntry>,
    /// Everything else (credHelpers, …) is kept as found.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct AuthEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl AuthFile {
    pub fn load(path: &Path) -> Result<AuthFile, RegistryError> {
        match fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| RegistryError::BadCredentials(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AuthFile::default()),
            Err(e) => Err(RegistryError::Io(path.to_path_buf(), e)),
        }
    }

    /// Write with mode 0600 via temp + rename (it holds secrets).
    pub fn save(&self, path: &Path) -> Result<(), RegistryError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let io = |e| RegistryError::Io(path.to_path_buf(), e);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let body = serde_json::to_vec_pretty(self).expect("auth file serialises");
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(&body).and_then(|_| f.sync_all()).map_err(io)?;
        fs::rename(&tmp, path).map_err(io)
    }

    /// Credentials for `registry`/`repository`: the most specific key wins
    /// (`host/ns/repo`, `host/ns`, `host`), Docker Hub's legacy keys included.
    pub fn lookup(&self, registry: &str, repository: &str) -> Option<Credentials> {
        let mut keys = Vec::new();
        let mut path = format!("{registry}/{repository}");
        loop {
            keys.push(path.clone());
            match path.rfind('/') {
                Some(i) => path.truncate(i),
                None => break,
            }
        }
        if registry == crate::reference::DOCKER_HUB {
            keys.extend(
                [
                    "https://index.docker.io/v1/",
                    "index.docker.io",
                    "registry-1.docker.io",
                ]
                .map(String::from),
            );
        }
        for k in keys {
            let e = self
                .auths
                .get(&k)
                .or_else(|| self.auths.get(&format!("https://{k}")))
                .or_else(|| self.auths.get(&format!("http://{k}")));
            if let Some(e) = e {
                if let Some(c) = e.auth.as_deref().and_then(Credentials::from_auth_field) {
                    return Some(c);
                }
                if let (Some(u), Some(p)) = (&e.username, &e.password) {
                    return Some(Credentials {
                        username: u.clone(),
                        password: p.clone(),
                    });
                }
            }
        }
        None
    }
}

/// Where `login` writes and where lookups start: `$REGISTRY_AUTH_FILE`, else
/// podman's `$XDG_RUNTIME_DIR/containers/auth.json`, else
/// `~/.config/containers/auth.json`.
pub fn default_auth_file() -> PathBuf {
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        return PathBuf::from(d).join("containers/auth.json");
    }
    home().join(".config/containers/auth.json")
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// Every file to search, in order, when no `--authfile` is given.
pub fn auth_file_search_path() -> Vec<PathBuf> {
    let mut v = vec![default_auth_file()];
    v.push(home().join(".config/containers/auth.json"));
    v.push(home().join(".docker/config.json"));
    v.dedup();
    v
}

/// Find credentials: `--creds`, then `--authfile` (only), else the search path.
pub fn find_credentials(
    creds: Option<&Credentials>,
    authfile: Option<&Path>,
    registry: &str,
    repository: &str,
) -> Result<Option<Credentials>, RegistryError> {
    if let Some(c) = creds {
        return Ok(Some(c.clone()));
    }
    let files = match authfile {
        Some(f) => vec![f.to_path_buf()],
        None => auth_file_search_path(),
    };
    for f in files {
        if let Some(c) = AuthFile::load(&f)?.lookup(registry, repository) {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parse `Basic realm="x"` or `Bearer realm="…",service="…",scope="…"`.
pub fn parse_challenge(h: &str) -> Option<Challenge> {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    let realm = params.get("realm")?.clone();
    Some(Challenge::Bearer {
        realm,
        service: params.get("service").cloned(),
        scope: params.get("scope").cloned(),
    })
}

fn parse_params(s: &str) -> BTreeMap<String, String> {
    // Byte-wise: separators are ASCII, so slices between them stay valid
    // UTF-8 whatever a hostile server sends.
    let text = |v: &[u8]| String::from_utf8_lossy(v).trim().to_string();
    let mut out = BTreeMap::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b',' || b[i] == b' ') {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        let key = text(&b[ks..i]).to_ascii_lowercase();
        if i >= b.len() || b[i] != b'=' {
            continue; // a bare token: no value
        }
        i += 1;
        let mut val = Vec::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                val.push(b[i]);
                i += 1;
            }
            i += 1;
        } else {
            let vs = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            val.extend_from_slice(&b[vs..i]);
        }
        if !key.is_empty() {
            out.insert(key, text(&val));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(parse_challenge("Negotiate x"), None);
    }

    #[test]
    fn hostile_challenges_never_panic() {
        let mut x = 0x9e3779b97f4a7c15u64;
        let alphabet = ['a', '=', '"', ',', ' ', '\\', 'é', '€', 'r', 'l', 'm'];
        for _ in 0..20_000 {
            let mut h = String::from("Bearer ");
            for _ in 0..(x % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                h.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let _ = parse_challenge(&h);
        }
        assert_eq!(
            parse_challenge(r#"Bearer realm="https://é.example/t",service=reg"#),
            Some(Challenge::Bearer {
                realm: "https://é.example/t".into(),
                service: Some("reg".into()),
                scope: None,
            })
        );
    }

    #[test]
    fn auth_file_lookup() {
        let f: AuthFile = serde_json::from_str(
            r#"{"auths":{"127.0.0.1:5000":{"auth":"dTpw"},
                "https://index.docker.io/v1/":{"auth":"aHViOnNlY3JldA=="},
                "quay.io/team":{"username":"t","password":"x"}},"credHelpers":{}}"#,
        )
        .unwrap();
        let c = f.lookup("127.0.0.1:5000", "a/b").unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p"));
        assert_eq!(f.lookup("docker.io", "library/x").unwrap().username, "hub");
        assert_eq!(f.lookup("quay.io", "team/app").unwrap().username, "t");
        assert!(f.lookup("quay.io", "other/app").is_none());
        assert!(serde_json::to_string(&f).unwrap().contains("credHelpers"));
    }
}
