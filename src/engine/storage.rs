//! The storage stages: disks (partitions, RAID, LUKS, filesystems), mount and umount, run by
//! the `kindling-disks` crate.
//!
//! Entry point for the engine: `run(stage, config, ctx)` with `stage` one of `Disks`, `Mount`,
//! `Umount`. The disks stage plans every change before making any and refuses the whole plan
//! if one action would be refused; as upstream, a config without storage sections returns at
//! once. The mount stage records the directories it created in the state file.

use super::{Context, Stage, StageError};
use kindling_config::Config;
use kindling_disks::{Devices, DisksError, LuksInput};

fn stage_error(e: DisksError, hint: &str) -> StageError {
    let err = StageError::new(e.message).hint(hint);
    match e.config_path {
        Some(p) => err.at(p),
        None => err,
    }
}

/// The `keyFile` of every LUKS volume that has one, fetched (never logged).
fn luks_input(config: &Config, ctx: &mut Context) -> Result<LuksInput, StageError> {
    let mut input = LuksInput::default();
    for (i, l) in config.storage.luks.iter().enumerate() {
        if l.key_file.source.as_deref().is_none_or(str::is_empty) {
            continue;
        }
        let key = ctx.fetcher.fetch(&l.key_file).map_err(|e| {
            StageError::new(format!(
                "fetching the key file of LUKS volume {:?}: {e}",
                l.name
            ))
            .at(format!("$.storage.luks.{i}.keyFile"))
            .hint("check the keyFile source and its verification hash")
        })?;
        input
            .keys
            .insert(l.name.clone(), zeroize::Zeroizing::new(key));
    }
    // As upstream: each tang advertisement once through the retrying fetcher (the network may
    // still be coming up), since `clevis luks bind` tries once. Done before any disk changes.
    for (i, l) in config.storage.luks.iter().enumerate() {
        for (j, url) in kindling_luks::clevis::advertisement_urls(&l.clevis) {
            let adv = kindling_config::model::Resource {
                source: Some(url),
                ..Default::default()
            };
            ctx.fetcher.fetch(&adv).map_err(|e| {
                StageError::new(format!("fetching tang advertisement: {e}"))
                    .at(format!("$.storage.luks.{i}.clevis.tang.{j}.url"))
                    .hint("the tang server must be reachable while the disks stage runs")
            })?;
        }
    }
    Ok(input)
}

pub fn run(stage: Stage, config: &Config, ctx: &mut Context) -> Result<(), StageError> {
    match stage {
        Stage::Disks => {
            if !kindling_disks::has_work(config) {
                return Ok(());
            }
            let input = luks_input(config, ctx)?;
            let (_, volumes) = kindling_disks::run_with(
                config,
                &Devices::default(),
                ctx.device_timeout,
                &input,
                ctx.recorder,
            )
            .map_err(|e| {
                stage_error(
                    e,
                    "`kindling plan CONFIG` shows every disk action and refusal without \
                     changing anything",
                )
            })?;
            // The files stage writes these to /etc/luks and clears them from the state.
            for v in volumes {
                if let Some(key) = &v.done.persist_key {
                    ctx.state
                        .luks_persist_key_files
                        .insert(v.name, kindling_luks::key::to_data_url(key).to_string());
                }
            }
            Ok(())
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
