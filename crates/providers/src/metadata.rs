//! HTTP metadata services: one request through the fetcher (retries, proxy, `--fetch-timeout`),
//! then each platform's reading of the status: 200 is the config, 204 or an empty body is an
//! empty config, 404 is "no config" or a failure depending on the platform, anything else
//! below 500 fails (5xx and the platform's extra statuses are retried by the fetcher).

use crate::{Fetched, Host, Provider, ProviderError};
use base64::Engine;
use kindling_fetch::{Fetcher, HttpRequest, HttpResponse};

/// What HTTP 404 means for a platform's user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFound {
    /// No user data was given: boot with an empty config.
    Empty,
    /// The service must have user data: fail the stage.
    Fail,
}

/// How a platform encodes its user data on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Raw,
    /// Standard base64 (whitespace around it ignored).
    Base64,
}

/// A platform whose config is one GET of a user-data URL.
pub struct UserData {
    pub id: &'static str,
    /// Scheme and host of the metadata service (replaced by `Host::metadata_url` in tests).
    pub base: &'static str,
    pub path: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
    /// Statuses retried on top of 5xx.
    pub retry: &'static [u16],
    pub not_found: NotFound,
    pub encoding: Encoding,
}

impl Provider for UserData {
    fn id(&self) -> &'static str {
        self.id
    }

    fn fetch(&self, fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        let url = format!("{}{}", host.metadata(self.base), self.path);
        let response = request(fetcher, "GET", &url, self.headers, None, self.retry)?;
        let body = user_data(response, &url, self.not_found)?;
        match self.encoding {
            Encoding::Raw => Ok(Some(body)),
            Encoding::Base64 => decode_base64(&body, &url).map(Some),
        }
    }
}

/// One exchange through the fetcher; non-retried statuses come back as responses.
pub fn request(
    fetcher: &Fetcher,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
    retry: &[u16],
) -> Result<HttpResponse, ProviderError> {
    let request = HttpRequest {
        method: method.to_string(),
        url: url.to_string(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body,
        retry_statuses: retry.to_vec(),
    };
    Ok(fetcher.http(&request)?)
}

/// The body of a user-data answer, or what its status means.
pub fn user_data(
    response: HttpResponse,
    url: &str,
    not_found: NotFound,
) -> Result<Vec<u8>, ProviderError> {
    match response.status {
        200 => Ok(response.body),
        204 => Ok(Vec::new()),
        404 if not_found == NotFound::Empty => {
            log::info!("no user data at {url} (HTTP 404): continuing with an empty config");
            Ok(Vec::new())
        }
        status => Err(ProviderError::Status {
            url: url.to_string(),
            status,
        }),
    }
}

/// "Needs the network", for sources that say so themselves in the fetch-offline stage (as
/// upstream's openstack, cloudstack and azure do) or that bypass the fetcher.
pub fn need_net(url: &str) -> ProviderError {
    ProviderError::Fetch(kindling_fetch::FetchError {
        kind: kindling_fetch::ErrorKind::NeedNet,
        url: url.to_string(),
        attempts: 0,
        message: "resource requires networking".into(),
    })
}

/// Base64 user data; an empty body stays an empty config.
pub fn decode_base64(body: &[u8], what: &str) -> Result<Vec<u8>, ProviderError> {
    let text: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(&text)
        .map_err(|e| ProviderError::Invalid(format!("decoding base64 user data from {what}: {e}")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::host::tests::temp_host;
    use crate::testserver::{Response, Server};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    pub(crate) const CONFIG: &[u8] = br#"{"ignition":{"version":"3.5.0"}}"#;

    /// A fetcher that gives up after a short while, so failing services end a test quickly.
    pub(crate) fn fetcher() -> Fetcher {
        let mut fetcher = Fetcher::new();
        fetcher.set_total_timeout(Some(Duration::from_secs(2)));
        fetcher
    }

    /// A host whose metadata service is `server`.
    pub(crate) fn host_for(name: &str, server: &Server) -> (std::path::PathBuf, Host) {
        let (dir, mut host) = temp_host(name);
        host.metadata_url = Some(server.url.clone());
        (dir, host)
    }

    /// What a platform's user-data service looks like, for [`conformance`].
    pub(crate) struct Expect {
        pub path: &'static str,
        pub headers: &'static [(&'static str, &'static str)],
        pub encode: fn(&[u8]) -> Vec<u8>,
        pub not_found: NotFound,
    }

    pub(crate) fn raw(bytes: &[u8]) -> Vec<u8> {
        bytes.to_vec()
    }

    pub(crate) fn base64(bytes: &[u8]) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into_bytes()
    }

    /// The cases every user-data service gets: the config, no config, 404, 500 until the
    /// fetch timeout, a flapping service, a slow service, and a service slower than the
    /// response-header timeout.
    pub(crate) fn conformance(provider: &dyn Provider, expect: &Expect) {
        let id = provider.id();
        let path = expect.path;
        let served = (expect.encode)(CONFIG);

        // Happy path: the right URL, the platform's headers, the decoded config.
        let body = served.clone();
        let server = Server::start(move |r| {
            if r.path == path {
                Response::new(200, body.clone())
            } else {
                Response::new(404, "not this path")
            }
        });
        let (dir, host) = host_for(&format!("{id}-happy"), &server);
        let got = provider.fetch(&fetcher(), &host);
        assert_eq!(got.unwrap().as_deref(), Some(CONFIG), "{id}: config");
        let requests = server.requests();
        let last = requests.last().unwrap();
        assert_eq!(last.path, path, "{id}: path");
        for (name, value) in expect.headers {
            assert_eq!(last.header(name), Some(*value), "{id}: header {name}");
        }
        std::fs::remove_dir_all(dir).unwrap();

        // No config: 204 and an empty 200 both mean an empty config.
        for status in [204, 200] {
            let server = Server::start(move |_| Response::new(status, ""));
            let (dir, host) = host_for(&format!("{id}-empty"), &server);
            let got = provider.fetch(&fetcher(), &host).unwrap();
            assert_eq!(got, Some(Vec::new()), "{id}: HTTP {status} without body");
            std::fs::remove_dir_all(dir).unwrap();
        }

        // 404: empty or failure, as upstream.
        let server = Server::start(|_| Response::new(404, "not here"));
        let (dir, host) = host_for(&format!("{id}-404"), &server);
        let got = provider.fetch(&fetcher(), &host);
        match expect.not_found {
            NotFound::Empty => assert_eq!(got.unwrap(), Some(Vec::new()), "{id}: 404"),
            NotFound::Fail => {
                let err = got.unwrap_err();
                assert!(err.to_string().contains("404"), "{id}: {err}");
            }
        }
        std::fs::remove_dir_all(dir).unwrap();

        // 500 forever: retried until the fetch timeout, then the stage fails.
        let server = Server::start(|_| Response::new(500, "down"));
        let (dir, host) = host_for(&format!("{id}-500"), &server);
        let err = provider.fetch(&fetcher(), &host).unwrap_err();
        assert!(err.to_string().contains("in time"), "{id}: {err}");
        assert!(server.requests().len() > 1, "{id}: 500 is retried");
        std::fs::remove_dir_all(dir).unwrap();

        // Flapping: two failures, then the config.
        let count = Arc::new(AtomicUsize::new(0));
        let body = served.clone();
        let seen = count.clone();
        let server = Server::start(move |r| {
            if r.path != path {
                return Response::new(404, "not this path");
            }
            match seen.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Response::new(503, "flap"),
                _ => Response::new(200, body.clone()),
            }
        });
        let (dir, host) = host_for(&format!("{id}-flap"), &server);
        let got = provider.fetch(&fetcher(), &host).unwrap();
        assert_eq!(got.as_deref(), Some(CONFIG), "{id}: flapping");
        assert_eq!(count.load(Ordering::SeqCst), 3, "{id}: attempts");
        std::fs::remove_dir_all(dir).unwrap();

        // Slow: an answer later than the response-header timeout is retried; a slow answer
        // within it is taken.
        let count = Arc::new(AtomicUsize::new(0));
        let body = served.clone();
        let seen = count.clone();
        let server = Server::start(move |r| {
            if r.path != path {
                return Response::new(404, "not this path");
            }
            let delay = match seen.fetch_add(1, Ordering::SeqCst) {
                0 => Duration::from_millis(1500),
                _ => Duration::from_millis(200),
            };
            Response::new(200, body.clone()).delayed(delay)
        });
        let (dir, host) = host_for(&format!("{id}-slow"), &server);
        let mut slow = fetcher();
        slow.set_response_headers_timeout(Some(Duration::from_millis(700)));
        let got = provider.fetch(&slow, &host).unwrap();
        assert_eq!(got.as_deref(), Some(CONFIG), "{id}: slow");
        assert!(
            count.load(Ordering::SeqCst) >= 2,
            "{id}: slow answer retried"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn base64_ignores_whitespace_and_rejects_garbage() {
        assert_eq!(decode_base64(b"e30K\n", "t").unwrap(), b"{}\n");
        assert_eq!(decode_base64(b"", "t").unwrap(), b"");
        assert!(decode_base64(b"{not base64}", "t").is_err());
    }
}
