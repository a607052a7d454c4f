//! Reading a LUKS header without libcryptsetup or device-mapper: enough to plan (is it LUKS,
//! which version, label, UUID, persistent flags, tokens) on a device or an image file.

use serde_json::Value;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const MAGIC: &[u8; 6] = b"LUKS\xba\xbe";
/// Offsets in the LUKS2 binary header.
const LABEL: std::ops::Range<usize> = 24..72;
const UUID: std::ops::Range<usize> = 168..208;
const BINARY_SIZE: u64 = 4096;
/// The largest LUKS2 header (binary + JSON area) the spec allows.
const MAX_HEADER: u64 = 4 << 20;

/// What the start of a device says about LUKS.
#[derive(Debug, Clone, PartialEq)]
pub enum Header {
    /// No LUKS magic.
    None,
    /// A LUKS1 volume (Ignition cannot reuse those).
    Luks1,
    Luks2(Luks2),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Luks2 {
    pub label: String,
    pub uuid: String,
    /// The JSON metadata (`config.flags`, `tokens`, `keyslots`, …).
    pub metadata: Value,
}

impl Luks2 {
    /// Activation flags stored in the header (`allow-discards`, …).
    pub fn persistent_flags(&self) -> Vec<String> {
        self.metadata["config"]["flags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Token objects of the given `type`.
    pub fn tokens(&self, kind: &str) -> Vec<&Value> {
        self.metadata["tokens"]
            .as_object()
            .map(|t| t.values().filter(|v| v["type"] == kind).collect())
            .unwrap_or_default()
    }
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Read the header of `path` (a block device or an image), `offset` bytes into it.
pub fn read(path: &Path, offset: u64) -> Result<Header, String> {
    let what = || format!("reading the LUKS header of {}", path.display());
    let mut file = File::open(path).map_err(|e| format!("{}: {e}", what()))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| format!("{}: {e}", what()))?;
    let mut binary = vec![0u8; BINARY_SIZE as usize];
    match file.read_exact(&mut binary) {
        Ok(()) => {}
        // Too small to hold a header: certainly not LUKS.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(Header::None),
        Err(e) => return Err(format!("{}: {e}", what())),
    }
    if &binary[..6] != MAGIC {
        return Ok(Header::None);
    }
    match u16::from_be_bytes([binary[6], binary[7]]) {
        1 => return Ok(Header::Luks1),
        2 => {}
        v => return Err(format!("{}: unknown LUKS version {v}", what())),
    }
    let mut size = [0u8; 8];
    size.copy_from_slice(&binary[8..16]);
    let hdr_size = u64::from_be_bytes(size);
    if !(BINARY_SIZE + 1..=MAX_HEADER).contains(&hdr_size) {
        return Err(format!("{}: implausible header size {hdr_size}", what()));
    }
    let mut json = vec![0u8; (hdr_size - BINARY_SIZE) as usize];
    file.read_exact(&mut json)
        .map_err(|e| format!("{}: {e}", what()))?;
    let metadata: Value = serde_json::from_str(&c_string(&json))
        .map_err(|e| format!("{}: metadata is not JSON: {e}", what()))?;
    Ok(Header::Luks2(Luks2 {
        label: c_string(&binary[LABEL]),
        uuid: c_string(&binary[UUID]),
        metadata,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn blank_short_and_foreign_data_are_not_luks() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, b"LUKS\xba\xbe").unwrap();
        assert_eq!(read(&short, 0).unwrap(), Header::None);
        let blank = dir.path().join("blank");
        std::fs::write(&blank, vec![0u8; 8192]).unwrap();
        assert_eq!(read(&blank, 0).unwrap(), Header::None);
        let luks1 = dir.path().join("luks1");
        let mut f = std::fs::File::create(&luks1).unwrap();
        f.write_all(b"LUKS\xba\xbe\x00\x01").unwrap();
        f.write_all(&[0u8; 8192]).unwrap();
        assert_eq!(read(&luks1, 0).unwrap(), Header::Luks1);
    }
}
