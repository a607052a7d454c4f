//! The "first boot in progress" stamp, `<root>/etc/.kindling-firstboot.json`.
//!
//! Nothing in the initramfs survives a reboot except the disks, so the stamp lives on the
//! target root: written when the mount stage starts (the first stage with the root mounted),
//! marked failed with the error when a stage fails, and removed when the files stage succeeds.
//! If a later boot finds a stamp from another boot, the previous first boot stopped half way:
//! the mount stage then fails at once with a summary of that boot, instead of applying the
//! config a second time over a half-provisioned root and failing on whatever it left.
//! Failures before the root is mounted (fetch, kargs, disks) leave no stamp; those stages
//! change nothing on the root filesystem.

use super::{Env, Stage, StageError};
use kindling_files::result::rfc3339_utc;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub const STAMP: &str = "etc/.kindling-firstboot.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stamp {
    boot_id: String,
    /// When this first boot reached the root filesystem (RFC 3339, UTC).
    started: String,
    /// The last stage that started.
    stage: String,
    /// `running` or `failed`.
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    config_path: Option<String>,
}

fn stamp_path(root: &Path) -> PathBuf {
    root.join(STAMP)
}

fn boot_id(env: &Env) -> String {
    std::fs::read_to_string(&env.boot_id)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn read(root: &Path) -> Option<Stamp> {
    let bytes = std::fs::read(stamp_path(root)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn write(root: &Path, stamp: &Stamp) {
    let path = stamp_path(root);
    // Create `etc` as the OS would (0755) if the root has none yet; the stamp itself is 0600.
    let result = serde_json::to_vec_pretty(stamp)
        .map_err(std::io::Error::other)
        .and_then(|json| {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            super::state::write_private(&path, &json)
        });
    // The stamp only improves the next boot's diagnosis: never fail a stage over it.
    if let Err(e) = result {
        log::warn!("writing the first-boot stamp {}: {e}", path.display());
    }
}

/// A stage with the root mounted starts. Fails if an earlier boot's first boot stopped half way.
pub fn begin(root: &Path, env: &Env, stage: Stage) -> Result<(), StageError> {
    let this_boot = boot_id(env);
    let started = match read(root) {
        Some(previous) if previous.boot_id != this_boot => return Err(interrupted(&previous)),
        Some(previous) => previous.started,
        None => rfc3339_utc(SystemTime::now()),
    };
    write(
        root,
        &Stamp {
            boot_id: this_boot,
            started,
            stage: stage.name().into(),
            status: "running".into(),
            error: None,
            config_path: None,
        },
    );
    Ok(())
}

/// A stage with the root mounted ended: record a failure, or remove the stamp once the files
/// stage (the last one that writes the root) succeeded.
pub fn end(root: &Path, env: &Env, stage: Stage, error: Option<&StageError>) {
    match error {
        None if stage == Stage::Files => {
            if let Err(e) = std::fs::remove_file(stamp_path(root)) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    log::warn!("removing the first-boot stamp: {e}");
                }
            }
        }
        None => {}
        Some(error) => {
            let started = read(root)
                .map(|s| s.started)
                .unwrap_or_else(|| rfc3339_utc(SystemTime::now()));
            write(
                root,
                &Stamp {
                    boot_id: boot_id(env),
                    started,
                    stage: stage.name().into(),
                    status: "failed".into(),
                    error: Some(error.message.clone()),
                    config_path: error.config_path.clone(),
                },
            );
        }
    }
}

fn interrupted(previous: &Stamp) -> StageError {
    let how = match (&previous.status[..], &previous.error) {
        ("failed", Some(error)) => format!("failed: {error}"),
        _ => "did not finish (the machine was reset or powered off)".into(),
    };
    let mut error = StageError::new(format!(
        "a previous first boot (started {}) stopped in the {} stage, which {how}; \
         running again would apply the config over a half-provisioned system",
        previous.started, previous.stage
    ))
    .hint(format!(
        "provision this machine again from a clean image; to retry on this disk anyway, \
         remove /sysroot/{STAMP} from the emergency shell and reboot"
    ));
    error.config_path = previous.config_path.clone();
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(dir: &Path, boot: &str) -> Env {
        let boot_id = dir.join(format!("boot_id-{boot}"));
        std::fs::write(&boot_id, format!("{boot}\n")).unwrap();
        Env {
            host: kindling_providers::Host::from_env(),
            kargs_helper: "false".into(),
            boot_id,
            console: None,
            device_timeout: std::time::Duration::from_secs(1),
        }
    }

    #[test]
    fn a_failed_first_boot_is_reported_by_the_next_boot() {
        let dir = std::env::temp_dir().join(format!("kindling-firstboot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("root");
        std::fs::create_dir_all(&root).unwrap();
        let first = env(&dir, "boot-1");
        begin(&root, &first, Stage::Mount).unwrap();
        end(&root, &first, Stage::Mount, None);
        begin(&root, &first, Stage::Files).unwrap();
        let failure = StageError::new("hash mismatch").at("$.storage.files.0");
        end(&root, &first, Stage::Files, Some(&failure));
        // Retrying in the same boot is allowed.
        begin(&root, &first, Stage::Files).unwrap();
        end(&root, &first, Stage::Files, Some(&failure));

        let err = begin(&root, &env(&dir, "boot-2"), Stage::Mount).unwrap_err();
        assert!(
            err.message.contains("stopped in the files stage"),
            "{err:?}"
        );
        assert!(err.message.contains("hash mismatch"), "{err:?}");
        assert_eq!(err.config_path.as_deref(), Some("$.storage.files.0"));
        assert!(err.hint.unwrap().contains(STAMP));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn success_removes_the_stamp() {
        let dir =
            std::env::temp_dir().join(format!("kindling-firstboot-ok-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("root");
        std::fs::create_dir_all(&root).unwrap();
        let first = env(&dir, "boot-1");
        begin(&root, &first, Stage::Files).unwrap();
        assert!(stamp_path(&root).exists());
        end(&root, &first, Stage::Files, None);
        assert!(!stamp_path(&root).exists());
        begin(&root, &env(&dir, "boot-2"), Stage::Mount).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
