//! The files stage: the files crate writes the target root, then the result file
//! (`/etc/.ignition-result.json`) and Kindling's report of the whole boot
//! (`/var/log/kindling/report.json`).

use super::flags::Flags;
use super::{Context, Env, StageError, ops};
use kindling_config::Config;
use kindling_files::result::{Provisioning, rfc3339_utc, write_result_file};
use kindling_files::{AuthorizedKeys, LuksKeys, Options, report::write_report};
use std::time::SystemTime;

pub fn run(config: &Config, flags: &Flags, env: &Env, ctx: &mut Context) -> Result<(), StageError> {
    let options = Options {
        root: ctx.root.to_path_buf(),
        notated_directories: ctx.state.notated_directories.clone(),
        authorized_keys: authorized_keys(),
        luks_keys: LuksKeys(ctx.state.luks_persist_key_files.clone()),
        on_ssh_keys_written: Some(announce_ssh_keys),
        ..Options::default()
    };
    kindling_files::run(config, ctx.fetcher, &options, ctx.recorder)
        .map_err(|e| StageError::new(e.message))?;
    // Then the files the platform produced while fetching (Hyper-V's KVP pools), as upstream.
    if !ctx.state.provider_output_files.is_empty() {
        let mut outputs = Config::default();
        outputs.ignition.version = config.ignition.version.clone();
        outputs.storage.files = ctx.state.provider_output_files.clone();
        let plain = Options {
            root: ctx.root.to_path_buf(),
            ..Options::default()
        };
        kindling_files::run(&outputs, ctx.fetcher, &plain, ctx.recorder).map_err(|e| {
            StageError::new(format!("creating provider state files: {}", e.message))
        })?;
    }
    // The keys now live only on the (possibly encrypted) root, not in /run, as upstream.
    ctx.state.luks_persist_key_files.clear();

    let boot_id = std::fs::read_to_string(&env.boot_id)
        .map_err(|e| StageError::new(format!("reading boot ID {}: {e}", env.boot_id.display())))?;
    let provisioning = Provisioning {
        boot_id: boot_id.trim().to_string(),
        date: rfc3339_utc(SystemTime::now()),
        user_config_provided: ctx.state.fetched_configs.iter().any(|c| c.kind == "user"),
    };
    write_result_file(&options, &provisioning, ctx.recorder)
        .map_err(|e| StageError::new(format!("creating result file: {e}")))?;

    let mut operations = ops::load(&flags.state_file)
        .map_err(|e| StageError::new(format!("reading earlier stages' operations: {e}")))?;
    operations.extend(ctx.recorder.operations().iter().cloned());
    write_report(&options, &operations)
        .map_err(|e| StageError::new(format!("writing the report: {e}")))
}

/// `IGNITION_WRITE_AUTHORIZED_KEYS_FRAGMENT=false` writes `~/.ssh/authorized_keys` itself.
/// Upstream's journal entry for written SSH keys, which tools such as console login banners
/// look up by its MESSAGE_ID.
fn announce_ssh_keys(user: &str, path: &std::path::Path) {
    let path = path.to_string_lossy();
    super::journal::send(
        &format!("wrote ssh authorized keys file for user: {user}"),
        &[
            ("MESSAGE_ID", "225067b87bbd4a0cb6ab151f82fa364b"),
            ("IGNITION_USER_NAME", user),
            ("IGNITION_PATH", &path),
        ],
    );
}

fn authorized_keys() -> AuthorizedKeys {
    match std::env::var("IGNITION_WRITE_AUTHORIZED_KEYS_FRAGMENT").as_deref() {
        Ok("false" | "0" | "f" | "F" | "FALSE" | "False") => AuthorizedKeys::File,
        _ => AuthorizedKeys::Fragment,
    }
}
