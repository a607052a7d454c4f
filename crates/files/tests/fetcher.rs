//! The stage with the real fetcher: the reference's data-URL, compression, hash and HTTP cases
//! (§7.2, §7.3) through `kindling_files::run`. HTTP is served on 127.0.0.1 only.

use kindling_config::Config;
use kindling_fetch::Fetcher;
use kindling_files::{Options, run};
use kindling_report::Recorder;
use std::io::{Read, Write};
use std::net::TcpListener;

const SHA512: &str = "807e8ff949e61d23f5ee42a629ec96e9fc526b62f030cd70ba2cd5b9d97935461eacc29bf58bcd0426e9e1fdb0eda939603ed52c9c06d0712208a15cd582c60e";
const SHA256: &str = "352cb4e231c03f9941d54aeee7da755504a7f2096338c609ba5d1b82143419c6";
/// sha256 of `asdf\nfdsa` (what the loopback server's `/contents` serves).
const ASDF_SHA256: &str = "e57cc41647638ccb9fb6844f2810807bcaa2aa800438cfb065f17adf6afb48d0";
/// gzip of `example file\n`.
const GZIP_B64: &str = "H4sIAAAAAAACA0utSMwtyElVSMvMSeUCAHRwpssNAAAA";

fn apply(root: &std::path::Path, json: &str) -> Result<(), String> {
    let config: Config = serde_json::from_str(json).unwrap();
    let options = Options {
        root: root.to_path_buf(),
        ..Default::default()
    };
    let mut fetcher = Fetcher::new();
    fetcher.set_retry_jitter(false);
    let mut rec = Recorder::new("files");
    run(&config, &fetcher, &options, &mut rec).map_err(|e| e.message)
}

fn file(source: &str, extra: &str) -> String {
    format!(
        r#"{{"storage":{{"files":[{{"path":"/foo/bar","contents":{{"source":"{source}"{extra}}}}}]}}}}"#
    )
}

#[test]
fn data_urls_compression_and_hashes() {
    let cases = [
        file("data:,example%20file%0A", ""),
        file("data:;base64,ZXhhbXBsZSBmaWxlCg==", ""),
        file(
            &format!("data:;base64,{GZIP_B64}"),
            r#","compression":"gzip""#,
        ),
        file(
            "data:,example%20file%0A",
            &format!(r#","verification":{{"hash":"sha512-{SHA512}"}}"#),
        ),
        file(
            "data:,example%20file%0A",
            &format!(r#","verification":{{"hash":"sha256-{SHA256}"}}"#),
        ),
    ];
    for config in cases {
        let root = tempfile::tempdir().unwrap();
        apply(root.path(), &config).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.path().join("foo/bar")).unwrap(),
            "example file\n",
            "{config}"
        );
    }
}

#[test]
fn bad_hash_fails_and_leaves_nothing() {
    let bad = SHA256.replace('3', "4");
    for hash in [
        format!("sha256-{bad}"),
        format!("sha512-{}", SHA512.replace('8', "9")),
    ] {
        let root = tempfile::tempdir().unwrap();
        let config = file(
            "data:,example%20file%0A",
            &format!(r#","verification":{{"hash":"{hash}"}}"#),
        );
        assert!(apply(root.path(), &config).is_err());
        let foo = root.path().join("foo");
        assert_eq!(
            std::fs::read_dir(&foo).unwrap().count(),
            0,
            "left in {}",
            foo.display()
        );
    }
}

/// Serve `connections` requests on 127.0.0.1: `/contents`, `/append`, anything else is 404.
fn serve(connections: usize) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for _ in 0..connections {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap();
            let request = &request[..n];
            let (status, body): (&str, &[u8]) = if request.starts_with(b"GET /contents ") {
                ("200 OK", b"asdf\nfdsa")
            } else if request.starts_with(b"GET /append ") {
                ("200 OK", b"\nappended\n")
            } else {
                ("404 Not Found", b"")
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(body).unwrap();
        }
    });
    (port, server)
}

#[test]
fn http_contents_and_append() {
    let (port, server) = serve(2);
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("foo")).unwrap();
    std::fs::write(root.path().join("foo/bar"), "old").unwrap();
    let config = format!(
        r#"{{"storage":{{"files":[{{"path":"/foo/bar","overwrite":true,
        "contents":{{"source":"http://127.0.0.1:{port}/contents"}},
        "append":[{{"source":"http://127.0.0.1:{port}/append"}}]}}]}}}}"#
    );
    apply(root.path(), &config).unwrap();
    server.join().unwrap();
    assert_eq!(
        std::fs::read_to_string(root.path().join("foo/bar")).unwrap(),
        "asdf\nfdsa\nappended\n"
    );
}

#[test]
fn http_with_hash_good_bad_and_not_found() {
    let (port, server) = serve(3);
    let root = tempfile::tempdir().unwrap();
    let hash = format!("sha512-{}", SHA512);
    // The served content is not "example file\n": a hash mismatch.
    let bad = file(
        &format!("http://127.0.0.1:{port}/contents"),
        &format!(r#","verification":{{"hash":"{hash}"}}"#),
    );
    assert!(apply(root.path(), &bad).is_err());
    let missing = file(&format!("http://127.0.0.1:{port}/missing"), "");
    let e = apply(root.path(), &missing).unwrap_err();
    assert!(e.contains("/missing"), "{e}");
    let right = format!("sha256-{}", ASDF_SHA256);
    let good = file(
        &format!("http://127.0.0.1:{port}/contents"),
        &format!(r#","verification":{{"hash":"{right}"}}"#),
    );
    apply(root.path(), &good).unwrap();
    server.join().unwrap();
    assert_eq!(
        std::fs::read_to_string(root.path().join("foo/bar")).unwrap(),
        "asdf\nfdsa"
    );
}
