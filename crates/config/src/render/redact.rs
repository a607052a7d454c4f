//! Config sources as they may be shown in logs and errors.

/// `source` with its secrets hidden: a `data:` URL (the content itself) is reduced to its size,
/// user info and query values are replaced with `…`, a fragment is dropped.
pub fn redact(source: &str) -> String {
    if source.is_empty() {
        return "\"\" (empty source)".into();
    }
    if source
        .get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("data:"))
    {
        return format!("data URL ({} bytes)", source.len());
    }
    let without_fragment = source.split('#').next().unwrap_or_default();
    let (base, query) = match without_fragment.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (without_fragment, None),
    };
    let mut out = String::with_capacity(source.len());
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            out.push_str(scheme);
            out.push_str("://");
            match authority.rsplit_once('@') {
                Some((_, host)) => {
                    out.push_str("…@");
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(base),
    }
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) => format!("{key}=…"),
                None => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn secrets_are_hidden() {
        let cases = [
            ("", "\"\" (empty source)"),
            ("data:,secret", "data URL (12 bytes)"),
            ("DATA:;base64,c2VjcmV0", "data URL (21 bytes)"),
            ("https://example.com/a.ign", "https://example.com/a.ign"),
            (
                "https://user:pw@example.com:8443/a.ign",
                "https://…@example.com:8443/a.ign",
            ),
            (
                "https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&x=1&flag#frag",
                "https://b.s3.amazonaws.com/k?X-Amz-Signature=…&x=…&flag",
            ),
            ("http://host?token=t", "http://host?token=…"),
            ("s3://bucket/key", "s3://bucket/key"),
            ("arn:aws:s3:::bucket/key", "arn:aws:s3:::bucket/key"),
            ("tftp://10.0.2.2/a@b", "tftp://10.0.2.2/a@b"),
        ];
        for (source, want) in cases {
            assert_eq!(redact(source), want, "redacting {source:?}");
        }
    }
}
