//! Certificate errors that say which certificate failed and why.
//!
//! rustls reports only the reason, and ureq builds its own rustls config, so when a
//! certificate is rejected the fetcher opens one more connection to the same server, lets the
//! handshake run until the server presents its chain, records the end-entity certificate and
//! aborts (nothing is ever accepted or sent on that connection). The certificate is then
//! described with `cert_summary`.

use crate::cert_summary::{CertSummary, summarize};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The message for a rejected certificate of `host:port`. `fetch_again` bounds the wait for
/// the server to present its certificate again; `None` (a server reached through a proxy)
/// names the reason only.
pub(crate) fn certificate_message(
    authority: &str,
    host: &str,
    port: u16,
    why: &CertificateError,
    fetch_again: Option<Duration>,
) -> String {
    let summary = fetch_again
        .and_then(|timeout| peer_certificate(host, port, timeout))
        .and_then(|der| summarize(&der));
    describe(authority, why, summary.as_ref())
}

fn describe(authority: &str, why: &CertificateError, cert: Option<&CertSummary>) -> String {
    let which = match cert {
        Some(c) => format!(
            "certificate for {authority:?} (subject {}, issued by {})",
            c.subject, c.issuer
        ),
        None => format!("certificate for {authority:?}"),
    };
    let validity = |cert: Option<&CertSummary>| match cert {
        Some(c) => format!(": valid from {} until {}", c.not_before, c.not_after),
        None => String::new(),
    };
    let verdict = match why {
        CertificateError::UnknownIssuer => "is not trusted: unknown issuer \
             (is its CA in ignition.security.tls.certificateAuthorities?)"
            .to_string(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("has expired{}", validity(cert))
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            format!("is not valid yet{}", validity(cert))
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            match cert {
                Some(c) if c.names.is_empty() => {
                    "is not valid for that name: it has no subjectAltName".to_string()
                }
                Some(c) => format!(
                    "is not valid for that name: it is valid for {}",
                    c.names.join(", ")
                ),
                None => format!("is not valid for that name: {why}"),
            }
        }
        other => format!("was rejected: {other}"),
    };
    format!("TLS: {which} {verdict}")
}

/// The end-entity certificate `host:port` presents, or `None` if it cannot be had in time.
fn peer_certificate(host: &str, port: u16, timeout: Duration) -> Option<CertificateDer<'static>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(bare.to_string()).ok()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder = Arc::new(Recorder {
        seen: Mutex::new(None),
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let mut connection = rustls::ClientConnection::new(Arc::new(config), name).ok()?;
    let addr = (bare, port).to_socket_addrs().ok()?.next()?;
    let mut socket = TcpStream::connect_timeout(&addr, timeout).ok()?;
    socket.set_read_timeout(Some(timeout)).ok()?;
    socket.set_write_timeout(Some(timeout)).ok()?;
    // Ends with the recorder's refusal.
    let _ = connection.complete_io(&mut Socket(&mut socket));
    recorder
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
}

/// `complete_io` wants `Read + Write`; a plain TcpStream reference is both.
struct Socket<'a>(&'a mut TcpStream);

impl Read for Socket<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Socket<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A verifier that records the end-entity certificate and refuses every server.
#[derive(Debug)]
struct Recorder {
    seen: Mutex<Option<CertificateDer<'static>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(end_entity.clone().into_owned());
        Err(rustls::Error::General(
            "certificate recorded for the error message".into(),
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> CertSummary {
        CertSummary {
            subject: "CN=server".into(),
            issuer: "CN=ca".into(),
            not_before: "2000-01-01 00:00:00 UTC".into(),
            not_after: "2001-01-01 00:00:00 UTC".into(),
            names: vec!["a.example".into(), "192.0.2.1".into()],
        }
    }

    #[test]
    fn messages_name_the_certificate_and_the_reason() {
        let s = summary();
        assert_eq!(
            describe("h:1", &CertificateError::Expired, Some(&s)),
            "TLS: certificate for \"h:1\" (subject CN=server, issued by CN=ca) has expired: \
             valid from 2000-01-01 00:00:00 UTC until 2001-01-01 00:00:00 UTC"
        );
        assert!(
            describe("h:1", &CertificateError::NotValidForName, Some(&s))
                .ends_with("is not valid for that name: it is valid for a.example, 192.0.2.1")
        );
        assert_eq!(
            describe("h:1", &CertificateError::UnknownIssuer, None),
            "TLS: certificate for \"h:1\" is not trusted: unknown issuer \
             (is its CA in ignition.security.tls.certificateAuthorities?)"
        );
        assert!(describe("h:1", &CertificateError::BadSignature, None).contains("was rejected: "));
    }
}
