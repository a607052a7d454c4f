//! `virtualbox`: the config is the guest property `/Ignition/Config` (set on the host with
//! `VBoxManage guestproperty set <vm> /Ignition/Config "$(cat config.ign)"`), read through the
//! guest driver's HGCM interface to the `VBoxGuestPropSvc` service (Linux UAPI
//! `linux/vboxguest.h` and `linux/vbox_vmmdev_types.h`; VirtualBox manual "Guest
//! Properties"). `/Ignition/Config/Encoding` must be absent or empty; no property is an empty
//! config. After the first boot both properties are deleted ([`delete`], run by
//! `kindling rmcfg --platform=virtualbox`).
//!
//! There is no VirtualBox host on these machines: the request layouts and reply decoding are
//! tested as pure functions; the ioctls around them are not.

use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;
use std::os::fd::AsRawFd;

const DEVICE: &str = "/dev/vboxguest";
const SERVICE: &str = "VBoxGuestPropSvc";
const CONFIG: &str = "/Ignition/Config";
const ENCODING: &str = "/Ignition/Config/Encoding";

const HDR_VERSION: u32 = 0x10001;
const HDR_SIZE: usize = 24;
/// `vbg_ioctl_driver_version_info`: header, then 16 bytes in / 20 bytes out.
const VERSION_SIZE: usize = HDR_SIZE + 20;
/// The interface version asked for and accepted (`VBG_IOC_VERSION`).
const IOC_VERSION: u32 = 0x0001_0000;
/// `vbg_ioctl_hgcm_connect`: header, then `vmmdev_hgcm_service_location` (type + 128-byte name).
const CONNECT_SIZE: usize = HDR_SIZE + 4 + 128;
/// `vbg_ioctl_hgcm_call` without its parameters.
const CALL_SIZE: usize = HDR_SIZE + 16;
/// `vmmdev_hgcm_function_parameter64` (packed).
const PARAM_SIZE: usize = 16;
const LOC_LOCALHOST_EXISTING: u32 = 2;
const PARM_32BIT: u32 = 1;
const PARM_64BIT: u32 = 2;
const PARM_LINADDR_IN: u32 = 5;
const PARM_LINADDR_OUT: u32 = 6;
const FN_GET_PROP: u32 = 1;
const FN_DEL_PROP: u32 = 4;
const VERR_BUFFER_OVERFLOW: i32 = -41;
const VERR_NOT_FOUND: i32 = -78;

/// `_IOC(_IOC_READ | _IOC_WRITE, 'V', nr, size)`.
const fn ioctl_rw(nr: u32, size: usize) -> u32 {
    (3 << 30) | ((size as u32) << 16) | ((b'V' as u32) << 8) | nr
}

pub struct VirtualBox;

impl Provider for VirtualBox {
    fn id(&self) -> &'static str {
        "virtualbox"
    }

    fn fetch(&self, _fetcher: &Fetcher, _host: &Host) -> Result<Fetched, ProviderError> {
        let session = Session::open()?;
        if let Some(encoding) = session.get(ENCODING)?.filter(|e| !e.is_empty()) {
            return Err(ProviderError::Invalid(format!(
                "unsupported {ENCODING} {:?}: leave it unset",
                String::from_utf8_lossy(&encoding)
            )));
        }
        let config = session.get(CONFIG)?.unwrap_or_else(|| {
            log::info!("no {CONFIG} guest property: continuing with an empty config");
            Vec::new()
        });
        Ok(Some(config))
    }
}

/// Delete the config properties (the rmcfg command).
pub fn delete() -> Result<(), ProviderError> {
    let session = Session::open()?;
    // The encoding first, as upstream: a config never stays behind a stale encoding.
    for name in [ENCODING, CONFIG] {
        session.delete(name)?;
    }
    Ok(())
}

fn header(size_in: usize, size_out: usize) -> Vec<u8> {
    let mut h = Vec::with_capacity(HDR_SIZE);
    for word in [size_in as u32, HDR_VERSION, 0, 0, size_out as u32, 0] {
        h.extend_from_slice(&word.to_le_bytes());
    }
    h
}

/// The driver-version handshake that opens a session, as the guest libraries do first.
pub fn version_request() -> Vec<u8> {
    let mut request = header(HDR_SIZE + 16, VERSION_SIZE);
    for word in [IOC_VERSION, IOC_VERSION, 0, 0, 0] {
        request.extend_from_slice(&word.to_le_bytes());
    }
    request
}

/// The connect request for a host service.
pub fn connect_request(service: &str) -> Vec<u8> {
    let mut request = header(CONNECT_SIZE, HDR_SIZE + 4);
    request.extend_from_slice(&LOC_LOCALHOST_EXISTING.to_le_bytes());
    let mut name = [0u8; 128];
    name[..service.len().min(127)].copy_from_slice(&service.as_bytes()[..service.len().min(127)]);
    request.extend_from_slice(&name);
    request
}

/// The header's status and, after it, the first u32 (the client id of a connect).
fn status(reply: &[u8]) -> i32 {
    i32::from_le_bytes([reply[12], reply[13], reply[14], reply[15]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// One HGCM parameter.
#[derive(Debug, Clone, Copy)]
pub enum Param {
    U32(u32),
    U64(u64),
    /// A buffer the host reads (address, size).
    In(u64, u32),
    /// A buffer the host writes.
    Out(u64, u32),
}

/// An HGCM call with its parameters, as `VBG_IOCTL_HGCM_CALL_64` takes it.
pub fn call_request(client: u32, function: u32, params: &[Param]) -> Vec<u8> {
    let size = CALL_SIZE + PARAM_SIZE * params.len();
    let mut request = header(size, size);
    request.extend_from_slice(&client.to_le_bytes());
    request.extend_from_slice(&function.to_le_bytes());
    request.extend_from_slice(&u32::MAX.to_le_bytes()); // no timeout
    request.extend_from_slice(&[1, 0]); // interruptible, reserved
    request.extend_from_slice(&(params.len() as u16).to_le_bytes());
    for param in params {
        let (kind, a, b) = match *param {
            Param::U32(v) => (PARM_32BIT, u64::from(v), 0),
            Param::U64(v) => (PARM_64BIT, v, 0),
            Param::In(addr, size) => (PARM_LINADDR_IN, u64::from(size), addr),
            Param::Out(addr, size) => (PARM_LINADDR_OUT, u64::from(size), addr),
        };
        request.extend_from_slice(&kind.to_le_bytes());
        match *param {
            Param::U32(_) | Param::U64(_) => {
                request.extend_from_slice(&a.to_le_bytes());
                request.extend_from_slice(&[0; 4]);
            }
            Param::In(..) | Param::Out(..) => {
                request.extend_from_slice(&(a as u32).to_le_bytes());
                request.extend_from_slice(&b.to_le_bytes());
            }
        }
    }
    request
}

/// A 32-bit output parameter of a call reply.
pub fn reply_u32(reply: &[u8], index: usize) -> u32 {
    u32_at(reply, CALL_SIZE + PARAM_SIZE * index + 4)
}

/// The value of a `GET_PROP` buffer: `value\0flags\0`.
pub fn property_value(buffer: &[u8], name: &str) -> Result<Vec<u8>, ProviderError> {
    let end = buffer.iter().position(|&b| b == 0).ok_or_else(|| {
        ProviderError::Invalid(format!(
            "VirtualBox guest property {name} is not NUL-terminated"
        ))
    })?;
    Ok(buffer[..end].to_vec())
}

struct Session {
    device: std::fs::File,
    client: u32,
}

impl Session {
    fn open() -> Result<Self, ProviderError> {
        let device = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(DEVICE)
            .map_err(|error| ProviderError::Read {
                path: DEVICE.into(),
                error,
            })?;
        let mut version = version_request();
        ioctl(
            &device,
            ioctl_rw(0, VERSION_SIZE),
            &mut version,
            "the driver version",
        )
        .map_err(|rc| hgcm_error("driver version", rc))?;
        let mut request = connect_request(SERVICE);
        ioctl(
            &device,
            ioctl_rw(4, CONNECT_SIZE),
            &mut request,
            "connecting to the guest property service",
        )
        .map_err(|rc| hgcm_error("service connection", rc))?;
        Ok(Session {
            client: u32_at(&request, HDR_SIZE),
            device,
        })
    }

    /// A property's value; `None` when it does not exist.
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, ProviderError> {
        let mut name_buf = name.as_bytes().to_vec();
        name_buf.push(0);
        let mut size = 1024u32;
        loop {
            let mut buffer = vec![0u8; size as usize];
            let params = [
                Param::In(name_buf.as_ptr() as u64, name_buf.len() as u32),
                Param::Out(buffer.as_mut_ptr() as u64, size),
                Param::U64(0),
                Param::U32(0),
            ];
            let mut request = call_request(self.client, FN_GET_PROP, &params);
            let code = ioctl_rw(7, request.len());
            match ioctl(&self.device, code, &mut request, name) {
                Ok(()) => return property_value(&buffer, name).map(Some),
                Err(rc) if rc == Some(VERR_NOT_FOUND) => return Ok(None),
                Err(rc) if rc == Some(VERR_BUFFER_OVERFLOW) => {
                    size = reply_u32(&request, 3).max(size * 2);
                }
                Err(rc) => return Err(hgcm_error(name, rc)),
            }
        }
    }

    fn delete(&self, name: &str) -> Result<(), ProviderError> {
        let mut name_buf = name.as_bytes().to_vec();
        name_buf.push(0);
        let params = [Param::In(name_buf.as_ptr() as u64, name_buf.len() as u32)];
        let mut request = call_request(self.client, FN_DEL_PROP, &params);
        let code = ioctl_rw(7, request.len());
        ioctl(&self.device, code, &mut request, name).map_err(|rc| hgcm_error(name, rc))
    }
}

fn hgcm_error(what: &str, rc: Option<i32>) -> ProviderError {
    match rc {
        Some(rc) => ProviderError::Invalid(format!(
            "VirtualBox guest property {what}: VBox status {rc}"
        )),
        None => ProviderError::Invalid(format!(
            "VirtualBox guest property {what}: {}",
            std::io::Error::last_os_error()
        )),
    }
}

/// Run an ioctl on `request`; `Err(Some(rc))` for a VBox status, `Err(None)` for errno.
fn ioctl(
    device: &std::fs::File,
    code: u32,
    request: &mut [u8],
    what: &str,
) -> Result<(), Option<i32>> {
    // SAFETY: `request` is a complete, correctly sized request for `code`, and the buffers it
    // points to outlive the call.
    let rc = unsafe {
        libc::ioctl(
            device.as_raw_fd(),
            code as libc::c_ulong,
            request.as_mut_ptr(),
        )
    };
    if rc < 0 {
        log::debug!("vboxguest ioctl for {what} failed");
        return Err(None);
    }
    match status(request) {
        0 => Ok(()),
        rc => Err(Some(rc)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_the_kernel_layouts() {
        // VBG_IOCTL_HGCM_CONNECT as the kernel header computes it.
        assert_eq!(ioctl_rw(4, CONNECT_SIZE), 0xc09c_5604);
        let connect = connect_request(SERVICE);
        assert_eq!(connect.len(), CONNECT_SIZE);
        assert_eq!(u32_at(&connect, 0), CONNECT_SIZE as u32);
        assert_eq!(u32_at(&connect, 4), HDR_VERSION);
        assert_eq!(u32_at(&connect, 16), 28, "header plus the client id");
        assert_eq!(u32_at(&connect, 24), LOC_LOCALHOST_EXISTING);
        assert_eq!(&connect[28..28 + SERVICE.len() + 1], b"VBoxGuestPropSvc\0");

        let call = call_request(
            9,
            FN_GET_PROP,
            &[
                Param::In(0x1000, 17),
                Param::Out(0x2000, 1024),
                Param::U64(0),
                Param::U32(0),
            ],
        );
        assert_eq!(call.len(), 40 + 4 * 16);
        assert_eq!(u32_at(&call, 24), 9);
        assert_eq!(u32_at(&call, 28), FN_GET_PROP);
        assert_eq!(&call[38..40], &4u16.to_le_bytes());
        // The first parameter: type, size, then the 64-bit address.
        assert_eq!(u32_at(&call, 40), PARM_LINADDR_IN);
        assert_eq!(u32_at(&call, 44), 17);
        assert_eq!(&call[48..56], &0x1000u64.to_le_bytes());
        assert_eq!(u32_at(&call, 56), PARM_LINADDR_OUT);
    }

    #[test]
    fn the_version_handshake_has_the_kernel_layout() {
        // VBG_IOCTL_DRIVER_VERSION_INFO as the kernel header computes it.
        assert_eq!(ioctl_rw(0, VERSION_SIZE), 0xc02c_5600);
        let v = version_request();
        assert_eq!(v.len(), VERSION_SIZE);
        assert_eq!((u32_at(&v, 0), u32_at(&v, 16)), (40, 44));
        assert_eq!((u32_at(&v, 24), u32_at(&v, 28)), (IOC_VERSION, IOC_VERSION));
    }

    #[test]
    fn replies_are_decoded() {
        let mut reply = call_request(1, FN_GET_PROP, &[Param::U32(0); 4]);
        reply[12..16].copy_from_slice(&VERR_BUFFER_OVERFLOW.to_le_bytes());
        reply[CALL_SIZE + 3 * PARAM_SIZE + 4..][..4].copy_from_slice(&5000u32.to_le_bytes());
        assert_eq!(status(&reply), VERR_BUFFER_OVERFLOW);
        assert_eq!(reply_u32(&reply, 3), 5000);
        assert_eq!(
            property_value(b"{\"a\":1}\0RDONLYGUEST\0", CONFIG).unwrap(),
            b"{\"a\":1}"
        );
        assert_eq!(property_value(b"\0\0", CONFIG).unwrap(), b"");
        assert!(property_value(b"{}", CONFIG).is_err());
    }
}
