//! `s3://<bucket>/<key>[?versionId=V]` and the `arn:` bucket and access-point forms: instance
//! role credentials from IMDS (IMDSv2 token, "Retrieve security credentials from instance
//! metadata" in the EC2 user guide) or anonymous, the bucket's region from `HeadBucket`'s
//! `x-amz-bucket-region`, then a SigV4-signed `GetObject` (S3 API Reference).

use super::sigv4::{self, Credentials};
use super::{Cloud, Prepared};
use crate::{ErrorKind, FetchError, Fetcher, HttpRequest};

/// An object named by an `s3://` or `arn:` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Object {
    pub partition: String,
    pub target: Target,
    pub key: String,
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Bucket(String),
    AccessPoint {
        region: String,
        account: String,
        name: String,
    },
}

/// Parse `s3://…` or `arn:…` (already validated by `Source::parse`).
pub(crate) fn parse(url: &str) -> Option<Object> {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let version = query.and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("versionId="))
            .map(percent_decode)
    });
    if let Some(rest) = main.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/')?;
        return Some(Object {
            partition: "aws".into(),
            target: Target::Bucket(bucket.into()),
            key: key.trim_start_matches('/').into(),
            version,
        });
    }
    let parts: Vec<&str> = main.strip_prefix("arn:")?.splitn(5, ':').collect();
    let [partition, "s3", region, account, resource] = parts[..] else {
        return None;
    };
    let (target, key) = match resource.strip_prefix("accesspoint/") {
        Some(rest) => {
            let (name, key) = rest.split_once("/object/")?;
            let target = Target::AccessPoint {
                region: region.into(),
                account: account.into(),
                name: name.into(),
            };
            (target, key)
        }
        None => {
            let (bucket, key) = resource.split_once('/')?;
            (Target::Bucket(bucket.into()), key)
        }
    };
    Some(Object {
        partition: partition.into(),
        target,
        key: key.into(),
        version,
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The region S3 requests start from before `HeadBucket` says where the bucket is.
fn default_region(partition: &str) -> &'static str {
    match partition {
        "aws-cn" => "cn-north-1",
        "aws-us-gov" => "us-gov-west-1",
        _ => "us-east-1",
    }
}

fn domain(partition: &str) -> &'static str {
    match partition {
        "aws-cn" => "amazonaws.com.cn",
        _ => "amazonaws.com",
    }
}

/// The signed GET of the object, after finding credentials and the bucket's region.
pub(crate) fn prepare(fetcher: &Fetcher, cloud: &Cloud, url: &str) -> Result<Prepared, FetchError> {
    let object =
        parse(url).ok_or_else(|| FetchError::new(ErrorKind::InvalidUrl, url, "invalid S3 URL"))?;
    let credentials = match &cloud.aws_imds {
        Some(imds) => match role_credentials(fetcher, imds) {
            Ok(credentials) => Some(credentials),
            Err(e) => {
                log::warn!("no EC2 IMDS role credentials ({e}); trying anonymous S3 access");
                None
            }
        },
        None => None,
    };
    let encoded_key = format!("/{}", sigv4::uri_encode(&object.key, false));
    let (scheme_host, host, path, region) = match &object.target {
        Target::AccessPoint {
            region,
            account,
            name,
        } => {
            if credentials.is_none() {
                return Err(FetchError::new(
                    ErrorKind::NeedsCredentials,
                    url,
                    "S3 access points need credentials: give the instance a role that can read the object",
                ));
            }
            let host = format!(
                "{name}-{account}.s3-accesspoint.dualstack.{region}.{}",
                domain(&object.partition)
            );
            (format!("https://{host}"), host, encoded_key, region.clone())
        }
        Target::Bucket(bucket) => {
            let hint = cloud
                .aws_region
                .clone()
                .filter(|_| object.partition == "aws")
                .unwrap_or_else(|| default_region(&object.partition).to_string());
            let region = bucket_region(fetcher, cloud, bucket, &object.partition, &hint);
            let encoded_bucket = sigv4::uri_encode(bucket, true);
            // Buckets with dots do not match the wildcard certificate: path style for them.
            if cloud.storage_url.is_some() || bucket.contains('.') {
                let host = format!("s3.dualstack.{region}.{}", domain(&object.partition));
                (
                    format!("https://{host}"),
                    host,
                    format!("/{encoded_bucket}{encoded_key}"),
                    region,
                )
            } else {
                let host = format!(
                    "{bucket}.s3.dualstack.{region}.{}",
                    domain(&object.partition)
                );
                (format!("https://{host}"), host, encoded_key, region)
            }
        }
    };
    let (scheme_host, host) = match &cloud.storage_url {
        Some(test) => (test.clone(), authority(test).to_string()),
        None => (scheme_host, host),
    };
    let query: Vec<(&str, &str)> = object
        .version
        .as_deref()
        .map(|v| ("versionId", v))
        .into_iter()
        .collect();
    let query_string = match &object.version {
        Some(v) => format!("?versionId={}", sigv4::uri_encode(v, true)),
        None => String::new(),
    };
    let http_url = format!("{scheme_host}{path}{query_string}");
    let headers = match &credentials {
        Some(credentials) => sigv4::sign(
            &sigv4::Request {
                method: "GET",
                host: &host,
                path: &path,
                query: &query,
                headers: &[],
                region: &region,
                amz_date: &sigv4::amz_date_now(),
            },
            credentials,
        ),
        None => Vec::new(),
    };
    Ok(Prepared {
        url: http_url,
        headers,
    })
}

/// `host[:port]` of a base URL.
fn authority(base: &str) -> &str {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// Where the bucket lives: `HeadBucket` answers with `x-amz-bucket-region` whatever its
/// status (200, 301, 403); without it the hint stays.
fn bucket_region(
    fetcher: &Fetcher,
    cloud: &Cloud,
    bucket: &str,
    partition: &str,
    hint: &str,
) -> String {
    let url = match &cloud.storage_url {
        Some(test) => format!("{test}/{}", sigv4::uri_encode(bucket, true)),
        None => format!(
            "https://s3.dualstack.{hint}.{}/{}",
            domain(partition),
            sigv4::uri_encode(bucket, true)
        ),
    };
    let request = HttpRequest {
        method: "HEAD".into(),
        url,
        ..HttpRequest::default()
    };
    match fetcher.http(&request) {
        Ok(response) => match response.header("x-amz-bucket-region") {
            Some(region) if !region.is_empty() => region.to_string(),
            _ => hint.to_string(),
        },
        Err(e) => {
            log::warn!("finding the region of S3 bucket {bucket}: {e}; using {hint}");
            hint.to_string()
        }
    }
}

/// The instance role's temporary credentials (IMDSv2 when the token endpoint exists).
fn role_credentials(fetcher: &Fetcher, imds: &str) -> Result<Credentials, String> {
    let token = super::aws_imds_token(fetcher, imds)?;
    let mut headers = Vec::new();
    if let Some(token) = &token {
        headers.push(("X-aws-ec2-metadata-token".to_string(), token.clone()));
    }
    let get = |path: &str| -> Result<Vec<u8>, String> {
        let request = HttpRequest {
            method: "GET".into(),
            url: format!("{imds}{path}"),
            headers: headers.clone(),
            ..HttpRequest::default()
        };
        let response = fetcher.http(&request).map_err(|e| e.to_string())?;
        match response.status {
            200 => Ok(response.body),
            status => Err(format!("EC2 IMDS role: {path} answered HTTP {status}")),
        }
    };
    let roles = get("/latest/meta-data/iam/security-credentials/")?;
    let roles = String::from_utf8_lossy(&roles);
    let role = roles
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .ok_or("EC2 IMDS role: the instance has no role")?;
    let body = get(&format!(
        "/latest/meta-data/iam/security-credentials/{role}"
    ))?;
    let json: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("EC2 IMDS role: {e}"))?;
    let field = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_string);
    match (field("AccessKeyId"), field("SecretAccessKey")) {
        (Some(access_key), Some(secret_key)) => Ok(Credentials {
            access_key,
            secret_key,
            token: field("Token"),
        }),
        _ => Err("EC2 IMDS role: credentials without AccessKeyId/SecretAccessKey".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_url_form_parses() {
        assert_eq!(
            parse("s3://bkt/dir//a b.ign?versionId=v%2B1"),
            Some(Object {
                partition: "aws".into(),
                target: Target::Bucket("bkt".into()),
                key: "dir//a b.ign".into(),
                version: Some("v+1".into()),
            })
        );
        assert_eq!(
            parse("s3://bkt//key").map(|o| o.key),
            Some("key".into()),
            "the key's leading slash is dropped"
        );
        assert_eq!(
            parse("arn:aws-cn:s3:::bkt/k"),
            Some(Object {
                partition: "aws-cn".into(),
                target: Target::Bucket("bkt".into()),
                key: "k".into(),
                version: None,
            })
        );
        assert_eq!(
            parse("arn:aws:s3:eu-west-1:123456789012:accesspoint/ap/object/x/y?versionId=3"),
            Some(Object {
                partition: "aws".into(),
                target: Target::AccessPoint {
                    region: "eu-west-1".into(),
                    account: "123456789012".into(),
                    name: "ap".into(),
                },
                key: "x/y".into(),
                version: Some("3".into()),
            })
        );
        assert_eq!(parse("gs://b/k"), None);
    }

    #[test]
    fn partitions_pick_their_default_region_and_domain() {
        assert_eq!(default_region("aws"), "us-east-1");
        assert_eq!(default_region("aws-cn"), "cn-north-1");
        assert_eq!(default_region("aws-us-gov"), "us-gov-west-1");
        assert_eq!(domain("aws-cn"), "amazonaws.com.cn");
        assert_eq!(authority("http://127.0.0.1:9/x"), "127.0.0.1:9");
    }
}
