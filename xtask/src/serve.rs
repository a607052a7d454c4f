//! A loopback HTTP server for the guest (reached through QEMU's guestfwd): GET only, fixed
//! files, optionally accepting connections only after a delay.

use crate::host::Result;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub struct HttpServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl HttpServer {
    /// Serves `files` (URL path → bytes) on 127.0.0.1, starting `delay` from now.
    pub fn start(files: BTreeMap<String, Vec<u8>>, delay: Duration) -> Result<HttpServer> {
        // Reserve a free port now: QEMU's guestfwd needs it before the server listens.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("cannot find a free loopback port: {e}"))?
            .port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) else {
                eprintln!("http server: cannot listen on 127.0.0.1:{port}");
                return;
            };
            let _ = listener.set_nonblocking(true);
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Err(e) = answer(stream, &files) {
                            eprintln!("http server: {e}");
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        Ok(HttpServer { port, stop })
    }
}

/// A nonblocking listener on a free loopback port, and that port; `what` names it in errors.
pub fn loopback_listener(what: &str) -> Result<(TcpListener, u16)> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("{what}: cannot listen on loopback: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("{what}: {e}"))?
        .port();
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("{what}: {e}"))?;
    Ok((listener, port))
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(stream: TcpStream, files: &BTreeMap<String, Vec<u8>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Drain the headers.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let mut stream = stream;
    match files.get(path) {
        Some(body) if request.starts_with("GET ") || request.starts_with("HEAD ") => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            if request.starts_with("GET ") {
                stream.write_all(body)?;
            }
        }
        _ => stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?,
    }
    stream.flush()
}
