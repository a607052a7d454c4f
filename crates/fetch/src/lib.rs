//! One fetcher for every byte Kindling pulls in: http(s), tftp and data sources, decompressed
//! and verified as they stream.

use kindling_config::model::{Ignition, Resource};
use std::time::Duration;

mod error;

pub use error::{ErrorKind, FetchError};

/// Fetches resources with Ignition's semantics (headers, proxy, timeouts, retries, CAs).
#[derive(Debug, Clone, Default)]
pub struct Fetcher {}

/// A raw HTTP request for platform providers (metadata services): any method, any headers,
/// extra statuses to retry on (Azure IMDS: 404, 410, 429).
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub retry_statuses: Vec<u16>,
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Fetcher {
    pub fn new() -> Self {
        Fetcher::default()
    }

    /// Offline mode (the fetch-offline stage): anything but `data:` fails with `ErrorKind::NeedNet`.
    pub fn set_offline(&mut self, offline: bool) {
        let _ = offline;
        todo!("fetcher")
    }

    /// Overrides `httpTotal` while the provider config is fetched (`--fetch-timeout`).
    pub fn set_total_timeout(&mut self, total: Option<Duration>) {
        let _ = total;
        todo!("fetcher")
    }

    /// Adopt a config's timeouts, proxy and certificate authorities (the CA bundles are fetched
    /// and verified here).
    pub fn adopt(&mut self, ignition: &Ignition) -> Result<(), FetchError> {
        let _ = ignition;
        todo!("fetcher")
    }

    /// Rewrite the CA sources of `ignition` to `data:` URLs of the bundles already fetched, as
    /// upstream does before caching the config.
    pub fn inline_certificate_authorities(&self, ignition: &mut Ignition) {
        let _ = ignition;
        todo!("fetcher")
    }

    /// Fetch a whole resource into memory (configs, key files, small contents).
    pub fn fetch(&self, resource: &Resource) -> Result<Vec<u8>, FetchError> {
        let _ = resource;
        todo!("fetcher")
    }

    /// Stream a resource into `out` (truncated on every retry); returns the byte count. The
    /// hash is checked before this returns `Ok`: callers rename `out` into place only then.
    pub fn fetch_into(
        &self,
        resource: &Resource,
        out: &mut std::fs::File,
    ) -> Result<u64, FetchError> {
        let _ = (resource, out);
        todo!("fetcher")
    }

    /// A raw HTTP exchange with the fetcher's retries, proxy and TLS settings.
    pub fn http(&self, request: &HttpRequest) -> Result<HttpResponse, FetchError> {
        let _ = request;
        todo!("fetcher")
    }
}
