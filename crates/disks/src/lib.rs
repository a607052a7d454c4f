//! The disks, mount and umount stages, with Ignition's semantics and a plan before any change.
//!
//! The disks stage reads every configured disk, computes the complete list of actions
//! ([`plan::build`]: partitions → RAID → LUKS → filesystems), and executes it only when no
//! action is refused ([`execute::execute`]); [`run`] does both. `kindling plan` prints the same
//! plan and stops there. [`mount::mount`] and [`mount::umount`] are the mount stages.

pub mod devices;
pub mod execute;
pub mod filesystems;
pub mod kernel;
pub mod luks;
pub mod mount;
pub mod parallel;
pub mod partitions;
pub mod placement;
pub mod plan;
pub mod probe;
pub mod raid;
pub mod table;

pub use devices::Devices;
pub use execute::{DEFAULT_DEVICE_TIMEOUT, DisksError};
pub use luks::{LuksDone, LuksInput};
pub use plan::Plan;

use kindling_config::Config;
use kindling_report::Recorder;
use std::path::Path;
use std::time::Duration;

/// Whether the config asks anything of the disks stage (if not, it touches nothing, not even
/// udev, as upstream).
pub fn has_work(config: &Config) -> bool {
    let s = &config.storage;
    !(s.disks.is_empty() && s.raid.is_empty() && s.luks.is_empty() && s.filesystems.is_empty())
}

/// The disks stage: wait for the configured disks to appear, plan, then execute the plan if
/// nothing in it is refused. Returns the plan that was carried out.
pub fn run(
    config: &Config,
    devices: &Devices,
    timeout: Duration,
    rec: &mut Recorder,
) -> Result<Plan, DisksError> {
    run_with(config, devices, timeout, &LuksInput::default(), rec).map(|(plan, _)| plan)
}

/// [`run`] with the fetched LUKS key files; also returns the LUKS volumes provisioned.
pub fn run_with(
    config: &Config,
    devices: &Devices,
    timeout: Duration,
    luks_input: &LuksInput,
    rec: &mut Recorder,
) -> Result<(Plan, Vec<LuksDone>), DisksError> {
    if !has_work(config) {
        return Ok((Plan::default(), Vec::new()));
    }
    for (i, disk) in config.storage.disks.iter().enumerate() {
        if devices.images.contains_key(&disk.device) {
            continue;
        }
        let path = format!("$.storage.disks.{i}");
        rec.op(
            format!("waiting for {:?}", disk.device),
            Some(&path),
            |_| kernel::wait_for(&[Path::new(&disk.device)], &[], timeout),
        )
        .map_err(|message| DisksError {
            message,
            config_path: Some(path.clone()),
        })?;
    }
    for (path, dev) in devices::to_wait_for(config, devices) {
        rec.op(format!("waiting for {dev:?}"), Some(&path), |_| {
            kernel::wait_for(&[Path::new(&dev)], &[], timeout)
        })
        .map_err(|message| DisksError {
            message,
            config_path: Some(path.clone()),
        })?;
    }
    let plan = rec.op("planning disk changes", Some("$.storage"), |_| {
        Ok::<_, DisksError>(plan::build(config, devices))
    })?;
    for line in plan.to_string().lines() {
        log::info!("{line}");
    }
    let volumes = execute::execute(&plan, timeout, luks_input, rec)?;
    Ok((plan, volumes))
}
