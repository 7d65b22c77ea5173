//! Layer media types, and the verified decompression stream.
//!
//! A helper thread reads the blob, hashes it (digest + size) and decompresses
//! it into 1 MiB chunks, shared (`Arc`) by a second helper that hashes the
//! tar (`diff_id`) and by the caller's thread, which applies it. Three
//! threads: with both sha256 passes on one helper, it was the bottleneck of
//! large layers; with the tar's hash on the applier, layers of many small
//! files (where applying is the slow part) paid for it. All checks happen at
//! EOF; the applier drains the stream to the end so a layer is never
//! accepted unverified.

use std::io::{self, Read};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use oci_spec::image::{Digest, MediaType};
use sha2::{Digest as _, Sha256};

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("unsupported layer media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("unsupported digest algorithm in {0} (only sha256)")]
    UnsupportedDigest(String),
    #[error("layer blob size mismatch: descriptor says {expected} bytes, read {actual}")]
    Size { expected: u64, actual: u64 },
    #[error("layer blob digest mismatch: expected {expected}, got sha256:{actual}")]
    Digest { expected: String, actual: String },
    #[error(
        "layer diff_id mismatch: image config says {expected}, uncompressed tar is sha256:{actual}"
    )]
    DiffId { expected: String, actual: String },
    #[error("reading or decompressing layer")]
    Io(#[from] io::Error),
    #[error("layer apply stopped before the end of the stream")]
    Aborted,
}

/// Map a layer media type (OCI or Docker) to its compression.
pub fn compression_for(media_type: &MediaType) -> Result<Compression, StreamError> {
    use MediaType::*;
    Ok(match media_type {
        ImageLayer | ImageLayerNonDistributable => Compression::None,
        ImageLayerGzip | ImageLayerNonDistributableGzip => Compression::Gzip,
        ImageLayerZstd | ImageLayerNonDistributableZstd => Compression::Zstd,
        Other(s) => match s.as_str() {
            "application/vnd.docker.image.rootfs.diff.tar" => Compression::None,
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Compression::Gzip,
            "application/vnd.docker.image.rootfs.diff.tar.zstd" => Compression::Zstd,
            _ => return Err(StreamError::UnsupportedMediaType(s.clone())),
        },
        other => return Err(StreamError::UnsupportedMediaType(other.to_string())),
    })
}

/// What to check the stream against. `None` skips that check (tests, `--no-verify`
/// is not offered on the CLI).
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub digest: Option<Digest>,
    pub size: Option<u64>,
    pub diff_id: Option<Digest>,
}

fn sha256_hex_of(d: &Digest) -> Result<&str, StreamError> {
    if d.algorithm().as_ref() != "sha256" {
        return Err(StreamError::UnsupportedDigest(d.to_string()));
    }
    Ok(d.digest())
}

/// Counts and hashes what passes through.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

const CHUNK: usize = 1 << 20;
const FIRST_CHUNK: usize = 64 << 10;

/// A piece of the decompressed tar, shared by the applier and the hasher.
type Chunk = Arc<Vec<u8>>;

/// Whoever drops a chunk last hands its buffer back to the producer (no
/// allocating and zeroing 1 MiB per chunk).
fn recycle(chunk: Chunk, to: &Sender<Vec<u8>>) {
    if let Ok(v) = Arc::try_unwrap(chunk) {
        if v.capacity() >= CHUNK {
            // The producer may be gone: then nobody needs it.
            let _ = to.send(v);
        }
    }
}

/// The decompressed tar stream: a `Read` fed by the helper thread. Call
/// [`VerifiedStream::finish`] after the tar ended to drain and verify.
pub struct VerifiedStream {
    rx: Receiver<io::Result<Chunk>>,
    recycle: Sender<Vec<u8>>,
    cur: Chunk,
    pos: usize,
    done: bool,
    diff_id: Option<Digest>,
    worker: Option<JoinHandle<Result<(), StreamError>>>,
    /// Hashes the tar when there is a diff_id to check; ends with the
    /// producer, returning the hex digest.
    hasher: Option<JoinHandle<String>>,
}

impl VerifiedStream {
    /// Start decompressing and verifying `blob` on a helper thread.
    pub fn spawn<R: Read + Send + 'static>(
        blob: R,
        compression: Compression,
        expect: Expect,
    ) -> Result<Self, StreamError> {
        // Check the digests are ones we can verify before starting anything.
        if let Some(d) = &expect.digest {
            sha256_hex_of(d)?;
        }
        if let Some(d) = &expect.diff_id {
            sha256_hex_of(d)?;
        }
        // A few chunks in flight: enough to overlap I/O, little memory.
        let (tx, rx) = sync_channel(4);
        let (recycle_tx, recycled) = channel();
        let diff_id = expect.diff_id.clone();
        let (hash_tx, hasher) = if diff_id.is_some() {
            let (htx, hrx) = sync_channel::<Chunk>(2);
            let back = recycle_tx.clone();
            let h = std::thread::Builder::new()
                .name("oximg-diffid".into())
                .spawn(move || {
                    let mut s = Sha256::new();
                    for chunk in hrx {
                        s.update(&chunk[..]);
                        recycle(chunk, &back);
                    }
                    hex::encode(s.finalize())
                })
                .map_err(StreamError::Io)?;
            (Some(htx), Some(h))
        } else {
            (None, None)
        };
        let worker = std::thread::Builder::new()
            .name("oximg-decompress".into())
            .spawn(move || produce(blob, compression, expect, tx, hash_tx, recycled))
            .map_err(StreamError::Io)?;
        Ok(VerifiedStream {
            rx,
            recycle: recycle_tx,
            cur: Arc::new(Vec::new()),
            pos: 0,
            done: false,
            diff_id,
            worker: Some(worker),
            hasher,
        })
    }

    /// Read to the end (tar padding, trailing zero blocks) and wait for the
    /// digest, size and diff_id checks.
    pub fn finish(mut self) -> Result<(), StreamError> {
        let drained = io::copy(&mut self, &mut io::sink());
        // The producer's verdict first: it explains a failed read.
        self.join()?;
        drained?;
        if let Some(d) = self.diff_id.take() {
            let actual = self.join_hasher().ok_or_else(|| {
                StreamError::Io(io::Error::other("diff_id hashing thread panicked"))
            })?;
            if actual != sha256_hex_of(&d)? {
                return Err(StreamError::DiffId {
                    expected: d.to_string(),
                    actual,
                });
            }
        }
        Ok(())
    }

    /// Give up early; returns the producer's own error if it had one (a
    /// corrupt or truncated blob), which is the real cause of the failure.
    pub fn abort(mut self) -> Option<StreamError> {
        let (_, dead) = sync_channel(0);
        self.rx = dead;
        match self.join() {
            Ok(()) | Err(StreamError::Aborted) => None,
            Err(e) => Some(e),
        }
    }

    fn join(&mut self) -> Result<(), StreamError> {
        match self.worker.take() {
            Some(h) => h.join().unwrap_or_else(|_| {
                Err(StreamError::Io(io::Error::other(
                    "decompression thread panicked",
                )))
            }),
            None => Ok(()),
        }
    }

    /// The tar's digest (hex); call after [`Self::join`] (the hasher ends
    /// when the producer does). `None` if it panicked or never ran.
    fn join_hasher(&mut self) -> Option<String> {
        self.hasher.take()?.join().ok()
    }
}

impl Drop for VerifiedStream {
    fn drop(&mut self) {
        // Abandoned early (an apply error): dropping the receiver makes the
        // producer's next send fail, so the thread ends, and with it the
        // hasher; then reap both.
        let (_, dead) = sync_channel(0);
        self.rx = dead;
        let _ = self.join();
        let _ = self.join_hasher();
    }
}

impl Read for VerifiedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    let used = std::mem::replace(&mut self.cur, chunk);
                    recycle(used, &self.recycle);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    // The producer finished: end of stream. Its verdict is
                    // collected by `finish`.
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn produce<R: Read>(
    blob: R,
    compression: Compression,
    expect: Expect,
    tx: SyncSender<io::Result<Chunk>>,
    hash_tx: Option<SyncSender<Chunk>>,
    recycled: Receiver<Vec<u8>>,
) -> Result<(), StreamError> {
    let mut outer = Hashing {
        inner: io::BufReader::with_capacity(CHUNK, blob),
        hasher: Sha256::new(),
        count: 0,
    };
    let res = (|| -> Result<(), StreamError> {
        let mut plain: Box<dyn Read + '_> = match compression {
            Compression::None => Box::new(&mut outer),
            // Multi-member: concatenated gzip streams are valid layers.
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
                io::BufReader::with_capacity(CHUNK, &mut outer),
            )),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(&mut outer)?),
        };
        // Small chunks first, so the applier starts at once (a small image
        // is over in a few chunks), then whole ones: fewer channel round
        // trips. Only what is filled is touched (no 1 MiB memset up front).
        let mut want = FIRST_CHUNK;
        loop {
            let mut chunk = recycled
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
            chunk.resize(want, 0);
            let mut filled = 0;
            while filled < want {
                let n = match plain.read(&mut chunk[filled..]) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(StreamError::Io(e)),
                };
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            chunk.truncate(filled);
            want = (want * 2).min(CHUNK);
            let chunk = Arc::new(chunk);
            if let Some(h) = &hash_tx {
                if h.send(chunk.clone()).is_err() {
                    return Err(StreamError::Io(io::Error::other(
                        "diff_id hashing thread stopped",
                    )));
                }
            }
            if tx.send(Ok(chunk)).is_err() {
                // The consumer gave up; nothing to verify for anyone.
                return Err(StreamError::Aborted);
            }
        }
        Ok(())
    })();
    if let Err(e) = res {
        // A corrupt stream is most often a blob that is not what the
        // manifest says: if the digest proves that, say so.
        let e = match (&e, &expect.digest) {
            (StreamError::Io(_), Some(d)) if io::copy(&mut outer, &mut io::sink()).is_ok() => {
                let actual = hex::encode(outer.hasher.clone().finalize());
                if let Some(size) = expect.size.filter(|&sz| sz != outer.count) {
                    StreamError::Size {
                        expected: size,
                        actual: outer.count,
                    }
                } else if sha256_hex_of(d).is_ok_and(|want| want != actual) {
                    StreamError::Digest {
                        expected: d.to_string(),
                        actual,
                    }
                } else {
                    e
                }
            }
            _ => e,
        };
        let msg = super::error_chain(&e);
        let _ = tx.send(Err(io::Error::other(msg)));
        return Err(e);
    }
    // Anything after the end of the compressed stream still counts for the
    // blob digest and size.
    io::copy(&mut outer, &mut io::sink())?;
    if let Some(size) = expect.size {
        if outer.count != size {
            return Err(StreamError::Size {
                expected: size,
                actual: outer.count,
            });
        }
    }
    if let Some(d) = &expect.digest {
        let actual = hex::encode(outer.hasher.finalize());
        if actual != sha256_hex_of(d)? {
            return Err(StreamError::Digest {
                expected: d.to_string(),
                actual,
            });
        }
    }
    // The diff_id is the consumer's check (`VerifiedStream::finish`).
    Ok(())
}

/// sha256 of some bytes as an OCI digest (for tests and the cache).
pub fn sha256_digest(bytes: &[u8]) -> Digest {
    let s = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
    s.parse().expect("valid digest")
}
