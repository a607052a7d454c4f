//! `verification.hash` (`sha256-<hex>`, `sha512-<hex>`) and the hashing reader that checks it.

use sha2::{Digest, Sha256, Sha512};
use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::thread::{self, JoinHandle};

/// The expected digest of a resource's decompressed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExpectedHash {
    algorithm: Algorithm,
    /// Lowercase hex.
    hex: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Sha256,
    Sha512,
}

impl ExpectedHash {
    /// Parse `<function>-<hex>` with Ignition's messages.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (function, hex) = spec
            .split_once('-')
            .ok_or_else(|| format!("malformed hash specifier {spec:?}"))?;
        let (algorithm, len) = match function {
            "sha256" => (Algorithm::Sha256, 64),
            "sha512" => (Algorithm::Sha512, 128),
            other => return Err(format!("unrecognized hash function {other:?}")),
        };
        if hex.len() != len {
            return Err(format!("incorrect size for hash sum in {spec:?}"));
        }
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("hash sum is not hexadecimal in {spec:?}"));
        }
        Ok(ExpectedHash {
            algorithm,
            hex: hex.to_ascii_lowercase(),
        })
    }

    pub fn hasher(&self) -> Hasher {
        match self.algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// `Err` carries Ignition's message naming both digests.
    pub fn check(&self, hasher: Hasher) -> Result<(), String> {
        let calculated = hasher.finish_hex();
        if calculated == self.hex {
            Ok(())
        } else {
            Err(format!(
                "hash verification failed (calculated {calculated} but expected {})",
                self.hex
            ))
        }
    }
}

pub(crate) enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    fn finish_hex(self) -> String {
        let digest: Vec<u8> = match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Feeds every byte read through it to the hasher. The hashing runs on a worker thread fed
/// through a small bounded queue, so inflating and hashing use two cores; at most
/// `QUEUE + 2` chunks are in flight.
pub(crate) struct HashingReader<R> {
    inner: R,
    mode: Mode,
}

enum Mode {
    Off,
    Inline(Hasher),
    Worker {
        chunks: SyncSender<Vec<u8>>,
        spare: Receiver<Vec<u8>>,
        done: JoinHandle<Hasher>,
    },
}

const QUEUE: usize = 4;

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, expected: Option<&ExpectedHash>) -> Self {
        let mode = match expected {
            None => Mode::Off,
            Some(expected) => spawn_worker(expected),
        };
        HashingReader { inner, mode }
    }

    /// The hasher, after every byte read went through it.
    pub fn into_hasher(self) -> Option<Hasher> {
        match self.mode {
            Mode::Off => None,
            Mode::Inline(hasher) => Some(hasher),
            Mode::Worker { chunks, done, .. } => {
                drop(chunks);
                done.join().ok()
            }
        }
    }
}

fn spawn_worker(expected: &ExpectedHash) -> Mode {
    let (chunks, queue) = sync_channel::<Vec<u8>>(QUEUE);
    let (recycle, spare) = channel::<Vec<u8>>();
    let mut hasher = expected.hasher();
    let spawned = thread::Builder::new()
        .name("kindling-hash".into())
        .spawn(move || {
            for chunk in queue {
                hasher.update(&chunk);
                let _ = recycle.send(chunk);
            }
            hasher
        });
    match spawned {
        Ok(done) => Mode::Worker {
            chunks,
            spare,
            done,
        },
        Err(e) => {
            log::debug!("hashing inline, no worker thread: {e}");
            Mode::Inline(expected.hasher())
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        match &mut self.mode {
            Mode::Off => {}
            Mode::Inline(hasher) => hasher.update(&buf[..n]),
            Mode::Worker { chunks, spare, .. } if n > 0 => {
                let mut chunk = spare.try_recv().unwrap_or_default();
                chunk.clear();
                chunk.extend_from_slice(&buf[..n]);
                chunks
                    .send(chunk)
                    .map_err(|_| io::Error::other("the hashing thread stopped"))?;
            }
            Mode::Worker { .. } => {}
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn specifiers_parse_with_ignition_messages() {
        assert!(ExpectedHash::parse(&format!("sha256-{HELLO_SHA256}")).is_ok());
        assert!(ExpectedHash::parse("md5").is_err_and(|e| e.contains("malformed")));
        assert!(ExpectedHash::parse("md5-00").is_err_and(|e| e.contains("unrecognized")));
        assert!(ExpectedHash::parse("sha512-00").is_err_and(|e| e.contains("incorrect size")));
    }

    #[test]
    fn hashing_reader_checks_what_flowed_through() -> Result<(), String> {
        let expected = ExpectedHash::parse(&format!("sha256-{}", HELLO_SHA256.to_uppercase()))?;
        let mut reader = HashingReader::new(&b"hello"[..], Some(&expected));
        io::copy(&mut reader, &mut io::sink()).map_err(|e| e.to_string())?;
        expected.check(reader.into_hasher().ok_or("no hasher")?)?;

        let mut reader = HashingReader::new(&b"hellO"[..], Some(&expected));
        io::copy(&mut reader, &mut io::sink()).map_err(|e| e.to_string())?;
        let err = expected.check(reader.into_hasher().ok_or("no hasher")?);
        assert!(err.is_err_and(|e| e.contains("calculated") && e.contains(HELLO_SHA256)));
        Ok(())
    }
}
