//! AWS Signature Version 4 for S3 GET/HEAD requests, computed by hand (AWS General Reference,
//! "Signing AWS API requests" and the S3 API Reference "Signature Calculations for the
//! Authorization Header: Transferring Payload in a Single Chunk").

use super::hmac::{hex, hmac_sha256};
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// Temporary or long-term credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    /// The session token of temporary (instance-role) credentials.
    pub token: Option<String>,
}

/// SHA-256 of an empty payload, the `x-amz-content-sha256` of a GET.
pub(crate) const EMPTY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A request to sign: `path` already URI-encoded, `query` as (name, value) pairs unencoded.
pub(crate) struct Request<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    /// Extra headers to sign (lower-case names), besides host and the x-amz ones.
    pub headers: &'a [(&'a str, &'a str)],
    pub region: &'a str,
    /// `YYYYMMDD'T'HHMMSS'Z'`
    pub amz_date: &'a str,
}

/// The headers to send (`x-amz-date`, `x-amz-content-sha256`, the token, `Authorization`).
pub(crate) fn sign(request: &Request, credentials: &Credentials) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), request.host.into()),
        ("x-amz-content-sha256".into(), EMPTY_SHA256.into()),
        ("x-amz-date".into(), request.amz_date.into()),
    ];
    if let Some(token) = &credentials.token {
        headers.push(("x-amz-security-token".into(), token.clone()));
    }
    headers.extend(
        request
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string())),
    );
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let signed = signed.join(";");
    let mut query: Vec<(String, String)> = request
        .query
        .iter()
        .map(|(n, v)| (uri_encode(n, true), uri_encode(v, true)))
        .collect();
    query.sort();
    let query: Vec<String> = query.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        request.path,
        query.join("&"),
        canonical_headers,
        signed,
        EMPTY_SHA256
    );
    let date = &request.amz_date[..8];
    let scope = format!("{date}/{}/s3/aws4_request", request.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        request.amz_date,
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac_sha256(
        format!("AWS4{}", credentials.secret_key).as_bytes(),
        date.as_bytes(),
    );
    for part in [request.region, "s3", "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex(&hmac_sha256(&key, to_sign.as_bytes()));
    let mut out: Vec<(String, String)> = headers
        .into_iter()
        .filter(|(n, _)| {
            n != "host"
                && !request
                    .headers
                    .iter()
                    .any(|(h, _)| h.eq_ignore_ascii_case(n))
        })
        .collect();
    out.push((
        "Authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            credentials.access_key
        ),
    ));
    out
}

/// RFC 3986 percent-encoding as SigV4 wants it; `/` kept in paths.
pub(crate) fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Now as `YYYYMMDD'T'HHMMSS'Z'`.
pub(crate) fn amz_date_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    amz_date(secs)
}

/// Unix seconds as `YYYYMMDD'T'HHMMSS'Z'`: RFC 3339 in UTC without the separators.
pub(crate) fn amz_date(secs: u64) -> String {
    let t = UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace(['-', ':'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "GET Object" example of the S3 API Reference (SigV4, single chunk): the documented
    /// signature for the documented request and example keys.
    #[test]
    fn matches_the_documented_get_object_example() {
        let credentials = Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            token: None,
        };
        let headers = sign(
            &Request {
                method: "GET",
                host: "examplebucket.s3.amazonaws.com",
                path: "/test.txt",
                query: &[],
                headers: &[("range", "bytes=0-9")],
                region: "us-east-1",
                amz_date: "20130524T000000Z",
            },
            &credentials,
        );
        let auth = headers
            .iter()
            .find(|(n, _)| n == "Authorization")
            .map(|(_, v)| v.as_str());
        assert_eq!(
            auth,
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
                 SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
                 Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
            )
        );
        assert!(headers.iter().all(|(n, _)| n != "host" && n != "range"));
    }

    #[test]
    fn session_tokens_are_signed_and_sent() {
        let credentials = Credentials {
            access_key: "A".into(),
            secret_key: "S".into(),
            token: Some("T".into()),
        };
        let request = Request {
            method: "GET",
            host: "b.s3.us-east-1.amazonaws.com",
            path: "/k",
            query: &[("versionId", "v 1")],
            headers: &[],
            region: "us-east-1",
            amz_date: "20240101T000000Z",
        };
        let headers = sign(&request, &credentials);
        let auth = &headers
            .iter()
            .find(|(n, _)| n == "Authorization")
            .unwrap()
            .1;
        assert!(auth.contains("x-amz-security-token"), "{auth}");
        assert!(headers.contains(&("x-amz-security-token".into(), "T".into())));
        let other = sign(
            &Request {
                query: &[("versionId", "v2")],
                ..request
            },
            &credentials,
        );
        assert_ne!(headers, other, "the query is part of the signature");
    }

    #[test]
    fn dates_and_encoding() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_369_353_600), "20130524T000000Z");
        assert_eq!(amz_date(951_782_400 + 3661), "20000229T010101Z");
        assert_eq!(uri_encode("a b/c~é", false), "a%20b/c~%C3%A9");
        assert_eq!(uri_encode("a/b", true), "a%2Fb");
    }
}
