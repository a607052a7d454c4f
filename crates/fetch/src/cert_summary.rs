//! Just enough of an X.509 certificate to say which one a TLS error is about: subject and
//! issuer names, validity dates and the subjectAltName host names. A minimal DER walk, so
//! no certificate-parsing crate is pulled into the binary; anything unexpected gives `None`.

/// What a certificate says about itself, as text for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertSummary {
    /// `CN=…, O=…` (the attributes people recognise), or `(empty)`.
    pub subject: String,
    pub issuer: String,
    /// `2026-01-31 12:00:00 UTC`.
    pub not_before: String,
    pub not_after: String,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub names: Vec<String>,
}

const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_OID: u8 = 0x06;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
/// `[0]` version and `[3]` extensions of the TBSCertificate.
const TAG_VERSION: u8 = 0xa0;
const TAG_EXTENSIONS: u8 = 0xa3;
/// GeneralName choices `[2] dNSName` and `[7] iPAddress`.
const TAG_DNS_NAME: u8 = 0x82;
const TAG_IP_ADDRESS: u8 = 0x87;
/// 2.5.29.17
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
/// 2.5.4.x attribute types shown in names, in the order printed.
const NAME_ATTRIBUTES: &[(&[u8], &str)] = &[
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x0b], "OU"),
    (&[0x55, 0x04, 0x0a], "O"),
    (&[0x55, 0x04, 0x06], "C"),
];

/// Summarise a DER certificate; `None` if it does not have the expected shape.
pub(crate) fn summarize(der: &[u8]) -> Option<CertSummary> {
    let certificate = Reader(der).expect(TAG_SEQUENCE)?;
    let mut tbs = Reader(Reader(certificate).expect(TAG_SEQUENCE)?);
    // The optional version, then the serial number.
    if tbs.next()?.0 == TAG_VERSION {
        tbs.next()?;
    }
    tbs.expect(TAG_SEQUENCE)?; // signature algorithm
    let issuer = name(tbs.expect(TAG_SEQUENCE)?)?;
    let mut validity = Reader(tbs.expect(TAG_SEQUENCE)?);
    let not_before = time(validity.next()?)?;
    let not_after = time(validity.next()?)?;
    let subject = name(tbs.expect(TAG_SEQUENCE)?)?;
    tbs.expect(TAG_SEQUENCE)?; // subject public key info
    let mut names = Vec::new();
    while let Some((tag, content)) = tbs.next() {
        if tag == TAG_EXTENSIONS {
            names = alt_names(Reader(content).expect(TAG_SEQUENCE)?)?;
        }
    }
    Some(CertSummary {
        subject,
        issuer,
        not_before,
        not_after,
        names,
    })
}

/// A cursor over consecutive DER elements.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The next element's tag and content.
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let len = rest[..count]
                .iter()
                .fold(0usize, |len, &b| (len << 8) | usize::from(b));
            (len, &rest[count..])
        };
        if rest.len() < len {
            return None;
        }
        let (content, rest) = rest.split_at(len);
        self.0 = rest;
        Some((tag, content))
    }

    /// The next element's content if it has `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        self.next().filter(|(t, _)| *t == tag).map(|(_, c)| c)
    }
}

/// A Name (RDNSequence) as `CN=…, OU=…, O=…, C=…`, attributes people recognise only.
fn name(der: &[u8]) -> Option<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    let mut rdns = Reader(der);
    while let Some(set) = rdns.expect(TAG_SET) {
        let mut attributes = Reader(set);
        while let Some(attribute) = attributes.expect(TAG_SEQUENCE) {
            let mut attribute = Reader(attribute);
            let oid = attribute.expect(TAG_OID)?;
            let (_, value) = attribute.next()?;
            if let Some(rank) = NAME_ATTRIBUTES.iter().position(|(o, _)| *o == oid) {
                found.push((rank, String::from_utf8_lossy(value).into_owned()));
            }
        }
    }
    if !rdns.0.is_empty() {
        return None;
    }
    found.sort_by_key(|(rank, _)| *rank);
    let parts: Vec<String> = found
        .into_iter()
        .map(|(rank, value)| format!("{}={value}", NAME_ATTRIBUTES[rank].1))
        .collect();
    Some(if parts.is_empty() {
        "(empty)".to_string()
    } else {
        parts.join(", ")
    })
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 1950-2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn time((tag, content): (u8, &[u8])) -> Option<String> {
    let text = std::str::from_utf8(content).ok()?;
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match (tag, digits.len()) {
        (TAG_UTC_TIME, 12) => {
            let yy: u32 = digits[..2].parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &digits[2..])
        }
        (TAG_GENERALIZED_TIME, 14) => (digits[..4].parse().ok()?, &digits[4..]),
        _ => return None,
    };
    Some(format!(
        "{year:04}-{}-{} {}:{}:{} UTC",
        &rest[0..2],
        &rest[2..4],
        &rest[4..6],
        &rest[6..8],
        &rest[8..10]
    ))
}

/// DNS names and IP addresses of the subjectAltName extension, if present.
fn alt_names(extensions: &[u8]) -> Option<Vec<String>> {
    let mut extensions = Reader(extensions);
    while let Some(extension) = extensions.expect(TAG_SEQUENCE) {
        let mut extension = Reader(extension);
        if extension.expect(TAG_OID)? != OID_SUBJECT_ALT_NAME {
            continue;
        }
        // An optional `critical` BOOLEAN comes before the value.
        let value = loop {
            let (tag, content) = extension.next()?;
            if tag == TAG_OCTET_STRING {
                break content;
            }
        };
        let mut general_names = Reader(Reader(value).expect(TAG_SEQUENCE)?);
        let mut names = Vec::new();
        while let Some((tag, content)) = general_names.next() {
            match tag {
                TAG_DNS_NAME => names.push(String::from_utf8_lossy(content).into_owned()),
                TAG_IP_ADDRESS => names.extend(ip(content)),
                _ => {}
            }
        }
        return Some(names);
    }
    Some(Vec::new())
}

fn ip(bytes: &[u8]) -> Option<String> {
    let ip: std::net::IpAddr = match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok()?.into(),
        16 => <[u8; 16]>::try_from(bytes).ok()?.into(),
        _ => return None,
    };
    Some(ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der_element(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 0x80 {
            out.push(content.len() as u8);
        } else {
            out.push(0x82);
            out.extend((content.len() as u16).to_be_bytes());
        }
        out.extend(content);
        out
    }

    #[test]
    fn lengths_in_long_form_and_truncation() {
        let long = der_element(TAG_OCTET_STRING, &[7; 300]);
        assert_eq!(
            Reader(&long).expect(TAG_OCTET_STRING),
            Some(&[7u8; 300][..])
        );
        assert_eq!(Reader(&long[..long.len() - 1]).next(), None);
        assert_eq!(Reader(&[0x30, 0x85, 1, 1, 1, 1, 1]).next(), None);
    }

    #[test]
    fn names_keep_known_attributes_in_order() {
        let attribute = |oid: &[u8], value: &str| {
            let mut inner = der_element(TAG_OID, oid);
            inner.extend(der_element(0x0c, value.as_bytes()));
            der_element(TAG_SET, &der_element(TAG_SEQUENCE, &inner))
        };
        let mut rdns = attribute(&[0x55, 0x04, 0x0a], "Acme");
        rdns.extend(attribute(&[0x55, 0x04, 0x07], "Nowhere"));
        rdns.extend(attribute(&[0x55, 0x04, 0x03], "ca.acme"));
        assert_eq!(name(&rdns).as_deref(), Some("CN=ca.acme, O=Acme"));
        assert_eq!(name(&[]).as_deref(), Some("(empty)"));
    }

    #[test]
    fn times_in_both_encodings() {
        assert_eq!(
            time((TAG_UTC_TIME, b"491231235959Z")).as_deref(),
            Some("2049-12-31 23:59:59 UTC")
        );
        assert_eq!(
            time((TAG_UTC_TIME, b"500101000000Z")).as_deref(),
            Some("1950-01-01 00:00:00 UTC")
        );
        assert_eq!(
            time((TAG_GENERALIZED_TIME, b"20510101000000Z")).as_deref(),
            Some("2051-01-01 00:00:00 UTC")
        );
        assert_eq!(time((TAG_UTC_TIME, b"5001010000Z")), None);
        assert_eq!(time((TAG_UTC_TIME, b"50010100000xZ")), None);
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(summarize(b""), None);
        assert_eq!(summarize(&der_element(TAG_SEQUENCE, b"\x30\x00")), None);
    }
}
