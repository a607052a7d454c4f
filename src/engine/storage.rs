//! The storage stages: disks (partitions, RAID, LUKS, filesystems), mount and umount.
//!
//! Entry point for the engine: `run(stage, config, ctx)` with `stage` one of `Disks`, `Mount`,
//! `Umount`. It gets the merged config and the [`Context`] (target root, fetcher, state file
//! contents to read and update, recorder for operations) and returns a [`StageError`] naming
//! the config path concerned. As upstream, a config without storage sections returns at once.

use super::{Context, Stage, StageError};
use kindling_config::Config;

pub fn run(stage: Stage, config: &Config, ctx: &mut Context) -> Result<(), StageError> {
    let _ = ctx;
    let storage = &config.storage;
    let (path, what) = if !storage.disks.is_empty() {
        ("$.storage.disks", "disks")
    } else if !storage.raid.is_empty() {
        ("$.storage.raid", "raid")
    } else if !storage.luks.is_empty() {
        ("$.storage.luks", "luks")
    } else if !storage.filesystems.is_empty() {
        ("$.storage.filesystems", "filesystems")
    } else {
        return Ok(());
    };
    Err(StageError::new(format!(
        "storage sections need the disks stage (not in this build yet): the {stage} stage \
         cannot handle storage.{what}"
    ))
    .at(path)
    .hint("remove the storage sections (disks, raid, luks, filesystems) from the config"))
}
