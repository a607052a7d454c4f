//! Carrying out a planned volume: format or reuse, open, bind clevis and/or seal a TPM2 key,
//! prove every binding unlocks, and drop the generated key once something else guards the
//! volume.

use crate::key::{self, Key};
use crate::options::Pbkdf;
use crate::plan::{self, Action, Found, Volume};
use crate::{clevis, token, tpm2, volume};
use std::path::Path;
use std::process::Command;

/// Where the TPM is and whether volumes are opened (not on image files).
#[derive(Debug, Clone)]
pub struct Env {
    /// TPM2 TCTI (`KINDLING_TPM2_TCTI`, default the kernel's resource manager).
    pub tcti: String,
    /// Open the volume as `/dev/mapper/<name>` (needs device-mapper).
    pub activate: bool,
}

impl Env {
    pub fn from_env() -> Env {
        Env {
            tcti: std::env::var("KINDLING_TPM2_TCTI")
                .unwrap_or_else(|_| tpm2::DEVICE_TCTI.to_string()),
            activate: true,
        }
    }
}

/// The result the later stages need.
pub struct Done {
    /// The volume's LUKS UUID.
    pub uuid: String,
    /// The key for `/etc/luks/<name>`, when the volume persists one.
    pub persist_key: Option<Key>,
}

/// Provision `v` on `node` (its device node, or an image standing for it). `configured_key` is
/// the fetched `keyFile` when the config has one; `probe` tells what a deferred device holds.
pub fn execute(
    v: &Volume,
    node: &Path,
    configured_key: Option<Key>,
    probe: impl FnOnce(&Path) -> Result<Found, String>,
    env: &Env,
) -> Result<Done, String> {
    let action = match v.action {
        Action::Deferred => plan::decide(v, probe(node)?)?,
        a => a,
    };
    let key = match (v.key_from_config, configured_key) {
        (true, Some(k)) => k,
        (true, None) => return Err("the volume's keyFile was not fetched".into()),
        (false, _) => key::generate()?,
    };
    let uuid = match action {
        Action::Reuse | Action::Deferred => {
            reuse(v, node, &key, env)?;
            return Ok(Done {
                uuid: crate::crypttab::uuid_of(node)?,
                persist_key: Some(key),
            });
        }
        Action::Format { wipe } => {
            if wipe {
                wipe_signatures(node)?;
            }
            let spec = volume::FormatSpec {
                options: v.format.clone(),
                label: v.label.clone(),
                uuid: v.uuid.clone(),
                flags: v.open,
                // A generated key has full entropy: the minimal slot. A configured key may be
                // a passphrase: libcryptsetup's benchmarked argon2id.
                keyslot_pbkdf: if v.key_from_config {
                    Pbkdf::default()
                } else {
                    Pbkdf::minimal()
                },
            };
            volume::format(node, &spec, &key)?
        }
    };
    if env.activate {
        volume::activate(node, &v.name, &key, &v.open)?;
    }
    if let Some(b) = &v.clevis {
        let slot = clevis::bind(node, &key, b, &env.tcti)?;
        if b.checkable {
            clevis::check(node, slot, &env.tcti)?;
        }
    }
    if let Some(t) = &v.tpm2 {
        enroll_tpm2(node, &key, t, &env.tcti)?;
    }
    let guarded = v.clevis.is_some() || v.tpm2.is_some();
    if guarded && !v.key_from_config {
        volume::remove_key(node, &key)?;
    }
    Ok(Done {
        uuid,
        persist_key: v.persists_key().then_some(key),
    })
}

fn reuse(v: &Volume, node: &Path, key: &[u8], env: &Env) -> Result<(), String> {
    let could_not = |why: String| {
        format!(
            "volume wipe was not requested and luks device {:?} could not be reused: {why}",
            v.device
        )
    };
    volume::check_key(node, key, None).map_err(could_not)?;
    if env.activate {
        volume::activate(node, &v.name, key, &v.open).map_err(could_not)?;
    }
    Ok(())
}

/// Seal a fresh secret to the TPM (and PIN), add a minimal key slot for it and a
/// `systemd-tpm2` token, then unseal it again and check it opens that slot.
fn enroll_tpm2(node: &Path, key: &[u8], t: &plan::Tpm2, tcti: &str) -> Result<(), String> {
    let (policy, pin) = (&t.policy, t.pin.as_ref());
    let sealed = tpm2::seal(tcti, policy, pin)?;
    let slot = volume::add_key(node, key, sealed.passphrase.as_bytes(), &Pbkdf::minimal())?;
    volume::add_token(node, &token::systemd_tpm2(slot, policy, &sealed), slot)?;
    let again = tpm2::unseal(tcti, policy, &sealed.blob, pin)?;
    volume::check_key(node, again.as_bytes(), Some(slot))
        .map(drop)
        .map_err(|e| format!("the TPM2 key does not unlock {}: {e}", node.display()))
}

/// `wipefs -a`, as upstream does before reformatting.
fn wipe_signatures(node: &Path) -> Result<(), String> {
    let out = Command::new("wipefs")
        .arg("-a")
        .arg(node)
        .output()
        .map_err(|e| format!("cannot run wipefs: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "wipefs -a {} failed: {}",
            node.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
