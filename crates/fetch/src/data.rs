//! `data:` URLs (RFC 2397): `data:[<media type>][;base64],<data>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;

/// Decode a `data:` URL into its bytes; the error says what is malformed.
pub(crate) fn decode(url: &str) -> Result<Vec<u8>, String> {
    let rest = url
        .get(5..)
        .filter(|_| url[..5].eq_ignore_ascii_case("data:"))
        .ok_or("not a data URL")?;
    let (meta, payload) = rest
        .split_once(',')
        .ok_or("invalid data URL: missing comma before the data")?;
    let mut params = meta.split(';');
    let media_type = params.next().unwrap_or("");
    if !media_type.is_empty() && !media_type.contains('/') {
        return Err("invalid data URL: missing media type slash".to_string());
    }
    let mut base64 = false;
    for param in params {
        if param.eq_ignore_ascii_case("base64") {
            base64 = true;
        } else if !param.contains('=') {
            return Err(format!("invalid data URL: bad parameter {param:?}"));
        }
    }
    let bytes = percent_decode(payload)?;
    if !base64 {
        return Ok(bytes);
    }
    // Line breaks and spaces may wrap base64 text inside URLs; they carry no data.
    let compact: Vec<u8> = bytes
        .into_iter()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    STANDARD_PAD_INDIFFERENT
        .decode(&compact)
        .map_err(|e| format!("invalid data URL: bad base64: {e}"))
}

/// Encode bytes as a base64 `data:` URL (used for inlined CA bundles).
pub(crate) fn encode(bytes: &[u8]) -> String {
    format!(
        "data:;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

pub(crate) fn percent_decode(s: &str) -> Result<Vec<u8>, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("invalid data URL: bad percent escape at byte {i}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoded_and_base64_decode() {
        assert_eq!(
            decode("data:,hello%20world%0A").ok(),
            Some(b"hello world\n".to_vec())
        );
        assert_eq!(
            decode("data:text/plain;charset=utf-8;base64,aGk=").ok(),
            Some(b"hi".to_vec())
        );
        assert_eq!(decode("data:;base64,aGk").ok(), Some(b"hi".to_vec()));
        assert_eq!(decode("DATA:,").ok(), Some(Vec::new()));
        assert_eq!(
            decode(&encode(b"\x00\xffbytes")).ok(),
            Some(b"\x00\xffbytes".to_vec())
        );
    }

    #[test]
    fn malformed_urls_are_rejected() {
        assert!(decode("data:text,x").is_err_and(|e| e.contains("media type slash")));
        assert!(decode("data:nocomma").is_err_and(|e| e.contains("comma")));
        assert!(decode("data:,%zz").is_err_and(|e| e.contains("percent")));
        assert!(decode("data:;base64,!!!").is_err_and(|e| e.contains("base64")));
    }
}
