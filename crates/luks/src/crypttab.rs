//! What the files stage writes into the target root for LUKS volumes: one `/etc/crypttab` line
//! per volume (as upstream 2.27: `NAME UUID=… KEYFILE luks[,_netdev],x-initrd.attach`) and
//! `/etc/luks/<name>` for volumes opened by key file. TPM2 volumes get `none` and
//! `tpm2-device=auto`, which stock systemd-cryptsetup (252+) understands. A TPM2 volume with a
//! PIN gets the same line: at every boot systemd-cryptsetup sees `tpm2-pin: true` in the token
//! and asks for the PIN through the password agents, as with `systemd-cryptenroll
//! --tpm2-with-pin=yes`.

use crate::header::{self, Header};
use crate::key::{self, Key};
use crate::{clevis, plan};
use kindling_config::model::Luks;
use std::collections::BTreeMap;
use std::path::Path;

/// Where key files go on the target.
pub const KEY_DIR: &str = "/etc/luks";

/// The LUKS UUID of the volume on `dev`.
pub fn uuid_of(dev: &Path) -> Result<String, String> {
    match header::read(dev, 0)? {
        Header::Luks2(h) => Ok(h.uuid),
        _ => Err(format!(
            "gathering luks uuid: {} has no LUKS2 header",
            dev.display()
        )),
    }
}

/// The crypttab line for `l`, whose volume has `uuid` (with its newline).
pub fn line(l: &Luks, uuid: &str) -> String {
    let tpm2 = l.kindling_tpm2.is_some();
    let keyfile = if clevis::present(&l.clevis) || tpm2 {
        "none".to_string()
    } else {
        format!("{KEY_DIR}/{}", l.name)
    };
    let netdev = !l.clevis.tang.is_empty()
        || (l
            .clevis
            .custom
            .pin
            .as_deref()
            .is_some_and(|p| !p.is_empty())
            && l.clevis.custom.needs_network == Some(true));
    let mut opts = vec!["luks"];
    if netdev {
        opts.push("_netdev");
    }
    if tpm2 {
        opts.push("tpm2-device=auto");
    }
    opts.push("x-initrd.attach");
    format!("{} UUID={uuid} {keyfile} {}\n", l.name, opts.join(","))
}

/// Everything for the target root.
pub struct TargetFiles {
    /// Lines to append to `/etc/crypttab` (mode 0600).
    pub crypttab: String,
    /// `(name, key)`: write to `/etc/luks/<name>` (mode 0600, directory 0700).
    pub keys: Vec<(String, Key)>,
}

/// The target files for `luks`, keys from the state file's `luksPersistKeyFiles` (data URLs by
/// volume name), UUIDs read from each device's header through `uuid_of`.
pub fn target_files(
    luks: &[Luks],
    persisted: &BTreeMap<String, String>,
    uuid_of: impl Fn(&Path) -> Result<String, String>,
) -> Result<TargetFiles, String> {
    let mut out = TargetFiles {
        crypttab: String::new(),
        keys: Vec::new(),
    };
    for l in luks {
        let dev = l.device.as_deref().unwrap_or_default();
        let uuid = uuid_of(Path::new(dev))?;
        out.crypttab.push_str(&line(l, &uuid));
        let keyed = !clevis::present(&l.clevis) && plan::tpm2_policy(l)?.is_none();
        if keyed {
            let url = persisted
                .get(&l.name)
                .ok_or_else(|| format!("missing persisted keyfile for {}", l.name))?;
            out.keys.push((l.name.clone(), key::from_data_url(url)?));
        }
    }
    Ok(out)
}
