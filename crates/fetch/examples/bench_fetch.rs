//! Rerunnable measurements of the fetcher (results in docs/fetch.md):
//!
//! * `cargo run --release -p kindling-fetch --example bench_fetch -- throughput [MiB]`:
//!   fetch a gzip file (default 1024 MiB of content) with sha512 verification from a loopback
//!   server into a file; throughput and peak RSS next to `curl | gunzip | sha512sum`.
//! * `cargo run --release -p kindling-fetch --example bench_fetch -- jitter [clients]`:
//!   many concurrent fetch loops against one loopback server that fails half the requests;
//!   the server's peak concurrent requests with and without retry jitter.

use kindling_config::model::Resource;
use kindling_fetch::Fetcher;
use sha2::Digest;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("throughput") => throughput(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1024)),
        Some("jitter") => jitter(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(300)),
        // Internal: the fetch itself, in a child so its peak RSS is its own.
        Some("fetch-child") => fetch_child(&args[1..]),
        _ => Err("usage: bench_fetch throughput [MiB] | jitter [clients]".into()),
    }
}

// ---------------------------------------------------------------- throughput

fn throughput(mib: u64) -> Result<(), BoxError> {
    let dir = std::env::temp_dir().join("kindling-bench-fetch");
    std::fs::create_dir_all(&dir)?;
    let gz = dir.join(format!("content-{mib}MiB.gz"));
    let hash_file = dir.join(format!("content-{mib}MiB.sha512"));
    if !gz.exists() || !hash_file.exists() {
        eprintln!(
            "generating {mib} MiB of content, gzip-compressed, into {}",
            gz.display()
        );
        let hash = generate(&gz, mib << 20)?;
        std::fs::write(&hash_file, &hash)?;
    }
    let hash = std::fs::read_to_string(&hash_file)?;
    let gz_size = std::fs::metadata(&gz)?.len();
    let server = FileServer::start(gz.clone())?;
    let url = format!("http://{}/content.gz", server.addr);

    let dest = dir.join("fetched");
    let start = Instant::now();
    let exe = std::env::current_exe()?;
    let out = std::process::Command::new(exe)
        .args(["fetch-child", &url, &hash, &dest.display().to_string()])
        .output()?;
    let kindling_secs = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&dest);
    if !out.status.success() {
        return Err(format!(
            "kindling fetch failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let kindling_rss = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse::<u64>()
        .unwrap_or(0);

    let before = children_max_rss_kib();
    let start = Instant::now();
    let pipe = std::process::Command::new("sh")
        .args(["-c", &format!("curl -sSf {url} | gunzip | sha512sum")])
        .output()?;
    let curl_secs = start.elapsed().as_secs_f64();
    let curl_rss = children_max_rss_kib();
    let curl_hash = String::from_utf8_lossy(&pipe.stdout);
    let curl_ok = pipe.status.success() && curl_hash.starts_with(hash.trim());

    let content_mib = mib as f64;
    println!(
        "content {mib} MiB (gzip {:.0} MiB), loopback HTTP, sha512 of the decompressed bytes\n",
        gz_size as f64 / 1048576.0
    );
    println!("| pipeline | time | throughput (decompressed) | peak RSS |");
    println!("|---|---|---|---|");
    println!(
        "| kindling fetch_to_path (gzip + sha512 → temp file, fsync, rename) | {kindling_secs:.1} s | {:.0} MiB/s | {:.1} MiB |",
        content_mib / kindling_secs,
        kindling_rss as f64 / 1024.0
    );
    println!(
        "| `curl | gunzip | sha512sum` (to no file){} | {curl_secs:.1} s | {:.0} MiB/s | {} |",
        if curl_ok { "" } else { " FAILED" },
        content_mib / curl_secs,
        if curl_rss > before {
            format!("{:.1} MiB (largest process)", curl_rss as f64 / 1024.0)
        } else {
            "n/a".into()
        }
    );
    Ok(())
}

/// Write `len` bytes of text-like content, gzip-compressed, and return its sha512.
fn generate(path: &Path, len: u64) -> Result<String, BoxError> {
    let file = std::fs::File::create(path)?;
    let mut encoder =
        flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast());
    let mut hasher = sha2::Sha512::new();
    let words: Vec<&[u8]> = b"kindling ignition fetch verify stream config storage files units \
        passwd systemd luks tang proxy timeout retry jitter block data"
        .split(|b| *b == b' ')
        .collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut buf = Vec::with_capacity(1 << 20);
    let mut left = len;
    while left > 0 {
        buf.clear();
        while buf.len() < (1 << 20) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.extend_from_slice(words[(x % words.len() as u64) as usize]);
            buf.push(if x.is_multiple_of(11) { b'\n' } else { b' ' });
        }
        let n = left.min(buf.len() as u64) as usize;
        hasher.update(&buf[..n]);
        encoder.write_all(&buf[..n])?;
        left -= n as u64;
    }
    encoder.finish()?.flush()?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn fetch_child(args: &[String]) -> Result<(), BoxError> {
    let [url, hash, dest] = args else {
        return Err("fetch-child URL HASH DEST".into());
    };
    let resource = Resource {
        source: Some(url.clone()),
        compression: Some("gzip".into()),
        verification: kindling_config::model::Verification {
            hash: Some(format!("sha512-{}", hash.trim())),
        },
        ..Default::default()
    };
    Fetcher::new().fetch_to_path(&resource, Path::new(dest))?;
    // Peak resident set of this process, in KiB.
    let status = std::fs::read_to_string("/proc/self/status")?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!("{hwm}");
    Ok(())
}

/// The largest peak RSS among waited-for children (KiB), from getrusage(RUSAGE_CHILDREN).
fn children_max_rss_kib() -> u64 {
    unsafe extern "C" {
        fn getrusage(who: i32, usage: *mut [i64; 18]) -> i32;
    }
    let mut usage = [0i64; 18];
    // SAFETY: `struct rusage` is 18 longs on 64-bit Linux; RUSAGE_CHILDREN = -1.
    let rc = unsafe { getrusage(-1, &mut usage) };
    // ru_maxrss follows the two `struct timeval`s (4 longs).
    if rc == 0 { usage[4].max(0) as u64 } else { 0 }
}

/// Serves one file to every request, streamed from disk.
struct FileServer {
    addr: std::net::SocketAddr,
}

impl FileServer {
    fn start(path: PathBuf) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let path = path.clone();
                thread::spawn(move || {
                    let _ = serve_file(stream, &path);
                });
            }
        });
        Ok(FileServer { addr })
    }
}

/// Read a request head; returns its target.
fn read_target(stream: &TcpStream) -> std::io::Result<String> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            return Ok(target);
        }
    }
}

fn serve_file(mut stream: TcpStream, path: &Path) -> std::io::Result<()> {
    read_target(&stream)?;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n])?;
    }
}

// ---------------------------------------------------------------- jitter

/// Time each request takes the server to answer: long enough for overlaps to show.
const SERVICE: Duration = Duration::from_millis(100);

fn jitter(clients: usize) -> Result<(), BoxError> {
    println!(
        "{clients} clients start at once; the server fails each request with probability 1/2 (503) and takes {} ms per request\n",
        SERVICE.as_millis()
    );
    println!(
        "| retry delays | peak concurrent requests (all) | peak concurrent retries | most retries arriving in 10 ms | all done after | requests |"
    );
    println!("|---|---|---|---|---|---|");
    for jitter in [false, true] {
        let r = simulate(clients, jitter)?;
        println!(
            "| {} | {} | {} | {} | {:.1} s | {} |",
            if jitter {
                "jittered [d/2, 3d/2]"
            } else {
                "fixed d (200 ms doubling)"
            },
            r.peak,
            r.retry_peak,
            r.busiest,
            r.secs,
            r.requests
        );
    }
    Ok(())
}

struct Outcome {
    peak: usize,
    retry_peak: usize,
    busiest: usize,
    secs: f64,
    requests: usize,
}

/// Counts what the server sees; a request is a retry when its client was seen before.
#[derive(Default)]
struct Tally {
    seen_clients: std::collections::HashSet<String>,
    retry_arrivals: Vec<Duration>,
    active: usize,
    active_retries: usize,
    peak: usize,
    retry_peak: usize,
    requests: usize,
}

fn simulate(clients: usize, jitter: bool) -> Result<Outcome, BoxError> {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let addr = flaky_server(tally.clone(), started)?;
    let go = Arc::new(std::sync::Barrier::new(clients));
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let (url, go) = (format!("http://{addr}/client/{i}"), go.clone());
            thread::spawn(move || {
                let mut fetcher = Fetcher::new();
                fetcher.set_retry_jitter(jitter);
                fetcher.set_total_timeout(Some(Duration::from_secs(120)));
                let resource = Resource {
                    source: Some(url),
                    ..Default::default()
                };
                go.wait();
                fetcher.fetch(&resource).is_ok()
            })
        })
        .collect();
    let failed = handles
        .into_iter()
        .map(|h| h.join().unwrap_or(false))
        .filter(|ok| !ok)
        .count();
    if failed > 0 {
        return Err(format!("{failed} of {clients} clients failed").into());
    }
    let secs = started.elapsed().as_secs_f64();
    let tally = tally.lock().map_err(|_| "tally poisoned")?;
    let mut buckets = std::collections::HashMap::new();
    for t in &tally.retry_arrivals {
        *buckets.entry(t.as_millis() / 10).or_insert(0usize) += 1;
    }
    Ok(Outcome {
        peak: tally.peak,
        retry_peak: tally.retry_peak,
        busiest: buckets.values().copied().max().unwrap_or(0),
        secs,
        requests: tally.requests,
    })
}

/// A server that answers 503 to half the requests, at random, after `SERVICE`.
fn flaky_server(
    tally: Arc<Mutex<Tally>>,
    started: Instant,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(move || {
        let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
        for stream in listener.incoming().flatten() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let fail = rng.is_multiple_of(2);
            let tally = tally.clone();
            thread::spawn(move || {
                let Ok(target) = read_target(&stream) else {
                    return;
                };
                let retry = match tally.lock() {
                    Ok(mut t) => {
                        let retry = !t.seen_clients.insert(target);
                        t.requests += 1;
                        t.active += 1;
                        t.peak = t.peak.max(t.active);
                        if retry {
                            t.retry_arrivals.push(started.elapsed());
                            t.active_retries += 1;
                            t.retry_peak = t.retry_peak.max(t.active_retries);
                        }
                        retry
                    }
                    Err(_) => return,
                };
                thread::sleep(SERVICE);
                let mut stream = stream;
                let reply: &[u8] = if fail {
                    b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                } else {
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
                };
                let _ = stream.write_all(reply);
                if let Ok(mut t) = tally.lock() {
                    t.active -= 1;
                    if retry {
                        t.active_retries -= 1;
                    }
                }
            });
        }
    });
    Ok(addr)
}
