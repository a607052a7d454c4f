//! Fetch errors that name the URL (secrets redacted), the attempts and the cause.

use std::fmt;

/// What went wrong, for callers that branch on it (`kind == ErrorKind::NotFound`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Offline mode and the resource needs the network (`resource requires networking`).
    NeedNet,
    /// HTTP 404 or a missing TFTP file (`resource not found`).
    NotFound,
    /// The source is not a URL Kindling can fetch (`unable to parse url`, bad `data:` URL,
    /// unsupported scheme).
    InvalidUrl,
    /// `s3://`, `arn:` and `gs://` need the cloud provider's credentials, not wired here.
    NeedsCredentials,
    /// The resource's own settings are unusable: a header without a value, an unknown
    /// compression, a malformed hash, a CA bundle that is not PEM certificates.
    InvalidResource,
    /// The host name did not resolve.
    Dns,
    /// Connecting failed or the connection broke (refused, reset, truncated body).
    Connect,
    /// The TLS handshake failed (untrusted or invalid certificate, protocol error).
    Tls,
    /// The server answered with a status that is neither success nor retried.
    Status(u16),
    /// The HTTP or TFTP exchange itself was malformed (bad framing, redirect loop).
    Protocol,
    /// An attempt timed out (response headers, TFTP retransmits).
    Timeout,
    /// The total time allowed (`httpTotal`, `--fetch-timeout`) ran out
    /// (`unable to fetch resource in time`).
    OutOfTime,
    /// The content did not match `verification.hash`.
    HashMismatch,
    /// The content is not valid for its `compression`.
    Decompress,
    /// Writing the fetched bytes locally failed.
    Write,
}

/// A failed fetch: one line naming the URL, the cause and the number of attempts.
#[derive(Debug, Clone)]
pub struct FetchError {
    pub kind: ErrorKind,
    /// The URL with credentials and query secrets redacted.
    pub url: String,
    /// Requests made (0 when nothing was sent: offline, invalid URL).
    pub attempts: u32,
    /// The cause, e.g. `hash verification failed (calculated … but expected …)`.
    pub message: String,
}

impl FetchError {
    pub(crate) fn new(kind: ErrorKind, url: &str, message: impl Into<String>) -> Self {
        FetchError {
            kind,
            url: crate::source::redact(url),
            attempts: 0,
            message: message.into(),
        }
    }

    pub(crate) fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.url.is_empty() {
            f.write_str(&self.message)?;
        } else {
            write!(f, "fetching {}: {}", self.url, self.message)?;
        }
        match self.attempts {
            0 => Ok(()),
            1 => write!(f, " (1 attempt)"),
            n => write!(f, " ({n} attempts)"),
        }
    }
}

impl std::error::Error for FetchError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_names_url_cause_and_attempts() {
        let e = FetchError::new(
            ErrorKind::NotFound,
            "http://u:p@h/x?k=v",
            "resource not found",
        );
        assert_eq!(
            e.attempts(3).to_string(),
            "fetching http://redacted@h/x?k=redacted: resource not found (3 attempts)"
        );
        let bare = FetchError::new(ErrorKind::InvalidResource, "", "no PEM certificate");
        assert_eq!(bare.to_string(), "no PEM certificate");
    }
}
