//! Image references (`busybox`, `host:port/ns/name:tag`, `name@sha256:…`)
//! with Docker Hub's defaulting rules, as the distribution `reference`
//! package applies them: no domain → `docker.io`; a single path component on
//! Docker Hub → `library/`; no tag and no digest → `:latest`.

use std::fmt;

use oci_spec::image::Digest;

pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid reference {0:?}: {1}")]
    Invalid(String, &'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host (with port), normalised: `docker.io` for Docker Hub.
    registry: String,
    /// Repository path, e.g. `library/busybox`.
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

fn valid_component(c: &str) -> bool {
    // [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
    if c.is_empty() {
        return false;
    }
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || x == b'_' || x == b'.' || x == b'-')
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || d.starts_with('[') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|x| x.is_ascii_digit()) {
            return false;
        }
    }
    if host.starts_with('[') && host.ends_with(']') {
        return true; // IPv6 literal
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|x| x.is_ascii_alphanumeric() || x == b'-')
        })
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let bad = |why| ReferenceError::Invalid(s.to_string(), why);
        if s.is_empty() || s.len() > 4096 {
            return Err(bad("empty or too long"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d.parse::<Digest>().map_err(|_| bad("bad digest"))?)),
            None => (s, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
            _ => (rest, None),
        };
        if let Some(t) = &tag {
            if !valid_tag(t) {
                return Err(bad("bad tag"));
            }
        }
        let (mut registry, mut repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.')
                    || first.contains(':')
                    || first == "localhost"
                    || first.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                (first.to_string(), path.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        if registry == "index.docker.io" || registry == DOCKER_HUB_API {
            registry = DOCKER_HUB.to_string();
        }
        if !valid_domain(&registry) {
            return Err(bad("bad registry host"));
        }
        if registry == DOCKER_HUB && !repository.contains('/') {
            repository = format!("library/{repository}");
        }
        if repository.len() > 255 || !repository.split('/').all(valid_component) {
            return Err(bad(
                "repository must be lowercase [a-z0-9] components separated by . _ __ - /",
            ));
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The registry as users name it (`docker.io` for Docker Hub).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host to talk to for the registry API.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to ask the registry's manifest endpoint for: the digest if any
    /// (it pins content), else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Is the registry on this machine (plain HTTP allowed, as skopeo does
    /// for `localhost`)?
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => &self.registry,
        };
        matches!(host, "localhost" | "127.0.0.1" | "[::1]") || host.starts_with("127.")
    }
}

impl fmt::Display for Reference {
    /// Fully normalised: `docker.io/library/busybox:latest`, `h:5000/a/b@sha256:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn docker_hub_defaults() {
        assert_eq!(n("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(n("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(n("user/app"), "docker.io/user/app:latest");
        assert_eq!(
            n("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            Reference::parse("busybox").unwrap().api_host(),
            DOCKER_HUB_API
        );
    }

    #[test]
    fn hosts_ports_digests() {
        let d = "sha256:".to_string() + &"a".repeat(64);
        assert_eq!(n("localhost/a"), "localhost/a:latest");
        assert_eq!(n("127.0.0.1:5000/ns/name:v1"), "127.0.0.1:5000/ns/name:v1");
        let r = Reference::parse(&format!("127.0.0.1:5000/x@{d}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.manifest_ref(), d);
        assert!(r.is_loopback());
        let r = Reference::parse(&format!("quay.io/a/b:t@{d}")).unwrap();
        assert_eq!(r.tag(), Some("t"));
        assert_eq!(r.manifest_ref(), d);
    }

    #[test]
    fn random_input_never_panics_and_round_trips() {
        let alphabet = [
            'a', 'b', '1', '.', '-', '_', '/', ':', '@', 'é', 'A', '[', ']',
        ];
        let mut x = 0x2545f4914f6cdd1du64;
        for _ in 0..50_000 {
            let mut s = String::new();
            for _ in 0..(x % 24) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            if let Ok(r) = Reference::parse(&s) {
                // What we print, we parse back to the same thing.
                assert_eq!(Reference::parse(&r.to_string()).unwrap(), r, "{s}");
            }
        }
    }

    #[test]
    fn rejects_bad() {
        for s in [
            "",
            "UPPER",
            "a/../b",
            "a:b:c",
            "x@sha256:zz",
            "a//b",
            "-a",
            "a:-t",
        ] {
            assert!(Reference::parse(s).is_err(), "{s}");
        }
    }
}
