//! `scaleway`: user data from the instance metadata API (Scaleway docs "Instances API: user
//! data" — `GET http://169.254.42.42/user_data/cloud-init`, which answers only requests from a
//! privileged source port, below 1024). The fetcher cannot choose its source port, so this
//! module connects itself from a random port in 1–1022 and retries like the fetcher (5xx and
//! connection failures, 200 ms doubling to 5 s, within `--fetch-timeout`). 404 is an empty
//! config.

use crate::rawhttp;
use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;
use std::hash::{BuildHasher, Hasher};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant};

const METADATA: &str = "http://169.254.42.42";
const PATH: &str = "/user_data/cloud-init";

pub struct Scaleway;

impl Provider for Scaleway {
    fn id(&self) -> &'static str {
        "scaleway"
    }

    fn fetch(&self, fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        let base = host.metadata(METADATA);
        let url = format!("{base}{PATH}");
        if fetcher.is_offline() {
            return Err(crate::metadata::need_net(&url));
        }
        let authority = base.trim_start_matches("http://").trim_end_matches('/');
        let address = authority
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .or_else(|| format!("{authority}:80").to_socket_addrs().ok()?.next())
            .ok_or_else(|| ProviderError::Invalid(format!("bad metadata address {authority}")))?;
        let deadline = fetcher.total_timeout().map(|t| Instant::now() + t);
        let mut delay = Duration::from_millis(200);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let failure = match attempt(address, authority) {
                Ok((200, body)) => return Ok(Some(body)),
                Ok((204 | 404, _)) => return Ok(Some(Vec::new())),
                Ok((status, _)) if status < 500 => {
                    return Err(ProviderError::Status { url, status });
                }
                Ok((status, _)) => format!("server answered HTTP {status}"),
                Err(e) => e.to_string(),
            };
            if deadline.is_some_and(|d| Instant::now() + delay > d) {
                return Err(ProviderError::Invalid(format!(
                    "fetching {url}: unable to fetch resource in time (last error: {failure}) ({attempts} attempts)"
                )));
            }
            log::warn!(
                "fetching {url}: attempt {attempts} failed: {failure}; retrying in {} ms",
                delay.as_millis()
            );
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}

fn attempt(address: SocketAddr, host: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = connect_privileged(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    rawhttp::get(&mut stream, host, PATH, &[])
}

/// A TCP connection from a random free source port below 1023 (root only).
fn connect_privileged(address: SocketAddr) -> std::io::Result<TcpStream> {
    let SocketAddr::V4(v4) = address else {
        return Err(std::io::Error::other("the metadata service is IPv4 only"));
    };
    let seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let mut last = std::io::Error::other("no free privileged port");
    for i in 0..64u64 {
        let port = 1 + ((seed.wrapping_add(i.wrapping_mul(0x9e37_79b9))) % 1022) as u16;
        // SAFETY: plain socket calls on a descriptor owned here until TcpStream takes it.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let stream = TcpStream::from_raw_fd(fd);
            let local = sockaddr(std::net::Ipv4Addr::UNSPECIFIED, port);
            let size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            if libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), size) != 0 {
                last = std::io::Error::last_os_error();
                if last.raw_os_error() == Some(libc::EADDRINUSE) {
                    continue;
                }
                return Err(last);
            }
            let remote = sockaddr(*v4.ip(), v4.port());
            if libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), size) != 0 {
                last = std::io::Error::last_os_error();
                if last.raw_os_error() == Some(libc::EADDRNOTAVAIL) {
                    continue;
                }
                return Err(last);
            }
            return Ok(stream);
        }
    }
    Err(last)
}

fn sockaddr(ip: std::net::Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::{CONFIG, fetcher, host_for};
    use crate::testserver::{Response, Server};

    fn privileged_only(r: &crate::testserver::Request) -> Response {
        if r.peer.port() >= 1024 {
            return Response::new(403, "privileged ports only");
        }
        match r.path.as_str() {
            PATH => Response::new(200, CONFIG),
            _ => Response::new(404, ""),
        }
    }

    #[test]
    fn user_data_from_a_privileged_port() {
        let server = Server::start(privileged_only);
        let (dir, host) = host_for("scaleway", &server);
        assert_eq!(
            Scaleway.fetch(&fetcher(), &host).unwrap().as_deref(),
            Some(CONFIG)
        );
        assert!(server.requests()[0].peer.port() < 1024);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn not_found_failures_and_flapping() {
        let server = Server::start(|_| Response::new(404, ""));
        let (dir, host) = host_for("scaleway-404", &server);
        assert_eq!(Scaleway.fetch(&fetcher(), &host).unwrap(), Some(Vec::new()));
        let server = Server::start(|_| Response::new(500, ""));
        let (dir2, host) = host_for("scaleway-500", &server);
        let err = Scaleway.fetch(&fetcher(), &host).unwrap_err();
        assert!(err.to_string().contains("in time"), "{err}");
        let count = std::sync::atomic::AtomicUsize::new(0);
        let server =
            Server::start(
                move |r| match count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                    0 => Response::new(502, ""),
                    _ => privileged_only(r).delayed(Duration::from_millis(200)),
                },
            );
        let (dir3, host) = host_for("scaleway-flap", &server);
        assert_eq!(
            Scaleway.fetch(&fetcher(), &host).unwrap().as_deref(),
            Some(CONFIG)
        );
        let mut offline = fetcher();
        offline.set_offline(true);
        assert!(Scaleway.fetch(&offline, &host).unwrap_err().needs_network());
        for d in [dir, dir2, dir3] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }
}
