//! Azure Blob Storage URLs (`https://<account>.blob.core.windows.net/<container>/<blob>`) read
//! with the VM's managed identity: a token from IMDS ("How to use managed identities for Azure
//! resources on an Azure VM to acquire an access token"), then `Get Blob` with
//! `Authorization: Bearer` ("Authorize with Microsoft Entra ID" in the Blob service REST docs).

use super::{Cloud, Prepared};
use crate::{Fetcher, HttpRequest};

const TOKEN_PATH: &str = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F";
/// OAuth bearer tokens need a service version of 2017-11-09 or later.
const SERVICE_VERSION: &str = "2021-08-06";

/// Whether `url` is a blob URL: an account under `blob.core.windows.net` and exactly a
/// container and a blob name.
pub(crate) fn is_blob_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("https://")?;
    let (host, path) = rest.split_once('/')?;
    host.strip_suffix(".blob.core.windows.net")
        .filter(|account| !account.is_empty() && !account.contains('.'))?;
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let (container, blob) = path.split_once('/')?;
    (!container.is_empty() && !blob.is_empty() && !blob.contains('/')).then_some((container, blob))
}

/// The authorized request for a blob URL, or why it cannot be made (the caller then fetches
/// the URL as plain HTTP, as upstream does).
pub(crate) fn prepare(fetcher: &Fetcher, cloud: &Cloud, url: &str) -> Result<Prepared, String> {
    let imds = cloud
        .azure_imds
        .as_deref()
        .ok_or("no managed identity on this platform")?;
    let (container, blob) = is_blob_url(url).ok_or("not a blob URL")?;
    let request = HttpRequest {
        method: "GET".into(),
        url: format!("{imds}{TOKEN_PATH}"),
        headers: vec![("Metadata".into(), "true".into())],
        ..HttpRequest::default()
    };
    let response = fetcher.http(&request).map_err(|e| e.to_string())?;
    if response.status != 200 {
        return Err(format!(
            "IMDS answered HTTP {} for a managed-identity token",
            response.status
        ));
    }
    let token = super::access_token(&response.body)?;
    let url = match &cloud.storage_url {
        Some(test) => format!("{test}/{container}/{blob}"),
        None => url.to_string(),
    };
    Ok(Prepared {
        url,
        headers: vec![
            ("Authorization".into(), format!("Bearer {token}")),
            ("x-ms-version".into(), SERVICE_VERSION.into()),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_urls_have_an_account_a_container_and_a_blob() {
        assert_eq!(
            is_blob_url("https://acct.blob.core.windows.net/c/config.ign"),
            Some(("c", "config.ign"))
        );
        assert_eq!(
            is_blob_url("https://acct.blob.core.windows.net/c/d/config.ign"),
            None
        );
        assert_eq!(is_blob_url("https://acct.blob.core.windows.net/c"), None);
        assert_eq!(is_blob_url("http://acct.blob.core.windows.net/c/b"), None);
        assert_eq!(is_blob_url("https://example.com/c/b"), None);
    }
}
