//! What a device (or a window of a disk image) holds, probed with libblkid through `blkid -p`,
//! the same library Ignition uses.

use std::path::Path;
use std::process::Command;

/// A signature found on a device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// blkid's TYPE (`ext4`, `vfat`, `swap`, …), or `<PTTYPE> partition table`.
    pub fs_type: String,
    pub label: String,
    pub uuid: String,
}

/// Where to probe: a whole device or file, or `size` bytes at `offset` in it (a partition of a
/// disk image, or one that the plan is about to create).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window<'a> {
    pub path: &'a Path,
    pub offset: Option<(u64, u64)>,
}

/// Undo blkid's export escaping (a backslash before special characters).
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_export(text: &str) -> Option<Found> {
    let mut found = Found::default();
    let mut pttype = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = unescape(v);
        match k {
            "TYPE" => found.fs_type = v,
            "LABEL" => found.label = v,
            "UUID" => found.uuid = v,
            "PTTYPE" => pttype = Some(v),
            _ => {}
        }
    }
    if found.fs_type.is_empty() {
        found.fs_type = format!("{} partition table", pttype?);
    }
    Some(found)
}

/// Probe a window. `Ok(None)`: no signature at all.
pub fn probe(w: &Window) -> Result<Option<Found>, String> {
    let mut cmd = Command::new("blkid");
    cmd.args(["-p", "-o", "export"]);
    if let Some((offset, size)) = w.offset {
        cmd.args(["-O", &offset.to_string(), "-S", &size.to_string()]);
    }
    cmd.arg(w.path);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run blkid on {:?}: {e}", w.path))?;
    match out.status.code() {
        Some(0) => Ok(parse_export(&String::from_utf8_lossy(&out.stdout))),
        Some(2) => Ok(None),
        // Ambivalent: several signatures. Ignition then takes the first one libblkid finds and
        // warns; wipefs lists them in probing order.
        Some(8) if w.offset.is_none() => {
            log::warn!("{:?}: found multiple filesystem types", w.path);
            first_signature(w.path)
        }
        _ => Err(format!(
            "blkid failed on {:?}{}: {}",
            w.path,
            w.offset
                .map(|(o, s)| format!(" (offset {o}, size {s})"))
                .unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

fn first_signature(path: &Path) -> Result<Option<Found>, String> {
    // `-p` prints raw comma-separated columns; the label goes last so that a comma in it
    // cannot shift the other columns.
    let out = Command::new("wipefs")
        .args([
            "--no-act",
            "--noheadings",
            "--parsable",
            "-O",
            "UUID,TYPE,LABEL",
        ])
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run wipefs on {path:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "wipefs failed on {path:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().next().map(parse_wipefs_line))
}

/// One `wipefs -p -O UUID,TYPE,LABEL` line; libsmartcols writes unsafe bytes as `\xNN`.
fn parse_wipefs_line(line: &str) -> Found {
    let mut f = line.splitn(3, ',').map(unhex);
    Found {
        uuid: f.next().unwrap_or_default(),
        fs_type: f.next().unwrap_or_default(),
        label: f.next().unwrap_or_default(),
    }
}

fn unhex(v: &str) -> String {
    let mut out = Vec::with_capacity(v.len());
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 2..i + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], bytes.get(i + 1), hex) {
            (b'\\', Some(b'x'), Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blkid_export() {
        let f = parse_export("DEVNAME=x\nLABEL=my\\ data\nUUID=2E24-EC82\nTYPE=vfat\n").unwrap();
        assert_eq!(
            f,
            Found {
                fs_type: "vfat".into(),
                label: "my data".into(),
                uuid: "2E24-EC82".into()
            }
        );
        let t = parse_export("DEVNAME=x\nPTUUID=1\nPTTYPE=gpt\n").unwrap();
        assert_eq!(t.fs_type, "gpt partition table");
        assert_eq!(parse_export("DEVNAME=x\n"), None);
    }

    #[test]
    fn probes_images_and_windows() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("fs.img");
        std::fs::File::create(&img)
            .unwrap()
            .set_len(16 << 20)
            .unwrap();
        let whole = Window {
            path: &img,
            offset: None,
        };
        assert_eq!(probe(&whole), Ok(None));
        let st = Command::new("mkswap")
            .args(["-L", "sw", "-U", "4a3f6c55-4c39-4a43-8a8b-2b0a3f0e8c11"])
            .arg(&img)
            .output()
            .unwrap();
        assert!(st.status.success());
        let f = probe(&whole).unwrap().unwrap();
        assert_eq!((f.fs_type.as_str(), f.label.as_str()), ("swap", "sw"));
        assert_eq!(f.uuid, "4a3f6c55-4c39-4a43-8a8b-2b0a3f0e8c11");
        let later = Window {
            path: &img,
            offset: Some((8 << 20, 8 << 20)),
        };
        assert_eq!(probe(&later), Ok(None));
    }
    #[test]
    fn parses_wipefs_lines() {
        let f = parse_wipefs_line("2E24-EC82,vfat,my\\x20data,x");
        assert_eq!(
            (f.uuid.as_str(), f.fs_type.as_str(), f.label.as_str()),
            ("2E24-EC82", "vfat", "my data,x")
        );
        assert_eq!(parse_wipefs_line(",zfs_member,").fs_type, "zfs_member");
    }

    /// filesystem.reuse.ambivalent: ext4 with ZFS uberblocks left at the end of the device
    /// (libblkid looks for ZFS on devices of 64 MiB or more). The safe probe gives up
    /// (ambivalent); the first signature is the ext4 one.
    #[test]
    fn an_ambivalent_device_reports_its_first_signature() {
        use std::io::{Seek, SeekFrom, Write};
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("fs.img");
        let size = 64u64 << 20;
        std::fs::File::create(&img).unwrap().set_len(size).unwrap();
        let st = Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "some-label"])
            .args(["-U", "f63bf118-f6d7-40a3-b64c-a92b05a7f9ee"])
            .arg(&img)
            .output()
            .unwrap();
        assert!(st.status.success());
        let whole = Window {
            path: &img,
            offset: None,
        };
        assert_eq!(probe(&whole).unwrap().unwrap().fs_type, "ext4");
        // The last two 256 KiB ZFS labels, each with uberblocks at 128 KiB.
        let mut f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
        for label in [size - (512 << 10), size - (256 << 10)] {
            for slot in 0..8 {
                f.seek(SeekFrom::Start(label + (128 << 10) + slot * 1024))
                    .unwrap();
                f.write_all(&0x00ba_b10c_u64.to_le_bytes()).unwrap();
                f.write_all(&5000u64.to_le_bytes()).unwrap();
            }
        }
        drop(f);
        let safe = Command::new("blkid").arg("-p").arg(&img).status().unwrap();
        assert_eq!(safe.code(), Some(8), "not ambivalent");
        let found = probe(&whole).unwrap().unwrap();
        assert_eq!(
            (
                found.fs_type.as_str(),
                found.label.as_str(),
                found.uuid.as_str()
            ),
            ("ext4", "some-label", "f63bf118-f6d7-40a3-b64c-a92b05a7f9ee")
        );
    }
}
