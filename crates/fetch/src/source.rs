//! Classifying a resource's source URL by scheme, and redacting secrets for messages.

use crate::{ErrorKind, FetchError};

/// Where a resource's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source<'a> {
    /// `""`: empty content, no fetch.
    Empty,
    Data(&'a str),
    Http(&'a str),
    Tftp(TftpUrl),
    /// `s3://`, `arn:`, `gs://`: validated here, fetched by the providers with credentials.
    Cloud(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TftpUrl {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl<'a> Source<'a> {
    pub fn parse(url: &'a str) -> Result<Self, FetchError> {
        if url.is_empty() {
            return Ok(Source::Empty);
        }
        let bad = |what: &str| FetchError::new(ErrorKind::InvalidUrl, url, what.to_string());
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err(bad("unable to parse url: no scheme"));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "data" => Ok(Source::Data(url)),
            "http" | "https" => {
                let host =
                    authority_host(rest).ok_or_else(|| bad("unable to parse url: no host"))?;
                if host.is_empty() {
                    return Err(bad("unable to parse url: no host"));
                }
                Ok(Source::Http(url))
            }
            "tftp" => parse_tftp(rest)
                .map(Source::Tftp)
                .ok_or_else(|| bad("unable to parse url: expected tftp://host[:port]/path")),
            "s3" => {
                let (bucket, key) = bucket_and_key(rest)
                    .ok_or_else(|| bad("unable to parse url: expected s3://<bucket>/<key>"))?;
                let _ = (bucket, key);
                if rest.split_once('?').is_some_and(|(_, q)| {
                    q.split('&')
                        .any(|kv| kv == "versionId" || kv == "versionId=")
                }) {
                    return Err(bad("invalid S3 object VersionId"));
                }
                Ok(Source::Cloud("s3"))
            }
            "gs" => {
                bucket_and_key(rest)
                    .ok_or_else(|| bad("unable to parse url: expected gs://<bucket>/<object>"))?;
                Ok(Source::Cloud("gs"))
            }
            "arn" => {
                if valid_s3_arn(rest) {
                    Ok(Source::Cloud("arn"))
                } else {
                    Err(bad("invalid S3 ARN format"))
                }
            }
            _ => Err(bad("invalid url scheme")),
        }
    }

    pub fn needs_network(&self) -> bool {
        !matches!(self, Source::Empty | Source::Data(_))
    }
}

/// The host of `//[userinfo@]host[:port]/…`, brackets kept for IPv6 literals.
fn authority_host(rest: &str) -> Option<&str> {
    let authority = rest.strip_prefix("//")?;
    let end = authority.find(['/', '?', '#']).unwrap_or(authority.len());
    let authority = &authority[..end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        let close = host_port.find(']')?;
        return Some(&host_port[..=close]);
    }
    Some(host_port.split(':').next().unwrap_or(""))
}

fn parse_tftp(rest: &str) -> Option<TftpUrl> {
    let authority_and_path = rest.strip_prefix("//")?;
    let slash = authority_and_path.find('/')?;
    let (authority, path) = authority_and_path.split_at(slash);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 69,
            None => return None,
        };
        (host.to_string(), port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.to_string(), 69),
        }
    };
    let path = path.trim_start_matches('/');
    if host.is_empty() || path.is_empty() {
        return None;
    }
    Some(TftpUrl {
        host,
        port,
        path: path.to_string(),
    })
}

fn bucket_and_key(rest: &str) -> Option<(&str, &str)> {
    let path = rest.strip_prefix("//")?;
    let path = path.split('?').next().unwrap_or(path);
    let (bucket, key) = path.split_once('/')?;
    let key = key.trim_start_matches('/');
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

/// `arn:<partition>:s3:::<bucket>/<key>` or
/// `arn:<partition>:s3:<region>:<account>:accesspoint/<name>/object/<key>`.
fn valid_s3_arn(rest: &str) -> bool {
    let rest = rest.split('?').next().unwrap_or(rest);
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let [partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    if partition.is_empty() || service != "s3" {
        return false;
    }
    if let Some(access_point) = resource.strip_prefix("accesspoint/") {
        return !region.is_empty()
            && !account.is_empty()
            && access_point
                .split_once("/object/")
                .is_some_and(|(name, key)| !name.is_empty() && !key.is_empty());
    }
    region.is_empty()
        && account.is_empty()
        && resource
            .split_once('/')
            .is_some_and(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
}

/// The URL as shown in messages: userinfo and query values replaced by `redacted`, `data:`
/// payloads shortened.
pub fn redact(url: &str) -> String {
    if url.len() > 7 && url[..5].eq_ignore_ascii_case("data:") {
        let head: String = url.chars().take(40).collect();
        return if head.len() < url.len() {
            format!("{head}…")
        } else {
            head
        };
    }
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(end);
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://redacted@{host}{path}"),
                None => before_query.to_string(),
            }
        }
        None => before_query.to_string(),
    };
    if let Some(query) = query {
        let (query, fragment) = match query.split_once('#') {
            Some((q, f)) => (q, Some(f)),
            None => (query, None),
        };
        let redacted: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) if !v.is_empty() => format!("{k}=redacted"),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&redacted.join("&"));
        if let Some(fragment) = fragment {
            out.push('#');
            out.push_str(fragment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_classified() {
        assert_eq!(Source::parse("").ok(), Some(Source::Empty));
        assert_eq!(Source::parse("data:,x").ok(), Some(Source::Data("data:,x")));
        assert_eq!(
            Source::parse("https://h/x").ok(),
            Some(Source::Http("https://h/x"))
        );
        assert_eq!(
            Source::parse("tftp://[::1]:6969/a/b").ok(),
            Some(Source::Tftp(TftpUrl {
                host: "::1".into(),
                port: 6969,
                path: "a/b".into()
            }))
        );
        assert_eq!(
            Source::parse("tftp://host/cfg").ok().and_then(|s| match s {
                Source::Tftp(t) => Some(t.port),
                _ => None,
            }),
            Some(69)
        );
        assert_eq!(Source::parse("s3://b/k").ok(), Some(Source::Cloud("s3")));
        assert_eq!(Source::parse("gs://b/o").ok(), Some(Source::Cloud("gs")));
        assert_eq!(
            Source::parse("arn:aws:s3:::bucket/key").ok(),
            Some(Source::Cloud("arn"))
        );
        assert_eq!(
            Source::parse("arn:aws:s3:us-east-1:123:accesspoint/ap/object/k").ok(),
            Some(Source::Cloud("arn"))
        );
    }

    #[test]
    fn bad_urls_name_the_problem() {
        let msg = |u: &str| Source::parse(u).err().map(|e| e.message);
        assert_eq!(msg("ftp://h/x").as_deref(), Some("invalid url scheme"));
        assert_eq!(
            msg("arn:aws:ec2:::b/k").as_deref(),
            Some("invalid S3 ARN format")
        );
        assert_eq!(
            msg("arn:aws:s3:r:1:accesspoint/ap").as_deref(),
            Some("invalid S3 ARN format")
        );
        assert_eq!(
            msg("s3://b/k?versionId=").as_deref(),
            Some("invalid S3 object VersionId")
        );
        assert!(msg("http:///x").is_some());
        assert!(msg("tftp://h").is_some());
        assert!(msg("s3://bucket").is_some());
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact("https://user:pw@h:1/p?sig=abc&x&y=2#f"),
            "https://redacted@h:1/p?sig=redacted&x&y=redacted#f"
        );
        assert_eq!(redact("http://h/p"), "http://h/p");
        let long = format!("data:,{}", "a".repeat(100));
        assert!(redact(&long).chars().count() < 50);
    }
}
