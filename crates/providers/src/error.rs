//! Provider errors: what was being read, where, and why.

use kindling_fetch::{ErrorKind, FetchError};
use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum ProviderError {
    /// Fetching a URL failed (the cmdline URL, a metadata service).
    Fetch(FetchError),
    /// Reading a local file failed.
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A helper command (`modprobe`) could not run or failed.
    Command { command: String, message: String },
    /// The source answered with something unusable.
    Invalid(String),
    /// A metadata service answered with a status that means failure.
    Status { url: String, status: u16 },
}

impl ProviderError {
    /// The source needs the network and the fetcher is offline (the fetch-offline stage).
    pub fn needs_network(&self) -> bool {
        matches!(self, ProviderError::Fetch(e) if e.kind == ErrorKind::NeedNet)
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProviderError::Fetch(e) => e.fmt(f),
            ProviderError::Read { path, error } => {
                write!(f, "couldn't read config {:?}: {error}", path.display())
            }
            ProviderError::Command { command, message } => write!(f, "{command}: {message}"),
            ProviderError::Invalid(message) => f.write_str(message),
            ProviderError::Status { url, status: 404 } => {
                write!(f, "fetching {url}: resource not found (HTTP 404)")
            }
            ProviderError::Status { url, status } => {
                write!(
                    f,
                    "fetching {url}: failed to fetch resource (HTTP {status})"
                )
            }
        }
    }
}

impl std::error::Error for ProviderError {}

impl From<FetchError> for ProviderError {
    fn from(e: FetchError) -> Self {
        ProviderError::Fetch(e)
    }
}
