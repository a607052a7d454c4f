//! TFTP against a real server (tftpd-hpa from Debian) on loopback, IPv4 and IPv6.

mod support;

use kindling_fetch::{ErrorKind, Fetcher};
use support::*;

fn tftpd(listen: &str) -> Daemon {
    let address = format!("{listen}:{{port}}");
    Daemon::start(
        "in.tftpd",
        "tftpd-hpa",
        &[
            "--foreground",
            "--verbose",
            "--address",
            &address,
            "--secure",
            "{dir}",
        ],
        &[],
        true,
    )
}

/// Deterministic content that is not one repeated byte.
fn content(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Publish a file; world-readable because tftpd-hpa serves as `nobody`.
fn put(daemon: &Daemon, name: &str, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    let path = daemon.dir.join(name);
    std::fs::write(&path, bytes)
        .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)))
        .unwrap_or_else(|e| panic!("writing {name}: {e}"));
}

#[test]
fn small_and_multi_block_files_arrive_intact() -> TestResult {
    let server = tftpd("127.0.0.1");
    // 0 bytes, one short block, an exact multiple of the block size (ends with an empty
    // block), and many blocks.
    for len in [0, 100, 1448 * 3, 300_000] {
        let bytes = content(len);
        put(&server, "cfg", &bytes);
        let mut r = resource(&format!("tftp://127.0.0.1:{}/cfg", server.port));
        r.verification.hash = Some(format!("sha512-{}", sha512_hex(&bytes)));
        let got = Fetcher::new().fetch(&r)?;
        assert_eq!(got.len(), len);
        assert!(got == bytes, "content of {len} bytes differs");
    }
    Ok(())
}

#[test]
fn ipv6_and_gzip() -> TestResult {
    let server = tftpd("[::1]");
    let bytes = content(10_000);
    put(&server, "cfg.gz", &gzip(&bytes));
    let mut r = resource(&format!("tftp://[::1]:{}/cfg.gz", server.port));
    r.compression = Some("gzip".into());
    assert!(Fetcher::new().fetch(&r)? == bytes);
    Ok(())
}

#[test]
fn missing_file_is_not_found() {
    let server = tftpd("127.0.0.1");
    let r = resource(&format!("tftp://127.0.0.1:{}/nope", server.port));
    let err = Fetcher::new().fetch(&r).err();
    assert!(
        err.as_ref().is_some_and(
            |e| e.kind == ErrorKind::NotFound && e.to_string().contains("resource not found")
        ),
        "{err:?}\n{}",
        server.log()
    );
}

#[test]
fn wrong_hash_writes_nothing() -> TestResult {
    let server = tftpd("127.0.0.1");
    put(&server, "cfg", b"tftp content");
    let mut r = resource(&format!("tftp://127.0.0.1:{}/cfg", server.port));
    r.verification.hash = Some(format!("sha256-{}", "0".repeat(64)));
    let dir = TempDir::new("tftp-dest");
    let err = Fetcher::new().fetch_to_path(&r, &dir.join("f")).err();
    assert!(
        err.as_ref()
            .is_some_and(|e| e.kind == ErrorKind::HashMismatch),
        "{err:?}"
    );
    assert_eq!(std::fs::read_dir(&dir)?.count(), 0);
    Ok(())
}

#[test]
fn block_numbers_roll_over_past_65535() -> TestResult {
    let server = tftpd("127.0.0.1");
    // More than 65535 blocks of the negotiated 1448 bytes.
    let bytes = content(1448 * 65_536 + 777);
    put(&server, "big", &bytes);
    let mut r = resource(&format!("tftp://127.0.0.1:{}/big", server.port));
    r.verification.hash = Some(format!("sha256-{}", sha256_hex(&bytes)));
    drop(bytes);
    let dir = TempDir::new("tftp-big");
    let n = Fetcher::new().fetch_to_path(&r, &dir.join("big"))?;
    assert_eq!(n, 1448 * 65_536 + 777);
    Ok(())
}
