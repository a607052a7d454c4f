//! `aws` (Amazon EC2): user data from the instance metadata service, IMDSv2 first (a session
//! token from `PUT /latest/api/token`, sent as `X-aws-ec2-metadata-token`), IMDSv1 when the
//! token endpoint answers 404, as in the EC2 user guide "Use the Instance Metadata Service to
//! access instance metadata" and "Instance user data". `init` gives the fetcher the instance
//! role and region for `s3://` and `arn:` sources.

use crate::metadata::{self, NotFound};
use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::{Cloud, Fetcher};
use std::time::Duration;

const IMDS: &str = "http://169.254.169.254";
const USER_DATA: &str = "/2019-10-01/user-data";
const REGION: &str = "/latest/meta-data/placement/region";
/// How long `init` waits for the region before it settles for the default.
const REGION_WAIT: Duration = Duration::from_secs(15);
const DEFAULT_REGION: &str = "us-east-1";

pub struct Aws;

impl Provider for Aws {
    fn id(&self) -> &'static str {
        "aws"
    }

    fn init(&self, fetcher: &mut Fetcher, host: &Host) -> Result<(), ProviderError> {
        let imds = host.metadata(IMDS).to_string();
        // As upstream: IMDS must answer the token request (404 = IMDSv1 is fine); the region
        // is only a hint.
        let token = token(fetcher, &imds)?;
        let mut quick = fetcher.clone();
        quick.set_total_timeout(Some(REGION_WAIT));
        let region = match region(&quick, &imds, token.as_deref()) {
            Ok(region) => region,
            Err(e) if e.needs_network() => return Err(e),
            Err(e) => {
                log::warn!(
                    "couldn't find the EC2 region ({e}); S3 lookups start in {DEFAULT_REGION}"
                );
                DEFAULT_REGION.to_string()
            }
        };
        fetcher.set_cloud(Cloud {
            aws_imds: Some(imds),
            aws_region: Some(region),
            ..fetcher.cloud().clone()
        });
        Ok(())
    }

    fn fetch(&self, fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        let imds = host.metadata(IMDS);
        let url = format!("{imds}{USER_DATA}");
        let token = token(fetcher, imds)?;
        let headers: Vec<(&str, &str)> = token
            .as_deref()
            .map(|t| ("X-aws-ec2-metadata-token", t))
            .into_iter()
            .collect();
        let response = metadata::request(fetcher, "GET", &url, &headers, None, &[])?;
        metadata::user_data(response, &url, NotFound::Empty).map(Some)
    }
}

/// An IMDSv2 session token; `None` on an IMDSv1-only service (404).
fn token(fetcher: &Fetcher, imds: &str) -> Result<Option<String>, ProviderError> {
    let url = format!("{imds}/latest/api/token");
    let headers = [("X-aws-ec2-metadata-token-ttl-seconds", "21600")];
    let response = metadata::request(fetcher, "PUT", &url, &headers, None, &[])?;
    match response.status {
        200 | 204 => {
            let token = String::from_utf8_lossy(&response.body).trim().to_string();
            Ok(Some(token).filter(|t| !t.is_empty()))
        }
        404 => {
            log::info!("IMDSv2 is not available, using IMDSv1");
            Ok(None)
        }
        status => Err(ProviderError::Status { url, status }),
    }
}

fn region(fetcher: &Fetcher, imds: &str, token: Option<&str>) -> Result<String, ProviderError> {
    let headers: Vec<(&str, &str)> = token
        .map(|t| ("X-aws-ec2-metadata-token", t))
        .into_iter()
        .collect();
    let url = format!("{imds}{REGION}");
    let response = metadata::request(fetcher, "GET", &url, &headers, None, &[])?;
    match response.status {
        200 => {
            let region = String::from_utf8_lossy(&response.body).trim().to_string();
            if region.is_empty() {
                return Err(ProviderError::Invalid(format!(
                    "{url} answered an empty region"
                )));
            }
            Ok(region)
        }
        status => Err(ProviderError::Status { url, status }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::{CONFIG, Expect, conformance, fetcher, host_for, raw};
    use crate::testserver::{Response, Server};

    /// IMDSv2 as documented: a token for a PUT with a TTL header, data only with the token.
    fn imds_v2(r: &crate::testserver::Request) -> Response {
        match (r.method.as_str(), r.path.as_str()) {
            ("PUT", "/latest/api/token")
                if r.header("X-aws-ec2-metadata-token-ttl-seconds") == Some("21600") =>
            {
                Response::new(200, "AQAEAtok")
            }
            (_, "/latest/api/token") => Response::new(400, ""),
            ("GET", _) if r.header("X-aws-ec2-metadata-token") != Some("AQAEAtok") => {
                Response::new(401, "")
            }
            ("GET", USER_DATA) => Response::new(200, CONFIG),
            ("GET", REGION) => Response::new(200, "eu-central-1"),
            _ => Response::new(404, ""),
        }
    }

    #[test]
    fn imdsv2_token_then_user_data_and_region() {
        let server = Server::start(imds_v2);
        let (dir, host) = host_for("aws-v2", &server);
        let mut fetcher = fetcher();
        Aws.init(&mut fetcher, &host).unwrap();
        assert_eq!(fetcher.cloud().aws_region.as_deref(), Some("eu-central-1"));
        assert_eq!(
            fetcher.cloud().aws_imds.as_deref(),
            Some(server.url.as_str())
        );
        assert_eq!(Aws.fetch(&fetcher, &host).unwrap().as_deref(), Some(CONFIG));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn imdsv1_when_the_token_endpoint_is_missing() {
        // IMDSv1 only: no token endpoint, no token header; the rest of the table applies.
        conformance(
            &Aws,
            &Expect {
                path: USER_DATA,
                headers: &[],
                encode: raw,
                not_found: NotFound::Empty,
            },
        );
    }

    #[test]
    fn region_falls_back_when_imds_cannot_say() {
        let server = Server::start(|r| match r.path.as_str() {
            "/latest/api/token" => Response::new(404, ""),
            _ => Response::new(403, ""),
        });
        let (dir, host) = host_for("aws-region", &server);
        let mut fetcher = fetcher();
        Aws.init(&mut fetcher, &host).unwrap();
        assert_eq!(fetcher.cloud().aws_region.as_deref(), Some(DEFAULT_REGION));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn init_fails_when_imds_refuses_the_token() {
        let server = Server::start(|_| Response::new(403, ""));
        let (dir, host) = host_for("aws-403", &server);
        let err = Aws.init(&mut fetcher(), &host).unwrap_err();
        assert!(err.to_string().contains("403"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn offline_init_asks_for_the_network() {
        let (dir, mut host) = crate::host::tests::temp_host("aws-offline");
        host.metadata_url = Some("http://127.0.0.1:9".into());
        let mut fetcher = fetcher();
        fetcher.set_offline(true);
        assert!(Aws.init(&mut fetcher, &host).unwrap_err().needs_network());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
