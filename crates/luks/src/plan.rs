//! Deciding what to do with one `storage.luks` entry, from the config and what is on its
//! device now (reads only), with Ignition's reuse and refusal rules (reference §3.3):
//! `wipeVolume` always reformats; an existing LUKS2 volume is reused only with an explicit key
//! file, no clevis or TPM2 binding, and matching label, UUID and discard flag; LUKS1 or any
//! other signature is refused; a blank device is formatted.

use crate::clevis::{self, Binding};
use crate::header::Luks2;
use crate::options::{self, FormatOptions, OpenFlags};
use crate::tpm2::{Bank, PcrPolicy, Pin};
use kindling_config::model::Luks;
use std::fmt;

/// What the device holds now.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    Blank,
    Luks1,
    Luks2(Luks2),
    /// Another signature (filesystem, RAID member, …), by blkid type.
    Other(String),
    /// Not knowable before earlier phases ran (an array this plan creates): decided again
    /// when executing, by the same rules.
    Later,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Format (after wiping signatures when `wipe`).
    Format { wipe: bool },
    /// Open the existing volume with the configured key.
    Reuse,
    /// Decide when executing ([`Found::Later`]).
    Deferred,
}

/// One planned volume.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub config_path: String,
    pub name: String,
    pub device: String,
    pub action: Action,
    /// `wipeVolume`: always reformat.
    pub wipe: bool,
    pub format: FormatOptions,
    pub label: Option<String>,
    pub uuid: Option<String>,
    pub open: OpenFlags,
    pub clevis: Option<Binding>,
    pub tpm2: Option<Tpm2>,
    /// Whether the key comes from `keyFile` (else one is generated).
    pub key_from_config: bool,
}

impl Volume {
    /// Whether the key ends up in `/etc/luks/<name>` on the target (no clevis, no TPM2).
    pub fn persists_key(&self) -> bool {
        self.clevis.is_none() && self.tpm2.is_none()
    }
}

/// What the `kindlingTpm2` extension asks for: the PCR policy and, optionally, a PIN.
#[derive(Debug, Clone, PartialEq)]
pub struct Tpm2 {
    pub policy: PcrPolicy,
    pub pin: Option<Pin>,
}

/// The TPM2 binding the `kindlingTpm2` extension asks for.
pub fn tpm2_policy(l: &Luks) -> Result<Option<Tpm2>, String> {
    let Some(t) = &l.kindling_tpm2 else {
        return Ok(None);
    };
    let mut pcrs = t
        .pcrs
        .iter()
        .map(|&p| {
            u32::try_from(p)
                .ok()
                .filter(|p| *p < 24)
                .ok_or_else(|| format!("kindlingTpm2: PCR {p} does not exist (0-23)"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    pcrs.sort_unstable();
    pcrs.dedup();
    if pcrs.is_empty() {
        pcrs.push(7);
    }
    let bank = match t.pcr_bank.as_deref() {
        None | Some("") => Bank::Sha256,
        Some(b) => Bank::parse(b).ok_or_else(|| format!("kindlingTpm2: unknown pcrBank {b:?}"))?,
    };
    let pin = t
        .pin
        .as_deref()
        .map(Pin::new)
        .transpose()
        .map_err(|e| format!("kindlingTpm2: {e}"))?;
    Ok(Some(Tpm2 {
        policy: PcrPolicy { pcrs, bank },
        pin,
    }))
}

/// Plan `l` (at `config_path`) against what its device holds. `Err` is a refusal.
pub fn plan(l: &Luks, config_path: &str, found: Found) -> Result<Volume, String> {
    let device = l.device.clone().unwrap_or_default();
    if l.cex.enabled == Some(true) {
        return Err("cex secure keys (s390x) are not supported by Kindling".into());
    }
    let key_from_config = l.key_file.source.as_deref().is_some_and(|s| !s.is_empty());
    let mut v = Volume {
        config_path: config_path.to_string(),
        name: l.name.clone(),
        device: device.clone(),
        action: Action::Deferred,
        wipe: l.wipe_volume == Some(true),
        format: options::format_options(&l.options)?,
        label: l.label.clone(),
        uuid: l.uuid.clone(),
        open: options::open_flags(&l.open_options, l.discard == Some(true))?,
        clevis: clevis::binding(&l.clevis)?,
        tpm2: tpm2_policy(l)?,
        key_from_config,
    };
    if let Some(u) = &v.uuid {
        u.parse::<uuid::Uuid>()
            .map_err(|e| format!("uuid {u:?} is not a UUID: {e}"))?;
    }
    v.action = decide(&v, found)?;
    Ok(v)
}

/// The action for `v` given what is on the device (also used for [`Action::Deferred`]).
pub fn decide(v: &Volume, found: Found) -> Result<Action, String> {
    let dev = &v.device;
    if v.wipe {
        return Ok(Action::Format { wipe: true });
    }
    match found {
        Found::Later => Ok(Action::Deferred),
        Found::Blank => Ok(Action::Format { wipe: false }),
        Found::Luks1 => Err(format!(
            "{dev:?} is a luks device but not luks2; Kindling (like Ignition) cannot reuse it; \
             set wipeVolume to replace it"
        )),
        Found::Other(t) => Err(format!(
            "volume at {dev:?} is not of the correct type (found {t}) and a volume wipe was \
             not requested"
        )),
        Found::Luks2(h) => reuse(v, &h).map(|()| Action::Reuse).map_err(|why| {
            format!(
                "volume wipe was not requested and luks device {dev:?} could not be reused: {why}"
            )
        }),
    }
}

/// Ignition's reuse conditions, except the key check, which needs the key (done when executing).
fn reuse(v: &Volume, h: &Luks2) -> Result<(), String> {
    if v.clevis.is_some() {
        return Err("a clevis binding cannot be reused, only recreated".into());
    }
    if v.tpm2.is_some() {
        return Err("a TPM2 binding cannot be reused, only recreated".into());
    }
    if !v.key_from_config {
        return Err("reuse needs the volume's key in keyFile".into());
    }
    if let Some(label) = &v.label
        && *label != h.label
    {
        return Err(format!(
            "label is {:?}, the config wants {label:?}",
            h.label
        ));
    }
    if let Some(uuid) = &v.uuid
        && !uuid.eq_ignore_ascii_case(&h.uuid)
    {
        return Err(format!("UUID is {}, the config wants {uuid}", h.uuid));
    }
    let discards = h.persistent_flags().iter().any(|f| f == "allow-discards");
    if discards != v.open.allow_discards {
        return Err(format!(
            "discard is {} in the header, the config wants {}",
            discards, v.open.allow_discards
        ));
    }
    Ok(())
}

/// The plan line for `v`, as `kindling plan` prints it (`!` marks destruction).
impl fmt::Display for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut with = Vec::new();
        if let Some(l) = &self.label {
            with.push(format!("label {l:?}"));
        }
        if let Some(u) = &self.uuid {
            with.push(format!("uuid {u}"));
        }
        with.push(if self.key_from_config {
            "key from keyFile".to_string()
        } else {
            "generated key".to_string()
        });
        if let Some(c) = &self.clevis {
            with.push(format!("clevis {} {}", c.pin, c.config));
        }
        if let Some(t) = &self.tpm2 {
            with.push(format!(
                "TPM2 sealed to PCRs {:?} ({}){}",
                t.policy.pcrs,
                t.policy.bank.name(),
                if t.pin.is_some() { " and a PIN" } else { "" }
            ));
        }
        let with = with.join(", ");
        let (dev, name) = (&self.device, &self.name);
        match self.action {
            Action::Format { wipe: true } => {
                write!(f, "! WIPE     {dev}, then LUKS2-FORMAT as {name} ({with})")
            }
            Action::Format { wipe: false } => {
                write!(f, "  LUKS2-FORMAT {dev} as {name} ({with})")
            }
            Action::Reuse => write!(f, "  REUSE    LUKS2 volume {dev}, open as {name}"),
            Action::Deferred => write!(
                f,
                "  LUKS2-FORMAT {dev} as {name} once it exists, if it holds no other signature ({with})"
            ),
        }
    }
}
