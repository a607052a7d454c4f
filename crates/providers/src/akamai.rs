//! `akamai` (Akamai Cloud, formerly Linode): the Metadata service API (Akamai TechDocs
//! "Metadata service API reference": `PUT /v1/token` with `Metadata-Token-Expiry-Seconds`,
//! then `GET /v1/user-data` with `Metadata-Token`). User data is base64, possibly gzipped.
//! Every failure, 404 included, fails the boot, as upstream.

use crate::metadata::{self, NotFound};
use crate::{Fetched, Host, Provider, ProviderError};
use flate2::read::GzDecoder;
use kindling_fetch::Fetcher;
use std::io::Read;

const METADATA: &str = "http://169.254.169.254";

pub struct Akamai;

impl Provider for Akamai {
    fn id(&self) -> &'static str {
        "akamai"
    }

    fn fetch(&self, fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        let base = host.metadata(METADATA);
        let token_url = format!("{base}/v1/token");
        let response = metadata::request(
            fetcher,
            "PUT",
            &token_url,
            &[
                ("Accept", "text/plain"),
                ("Metadata-Token-Expiry-Seconds", "300"),
            ],
            None,
            &[],
        )?;
        let token = metadata::user_data(response, &token_url, NotFound::Fail)?;
        let token = String::from_utf8_lossy(&token).trim().to_string();
        if token.is_empty() {
            return Err(ProviderError::Invalid(format!(
                "{token_url} answered an empty metadata token"
            )));
        }
        let url = format!("{base}/v1/user-data");
        let response = metadata::request(
            fetcher,
            "GET",
            &url,
            &[("Metadata-Token", &token), ("Accept", "*/*")],
            None,
            &[],
        )?;
        let body = metadata::user_data(response, &url, NotFound::Fail)?;
        let data = metadata::decode_base64(&body, &url)?;
        gunzip_if_gzipped(data, &url).map(Some)
    }
}

/// User data may be gzipped before it is base64-encoded; the gzip magic tells.
fn gunzip_if_gzipped(data: Vec<u8>, url: &str) -> Result<Vec<u8>, ProviderError> {
    if !data.starts_with(&[0x1f, 0x8b]) {
        return Ok(data);
    }
    let mut out = Vec::new();
    GzDecoder::new(&data[..])
        .read_to_end(&mut out)
        .map_err(|e| ProviderError::Invalid(format!("decompressing user data from {url}: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::{CONFIG, base64, fetcher, host_for};
    use crate::testserver::{Request, Response, Server};
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn service(user_data: Response) -> impl Fn(&Request) -> Response {
        let user_data = std::sync::Mutex::new(Some(user_data));
        move |r| match (r.method.as_str(), r.path.as_str()) {
            ("PUT", "/v1/token") if r.header("Metadata-Token-Expiry-Seconds") == Some("300") => {
                Response::new(200, "tok-123\n")
            }
            ("GET", "/v1/user-data") if r.header("Metadata-Token") == Some("tok-123") => user_data
                .lock()
                .ok()
                .and_then(|mut u| u.take())
                .unwrap_or_else(|| Response::new(500, "answered once")),
            _ => Response::new(401, ""),
        }
    }

    fn fetch_with(user_data: Response) -> Result<Fetched, ProviderError> {
        static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run = RUN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let server = Server::start(service(user_data));
        let (dir, host) = host_for(&format!("akamai-{run}"), &server);
        let result = Akamai.fetch(&fetcher(), &host);
        std::fs::remove_dir_all(dir).unwrap();
        result
    }

    #[test]
    fn token_then_base64_user_data() {
        let got = fetch_with(Response::new(200, base64(CONFIG))).unwrap();
        assert_eq!(got.as_deref(), Some(CONFIG));
    }

    #[test]
    fn gzipped_user_data_is_decompressed() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(CONFIG).unwrap();
        let got = fetch_with(Response::new(200, base64(&gz.finish().unwrap()))).unwrap();
        assert_eq!(got.as_deref(), Some(CONFIG));
    }

    #[test]
    fn no_user_data_is_empty_but_404_and_bad_tokens_fail() {
        assert_eq!(
            fetch_with(Response::new(200, "")).unwrap(),
            Some(Vec::new())
        );
        let err = fetch_with(Response::new(404, "")).unwrap_err();
        assert!(err.to_string().contains("404"), "{err}");
        let server = Server::start(|_| Response::new(200, ""));
        let (dir, host) = host_for("akamai-token", &server);
        let err = Akamai.fetch(&fetcher(), &host).unwrap_err();
        assert!(err.to_string().contains("empty metadata token"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn flapping_and_failing_services() {
        let got = fetch_with(Response::new(503, "")).unwrap_err();
        assert!(got.to_string().contains("in time"), "{got}");
        let count = std::sync::atomic::AtomicUsize::new(0);
        let server = Server::start(move |r| {
            if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
                return Response::new(502, "");
            }
            match r.path.as_str() {
                "/v1/token" => Response::new(200, "t"),
                _ => Response::new(200, base64(CONFIG))
                    .delayed(std::time::Duration::from_millis(300)),
            }
        });
        let (dir, host) = host_for("akamai-flap", &server);
        assert_eq!(
            Akamai.fetch(&fetcher(), &host).unwrap().as_deref(),
            Some(CONFIG)
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
