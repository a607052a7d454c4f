//! The LUKS phase (after partitions and RAID, before filesystems), through `kindling-luks`:
//! planned from what each device holds now, executed one volume at a time.

use crate::devices::Devices;
use crate::execute::{LoopDevice, settle};
use crate::kernel;
use crate::plan::{Plan, Source, Target, source_of};
use crate::probe::{self, Window};
use kindling_config::Config;
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

/// RAID members and LUKS devices that exist before this stage (not an image, not an array or
/// a partition this config makes), with their config path: the stage waits for them as for
/// disks, since udev may not have created their nodes yet when it starts.
pub fn devices_to_wait_for(config: &Config, devices: &Devices) -> Vec<(String, String)> {
    let s = &config.storage;
    let made_here = |dev: &str| {
        s.raid
            .iter()
            .any(|r| crate::raid::array_device(r) == dev || r.name == dev)
            || s.disks.iter().any(|d| dev.starts_with(&d.device))
            || dev
                .strip_prefix("/dev/disk/by-partlabel/")
                .is_some_and(|l| {
                    s.disks
                        .iter()
                        .flat_map(|d| &d.partitions)
                        .any(|p| p.label.as_deref() == Some(l))
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
    members
        .chain(luks)
        .filter(|(_, d)| !d.is_empty() && !devices.images.contains_key(d) && !made_here(d))
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_only_for_members_and_volumes_this_config_does_not_make() {
        let config: Config = serde_json::from_str(
            r#"{"storage":{
                "disks":[{"device":"/dev/vdb","partitions":[{"number":1,"label":"crypt"}]}],
                "raid":[{"name":"md0","level":"raid1","devices":["/dev/vdc","/dev/vdd"]}],
                "luks":[{"name":"a","device":"/dev/vdb1"},{"name":"b","device":"/dev/md/md0"},
                        {"name":"c","device":"/dev/disk/by-partlabel/crypt"},{"name":"d","device":"/dev/vde"},
                        {"name":"e","device":"/dev/disk/by-partlabel/other"},{"name":"f","device":"/dev/vdf"}]}}"#,
        )
        .unwrap();
        let mut devices = Devices::default();
        devices
            .images
            .insert("/dev/vdf".into(), "/tmp/f.img".into());
        assert_eq!(
            devices_to_wait_for(&config, &devices),
            [
                ("$.storage.raid.0", "/dev/vdc"),
                ("$.storage.raid.0", "/dev/vdd"),
                ("$.storage.luks.3", "/dev/vde"),
                ("$.storage.luks.4", "/dev/disk/by-partlabel/other")
            ]
            .map(|(p, d)| (p.to_string(), d.to_string()))
        );
    }
}
