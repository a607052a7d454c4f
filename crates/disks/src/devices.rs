//! From the config's device paths to what backs them: a block device on a running machine, or
//! an image file when planning against images; plus the facts the plan needs about each (sector
//! size, what is in use) and the names of partition nodes.

use crate::partitions::Usage;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// What a configured device path stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// A block device, by its resolved `/dev` path.
    Block(PathBuf),
    /// A disk image file.
    Image(PathBuf),
}

impl Backing {
    pub fn path(&self) -> &Path {
        match self {
            Backing::Block(p) | Backing::Image(p) => p,
        }
    }
}

/// How device paths are resolved.
#[derive(Debug, Clone)]
pub struct Devices {
    /// Config device path → image file, for planning or applying against images.
    pub images: BTreeMap<String, PathBuf>,
    /// Logical sector size of images that have no GPT yet (512 or 4096).
    pub image_sector_size: u64,
}

impl Default for Devices {
    fn default() -> Self {
        Devices {
            images: BTreeMap::new(),
            image_sector_size: 512,
        }
    }
}

impl Devices {
    /// What backs `device`, or why it cannot be used.
    pub fn backing(&self, device: &str) -> Result<Backing, String> {
        if let Some(img) = self.images.get(device) {
            return Ok(Backing::Image(img.clone()));
        }
        let meta = fs::metadata(device).map_err(|e| format!("device {device:?} not found: {e}"))?;
        if meta.is_file() {
            return Ok(Backing::Image(PathBuf::from(device)));
        }
        fs::canonicalize(device)
            .map(Backing::Block)
            .map_err(|e| format!("cannot resolve {device:?}: {e}"))
    }

    /// Logical sector size: the kernel's for a block device, else the image's GPT or default.
    pub fn sector_size(&self, backing: &Backing, file: &mut fs::File) -> Result<u64, String> {
        let size = match backing {
            Backing::Block(_) => crate::kernel::logical_sector_size(file)
                .map_err(|e| format!("failed to get logical sector size: {e}"))?,
            Backing::Image(_) => crate::table::detect_sector_size(file, self.image_sector_size)
                .map_err(|e| format!("cannot read {:?}: {e}", backing.path()))?,
        };
        if size % 512 != 0 {
            return Err("logical sector size is not a multiple of 512".into());
        }
        Ok(size)
    }
}

/// The `/dev` node of partition `number` of a whole-disk node (`vdb` → `vdb3`,
/// `nvme0n1` → `nvme0n1p3`).
pub fn partition_node(disk: &Path, number: u32) -> PathBuf {
    let name = disk.to_string_lossy();
    if name.ends_with(|c: char| c.is_ascii_digit()) {
        PathBuf::from(format!("{name}p{number}"))
    } else {
        PathBuf::from(format!("{name}{number}"))
    }
}

fn sys_block(name: &str) -> PathBuf {
    Path::new("/sys/class/block").join(name)
}

fn base_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// (disk name, partition number) of a partition node, from sysfs.
pub fn partition_of(node: &Path) -> Option<(String, u32)> {
    let name = base_name(node);
    let sys = sys_block(&name);
    let number = fs::read_to_string(sys.join("partition")).ok()?;
    let parent = fs::canonicalize(&sys).ok()?.parent().map(base_name)?;
    Some((parent, number.trim().parse().ok()?))
}

fn has_holders(name: &str) -> bool {
    fs::read_dir(sys_block(name).join("holders"))
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}

/// Sources of mounts and active swap areas, resolved.
fn active_sources() -> Vec<PathBuf> {
    let mut sources = Vec::new();
    for (file, skip) in [("/proc/mounts", 0), ("/proc/swaps", 1)] {
        let text = fs::read_to_string(file).unwrap_or_default();
        for line in text.lines().skip(skip) {
            if let Some(src) = line
                .split_whitespace()
                .next()
                .filter(|s| s.starts_with('/'))
                && let Ok(p) = fs::canonicalize(src.replace("\\040", " "))
            {
                sources.push(p);
            }
        }
    }
    sources
}

/// Whether a block disk or its partitions are mounted, swapped on or held (RAID, LUKS, LVM).
/// Images are never in use.
pub fn usage(backing: &Backing) -> Usage {
    let Backing::Block(disk) = backing else {
        return Usage::default();
    };
    let name = base_name(disk);
    let mut usage = Usage {
        disk_in_use: has_holders(&name),
        ..Usage::default()
    };
    for src in active_sources() {
        if src == *disk {
            usage.disk_in_use = true;
        } else if let Some((_, n)) = partition_of(&src).filter(|(p, _)| *p == name) {
            usage.active_partitions.insert(n);
        }
    }
    if let Ok(dir) = fs::read_dir(sys_block(&name)) {
        for child in dir.flatten() {
            let child_name = child.file_name().to_string_lossy().into_owned();
            if let Ok(n) = fs::read_to_string(child.path().join("partition"))
                && has_holders(&child_name)
                && let Ok(n) = n.trim().parse()
            {
                usage.active_partitions.insert(n);
            }
        }
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_nodes_follow_kernel_naming() {
        assert_eq!(
            partition_node(Path::new("/dev/vdb"), 3),
            Path::new("/dev/vdb3")
        );
        assert_eq!(
            partition_node(Path::new("/dev/nvme0n1"), 1),
            Path::new("/dev/nvme0n1p1")
        );
        assert_eq!(
            partition_node(Path::new("/dev/loop0"), 2),
            Path::new("/dev/loop0p2")
        );
    }

    #[test]
    fn files_are_images_and_missing_devices_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("d.img");
        fs::write(&img, [0u8; 4096]).unwrap();
        let d = Devices::default();
        let p = img.to_string_lossy().into_owned();
        assert_eq!(d.backing(&p), Ok(Backing::Image(img.clone())));
        assert!(
            d.backing("/dev/does-not-exist")
                .unwrap_err()
                .contains("not found")
        );
        assert!(usage(&Backing::Image(img)).active_partitions.is_empty());
    }
}
