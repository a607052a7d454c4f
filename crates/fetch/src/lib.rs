//! One fetcher for every byte Kindling pulls in: http(s), tftp and data sources, decompressed
//! and verified as they stream.
//!
//! * [`Fetcher::fetch`] / [`Fetcher::fetch_into`]: a config `Resource` (source, compression,
//!   httpHeaders, verification) into memory or into an open temp file. `Ok` means the bytes
//!   matched the hash; callers rename the temp file into place only then.
//! * [`Fetcher::http`]: a raw exchange for metadata services (any method, headers, body).
//!   Every status that is not retried comes back as `Ok`, so callers see 404 as a status.
//! * Errors are [`FetchError`]s: test `kind` (`ErrorKind::NeedNet`, `ErrorKind::NotFound`, …),
//!   print them as one line naming the URL (secrets redacted), the cause and the attempts.

use kindling_config::model::{Ignition, Resource};
use rustls_pki_types::CertificateDer;
use std::io::{Seek, Write};
use std::path::Path;
use std::time::Duration;

mod cert_summary;
mod cloud;
mod config_fetcher;
mod data;
mod error;
mod forward_proxy;
mod http;
mod proxy;
mod retry;
mod source;
mod stream;
mod tftp;
mod tls;
mod tls_report;
mod verify;

pub use cloud::Cloud;
pub use error::{ErrorKind, FetchError};

use proxy::ProxySettings;
use retry::{Backoff, Deadline};
use source::Source;
use stream::{Pipeline, StreamError};

/// Sent on every http(s) request unless the resource's `httpHeaders` replace it. The
/// `Ignition/` product token comes first because config servers written for Ignition match
/// on it; the `Kindling/` token says what really asks.
pub const USER_AGENT: &str = concat!(
    "Ignition/v2.23.0-compatible Kindling/",
    env!("CARGO_PKG_VERSION")
);
const ACCEPT: &str = "application/vnd.coreos.ignition+json;version=3.5.0, */*;q=0.1";
/// Ignition's default `timeouts.httpResponseHeaders`.
const RESPONSE_HEADERS: Duration = Duration::from_secs(10);

/// Fetches resources with Ignition's semantics (headers, proxy, timeouts, retries, CAs).
#[derive(Debug, Clone)]
pub struct Fetcher {
    offline: bool,
    /// Per-attempt wait for response headers; `None` = no limit.
    response_headers: Option<Duration>,
    /// `httpTotal` from the adopted config.
    config_total: Option<Duration>,
    /// `--fetch-timeout` while the provider config is fetched.
    total_override: Option<Duration>,
    proxy: ProxySettings,
    /// Adopted CA bundles as fetched, by source (reused, and inlined into the cached config).
    authorities: Vec<(String, Vec<u8>)>,
    extra_roots: Vec<CertificateDer<'static>>,
    agents: http::Agents,
    jitter: bool,
    /// Object-store credentials of the platform (set by its provider).
    cloud: Cloud,
}

/// A raw HTTP request for platform providers (metadata services): any method, any headers,
/// extra statuses to retry on (Azure IMDS: 404, 410, 429).
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    /// Replace same-named defaults (`User-Agent`, `Accept`, `Accept-Encoding`).
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Retried like 5xx (which always are).
    pub retry_statuses: Vec<u16>,
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Default for Fetcher {
    fn default() -> Self {
        Fetcher::new()
    }
}

/// Where streamed bytes go; reset before every attempt.
trait Sink: Write {
    fn reset(&mut self) -> std::io::Result<()>;
}

impl Sink for Vec<u8> {
    fn reset(&mut self) -> std::io::Result<()> {
        self.clear();
        Ok(())
    }
}

impl Sink for std::fs::File {
    fn reset(&mut self) -> std::io::Result<()> {
        self.set_len(0)?;
        self.rewind()
    }
}

/// One failed attempt, before it is turned into a [`FetchError`].
struct Failure {
    kind: ErrorKind,
    message: String,
    retry: bool,
}

impl Failure {
    fn fatal(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            retry: false,
        }
    }
}

impl From<http::AttemptError> for Failure {
    fn from(e: http::AttemptError) -> Self {
        Failure {
            kind: e.kind,
            message: e.message,
            retry: e.retry,
        }
    }
}

impl From<StreamError> for Failure {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::Source(io) => {
                if let Some(tftp) = io
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<tftp::TransferError>())
                {
                    return Failure::fatal(tftp.0.kind, tftp.0.message.clone());
                }
                let (kind, message) = http::io_error(&io);
                Failure {
                    kind,
                    message: format!("reading the body: {message}"),
                    retry: true,
                }
            }
            StreamError::Decompress(io) => {
                Failure::fatal(ErrorKind::Decompress, format!("decompressing gzip: {io}"))
            }
            StreamError::Write(io) => {
                Failure::fatal(ErrorKind::Write, format!("writing the content: {io}"))
            }
            StreamError::Hash(message) => Failure::fatal(ErrorKind::HashMismatch, message),
        }
    }
}

impl Fetcher {
    pub fn new() -> Self {
        Fetcher {
            offline: false,
            response_headers: Some(RESPONSE_HEADERS),
            config_total: None,
            total_override: None,
            proxy: ProxySettings::default(),
            authorities: Vec::new(),
            extra_roots: Vec::new(),
            agents: http::Agents::direct(&tls::system_roots()),
            jitter: true,
            cloud: Cloud::default(),
        }
    }

    /// Offline mode (the fetch-offline stage): anything but `data:` fails with `ErrorKind::NeedNet`.
    pub fn set_offline(&mut self, offline: bool) {
        self.offline = offline;
    }

    /// Whether only `data:` sources may be fetched (providers with their own transports check).
    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// The total time a fetch may take (`--fetch-timeout` or `httpTotal`); `None` = no limit.
    pub fn total_timeout(&self) -> Option<Duration> {
        self.total_override.or(self.config_total)
    }

    /// Overrides `httpTotal` while the provider config is fetched (`--fetch-timeout`);
    /// `None` restores the adopted config's value.
    pub fn set_total_timeout(&mut self, total: Option<Duration>) {
        self.total_override = total;
    }

    /// Overrides `httpResponseHeaders` (`None` = wait without limit).
    pub fn set_response_headers_timeout(&mut self, timeout: Option<Duration>) {
        self.response_headers = timeout;
    }

    /// The platform's object-store credentials and hints (`s3://`, `arn:`, `gs://`, Azure
    /// blob URLs); the default is anonymous access.
    pub fn set_cloud(&mut self, cloud: Cloud) {
        self.cloud = cloud;
    }

    pub fn cloud(&self) -> &Cloud {
        &self.cloud
    }

    /// Jittered retry delays (the default). Turned off only to show, in the fleet
    /// simulation, what lockstep retries do to a server.
    pub fn set_retry_jitter(&mut self, jitter: bool) {
        self.jitter = jitter;
    }

    /// Trust these PEM certificates for https in addition to the system store, as if a config
    /// listed them under `certificateAuthorities`.
    pub fn add_certificate_authorities(&mut self, pem: &[u8]) -> Result<(), FetchError> {
        let certs = tls::parse_bundle(pem)
            .map_err(|e| FetchError::new(ErrorKind::InvalidResource, "", e))?;
        self.extra_roots.extend(certs);
        self.rebuild_agents("")
    }

    /// Adopt a config's timeouts, proxy and certificate authorities (the CA bundles are fetched
    /// and verified here).
    pub fn adopt(&mut self, ignition: &Ignition) -> Result<(), FetchError> {
        let timeouts = &ignition.timeouts;
        self.response_headers = match timeouts.http_response_headers {
            None => Some(RESPONSE_HEADERS),
            Some(secs) if secs <= 0 => None,
            Some(secs) => Some(Duration::from_secs(secs.unsigned_abs())),
        };
        self.config_total = timeouts
            .http_total
            .filter(|secs| *secs > 0)
            .map(|secs| Duration::from_secs(secs.unsigned_abs()));
        self.proxy = ProxySettings {
            http: ignition.proxy.http_proxy.clone(),
            https: ignition.proxy.https_proxy.clone(),
            no_proxy: ignition.proxy.no_proxy.clone(),
        };
        self.rebuild_agents("ignition.proxy")?;
        let cas = &ignition.security.tls.certificate_authorities;
        // Upstream keeps the previous TLS settings when a config lists no CA.
        if cas.is_empty() {
            return Ok(());
        }
        let mut roots = Vec::new();
        for ca in cas {
            let source = ca.source.clone().unwrap_or_default();
            let bytes = match self.authorities.iter().find(|(s, _)| *s == source) {
                Some((_, bytes)) => bytes.clone(),
                None => {
                    let bytes = self.fetch(ca)?;
                    self.authorities.push((source.clone(), bytes.clone()));
                    bytes
                }
            };
            let certs = tls::parse_bundle(&bytes).map_err(|e| {
                FetchError::new(
                    ErrorKind::InvalidResource,
                    &source,
                    format!("ignition.security.tls.certificateAuthorities: {e}"),
                )
            })?;
            roots.extend(certs);
        }
        self.extra_roots = roots;
        self.rebuild_agents("ignition.security.tls")
    }

    fn rebuild_agents(&mut self, context: &str) -> Result<(), FetchError> {
        let mut roots = tls::system_roots().to_vec();
        roots.extend(self.extra_roots.iter().cloned());
        self.agents = http::Agents::new(&roots, &self.proxy).map_err(|e| {
            FetchError::new(ErrorKind::InvalidResource, "", format!("{context}: {e}"))
        })?;
        Ok(())
    }

    /// Rewrite the CA sources of `ignition` to `data:` URLs of the bundles already fetched, as
    /// upstream does before caching the config.
    pub fn inline_certificate_authorities(&self, ignition: &mut Ignition) {
        for ca in &mut ignition.security.tls.certificate_authorities {
            let source = ca.source.as_deref().unwrap_or("");
            if let Some((_, bytes)) = self.authorities.iter().find(|(s, _)| s == source) {
                ca.source = Some(data::encode(bytes));
                ca.compression = None;
                ca.http_headers.clear();
            }
        }
    }

    /// Fetch a whole resource into memory (configs, key files, small contents).
    pub fn fetch(&self, resource: &Resource) -> Result<Vec<u8>, FetchError> {
        let mut out = Vec::new();
        self.fetch_to(resource, &mut out)?;
        Ok(out)
    }

    /// Stream a resource into `out` (truncated on every retry); returns the byte count. The
    /// hash is checked and `out` fsynced before this returns `Ok`: callers rename `out` into
    /// place only then.
    pub fn fetch_into(
        &self,
        resource: &Resource,
        out: &mut std::fs::File,
    ) -> Result<u64, FetchError> {
        let url = resource.source.as_deref().unwrap_or("");
        let n = self.fetch_to(resource, out)?;
        out.sync_all().map_err(|e| {
            FetchError::new(ErrorKind::Write, url, format!("syncing the content: {e}"))
        })?;
        Ok(n)
    }

    /// Fetch a resource to `dest` the safe way: into a temporary file next to it, fsynced,
    /// renamed over `dest` only once the hash matched. On error nothing is left behind.
    pub fn fetch_to_path(&self, resource: &Resource, dest: &Path) -> Result<u64, FetchError> {
        let url = resource.source.as_deref().unwrap_or("");
        let write_err = |what: &str, e: std::io::Error| {
            FetchError::new(
                ErrorKind::Write,
                url,
                format!("{what} {}: {e}", dest.display()),
            )
        };
        let dir = match dest.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned());
        let temp = dir.join(format!(
            ".{}.kindling-{}",
            name.unwrap_or_default(),
            std::process::id()
        ));
        let result = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| write_err("creating a temporary file for", e))
            .and_then(|mut file| self.fetch_into(resource, &mut file))
            .and_then(|n| {
                std::fs::rename(&temp, dest)
                    .map(|()| n)
                    .map_err(|e| write_err("renaming into", e))
            });
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }

    fn fetch_to(&self, resource: &Resource, sink: &mut dyn Sink) -> Result<u64, FetchError> {
        let url = resource.source.as_deref().unwrap_or("");
        let source = Source::parse(url)?;
        let invalid = |message: String| FetchError::new(ErrorKind::InvalidResource, url, message);
        if self.offline && source.needs_network() {
            return Err(FetchError::new(
                ErrorKind::NeedNet,
                url,
                "resource requires networking",
            ));
        }
        let gzip = match resource.compression.as_deref() {
            None | Some("") => false,
            Some("gzip") => true,
            Some(other) => return Err(invalid(format!("invalid compression method {other:?}"))),
        };
        let hash = resource
            .verification
            .hash
            .as_deref()
            .map(verify::ExpectedHash::parse)
            .transpose()
            .map_err(invalid)?;
        let pipeline = Pipeline { gzip, hash };
        if !resource.http_headers.is_empty() && !matches!(source, Source::Http(_)) {
            return Err(invalid(
                "cannot use HTTP headers with this source scheme".to_string(),
            ));
        }
        let single = |result: Result<u64, Failure>| {
            result.map_err(|f| FetchError::new(f.kind, url, f.message).attempts(1))
        };
        match source {
            Source::Empty => single(pipeline.run(&[][..], sink).map_err(Failure::from)),
            Source::Data(url) => {
                let bytes = data::decode(url)
                    .map_err(|e| FetchError::new(ErrorKind::InvalidUrl, url, e))?;
                pipeline.run(&bytes[..], sink).map_err(|e| {
                    let f = Failure::from(e);
                    FetchError::new(f.kind, url, f.message)
                })
            }
            Source::Cloud(scheme) => {
                let prepared = cloud::prepare(self, scheme, url)?;
                self.get_to(
                    &prepared.url,
                    &request_headers(&prepared.headers),
                    &pipeline,
                    sink,
                )
            }
            Source::Tftp(tftp_url) => single(
                tftp::open(&tftp_url)
                    .map_err(|e| Failure::fatal(e.kind, e.message))
                    .and_then(|transfer| pipeline.run(transfer, sink).map_err(Failure::from)),
            ),
            Source::Http(url) => {
                if let Some(blob) = cloud::azure_blob(self, url) {
                    let headers = request_headers(&blob.headers);
                    match self.get_to(&blob.url, &headers, &pipeline, sink) {
                        Ok(n) => return Ok(n),
                        // With the test endpoint, never fall back to the real cloud.
                        Err(e) if self.cloud.storage_url.is_some() => return Err(e),
                        Err(e) => log::warn!("{e}; trying plain HTTP"),
                    }
                }
                let headers = request_headers(&resource_headers(resource).map_err(invalid)?);
                self.get_to(url, &headers, &pipeline, sink)
            }
        }
    }

    /// GET `url` into `sink` through `pipeline`, with the fetcher's retries.
    fn get_to(
        &self,
        url: &str,
        headers: &[(String, String)],
        pipeline: &Pipeline,
        sink: &mut dyn Sink,
    ) -> Result<u64, FetchError> {
        let request = http::Request {
            method: "GET",
            url,
            headers,
            body: None,
        };
        self.with_retries(url, |deadline| {
            sink.reset().map_err(|e| {
                Failure::fatal(ErrorKind::Write, format!("truncating the output: {e}"))
            })?;
            let response = http::send(&self.agents, &request, self.response_headers, deadline)?;
            match response.status().as_u16() {
                200 => Ok(pipeline.run(response.into_body().into_reader(), sink)?),
                204 => Ok(pipeline.run(&[][..], sink)?),
                404 => Err(Failure::fatal(
                    ErrorKind::NotFound,
                    "resource not found (HTTP 404)",
                )),
                status if status >= 500 => Err(Failure {
                    kind: ErrorKind::Status(status),
                    message: format!("server answered HTTP {status}"),
                    retry: true,
                }),
                status => Err(Failure::fatal(
                    ErrorKind::Status(status),
                    format!("failed to fetch resource: server answered HTTP {status}"),
                )),
            }
        })
    }

    /// A raw HTTP exchange with the fetcher's retries, proxy and TLS settings.
    pub fn http(&self, request: &HttpRequest) -> Result<HttpResponse, FetchError> {
        let url = request.url.as_str();
        if self.offline {
            return Err(FetchError::new(
                ErrorKind::NeedNet,
                url,
                "resource requires networking",
            ));
        }
        http::parse_uri(url).map_err(|e| FetchError::new(ErrorKind::InvalidUrl, url, e))?;
        let headers = request_headers(&request.headers);
        let method = if request.method.is_empty() {
            "GET"
        } else {
            &request.method
        };
        let exchange = http::Request {
            method,
            url,
            headers: &headers,
            body: request.body.as_deref(),
        };
        self.with_retries(url, |deadline| {
            let response = http::send(&self.agents, &exchange, self.response_headers, deadline)?;
            let status = response.status().as_u16();
            if status >= 500 || request.retry_statuses.contains(&status) {
                return Err(Failure {
                    kind: ErrorKind::Status(status),
                    message: format!("server answered HTTP {status}"),
                    retry: true,
                });
            }
            let headers = response
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let mut body = Vec::new();
            Pipeline::default().run(response.into_body().into_reader(), &mut body)?;
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        })
    }

    /// Run `attempt` until it succeeds, fails for good, or the total time runs out.
    fn with_retries<T>(
        &self,
        url: &str,
        mut attempt: impl FnMut(&Deadline) -> Result<T, Failure>,
    ) -> Result<T, FetchError> {
        let deadline = Deadline::after(self.total_override.or(self.config_total));
        let mut backoff = Backoff::new(self.jitter);
        let mut attempts = 0;
        // What went wrong before the deadline cut an attempt short: that is the cause to report.
        let mut cause = String::new();
        loop {
            attempts += 1;
            let failure = match attempt(&deadline) {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            if cause.is_empty() || failure.message != http::TOTAL_TIME_RAN_OUT {
                cause = failure.message.clone();
            }
            let out_of_time = || {
                FetchError::new(
                    ErrorKind::OutOfTime,
                    url,
                    format!("unable to fetch resource in time (last error: {cause})"),
                )
                .attempts(attempts)
            };
            if !failure.retry {
                return Err(FetchError::new(failure.kind, url, failure.message).attempts(attempts));
            }
            if deadline.expired() {
                return Err(out_of_time());
            }
            let delay = backoff.next_delay();
            log::warn!(
                "fetching {}: attempt {attempts} failed: {}; retrying in {} ms",
                source::redact(url),
                failure.message,
                delay.as_millis()
            );
            if !deadline.sleep(delay) {
                return Err(out_of_time());
            }
        }
    }
}

/// The resource's `httpHeaders`; a header without a value cannot be sent.
fn resource_headers(resource: &Resource) -> Result<Vec<(String, String)>, String> {
    resource
        .http_headers
        .iter()
        .map(|h| match &h.value {
            Some(value) if !value.is_empty() => Ok((h.name.clone(), value.clone())),
            _ => Err(format!(
                "unable to parse HTTP header {:?}: no value",
                h.name
            )),
        })
        .collect()
}

/// Ignition's default headers, each replaced by a same-named header of the caller's.
fn request_headers(custom: &[(String, String)]) -> Vec<(String, String)> {
    let defaults = [
        ("User-Agent", USER_AGENT),
        ("Accept", ACCEPT),
        ("Accept-Encoding", "identity"),
    ];
    let mut headers: Vec<(String, String)> = defaults
        .iter()
        .filter(|(name, _)| !custom.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    headers.extend(custom.iter().cloned());
    headers
}
