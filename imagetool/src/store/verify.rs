//! Digests computed while bytes stream, and a reader that checks digest and
//! size at EOF (umoci's `verified_reader` idea): nobody has to re-read a blob
//! to trust it.

use std::io::{self, Read};

use oci_spec::image::{Digest, DigestAlgorithm};
use sha2::Digest as _;

use super::StoreError;

/// A running hash for one of the digest algorithms the image spec registers.
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A hasher for `alg`, or an error for algorithms we cannot verify
    /// (content we cannot verify is content we do not accept).
    pub fn new(alg: &DigestAlgorithm) -> Result<Hasher, StoreError> {
        Ok(match alg {
            DigestAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            DigestAlgorithm::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            DigestAlgorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
            other => return Err(StoreError::UnsupportedDigest(other.to_string())),
        })
    }

    pub fn update(&mut self, buf: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(buf),
            Hasher::Sha384(h) => h.update(buf),
            Hasher::Sha512(h) => h.update(buf),
        }
    }

    /// The digest string (`alg:hex`) of everything hashed so far.
    pub fn finish(self) -> Digest {
        let s = match self {
            Hasher::Sha256(h) => format!("sha256:{}", hex::encode(h.finalize())),
            Hasher::Sha384(h) => format!("sha384:{}", hex::encode(h.finalize())),
            Hasher::Sha512(h) => format!("sha512:{}", hex::encode(h.finalize())),
        };
        s.parse().expect("hex digest is always valid")
    }
}

/// sha256 of a byte slice, as a `Digest`.
pub fn sha256_of(bytes: &[u8]) -> Digest {
    let mut h = Hasher::Sha256(sha2::Sha256::new());
    h.update(bytes);
    h.finish()
}

/// Digest of `bytes` with the algorithm of `like`.
pub fn digest_of(like: &DigestAlgorithm, bytes: &[u8]) -> Result<Digest, StoreError> {
    let mut h = Hasher::new(like)?;
    h.update(bytes);
    Ok(h.finish())
}

/// Wraps a reader of a blob; fails with `InvalidData` as soon as more than
/// `size` bytes arrive, and at EOF unless exactly `size` bytes with the
/// expected digest were read. The inner error is a [`StoreError`].
pub struct VerifyingReader<R> {
    inner: R,
    hasher: Option<Hasher>,
    expected: Digest,
    size: u64,
    read: u64,
}

impl<R: Read> VerifyingReader<R> {
    pub fn new(inner: R, expected: &Digest, size: u64) -> Result<Self, StoreError> {
        Ok(VerifyingReader {
            inner,
            hasher: Some(Hasher::new(expected.algorithm())?),
            expected: expected.clone(),
            size,
            read: 0,
        })
    }

    /// Bytes read so far.
    pub fn position(&self) -> u64 {
        self.read
    }
}

fn invalid(e: StoreError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Ask for at most one byte beyond the declared size, so an oversized
        // blob is detected without reading all of it.
        let room = self.size.saturating_sub(self.read).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n as u64;
        if self.read > self.size {
            return Err(invalid(StoreError::SizeMismatch {
                digest: self.expected.to_string(),
                expected: self.size,
                found: self.read,
            }));
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        if n == 0 {
            if self.read != self.size {
                return Err(invalid(StoreError::SizeMismatch {
                    digest: self.expected.to_string(),
                    expected: self.size,
                    found: self.read,
                }));
            }
            if let Some(h) = self.hasher.take() {
                let found = h.finish();
                if found != self.expected {
                    return Err(invalid(StoreError::DigestMismatch {
                        expected: self.expected.to_string(),
                        found: found.to_string(),
                    }));
                }
            }
        }
        Ok(n)
    }
}

/// Pull a `StoreError` back out of an `io::Error` made by [`VerifyingReader`].
pub fn unwrap_io(e: io::Error) -> StoreError {
    if e.get_ref().is_some_and(|i| i.is::<StoreError>()) {
        match e.into_inner().map(|b| b.downcast::<StoreError>()) {
            Some(Ok(se)) => *se,
            _ => unreachable!("checked above"),
        }
    } else {
        StoreError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8], d: &Digest, size: u64) -> Result<Vec<u8>, StoreError> {
        let mut r = VerifyingReader::new(data, d, size)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(unwrap_io)?;
        Ok(out)
    }

    #[test]
    fn good_blob_passes() {
        let d = sha256_of(b"hello");
        assert_eq!(read_all(b"hello", &d, 5).unwrap(), b"hello");
    }

    #[test]
    fn truncated_blob_fails_on_size() {
        let d = sha256_of(b"hello");
        assert!(matches!(
            read_all(b"hell", &d, 5),
            Err(StoreError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn oversized_blob_fails_on_size() {
        let d = sha256_of(b"hello");
        assert!(matches!(
            read_all(b"hello!", &d, 5),
            Err(StoreError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn wrong_content_fails_on_digest() {
        let d = sha256_of(b"hello");
        assert!(matches!(
            read_all(b"jello", &d, 5),
            Err(StoreError::DigestMismatch { .. })
        ));
    }

    #[test]
    fn sha512_supported() {
        let d = digest_of(&DigestAlgorithm::Sha512, b"x").unwrap();
        assert_eq!(read_all(b"x", &d, 1).unwrap(), b"x");
    }
}
