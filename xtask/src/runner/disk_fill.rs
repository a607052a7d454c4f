//! Filesystems pre-loaded onto a scenario's blank disks, so that the disks stage meets existing
//! filesystems (reuse, refusal, wipe, ambivalent signatures) in a VM; and the disks' checksums,
//! to prove a refused plan wrote nothing.
//!
//! The host has no partition nodes for an image file: each filesystem is made in a temporary
//! file with the real mkfs and copied into the disk image at the partition's offset (read with
//! `sfdisk -J`) by `dd conv=notrunc`.

use crate::host::{self, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One filesystem to put onto a blank scenario disk before the first boot.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Preload {
    /// Partition number in the disk's `layout`; absent: the whole disk.
    #[serde(default)]
    pub partition: Option<u32>,
    pub format: Format,
    #[serde(default)]
    pub label: Option<String>,
    /// As the config writes it (vfat: `2E24-EC82` or `2E24EC82`).
    #[serde(default)]
    pub uuid: Option<String>,
    /// Files put into the filesystem: path inside it → text (ext4, btrfs and vfat only).
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Also plant ZFS labels in the last 512 KiB: a second signature, which makes libblkid's
    /// safe probe ambivalent (upstream's `filesystem.reuse.ambivalent` fixture).
    #[serde(default)]
    pub zfs_labels: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Ext4,
    Xfs,
    Btrfs,
    Vfat,
    Swap,
    /// ZFS labels only (uberblocks in all four label copies): what libblkid calls
    /// `zfs_member`, without any ZFS tools.
    Zfs,
}

impl Preload {
    /// What is wrong with this entry, if anything.
    pub fn problem(&self) -> Option<&'static str> {
        let fills = matches!(self.format, Format::Ext4 | Format::Btrfs | Format::Vfat);
        if !self.files.is_empty() && !fills {
            return Some("files can be put into ext4, btrfs and vfat filesystems only");
        }
        if self.format == Format::Zfs && (self.label.is_some() || self.uuid.is_some()) {
            return Some("zfs labels take no label or uuid");
        }
        if self.format == Format::Zfs && self.zfs_labels {
            return Some("format zfs already is ZFS labels: no zfsLabels");
        }
        None
    }
}

/// Makes every filesystem of `preloads` inside the disk image `disk`; `scratch` is a directory
/// for temporary files (removed afterwards).
pub fn fill(disk: &Path, preloads: &[Preload], scratch: &Path) -> Result<()> {
    if preloads.is_empty() {
        return Ok(());
    }
    host::mkdir(scratch)?;
    let windows = if preloads.iter().any(|p| p.partition.is_some()) {
        partition_windows(disk)?
    } else {
        BTreeMap::new()
    };
    let disk_len = std::fs::metadata(disk)
        .map_err(|e| format!("cannot stat {}: {e}", disk.display()))?
        .len();
    for (i, p) in preloads.iter().enumerate() {
        let (offset, size) = match p.partition {
            None => (0, disk_len),
            Some(n) => *windows.get(&n).ok_or_else(|| {
                format!(
                    "filesystem {}: the layout of {} has no partition {n}",
                    i + 1,
                    disk.display()
                )
            })?,
        };
        let image = scratch.join(format!("fs{}.img", i + 1));
        let files = scratch.join(format!("fs{}-files", i + 1));
        make(p, &image, size, &files).map_err(|e| format!("filesystem {}: {e}", i + 1))?;
        copy_into(&image, disk, offset)?;
    }
    std::fs::remove_dir_all(scratch)
        .map_err(|e| format!("cannot remove {}: {e}", scratch.display()))
}

/// Partition number → (byte offset, byte size), from `sfdisk -J`.
fn partition_windows(disk: &Path) -> Result<BTreeMap<u32, (u64, u64)>> {
    let out = Command::new("sfdisk")
        .arg("-J")
        .arg(disk)
        .output()
        .map_err(|e| format!("cannot run sfdisk: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cannot read the partition table of {}: {}",
            disk.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    parse_windows(
        &String::from_utf8_lossy(&out.stdout),
        &disk.to_string_lossy(),
    )
}

fn parse_windows(json: &str, disk: &str) -> Result<BTreeMap<u32, (u64, u64)>> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("sfdisk -J output: {e}"))?;
    let table = &v["partitiontable"];
    let sector = table["sectorsize"].as_u64().unwrap_or(512);
    let mut windows = BTreeMap::new();
    for p in table["partitions"].as_array().into_iter().flatten() {
        // Nodes of an image file are the file's name followed by the number.
        let number = p["node"]
            .as_str()
            .and_then(|n| n.strip_prefix(disk))
            .and_then(|n| n.trim_start_matches('p').parse::<u32>().ok());
        if let (Some(n), Some(start), Some(size)) =
            (number, p["start"].as_u64(), p["size"].as_u64())
        {
            windows.insert(n, (start * sector, size * sector));
        }
    }
    Ok(windows)
}

/// The filesystem image for `p`, `size` bytes long.
fn make(p: &Preload, image: &Path, size: u64, staging: &Path) -> Result<()> {
    let file = std::fs::File::create(image)
        .map_err(|e| format!("cannot create {}: {e}", image.display()))?;
    file.set_len(size)
        .map_err(|e| format!("cannot size {}: {e}", image.display()))?;
    drop(file);
    if !p.files.is_empty() {
        stage_files(&p.files, staging)?;
    }
    let label = p.label.as_deref();
    let uuid = p.uuid.as_deref();
    let mut cmd;
    match p.format {
        Format::Ext4 => {
            cmd = Command::new("mkfs.ext4");
            cmd.args(["-q", "-F"]);
            opt(&mut cmd, "-L", label);
            opt(&mut cmd, "-U", uuid);
            if !p.files.is_empty() {
                cmd.arg("-d").arg(staging);
            }
        }
        Format::Xfs => {
            cmd = Command::new("mkfs.xfs");
            cmd.args(["-q", "-f"]);
            opt(&mut cmd, "-L", label);
            opt(&mut cmd, "-m", uuid.map(|u| format!("uuid={u}")).as_deref());
        }
        Format::Btrfs => {
            cmd = Command::new("mkfs.btrfs");
            cmd.args(["-q", "-f"]);
            opt(&mut cmd, "-L", label);
            opt(&mut cmd, "-U", uuid);
            if !p.files.is_empty() {
                cmd.arg("--rootdir").arg(staging);
            }
        }
        Format::Vfat => {
            cmd = Command::new("mkfs.vfat");
            opt(&mut cmd, "-n", label);
            opt(&mut cmd, "-i", uuid.map(|u| u.replace('-', "")).as_deref());
        }
        Format::Swap => {
            cmd = Command::new("mkswap");
            opt(&mut cmd, "-L", label);
            opt(&mut cmd, "-U", uuid);
        }
        Format::Zfs => return plant_zfs_labels(image, size, &[0, 1, 2, 3]),
    }
    host::run(cmd.arg(image).stdout(Stdio::null()))?;
    if p.format == Format::Vfat && !p.files.is_empty() {
        mcopy(image, staging)?;
    }
    if p.zfs_labels {
        plant_zfs_labels(image, size, &[2, 3])?;
    }
    Ok(())
}

fn opt(cmd: &mut Command, flag: &str, value: Option<&str>) {
    if let Some(v) = value {
        cmd.args([flag, v]);
    }
}

fn stage_files(files: &BTreeMap<String, String>, staging: &Path) -> Result<()> {
    host::mkdir(staging)?;
    for (inside, text) in files {
        let relative = inside.trim_start_matches('/');
        if relative.is_empty() || relative.split('/').any(|c| c == "..") {
            return Err(format!(
                "path {inside:?} must name a file inside the filesystem"
            ));
        }
        let dest = staging.join(relative);
        if let Some(parent) = dest.parent() {
            host::mkdir(parent)?;
        }
        host::write(&dest, text)?;
    }
    Ok(())
}

/// Copies everything in `staging` into the root of the vfat `image` (mtools, no mount).
pub(crate) fn mcopy(image: &Path, staging: &Path) -> Result<()> {
    let entries = std::fs::read_dir(staging)
        .map_err(|e| format!("cannot list {}: {e}", staging.display()))?;
    for entry in entries.flatten() {
        host::run(
            Command::new("mcopy")
                .env("MTOOLS_SKIP_CHECK", "1")
                .args(["-s", "-i"])
                .arg(image)
                .arg(entry.path())
                .arg("::/"),
        )?;
    }
    Ok(())
}

/// ZFS keeps four 256 KiB labels, two at the start of the device and two at the end, each with
/// an array of 1 KiB uberblocks at 128 KiB. libblkid calls a device of at least 64 MiB (ZFS's
/// smallest) `zfs_member` when it finds enough uberblock magics; a few per label are plenty.
/// `which`: label indexes 0-3.
fn plant_zfs_labels(image: &Path, size: u64, which: &[u64]) -> Result<()> {
    const LABEL: u64 = 256 << 10;
    const UBERBLOCK_MAGIC: u64 = 0x00ba_b10c;
    // SPA_VERSION_FEATURES, what current pools write.
    const VERSION: u64 = 5000;
    if size < 64 << 20 {
        return Err(format!(
            "ZFS labels need at least 64 MiB (libblkid ignores smaller devices), not {} MiB",
            size >> 20
        ));
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(image)
        .map_err(|e| format!("cannot open {}: {e}", image.display()))?;
    for &i in which {
        let label = if i < 2 {
            i * LABEL
        } else {
            size - (4 - i) * LABEL
        };
        for slot in 0..8 {
            f.seek(SeekFrom::Start(label + (128 << 10) + slot * 1024))
                .and_then(|_| f.write_all(&UBERBLOCK_MAGIC.to_le_bytes()))
                .and_then(|_| f.write_all(&VERSION.to_le_bytes()))
                .map_err(|e| format!("cannot write ZFS labels into {}: {e}", image.display()))?;
        }
    }
    Ok(())
}

/// Overwrites the first 1536 bytes of `disk` (protective MBR, GPT header, first entries) with
/// noise, as upstream's blackbox `CorruptTable` does; the backup GPT at the end stays. The noise
/// is a fixed sequence (xorshift) so that runs are comparable.
pub fn corrupt_table(disk: &Path) -> Result<()> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..1536 / 8)
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        })
        .collect();
    std::fs::OpenOptions::new()
        .write(true)
        .open(disk)
        .and_then(|mut f| f.write_all(&noise))
        .map_err(|e| format!("cannot corrupt the table of {}: {e}", disk.display()))
}

/// Copies `image` into `disk` at byte `offset`, leaving the rest of the disk as it is (and
/// the zero blocks of the image as holes).
fn copy_into(image: &Path, disk: &Path, offset: u64) -> Result<()> {
    host::run(
        Command::new("dd")
            .arg(format!("if={}", image.display()))
            .arg(format!("of={}", disk.display()))
            .args([
                "bs=1M",
                "oflag=seek_bytes",
                "conv=notrunc,sparse",
                "status=none",
            ])
            .arg(format!("seek={offset}")),
    )
}

/// Checksum and length of each disk image, in order. `cksum` (CRC-32) rather than a
/// cryptographic hash: the question is whether the guest wrote anything, nobody forges, and it
/// reads gigabytes of sparse images about 15 times faster than `sha256sum` here.
pub fn checksums(disks: &[PathBuf]) -> Result<Vec<String>> {
    if disks.is_empty() {
        return Ok(Vec::new());
    }
    let out = Command::new("cksum")
        .args(disks)
        .output()
        .map_err(|e| format!("cannot run cksum: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cksum: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    // "<crc> <length> <path>"
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect())
}

/// The disks whose checksums differ from `before`, as a problem line.
pub fn changed(disks: &[PathBuf], before: &[String]) -> Result<Option<String>> {
    let after = checksums(disks)?;
    let changed: Vec<String> = disks
        .iter()
        .zip(before.iter().zip(&after))
        .filter(|(_, (b, a))| b != a)
        .map(|(d, _)| {
            d.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    Ok((!changed.is_empty()).then(|| {
        format!(
            "disk images changed during the boot: {}",
            changed.join(", ")
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh scratch directory (xtask has no tempfile dependency), removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("xtask-fill-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            host::mkdir(&dir).unwrap();
            Scratch(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn blkid(image: &Path, offset: u64, size: u64) -> (i32, String) {
        let out = Command::new("blkid")
            .args(["-p", "-o", "export", "-O", &offset.to_string()])
            .args(["-S", &size.to_string()])
            .arg(image)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn preload(json: &str) -> Preload {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn corrupt_table_overwrites_only_the_start_the_same_way_each_time() {
        let scratch = Scratch::new("corrupt");
        let disk = scratch.path().join("disk.img");
        std::fs::write(&disk, vec![0xAAu8; 4096]).unwrap();
        corrupt_table(&disk).unwrap();
        let first = std::fs::read(&disk).unwrap();
        assert_eq!(first.len(), 4096);
        assert!(first[1536..].iter().all(|&b| b == 0xAA));
        assert!(first[..1536].iter().filter(|&&b| b == 0xAA).count() < 64);
        corrupt_table(&disk).unwrap();
        assert_eq!(std::fs::read(&disk).unwrap(), first);
    }

    #[test]
    fn filesystems_land_at_their_partitions_and_checksums_see_it() {
        let dir = Scratch::new("parts");
        let disk = dir.path().join("disk1.img");
        std::fs::File::create(&disk)
            .unwrap()
            .set_len(128 << 20)
            .unwrap();
        let mut child = Command::new("sfdisk")
            .args(["--quiet", "--no-reread", "--no-tell-kernel"])
            .arg(&disk)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"label: gpt\n,64M\n,24M\n")
            .unwrap();
        assert!(child.wait().unwrap().success());
        let windows = partition_windows(&disk).unwrap();
        assert_eq!(windows[&1], (1 << 20, 64 << 20));
        assert_eq!(windows[&2], (65 << 20, 24 << 20));

        let before = checksums(std::slice::from_ref(&disk)).unwrap();
        let preloads = [
            preload(
                r#"{"partition": 1, "format": "ext4", "label": "data",
                    "uuid": "f63bf118-f6d7-40a3-b64c-a92b05a7f9ee", "zfsLabels": true,
                    "files": {"/keep/old.txt": "planted\n"}}"#,
            ),
            preload(r#"{"partition": 2, "format": "vfat", "label": "EFI", "uuid": "2E24-EC82"}"#),
        ];
        fill(&disk, &preloads, &dir.path().join("scratch")).unwrap();
        assert!(!dir.path().join("scratch").exists());
        let problem = changed(std::slice::from_ref(&disk), &before).unwrap();
        assert!(problem.is_some_and(|p| p.contains("disk1.img")));
        let now = checksums(std::slice::from_ref(&disk)).unwrap();
        assert_eq!(changed(std::slice::from_ref(&disk), &now).unwrap(), None);

        // ext4 plus ZFS labels: ambivalent for the safe probe, both found by wipefs.
        assert_eq!(blkid(&disk, 1 << 20, 64 << 20).0, 8);
        let (rc, vfat) = blkid(&disk, 65 << 20, 24 << 20);
        assert_eq!(rc, 0);
        assert!(
            vfat.contains("TYPE=vfat") && vfat.contains("UUID=2E24-EC82"),
            "{vfat}"
        );
        assert!(vfat.contains("LABEL=EFI"), "{vfat}");
        // The GPT is intact.
        assert_eq!(partition_windows(&disk).unwrap(), windows);
        // The planted file is in the ext4 filesystem.
        let part = dir.path().join("p1.img");
        host::run(
            Command::new("dd")
                .arg(format!("if={}", disk.display()))
                .arg(format!("of={}", part.display()))
                .args(["bs=1M", "skip=1", "count=64", "status=none"]),
        )
        .unwrap();
        let cat = Command::new("debugfs")
            .args(["-R", "cat /keep/old.txt"])
            .arg(&part)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&cat.stdout), "planted\n");
    }

    #[test]
    fn zfs_labels_alone_are_a_zfs_member() {
        let dir = Scratch::new("zfs");
        let disk = dir.path().join("disk.img");
        std::fs::File::create(&disk)
            .unwrap()
            .set_len(32 << 20)
            .unwrap();
        let zfs = [preload(r#"{"format": "zfs"}"#)];
        let e = fill(&disk, &zfs, &dir.path().join("s")).unwrap_err();
        assert!(e.contains("64 MiB"), "{e}");
        std::fs::File::create(&disk)
            .unwrap()
            .set_len(64 << 20)
            .unwrap();
        fill(&disk, &zfs, &dir.path().join("s")).unwrap();
        let (rc, out) = blkid(&disk, 0, 64 << 20);
        assert_eq!(rc, 0);
        assert!(out.contains("TYPE=zfs_member"), "{out}");
    }

    #[test]
    fn entries_that_cannot_be_made_are_named() {
        assert!(
            preload(r#"{"format": "xfs", "files": {"/a": "x"}}"#)
                .problem()
                .is_some()
        );
        assert!(
            preload(r#"{"format": "zfs", "label": "x"}"#)
                .problem()
                .is_some()
        );
        assert!(
            preload(r#"{"format": "zfs", "zfsLabels": true}"#)
                .problem()
                .is_some()
        );
        assert_eq!(
            preload(r#"{"format": "btrfs", "files": {"/a": "x"}}"#).problem(),
            None
        );
        let dir = Scratch::new("bad");
        let disk = dir.path().join("d.img");
        std::fs::File::create(&disk)
            .unwrap()
            .set_len(8 << 20)
            .unwrap();
        let e = fill(
            &disk,
            &[preload(r#"{"partition": 3, "format": "ext4"}"#)],
            &dir.path().join("s"),
        )
        .unwrap_err();
        assert!(e.contains("partition table"), "{e}");
    }
}
