//! `gs://<bucket>/<object>`: the Cloud Storage JSON API (`objects.get` with `alt=media`), with
//! the VM's service-account token from the metadata server ("Authenticate workloads using
//! service accounts" in the Compute Engine docs) or anonymous.

use super::sigv4::uri_encode;
use super::{Cloud, Prepared};
use crate::{ErrorKind, FetchError, Fetcher, HttpRequest};

const API: &str = "https://storage.googleapis.com";
const TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";

pub(crate) fn prepare(fetcher: &Fetcher, cloud: &Cloud, url: &str) -> Result<Prepared, FetchError> {
    let (bucket, object) = url
        .strip_prefix("gs://")
        .and_then(|rest| rest.split_once('/'))
        .ok_or_else(|| {
            FetchError::new(
                ErrorKind::InvalidUrl,
                url,
                "expected gs://<bucket>/<object>",
            )
        })?;
    let base = cloud.storage_url.as_deref().unwrap_or(API);
    let api_url = format!(
        "{base}/storage/v1/b/{}/o/{}?alt=media",
        uri_encode(bucket, true),
        uri_encode(object, true)
    );
    let mut headers = Vec::new();
    if let Some(metadata) = &cloud.gcp_metadata {
        match token(fetcher, metadata) {
            Ok(token) => headers.push(("Authorization".to_string(), format!("Bearer {token}"))),
            Err(e) => log::warn!("no GCE service-account token ({e}); fetching {url} anonymously"),
        }
    }
    Ok(Prepared {
        url: api_url,
        headers,
    })
}

fn token(fetcher: &Fetcher, metadata: &str) -> Result<String, String> {
    let request = HttpRequest {
        method: "GET".into(),
        url: format!("{metadata}{TOKEN_PATH}"),
        headers: vec![("Metadata-Flavor".into(), "Google".into())],
        ..HttpRequest::default()
    };
    let response = fetcher.http(&request).map_err(|e| e.to_string())?;
    if response.status != 200 {
        return Err(format!(
            "the metadata server answered HTTP {}",
            response.status
        ));
    }
    super::access_token(&response.body)
}
