//! Scenarios are data: one JSON file per scenario under `qemu/scenarios/` (format in
//! `qemu/scenarios/README.md`).

use crate::host::Result;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scenario {
    #[serde(skip)]
    pub name: String,
    #[serde(skip)]
    pub dir: PathBuf,
    pub description: String,
    /// Config passed through QEMU fw_cfg (`opt/com.coreos/config`), a path relative to the
    /// scenario file. Absent: nothing in fw_cfg.
    #[serde(default)]
    pub fw_cfg_config: Option<String>,
    /// `ignition.platform.id`.
    #[serde(default = "default_platform")]
    pub platform: String,
    /// Extra kernel arguments for every boot.
    #[serde(default)]
    pub kargs: Vec<String>,
    /// Extra disks, attached in order as /dev/vdb, /dev/vdc, …
    #[serde(default)]
    pub disks: Vec<Disk>,
    /// Symlinks made in the root image before the first boot: path → target.
    #[serde(default)]
    pub root_links: BTreeMap<String, String>,
    /// Loopback servers the guest reaches.
    #[serde(default)]
    pub serve: Serve,
    /// Attach a software TPM (swtpm) kept across the scenario's boots.
    #[serde(default)]
    pub tpm: bool,
    /// Guest TCP ports forwarded from 127.0.0.1 on the host: host port → guest port.
    #[serde(default)]
    pub hostfwd: BTreeMap<u16, u16>,
    /// Boots in order, on the same disks.
    pub boots: Vec<Boot>,
}

fn default_platform() -> String {
    "qemu".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Disk {
    /// Size in MiB of a blank disk (required without `image`) or of a `vfat` image (default
    /// `VFAT_DEFAULT_MIB`).
    #[serde(default)]
    pub size_mib: Option<u64>,
    /// Optional `sfdisk` script applied to the blank disk before the first boot.
    #[serde(default)]
    pub layout: Option<String>,
    /// A filesystem image built from files when the scenario starts (config drives).
    #[serde(default)]
    pub image: Option<DiskImage>,
    /// Attach as a read-only CD-ROM (`/dev/sr0`, … on virtio-scsi) instead of a virtio disk.
    #[serde(default)]
    pub cdrom: bool,
    /// Filesystems made on the host and copied into this blank disk (after its layout).
    #[serde(default)]
    pub filesystems: Vec<crate::runner::disk_fill::Preload>,
    /// Overwrite the start of this blank disk (MBR, GPT header) with noise after its layout.
    #[serde(default)]
    pub corrupt_table: bool,
    /// Logical sector size of a blank disk: 512 (default) or 4096.
    #[serde(default)]
    pub sector_size: Option<u64>,
}

/// Size of a `vfat` image when the scenario gives none.
pub const VFAT_DEFAULT_MIB: u64 = 4;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DiskImage {
    pub kind: ImageKind,
    /// Filesystem label (`config-2`, `cidata`, …).
    pub label: String,
    /// Path on the image → file relative to the scenario file.
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageKind {
    /// Made with `xorriso -as mkisofs` (Rock Ridge and Joliet names).
    Iso9660,
    /// Made with `mkfs.vfat` and filled with `mcopy`.
    Vfat,
    /// UDF 1.02 (with an ISO 9660 bridge) made with `genisoimage -udf`, as Azure's
    /// provisioning CD-ROM.
    Udf,
}

impl Disk {
    /// What is wrong with this entry, if anything.
    fn problem(&self) -> Option<&'static str> {
        match (&self.image, self.size_mib) {
            (None, None) => Some("a blank disk needs sizeMib"),
            (None, _) if self.cdrom => Some("a CD-ROM needs an image"),
            (Some(_), _) if self.layout.is_some() => Some("an image disk takes no layout"),
            (Some(_), _) if !self.filesystems.is_empty() => {
                Some("an image disk takes no filesystems")
            }
            (Some(_), _) if self.corrupt_table => Some("an image disk takes no corruptTable"),
            (Some(_), _) if self.sector_size.is_some() => Some("an image disk takes no sectorSize"),
            (None, _) if !matches!(self.sector_size, None | Some(512) | Some(4096)) => {
                Some("sectorSize is 512 or 4096")
            }
            // sfdisk 2.38 writes 512-byte-sector tables into files only.
            (None, _)
                if self.sector_size == Some(4096)
                    && (self.layout.is_some() || !self.filesystems.is_empty()) =>
            {
                Some("a 4096-byte-sector disk starts blank: no layout or filesystems")
            }
            (Some(i), Some(_)) if matches!(i.kind, ImageKind::Iso9660 | ImageKind::Udf) => {
                Some("an iso9660 or udf image is sized by its files: no sizeMib")
            }
            _ => self.filesystems.iter().find_map(|f| f.problem()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Serve {
    /// Files served over HTTP at `http://10.0.2.100/<path>`: URL path → file (relative to the
    /// scenario file).
    #[serde(default)]
    pub http: BTreeMap<String, String>,
    /// Seconds after the VM starts before the HTTP server accepts connections (until then the
    /// guest sees connections refused).
    #[serde(default)]
    pub http_delay_secs: u64,
    /// Files served by QEMU's built-in TFTP server at `tftp://10.0.2.2/<name>`.
    #[serde(default)]
    pub tftp: BTreeMap<String, String>,
    /// A tang server (`tangd` with the test keys of `qemu/tang-keys/`) at
    /// `http://10.0.2.101/`.
    #[serde(default)]
    pub tang: bool,
    /// Azure's IMDS (169.254.169.254) and wireserver (168.63.129.16) stand-ins
    /// (`crate::metadata`); the guest network is then `metadata::NETWORK`.
    #[serde(default)]
    pub azure: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Boot {
    /// `ignition.firstboot` on the kernel command line.
    pub firstboot: bool,
    /// Extra kernel arguments for this boot only.
    #[serde(default)]
    pub kargs: Vec<String>,
    /// Seconds before the boot counts as hung.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// The tang server is down for this boot (connections closed unanswered).
    #[serde(default)]
    pub tang_down: bool,
    pub expect: Expect,
}

fn default_timeout() -> u64 {
    300
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expect {
    /// Files in the booted system (or, after a failure, in the root disk image).
    #[serde(default)]
    pub files: BTreeMap<String, FileExpect>,
    /// Unit name → expected `ActiveState` (e.g. "active", "inactive").
    #[serde(default)]
    pub units: BTreeMap<String, String>,
    #[serde(default)]
    pub users: BTreeMap<String, UserExpect>,
    /// Disk (e.g. /dev/vdb) → its partitions, in table order.
    #[serde(default)]
    pub partitions: BTreeMap<String, Vec<PartitionExpect>>,
    /// Mount point → expected source device and filesystem type.
    #[serde(default)]
    pub mounts: BTreeMap<String, MountExpect>,
    /// Words that must (`present`) or must not (`absent`) be on the booted kernel command line.
    #[serde(default)]
    pub kernel_args: Option<KernelArgsExpect>,
    /// Whether the provisioning stages ran on this boot.
    #[serde(default)]
    pub stages_ran: Option<bool>,
    /// The boot must stop in emergency mode with this failure summary.
    #[serde(default)]
    pub failure: Option<FailureExpect>,
    /// Requests that must have reached the metadata stand-ins during this boot.
    #[serde(default)]
    pub requests: Vec<crate::metadata::RequestExpect>,
    /// Every scenario disk (not the root) is byte-identical after this boot (`cksum`).
    #[serde(default)]
    pub disks_unchanged: bool,
    /// Device → what `blkid -p` finds on it (`"type": ""`: no signature at all).
    #[serde(default)]
    pub filesystems: BTreeMap<String, FsExpect>,
    /// Stages (`disks`, …) whose start and end times the guest reports (kept in
    /// `stage-times-<boot>.json`, read by `cargo xtask bench --vm`).
    #[serde(default)]
    pub stage_times: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FsExpect {
    #[serde(default, rename = "type")]
    pub fs_type: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    /// Compared case-insensitively.
    #[serde(default)]
    pub uuid: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileExpect {
    #[serde(default)]
    pub absent: bool,
    /// Exact content.
    #[serde(default)]
    pub content: Option<String>,
    /// Text the content must contain.
    #[serde(default)]
    pub contains: Vec<String>,
    /// Octal permission bits, e.g. "644".
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub gid: Option<u32>,
    /// "regular_file", "directory" or "link".
    #[serde(default)]
    pub kind: Option<String>,
    /// Symbolic link target.
    #[serde(default)]
    pub target: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserExpect {
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub home: Option<String>,
    #[serde(default)]
    pub shell: Option<String>,
    /// Groups the user must be in (others allowed).
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PartitionExpect {
    pub number: u32,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub size_mib: Option<u64>,
    #[serde(default)]
    pub start_mib: Option<u64>,
    /// Partition type GUID (case-insensitive).
    #[serde(default)]
    pub type_guid: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MountExpect {
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub fstype: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KernelArgsExpect {
    #[serde(default)]
    pub present: Vec<String>,
    #[serde(default)]
    pub absent: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FailureExpect {
    /// The stage the summary names, e.g. "fetch-offline".
    pub stage: String,
    /// Text the console summary must contain.
    #[serde(default)]
    pub contains: Vec<String>,
    /// Text that must be anywhere on this boot's console (with
    /// `systemd.journald.forward_to_console=1` the stages' logs are there too).
    #[serde(default)]
    pub console: Vec<String>,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read scenario {}: {e}", path.display()))?;
        let mut s: Scenario =
            serde_json::from_str(&text).map_err(|e| format!("scenario {}: {e}", path.display()))?;
        s.name = path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        s.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if s.boots.is_empty() {
            return Err(format!("scenario {}: no boots", path.display()));
        }
        if s.serve.azure && !(s.serve.http.is_empty() && s.serve.tftp.is_empty() && !s.serve.tang) {
            return Err(format!(
                "scenario {}: the azure stand-ins change the guest network: no http, tftp or tang",
                path.display()
            ));
        }
        if !s.serve.tang && s.boots.iter().any(|b| b.tang_down) {
            return Err(format!(
                "scenario {}: tangDown needs \"serve\": {{\"tang\": true}}",
                path.display()
            ));
        }
        for (i, disk) in s.disks.iter().enumerate() {
            if let Some(problem) = disk.problem() {
                return Err(format!(
                    "scenario {}: disk {}: {problem}",
                    path.display(),
                    i + 1
                ));
            }
        }
        Ok(s)
    }

    pub fn hostfwd(&self) -> Vec<(u16, u16)> {
        self.hostfwd.iter().map(|(h, g)| (*h, *g)).collect()
    }

    /// A file the scenario refers to, relative to the scenario file.
    pub fn file(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
}

/// All scenarios in `dir`, or the named ones, in name order.
pub fn load_all(dir: &Path, names: &[String]) -> Result<Vec<Scenario>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    if !names.is_empty() {
        for n in names {
            if !paths
                .iter()
                .any(|p| p.file_stem().is_some_and(|s| s == n.as_str()))
            {
                return Err(format!("no scenario named {n} in {}", dir.display()));
            }
        }
        paths.retain(|p| {
            p.file_stem()
                .is_some_and(|s| names.iter().any(|n| s == n.as_str()))
        });
    }
    paths.iter().map(|p| Scenario::load(p)).collect()
}

/// The collector's request: one "<kind> <argument>" line per thing to report.
pub fn checks(expect: &Expect) -> String {
    let mut lines = Vec::new();
    for path in expect.files.keys() {
        lines.push(format!("file {path}"));
    }
    for unit in expect.units.keys() {
        lines.push(format!("unit {unit}"));
    }
    for user in expect.users.keys() {
        lines.push(format!("user {user}"));
    }
    for disk in expect.partitions.keys() {
        lines.push(format!("disk {disk}"));
    }
    for mount in expect.mounts.keys() {
        lines.push(format!("mount {mount}"));
    }
    for dev in expect.filesystems.keys() {
        lines.push(format!("fs {dev}"));
    }
    for stage in &expect.stage_times {
        lines.push(format!("stagetime {stage}"));
    }
    if expect.stages_ran.is_some() {
        for stage in ["fetch-offline", "files"] {
            lines.push(format!("stage {stage}"));
        }
    }
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A typo in any scenario file should fail `cargo test`, not a 40-minute VM run.
    #[test]
    fn every_scenario_and_the_demo_load_and_name_existing_files() {
        let root = crate::host::repo_root();
        let mut all = load_all(&root.join("qemu/scenarios"), &[]).unwrap();
        all.push(Scenario::load(&root.join("qemu/demo/demo.json")).unwrap());
        assert!(all.len() > 1);
        for s in &all {
            let referenced = s
                .fw_cfg_config
                .iter()
                .chain(s.serve.http.values())
                .chain(s.serve.tftp.values())
                .chain(
                    s.disks
                        .iter()
                        .flat_map(|d| d.image.iter().flat_map(|i| i.files.values())),
                );
            for file in referenced {
                assert!(s.file(file).is_file(), "{}: {file} is missing", s.name);
            }
        }
    }

    #[test]
    fn disk_entries_are_blank_disks_or_images() {
        let disk = |json: &str| serde_json::from_str::<Disk>(json).unwrap();
        assert_eq!(
            disk(r#"{"sizeMib": 8, "layout": "label: gpt\n"}"#).problem(),
            None
        );
        let iso =
            r#"{"image": {"kind": "iso9660", "label": "config-2", "files": {}}, "cdrom": true}"#;
        assert_eq!(disk(iso).problem(), None);
        assert!(disk(r#"{"layout": "label: gpt\n"}"#).problem().is_some());
        assert!(disk(r#"{"sizeMib": 8, "cdrom": true}"#).problem().is_some());
        let sized_iso =
            r#"{"sizeMib": 8, "image": {"kind": "iso9660", "label": "x", "files": {}}}"#;
        assert!(disk(sized_iso).problem().is_some());
        assert!(
            serde_json::from_str::<Disk>(
                r#"{"image": {"kind": "ext4", "label": "x", "files": {}}}"#
            )
            .is_err()
        );
    }

    #[test]
    fn checks_ask_for_what_is_expected() {
        let expect: Expect = serde_json::from_str(
            r#"{"files": {"/a": {}}, "units": {"u.service": "active"}, "stagesRan": false}"#,
        )
        .unwrap();
        let text = checks(&expect);
        assert!(text.contains("file /a\n"));
        assert!(text.contains("unit u.service\n"));
        assert!(text.contains("stage files\n"));
    }
}
