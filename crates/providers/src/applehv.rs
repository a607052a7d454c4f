//! `applehv` (Apple Virtualization framework, e.g. vfkit/podman machine): the host serves the
//! config over HTTP on AF_VSOCK port 1024 of the host (CID 2), as vfkit documents for
//! Ignition ("vfkit usage: --ignition"). One attempt, no retry loop, as upstream; an empty
//! body is an empty config. Only the HTTP exchange is tested here (over loopback TCP): there
//! is no vsock host on these machines.

use crate::rawhttp;
use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};

const HOST_CID: u32 = 2;
const PORT: u32 = 1024;

pub struct AppleHv;

impl Provider for AppleHv {
    fn id(&self) -> &'static str {
        "applehv"
    }

    fn fetch(&self, _fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        if !std::path::Path::new("/sys/devices/virtual/misc/vsock").exists() {
            crate::drive::run(std::process::Command::new(&host.modprobe).arg("vsock"))?;
        }
        let mut stream = connect_vsock(HOST_CID, PORT).map_err(|e| ProviderError::Command {
            command: format!("connect vsock {HOST_CID}:{PORT}"),
            message: e.to_string(),
        })?;
        fetch_over(&mut stream).map(Some)
    }
}

/// The config as served on an open connection.
fn fetch_over(stream: &mut (impl Read + Write)) -> Result<Vec<u8>, ProviderError> {
    let (status, body) = rawhttp::get(stream, "d", "/", &[("Accept", "application/json")])
        .map_err(|e| ProviderError::Invalid(format!("reading the config over vsock: {e}")))?;
    match status {
        200 | 204 => Ok(body),
        status => Err(ProviderError::Status {
            url: format!("vsock://{HOST_CID}:{PORT}/"),
            status,
        }),
    }
}

/// An AF_VSOCK stream socket connected to `cid:port`, as a `File` for reading and writing.
fn connect_vsock(cid: u32, port: u32) -> std::io::Result<std::fs::File> {
    // SAFETY: socket/connect on a descriptor owned by `fd` from creation on.
    unsafe {
        let raw = libc::socket(libc::AF_VSOCK, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(raw);
        let mut address: libc::sockaddr_vm = std::mem::zeroed();
        address.svm_family = libc::AF_VSOCK as libc::sa_family_t;
        address.svm_cid = cid;
        address.svm_port = port;
        let size = std::mem::size_of::<libc::sockaddr_vm>() as libc::socklen_t;
        if libc::connect(raw, (&address as *const libc::sockaddr_vm).cast(), size) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(std::fs::File::from(fd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::CONFIG;
    use crate::testserver::{Response, Server};

    fn over_tcp(server: &Server) -> Result<Vec<u8>, ProviderError> {
        let address = server.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        fetch_over(&mut stream)
    }

    #[test]
    fn the_config_is_the_body_of_get_slash() {
        let server = Server::start(|r| match (r.path.as_str(), r.header("Accept")) {
            ("/", Some("application/json")) => Response::new(200, CONFIG),
            _ => Response::new(400, ""),
        });
        assert_eq!(over_tcp(&server).unwrap(), CONFIG);
        let empty = Server::start(|_| Response::new(200, ""));
        assert_eq!(over_tcp(&empty).unwrap(), b"");
        let failing = Server::start(|_| Response::new(500, ""));
        let err = over_tcp(&failing).unwrap_err();
        assert!(err.to_string().contains("500"), "{err}");
    }
}
