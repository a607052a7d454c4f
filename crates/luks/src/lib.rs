//! LUKS2 volumes for the disks stage, through libcryptsetup (no `cryptsetup` binary): format
//! with every `storage.luks` field, Ignition's reuse and refusal rules, a generated key on a
//! minimal key slot when the config has none, clevis bindings through the clevis CLI (as
//! Ignition), and keys sealed to TPM2 PCRs as `systemd-tpm2` tokens (the `kindlingTpm2`
//! extension, see docs/luks.md) that stock systemd-cryptsetup opens at every later boot.
//!
//! Use: [`plan::plan`] per entry while planning (reads only), [`execute::execute`] per volume
//! when executing, then [`crypttab::target_files`] in the files stage.

pub mod clevis;
pub mod crypttab;
pub mod execute;
pub mod header;
pub mod key;
pub mod options;
pub mod plan;
pub mod token;
pub mod tpm2;
pub mod volume;

#[cfg(test)]
mod testtpm;
