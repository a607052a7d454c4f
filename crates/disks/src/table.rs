//! The GPT of one disk or disk image, read and written with the `gpt` crate.
//!
//! The `gpt` crate's own `GptDisk::write` packs used entries at the front of the entry array,
//! which would renumber partitions (the slot *is* the partition number). So this module uses the
//! crate for parsing, header building, checksums and entry encoding, and writes every entry into
//! its own slot itself.

use gpt::disk::LogicalBlockSize;
use gpt::header::{Header, HeaderBuilder};
use gpt::mbr::ProtectiveMBR;
use gpt::partition::Partition;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use uuid::Uuid;

/// The type GUID sgdisk gives a new partition when none is configured (Linux filesystem).
pub const DEFAULT_TYPE_GUID: Uuid = Uuid::from_u128(0x0FC63DAF_8483_4772_8E79_3D69D8477DE4);

/// One used GPT entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub type_guid: Uuid,
    pub guid: Uuid,
    /// First and last sector, inclusive, in logical sectors.
    pub first: u64,
    pub last: u64,
    pub name: String,
    pub flags: u64,
}

impl Entry {
    pub fn size(&self) -> u64 {
        self.last + 1 - self.first
    }
}

/// A GPT as it is or as it will be written.
#[derive(Debug, Clone)]
pub struct Table {
    pub sector_size: u64,
    pub first_usable: u64,
    pub last_usable: u64,
    /// Used entries by partition number (1-based slot).
    pub entries: BTreeMap<u32, Entry>,
    /// Number of slots in the entry array (128 unless the table says otherwise).
    pub slots: u32,
    /// The primary header read from the disk; `None` for a table that does not exist yet.
    header: Option<Header>,
    disk_guid: Uuid,
}

/// What a disk holds where a GPT would be.
#[derive(Debug, Clone)]
pub enum Existing {
    /// No partition table at all (a blank disk, or a filesystem on the whole disk).
    Nothing,
    Gpt(Table),
    /// An MBR partition table (or another non-GPT layout Kindling cannot partition).
    NotGpt,
    /// A protective MBR but no valid GPT header (corrupted table).
    Corrupt,
}

fn block_size(sector_size: u64) -> io::Result<LogicalBlockSize> {
    LogicalBlockSize::try_from(sector_size)
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// The logical sector size of an image file: where a GPT header sits, else `fallback`.
pub fn detect_sector_size(file: &mut File, fallback: u64) -> io::Result<u64> {
    for size in [512u64, 4096] {
        let mut sig = [0u8; 8];
        file.seek(SeekFrom::Start(size))?;
        if file.read_exact(&mut sig).is_ok() && &sig == b"EFI PART" {
            return Ok(size);
        }
    }
    Ok(fallback)
}

/// Total size of a file or block device in bytes.
pub fn device_bytes(file: &mut File) -> io::Result<u64> {
    let size = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    Ok(size)
}

impl Table {
    /// An empty table laid out as sgdisk lays out a new one (128 slots).
    pub fn new(sector_size: u64, total_sectors: u64) -> io::Result<Table> {
        let disk_guid = Uuid::new_v4();
        let header = HeaderBuilder::new()
            .backup_lba(total_sectors.saturating_sub(1))
            .disk_guid(disk_guid)
            .build(block_size(sector_size)?)
            .map_err(other)?;
        Ok(Table {
            sector_size,
            first_usable: header.first_usable,
            last_usable: header.last_usable,
            entries: BTreeMap::new(),
            slots: header.num_parts,
            header: None,
            disk_guid,
        })
    }

    /// Read what `file` holds, with the given logical sector size.
    pub fn read(file: &mut File, sector_size: u64) -> io::Result<Existing> {
        let lb = block_size(sector_size)?;
        let mut mbr = [0u8; 512];
        file.seek(SeekFrom::Start(0))?;
        file.read_exact(&mut mbr)?;
        let has_mbr = mbr[510] == 0x55 && mbr[511] == 0xAA;
        // Partition records start at 446; byte 4 of each record is its type.
        let types: Vec<u8> = (0..4).map(|i| mbr[446 + 16 * i + 4]).collect();
        let protective = has_mbr && types.contains(&0xEE);

        let dup = file.try_clone()?;
        let gpt = gpt::GptConfig::new()
            .writable(false)
            .logical_block_size(lb)
            .open_from_device(dup);
        let disk = match gpt {
            Ok(disk) => disk,
            Err(_) if protective => return Ok(Existing::Corrupt),
            Err(_) if has_mbr && types.iter().any(|t| *t != 0) => return Ok(Existing::NotGpt),
            Err(_) => return Ok(Existing::Nothing),
        };
        let header = disk.header().clone();
        let entries = disk
            .partitions()
            .iter()
            .filter(|(_, p)| p.is_used())
            .map(|(n, p)| {
                (
                    *n,
                    Entry {
                        type_guid: p.part_type_guid.guid,
                        guid: p.part_guid,
                        first: p.first_lba,
                        last: p.last_lba,
                        name: p.name.clone(),
                        flags: p.flags,
                    },
                )
            })
            .collect();
        Ok(Existing::Gpt(Table {
            sector_size,
            first_usable: header.first_usable,
            last_usable: header.last_usable,
            entries,
            slots: header.num_parts,
            disk_guid: header.disk_guid,
            header: Some(header),
        }))
    }

    /// Write the whole table: both entry arrays slot by slot, both headers, and a protective
    /// MBR when the disk had no GPT before.
    pub fn write(&self, file: &mut File) -> io::Result<()> {
        let lb = block_size(self.sector_size)?;
        let total = device_bytes(file)? / self.sector_size;
        let mut builder = match &self.header {
            Some(h) => HeaderBuilder::from_header(h),
            None => {
                let mut b = HeaderBuilder::new();
                b.backup_lba(total.saturating_sub(1))
                    .disk_guid(self.disk_guid);
                b
            }
        };
        let mut primary = builder.primary(true).build(lb).map_err(other)?;
        let mut backup = HeaderBuilder::from_header(&primary)
            .primary(false)
            .build(lb)
            .map_err(other)?;
        for array_start in [primary.part_start, backup.part_start] {
            Partition::write_zero_entries_to_device(
                file,
                0,
                u64::from(primary.num_parts),
                array_start,
                lb,
                primary.part_size,
            )?;
            for (number, entry) in &self.entries {
                let slot = u64::from(number.checked_sub(1).ok_or_else(|| other("slot 0"))?);
                let part = Partition {
                    part_type_guid: entry.type_guid.into(),
                    part_guid: entry.guid,
                    first_lba: entry.first,
                    last_lba: entry.last,
                    flags: entry.flags,
                    name: entry.name.clone(),
                };
                part.write_to_device(file, slot, array_start, lb, primary.part_size)?;
            }
        }
        primary.write_primary(file, lb).map_err(other)?;
        backup.write_backup(file, lb).map_err(other)?;
        if self.header.is_none() {
            let sectors = u32::try_from(total.saturating_sub(1)).unwrap_or(u32::MAX);
            ProtectiveMBR::with_lb_size(sectors)
                .overwrite_lba0(file)
                .map_err(other)?;
        }
        file.flush()?;
        file.sync_all()
    }
}

/// Erase every partition table on the disk as `sgdisk --zap-all` does: the MBR, the primary
/// GPT header and entries at the start, and the backup entries and header at the end.
pub fn zap(file: &mut File, sector_size: u64) -> io::Result<()> {
    let total = device_bytes(file)?;
    // MBR + header + 16 KiB of entries at the start; entries + header at the end.
    let head = (2 * sector_size + 16384).min(total);
    let tail = (sector_size + 16384).min(total);
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&vec![0u8; head as usize])?;
    file.seek(SeekFrom::Start(total - tail))?;
    file.write_all(&vec![0u8; tail as usize])?;
    file.flush()?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    pub(crate) fn image(dir: &std::path::Path, name: &str, mib: u64) -> std::path::PathBuf {
        let path = dir.join(name);
        let f = File::create(&path).unwrap();
        f.set_len(mib << 20).unwrap();
        path
    }

    fn rw(path: &std::path::Path) -> File {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap()
    }

    fn entry(first: u64, last: u64, name: &str) -> Entry {
        Entry {
            type_guid: DEFAULT_TYPE_GUID,
            guid: Uuid::new_v4(),
            first,
            last,
            name: name.into(),
            flags: 0,
        }
    }

    #[test]
    fn keeps_partition_numbers_in_their_slots() {
        for ss in [512u64, 4096] {
            let dir = tempfile::tempdir().unwrap();
            let path = image(dir.path(), "d.img", 64);
            let mut f = rw(&path);
            let mut t = Table::new(ss, (64 << 20) / ss).unwrap();
            let mib = (1 << 20) / ss;
            t.entries.insert(9, entry(mib, 2 * mib - 1, "ROOT"));
            t.entries.insert(2, entry(4 * mib, 6 * mib - 1, "two"));
            t.write(&mut f).unwrap();
            assert_eq!(detect_sector_size(&mut f, 0).unwrap(), ss);
            let Existing::Gpt(back) = Table::read(&mut f, ss).unwrap() else {
                panic!("no GPT read back")
            };
            assert_eq!(back.entries, t.entries);
            assert_eq!(back.first_usable, t.first_usable);
        }
    }

    #[test]
    fn zap_leaves_nothing_and_mbr_only_is_not_gpt() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(dir.path(), "d.img", 8);
        let mut f = rw(&path);
        let mut t = Table::new(512, (8 << 20) / 512).unwrap();
        t.entries.insert(1, entry(2048, 4095, "a"));
        t.write(&mut f).unwrap();
        zap(&mut f, 512).unwrap();
        assert!(matches!(
            Table::read(&mut f, 512).unwrap(),
            Existing::Nothing
        ));
        // A DOS table: signature plus one Linux (0x83) record.
        let mut mbr = [0u8; 512];
        mbr[446 + 4] = 0x83;
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write_all(&mbr).unwrap();
        assert!(matches!(
            Table::read(&mut f, 512).unwrap(),
            Existing::NotGpt
        ));
    }
}
