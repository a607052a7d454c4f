//! The streaming stack every fetched byte flows through once:
//! source `Read` → (gzip decoder) → hashing reader → sink.

use crate::verify::{ExpectedHash, HashingReader};
use flate2::read::MultiGzDecoder;
use std::fmt;
use std::io::{self, Read, Write};

/// How a resource's bytes must be transformed and checked on their way to the sink.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pipeline {
    pub gzip: bool,
    pub hash: Option<ExpectedHash>,
}

#[derive(Debug)]
pub(crate) enum StreamError {
    /// Reading the source failed (network, TFTP).
    Source(io::Error),
    Decompress(io::Error),
    Write(io::Error),
    Hash(String),
}

/// Marks errors raised by the source so they are told apart from decoder errors.
#[derive(Debug)]
struct SourceError(io::Error);

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceError {}

struct TagSource<R>(R);

impl<R: Read> Read for TagSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), SourceError(e)))
    }
}

fn classify_read_error(e: io::Error) -> StreamError {
    if e.get_ref().is_some_and(|inner| inner.is::<SourceError>()) {
        match e.into_inner().map(|inner| inner.downcast::<SourceError>()) {
            Some(Ok(source)) => StreamError::Source(source.0),
            _ => StreamError::Source(io::Error::other("source read failed")),
        }
    } else {
        StreamError::Decompress(e)
    }
}

const BUFFER: usize = 64 * 1024;

impl Pipeline {
    /// Stream `source` into `sink`, returning the bytes written (after decompression).
    pub fn run(&self, source: impl Read, sink: &mut dyn Write) -> Result<u64, StreamError> {
        let source = TagSource(source);
        let decoded: Box<dyn Read + '_> = if self.gzip {
            Box::new(MultiGzDecoder::new(source))
        } else {
            Box::new(source)
        };
        let mut reader = HashingReader::new(decoded, self.hash.as_ref());
        let mut buf = vec![0u8; BUFFER];
        let mut total = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify_read_error(e)),
            };
            sink.write_all(&buf[..n]).map_err(StreamError::Write)?;
            total += n as u64;
        }
        sink.flush().map_err(StreamError::Write)?;
        let hasher = reader.into_hasher();
        if let Some(expected) = &self.hash {
            // Never pass a hash that was not computed.
            let hasher =
                hasher.ok_or_else(|| StreamError::Hash("the hash could not be computed".into()))?;
            expected.check(hasher).map_err(StreamError::Hash)?;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn gzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes)?;
        encoder.finish()
    }

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"))
        }
    }

    #[test]
    fn gzip_is_decoded_before_hashing() -> Result<(), Box<dyn std::error::Error>> {
        let content = b"kindling content\n".repeat(1000);
        let hash = ExpectedHash::parse(&format!("sha512-{}", Sha512Hex::of(&content)))?;
        let pipeline = Pipeline {
            gzip: true,
            hash: Some(hash),
        };
        let mut out = Vec::new();
        let n = pipeline
            .run(&gzip(&content)?[..], &mut out)
            .map_err(|e| format!("{e:?}"))?;
        assert_eq!(n, content.len() as u64);
        assert_eq!(out, content);
        Ok(())
    }

    #[test]
    fn errors_are_told_apart() -> Result<(), Box<dyn std::error::Error>> {
        let gz = Pipeline {
            gzip: true,
            hash: None,
        };
        let corrupt = gz.run(&b"\x1f\x8b\x08\x00garbage-garbage"[..], &mut Vec::new());
        assert!(
            matches!(corrupt, Err(StreamError::Decompress(_))),
            "{corrupt:?}"
        );
        let reset = gz.run(Failing, &mut Vec::new());
        assert!(matches!(reset, Err(StreamError::Source(_))), "{reset:?}");
        let plain = Pipeline {
            gzip: false,
            hash: Some(ExpectedHash::parse(&format!("sha256-{}", "0".repeat(64)))?),
        };
        let mismatch = plain.run(&b"x"[..], &mut Vec::new());
        assert!(
            matches!(mismatch, Err(StreamError::Hash(_))),
            "{mismatch:?}"
        );
        Ok(())
    }

    struct Sha512Hex;
    impl Sha512Hex {
        fn of(bytes: &[u8]) -> String {
            use sha2::Digest;
            sha2::Sha512::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        }
    }
}
