//! The complete list of disk actions, computed from the config and the disks as they are before
//! anything is touched. If any action would be refused, the plan carries the refusals and
//! nothing is executed.
//!
//! Phases, in the order the disks stage runs them: partitions → RAID → LUKS → filesystems.
//! LUKS volumes are planned by `kindling-luks` ([`crate::luks`]).

use crate::devices::{self, Backing, Devices};
use crate::filesystems::{self, FsAction};
use crate::luks::{self, LuksPlan};
use crate::partitions::{self, Decided, PartitionAction};
use crate::probe::{self, Found, Window};
use crate::raid;
use crate::table::{Entry, Existing, Table, device_bytes};
use kindling_config::Config;
use kindling_config::model::Filesystem;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

/// An action the plan will not take, with the config entry that asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub config_path: String,
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.config_path, self.message)
    }
}

/// One configured disk.
#[derive(Debug, Clone)]
pub struct DiskPlan {
    pub config_path: String,
    /// The device as configured.
    pub device: String,
    pub backing: Backing,
    pub sector_size: u64,
    pub wipe_table: bool,
    /// The table the partition decisions were made against (fresh after `wipeTable`).
    pub table: Table,
    /// Configured partitions in commit order.
    pub partitions: Vec<Decided>,
    /// What will be written; `None`: the table is left as it is (apart from `wipeTable`).
    pub table_after: Option<Table>,
}

impl DiskPlan {
    /// Whether executing this disk changes anything.
    pub fn changes(&self) -> bool {
        self.wipe_table || self.table_after.is_some()
    }

    /// The final table: the one to be written, or the current one.
    pub fn final_table(&self) -> &Table {
        self.table_after.as_ref().unwrap_or(&self.table)
    }

    /// How a partition of this disk is named in the plan and the log.
    pub fn partition_name(&self, number: u32) -> String {
        match &self.backing {
            Backing::Block(dev) => devices::partition_node(dev, number).display().to_string(),
            Backing::Image(_) => format!("{} partition {number}", self.device),
        }
    }

    fn modified(&self, number: u32) -> bool {
        self.wipe_table
            || self.partitions.iter().any(|d| {
                d.action.number() == number
                    && matches!(
                        d.action,
                        PartitionAction::Create { .. }
                            | PartitionAction::Recreate { .. }
                            | PartitionAction::Resize { .. }
                    )
            })
    }
}

/// One configured RAID array.
#[derive(Debug, Clone)]
pub struct RaidPlan {
    pub config_path: String,
    pub name: String,
    /// The node the array appears as.
    pub device: String,
    /// Member devices as configured.
    pub members: Vec<String>,
    pub argv: Vec<String>,
}

/// One configured filesystem (entries without a format are not planned, as upstream).
#[derive(Debug, Clone)]
pub struct FsPlan {
    pub config_path: String,
    pub fs: Filesystem,
    pub action: FsAction,
    /// Whether the device is a block device (udev, node waits) rather than an image.
    pub block: bool,
    /// What mkfs runs on: the configured device, or the image file that stands for it.
    pub target: Target,
}

/// Where a filesystem is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A device node or an image file, used whole.
    Path(PathBuf),
    /// A partition inside a disk image: (image, offset, size) in bytes, reached through a loop
    /// device when executed.
    InImage(PathBuf, u64, u64),
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub disks: Vec<DiskPlan>,
    pub raids: Vec<RaidPlan>,
    pub luks: Vec<LuksPlan>,
    pub filesystems: Vec<FsPlan>,
    pub refusals: Vec<Refusal>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.disks.is_empty()
            && self.raids.is_empty()
            && self.luks.is_empty()
            && self.filesystems.is_empty()
    }
}

/// Where a filesystem's device is, for probing it before the plan runs.
pub(crate) enum Source {
    /// A node or file as it is now.
    Whole(PathBuf),
    /// A partition of a planned disk: a window of that disk.
    InDisk(PathBuf, u64, u64),
    /// An array or a LUKS mapping this plan creates.
    Array,
}

/// Build the plan for `config` against the devices as they are now. Reads only.
pub fn build(config: &Config, devices: &Devices) -> Plan {
    let storage = &config.storage;
    let mut plan = Plan::default();
    for (i, disk) in storage.disks.iter().enumerate() {
        let config_path = format!("$.storage.disks.{i}");
        match plan_disk(disk, i, devices) {
            Ok((disk_plan, refusals)) => {
                plan.refusals
                    .extend(refusals.into_iter().map(|message| Refusal {
                        config_path: config_path.clone(),
                        message,
                    }));
                if let Some(d) = disk_plan {
                    plan.disks.push(d);
                }
            }
            Err(message) => plan.refusals.push(Refusal {
                config_path,
                message,
            }),
        }
    }
    for (i, r) in storage.raid.iter().enumerate() {
        let config_path = format!("$.storage.raid.{i}");
        let checked = raid::mdadm_command(r).and_then(|argv| {
            for member in &r.devices {
                check_member(member, &plan, devices)?;
            }
            Ok(argv)
        });
        match checked {
            Ok(argv) => plan.raids.push(RaidPlan {
                config_path,
                name: r.name.clone(),
                device: raid::array_device(r),
                members: r.devices.clone(),
                argv,
            }),
            Err(message) => plan.refusals.push(Refusal {
                config_path,
                message,
            }),
        }
    }
    for (i, l) in storage.luks.iter().enumerate() {
        match luks::plan_luks(l, i, &plan, devices) {
            Ok(p) => plan.luks.push(p),
            Err(message) => plan.refusals.push(Refusal {
                config_path: format!("$.storage.luks.{i}"),
                message,
            }),
        }
    }
    // Probing is slow (one blkid per device): probe independent devices in parallel.
    let wanted: Vec<(usize, &Filesystem)> = storage
        .filesystems
        .iter()
        .enumerate()
        .filter(|(_, fs)| !fs.format.as_deref().unwrap_or_default().is_empty())
        .collect();
    let outcomes = crate::parallel::map(&wanted, |(_, fs)| plan_filesystem(fs, &plan, devices));
    for ((i, fs), outcome) in wanted.into_iter().zip(outcomes) {
        let config_path = format!("$.storage.filesystems.{i}");
        match outcome {
            Ok((action, block, target)) => plan.filesystems.push(FsPlan {
                config_path,
                fs: fs.clone(),
                action,
                block,
                target,
            }),
            Err(message) => plan.refusals.push(Refusal {
                config_path,
                message,
            }),
        }
    }
    plan
}

type DiskOutcome = (Option<DiskPlan>, Vec<String>);

fn plan_disk(
    disk: &kindling_config::model::Disk,
    index: usize,
    devices: &Devices,
) -> Result<DiskOutcome, String> {
    let dev = &disk.device;
    let backing = devices.backing(dev)?;
    let mut file =
        File::open(backing.path()).map_err(|e| format!("cannot open {:?}: {e}", backing.path()))?;
    let sector_size = devices.sector_size(&backing, &mut file)?;
    let total =
        device_bytes(&mut file).map_err(|e| format!("cannot size {dev:?}: {e}"))? / sector_size;
    let usage = devices::usage(&backing);
    if usage.disk_in_use && usage.active_partitions.is_empty() {
        return Err(format!(
            "refusing to operate on directly active disk {dev:?}"
        ));
    }
    let wipe_table = disk.wipe_table == Some(true);
    let fresh = || Table::new(sector_size, total).map_err(|e| format!("{dev:?}: {e}"));
    let table = if wipe_table {
        if !usage.active_partitions.is_empty() {
            return Err(format!("refusing to wipe active disk {dev:?}"));
        }
        fresh()?
    } else {
        match Table::read(&mut file, sector_size)
            .map_err(|e| format!("reading partition table of {dev:?}: {e}"))?
        {
            Existing::Gpt(t) => t,
            Existing::Nothing => fresh()?,
            Existing::NotGpt if !disk.partitions.is_empty() => {
                return Err("disk does not have a GPT".into());
            }
            Existing::Corrupt if !disk.partitions.is_empty() => {
                return Err(format!(
                    "{dev:?} has a protective MBR but no valid GPT header; set wipeTable to \
                     replace the corrupted table"
                ));
            }
            Existing::NotGpt | Existing::Corrupt => fresh()?,
        }
    };
    let decision = partitions::decide(disk, index, dev, &table, &usage);
    Ok((
        Some(DiskPlan {
            config_path: format!("$.storage.disks.{index}"),
            device: dev.clone(),
            backing,
            sector_size,
            wipe_table,
            table,
            partitions: decision.actions,
            table_after: decision.table_after,
        }),
        decision.refusals,
    ))
}

/// The partition of a planned disk that `device` names, if any: by the disk's own path with
/// a number (`/dev/vdb2`, `/dev/nvme0n1p2`, `…-part2`), by PARTLABEL or PARTUUID, or through
/// sysfs for an existing node.
fn planned_partition<'a>(device: &str, plan: &'a Plan) -> Option<(&'a DiskPlan, u32)> {
    if let Some(label) = device.strip_prefix("/dev/disk/by-partlabel/") {
        return plan.disks.iter().find_map(|d| {
            d.final_table()
                .entries
                .iter()
                .find(|(_, e)| e.name == label)
                .map(|(n, _)| (d, *n))
        });
    }
    if let Some(uuid) = device.strip_prefix("/dev/disk/by-partuuid/") {
        return plan.disks.iter().find_map(|d| {
            d.final_table()
                .entries
                .iter()
                .find(|(_, e)| e.guid.to_string().eq_ignore_ascii_case(uuid))
                .map(|(n, _)| (d, *n))
        });
    }
    for d in &plan.disks {
        let mut names = vec![d.device.clone()];
        if let Backing::Block(p) = &d.backing {
            names.push(p.display().to_string());
        }
        for name in names {
            if let Some(rest) = device.strip_prefix(&name) {
                let digits = rest
                    .strip_prefix("-part")
                    .or_else(|| rest.strip_prefix('p'))
                    .unwrap_or(rest);
                if let Ok(n) = digits.parse::<u32>()
                    && !digits.is_empty()
                {
                    return Some((d, n));
                }
            }
        }
    }
    let (disk_name, n) = std::fs::canonicalize(device)
        .ok()
        .and_then(|p| devices::partition_of(&p))?;
    plan.disks
        .iter()
        .find(|d| matches!(&d.backing, Backing::Block(p) if p.file_name().is_some_and(|f| f.to_string_lossy() == disk_name)))
        .map(|d| (d, n))
}

pub(crate) fn source_of(
    device: &str,
    plan: &Plan,
    devices: &Devices,
) -> Result<(Source, bool), String> {
    if plan
        .raids
        .iter()
        .any(|r| r.device == device || r.name == device)
        || luks::is_mapping(device, plan)
    {
        return Ok((Source::Array, true));
    }
    if let Some(d) = plan.disks.iter().find(|d| d.device == device) {
        return Ok((
            Source::Whole(d.backing.path().to_path_buf()),
            matches!(d.backing, Backing::Block(_)),
        ));
    }
    if let Some((d, n)) = planned_partition(device, plan) {
        let block = matches!(d.backing, Backing::Block(_));
        let entry: &Entry = d.final_table().entries.get(&n).ok_or_else(|| {
            format!(
                "{device:?} is partition {n} of {:?}, which will not exist",
                d.device
            )
        })?;
        // A partition that keeps its place can be probed through its own node when it has
        // one; one the plan creates or moves is probed where it will be on the disk.
        if !(d.modified(n) || !block || !Path::new(device).exists()) {
            return Ok((Source::Whole(PathBuf::from(device)), true));
        }
        let ss = d.sector_size;
        return Ok((
            Source::InDisk(
                d.backing.path().to_path_buf(),
                entry.first * ss,
                entry.size() * ss,
            ),
            block,
        ));
    }
    match devices.backing(device)? {
        Backing::Block(p) => Ok((Source::Whole(p), true)),
        Backing::Image(p) => Ok((Source::Whole(p), false)),
    }
}

fn plan_filesystem(
    fs: &Filesystem,
    plan: &Plan,
    devices: &Devices,
) -> Result<(FsAction, bool, Target), String> {
    let (source, block) = source_of(&fs.device, plan, devices)?;
    let target = match (&source, block) {
        (Source::Whole(path), false) => Target::Path(path.clone()),
        (Source::InDisk(path, offset, size), false) => {
            Target::InImage(path.clone(), *offset, *size)
        }
        _ => Target::Path(PathBuf::from(&fs.device)),
    };
    let found: Option<Found> = match &source {
        Source::Array => {
            let action = if fs.wipe_filesystem == Some(true) {
                FsAction::Wipe(None)
            } else {
                FsAction::Deferred
            };
            return Ok((action, block, target));
        }
        Source::Whole(path) => probe::probe(&Window { path, offset: None })?,
        Source::InDisk(path, offset, size) => probe::probe(&Window {
            path,
            offset: Some((*offset, *size)),
        })?,
    };
    let action = filesystems::decide(fs, found)?;
    let writes = matches!(action, FsAction::Create | FsAction::Wipe(_));
    if let Source::Whole(path) = &source
        && block
        && writes
        && devices::usage(&Backing::Block(path.clone())).disk_in_use
    {
        return Err(format!("refusing to format active device {:?}", fs.device));
    }
    Ok((action, block, target))
}

/// A RAID member must not be in use, and must exist or be created by this plan.
fn check_member(member: &str, plan: &Plan, devices: &Devices) -> Result<(), String> {
    let active = match planned_partition(member, plan) {
        Some((d, n)) => {
            if !d.final_table().entries.contains_key(&n) {
                return Err(format!("array member {member:?} will not exist"));
            }
            devices::usage(&d.backing).active_partitions.contains(&n)
        }
        None => devices::usage(&devices.backing(member)?).disk_in_use,
    };
    if active {
        return Err(format!(
            "refusing to use active device {member:?} in an array"
        ));
    }
    Ok(())
}

fn describe(e: &Entry, ss: u64) -> String {
    let mib = 1 << 20;
    let (start, size) = (e.first * ss, e.size() * ss);
    let amount = |b: u64| {
        if b.is_multiple_of(mib) {
            format!("{} MiB", b / mib)
        } else {
            format!("{b} bytes")
        }
    };
    format!(
        "label {:?}, start {}, size {}, sectors {}-{}, type {}, guid {}",
        e.name,
        amount(start),
        amount(size),
        e.first,
        e.last,
        e.type_guid,
        e.guid
    )
}

fn found_text(f: &Found) -> String {
    let mut parts = vec![f.fs_type.clone()];
    if !f.label.is_empty() {
        parts.push(format!("label {:?}", f.label));
    }
    if !f.uuid.is_empty() {
        parts.push(format!("uuid {}", f.uuid));
    }
    parts.join(", ")
}

/// The plan as people read it: one line per action, destructive ones marked with `!`.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.disks {
            let what = match &d.backing {
                Backing::Block(p) => p.display().to_string(),
                Backing::Image(p) => format!("image {}", p.display()),
            };
            writeln!(
                f,
                "disk {} ({what}, {}-byte sectors, {} partitions)",
                d.device,
                d.sector_size,
                d.table.entries.len()
            )?;
            if d.wipe_table {
                writeln!(
                    f,
                    "! WIPE-TABLE {} (every partition on it is dropped)",
                    d.device
                )?;
            }
            let ss = d.sector_size;
            for p in &d.partitions {
                let name = d.partition_name(p.action.number());
                match &p.action {
                    PartitionAction::Keep { entry, .. } => {
                        writeln!(f, "  KEEP     {name} ({})", describe(entry, ss))?
                    }
                    PartitionAction::Absent { .. } => {
                        writeln!(f, "  ABSENT   {name} (does not exist, as configured)")?
                    }
                    PartitionAction::Create { entry, .. } => {
                        writeln!(f, "  CREATE   {name} ({})", describe(entry, ss))?
                    }
                    PartitionAction::Delete { old, .. } => {
                        writeln!(f, "! DELETE   {name} ({})", describe(old, ss))?
                    }
                    PartitionAction::Recreate { old, new, .. } => writeln!(
                        f,
                        "! RECREATE {name} (was {}; becomes {})",
                        describe(old, ss),
                        describe(new, ss)
                    )?,
                    PartitionAction::Resize { old, new, .. } => {
                        let shrink = if new.size() < old.size() {
                            " (SHRINKS: data past the new end is lost)"
                        } else {
                            ""
                        };
                        writeln!(
                            f,
                            "! RESIZE   {name} from {} to {} sectors{shrink} ({})",
                            old.size(),
                            new.size(),
                            describe(new, ss)
                        )?
                    }
                }
            }
        }
        for r in &self.raids {
            writeln!(
                f,
                "! CREATE-RAID {} (overwrites its members): {}",
                r.device,
                r.argv.join(" ")
            )?;
        }
        for l in &self.luks {
            writeln!(f, "{}", l.volume)?;
        }
        for p in &self.filesystems {
            let dev = &p.fs.device;
            let format = p.fs.format.as_deref().unwrap_or_default();
            let mkfs = filesystems::mkfs_command(&p.fs, dev)
                .ok()
                .flatten()
                .map(|a| format!(": {}", a.join(" ")))
                .unwrap_or_default();
            match &p.action {
                FsAction::Reuse(found) => writeln!(
                    f,
                    "  REUSE    {dev} ({})",
                    found
                        .as_ref()
                        .map(found_text)
                        .unwrap_or_else(|| "blank".into())
                )?,
                FsAction::Create => writeln!(f, "  FORMAT   {dev} as {format}{mkfs}")?,
                FsAction::Wipe(Some(found)) => writeln!(
                    f,
                    "! WIPE     {dev} ({}), then FORMAT as {format}{mkfs}",
                    found_text(found)
                )?,
                FsAction::Wipe(None) => writeln!(
                    f,
                    "! WIPE     {dev} (blank now), then FORMAT as {format}{mkfs}"
                )?,
                FsAction::Deferred => writeln!(
                    f,
                    "  FORMAT   {dev} as {format} once its array or LUKS mapping exists, if it holds no other signature{mkfs}"
                )?,
            }
        }
        for r in &self.refusals {
            writeln!(f, "REFUSED  {r}")?;
        }
        if self.refusals.is_empty() {
            writeln!(f, "plan: nothing is refused")
        } else {
            writeln!(
                f,
                "plan: {} refusal(s); nothing will be written",
                self.refusals.len()
            )
        }
    }
}
