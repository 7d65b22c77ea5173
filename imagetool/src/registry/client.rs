//! A distribution-spec client for one repository, on `reqwest` (blocking,
//! rustls). Owns auth (anonymous, Basic, Bearer), retries with backoff, the
//! manifest size limit and resumable, hash-while-streaming blob downloads.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use oci_spec::image::{Descriptor, Digest};
use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RANGE, WWW_AUTHENTICATE};
use reqwest::StatusCode;

use super::auth::{parse_challenge, Challenge, Credentials};
use super::RegistryError;
use crate::progress::BlobBar;
use crate::reference::Reference;
use crate::store::{media, verify, Ingest, Store, StoreError, JSON_LIMIT};

/// How to reach a registry.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Verify TLS certificates and require HTTPS (except on loopback).
    pub tls_verify: bool,
    /// Directory of extra CA certificates (`*.crt`), as skopeo's `--cert-dir`.
    pub cert_dir: Option<PathBuf>,
    pub credentials: Option<Credentials>,
    /// Attempts per request for transient failures (5xx, 429, resets).
    pub retries: u32,
    /// First backoff delay; doubles per attempt.
    pub backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            tls_verify: true,
            cert_dir: None,
            credentials: None,
            retries: 3,
            backoff: Duration::from_millis(250),
        }
    }
}

/// A manifest as fetched: verified bytes, its kind and media type.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub kind: media::Kind,
    pub media_type: String,
}

pub struct Client {
    http: Http,
    base: String,
    repo: String,
    opts: ClientOptions,
    /// The `Authorization` value in use, once known.
    auth: Mutex<Option<String>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Client({}/{})", self.base, self.repo)
    }
}

impl Client {
    /// Connect to the registry of `r`: pick the scheme, ping `/v2/` and
    /// authenticate as the registry asks.
    pub fn connect(r: &Reference, opts: &ClientOptions) -> Result<Client, RegistryError> {
        let mut b = Http::builder()
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("oximg/", env!("CARGO_PKG_VERSION")))
            .danger_accept_invalid_certs(!opts.tls_verify);
        if r.is_loopback() {
            b = b.no_proxy();
        }
        if let Some(dir) = &opts.cert_dir {
            for c in load_certs(dir)? {
                b = b.add_root_certificate(c);
            }
        }
        let http = b.build().map_err(|e| RegistryError::Http {
            url: r.api_host().into(),
            source: e,
        })?;
        let mut client = Client {
            http,
            base: format!("https://{}", r.api_host()),
            repo: r.repository().to_string(),
            opts: opts.clone(),
            auth: Mutex::new(None),
        };
        let may_fall_back = r.is_loopback() || !opts.tls_verify;
        // With a fallback, a failed HTTPS attempt is an answer, not a
        // transient failure to retry.
        let attempts = if may_fall_back { 1 } else { opts.retries };
        let ping = match client.ping(attempts) {
            Err(https_err @ RegistryError::Http { .. }) if may_fall_back => {
                // skopeo's allowance: a loopback or explicitly insecure
                // registry may speak plain HTTP. If that fails too, the
                // HTTPS error is the one worth reporting.
                client.base = format!("http://{}", r.api_host());
                client.ping(opts.retries).map_err(|_| https_err)?
            }
            other => other?,
        };
        if let Some(ch) = ping {
            client.authenticate(&ch)?;
        }
        Ok(client)
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{}", self.base, self.repo, tail)
    }

    /// `GET /v2/`: `None` if open, else the challenge to answer.
    fn ping(&self, attempts: u32) -> Result<Option<Challenge>, RegistryError> {
        let url = format!("{}/v2/", self.base);
        let resp = self.retrying(&url, || self.http.get(&url), attempts)?;
        match resp.status() {
            s if s.is_success() => Ok(None),
            StatusCode::UNAUTHORIZED => Ok(challenge_of(resp.headers())),
            s => Err(RegistryError::Status {
                url,
                status: s.as_u16(),
                body: body_snippet(resp),
            }),
        }
    }

    /// Answer a challenge: Basic uses the credentials directly; Bearer
    /// fetches a token for `repository:<repo>:pull` from the realm.
    fn authenticate(&self, ch: &Challenge) -> Result<(), RegistryError> {
        let value = match ch {
            Challenge::Basic => match &self.opts.credentials {
                Some(c) => format!("Basic {}", c.basic()),
                None => return Ok(()), // requests will say 401 clearly
            },
            Challenge::Bearer { realm, service, .. } => {
                let scope = format!("repository:{}:pull", self.repo);
                let mut q: Vec<(&str, &str)> = vec![("scope", &scope)];
                if let Some(s) = service {
                    q.push(("service", s));
                }
                let mut req = self.http.get(realm).query(&q);
                if self.opts.credentials.is_some()
                    && self.base.starts_with("https://")
                    && !realm.starts_with("https://")
                {
                    // An HTTPS registry must not steer our password onto
                    // plain HTTP.
                    return Err(RegistryError::Protocol(format!(
                        "refusing to send credentials to non-HTTPS token realm {realm}"
                    )));
                }
                if let Some(c) = &self.opts.credentials {
                    req = req.basic_auth(&c.username, Some(&c.password));
                }
                let resp = req.send().map_err(|e| RegistryError::Http {
                    url: realm.clone(),
                    source: e,
                })?;
                if resp.status() == StatusCode::UNAUTHORIZED
                    || resp.status() == StatusCode::FORBIDDEN
                {
                    return Err(RegistryError::Unauthorized(format!(
                        "token server {realm} refused"
                    )));
                }
                if !resp.status().is_success() {
                    return Err(RegistryError::Status {
                        url: realm.clone(),
                        status: resp.status().as_u16(),
                        body: body_snippet(resp),
                    });
                }
                #[derive(serde::Deserialize)]
                struct Tok {
                    token: Option<String>,
                    access_token: Option<String>,
                }
                let body = read_limited(resp, 1 << 20, realm)?;
                let t: Tok = serde_json::from_slice(&body)
                    .map_err(|e| RegistryError::Protocol(format!("token response: {e}")))?;
                let t = t.token.or(t.access_token).ok_or_else(|| {
                    RegistryError::Protocol("token response without a token".into())
                })?;
                format!("Bearer {t}")
            }
        };
        *self.auth.lock().expect("auth lock") = Some(value);
        Ok(())
    }

    /// Is `u` on the registry's own origin (scheme, host, port)?
    fn is_registry(&self, u: &reqwest::Url) -> bool {
        reqwest::Url::parse(&self.base).is_ok_and(|b| b.origin() == u.origin())
    }

    fn with_auth(&self, req: RequestBuilder) -> RequestBuilder {
        match self.auth.lock().expect("auth lock").as_ref() {
            Some(v) => req.header(AUTHORIZATION, v),
            None => req,
        }
    }

    /// Send, trying up to `attempts` times on transient failures (5xx,
    /// 429, transport errors); returns the first other response.
    fn retrying(
        &self,
        url: &str,
        make: impl Fn() -> RequestBuilder,
        attempts: u32,
    ) -> Result<Response, RegistryError> {
        let mut delay = self.opts.backoff;
        let mut attempt = 0;
        loop {
            let err = match self.with_auth(make()).send() {
                Ok(r)
                    if r.status().is_server_error()
                        || r.status() == StatusCode::TOO_MANY_REQUESTS =>
                {
                    RegistryError::Status {
                        url: url.to_string(),
                        status: r.status().as_u16(),
                        body: body_snippet(r),
                    }
                }
                Ok(r) => return Ok(r),
                Err(e) => RegistryError::Http {
                    url: url.to_string(),
                    source: e,
                },
            };
            attempt += 1;
            if attempt >= attempts.max(1) {
                return Err(err);
            }
            std::thread::sleep(delay);
            delay = delay.saturating_mul(2).min(Duration::from_secs(10));
        }
    }

    /// GET that re-authenticates once on 401 (a token may have a narrower
    /// scope or have expired) and maps 401/404 to clear errors.
    fn get_checked(
        &self,
        url: &str,
        make: impl Fn() -> RequestBuilder,
        attempts: u32,
    ) -> Result<Response, RegistryError> {
        let mut resp = self.retrying(url, &make, attempts)?;
        // Only the registry itself may ask for credentials: a host we were
        // redirected to (blob storage, or an attacker) gets none, not even
        // via a Bearer realm of its choosing.
        if resp.status() == StatusCode::UNAUTHORIZED && self.is_registry(resp.url()) {
            if let Some(ch) = challenge_of(resp.headers()) {
                if self.opts.credentials.is_some() || matches!(ch, Challenge::Bearer { .. }) {
                    self.authenticate(&ch)?;
                    resp = self.retrying(url, &make, attempts)?;
                }
            }
        }
        match resp.status() {
            s if s.is_success() => Ok(resp),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(RegistryError::Unauthorized(format!(
                    "{url}: {} (credentials {})",
                    resp.status(),
                    if self.opts.credentials.is_some() {
                        "rejected"
                    } else {
                        "needed: use --creds or oximg login"
                    }
                )))
            }
            StatusCode::NOT_FOUND => Err(RegistryError::NotFound(url.to_string())),
            s => Err(RegistryError::Status {
                url: url.to_string(),
                status: s.as_u16(),
                body: body_snippet(resp),
            }),
        }
    }

    /// Fetch a manifest by tag or digest. `expected` (from an index) pins
    /// digest, size and media type; for a digest reference the digest is
    /// checked; the body is read with the 4 MiB limit and its type is taken
    /// from `Content-Type` and checked against the body.
    pub fn manifest(
        &self,
        reference: &str,
        expected: Option<&Descriptor>,
    ) -> Result<FetchedManifest, RegistryError> {
        if let Some(d) = expected {
            if d.size() > JSON_LIMIT {
                return Err(StoreError::TooLarge {
                    what: format!("manifest {}", d.digest()),
                    size: d.size(),
                    limit: JSON_LIMIT,
                }
                .into());
            }
        }
        let url = self.url(&format!("manifests/{reference}"));
        let accept = media::MANIFEST_ACCEPT.join(", ");
        let resp = self.get_checked(
            &url,
            || self.http.get(&url).header(ACCEPT, &accept),
            self.opts.retries,
        )?;
        let ct = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Digest>().ok());
        let limit = expected.map_or(JSON_LIMIT, |d| d.size());
        if let Some(len) = resp.content_length() {
            if len > limit {
                return Err(too_large(&url, len, limit));
            }
        }
        let bytes = read_limited(resp, limit, &url)?;
        // Which digest must the body have? The descriptor's, else the one in
        // the reference, else (a tag) we compute sha256 and check the
        // registry's header if it sent one.
        let pinned: Option<Digest> = expected
            .map(|d| d.digest().clone())
            .or_else(|| reference.parse::<Digest>().ok());
        let digest = match pinned {
            Some(p) => {
                let found = verify::digest_of(p.algorithm(), &bytes)?;
                if found != p {
                    return Err(StoreError::DigestMismatch {
                        expected: p.to_string(),
                        found: found.to_string(),
                    }
                    .into());
                }
                p
            }
            None => {
                let found = verify::sha256_of(&bytes);
                if let Some(h) = header_digest {
                    let hv = verify::digest_of(h.algorithm(), &bytes)?;
                    if hv != h {
                        return Err(StoreError::DigestMismatch {
                            expected: h.to_string(),
                            found: hv.to_string(),
                        }
                        .into());
                    }
                }
                found
            }
        };
        if let Some(d) = expected {
            if bytes.len() as u64 != d.size() {
                return Err(StoreError::SizeMismatch {
                    digest: d.digest().to_string(),
                    expected: d.size(),
                    found: bytes.len() as u64,
                }
                .into());
            }
        }
        let (kind, media_type) = media::classify(ct.as_deref(), &bytes)?;
        if let Some(d) = expected {
            let dmt = d.media_type().to_string();
            match media::kind_of(&dmt) {
                Some(k) if k == kind => {}
                _ => {
                    return Err(StoreError::MediaTypeConfusion(format!(
                        "descriptor says {dmt}, content is {media_type}"
                    ))
                    .into())
                }
            }
        }
        Ok(FetchedManifest {
            bytes,
            digest,
            kind,
            media_type,
        })
    }

    /// `GET /v2/` with the credentials in use: does the registry accept them?
    pub fn check_auth(&self) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.base);
        self.get_checked(&url, || self.http.get(&url), self.opts.retries)
            .map(|_| ())
    }

    /// A small blob (a config) into memory, verified, at most 4 MiB.
    pub fn blob_bytes(&self, desc: &Descriptor) -> Result<Vec<u8>, RegistryError> {
        if desc.size() > JSON_LIMIT {
            return Err(too_large(desc.digest().as_ref(), desc.size(), JSON_LIMIT));
        }
        let url = self.url(&format!("blobs/{}", desc.digest()));
        let resp = self.get_checked(&url, || self.http.get(&url), self.opts.retries)?;
        let mut r = verify::VerifyingReader::new(resp, desc.digest(), desc.size())?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(verify::unwrap_io)?;
        Ok(out)
    }

    /// Download a blob into the store: streamed, hashed as it arrives,
    /// resumed with `Range` after a dropped connection, committed only if
    /// digest and size match. Never follows the descriptor's `urls`.
    pub fn fetch_blob(
        &self,
        store: &Store,
        desc: &Descriptor,
        bar: &BlobBar,
    ) -> Result<(), RegistryError> {
        for fresh_start in [false, true] {
            let Some(mut ing) = store.ingest(desc.digest(), desc.size())? else {
                bar.done_cached();
                return Ok(());
            };
            if fresh_start {
                ing.reset()?;
            }
            // Bytes left by an earlier, dead pull are trusted only as far as
            // the final digest check; if that fails, start once from zero.
            let from_disk = ing.offset() > 0;
            bar.set_position(ing.offset());
            let res = self
                .download(desc, &mut ing, bar)
                .and_then(|()| ing.commit().map_err(RegistryError::from));
            match res {
                Ok(()) => {
                    bar.finish();
                    return Ok(());
                }
                Err(RegistryError::Store(StoreError::DigestMismatch { .. }))
                    if from_disk && !fresh_start => {}
                Err(e) => return Err(e),
            }
        }
        unreachable!("the second pass returns")
    }

    /// Fill `ing` up to its size (nothing to do if a dead pull already did).
    fn download(
        &self,
        desc: &Descriptor,
        ing: &mut Ingest,
        bar: &BlobBar,
    ) -> Result<(), RegistryError> {
        let url = self.url(&format!("blobs/{}", desc.digest()));
        // Resumes after progress are cheap and bounded separately from
        // failures that made no progress (the retry budget).
        let (mut resumes, mut failures) = (0u32, 0u32);
        while ing.offset() < ing.size() {
            let before = ing.offset();
            match self.fetch_blob_once(&url, ing, bar) {
                Ok(()) => break,
                Err(
                    e @ (RegistryError::Store(_)
                    | RegistryError::NotFound(_)
                    | RegistryError::Unauthorized(_)),
                ) => return Err(e),
                Err(e) => {
                    if ing.offset() > before && resumes < 100 {
                        resumes += 1;
                        continue;
                    }
                    failures += 1;
                    if failures >= self.opts.retries.max(1) {
                        return Err(e);
                    }
                    std::thread::sleep(self.opts.backoff.saturating_mul(1 << failures.min(5)));
                }
            }
        }
        Ok(())
    }

    fn fetch_blob_once(
        &self,
        url: &str,
        ing: &mut Ingest,
        bar: &BlobBar,
    ) -> Result<(), RegistryError> {
        let offset = ing.offset();
        let resp = self.get_checked(
            url,
            || {
                let r = self.http.get(url);
                if offset > 0 {
                    r.header(RANGE, format!("bytes={offset}-"))
                } else {
                    r
                }
            },
            1,
        )?;
        if offset > 0 {
            let start = resp
                .headers()
                .get(reqwest::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes "))
                .and_then(|v| v.split('-').next())
                .and_then(|v| v.parse::<u64>().ok());
            if resp.status() != StatusCode::PARTIAL_CONTENT || start != Some(offset) {
                // The server sent the whole blob: start over.
                ing.reset()?;
                bar.set_position(0);
            }
        }
        let mut resp = resp;
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            let n = resp
                .read(&mut buf)
                .map_err(|e| RegistryError::Transfer(url.to_string(), e))?;
            if n == 0 {
                break;
            }
            ing.write_chunk(&buf[..n])?;
            bar.inc(n as u64);
        }
        if ing.offset() < ing.size() {
            // Clean EOF before the declared size: a truncated answer. Try
            // to resume; repeated truncation exhausts the retry budget.
            return Err(RegistryError::Transfer(
                url.to_string(),
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("blob ended at {} of {} bytes", ing.offset(), ing.size()),
                ),
            ));
        }
        Ok(())
    }
}

fn challenge_of(h: &HeaderMap) -> Option<Challenge> {
    h.get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(parse_challenge)
        .next()
}

fn too_large(url: &str, size: u64, limit: u64) -> RegistryError {
    StoreError::TooLarge {
        what: url.to_string(),
        size,
        limit,
    }
    .into()
}

/// Read a body, failing as soon as it exceeds `limit` bytes.
fn read_limited(resp: Response, limit: u64, url: &str) -> Result<Vec<u8>, RegistryError> {
    let mut out = Vec::new();
    resp.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| RegistryError::Transfer(url.to_string(), e))?;
    if out.len() as u64 > limit {
        return Err(too_large(url, out.len() as u64, limit));
    }
    Ok(out)
}

fn body_snippet(resp: Response) -> String {
    let mut s = String::new();
    let _ = resp.take(512).read_to_string(&mut s);
    s.trim().to_string()
}

fn load_certs(dir: &Path) -> Result<Vec<reqwest::Certificate>, RegistryError> {
    let mut out = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| RegistryError::Io(dir.to_path_buf(), e))?;
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "crt") {
            let pem = std::fs::read(&p).map_err(|e| RegistryError::Io(p.clone(), e))?;
            let c = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| RegistryError::BadCredentials(format!("{}: {e}", p.display())))?;
            out.push(c);
        }
    }
    Ok(out)
}
