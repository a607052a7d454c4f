//! `ignition.proxy` against a real forward proxy (tinyproxy from Debian) on loopback.
//!
//! Loopback targets are never proxied (as upstream), so proxied requests name the server as
//! `127.1`: not an IP literal to the fetcher, but resolved to 127.0.0.1 by the proxy.

mod support;

use kindling_config::model::Ignition;
use kindling_fetch::{ErrorKind, Fetcher};
use std::time::Duration;
use support::*;

const CONTENT: &[u8] = b"through the proxy\n";

const TINYPROXY_CONF: &str = "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 20\n\
    Allow 127.0.0.1\nLogLevel Connect\nUser nobody\nGroup nogroup\n";

fn tinyproxy() -> Daemon {
    tinyproxy_with("")
}

/// tinyproxy with `extra` configuration lines.
fn tinyproxy_with(extra: &str) -> Daemon {
    let conf = format!("{TINYPROXY_CONF}{extra}");
    let daemon = Daemon::start(
        "tinyproxy",
        "tinyproxy",
        &["-d", "-c", "{dir}/tinyproxy.conf"],
        &[("tinyproxy.conf", &conf)],
        false,
    );
    wait_for_tcp(daemon.port);
    daemon
}

fn proxied(
    http: Option<String>,
    https: Option<String>,
    no_proxy: &[&str],
) -> Result<Fetcher, kindling_fetch::FetchError> {
    let mut ignition = Ignition::default();
    ignition.proxy.http_proxy = http;
    ignition.proxy.https_proxy = https;
    ignition.proxy.no_proxy = no_proxy.iter().map(|s| s.to_string()).collect();
    ignition.timeouts.http_total = Some(20);
    let mut f = Fetcher::new();
    f.adopt(&ignition)?;
    Ok(f)
}

/// A port where nothing listens: a proxy there fails every request sent through it.
fn dead_proxy() -> String {
    format!("http://127.0.0.1:{}", free_port(false))
}

#[test]
fn http_goes_through_the_http_proxy() -> TestResult {
    let proxy = tinyproxy();
    let server = Server::http(|_, _| Reply::Ok(CONTENT.to_vec()));
    let url = format!("http://127.1:{}/cfg", server.addr.port());
    let f = proxied(Some(format!("http://127.0.0.1:{}", proxy.port)), None, &[])?;
    assert_eq!(f.fetch(&resource(&url))?, CONTENT);
    let log = proxy.log();
    assert!(
        log.contains(&format!("127.1:{}", server.addr.port())),
        "tinyproxy log:\n{log}"
    );
    Ok(())
}

#[test]
fn http_is_forwarded_in_absolute_form_with_proxy_credentials() -> TestResult {
    // CONNECT only to 443 (squid's default too) and credentials required, so only a plain
    // forwarded request with Proxy-Authorization gets through.
    let proxy = tinyproxy_with("ConnectPort 443\nBasicAuth kindling s3cret\n");
    let server = Server::http(|_, _| Reply::Ok(CONTENT.to_vec()));
    let url = format!("http://127.1:{}/cfg?x=1", server.addr.port());
    let with_credentials = format!("http://kindling:s3cret@127.0.0.1:{}", proxy.port);
    let f = proxied(Some(with_credentials), None, &[])?;
    assert_eq!(f.fetch(&resource(&url))?, CONTENT);
    assert_eq!(
        f.fetch(&resource(&url))?,
        CONTENT,
        "a second request, new connection"
    );
    let log = proxy.log();
    assert!(
        log.contains(&format!("GET {url} HTTP/1.1")),
        "tinyproxy log:\n{log}"
    );
    assert!(!log.contains("): CONNECT "), "tinyproxy log:\n{log}");

    let without = proxied(Some(format!("http://127.0.0.1:{}", proxy.port)), None, &[])?;
    let err = without.fetch(&resource(&url)).err();
    assert!(
        err.as_ref()
            .is_some_and(|e| e.kind == ErrorKind::Status(407)),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn https_goes_through_the_https_proxy_only() -> TestResult {
    let proxy = tinyproxy();
    let identity = Identity::generate()?;
    let server = Server::https(&identity, |_, _| Reply::Ok(CONTENT.to_vec()));
    let mut ignition = Ignition::default();
    ignition.proxy.https_proxy = Some(format!("http://127.0.0.1:{}", proxy.port));
    ignition.proxy.http_proxy = Some(dead_proxy());
    let mut f = Fetcher::new();
    f.set_total_timeout(Some(Duration::from_secs(20)));
    f.add_certificate_authorities(identity.ca_pem.as_bytes())?;
    f.adopt(&ignition)?;
    // No name is both accepted by TLS and resolved to loopback by the proxy without being
    // loopback to the fetcher (which then goes direct), so this shows the routing: the
    // request goes to the https proxy (the http one is dead), which opens the tunnel; TLS
    // inside it then rejects the numeric name `127.1`, a failure that is not retried.
    let url = format!("https://127.1:{}/secure", server.addr.port());
    let err = f.fetch(&resource(&url)).err();
    assert!(
        err.as_ref()
            .is_some_and(|e| e.kind == ErrorKind::Tls && e.attempts == 1),
        "{err:?}"
    );
    let log = proxy.log();
    assert!(
        log.contains(&format!("CONNECT 127.1:{}", server.addr.port())),
        "tinyproxy log:\n{log}"
    );
    Ok(())
}

#[test]
fn no_proxy_entries_go_direct() -> TestResult {
    let server = Server::http(|_, _| Reply::Ok(CONTENT.to_vec()));
    let url = format!("http://127.1:{}/cfg", server.addr.port());
    for no_proxy in [
        &["127.1"][..],
        &["*"],
        &[".example.org", "127.1:80", "127.1"],
    ] {
        let f = proxied(Some(dead_proxy()), None, no_proxy)?;
        assert_eq!(f.fetch(&resource(&url))?, CONTENT, "noProxy {no_proxy:?}");
    }
    let mut f = proxied(Some(dead_proxy()), None, &["127.1:80"])?;
    f.set_total_timeout(Some(Duration::from_millis(500)));
    let err = f.fetch(&resource(&url)).err();
    assert!(
        err.as_ref().is_some_and(|e| e.kind == ErrorKind::OutOfTime),
        "port mismatch must use the proxy: {err:?}"
    );
    Ok(())
}

#[test]
fn loopback_is_never_proxied() -> TestResult {
    let server = Server::http(|_, _| Reply::Ok(CONTENT.to_vec()));
    let f = proxied(Some(dead_proxy()), Some(dead_proxy()), &[])?;
    assert_eq!(f.fetch(&resource(&server.url("/cfg")))?, CONTENT);
    let localhost = format!("http://localhost:{}/cfg", server.addr.port());
    assert_eq!(f.fetch(&resource(&localhost))?, CONTENT);
    Ok(())
}
