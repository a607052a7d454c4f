//! Trust anchors for https: the system bundle of the root we run in, plus every
//! `ignition.security.tls.certificateAuthorities` bundle.

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::{self, SectionKind};
use std::sync::{Arc, OnceLock};

/// Where distributions keep their PEM bundle of trusted roots; the first one present wins.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The system roots, read once per process. Unparsable entries are skipped: the system
/// bundle is not ours to reject.
pub(crate) fn system_roots() -> Arc<Vec<CertificateDer<'static>>> {
    static ROOTS: OnceLock<Arc<Vec<CertificateDer<'static>>>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let certs = SYSTEM_BUNDLES
                .iter()
                .find_map(|path| std::fs::read(path).ok())
                .map(|bytes| {
                    let mut reader = &bytes[..];
                    let mut certs = Vec::new();
                    while let Ok(Some((kind, der))) = pem::from_buf(&mut reader) {
                        if kind == SectionKind::Certificate {
                            certs.push(CertificateDer::from(der));
                        }
                    }
                    certs
                })
                .unwrap_or_default();
            log::debug!("{} system trust anchors", certs.len());
            Arc::new(certs)
        })
        .clone()
}

/// Parse a configured CA bundle strictly: every PEM block must be a certificate usable as a
/// trust anchor, and there must be at least one.
pub(crate) fn parse_bundle(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut reader = bytes;
    let mut certs = Vec::new();
    let mut scratch = RootCertStore::empty();
    loop {
        match pem::from_buf(&mut reader) {
            Ok(Some((SectionKind::Certificate, der))) => {
                let cert = CertificateDer::from(der);
                scratch.add(cert.clone()).map_err(|e| {
                    format!(
                        "certificate {} of the bundle does not parse: {e}",
                        certs.len() + 1
                    )
                })?;
                certs.push(cert);
            }
            Ok(Some((kind, _))) => {
                return Err(format!(
                    "unable to decode PEM block {}: {kind:?} is not a certificate",
                    certs.len() + 1
                ));
            }
            Ok(None) => break,
            Err(e) => return Err(format!("unable to decode PEM block: {e}")),
        }
    }
    if certs.is_empty() {
        return Err("no PEM certificate found in the bundle".to_string());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_must_hold_only_certificates() {
        assert!(parse_bundle(b"").is_err_and(|e| e.contains("no PEM")));
        let key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(parse_bundle(key).is_err_and(|e| e.contains("not a certificate")));
        let junk = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(parse_bundle(junk).is_err_and(|e| e.contains("does not parse")));
    }
}
