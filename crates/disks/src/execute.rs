//! Carrying out a plan that has no refusals: partitions (one table write per disk, then the
//! kernel is told and the exact nodes awaited), RAID arrays, then filesystems formatted in
//! parallel. Every step is a timed operation in the stage's report.

use crate::devices::{self, Backing, partition_node};
use crate::filesystems::{self, FsAction};
use crate::kernel;
use crate::luks::{self, LuksDone, LuksInput};
use crate::partitions::PartitionAction;
use crate::plan::{DiskPlan, FsPlan, Plan, Target};
use crate::probe::{self, Window};
use crate::table;
use kindling_report::Recorder;
use std::fmt;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long to wait for a device node the next step needs.
pub const DEFAULT_DEVICE_TIMEOUT: Duration = Duration::from_secs(90);

/// Why the disks stage failed, and the config entry concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisksError {
    pub message: String,
    pub config_path: Option<String>,
}

impl fmt::Display for DisksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DisksError {}

fn at(config_path: &str) -> impl Fn(String) -> DisksError + '_ {
    move |message| DisksError {
        message,
        config_path: Some(config_path.to_string()),
    }
}

/// Execute `plan`; refuses to start if the plan has any refusal. Returns the LUKS volumes
/// provisioned (their keys to persist, their UUIDs).
pub fn execute(
    plan: &Plan,
    timeout: Duration,
    luks_input: &LuksInput,
    rec: &mut Recorder,
) -> Result<Vec<LuksDone>, DisksError> {
    if let Some(first) = plan.refusals.first() {
        let all: Vec<String> = plan.refusals.iter().map(|r| r.to_string()).collect();
        return Err(DisksError {
            message: format!(
                "the disk plan has {} refusal(s), nothing was changed:\n{}",
                all.len(),
                all.join("\n")
            ),
            config_path: Some(first.config_path.clone()),
        });
    }
    for d in plan.disks.iter().filter(|d| d.changes()) {
        rec.op(
            format!("partitioning {:?}", d.device),
            Some(&d.config_path),
            |_| apply_disk(d, timeout),
        )
        .map_err(at(&d.config_path))?;
    }
    for r in &plan.raids {
        rec.op(
            format!("creating {:?}", r.name),
            Some(&r.config_path),
            |_| {
                let members: Vec<&Path> = r.members.iter().map(Path::new).collect();
                kernel::wait_for(&members, &[], timeout)?;
                filesystems::run(&r.argv).map_err(|e| format!("mdadm failed: {e}"))?;
                kernel::wait_for(&[Path::new(&r.device)], &[], timeout)
            },
        )
        .map_err(at(&r.config_path))?;
    }
    let mut volumes = Vec::new();
    for l in &plan.luks {
        let v = &l.volume;
        volumes.push(
            rec.op(
                format!("provisioning LUKS volume {:?} on {:?}", v.name, v.device),
                Some(&v.config_path),
                |_| luks::execute_luks(l, luks_input, timeout),
            )
            .map_err(at(&v.config_path))?,
        );
    }
    format_all(&plan.filesystems, timeout, rec)?;
    Ok(volumes)
}

fn apply_disk(d: &DiskPlan, timeout: Duration) -> Result<(), String> {
    let path = d.backing.path();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open {path:?} for writing: {e}"))?;
    if d.wipe_table {
        table::zap(&mut file, d.sector_size)
            .map_err(|e| format!("wiping the partition table of {:?}: {e}", d.device))?;
    }
    if let Some(t) = &d.table_after {
        t.write(&mut file)
            .map_err(|e| format!("commit failure: writing the table of {:?}: {e}", d.device))?;
        verify_written(&mut file, t, &d.device)?;
    }
    let Backing::Block(dev) = &d.backing else {
        return Ok(());
    };
    tell_kernel(d, &file)?;
    let (present, absent) = expected_nodes(d, dev);
    let present_refs: Vec<&Path> = present.iter().map(PathBuf::as_path).collect();
    let absent: Vec<&Path> = absent.iter().map(PathBuf::as_path).collect();
    kernel::wait_for(&present_refs, &absent, timeout)?;
    verify_kernel(d, &present)
}

/// Read the table back and compare it with what was meant to be written.
fn verify_written(
    file: &mut std::fs::File,
    meant: &table::Table,
    device: &str,
) -> Result<(), String> {
    match table::Table::read(file, meant.sector_size) {
        Ok(table::Existing::Gpt(t)) if t.entries == meant.entries => Ok(()),
        Ok(table::Existing::Gpt(_)) => Err(format!(
            "the partition table read back from {device:?} differs from the one written"
        )),
        Ok(_) => Err(format!("no valid GPT could be read back from {device:?}")),
        Err(e) => Err(format!(
            "reading back the partition table of {device:?}: {e}"
        )),
    }
}

/// The kernel's view (sysfs, in 512-byte sectors) of each changed partition must match the
/// table: a stale kernel table would send mkfs to the wrong place.
fn verify_kernel(d: &DiskPlan, nodes: &[PathBuf]) -> Result<(), String> {
    let table = d.final_table();
    let per_512 = d.sector_size / 512;
    for node in nodes {
        let Some((_, n)) = devices::partition_of(node) else {
            return Err(format!(
                "{node:?} is not known to the kernel as a partition"
            ));
        };
        let Some(e) = table.entries.get(&n) else {
            continue;
        };
        let sys = Path::new("/sys/class/block").join(node.file_name().unwrap_or_default());
        let read = |f: &str| -> Result<u64, String> {
            std::fs::read_to_string(sys.join(f))
                .map_err(|err| format!("reading {f} of {node:?} from sysfs: {err}"))?
                .trim()
                .parse()
                .map_err(|err| format!("parsing {f} of {node:?} from sysfs: {err}"))
        };
        let (start, size) = (read("start")?, read("size")?);
        if start != e.first * per_512 || size != e.size() * per_512 {
            return Err(format!(
                "kernel partition {node:?} is at {start}+{size} 512-byte sectors, the table says {}+{}",
                e.first * per_512,
                e.size() * per_512
            ));
        }
    }
    Ok(())
}

/// BLKRRPART after a wipe (nothing on the disk may be in use then); otherwise BLKPG for just
/// the partitions that changed, which also works while other partitions are mounted.
fn tell_kernel(d: &DiskPlan, file: &std::fs::File) -> Result<(), String> {
    if d.wipe_table {
        return kernel::reread(file).map_err(|e| {
            format!(
                "the kernel did not re-read the partition table of {:?}: {e}",
                d.device
            )
        });
    }
    let ss = d.sector_size;
    for p in &d.partitions {
        let n = p.action.number();
        if let PartitionAction::Delete { .. }
        | PartitionAction::Recreate { .. }
        | PartitionAction::Resize { .. } = &p.action
        {
            kernel::del_partition(file, n).map_err(|e| {
                format!(
                    "removing partition {n} of {:?} from the kernel: {e}",
                    d.device
                )
            })?;
        }
    }
    for p in &d.partitions {
        if let PartitionAction::Create { number, entry: new }
        | PartitionAction::Recreate { number, new, .. }
        | PartitionAction::Resize { number, new, .. } = &p.action
        {
            kernel::add_partition(file, *number, new.first * ss, new.size() * ss).map_err(|e| {
                format!(
                    "adding partition {number} of {:?} to the kernel: {e}",
                    d.device
                )
            })?;
        }
    }
    Ok(())
}

/// Nodes that must exist and nodes that must be gone once the kernel has the new table.
fn expected_nodes(d: &DiskPlan, dev: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let after = d.final_table();
    let mut present = Vec::new();
    let mut absent = Vec::new();
    for p in &d.partitions {
        let n = p.action.number();
        let node = partition_node(dev, n);
        if after.entries.contains_key(&n) {
            if p.action.modifies() || d.wipe_table {
                present.push(node);
            }
        } else if matches!(p.action, PartitionAction::Delete { .. }) {
            absent.push(node);
        }
    }
    (present, absent)
}

/// Wait for the devices, then format every filesystem that needs it, independent devices in
/// parallel (as many at once as there are CPUs).
fn format_all(fss: &[FsPlan], timeout: Duration, rec: &mut Recorder) -> Result<(), DisksError> {
    let work: Vec<&FsPlan> = fss
        .iter()
        .filter(|p| !matches!(p.action, FsAction::Reuse(_)))
        .collect();
    for p in fss
        .iter()
        .filter(|p| matches!(p.action, FsAction::Reuse(_)))
    {
        log::info!(
            "filesystem at {:?} is already correctly formatted. Skipping mkfs...",
            p.fs.device
        );
    }
    if work.is_empty() {
        return Ok(());
    }
    for p in work.iter().filter(|p| p.block) {
        kernel::wait_for(&[Path::new(&p.fs.device)], &[], timeout).map_err(at(&p.config_path))?;
    }
    rec.op(
        "formatting filesystems",
        Some("$.storage.filesystems"),
        |rec| {
            let results = crate::parallel::map(&work, |p| {
                let started = Instant::now();
                let r = format_one(p, timeout);
                (started.elapsed(), r)
            });
            let mut errors = Vec::new();
            for (i, (took, r)) in results.into_iter().enumerate() {
                let p = work[i];
                let name = format!(
                    "creating {:?} filesystem on {:?}",
                    p.fs.format.as_deref().unwrap_or_default(),
                    p.fs.device
                );
                if let Err(e) = &r {
                    errors.push((p.config_path.clone(), e.clone()));
                }
                rec.record(name, Some(&p.config_path), took, r);
            }
            // All errors joined with newlines, as upstream.
            match errors.first() {
                None => Ok(()),
                Some((path, _)) => Err(DisksError {
                    message: errors
                        .iter()
                        .map(|(_, e)| e.as_str())
                        .collect::<Vec<_>>()
                        .join("\n"),
                    config_path: Some(path.clone()),
                }),
            }
        },
    )
}

fn format_one(p: &FsPlan, timeout: Duration) -> Result<(), String> {
    match &p.target {
        // Work on the resolved node, as Ignition works on its alias of it: udev re-creates
        // /dev/disk/by-* links while sibling partitions change, so a link may briefly vanish.
        Target::Path(path) if p.block => {
            let node = kernel::resolve(path, timeout)?;
            format_at(p, &node)
        }
        Target::Path(path) => format_at(p, path),
        Target::InImage(image, offset, size) => {
            let loopdev = LoopDevice::attach(image, *offset, *size)?;
            format_at(p, &loopdev.0)
        }
    }
}

fn format_at(p: &FsPlan, target: &Path) -> Result<(), String> {
    let dev = target.to_string_lossy();
    if p.action == FsAction::Deferred {
        // The array did not exist when the plan was made: decide now, the same way.
        let found = probe::probe(&Window {
            path: target,
            offset: None,
        })?;
        if let FsAction::Reuse(_) = filesystems::decide(&p.fs, found)? {
            return Ok(());
        }
    }
    filesystems::format(&p.fs, &dev)?;
    if p.block {
        settle(&dev);
    }
    Ok(())
}

/// A loop device over a window of an image file, detached when dropped.
pub(crate) struct LoopDevice(pub(crate) PathBuf);

impl LoopDevice {
    pub(crate) fn attach(image: &Path, offset: u64, size: u64) -> Result<LoopDevice, String> {
        let out = Command::new("losetup")
            .args(["--find", "--show", "--offset", &offset.to_string()])
            .args(["--sizelimit", &size.to_string()])
            .arg(image)
            .output()
            .map_err(|e| format!("cannot run losetup: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "losetup on {image:?} (offset {offset}, size {size}) failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(LoopDevice(PathBuf::from(
            String::from_utf8_lossy(&out.stdout).trim(),
        )))
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        if let Err(e) = Command::new("losetup").arg("-d").arg(&self.0).output() {
            log::warn!("cannot detach {:?}: {e}", self.0);
        }
    }
}

/// Let udev see the new filesystem (labels and UUIDs under /dev/disk) before the next stage.
pub(crate) fn settle(dev: &str) {
    match Command::new("udevadm")
        .args(["trigger", "--settle", dev])
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => log::warn!(
            "udevadm trigger --settle {dev}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => log::warn!("cannot run udevadm for {dev}: {e}"),
    }
}
