//! A tang server for the guest (scenario `"serve": {"tang": true}`): Debian's `tangd`, which
//! speaks HTTP on its stdin and stdout, run once per connection on a loopback port that QEMU's
//! guestfwd maps to `http://10.0.2.101/`. The keys are the fixed test keys in
//! `qemu/tang-keys/`, so configs carry a fixed thumbprint.
//!
//! A boot with `"tangDown": true` sees the server down: connections are closed without an
//! answer, so clevis fails at once (as against a refused connection) instead of waiting for a
//! timeout.

use crate::host::Result;
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Debian's tang daemon (package `tang`).
const TANGD: &str = "/usr/libexec/tangd";
/// The test keys, relative to the repository root.
pub const KEY_DIR: &str = "qemu/tang-keys";

pub struct TangServer {
    pub port: u16,
    up: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl TangServer {
    /// Listens on 127.0.0.1 (a free port) and answers with `tangd keys`, up at first.
    pub fn start(keys: &Path) -> Result<TangServer> {
        if !Path::new(TANGD).is_file() {
            return Err(format!(
                "{TANGD} is missing: install the Debian package tang"
            ));
        }
        if !keys.is_dir() {
            return Err(format!("no tang keys in {}", keys.display()));
        }
        let (listener, port) = crate::serve::loopback_listener("tang server")?;
        let up = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let (up2, stop2, keys) = (up.clone(), stop.clone(), keys.to_path_buf());
        std::thread::spawn(move || serve(&listener, &keys, &up2, &stop2));
        Ok(TangServer { port, up, stop })
    }

    /// Up: every connection gets a `tangd`. Down: connections are closed unanswered.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }
}

impl Drop for TangServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(listener: &TcpListener, keys: &Path, up: &AtomicBool, stop: &AtomicBool) {
    let mut children: Vec<Child> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) if up.load(Ordering::Relaxed) => match spawn_tangd(stream, keys) {
                Ok(child) => children.push(child),
                Err(e) => eprintln!("tang server: {e}"),
            },
            // Down: dropping the stream closes the connection.
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
        children.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
    }
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// One `tangd` with the connection as its stdin and stdout.
fn spawn_tangd(conn: TcpStream, keys: &Path) -> Result<Child> {
    conn.set_nonblocking(false)
        .map_err(|e| format!("connection: {e}"))?;
    let input = conn.try_clone().map_err(|e| format!("connection: {e}"))?;
    Command::new(TANGD)
        .arg(keys)
        .stdin(Stdio::from(OwnedFd::from(input)))
        .stdout(Stdio::from(OwnedFd::from(conn)))
        // tangd logs one line per request.
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {TANGD}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn get_adv(port: u16) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /adv HTTP/1.1\r\nHost: tang\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    }

    /// Needs the host package `tang` (`cargo xtask test` installs it).
    #[test]
    fn serves_the_test_keys_advertisement_and_nothing_when_down() {
        let keys = crate::host::repo_root().join(KEY_DIR);
        let server = TangServer::start(&keys).unwrap();
        let up = get_adv(server.port);
        assert!(up.starts_with("HTTP/1.1 200"), "{up}");
        assert!(up.contains("\"payload\""), "{up}");
        server.set_up(false);
        assert_eq!(get_adv(server.port), "");
        server.set_up(true);
        assert!(get_adv(server.port).starts_with("HTTP/1.1 200"));
    }

    /// Every tang thumbprint in a scenario config names a signing key in the test key
    /// directory (`tangd-keygen` names each key file by its SHA-256 thumbprint), so a
    /// regenerated key cannot silently break the scenarios.
    #[test]
    fn scenario_thumbprints_name_the_test_signing_key() {
        let root = crate::host::repo_root();
        let keys = root.join(KEY_DIR);
        let configs = root.join("qemu/scenarios/configs");
        let mut seen = 0;
        for entry in std::fs::read_dir(&configs).unwrap().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let Ok(config) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let luks = config["storage"]["luks"].as_array().cloned();
            for tang in luks
                .iter()
                .flatten()
                .flat_map(|l| l["clevis"]["tang"].as_array().cloned().unwrap_or_default())
            {
                let thp = tang["thumbprint"].as_str().unwrap_or_default();
                let key = keys.join(format!("{thp}.jwk"));
                let key: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&key).unwrap_or_default())
                        .unwrap_or_default();
                assert!(
                    key["key_ops"]
                        .as_array()
                        .is_some_and(|ops| ops.iter().any(|o| o == "verify")),
                    "{}: thumbprint {thp} is not a signing key in {KEY_DIR}",
                    entry.path().display()
                );
                seen += 1;
            }
        }
        assert!(seen > 0, "no scenario config binds to tang");
    }
}
