//! Fetch errors that name the URL (secrets redacted), the attempts and the cause.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// Offline mode and the resource needs the network (`resource requires networking`).
    NeedNet,
    /// HTTP 404 or a missing TFTP file (`resource not found`).
    NotFound,
}

#[derive(Debug, Clone)]
pub struct FetchError {
    pub kind: ErrorKind,
    /// The URL with credentials and query secrets redacted.
    pub url: String,
    pub attempts: u32,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fetching {}: {:?} after {} attempt(s)",
            self.url, self.kind, self.attempts
        )
    }
}

impl std::error::Error for FetchError {}
