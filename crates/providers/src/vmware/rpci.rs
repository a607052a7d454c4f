//! The guest-to-host RPC channel of the VMware backdoor ("GuestRPC", low-bandwidth variant),
//! as open-vm-tools implements it (`lib/message/message.c`, `lib/include/backdoor_def.h`):
//! command 0x1E on I/O port 0x5658 with magic 0x564D5868, sub-commands open, send size, send
//! payload 4 bytes at a time, receive size, receive payload, receive status, close.
//!
//! The register exchange is behind [`Port`], so the framing is tested against a simulated
//! host; only [`super::backdoor`] touches the real port.

pub const MAGIC: u32 = 0x564D_5868;
pub const PORT: u16 = 0x5658;
const CMD_MESSAGE: u32 = 0x1E;
/// `RPCI` protocol number with the cookie flag.
const RPCI_PROTOCOL: u32 = 0x4943_5052 | 0x8000_0000;

const OPEN: u32 = 0;
const SEND_SIZE: u32 = 1;
const SEND_PAYLOAD: u32 = 2;
const RECV_SIZE: u32 = 3;
const RECV_PAYLOAD: u32 = 4;
const RECV_STATUS: u32 = 5;
const CLOSE: u32 = 6;

const STATUS_SUCCESS: u32 = 0x0001;
const STATUS_DORECV: u32 = 0x0002;

/// The registers of one backdoor call (`in eax, dx`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Regs {
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
    pub esi: u32,
    pub edi: u32,
}

/// One backdoor call.
pub trait Port {
    fn call(&mut self, regs: Regs) -> Regs;
}

/// An open channel: its id and cookies.
pub struct Channel<'p, P: Port> {
    port: &'p mut P,
    id: u32,
    cookie_high: u32,
    cookie_low: u32,
}

fn failed(what: &str) -> String {
    format!("VMware backdoor: {what} failed")
}

impl<'p, P: Port> Channel<'p, P> {
    pub fn open(port: &'p mut P) -> Result<Self, String> {
        let out = port.call(Regs {
            eax: MAGIC,
            ebx: RPCI_PROTOCOL,
            ecx: CMD_MESSAGE | (OPEN << 16),
            edx: u32::from(PORT),
            ..Regs::default()
        });
        if (out.ecx >> 16) & STATUS_SUCCESS == 0 {
            return Err(failed("opening the RPC channel"));
        }
        Ok(Channel {
            port,
            id: out.edx >> 16,
            cookie_high: out.esi,
            cookie_low: out.edi,
        })
    }

    fn call(&mut self, sub: u32, ebx: u32) -> Regs {
        self.port.call(Regs {
            eax: MAGIC,
            ebx,
            ecx: CMD_MESSAGE | (sub << 16),
            edx: u32::from(PORT) | (self.id << 16),
            esi: self.cookie_high,
            edi: self.cookie_low,
        })
    }

    /// Send one request and return the host's reply.
    pub fn request(&mut self, message: &[u8]) -> Result<Vec<u8>, String> {
        let size = u32::try_from(message.len()).map_err(|_| failed("sizing the request"))?;
        if (self.call(SEND_SIZE, size).ecx >> 16) & STATUS_SUCCESS == 0 {
            return Err(failed("sending the request size"));
        }
        for chunk in message.chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            if (self.call(SEND_PAYLOAD, u32::from_le_bytes(word)).ecx >> 16) & STATUS_SUCCESS == 0 {
                return Err(failed("sending the request"));
            }
        }
        let out = self.call(RECV_SIZE, 0);
        let status = out.ecx >> 16;
        if status & STATUS_SUCCESS == 0 {
            return Err(failed("receiving the reply size"));
        }
        if status & STATUS_DORECV == 0 {
            return Ok(Vec::new());
        }
        if out.edx >> 16 != SEND_SIZE {
            return Err(failed("receiving the reply size (protocol)"));
        }
        let size = out.ebx as usize;
        let mut reply = Vec::with_capacity(size + 4);
        while reply.len() < size {
            let out = self.call(RECV_PAYLOAD, STATUS_SUCCESS);
            if (out.ecx >> 16) & STATUS_SUCCESS == 0 || out.edx >> 16 != SEND_PAYLOAD {
                return Err(failed("receiving the reply"));
            }
            reply.extend_from_slice(&out.ebx.to_le_bytes());
        }
        reply.truncate(size);
        if (self.call(RECV_STATUS, STATUS_SUCCESS).ecx >> 16) & STATUS_SUCCESS == 0 {
            return Err(failed("acknowledging the reply"));
        }
        Ok(reply)
    }

    pub fn close(mut self) {
        let _ = self.call(CLOSE, 0);
    }
}

/// An RPCI reply: `1 <value>` on success, `0 <reason>` on failure.
pub fn parse_reply(reply: &[u8]) -> Result<&[u8], String> {
    match reply {
        [b'1', b' ', rest @ ..] => Ok(rest),
        [b'1'] => Ok(&[]),
        [b'0', rest @ ..] => Err(String::from_utf8_lossy(rest).trim().to_string()),
        _ => Err(format!(
            "unexpected RPCI reply {:?}",
            String::from_utf8_lossy(reply)
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The host side of the backdoor, as open-vm-tools' protocol has it, with a guestinfo
    /// store answering `info-get` and `info-set`.
    #[derive(Default)]
    pub(crate) struct FakeHost {
        pub guestinfo: HashMap<String, String>,
        open: bool,
        incoming: Vec<u8>,
        expected: usize,
        outgoing: Vec<u8>,
        sent: usize,
    }

    impl FakeHost {
        fn answer(&mut self) {
            let request = String::from_utf8_lossy(&self.incoming).into_owned();
            self.outgoing = if let Some(key) = request.strip_prefix("info-get ") {
                match self.guestinfo.get(key) {
                    Some(v) => format!("1 {v}").into_bytes(),
                    None => b"0 No value found".to_vec(),
                }
            } else if let Some(rest) = request.strip_prefix("info-set ") {
                let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
                self.guestinfo.insert(key.to_string(), value.to_string());
                b"1 ".to_vec()
            } else {
                b"0 Unknown command".to_vec()
            };
            self.sent = 0;
            self.incoming.clear();
        }
    }

    const OK: u32 = STATUS_SUCCESS << 16;

    impl Port for FakeHost {
        fn call(&mut self, r: Regs) -> Regs {
            assert_eq!(r.eax, MAGIC);
            assert_eq!(r.ecx & 0xffff, CMD_MESSAGE);
            assert_eq!(r.edx & 0xffff, u32::from(PORT));
            let mut out = Regs::default();
            let sub = r.ecx >> 16;
            if sub != OPEN && (!self.open || r.edx >> 16 != 7 || r.esi != 0xAA || r.edi != 0xBB) {
                return out;
            }
            match sub {
                OPEN if r.ebx == RPCI_PROTOCOL => {
                    self.open = true;
                    out = Regs {
                        ecx: OK,
                        edx: 7 << 16,
                        esi: 0xAA,
                        edi: 0xBB,
                        ..out
                    };
                }
                SEND_SIZE => {
                    self.expected = r.ebx as usize;
                    self.incoming.clear();
                    out.ecx = OK;
                }
                SEND_PAYLOAD => {
                    let take = (self.expected - self.incoming.len()).min(4);
                    self.incoming
                        .extend_from_slice(&r.ebx.to_le_bytes()[..take]);
                    if self.incoming.len() == self.expected {
                        self.answer();
                    }
                    out.ecx = OK;
                }
                RECV_SIZE => {
                    out.ecx = (STATUS_SUCCESS | STATUS_DORECV) << 16;
                    out.edx = SEND_SIZE << 16;
                    out.ebx = self.outgoing.len() as u32;
                }
                RECV_PAYLOAD => {
                    let mut word = [0u8; 4];
                    let end = (self.sent + 4).min(self.outgoing.len());
                    word[..end - self.sent].copy_from_slice(&self.outgoing[self.sent..end]);
                    self.sent = end;
                    out = Regs {
                        ecx: OK,
                        edx: SEND_PAYLOAD << 16,
                        ebx: u32::from_le_bytes(word),
                        ..out
                    };
                }
                RECV_STATUS => out.ecx = OK,
                CLOSE => {
                    self.open = false;
                    out.ecx = OK;
                }
                _ => {}
            }
            out
        }
    }

    #[test]
    fn requests_and_replies_cross_the_channel_in_words() {
        let mut host = FakeHost::default();
        host.guestinfo.insert("guestinfo.k".into(), "seven".into());
        let mut channel = Channel::open(&mut host).unwrap();
        let reply = channel.request(b"info-get guestinfo.k").unwrap();
        assert_eq!(parse_reply(&reply).unwrap(), b"seven");
        let reply = channel.request(b"info-get guestinfo.none").unwrap();
        assert_eq!(parse_reply(&reply).unwrap_err(), "No value found");
        channel.request(b"info-set guestinfo.k e30K").unwrap();
        channel.close();
        assert_eq!(host.guestinfo["guestinfo.k"], "e30K");
    }

    #[test]
    fn a_refused_channel_is_an_error() {
        struct Refusing;
        impl Port for Refusing {
            fn call(&mut self, _: Regs) -> Regs {
                Regs::default()
            }
        }
        assert!(Channel::open(&mut Refusing).is_err());
    }

    #[test]
    fn replies_are_parsed() {
        assert_eq!(parse_reply(b"1 abc").unwrap(), b"abc");
        assert_eq!(parse_reply(b"1").unwrap(), b"");
        assert!(parse_reply(b"").is_err());
        assert!(parse_reply(b"2 x").is_err());
    }
}
