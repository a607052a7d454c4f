//! The LUKS phase (after partitions and RAID, before filesystems), through `kindling-luks`:
//! planned from what each device holds now, executed one volume at a time.

use crate::devices::Devices;
use crate::execute::{LoopDevice, settle};
use crate::kernel;
use crate::plan::{Plan, Source, Target, source_of};
use crate::probe::{self, Window};
use kindling_config::model::Luks;
use kindling_luks::execute::{Done, Env};
use kindling_luks::header::{self, Header};
use kindling_luks::key::Key;
use kindling_luks::plan::{Found, Volume};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// One planned LUKS volume.
#[derive(Debug, Clone)]
pub struct LuksPlan {
    pub volume: Volume,
    /// Whether the device is a block device (opened, udev) rather than an image.
    pub block: bool,
    pub target: Target,
}

/// What executing LUKS volumes needs from the caller.
#[derive(Default)]
pub struct LuksInput {
    /// Fetched `keyFile` contents by volume name.
    pub keys: BTreeMap<String, Key>,
    /// TPM2 TCTI; `None`: `KINDLING_TPM2_TCTI` or the kernel's `/dev/tpmrm0`.
    pub tcti: Option<String>,
}

/// A provisioned volume, for the state file and the files stage.
pub struct LuksDone {
    pub name: String,
    pub done: Done,
}

/// The `/dev/mapper` names a planned volume's mapping is known by.
pub fn is_mapping(device: &str, plan: &Plan) -> bool {
    plan.luks.iter().any(|p| {
        let n = &p.volume.name;
        device == format!("/dev/mapper/{n}") || device == format!("/dev/disk/by-id/dm-name-{n}")
    })
}

/// What a device holds: a LUKS header, another signature, or nothing.
fn found_at(path: &Path, window: Option<(u64, u64)>) -> Result<Found, String> {
    match header::read(path, window.map_or(0, |w| w.0))? {
        Header::Luks1 => return Ok(Found::Luks1),
        Header::Luks2(h) => return Ok(Found::Luks2(h)),
        Header::None => {}
    }
    Ok(
        match probe::probe(&Window {
            path,
            offset: window,
        })? {
            Some(f) => Found::Other(f.fs_type),
            None => Found::Blank,
        },
    )
}

/// Plan `l`, the `index`th `storage.luks` entry.
pub fn plan_luks(
    l: &Luks,
    index: usize,
    plan: &Plan,
    devices: &Devices,
) -> Result<LuksPlan, String> {
    let config_path = format!("$.storage.luks.{index}");
    let device = l.device.as_deref().unwrap_or_default();
    let (source, block) = source_of(device, plan, devices)?;
    let (found, target) = match &source {
        Source::Array => (Found::Later, Target::Path(device.into())),
        Source::Whole(path) => (
            found_at(path, None)?,
            if block {
                Target::Path(device.into())
            } else {
                Target::Path(path.clone())
            },
        ),
        Source::InDisk(path, offset, size) => (
            found_at(path, Some((*offset, *size)))?,
            if block {
                Target::Path(device.into())
            } else {
                Target::InImage(path.clone(), *offset, *size)
            },
        ),
    };
    let volume = kindling_luks::plan::plan(l, &config_path, found)?;
    if let Source::Whole(path) = &source
        && block
        && !matches!(volume.action, kindling_luks::plan::Action::Reuse)
        && crate::devices::usage(&crate::devices::Backing::Block(path.clone())).disk_in_use
    {
        return Err(format!("refusing to format active device {device:?}"));
    }
    Ok(LuksPlan {
        volume,
        block,
        target,
    })
}

/// Provision one volume; on a block device also open it and wait for its mapping.
pub fn execute_luks(
    p: &LuksPlan,
    input: &LuksInput,
    timeout: Duration,
) -> Result<LuksDone, String> {
    let v = &p.volume;
    let mut env = Env::from_env();
    if let Some(t) = &input.tcti {
        env.tcti = t.clone();
    }
    env.activate = p.block;
    let key = input.keys.get(&v.name).cloned();
    let probe_node = |node: &Path| found_at(node, None);
    let done = match &p.target {
        Target::Path(node) => {
            if p.block {
                kernel::wait_for(&[node.as_path()], &[], timeout)?;
            }
            kindling_luks::execute::execute(v, node, key, probe_node, &env)?
        }
        Target::InImage(image, offset, size) => {
            let loopdev = LoopDevice::attach(image, *offset, *size)?;
            kindling_luks::execute::execute(v, &loopdev.0, key, probe_node, &env)?
        }
    };
    if p.block {
        let mapping = format!("/dev/mapper/{}", v.name);
        kernel::wait_for(&[Path::new(&mapping)], &[], timeout)?;
        settle(&mapping);
    }
    Ok(LuksDone {
        name: v.name.clone(),
        done,
    })
}
