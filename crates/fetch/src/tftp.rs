//! A TFTP client (RFC 1350, octet mode) with the blksize and tsize options (RFC 2347-2349),
//! over IPv4 or IPv6, read block by block so content streams with bounded memory.

use crate::ErrorKind;
use crate::source::TftpUrl;
use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

const RRQ: u16 = 1;
const DATA: u16 = 3;
const ACK: u16 = 4;
const ERROR: u16 = 5;
const OACK: u16 = 6;
/// Fits one Ethernet frame over IPv6 (1500 - 40 IP - 8 UDP - 4 TFTP).
const BLKSIZE: usize = 1448;
const DEFAULT_BLKSIZE: usize = 512;
const RETRANSMITS: u32 = 5;
const WAIT: Duration = Duration::from_secs(2);

/// A failed TFTP transfer.
#[derive(Debug)]
pub(crate) struct TftpError {
    pub kind: ErrorKind,
    pub message: String,
}

fn err(kind: ErrorKind, message: impl Into<String>) -> TftpError {
    TftpError {
        kind,
        message: message.into(),
    }
}

/// An open transfer; reading it receives and acknowledges the next block on demand.
pub(crate) struct Transfer {
    socket: UdpSocket,
    /// The server's transfer port, learnt from its first answer.
    peer: SocketAddr,
    blksize: usize,
    tsize: Option<u64>,
    /// Last block received (wraps after 65535).
    block: u16,
    received: u64,
    pending: Vec<u8>,
    offset: usize,
    last_ack: Vec<u8>,
    done: bool,
}

/// Send the read request and wait for the first answer (OACK or DATA 1).
pub(crate) fn open(url: &TftpUrl) -> Result<Transfer, TftpError> {
    let server = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| err(ErrorKind::Dns, format!("DNS: {e}")))?
        .next()
        .ok_or_else(|| err(ErrorKind::Dns, "DNS: host has no address"))?;
    let bind: SocketAddr = if server.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind).map_err(|e| err(ErrorKind::Connect, format!("UDP: {e}")))?;
    socket
        .set_read_timeout(Some(WAIT))
        .map_err(|e| err(ErrorKind::Connect, format!("UDP: {e}")))?;
    let mut transfer = Transfer {
        socket,
        peer: server,
        blksize: DEFAULT_BLKSIZE,
        tsize: None,
        block: 0,
        received: 0,
        pending: Vec::new(),
        offset: 0,
        last_ack: Vec::new(),
        done: false,
    };
    match transfer.request(server, &url.path, true) {
        // Servers that refuse options (error 8) get a plain RFC 1350 request.
        Err(e) if e.message.starts_with("TFTP error 8") => {
            transfer.request(server, &url.path, false)?;
        }
        other => other?,
    }
    Ok(transfer)
}

impl Transfer {
    fn request(&mut self, server: SocketAddr, path: &str, options: bool) -> Result<(), TftpError> {
        let mut rrq = RRQ.to_be_bytes().to_vec();
        for field in [path, "octet"] {
            rrq.extend_from_slice(field.as_bytes());
            rrq.push(0);
        }
        if options {
            for field in ["blksize", &BLKSIZE.to_string(), "tsize", "0"] {
                rrq.extend_from_slice(field.as_bytes());
                rrq.push(0);
            }
        }
        let mut buf = vec![0u8; BLKSIZE + 4];
        for _ in 0..=RETRANSMITS {
            self.socket
                .send_to(&rrq, server)
                .map_err(|e| err(ErrorKind::Connect, format!("UDP send: {e}")))?;
            let (n, from) = match self.socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(err(ErrorKind::Connect, format!("UDP receive: {e}"))),
            };
            // The server answers from a fresh port: that becomes the transfer's peer.
            if from.ip() != server.ip() {
                continue;
            }
            self.peer = from;
            return match opcode(&buf[..n]) {
                OACK => {
                    self.take_options(&buf[2..n]);
                    self.send_ack(0)
                }
                DATA => self.take_data(&buf[..n]).map(|_| ()),
                ERROR => Err(server_error(&buf[..n])),
                other => Err(err(
                    ErrorKind::Protocol,
                    format!("TFTP: unexpected opcode {other}"),
                )),
            };
        }
        Err(err(
            ErrorKind::Timeout,
            format!("TFTP: no answer after {} requests", RETRANSMITS + 1),
        ))
    }

    fn take_options(&mut self, body: &[u8]) {
        let fields: Vec<&[u8]> = body.split(|b| *b == 0).collect();
        for pair in fields.chunks(2) {
            let [name, value] = pair else { continue };
            let value = std::str::from_utf8(value).ok();
            match std::str::from_utf8(name)
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Ok("blksize") => {
                    if let Some(size) = value.and_then(|v| v.parse().ok()) {
                        self.blksize = size;
                    }
                }
                Ok("tsize") => self.tsize = value.and_then(|v| v.parse().ok()),
                _ => {}
            }
        }
    }

    fn send_ack(&mut self, block: u16) -> Result<(), TftpError> {
        let mut ack = ACK.to_be_bytes().to_vec();
        ack.extend_from_slice(&block.to_be_bytes());
        self.socket
            .send_to(&ack, self.peer)
            .map_err(|e| err(ErrorKind::Connect, format!("UDP send: {e}")))?;
        self.last_ack = ack;
        Ok(())
    }

    /// Accept a DATA packet; `false` for a duplicate of the previous block.
    fn take_data(&mut self, packet: &[u8]) -> Result<bool, TftpError> {
        if packet.len() < 4 {
            return Err(err(ErrorKind::Protocol, "TFTP: short DATA packet"));
        }
        let block = u16::from_be_bytes([packet[2], packet[3]]);
        let expected = self.block.wrapping_add(1);
        if block != expected {
            // A retransmitted older block: our ACK was lost, send it again.
            self.resend_ack()?;
            return Ok(false);
        }
        let data = &packet[4..];
        if data.len() > self.blksize {
            return Err(err(
                ErrorKind::Protocol,
                "TFTP: block larger than negotiated",
            ));
        }
        self.block = block;
        self.received += data.len() as u64;
        self.pending.clear();
        self.pending.extend_from_slice(data);
        self.offset = 0;
        self.send_ack(block)?;
        if data.len() < self.blksize {
            self.done = true;
            if let Some(tsize) = self.tsize.filter(|t| *t != self.received) {
                return Err(err(
                    ErrorKind::Protocol,
                    format!(
                        "TFTP: received {} bytes but the server announced {tsize}",
                        self.received
                    ),
                ));
            }
        }
        Ok(true)
    }

    fn resend_ack(&mut self) -> Result<(), TftpError> {
        if self.last_ack.is_empty() {
            return Ok(());
        }
        self.socket
            .send_to(&self.last_ack, self.peer)
            .map_err(|e| err(ErrorKind::Connect, format!("UDP send: {e}")))?;
        Ok(())
    }

    fn next_block(&mut self) -> Result<(), TftpError> {
        let mut buf = vec![0u8; self.blksize + 4];
        let mut silent = 0;
        loop {
            let (n, from) = match self.socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if is_timeout(&e) => {
                    silent += 1;
                    if silent > RETRANSMITS {
                        return Err(err(
                            ErrorKind::Timeout,
                            format!("TFTP: server silent after block {}", self.block),
                        ));
                    }
                    self.resend_ack()?;
                    continue;
                }
                Err(e) => return Err(err(ErrorKind::Connect, format!("UDP receive: {e}"))),
            };
            if from != self.peer {
                continue;
            }
            match opcode(&buf[..n]) {
                DATA => {
                    if self.take_data(&buf[..n])? {
                        return Ok(());
                    }
                }
                ERROR => return Err(server_error(&buf[..n])),
                other => {
                    return Err(err(
                        ErrorKind::Protocol,
                        format!("TFTP: unexpected opcode {other}"),
                    ));
                }
            }
        }
    }
}

impl Read for Transfer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.offset == self.pending.len() {
            if self.done {
                return Ok(0);
            }
            self.next_block()
                .map_err(|e| io::Error::other(TransferError(e)))?;
        }
        let n = buf.len().min(self.pending.len() - self.offset);
        buf[..n].copy_from_slice(&self.pending[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
    }
}

/// A TFTP failure carried through `Read`, recovered by the fetcher for its kind.
#[derive(Debug)]
pub(crate) struct TransferError(pub TftpError);

impl std::fmt::Display for TransferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for TransferError {}

fn opcode(packet: &[u8]) -> u16 {
    match packet {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

fn server_error(packet: &[u8]) -> TftpError {
    let code = match packet {
        [_, _, a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    let text = packet.get(4..).unwrap_or(&[]);
    let text = String::from_utf8_lossy(text.split(|b| *b == 0).next().unwrap_or(&[]));
    let kind = if code == 1 {
        ErrorKind::NotFound
    } else {
        ErrorKind::Protocol
    };
    let message = if code == 1 {
        format!("resource not found (TFTP error 1: {text})")
    } else {
        format!("TFTP error {code}: {text}")
    };
    err(kind, message)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
