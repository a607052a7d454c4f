//! Every network platform through the public registry and `Host::from_env`, with the
//! test-only `KINDLING_TEST_METADATA_URL` pointing at one loopback server that answers each
//! platform's documented user-data path (and token endpoints) with a config naming that path.
//! Shows that every provider honours the override: nothing here can reach a real metadata
//! address, since an unknown path gets a 400 that fails the fetch.

use base64::Engine;
use kindling_fetch::Fetcher;
use kindling_providers::Host;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

const AZURE: &str = "/metadata/instance/compute/userData?api-version=2021-01-01&format=text";

/// (platform, path it must ask, whether the answer is base64)
const PLATFORMS: &[(&str, &str, bool)] = &[
    ("akamai", "/v1/user-data", true),
    ("aliyun", "/latest/user-data", false),
    ("aws", "/2019-10-01/user-data", false),
    ("azure", AZURE, true),
    ("brightbox", "/openstack/latest/user_data", false),
    ("cloudstack", "/latest/user-data", false),
    ("digitalocean", "/metadata/v1/user-data", false),
    ("exoscale", "/1.0/user-data", false),
    (
        "gcp",
        "/computeMetadata/v1/instance/attributes/user-data",
        false,
    ),
    ("hetzner", "/hetzner/v1/userdata", false),
    ("openstack", "/openstack/latest/user_data", false),
    ("oraclecloud", "/opc/v2/instance/metadata/user_data", true),
    ("packet", "/userdata", false),
    ("scaleway", "/user_data/cloud-init", false),
    ("upcloud", "/metadata/v1/user_data", false),
    ("vultr", "/user-data/user-data", false),
];

fn config_for(path: &str) -> String {
    format!(r#"{{"ignition":{{"version":"3.5.0"}},"path":"{path}"}}"#)
}

fn answer(method: &str, path: &str) -> (u16, Vec<u8>) {
    match (method, path) {
        ("PUT", "/latest/api/token") => (404, Vec::new()),
        ("PUT", "/v1/token") => (200, b"token".to_vec()),
        _ => match PLATFORMS.iter().find(|(_, p, _)| *p == path) {
            Some((_, p, true)) => (
                200,
                base64::engine::general_purpose::STANDARD
                    .encode(config_for(p))
                    .into_bytes(),
            ),
            Some((_, p, false)) => (200, config_for(p).into_bytes()),
            None => (400, Vec::new()),
        },
    }
}

fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let Ok(mut writer) = stream.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let mut parts = line.split_whitespace();
                let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                        break;
                    }
                }
                let (status, body) = answer(method, path);
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = writer.write_all(head.as_bytes());
                let _ = writer.write_all(&body);
            });
        }
    });
    url
}

#[test]
fn every_network_platform_honours_the_test_endpoint() {
    let url = serve();
    // The only test in this binary: no other thread reads the environment concurrently.
    unsafe { std::env::set_var("KINDLING_TEST_METADATA_URL", &url) };
    let host = Host::from_env();
    assert_eq!(host.metadata_url.as_deref(), Some(url.as_str()));
    let mut fetcher = Fetcher::new();
    fetcher.set_total_timeout(Some(Duration::from_secs(5)));
    for (id, path, _) in PLATFORMS {
        let provider = kindling_providers::get(id).unwrap_or_else(|| panic!("{id} is registered"));
        let mut fetcher = fetcher.clone();
        provider
            .init(&mut fetcher, &host)
            .unwrap_or_else(|e| panic!("{id} init: {e}"));
        let got = provider
            .fetch(&fetcher, &host)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(got, Some(config_for(path).into_bytes()), "{id}");
    }
}
