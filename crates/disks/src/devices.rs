//! From the config's device paths to what backs them: a block device on a running machine, or
//! an image file when planning against images; plus the facts the plan needs about each (sector
//! size, what is in use) and the names of partition nodes.

use crate::partitions::Usage;
use kindling_config::Config;
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

/// Devices the config uses that exist before this stage (not an image, not an array, mapping or
/// partition this config makes), with their config path: RAID members, LUKS devices and
/// filesystem devices. The stage waits for them as for disks before planning, since udev may
/// not have created their nodes yet when it starts (upstream waits for each one too).
pub fn to_wait_for(config: &Config, devices: &Devices) -> Vec<(String, String)> {
    let s = &config.storage;
    let partitions = || s.disks.iter().flat_map(|d| &d.partitions);
    let made_here = |dev: &str| {
        s.raid
            .iter()
            .any(|r| crate::raid::array_device(r) == dev || r.name == dev)
            || s.luks.iter().any(|l| {
                dev == format!("/dev/mapper/{}", l.name)
                    || dev == format!("/dev/disk/by-id/dm-name-{}", l.name)
            })
            || s.disks.iter().any(|d| dev.starts_with(&d.device))
            || dev
                .strip_prefix("/dev/disk/by-partlabel/")
                .is_some_and(|l| partitions().any(|p| p.label.as_deref() == Some(l)))
            || dev.strip_prefix("/dev/disk/by-partuuid/").is_some_and(|u| {
                partitions().any(|p| p.guid.as_deref().is_some_and(|g| g.eq_ignore_ascii_case(u)))
            })
    };
    let members = s.raid.iter().enumerate().flat_map(|(i, r)| {
        r.devices
            .iter()
            .map(move |d| (format!("$.storage.raid.{i}"), d.clone()))
    });
    let luks = s
        .luks
        .iter()
        .enumerate()
        .filter_map(|(i, l)| Some((format!("$.storage.luks.{i}"), l.device.clone()?)));
    let filesystems = s
        .filesystems
        .iter()
        .enumerate()
        .map(|(i, f)| (format!("$.storage.filesystems.{i}"), f.device.clone()));
    let mut seen = std::collections::BTreeSet::new();
    members
        .chain(luks)
        .chain(filesystems)
        .filter(|(_, d)| !d.is_empty() && !devices.images.contains_key(d) && !made_here(d))
        .filter(|(_, d)| seen.insert(d.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_only_for_devices_this_config_does_not_make() {
        let config: Config = serde_json::from_str(
            r#"{"storage":{
                "disks":[{"device":"/dev/vdb","partitions":[{"number":1,"label":"crypt"},
                          {"number":2,"guid":"3a1c5f2e-9b7d-4e6a-8c1b-2d3e4f5a6b7c"}]}],
                "raid":[{"name":"md0","level":"raid1","devices":["/dev/vdc","/dev/vdd"]}],
                "luks":[{"name":"a","device":"/dev/vdb1"},{"name":"b","device":"/dev/md/md0"},
                        {"name":"c","device":"/dev/disk/by-partlabel/crypt"},{"name":"d","device":"/dev/vde"},
                        {"name":"e","device":"/dev/disk/by-partlabel/other"},{"name":"f","device":"/dev/vdf"}],
                "filesystems":[{"device":"/dev/mapper/a","format":"ext4"},
                               {"device":"/dev/disk/by-partuuid/3A1C5F2E-9B7D-4E6A-8C1B-2D3E4F5A6B7C","format":"ext4"},
                               {"device":"/dev/disk/by-id/dm-name-b","format":"ext4"},
                               {"device":"/dev/vdg","format":"ext4"},
                               {"device":"/dev/vde","format":"ext4"}]}}"#,
        )
        .unwrap();
        let mut devices = Devices::default();
        devices
            .images
            .insert("/dev/vdf".into(), "/tmp/f.img".into());
        assert_eq!(
            to_wait_for(&config, &devices),
            [
                ("$.storage.raid.0", "/dev/vdc"),
                ("$.storage.raid.0", "/dev/vdd"),
                ("$.storage.luks.3", "/dev/vde"),
                ("$.storage.luks.4", "/dev/disk/by-partlabel/other"),
                ("$.storage.filesystems.3", "/dev/vdg"),
            ]
            .map(|(p, d)| (p.to_string(), d.to_string()))
        );
    }

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
