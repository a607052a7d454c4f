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
    let out = Command::new("wipefs")
        .args(["--no-act", "--noheadings", "--raw", "-O", "TYPE,LABEL,UUID"])
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
    Ok(text.lines().next().map(|l| {
        let mut f = l.split(' ').map(|s| s.replace("\\x20", " "));
        Found {
            fs_type: f.next().unwrap_or_default(),
            label: f.next().unwrap_or_default(),
            uuid: f.next().unwrap_or_default(),
        }
    }))
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
}
