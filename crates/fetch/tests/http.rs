//! The fetcher against real loopback HTTP(S) servers, faults included. Every case ends with
//! the right bytes or a clear error and nothing at the destination.

mod support;

use kindling_config::model::{HttpHeader, Ignition, Resource};
use kindling_fetch::{ErrorKind, Fetcher, HttpRequest};
use std::time::Duration;
use support::*;

const CONTENT: &[u8] = b"kindling fetched this\n";

fn with_hash(source: &str, hash: String) -> Resource {
    let mut r = resource(source);
    r.verification.hash = Some(hash);
    r
}

#[test]
fn get_sends_ignition_defaults_and_returns_the_body() -> TestResult {
    let server = Server::http(|_, _| Reply::Ok(CONTENT.to_vec()));
    let got = Fetcher::new().fetch(&resource(&server.url("/config.ign")))?;
    assert_eq!(got, CONTENT);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let ua = seen[0].header("User-Agent").unwrap_or("");
    assert!(
        ua.starts_with("Ignition/") && ua.contains("Kindling/"),
        "{ua}"
    );
    assert_eq!(
        seen[0].header("Accept"),
        Some("application/vnd.coreos.ignition+json;version=3.5.0, */*;q=0.1")
    );
    assert_eq!(seen[0].header("Accept-Encoding"), Some("identity"));
    Ok(())
}

#[test]
fn custom_headers_override_defaults_and_are_dropped_on_redirect() -> TestResult {
    let server = Server::http(|req, _| match req.target.as_str() {
        "/moved" => Reply::Redirect(302, "/final".into()),
        _ => Reply::Ok(CONTENT.to_vec()),
    });
    let mut r = resource(&server.url("/moved"));
    r.http_headers = vec![
        HttpHeader {
            name: "Accept".into(),
            value: Some("text/plain".into()),
        },
        HttpHeader {
            name: "X-Token".into(),
            value: Some("secret".into()),
        },
    ];
    assert_eq!(Fetcher::new().fetch(&r)?, CONTENT);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("Accept"), Some("text/plain"));
    assert_eq!(seen[0].header("X-Token"), Some("secret"));
    assert_eq!(seen[1].target, "/final");
    assert_eq!(seen[1].header("X-Token"), None);
    assert_eq!(seen[1].header("User-Agent"), None);
    Ok(())
}

#[test]
fn header_without_value_is_refused_before_any_request() {
    let mut r = resource("http://127.0.0.1:9/x");
    r.http_headers = vec![HttpHeader {
        name: "X".into(),
        value: None,
    }];
    let err = Fetcher::new().fetch(&r).err();
    assert!(err.is_some_and(|e| e.kind == ErrorKind::InvalidResource
        && e.to_string().contains("unable to parse HTTP header")));
}

#[test]
fn not_found_is_its_own_kind_and_not_retried() {
    let server = Server::http(|_, _| Reply::Status(404, Vec::new()));
    let err = fetcher(Duration::from_secs(30))
        .fetch(&resource(&server.url("/missing")))
        .err();
    assert!(
        err.as_ref()
            .is_some_and(|e| e.kind == ErrorKind::NotFound && e.attempts == 1),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn client_errors_fail_without_retry() {
    let server = Server::http(|_, _| Reply::Status(403, Vec::new()));
    let err = Fetcher::new().fetch(&resource(&server.url("/x"))).err();
    assert!(err.as_ref().is_some_and(|e| e.kind == ErrorKind::Status(403)
        && e.to_string().contains("HTTP 403")), "{err:?}");
}

#[test]
fn server_errors_are_retried_until_success() -> TestResult {
    let server = Server::http(|_, n| match n {
        0 => Reply::Status(500, Vec::new()),
        1 => Reply::Status(503, Vec::new()),
        _ => Reply::Ok(CONTENT.to_vec()),
    });
    assert_eq!(
        fetcher(Duration::from_secs(60)).fetch(&resource(&server.url("/x")))?,
        CONTENT
    );
    assert_eq!(server.seen().len(), 3);
    Ok(())
}

#[test]
fn endless_server_errors_end_at_the_total_timeout() {
    let server = Server::http(|_, _| Reply::Status(503, Vec::new()));
    let err = fetcher(Duration::from_secs(1))
        .fetch(&resource(&server.url("/x")))
        .err();
    assert!(
        err.as_ref().is_some_and(|e| e.kind == ErrorKind::OutOfTime
            && e.attempts >= 2
            && e.to_string().contains("unable to fetch resource in time")
            && e.to_string().contains("HTTP 503")),
        "{err:?}"
    );
}

#[test]
fn connection_resets_are_retried() -> TestResult {
    let server = Server::http(|_, n| {
        if n < 2 {
            Reply::Reset
        } else {
            Reply::Ok(CONTENT.to_vec())
        }
    });
    assert_eq!(
        fetcher(Duration::from_secs(60)).fetch(&resource(&server.url("/x")))?,
        CONTENT
    );
    assert_eq!(server.seen().len(), 3);
    Ok(())
}

#[test]
fn slow_headers_time_out_per_attempt_and_are_retried() -> TestResult {
    let server = Server::http(|_, n| match n {
        0 => Reply::Slow(
            Duration::from_secs(3),
            Box::new(Reply::Ok(b"late".to_vec())),
        ),
        _ => Reply::Ok(CONTENT.to_vec()),
    });
    let mut f = fetcher(Duration::from_secs(60));
    f.set_response_headers_timeout(Some(Duration::from_millis(300)));
    assert_eq!(f.fetch(&resource(&server.url("/x")))?, CONTENT);
    assert_eq!(server.seen().len(), 2);
    Ok(())
}

#[test]
fn headers_that_never_come_end_in_a_timeout_message() {
    let server =
        Server::http(|_, _| Reply::Slow(Duration::from_secs(5), Box::new(Reply::Ok(Vec::new()))));
    let mut f = fetcher(Duration::from_secs(2));
    f.set_response_headers_timeout(Some(Duration::from_millis(200)));
    let err = f.fetch(&resource(&server.url("/x"))).err();
    eprintln!(
        "{}",
        err.as_ref().map(|e| e.to_string()).unwrap_or_default()
    );
    assert!(
        err.as_ref().is_some_and(|e| e.kind == ErrorKind::OutOfTime
            && e.attempts >= 2
            && e.to_string().contains("timed out")),
        "{err:?}"
    );
}

#[test]
fn truncated_bodies_are_refetched_into_a_clean_file() -> TestResult {
    let server = Server::http(|_, n| match n {
        0 => Reply::Truncated {
            declared: CONTENT.len() * 2,
            body: CONTENT.to_vec(),
        },
        _ => Reply::Ok(CONTENT.to_vec()),
    });
    let dir = TempDir::new("fetch-test");
    let dest = dir.join("file");
    let n = fetcher(Duration::from_secs(60)).fetch_to_path(&resource(&server.url("/x")), &dest)?;
    assert_eq!(n, CONTENT.len() as u64);
    assert_eq!(std::fs::read(&dest)?, CONTENT);
    assert_eq!(
        std::fs::read_dir(&dir)?.count(),
        1,
        "no temporary file left"
    );
    Ok(())
}

#[test]
fn always_truncated_ends_in_an_error_and_nothing_written() -> TestResult {
    let server = Server::http(|_, _| Reply::Truncated {
        declared: 1000,
        body: CONTENT.to_vec(),
    });
    let dir = TempDir::new("fetch-test");
    let dest = dir.join("file");
    let err = fetcher(Duration::from_secs(1))
        .fetch_to_path(&resource(&server.url("/x")), &dest)
        .err();
    assert!(
        err.as_ref().is_some_and(
            |e| e.kind == ErrorKind::OutOfTime && e.to_string().contains("reading the body")
        ),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read_dir(&dir)?.count(),
        0,
        "nothing at the destination"
    );
    Ok(())
}

#[test]
fn content_length_shorter_than_the_body_is_caught_by_the_hash() -> TestResult {
    // The server declares fewer bytes than the content has: the client stops early, and the
    // hash of the full content must then fail.
    let server = Server::http(|_, _| Reply::Truncated {
        declared: CONTENT.len() - 5,
        body: CONTENT.to_vec(),
    });
    let dir = TempDir::new("fetch-test");
    let dest = dir.join("file");
    let r = with_hash(&server.url("/x"), format!("sha512-{}", sha512_hex(CONTENT)));
    let err = Fetcher::new().fetch_to_path(&r, &dest).err();
    let short = sha512_hex(&CONTENT[..CONTENT.len() - 5]);
    assert!(
        err.as_ref()
            .is_some_and(|e| e.kind == ErrorKind::HashMismatch
                && e.to_string().contains(&format!(
                    "calculated {short} but expected {}",
                    sha512_hex(CONTENT)
                ))),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read_dir(&dir)?.count(),
        0,
        "nothing at the destination"
    );
    Ok(())
}

#[test]
fn gzip_content_is_verified_after_decompression() -> TestResult {
    let packed = gzip(CONTENT);
    let server = Server::http(move |_, _| Reply::Ok(packed.clone()));
    let mut r = with_hash(
        &server.url("/x.gz"),
        format!("sha256-{}", sha256_hex(CONTENT)),
    );
    r.compression = Some("gzip".into());
    assert_eq!(Fetcher::new().fetch(&r)?, CONTENT);
    Ok(())
}

#[test]
fn corrupt_gzip_is_a_decompression_error() -> TestResult {
    let mut packed = gzip(&CONTENT.repeat(100));
    let middle = packed.len() / 2;
    packed[middle] ^= 0xff;
    packed.truncate(packed.len() - 4);
    let server = Server::http(move |_, _| Reply::Ok(packed.clone()));
    let mut r = resource(&server.url("/x.gz"));
    r.compression = Some("gzip".into());
    let dir = TempDir::new("fetch-test");
    let err = Fetcher::new().fetch_to_path(&r, &dir.join("f")).err();
    assert!(
        err.as_ref()
            .is_some_and(|e| e.kind == ErrorKind::Decompress),
        "{err:?}"
    );
    assert_eq!(std::fs::read_dir(&dir)?.count(), 0);
    Ok(())
}

#[test]
fn no_content_is_empty() -> TestResult {
    let server = Server::http(|_, _| Reply::Status(204, Vec::new()));
    assert_eq!(Fetcher::new().fetch(&resource(&server.url("/x")))?, b"");
    Ok(())
}

#[test]
fn fetch_into_replaces_what_the_file_held() -> TestResult {
    use std::io::{Read, Seek, Write};
    let server = Server::http(|_, n| match n {
        0 => Reply::Truncated {
            declared: 10_000,
            body: vec![b'x'; 5_000],
        },
        _ => Reply::Ok(CONTENT.to_vec()),
    });
    let dir = TempDir::new("fetch-test");
    let path = dir.join("temp");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    file.write_all(&[b'?'; 20_000])?;
    let n = fetcher(Duration::from_secs(60)).fetch_into(&resource(&server.url("/x")), &mut file)?;
    assert_eq!(n, CONTENT.len() as u64);
    let mut got = Vec::new();
    file.rewind()?;
    file.read_to_end(&mut got)?;
    assert_eq!(got, CONTENT);
    Ok(())
}

#[test]
fn redirects_keep_or_drop_the_method_like_go() -> TestResult {
    let server = Server::http(|req, _| match req.target.as_str() {
        "/see-other" => Reply::Redirect(303, "/landing".into()),
        "/temporary" => Reply::Redirect(307, "/landing".into()),
        _ => Reply::Ok(req.method.clone().into_bytes()),
    });
    let put = |path: &str| HttpRequest {
        method: "PUT".into(),
        url: server.url(path),
        body: Some(b"payload".to_vec()),
        ..Default::default()
    };
    let f = Fetcher::new();
    assert_eq!(f.http(&put("/see-other"))?.body, b"GET");
    assert_eq!(f.http(&put("/temporary"))?.body, b"PUT");
    let seen = server.seen();
    assert_eq!(seen[3].body, b"payload", "307 resends the body");
    Ok(())
}

#[test]
fn redirect_loops_stop() {
    let server = Server::http(|_, _| Reply::Redirect(301, "/again".into()));
    let err = Fetcher::new().fetch(&resource(&server.url("/x"))).err();
    assert!(
        err.as_ref()
            .is_some_and(|e| e.kind == ErrorKind::Protocol && e.to_string().contains("redirects")),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 11);
}

#[test]
fn https_needs_the_configured_authority() -> TestResult {
    let identity = Identity::generate()?;
    let server = Server::https(&identity, |_, _| Reply::Ok(CONTENT.to_vec()));
    let url = server.url("/secure");

    let err = fetcher(Duration::from_secs(1)).fetch(&resource(&url)).err();
    assert_tls_message(
        err,
        &[
            "(subject CN=Kindling test server, issued by CN=Kindling test CA)",
            "is not trusted: unknown issuer",
        ],
    );

    // The CA comes in as a config does: a data URL under certificateAuthorities.
    let mut ignition = Ignition::default();
    let ca_url = format!("data:,{}", percent(&identity.ca_pem));
    ignition.security.tls.certificate_authorities = vec![resource(&ca_url)];
    let mut f = Fetcher::new();
    f.adopt(&ignition)?;
    assert_eq!(f.fetch(&resource(&url))?, CONTENT);
    Ok(())
}

/// The fetch failed on TLS (retried until the total timeout, so `OutOfTime` with the TLS
/// error as the last one) with a message holding every piece of `expected`.
fn assert_tls_message(err: Option<kindling_fetch::FetchError>, expected: &[&str]) {
    let message = err.as_ref().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        err.as_ref().is_some_and(|e| e.kind == ErrorKind::OutOfTime),
        "{err:?}"
    );
    assert!(
        message.contains("(last error: TLS: certificate for "),
        "{message}"
    );
    for piece in expected {
        assert!(
            message.contains(piece),
            "{piece:?} missing from {message:?}"
        );
    }
}

#[test]
fn expired_certificates_are_named_with_their_dates() -> TestResult {
    let identity = Identity::generate_for(&["127.0.0.1"], true)?;
    let server = Server::https(&identity, |_, _| Reply::Ok(CONTENT.to_vec()));
    let mut f = fetcher(Duration::from_secs(1));
    f.add_certificate_authorities(identity.ca_pem.as_bytes())?;
    let err = f.fetch(&resource(&server.url("/secure"))).err();
    assert_tls_message(
        err,
        &[
            &format!("certificate for \"127.0.0.1:{}\"", server.addr.port()),
            "(subject CN=Kindling test server, issued by CN=Kindling test CA) has expired: \
             valid from 2001-02-03 00:00:00 UTC until 2002-03-04 00:00:00 UTC",
        ],
    );
    Ok(())
}

#[test]
fn certificates_for_other_names_say_which_names() -> TestResult {
    let identity = Identity::generate_for(&["config.example", "192.0.2.9"], false)?;
    let server = Server::https(&identity, |_, _| Reply::Ok(CONTENT.to_vec()));
    let mut f = fetcher(Duration::from_secs(1));
    f.add_certificate_authorities(identity.ca_pem.as_bytes())?;
    let err = f.fetch(&resource(&server.url("/secure"))).err();
    assert_tls_message(
        err,
        &[
            "(subject CN=Kindling test server, issued by CN=Kindling test CA)",
            "is not valid for that name: it is valid for config.example, 192.0.2.9",
        ],
    );
    Ok(())
}

#[test]
fn authorities_are_fetched_verified_and_inlined() -> TestResult {
    let identity = Identity::generate()?;
    let pem = identity.ca_pem.clone().into_bytes();
    let ca_server = Server::http(move |_, _| Reply::Ok(pem.clone()));
    let mut ignition = Ignition::default();
    let ca = with_hash(
        &ca_server.url("/ca.pem"),
        format!("sha512-{}", sha512_hex(identity.ca_pem.as_bytes())),
    );
    ignition.security.tls.certificate_authorities = vec![ca];
    let mut f = Fetcher::new();
    f.adopt(&ignition)?;
    f.inline_certificate_authorities(&mut ignition);
    let inlined = ignition.security.tls.certificate_authorities[0]
        .source
        .clone()
        .unwrap_or_default();
    assert!(inlined.starts_with("data:;base64,"), "{inlined}");
    let offline = {
        let mut f = Fetcher::new();
        f.set_offline(true);
        f
    };
    assert_eq!(
        offline.fetch(&ignition.security.tls.certificate_authorities[0])?,
        identity.ca_pem.as_bytes()
    );

    let mut wrong = Ignition::default();
    wrong.security.tls.certificate_authorities = vec![with_hash(
        &ca_server.url("/ca.pem"),
        format!("sha512-{}", "0".repeat(128)),
    )];
    let err = Fetcher::new().adopt(&wrong).err();
    assert!(err.is_some_and(|e| e.kind == ErrorKind::HashMismatch));
    Ok(())
}

#[test]
fn offline_mode_allows_only_data() -> TestResult {
    let mut f = Fetcher::new();
    f.set_offline(true);
    for url in [
        "http://127.0.0.1:9/x",
        "https://h/x",
        "tftp://127.0.0.1/x",
        "s3://b/k",
    ] {
        let err = f.fetch(&resource(url)).err();
        assert!(
            err.as_ref().is_some_and(|e| e.kind == ErrorKind::NeedNet
                && e.to_string().contains("resource requires networking")),
            "{url}: {err:?}"
        );
    }
    assert_eq!(f.fetch(&resource("data:,hi"))?, b"hi");
    assert_eq!(f.fetch(&resource(""))?, b"");
    let err = f
        .http(&HttpRequest {
            url: "http://127.0.0.1:9/".into(),
            ..Default::default()
        })
        .err();
    assert!(err.is_some_and(|e| e.kind == ErrorKind::NeedNet));
    Ok(())
}

#[test]
fn raw_http_supports_metadata_services() -> TestResult {
    let server = Server::http(
        |req, n| match (req.method.as_str(), req.target.as_str(), n) {
            ("PUT", "/latest/api/token", _) => Reply::Ok(b"token-123".to_vec()),
            (_, "/azure", 1) => Reply::Status(429, Vec::new()),
            (_, "/azure", _) => Reply::Ok(b"azure".to_vec()),
            _ => Reply::Status(404, Vec::new()),
        },
    );
    let f = fetcher(Duration::from_secs(30));
    let token = f.http(&HttpRequest {
        method: "PUT".into(),
        url: server.url("/latest/api/token"),
        headers: vec![(
            "X-aws-ec2-metadata-token-ttl-seconds".into(),
            "21600".into(),
        )],
        ..Default::default()
    })?;
    assert_eq!(
        (token.status, token.body.as_slice()),
        (200, &b"token-123"[..])
    );
    let seen = server.seen();
    assert_eq!(
        seen[0].header("X-aws-ec2-metadata-token-ttl-seconds"),
        Some("21600")
    );
    assert_eq!(seen[0].header("Content-Length"), None);

    let azure = f.http(&HttpRequest {
        method: "GET".into(),
        url: server.url("/azure"),
        retry_statuses: vec![404, 410, 429],
        ..Default::default()
    })?;
    assert_eq!((azure.status, azure.body.as_slice()), (200, &b"azure"[..]));

    let missing = f.http(&HttpRequest {
        url: server.url("/user-data"),
        ..Default::default()
    })?;
    assert_eq!(missing.status, 404);
    Ok(())
}

#[test]
fn ipv6_loopback_works() -> TestResult {
    let server = Server::http6(|_, _| Reply::Ok(CONTENT.to_vec()));
    assert_eq!(Fetcher::new().fetch(&resource(&server.url("/x")))?, CONTENT);
    Ok(())
}

#[test]
fn errors_redact_credentials_and_secrets() {
    let server = Server::http(|_, _| Reply::Status(401, Vec::new()));
    let url = format!(
        "http://user:hunter2@{}/x?X-Amz-Signature=topsecret",
        server.addr
    );
    let err = Fetcher::new()
        .fetch(&resource(&url))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("HTTP 401") && !err.contains("hunter2") && !err.contains("topsecret"),
        "{err}"
    );
}

#[test]
fn url_credentials_become_basic_auth() -> TestResult {
    let server = Server::http(|req, _| match req.header("Authorization") {
        Some("Basic dXNlcjpwQHNz") => Reply::Ok(CONTENT.to_vec()),
        _ => Reply::Status(401, Vec::new()),
    });
    let url = format!("http://user:p%40ss@{}/x", server.addr);
    assert_eq!(Fetcher::new().fetch(&resource(&url))?, CONTENT);
    Ok(())
}

#[test]
fn connection_refused_names_the_cause() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0");
        l.and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(9)
    };
    let err = fetcher(Duration::from_millis(500))
        .fetch(&resource(&format!("http://127.0.0.1:{port}/x")))
        .err();
    assert!(
        err.as_ref()
            .is_some_and(|e| e.kind == ErrorKind::OutOfTime && e.to_string().contains("refused")),
        "{err:?}"
    );
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
