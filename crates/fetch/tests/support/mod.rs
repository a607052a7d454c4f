//! Loopback servers for the fetcher's tests: a threaded HTTP/1.1 server (optionally TLS with
//! a CA generated at test time) whose replies, faults included, are scripted per request.

#![allow(dead_code)] // each test binary uses a different part of the support module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with one request.
pub enum Reply {
    Ok(Vec<u8>),
    Status(u16, Vec<u8>),
    Redirect(u16, String),
    /// Extra headers with a 200.
    WithHeaders(Vec<(String, String)>, Vec<u8>),
    /// Close the connection with a TCP reset before answering.
    Reset,
    /// Wait before sending anything.
    Slow(Duration, Box<Reply>),
    /// Announce `declared` bytes but send only `body`, then close.
    Truncated {
        declared: usize,
        body: Vec<u8>,
    },
    /// Stream `len` bytes produced by `chunk` repeated, without holding them in memory.
    Stream {
        chunk: Arc<Vec<u8>>,
        len: u64,
    },
}

type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

pub struct Server {
    pub addr: SocketAddr,
    tls: bool,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    /// Requests being answered right now, and the most at once.
    pub active: Arc<AtomicUsize>,
    pub peak: Arc<AtomicUsize>,
}

impl Server {
    /// An HTTP server on 127.0.0.1; `handler(request, index)` scripts each reply.
    pub fn http(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        Self::start("127.0.0.1:0", None, Arc::new(handler))
    }

    /// The same on `[::1]`.
    pub fn http6(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        Self::start("[::1]:0", None, Arc::new(handler))
    }

    /// An HTTPS server presenting `identity`.
    pub fn https(
        identity: &Identity,
        handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::start(
            "127.0.0.1:0",
            Some(identity.server_config()),
            Arc::new(handler),
        )
    }

    fn start(bind: &str, tls: Option<Arc<rustls::ServerConfig>>, handler: Arc<Handler>) -> Self {
        let listener = TcpListener::bind(bind).unwrap_or_else(|e| panic!("binding {bind}: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local_addr: {e}"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let active = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let server = Server {
            addr,
            tls: tls.is_some(),
            seen: seen.clone(),
            stop: stop.clone(),
            active: active.clone(),
            peak: peak.clone(),
        };
        let count = Arc::new(AtomicUsize::new(0));
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (handler, seen, tls, count) =
                    (handler.clone(), seen.clone(), tls.clone(), count.clone());
                let (active, peak) = (active.clone(), peak.clone());
                thread::spawn(move || {
                    let _ = serve(stream, tls, &*handler, &seen, &count, &active, &peak);
                });
            }
        });
        server
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

trait Conn: Read + Write {}
impl<T: Read + Write> Conn for T {}

fn serve(
    stream: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: &Handler,
    seen: &Mutex<Vec<Seen>>,
    count: &AtomicUsize,
    active: &AtomicUsize,
    peak: &AtomicUsize,
) -> std::io::Result<()> {
    let raw = stream.try_clone()?;
    let mut conn: Box<dyn Conn> = match tls {
        Some(config) => {
            let session = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
            Box::new(rustls::StreamOwned::new(session, stream))
        }
        None => Box::new(stream),
    };
    let mut reader = BufReader::new(&mut conn);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = header.trim_end().split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    drop(reader);
    let request = Seen {
        method,
        target,
        headers,
        body,
    };
    if let Ok(mut seen) = seen.lock() {
        seen.push(request.clone());
    }
    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
    peak.fetch_max(now, Ordering::SeqCst);
    let index = count.fetch_add(1, Ordering::SeqCst);
    let result = reply(&mut conn, &raw, handler(&request, index));
    active.fetch_sub(1, Ordering::SeqCst);
    result
}

fn head(
    conn: &mut dyn Conn,
    status: u16,
    length: u64,
    extra: &[(String, String)],
) -> std::io::Result<()> {
    let mut text =
        format!("HTTP/1.1 {status} Scripted\r\nContent-Length: {length}\r\nConnection: close\r\n");
    for (n, v) in extra {
        text.push_str(&format!("{n}: {v}\r\n"));
    }
    text.push_str("\r\n");
    conn.write_all(text.as_bytes())
}

fn reply(conn: &mut Box<dyn Conn>, raw: &TcpStream, reply: Reply) -> std::io::Result<()> {
    match reply {
        Reply::Ok(body) => reply_body(conn, 200, &[], &body),
        Reply::Status(status, body) => reply_body(conn, status, &[], &body),
        Reply::WithHeaders(extra, body) => reply_body(conn, 200, &extra, &body),
        Reply::Redirect(status, location) => {
            reply_body(conn, status, &[("Location".into(), location)], b"")
        }
        Reply::Reset => {
            // SO_LINGER 0 turns close into a reset.
            set_linger_zero(raw);
            Ok(())
        }
        Reply::Slow(wait, then) => {
            thread::sleep(wait);
            self::reply(conn, raw, *then)
        }
        Reply::Truncated { declared, body } => {
            head(conn.as_mut(), 200, declared as u64, &[])?;
            conn.write_all(&body)?;
            conn.flush()?;
            raw.shutdown(Shutdown::Both)
        }
        Reply::Stream { chunk, len } => {
            head(conn.as_mut(), 200, len, &[])?;
            let mut left = len;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                conn.write_all(&chunk[..n])?;
                left -= n as u64;
            }
            conn.flush()
        }
    }
}

fn reply_body(
    conn: &mut Box<dyn Conn>,
    status: u16,
    extra: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    head(conn.as_mut(), status, body.len() as u64, extra)?;
    conn.write_all(body)?;
    conn.flush()
}

fn set_linger_zero(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Linger {
        onoff: i32,
        linger: i32,
    }
    let linger = Linger {
        onoff: 1,
        linger: 0,
    };
    // SAFETY: a valid socket fd and a correctly sized `struct linger`.
    unsafe {
        setsockopt(
            stream.as_raw_fd(),
            1,  // SOL_SOCKET
            13, // SO_LINGER
            (&linger as *const Linger).cast(),
            std::mem::size_of::<Linger>() as u32,
        );
    }
}

unsafe extern "C" {
    fn setsockopt(fd: i32, level: i32, name: i32, value: *const std::ffi::c_void, len: u32) -> i32;
}

/// A CA generated at test time and a server certificate it signed for 127.0.0.1/localhost.
pub struct Identity {
    pub ca_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

impl Identity {
    pub fn generate() -> Result<Self, rcgen::Error> {
        Self::generate_for(&["localhost", "127.0.0.1"], false)
    }

    /// A server certificate named `CN=Kindling test server`, for `names`, expired or current.
    pub fn generate_for(names: &[&str], expired: bool) -> Result<Self, rcgen::Error> {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Kindling test CA");
        let ca_key = rcgen::KeyPair::generate()?;
        let ca = ca_params.self_signed(&ca_key)?;
        let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let mut leaf_params = rcgen::CertificateParams::new(names)?;
        leaf_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Kindling test server");
        if expired {
            leaf_params.not_before = rcgen::date_time_ymd(2001, 2, 3);
            leaf_params.not_after = rcgen::date_time_ymd(2002, 3, 4);
        }
        let leaf_key = rcgen::KeyPair::generate()?;
        let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key)?;
        Ok(Identity {
            ca_pem: ca.pem(),
            cert_der: leaf.der().to_vec(),
            key_der: leaf_key.serialize_der(),
        })
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls_pki_types::PrivateKeyDer::Pkcs8(self.key_der.clone().into());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth()
                    .with_single_cert(vec![self.cert_der.clone().into()], key)
            })
            .unwrap_or_else(|e| panic!("test TLS config: {e}"));
        Arc::new(config)
    }
}

/// A resource with just a source.
pub fn resource(source: &str) -> kindling_config::model::Resource {
    kindling_config::model::Resource {
        source: Some(source.to_string()),
        ..Default::default()
    }
}

pub fn sha512_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha512::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(bytes)
        .and_then(|_| encoder.finish())
        .unwrap_or_else(|e| panic!("gzip: {e}"))
}

/// A fetcher that gives up after `total`, so failing tests end.
pub fn fetcher(total: Duration) -> kindling_fetch::Fetcher {
    let mut f = kindling_fetch::Fetcher::new();
    f.set_total_timeout(Some(total));
    f
}

/// A helper daemon from Debian run in the foreground for one test; killed when dropped.
pub struct Daemon {
    child: std::process::Child,
    pub dir: std::path::PathBuf,
    pub port: u16,
}

impl Daemon {
    /// Start `program` (from `package`) with `args`, after writing `files` into a fresh
    /// directory; `{port}` and `{dir}` in arguments and files are replaced by a free port and
    /// that directory. Output goes to `{dir}/daemon.log`.
    pub fn start(
        program: &str,
        package: &str,
        args: &[&str],
        files: &[(&str, &str)],
        udp: bool,
    ) -> Self {
        let path = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(program))
            .find(|p| p.exists())
            .unwrap_or_else(|| {
                panic!("{program} is missing: install the Debian package {package} (listed in crates/fetch/test-packages.txt)")
            });
        let port = free_port(udp);
        let dir = scratch_dir(program);
        let log = std::fs::File::create(dir.join("daemon.log"))
            .unwrap_or_else(|e| panic!("creating the log of {program}: {e}"));
        let stderr = log.try_clone().unwrap_or_else(|e| panic!("log: {e}"));
        let fill = |a: &str| {
            a.replace("{port}", &port.to_string())
                .replace("{dir}", &dir.display().to_string())
        };
        for (name, content) in files {
            std::fs::write(dir.join(name), fill(content))
                .unwrap_or_else(|e| panic!("writing {name}: {e}"));
        }
        let args: Vec<String> = args.iter().map(|a| fill(a)).collect();
        let child = std::process::Command::new(&path)
            .args(&args)
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}"));
        Daemon { child, dir, port }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port(udp: bool) -> u16 {
    let port = if udp {
        std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr())
    } else {
        TcpListener::bind("127.0.0.1:0").and_then(|s| s.local_addr())
    };
    port.map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// A fresh, world-readable directory under the system temp dir.
pub fn scratch_dir(tag: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("kindling-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
    dir
}

/// Wait until a TCP port accepts connections (daemon start-up), at most ~10 s.
pub fn wait_for_tcp(port: u16) {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

/// A scratch directory removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        TempDir(scratch_dir(tag))
    }
}

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for TempDir {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
