//! The storage stages: disks (partitions, RAID, LUKS, filesystems), mount and umount, run by
//! the `kindling-disks` crate.
//!
//! Entry point for the engine: `run(stage, config, ctx)` with `stage` one of `Disks`, `Mount`,
//! `Umount`. The disks stage plans every change before making any and refuses the whole plan
//! if one action would be refused; as upstream, a config without storage sections returns at
//! once. The mount stage records the directories it created in the state file.

use super::{Context, Stage, StageError};
use kindling_config::Config;
use kindling_disks::{DEFAULT_DEVICE_TIMEOUT, Devices, DisksError};
use std::time::Duration;

/// How long to wait for a device node (`KINDLING_DEVICE_TIMEOUT` seconds overrides it).
fn device_timeout() -> Duration {
    std::env::var("KINDLING_DEVICE_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_DEVICE_TIMEOUT)
}

fn stage_error(e: DisksError, hint: &str) -> StageError {
    let err = StageError::new(e.message).hint(hint);
    match e.config_path {
        Some(p) => err.at(p),
        None => err,
    }
}

pub fn run(stage: Stage, config: &Config, ctx: &mut Context) -> Result<(), StageError> {
    match stage {
        Stage::Disks => {
            if !kindling_disks::has_work(config) {
                return Ok(());
            }
            kindling_disks::run(config, &Devices::default(), device_timeout(), ctx.recorder)
                .map(drop)
                .map_err(|e| {
                    stage_error(
                        e,
                        "`kindling plan CONFIG` shows every disk action and refusal without \
                         changing anything",
                    )
                })
        }
        Stage::Mount => {
            let (created, result) = kindling_disks::mount::mount(config, ctx.root, ctx.recorder);
            ctx.state.notated_directories.extend(created);
            result.map_err(|e| {
                stage_error(e, "check the filesystem's device, format and mountOptions")
            })
        }
        Stage::Umount => kindling_disks::mount::umount(config, ctx.root, ctx.recorder)
            .map_err(|e| stage_error(e, "something still uses the mounted filesystem")),
        other => Err(StageError::new(format!(
            "the {other} stage is not a storage stage"
        ))),
    }
}
