//! LUKS2 operations through libcryptsetup: format, key slots, tokens, key checks and
//! activation. Everything except [`activate`] works on plain image files (no device-mapper).

use crate::options::{FormatOptions, OpenFlags, Pbkdf};
use libcryptsetup_rs::consts::flags::{CryptActivate, CryptPbkdf, CryptVolumeKey};
use libcryptsetup_rs::consts::vals::{CryptKdf, EncryptionFormat};
use libcryptsetup_rs::{
    CryptDevice, CryptInit, CryptParamsLuks2, CryptPbkdfType, CryptSettingsHandle, Either,
    LibcryptErr, TokenInput,
};
use std::path::Path;

/// cryptsetup 2.6's LUKS2 defaults.
const DEFAULT_CIPHER: (&str, &str) = ("aes", "xts-plain64");
const DEFAULT_KEY_BITS: usize = 512;

/// What a new volume looks like.
#[derive(Debug, Clone, Default)]
pub struct FormatSpec {
    pub options: FormatOptions,
    pub label: Option<String>,
    pub uuid: Option<String>,
    /// Stored in the header as persistent activation flags (`--persistent`).
    pub flags: OpenFlags,
    /// The first key slot's PBKDF when `options` choose none.
    pub keyslot_pbkdf: Pbkdf,
}

fn err(what: &str, dev: &Path) -> impl Fn(LibcryptErr) -> String {
    let what = format!("{what} {}", dev.display());
    move |e| format!("{what}: {e}")
}

fn init(dev: &Path) -> Result<CryptDevice, String> {
    CryptInit::init(dev).map_err(err("cannot open", dev))
}

/// An existing LUKS2 volume.
fn load(dev: &Path) -> Result<CryptDevice, String> {
    let mut cd = init(dev)?;
    cd.context_handle()
        .load::<()>(Some(EncryptionFormat::Luks2), None)
        .map_err(err("no LUKS2 header on", dev))?;
    Ok(cd)
}

fn kdf(name: &str) -> Result<CryptKdf, String> {
    match name {
        "pbkdf2" => Ok(CryptKdf::Pbkdf2),
        "argon2i" => Ok(CryptKdf::Argon2I),
        "argon2id" => Ok(CryptKdf::Argon2Id),
        other => Err(format!(
            "unknown PBKDF {other:?} (pbkdf2, argon2i or argon2id)"
        )),
    }
}

/// libcryptsetup's PBKDF settings for `p`; `None` keeps the library default (benchmarked
/// argon2id).
fn pbkdf_type(p: &Pbkdf) -> Result<Option<CryptPbkdfType>, String> {
    if p.is_default() {
        return Ok(None);
    }
    let mut t = match &p.kind {
        Some(k) => CryptSettingsHandle::get_pbkdf_type_params(&kdf(k)?)
            .map_err(|e| format!("PBKDF {k} parameters: {e}"))?,
        None => {
            CryptSettingsHandle::get_pbkdf_default(&libcryptsetup_rs::consts::vals::LuksType::Luks2)
                .map_err(|e| format!("default PBKDF parameters: {e}"))?
        }
    };
    if let Some(h) = &p.hash {
        t.hash = Some(h.clone());
    }
    if t.type_ == CryptKdf::Pbkdf2 && t.hash.is_none() {
        t.hash = Some("sha256".into());
    }
    if let Some(ms) = p.iter_time_ms {
        t.time_ms = ms;
    }
    if let Some(m) = p.memory_kib {
        t.max_memory_kb = m;
    }
    if let Some(n) = p.parallel {
        t.parallel_threads = n;
    }
    if let Some(n) = p.force_iterations {
        t.iterations = n;
        t.flags |= CryptPbkdf::NO_BENCHMARK;
    }
    if t.type_ == CryptKdf::Pbkdf2 {
        t.max_memory_kb = 0;
        t.parallel_threads = 0;
    }
    Ok(Some(t))
}

fn set_pbkdf(cd: &mut CryptDevice, p: &Pbkdf, dev: &Path) -> Result<(), String> {
    if let Some(t) = pbkdf_type(p)? {
        cd.settings_handle()
            .set_pbkdf_type(&t)
            .map_err(err("setting the PBKDF for", dev))?;
    }
    Ok(())
}

fn activate_flags(f: &OpenFlags) -> CryptActivate {
    let mut out = CryptActivate::empty();
    for (on, flag) in [
        (f.allow_discards, CryptActivate::ALLOW_DISCARDS),
        (f.same_cpu_crypt, CryptActivate::SAME_CPU_CRYPT),
        (
            f.submit_from_crypt_cpus,
            CryptActivate::SUBMIT_FROM_CRYPT_CPUS,
        ),
        (f.no_read_workqueue, CryptActivate::NO_READ_WORKQUEUE),
        (f.no_write_workqueue, CryptActivate::NO_WRITE_WORKQUEUE),
    ] {
        if on {
            out |= flag;
        }
    }
    out
}

/// Format `dev` as LUKS2 with one key slot for `key`; returns the volume's UUID.
pub fn format(dev: &Path, spec: &FormatSpec, key: &[u8]) -> Result<String, String> {
    let mut cd = init(dev)?;
    let o = &spec.options;
    let pbkdf = if o.pbkdf.is_default() {
        &spec.keyslot_pbkdf
    } else {
        &o.pbkdf
    };
    set_pbkdf(&mut cd, pbkdf, dev)?;
    let uuid = spec
        .uuid
        .as_deref()
        .map(|u| {
            u.parse::<uuid::Uuid>()
                .map_err(|e| format!("uuid {u:?} is not a UUID: {e}"))
        })
        .transpose()?;
    let mut params = CryptParamsLuks2 {
        pbkdf: pbkdf_type(pbkdf)?,
        integrity: None,
        integrity_params: None,
        data_alignment: 0,
        data_device: None,
        sector_size: o.sector_size.unwrap_or(0),
        label: spec.label.clone(),
        subsystem: o.subsystem.clone(),
    };
    let (cipher, mode) = o
        .cipher
        .as_ref()
        .map(|(c, m)| (c.as_str(), m.as_str()))
        .unwrap_or(DEFAULT_CIPHER);
    let key_bytes = o.key_size_bits.unwrap_or(DEFAULT_KEY_BITS) / 8;
    if let Some(h) = &o.hash {
        // The AF/digest hash follows the PBKDF hash setting in libcryptsetup.
        let mut t = pbkdf_type(pbkdf)?.map(Ok).unwrap_or_else(|| {
            CryptSettingsHandle::get_pbkdf_default(&libcryptsetup_rs::consts::vals::LuksType::Luks2)
                .map_err(|e| format!("default PBKDF parameters: {e}"))
        })?;
        t.hash = Some(h.clone());
        cd.settings_handle()
            .set_pbkdf_type(&t)
            .map_err(err("setting the hash for", dev))?;
        params.pbkdf = Some(t);
    }
    let mut params_ref: libcryptsetup_rs::CryptParamsLuks2Ref<'_> = (&params)
        .try_into()
        .map_err(err("format parameters for", dev))?;
    cd.context_handle()
        .format(
            EncryptionFormat::Luks2,
            (cipher, mode),
            uuid,
            Either::Right(key_bytes),
            Some(&mut params_ref),
        )
        .map_err(err("luksFormat failed on", dev))?;
    cd.keyslot_handle()
        .add_by_key(None, None, key, CryptVolumeKey::empty())
        .map_err(err("adding the key slot to", dev))?;
    let flags = activate_flags(&spec.flags);
    if !flags.is_empty() {
        cd.luks2_flag_handle::<CryptActivate>()
            .persistent_flags_set(flags)
            .map_err(err("storing activation flags in", dev))?;
    }
    let uuid = cd
        .status_handle()
        .get_uuid()
        .map_err(err("reading the UUID of", dev))?;
    Ok(uuid.to_string())
}

/// Whether `key` opens a key slot of `dev` (only that slot when given), without activating.
/// Returns the slot.
pub fn check_key(dev: &Path, key: &[u8], slot: Option<u32>) -> Result<u32, String> {
    let mut cd = load(dev)?;
    cd.activate_handle()
        .activate_by_passphrase(None, slot, key, CryptActivate::empty())
        .map_err(|e| format!("the key does not open {}: {e}", dev.display()))
}

/// Add a key slot for `new` (with `pbkdf`), authorised by `key`; returns the new slot.
pub fn add_key(dev: &Path, key: &[u8], new: &[u8], pbkdf: &Pbkdf) -> Result<u32, String> {
    let mut cd = load(dev)?;
    set_pbkdf(&mut cd, pbkdf, dev)?;
    cd.keyslot_handle()
        .add_by_passphrase(None, key, new)
        .map_err(err("adding a key slot to", dev))
}

/// Destroy the key slot `key` opens (the generated key once a TPM2 or clevis slot exists).
pub fn remove_key(dev: &Path, key: &[u8]) -> Result<(), String> {
    let slot = check_key(dev, key, None)?;
    load(dev)?
        .keyslot_handle()
        .destroy(slot)
        .map_err(err("removing the key slot from", dev))
}

/// Store `token` in a free token slot and assign it to `keyslot`.
pub fn add_token(dev: &Path, token: &serde_json::Value, keyslot: u32) -> Result<u32, String> {
    let mut cd = load(dev)?;
    let id = cd
        .token_handle()
        .json_set(TokenInput::AddToken(token))
        .map_err(err("adding a token to", dev))?;
    cd.token_handle()
        .assign_keyslot(id, Some(keyslot))
        .map_err(err("assigning the token's key slot on", dev))?;
    Ok(id)
}

/// Open `dev` as `/dev/mapper/<name>`, storing `flags` in the header first (`--persistent`).
pub fn activate(dev: &Path, name: &str, key: &[u8], flags: &OpenFlags) -> Result<(), String> {
    let mut cd = load(dev)?;
    let flags = activate_flags(flags);
    cd.luks2_flag_handle::<CryptActivate>()
        .persistent_flags_set(CryptActivate::from_bits_retain(flags.bits()))
        .map_err(err("storing activation flags in", dev))?;
    cd.activate_handle()
        .activate_by_passphrase(Some(name), None, key, flags)
        .map_err(|e| format!("cannot open {} as {name}: {e}", dev.display()))?;
    Ok(())
}

/// Close `/dev/mapper/<name>`.
pub fn deactivate(name: &str) -> Result<(), String> {
    let mut cd = CryptInit::init_by_name_and_header(name, None)
        .map_err(|e| format!("cannot find the open volume {name}: {e}"))?;
    cd.activate_handle()
        .deactivate(
            name,
            libcryptsetup_rs::consts::flags::CryptDeactivate::empty(),
        )
        .map_err(|e| format!("cannot close {name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{self, Header};
    use crate::options::format_options;

    pub(crate) fn image(dir: &Path, mib: u64) -> std::path::PathBuf {
        let p = dir.join("disk.img");
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(mib << 20).unwrap();
        p
    }

    #[test]
    fn minimal_keyslot_label_uuid_flags_and_key_checks() {
        let dir = tempfile::tempdir().unwrap();
        let img = image(dir.path(), 32);
        let spec = FormatSpec {
            label: Some("data".into()),
            uuid: Some("11111111-2222-3333-4444-555555555555".into()),
            flags: OpenFlags {
                allow_discards: true,
                ..OpenFlags::default()
            },
            keyslot_pbkdf: Pbkdf::minimal(),
            ..FormatSpec::default()
        };
        let uuid = format(&img, &spec, b"secret key").unwrap();
        assert_eq!(uuid, "11111111-2222-3333-4444-555555555555");
        let Header::Luks2(h) = header::read(&img, 0).unwrap() else {
            panic!("no LUKS2 header")
        };
        assert_eq!(h.label, "data");
        assert_eq!(h.uuid, uuid);
        assert_eq!(h.persistent_flags(), vec!["allow-discards"]);
        let slot = &h.metadata["keyslots"]["0"]["kdf"];
        assert_eq!(slot["type"], "pbkdf2");
        assert_eq!(slot["hash"], "sha512");
        assert_eq!(slot["iterations"], 1000);
        assert_eq!(check_key(&img, b"secret key", None).unwrap(), 0);
        assert!(check_key(&img, b"wrong key", None).is_err());

        let added = add_key(&img, b"secret key", b"second", &Pbkdf::minimal()).unwrap();
        assert_eq!(added, 1);
        remove_key(&img, b"secret key").unwrap();
        assert!(check_key(&img, b"secret key", None).is_err());
        assert_eq!(check_key(&img, b"second", None).unwrap(), 1);
    }

    #[test]
    fn options_choose_cipher_key_size_and_pbkdf() {
        let dir = tempfile::tempdir().unwrap();
        let img = image(dir.path(), 32);
        let options = format_options(
            &[
                "--cipher=aes-cbc-essiv:sha256",
                "--key-size=256",
                "--pbkdf=argon2id",
                "--pbkdf-force-iterations=4",
                "--pbkdf-memory=32768",
                "--pbkdf-parallel=1",
                "--sector-size=512",
            ]
            .map(String::from),
        )
        .unwrap();
        let spec = FormatSpec {
            options,
            keyslot_pbkdf: Pbkdf::minimal(),
            ..FormatSpec::default()
        };
        format(&img, &spec, b"k").unwrap();
        let Header::Luks2(h) = header::read(&img, 0).unwrap() else {
            panic!("no LUKS2 header")
        };
        let seg = &h.metadata["segments"]["0"];
        assert_eq!(seg["encryption"], "aes-cbc-essiv:sha256");
        assert_eq!(seg["sector_size"], 512);
        let kdf = &h.metadata["keyslots"]["0"]["kdf"];
        assert_eq!(kdf["type"], "argon2id");
        assert_eq!(kdf["time"], 4);
        assert_eq!(kdf["memory"], 32768);
        assert_eq!(h.metadata["keyslots"]["0"]["key_size"], 32);
        assert!(h.persistent_flags().is_empty());
        assert_eq!(check_key(&img, b"k", Some(0)).unwrap(), 0);
    }
}
