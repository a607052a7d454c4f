//! A software TPM on loopback for tests: one swtpm per test, on free ports, killed on drop.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SwTpm {
    child: Child,
    _state: tempfile::TempDir,
    pub port: u16,
}

/// Two consecutive free ports: the swtpm TCTI expects the control port right after the
/// server port.
fn free_ports() -> (u16, u16) {
    loop {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return (port, port + 1);
        }
    }
}

impl SwTpm {
    pub fn start() -> SwTpm {
        let state = tempfile::tempdir().unwrap();
        let (port, ctrl) = free_ports();
        let child = Command::new("swtpm")
            .args(["socket", "--tpm2", "--flags", "not-need-init,startup-clear"])
            .arg("--server")
            .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
            .arg("--ctrl")
            .arg(format!("type=tcp,port={ctrl},bindaddr=127.0.0.1"))
            .arg("--tpmstate")
            .arg(format!("dir={}", state.path().display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("swtpm (package swtpm) must be installed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "swtpm did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        SwTpm {
            child,
            _state: state,
            port,
        }
    }

    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// Extend PCR `pcr` (sha256 bank) with some data, as a changed boot component would.
    pub fn extend(&self, pcr: u32) {
        let out = Command::new("tpm2_pcrextend")
            .env("TPM2TOOLS_TCTI", self.tcti())
            .arg(format!(
                "{pcr}:sha256=0000000000000000000000000000000000000000000000000000000000000001"
            ))
            .output()
            .expect("tpm2-tools must be installed");
        assert!(out.status.success(), "{out:?}");
    }
}

impl Drop for SwTpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tang server on loopback (tangd behind socat, one process per connection), killed on drop.
pub struct Tang {
    child: Option<Child>,
    _db: tempfile::TempDir,
    pub url: String,
    pub thumbprint: String,
    port: u16,
    db: std::path::PathBuf,
}

impl Tang {
    pub fn start() -> Tang {
        let db = tempfile::tempdir().unwrap();
        let out = Command::new("/usr/libexec/tangd-keygen")
            .arg(db.path())
            .output()
            .expect("tang must be installed");
        assert!(out.status.success(), "{out:?}");
        let port = free_ports().0;
        let mut tang = Tang {
            child: None,
            url: format!("http://127.0.0.1:{port}"),
            thumbprint: String::new(),
            port,
            db: db.path().to_path_buf(),
            _db: db,
        };
        tang.up();
        let thp = Command::new("tang-show-keys")
            .arg(port.to_string())
            .output()
            .unwrap();
        assert!(thp.status.success(), "{thp:?}");
        tang.thumbprint = String::from_utf8(thp.stdout).unwrap().trim().to_string();
        tang
    }

    /// Start serving (again).
    pub fn up(&mut self) {
        let child = Command::new("socat")
            .arg(format!(
                "TCP-LISTEN:{},bind=127.0.0.1,reuseaddr,fork",
                self.port
            ))
            .arg(format!("EXEC:/usr/libexec/tangd {}", self.db.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat must be installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "tang did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop serving: connections are refused.
    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Tang {
    fn drop(&mut self) {
        self.down();
    }
}
