//! URL rules: Go's `net/url.Parse` verdicts, the per-version scheme list, S3 version ids, S3
//! ARNs and `data:` URLs (the `dataurl` library's grammar and messages).

use super::msg;
use crate::Version::{self, *};

/// What validation needs from a parsed URL.
#[derive(Debug, PartialEq, Eq)]
pub struct GoUrl {
    /// Lower-cased, as Go stores it.
    pub scheme: String,
    pub opaque: String,
    pub raw_query: String,
}

impl GoUrl {
    /// `url.Parse`: `None` wherever Go returns an error.
    pub fn parse(raw: &str) -> Option<GoUrl> {
        let (u, fragment) = match raw.split_once('#') {
            Some((u, f)) => (u, Some(f)),
            None => (raw, None),
        };
        let parsed = parse_no_fragment(u)?;
        if let Some(f) = fragment {
            unescape(f, Mode::Fragment)?;
        }
        Some(parsed)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Host,
    Path,
    UserPassword,
    Fragment,
}

fn parse_no_fragment(raw: &str) -> Option<GoUrl> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return None;
    }
    let mut url = GoUrl {
        scheme: String::new(),
        opaque: String::new(),
        raw_query: String::new(),
    };
    if raw == "*" {
        return Some(url);
    }
    let (scheme, rest) = get_scheme(raw)?;
    url.scheme = scheme.to_ascii_lowercase();
    let mut rest = rest;
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        rest = &rest[..rest.len() - 1];
    } else if let Some((r, q)) = rest.split_once('?') {
        url.raw_query = q.to_owned();
        rest = r;
    }
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            url.opaque = rest.to_owned();
            return Some(url);
        }
        let segment = rest.split('/').next().unwrap_or("");
        if segment.contains(':') {
            return None;
        }
    }
    let mut path = rest;
    if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let after = &rest[2..];
        let (authority, p) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        parse_authority(authority)?;
        path = p;
    }
    unescape(path, Mode::Path)?;
    Some(url)
}

fn get_scheme(raw: &str) -> Option<(&str, &str)> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return None,
            b':' => return Some((&raw[..i], &raw[i + 1..])),
            _ => return Some(("", raw)),
        }
    }
    Some(("", raw))
}

fn parse_authority(authority: &str) -> Option<()> {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    parse_host(host)?;
    if let Some(userinfo) = userinfo {
        let valid = userinfo
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b));
        if !valid {
            return None;
        }
        for part in userinfo.splitn(2, ':') {
            unescape(part, Mode::UserPassword)?;
        }
    }
    Some(())
}

fn valid_optional_port(port: &str) -> bool {
    match port.strip_prefix(':') {
        _ if port.is_empty() => true,
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

fn parse_host(host: &str) -> Option<()> {
    if host.starts_with('[') {
        let i = host.rfind(']')?;
        if !valid_optional_port(&host[i + 1..]) {
            return None;
        }
        // A zone (`%25…`) may use any escapes; the rest follows host rules.
        if let Some(zone) = host[..i].find("%25") {
            unescape(&host[..zone], Mode::Host)?;
            unescape(&host[zone..i], Mode::Path)?;
            return unescape(&host[i..], Mode::Host);
        }
    } else if let Some(i) = host.rfind(':')
        && !valid_optional_port(&host[i..])
    {
        return None;
    }
    unescape(host, Mode::Host)
}

/// Characters Go refuses unescaped in a host.
fn host_needs_escape(c: u8) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    !b"-_.~!$&'()*+,;=:[]<>\"".contains(&c)
}

/// Go's `unescape`: only the error verdict matters here.
fn unescape(s: &str, mode: Mode) -> Option<()> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h1 = *b.get(i + 1)?;
                let h2 = *b.get(i + 2)?;
                if !h1.is_ascii_hexdigit() || !h2.is_ascii_hexdigit() {
                    return None;
                }
                // In a host, only `%25` or escapes of non-ASCII bytes are allowed.
                if mode == Mode::Host && hex_val(h1) < 8 && &b[i..i + 3] != b"%25" {
                    return None;
                }
                i += 3;
            }
            c => {
                if mode == Mode::Host && c < 0x80 && host_needs_escape(c) {
                    return None;
                }
                i += 1;
            }
        }
    }
    Some(())
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// `url.Query()["versionId"]`: present with an empty first value.
fn empty_version_id(raw_query: &str) -> bool {
    let mut first: Option<String> = None;
    for pair in raw_query.split('&') {
        if pair.is_empty() || pair.contains(';') {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(k), Some(v)) = (query_unescape(k), query_unescape(v)) else {
            continue;
        };
        if k == "versionId" && first.is_none() {
            first = Some(v);
        }
    }
    first.is_some_and(|v| v.is_empty())
}

fn query_unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h1 = *b.get(i + 1)?;
                let h2 = *b.get(i + 2)?;
                if !h1.is_ascii_hexdigit() || !h2.is_ascii_hexdigit() {
                    return None;
                }
                out.push(hex_val(h1) * 16 + hex_val(h2));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// `validateURL`: `Err(message)` for an unacceptable source.
pub fn validate_url(s: &str, version: Version) -> Result<(), String> {
    let Some(u) = GoUrl::parse(s) else {
        return Err(msg::INVALID_URL.into());
    };
    match u.scheme.as_str() {
        "http" | "https" | "tftp" => Ok(()),
        "gs" if version >= V3_2 => Ok(()),
        "s3" => {
            if empty_version_id(&u.raw_query) {
                Err(msg::INVALID_S3_OBJECT_VERSION_ID.into())
            } else {
                Ok(())
            }
        }
        "arn" if version >= V3_4 => validate_arn(&u),
        "data" => validate_data_url(s),
        _ => Err(msg::INVALID_SCHEME.into()),
    }
}

/// `validateURLNilOK`: `None` or `""` is fine.
pub fn validate_url_nil_ok(s: &Option<String>, version: Version) -> Option<String> {
    match s.as_deref() {
        None | Some("") => None,
        Some(s) => validate_url(s, version).err(),
    }
}

fn validate_arn(u: &GoUrl) -> Result<(), String> {
    let full = format!("{}:{}", u.scheme, u.opaque);
    let invalid = || Err(msg::INVALID_S3_ARN.to_owned());
    if !full.starts_with("arn:") || full.matches(':').count() < 5 {
        return invalid();
    }
    let sections: Vec<&str> = full.splitn(6, ':').collect();
    let (Some(service), Some(resource)) = (sections.get(2), sections.get(5)) else {
        return invalid();
    };
    if *service != "s3" {
        return invalid();
    }
    let slashes = full.split('/').count();
    if resource.starts_with("accesspoint/") {
        if slashes < 3 {
            return invalid();
        }
    } else if slashes < 2 {
        return invalid();
    }
    if empty_version_id(&u.raw_query) {
        return Err(msg::INVALID_S3_OBJECT_VERSION_ID.into());
    }
    Ok(())
}

/// The `dataurl` library's lexer and parser, for their verdict and messages.
pub fn validate_data_url(s: &str) -> Result<(), String> {
    DataUrlLexer::new(s).run()
}

fn is_token_rune(c: char) -> bool {
    c.is_ascii()
        && !c.is_ascii_control()
        && c != ' '
        && !matches!(
            c,
            '(' | ')'
                | '<'
                | '>'
                | '@'
                | ','
                | ';'
                | ':'
                | '\\'
                | '"'
                | '/'
                | '['
                | ']'
                | '?'
                | '='
        )
}

fn is_url_char(c: char) -> bool {
    c.is_ascii()
        && !c.is_ascii_control()
        && !matches!(
            c,
            ' ' | '<' | '>' | '#' | '"' | '{' | '}' | '|' | '\\' | '^' | '[' | ']' | '`'
        )
}

fn is_base64_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '\n')
}

struct DataUrlLexer<'a> {
    input: &'a str,
    start: usize,
    pos: usize,
    width: usize,
}

/// What the parser does with the lexer's tokens that can fail.
enum Token {
    /// An opening quote: the next parameter value is unquoted with Go's `strconv.Unquote`.
    LeftQuote,
    /// A parameter value: rfc2396 unescaping, or unquoting after a [`Token::LeftQuote`].
    ParamValue(String),
    Data {
        base64: bool,
        data: String,
    },
}

impl<'a> DataUrlLexer<'a> {
    fn new(input: &'a str) -> Self {
        DataUrlLexer {
            input,
            start: 0,
            pos: 0,
            width: 0,
        }
    }

    fn next(&mut self) -> Option<char> {
        let c = self.input[self.pos..].chars().next()?;
        self.width = c.len_utf8();
        self.pos += self.width;
        Some(c)
    }

    fn backup(&mut self) {
        self.pos -= self.width;
    }

    fn take(&mut self) -> String {
        let s = self.input[self.start..self.pos].to_owned();
        self.start = self.pos;
        s
    }

    /// Lex the whole input, checking each token as the parser would, in order.
    fn run(&mut self) -> Result<(), String> {
        let mut tokens = Vec::new();
        let lexed = self.lex(&mut tokens);
        // The parser sees the tokens emitted before a lexer error first.
        let mut quoted = false;
        for t in tokens {
            match t {
                Token::LeftQuote => quoted = true,
                Token::ParamValue(v) if quoted => {
                    quoted = false;
                    if !go_unquote_ok(&v) {
                        return Err("invalid syntax".into());
                    }
                }
                Token::ParamValue(v) => rfc2396_unescape(&v)?,
                Token::Data {
                    base64: false,
                    data,
                } => rfc2396_unescape(&data)?,
                Token::Data { base64: true, data } => go_base64_check(&data)?,
            }
        }
        lexed
    }

    fn lex(&mut self, tokens: &mut Vec<Token>) -> Result<(), String> {
        if !self.input.starts_with("data:") {
            return Err("missing data prefix".into());
        }
        self.pos = 5;
        self.start = 5;
        // After the prefix: a media type, parameters, or the comma.
        match self.next() {
            Some(';') => {
                self.backup();
                return self.params(tokens, false);
            }
            Some(',') => {
                self.backup();
                return self.data(tokens, false);
            }
            None => return Err("missing comma before data".into()),
            Some(c) if c == 'x' || c == 'X' => {
                let discrete = self.next() != Some('-');
                self.media_type(discrete)?;
            }
            Some(c) if is_token_rune(c) => self.media_type(true)?,
            Some(_) => return Err("invalid character after data prefix".into()),
        }
        // The subtype after the slash.
        self.start = self.pos;
        loop {
            match self.next() {
                Some(';') | Some(',') => {
                    self.backup();
                    break;
                }
                None => return Err("incomplete media type".into()),
                Some(c) if is_token_rune(c) => {}
                Some(_) => return Err("invalid character for media subtype".into()),
            }
        }
        self.start = self.pos;
        match self.next() {
            Some(';') => {
                self.backup();
                self.params(tokens, false)
            }
            Some(',') => {
                self.backup();
                self.data(tokens, false)
            }
            None => Err("missing comma before data".into()),
            Some(_) => Err("expected semicolon or comma".into()),
        }
    }

    /// The type part of a media type, up to and including its slash.
    fn media_type(&mut self, discrete: bool) -> Result<(), String> {
        loop {
            match self.next() {
                Some('/') => {
                    self.backup();
                    let t = &self.input[self.start..self.pos];
                    let known = [
                        "text",
                        "image",
                        "audio",
                        "video",
                        "application",
                        "message",
                        "multipart",
                    ]
                    .iter()
                    .any(|p| t.starts_with(p));
                    if discrete && !known {
                        return Err("invalid media type".into());
                    }
                    self.next();
                    return Ok(());
                }
                None => return Err("missing media type slash".into()),
                Some(c) if is_token_rune(c) => {}
                Some(_) => return Err("invalid character for media type".into()),
            }
        }
    }

    /// At a `;`: parameters, then the comma.
    fn params(&mut self, tokens: &mut Vec<Token>, mut base64: bool) -> Result<(), String> {
        loop {
            // Consume the semicolon.
            self.next();
            self.start = self.pos;
            match self.next() {
                None | Some('=') | Some(',') => {
                    return Err("unterminated parameter sequence".into());
                }
                Some(c) if is_token_rune(c) => self.backup(),
                Some(_) => return Err("invalid character for parameter attribute".into()),
            }
            // Attribute.
            loop {
                match self.next() {
                    Some('=') => {
                        self.backup();
                        break;
                    }
                    Some(',') => {
                        self.backup();
                        let attr = &self.input[self.start..self.pos];
                        if !attr.is_empty() {
                            if attr != "base64" {
                                return Err(format!("expected base64, got {attr}"));
                            }
                            base64 = true;
                        }
                        return self.data(tokens, base64);
                    }
                    None => return Err("unterminated parameter sequence".into()),
                    Some(c) if is_token_rune(c) => {}
                    Some(_) => return Err("invalid character for parameter attribute".into()),
                }
            }
            // `=` and the value.
            self.next();
            self.start = self.pos;
            match self.next() {
                Some('"') => {
                    self.start = self.pos;
                    loop {
                        match self.next() {
                            None => return Err("unclosed quoted string".into()),
                            // End of input after a backslash is caught as unclosed next round.
                            Some('\\') => match self.next() {
                                None => {}
                                Some(c) if c.is_ascii() => {}
                                Some(_) => return Err("invalid escaped character".into()),
                            },
                            Some('"') => {
                                self.backup();
                                break;
                            }
                            Some(c) if c.is_ascii() => {}
                            Some(_) => return Err("invalid character for parameter value".into()),
                        }
                    }
                    tokens.push(Token::LeftQuote);
                    if self.pos > self.start {
                        tokens.push(Token::ParamValue(self.take()));
                    }
                    self.next();
                }
                None => return Err("missing comma before data".into()),
                Some(c) if is_token_rune(c) => {
                    loop {
                        match self.next() {
                            Some(';') | Some(',') => {
                                self.backup();
                                break;
                            }
                            None => return Err("missing comma before data".into()),
                            Some(c) if is_token_rune(c) => {}
                            Some(_) => {
                                return Err("invalid character for parameter value".into());
                            }
                        }
                    }
                    tokens.push(Token::ParamValue(self.take()));
                }
                Some(_) => return Err("invalid character for parameter value".into()),
            }
            // After the value: another parameter or the comma.
            match self.next() {
                Some(';') => self.backup(),
                Some(',') => {
                    self.backup();
                    return self.data(tokens, base64);
                }
                None => return Err("missing comma before data".into()),
                Some(_) => return Err("expected semicolon or comma".into()),
            }
        }
    }

    /// At the comma: the data.
    fn data(&mut self, tokens: &mut Vec<Token>, base64: bool) -> Result<(), String> {
        self.next();
        self.start = self.pos;
        while let Some(c) = self.next() {
            let ok = if base64 {
                is_base64_char(c)
            } else {
                is_url_char(c)
            };
            if !ok {
                return Err("invalid data character".into());
            }
        }
        let data = self.take();
        if !data.is_empty() {
            tokens.push(Token::Data { base64, data });
        }
        Ok(())
    }
}

fn rfc2396_unescape(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] >= 0x80 {
            return Err("rfc2396: non-ASCII char detected".into());
        }
        if b[i] == b'%' {
            for k in 1..=2 {
                match b.get(i + k) {
                    None => return Err("rfc2396: unexpected end of unescape sequence".into()),
                    Some(h) if !h.is_ascii_hexdigit() => {
                        return Err("rfc2396: invalid char 0x25 in unescape sequence".into());
                    }
                    Some(_) => {}
                }
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// Whether Go's `strconv.Unquote` accepts `"` + s + `"` (s is ASCII here).
fn go_unquote_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' | b'\n' => return false,
            b'\\' => {
                let Some(&e) = b.get(i + 1) else { return false };
                let hex = |n: usize| {
                    b.get(i + 2..i + 2 + n)
                        .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
                };
                i += match e {
                    b'a' | b'b' | b'f' | b'n' | b'r' | b't' | b'v' | b'\\' | b'"' => 2,
                    b'x' if hex(2) => 4,
                    b'u' if hex(4) => {
                        let v = u32::from_str_radix(&s[i + 2..i + 6], 16).unwrap_or(0xd800);
                        if char::from_u32(v).is_none() {
                            return false;
                        }
                        6
                    }
                    b'U' if hex(8) => {
                        let v = u32::from_str_radix(&s[i + 2..i + 10], 16).unwrap_or(0xd800);
                        if char::from_u32(v).is_none() {
                            return false;
                        }
                        10
                    }
                    b'0'..=b'7' => {
                        let oct = b.get(i + 1..i + 4);
                        let ok = oct.is_some_and(|o| o.iter().all(|d| (b'0'..=b'7').contains(d)));
                        let value = oct
                            .map(|o| o.iter().fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0')));
                        if !ok || value.is_none_or(|v| v > 255) {
                            return false;
                        }
                        4
                    }
                    _ => return false,
                };
            }
            _ => i += 1,
        }
    }
    true
}

/// Go's `base64.StdEncoding.DecodeString` verdict (newlines and carriage returns are skipped).
fn go_base64_check(data: &str) -> Result<(), String> {
    let b = data.as_bytes();
    let corrupt = |i: usize| Err(format!("illegal base64 data at input byte {i}"));
    let mut i = 0;
    loop {
        // One quantum of four characters.
        let mut got = 0;
        while got < 4 {
            while i < b.len() && (b[i] == b'\n' || b[i] == b'\r') {
                i += 1;
            }
            if i == b.len() {
                if got == 0 {
                    return Ok(());
                }
                // A partial quantum without padding.
                return corrupt(i - got.min(i));
            }
            let c = b[i];
            if c == b'=' {
                if got < 2 {
                    return corrupt(i);
                }
                // Padding: `==` for two characters, `=` for three, then only newlines.
                i += 1;
                if got == 2 {
                    while i < b.len() && (b[i] == b'\n' || b[i] == b'\r') {
                        i += 1;
                    }
                    if i == b.len() {
                        return corrupt(b.len());
                    }
                    if b[i] != b'=' {
                        return corrupt(i - 1);
                    }
                    i += 1;
                }
                while i < b.len() && (b[i] == b'\n' || b[i] == b'\r') {
                    i += 1;
                }
                if i < b.len() {
                    return corrupt(i);
                }
                return Ok(());
            }
            if !(c.is_ascii_alphanumeric() || c == b'+' || c == b'/') {
                return corrupt(i);
            }
            got += 1;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_url_parse_verdicts() {
        for ok in [
            "rel:ative",
            "http://example.com/a?b#c",
            "HTTPS://x:80/",
            "s3://bucket/key",
            "data:,hi",
            "",
            "relative/path",
            "http://[::1]:8080/x",
            "http://u:p@host/",
            "tftp://h/%41",
        ] {
            assert!(GoUrl::parse(ok).is_some(), "{ok:?}");
        }
        for bad in [
            ":foo",
            "http://x:port/",
            "a b:c/d",
            "1rel:ative",
            "http://x/%zz",
            "http://x\u{1}/",
            "http://ho st/",
            "http://[::1/",
            "http://x/#%g",
        ] {
            assert!(GoUrl::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(
            GoUrl::parse("HTTP://x").map(|u| u.scheme),
            Some("http".into())
        );
    }

    #[test]
    fn schemes_per_version() {
        assert_eq!(
            validate_url("gs://b/o", V3_1),
            Err(msg::INVALID_SCHEME.into())
        );
        assert_eq!(validate_url("gs://b/o", V3_2), Ok(()));
        let arn = "arn:aws:s3:::bucket/key";
        assert_eq!(validate_url(arn, V3_3), Err(msg::INVALID_SCHEME.into()));
        assert_eq!(validate_url(arn, V3_4), Ok(()));
        assert_eq!(validate_url("", V3_4), Err(msg::INVALID_SCHEME.into()));
        assert_eq!(
            validate_url("ftp://x", V3_4),
            Err(msg::INVALID_SCHEME.into())
        );
    }

    #[test]
    fn s3_and_arn_rules() {
        let v = V3_5;
        assert_eq!(
            validate_url("s3://b/k?versionId=", v),
            Err(msg::INVALID_S3_OBJECT_VERSION_ID.into())
        );
        assert_eq!(validate_url("s3://b/k?versionId=x", v), Ok(()));
        for bad in [
            "arn:aws:s3:::bucket",
            "arn:aws:sqs:::bucket/key",
            "arn:aws:s3",
            "arn:aws:s3:us-east-1:123:accesspoint/ap",
        ] {
            assert_eq!(
                validate_url(bad, v),
                Err(msg::INVALID_S3_ARN.into()),
                "{bad}"
            );
        }
        assert_eq!(
            validate_url("arn:aws:s3:us-east-1:123:accesspoint/ap/object/k", v),
            Ok(())
        );
        assert_eq!(
            validate_url("arn:aws:s3:::bucket/key?versionId=", v),
            Err(msg::INVALID_S3_OBJECT_VERSION_ID.into())
        );
    }

    #[test]
    fn data_urls() {
        for ok in [
            "data:,",
            "data:,hello%20world",
            "data:text/plain;charset=utf-8,x",
            "data:;base64,aGk=",
            "data:application/octet-stream;base64,aGVsbG8=",
            "data:text/plain;a=\"q\\\"t\",x",
            "data:x-foo/bar,x",
        ] {
            assert_eq!(validate_data_url(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("data:", "missing comma before data"),
            ("data:text", "missing media type slash"),
            ("data:text,x", "invalid character for media type"),
            ("data:foo/bar,x", "invalid media type"),
            ("data:text/plain", "incomplete media type"),
            ("data:,a b", "invalid data character"),
            ("data:;base64,a", "illegal base64 data at input byte 0"),
            ("data:;base64,a===", "illegal base64 data at input byte 1"),
            ("data:;foo,x", "expected base64, got foo"),
            (
                "data:,%zz",
                "rfc2396: invalid char 0x25 in unescape sequence",
            ),
            ("data:,%2", "rfc2396: unexpected end of unescape sequence"),
        ];
        for (input, want) in cases {
            assert_eq!(validate_data_url(input), Err(want.to_owned()), "{input}");
        }
    }
}
