//! One HTTP(S) attempt through ureq: proxy choice, TLS roots, timeouts, and redirects followed
//! here (not by ureq) so that headers are dropped on every redirected request as upstream does.

use crate::ErrorKind;
use crate::forward_proxy;
use crate::proxy::ProxySettings;
use crate::retry::Deadline;
use crate::tls_report;
use rustls_pki_types::CertificateDer;
use std::sync::Arc;
use std::time::Duration;
use ureq::config::{AutoHeaderValue, ConfigBuilder};
use ureq::http::{self, Uri};
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::typestate::AgentScope;
use ureq::{Agent, Body, Proxy, ProxyProtocol};

/// Go's client gives up after this many redirects (`stopped after 10 redirects`).
const MAX_REDIRECTS: usize = 10;
/// Fixed like upstream's dialer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest wait for a rejected server to show its certificate again (`tls_report`).
const CERTIFICATE_AGAIN: Duration = Duration::from_secs(10);

/// One ureq agent per route (direct, via the http proxy, via the https proxy), all sharing
/// the same trust anchors.
#[derive(Debug, Clone)]
pub(crate) struct Agents {
    direct: Agent,
    /// Sends `http://` requests to the http proxy in absolute form (`forward_proxy`).
    via_http_proxy: Option<Agent>,
    /// `Proxy-Authorization` for it, from the proxy URL's credentials.
    http_proxy_authorization: Option<String>,
    via_https_proxy: Option<Agent>,
    proxy: ProxySettings,
}

impl Agents {
    /// Agents for `proxy`; fails if a proxy URL does not parse.
    pub fn new(roots: &[CertificateDer<'static>], proxy: &ProxySettings) -> Result<Self, String> {
        let tls = tls_config(roots);
        let http_proxy = proxy.http.as_deref().filter(|p| !p.is_empty());
        let https_proxy = proxy.https.as_deref().filter(|p| !p.is_empty());
        let (via_http_proxy, http_proxy_authorization) = match http_proxy {
            None => (None, None),
            Some(url) => {
                let (bare, authorization) = split_userinfo(url);
                // Parsed by ureq as the https proxy is, for the same messages.
                let parsed = Proxy::new(&bare).map_err(|e| format!("proxy {url:?}: {e}"))?;
                if parsed.protocol() == ProxyProtocol::Http {
                    let config = config(&tls, None).max_idle_connections(0).build();
                    let agent = forward_proxy::agent(config, parsed.uri().clone());
                    (Some(agent), authorization)
                } else {
                    // https:// and SOCKS proxies: ureq's tunnel, credentials sent by ureq.
                    let proxy = Proxy::new(url).map_err(|e| format!("proxy {url:?}: {e}"))?;
                    (Some(config(&tls, Some(proxy)).build().new_agent()), None)
                }
            }
        };
        let via_https_proxy = match https_proxy {
            None => None,
            Some(url) => {
                let proxy = Proxy::new(url).map_err(|e| format!("proxy {url:?}: {e}"))?;
                Some(config(&tls, Some(proxy)).build().new_agent())
            }
        };
        Ok(Agents {
            direct: config(&tls, None).build().new_agent(),
            via_http_proxy,
            http_proxy_authorization,
            via_https_proxy,
            proxy: proxy.clone(),
        })
    }

    /// Agents without any proxy.
    pub fn direct(roots: &[CertificateDer<'static>]) -> Self {
        Agents {
            direct: config(&tls_config(roots), None).build().new_agent(),
            via_http_proxy: None,
            http_proxy_authorization: None,
            via_https_proxy: None,
            proxy: ProxySettings::default(),
        }
    }

    /// The agent for `uri`, whether it goes through a proxy, and the `Proxy-Authorization`
    /// to add (for the http proxy; ureq adds it to CONNECT requests itself).
    fn route(&self, uri: &Uri) -> (&Agent, bool, Option<&str>) {
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let host = uri.host().unwrap_or("");
        let proxied = self.proxy.proxy_for(https, host, port).is_some();
        let via = if https {
            &self.via_https_proxy
        } else {
            &self.via_http_proxy
        };
        match via {
            Some(agent) if proxied => {
                let authorization = self.http_proxy_authorization.as_deref();
                (agent, true, authorization.filter(|_| !https))
            }
            _ => (&self.direct, false, None),
        }
    }
}

fn tls_config(roots: &[CertificateDer<'static>]) -> TlsConfig {
    let roots: Vec<Certificate<'static>> = roots
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build()
}

/// Agent settings that leave statuses, redirects and default headers to the fetcher.
fn config(tls: &TlsConfig, proxy: Option<Proxy>) -> ConfigBuilder<AgentScope> {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(AutoHeaderValue::None)
        .accept(AutoHeaderValue::None)
        .accept_encoding(AutoHeaderValue::None)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .tls_config(tls.clone())
        .proxy(proxy)
}

/// A request as the fetcher sends it: the first hop carries `headers` and `body`.
pub(crate) struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: Option<&'a [u8]>,
}

/// Why one attempt failed before a usable response arrived.
#[derive(Debug)]
pub(crate) struct AttemptError {
    pub kind: ErrorKind,
    pub message: String,
    /// Worth another attempt (transport trouble), or final (bad URL, redirect loop).
    pub retry: bool,
}

impl AttemptError {
    fn fatal(kind: ErrorKind, message: String) -> Self {
        AttemptError {
            kind,
            message,
            retry: false,
        }
    }
}

pub(crate) fn parse_uri(url: &str) -> Result<Uri, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("unable to parse url: {e}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(uri),
        _ => Err("unable to parse url: expected http(s)://host/…".to_string()),
    }
}

/// Send `request`, following redirects with no headers on the redirected requests.
pub(crate) fn send(
    agents: &Agents,
    request: &Request<'_>,
    response_headers: Option<Duration>,
    deadline: &Deadline,
) -> Result<http::Response<Body>, AttemptError> {
    let mut url = request.url.to_string();
    let mut method = request.method.to_string();
    let mut headers = request.headers;
    let mut body = request.body;
    for _ in 0..=MAX_REDIRECTS {
        let (bare, basic) = split_userinfo(&url);
        let uri = parse_uri(&bare).map_err(|e| AttemptError::fatal(ErrorKind::InvalidUrl, e))?;
        let (agent, proxied, proxy_authorization) = agents.route(&uri);
        let mut builder = http::Request::builder()
            .method(method.as_str())
            .uri(uri.clone());
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        // Credentials in the URL are sent as Basic auth, as Go's client does, unless the
        // request names its own Authorization.
        if let Some(basic) = basic
            && !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        {
            builder = builder.header("Authorization", basic);
        }
        if let Some(credentials) = proxy_authorization {
            builder = builder.header("Proxy-Authorization", credentials);
        }
        let result = match body {
            Some(bytes) => run(
                agent,
                builder.body(bytes).map_err(|e| invalid_request(&e))?,
                response_headers,
                deadline,
            ),
            None => run(
                agent,
                builder.body(()).map_err(|e| invalid_request(&e))?,
                response_headers,
                deadline,
            ),
        };
        let response = result.map_err(|e| {
            let host = uri_authority(&url);
            if let Some(why) = certificate_error(&e) {
                let port = uri.port_u16().unwrap_or(443);
                let again = (!proxied).then(|| {
                    deadline
                        .remaining()
                        .map_or(CERTIFICATE_AGAIN, |r| r.min(CERTIFICATE_AGAIN))
                });
                let message = tls_report::certificate_message(
                    host,
                    uri.host().unwrap_or(""),
                    port,
                    why,
                    again,
                );
                return AttemptError {
                    kind: ErrorKind::Tls,
                    message,
                    retry: true,
                };
            }
            let mut e = classify(e);
            if e.kind == ErrorKind::Tls {
                e.message = format!("TLS with {host}: {}", e.message.trim_start_matches("TLS: "));
            }
            e
        })?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok());
        match (status, location) {
            (301 | 302 | 303 | 307 | 308, Some(location)) => {
                url = resolve(&url, location);
                if status <= 303 && method != "GET" && method != "HEAD" {
                    method = "GET".to_string();
                    body = None;
                }
                // Upstream clears every header on redirect, user headers and defaults alike.
                headers = &[];
            }
            _ => return Ok(response),
        }
    }
    Err(AttemptError::fatal(
        ErrorKind::Protocol,
        format!("stopped after {MAX_REDIRECTS} redirects"),
    ))
}

fn run<S: ureq::AsSendBody>(
    agent: &Agent,
    request: http::Request<S>,
    response_headers: Option<Duration>,
    deadline: &Deadline,
) -> Result<http::Response<Body>, ureq::Error> {
    let request = agent
        .configure_request(request)
        .timeout_recv_response(response_headers)
        .timeout_global(deadline.remaining())
        .build();
    agent.run(request)
}

/// The certificate verdict inside a TLS failure, wherever ureq put it.
fn certificate_error(e: &ureq::Error) -> Option<&rustls::CertificateError> {
    let tls = match e {
        ureq::Error::Rustls(tls) => tls,
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>()?,
        _ => return None,
    };
    match tls {
        rustls::Error::InvalidCertificate(why) => Some(why),
        _ => None,
    }
}

/// The URL without `user:password@`, and the matching `Basic` credentials if it had them.
fn split_userinfo(url: &str) -> (String, Option<String>) {
    use base64::Engine;
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some((userinfo, host)) = rest[..authority_end].rsplit_once('@') else {
        return (url.to_string(), None);
    };
    let decode =
        |part: &str| crate::data::percent_decode(part).unwrap_or_else(|_| part.as_bytes().to_vec());
    let credentials = match userinfo.split_once(':') {
        Some((user, password)) => {
            let mut c = decode(user);
            c.push(b':');
            c.extend(decode(password));
            c
        }
        None => {
            let mut c = decode(userinfo);
            c.push(b':');
            c
        }
    };
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(&credentials)
    );
    let bare = format!("{scheme}://{host}{}", &rest[authority_end..]);
    (bare, Some(basic))
}

fn uri_authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

fn invalid_request(e: &http::Error) -> AttemptError {
    AttemptError::fatal(ErrorKind::InvalidResource, format!("invalid request: {e}"))
}

/// Turn ureq's error into a kind and a message that says which layer failed.
fn classify(e: ureq::Error) -> AttemptError {
    let (kind, message) = match &e {
        ureq::Error::HostNotFound => (ErrorKind::Dns, "DNS: host not found".to_string()),
        ureq::Error::Timeout(what) => (ErrorKind::Timeout, timeout_message(*what)),
        ureq::Error::ConnectionFailed => (ErrorKind::Connect, "connect: failed".to_string()),
        ureq::Error::Io(io) => io_error(io),
        // ureq's own TLS errors are set-up failures (e.g. a name TLS cannot verify).
        ureq::Error::Tls(why) => return AttemptError::fatal(ErrorKind::Tls, format!("TLS: {why}")),
        ureq::Error::Rustls(why) => (ErrorKind::Tls, format!("TLS: {why}")),
        ureq::Error::ConnectProxyFailed(why) => (
            ErrorKind::Connect,
            format!("proxy refused the tunnel: {why}"),
        ),
        ureq::Error::Protocol(why) => (ErrorKind::Protocol, format!("HTTP protocol: {why}")),
        ureq::Error::BadUri(why) => {
            return AttemptError::fatal(
                ErrorKind::InvalidUrl,
                format!("unable to parse url: {why}"),
            );
        }
        ureq::Error::InvalidProxyUrl => {
            return AttemptError::fatal(ErrorKind::InvalidResource, "invalid proxy URL".into());
        }
        other => (ErrorKind::Protocol, other.to_string()),
    };
    AttemptError {
        kind,
        message,
        retry: true,
    }
}

/// An attempt cut short by the total deadline (`httpTotal` or `--fetch-timeout`).
pub(crate) const TOTAL_TIME_RAN_OUT: &str = "timed out: the total time allowed ran out";

/// Which wait ran out, in the config's terms.
fn timeout_message(what: ureq::Timeout) -> String {
    match what {
        ureq::Timeout::RecvResponse => {
            "timed out waiting for the response headers (ignition.timeouts.httpResponseHeaders)"
                .to_string()
        }
        ureq::Timeout::Global => TOTAL_TIME_RAN_OUT.to_string(),
        ureq::Timeout::Connect | ureq::Timeout::Resolve => {
            "connect: timed out (DNS, TCP or TLS handshake)".to_string()
        }
        other => format!("timed out ({other})"),
    }
}

/// I/O errors carry TLS failures (rustls reports them through the socket) and resets.
pub(crate) fn io_error(io: &std::io::Error) -> (ErrorKind, String) {
    if let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        return (ErrorKind::Tls, format!("TLS: {tls}"));
    }
    if let Some(inner) = io.get_ref().and_then(|e| e.downcast_ref::<ureq::Error>()) {
        return match inner {
            ureq::Error::Timeout(what) => (ErrorKind::Timeout, timeout_message(*what)),
            other => (ErrorKind::Connect, format!("reading the response: {other}")),
        };
    }
    use std::io::ErrorKind as Io;
    let layer = match io.kind() {
        Io::ConnectionRefused => "connect: connection refused".to_string(),
        Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe => {
            format!("connection reset: {io}")
        }
        Io::UnexpectedEof => format!("connection closed early: {io}"),
        Io::TimedOut | Io::WouldBlock => return (ErrorKind::Timeout, format!("timed out: {io}")),
        _ => format!("connection: {io}"),
    };
    (ErrorKind::Connect, layer)
}

/// Resolve a `Location` header against the URL that answered with it.
fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(authority_relative) = location.strip_prefix("//") {
        return format!("{scheme}://{authority_relative}");
    }
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = rest[authority_end..].split(['?', '#']).next().unwrap_or("");
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    format!("{scheme}://{authority}{dir}{location}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_turns_into_basic_credentials() {
        let (bare, basic) = split_userinfo("http://u%3Ax:p%40ss@h:1/p?q@x");
        assert_eq!(bare, "http://h:1/p?q@x");
        // base64("u:x:p@ss")
        assert_eq!(basic.as_deref(), Some("Basic dTp4OnBAc3M="));
        assert_eq!(
            split_userinfo("http://h/p@x"),
            ("http://h/p@x".to_string(), None)
        );
    }

    #[test]
    fn locations_resolve_against_the_base() {
        let base = "http://h:1/a/b?q=1";
        assert_eq!(resolve(base, "https://x/y"), "https://x/y");
        assert_eq!(resolve(base, "//x/y"), "http://x/y");
        assert_eq!(resolve(base, "/c"), "http://h:1/c");
        assert_eq!(resolve(base, "c"), "http://h:1/a/c");
        assert_eq!(resolve("http://h", "c"), "http://h/c");
    }
}
