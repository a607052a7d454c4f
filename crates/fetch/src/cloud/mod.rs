//! Object stores: `s3://` and `arn:` (SigV4 by hand), `gs://` (JSON API) and Azure blob URLs
//! (managed identity). Each turns the resource URL into one authorized HTTPS GET that the
//! fetcher then runs like any http source (retries, streaming, verification).
//!
//! The platform provider says which credentials exist ([`Cloud`], set in its `init`); without
//! them requests are anonymous, as upstream.

mod azure;
mod gcs;
mod hmac;
mod s3;
mod sigv4;

use crate::{ErrorKind, FetchError, Fetcher, HttpRequest};

/// The credentials and hints of the platform the machine runs on.
#[derive(Debug, Clone, Default)]
pub struct Cloud {
    /// `aws`: the EC2 instance metadata service (`http://169.254.169.254`), for the instance
    /// role's credentials. `None`: anonymous S3 requests.
    pub aws_imds: Option<String>,
    /// `aws`: the instance's region, where bucket lookups start.
    pub aws_region: Option<String>,
    /// `gcp`: the metadata server, for the service account's token. `None`: anonymous.
    pub gcp_metadata: Option<String>,
    /// `azure`: IMDS, for the managed identity's token. `None`: blob URLs are plain HTTP.
    pub azure_imds: Option<String>,
    /// Test only: S3, Cloud Storage and blob requests go to this base URL (path style)
    /// instead of the clouds' endpoints.
    pub storage_url: Option<String>,
}

/// An authorized HTTP GET for an object.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// The GET for an `s3`, `arn` or `gs` source.
pub(crate) fn prepare(fetcher: &Fetcher, scheme: &str, url: &str) -> Result<Prepared, FetchError> {
    let cloud = fetcher.cloud();
    match scheme {
        "s3" | "arn" => s3::prepare(fetcher, cloud, url),
        "gs" => gcs::prepare(fetcher, cloud, url),
        other => Err(FetchError::new(
            ErrorKind::InvalidUrl,
            url,
            format!("{other} is not an object store"),
        )),
    }
}

/// The authorized GET for an Azure blob URL when the platform has a managed identity;
/// `None` means "fetch it as plain HTTP" (not a blob URL, no identity, or no token).
pub(crate) fn azure_blob(fetcher: &Fetcher, url: &str) -> Option<Prepared> {
    let cloud = fetcher.cloud();
    cloud.azure_imds.as_ref()?;
    azure::is_blob_url(url)?;
    match azure::prepare(fetcher, cloud, url) {
        Ok(prepared) => Some(prepared),
        Err(e) => {
            log::warn!(
                "reading the blob with the managed identity failed ({e}); trying plain HTTP"
            );
            None
        }
    }
}

/// An IMDSv2 session token, or `None` when the service only speaks IMDSv1 (404).
pub(crate) fn aws_imds_token(fetcher: &Fetcher, imds: &str) -> Result<Option<String>, String> {
    let request = HttpRequest {
        method: "PUT".into(),
        url: format!("{imds}/latest/api/token"),
        headers: vec![(
            "X-aws-ec2-metadata-token-ttl-seconds".into(),
            "21600".into(),
        )],
        ..HttpRequest::default()
    };
    let response = fetcher.http(&request).map_err(|e| e.to_string())?;
    match response.status {
        200 => Ok(Some(
            String::from_utf8_lossy(&response.body).trim().to_string(),
        )),
        404 => Ok(None),
        status => Err(format!("IMDSv2 token request answered HTTP {status}")),
    }
}

/// `access_token` of an OAuth token answer (GCE metadata server, Azure IMDS).
fn access_token(body: &[u8]) -> Result<String, String> {
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("token answer is not JSON: {e}"))?;
    json.get("access_token")
        .and_then(|v| v.as_str())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "token answer has no access_token".to_string())
}
