//! LUKS persistence (upstream's `createCrypttabEntries`): `/etc/luks/<name>` (0600, the
//! directory 0700 when created) for volumes opened by key file, and one `/etc/crypttab` line
//! per volume appended (the file ends up 0600). Lines and keys come from `kindling-luks`.

use crate::atomic::{Perms, write_bytes};
use crate::root::Root;
use crate::selinux::Relabel;
use kindling_config::Config;
use kindling_report::Recorder;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The disks stage's keys to persist (the state file's `luksPersistKeyFiles`: data URLs by
/// volume name). Never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LuksKeys(pub BTreeMap<String, String>);

impl fmt::Debug for LuksKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LuksKeys({:?} redacted)",
            self.0.keys().collect::<Vec<_>>()
        )
    }
}

pub fn apply(
    root: &Root,
    config: &Config,
    keys: &LuksKeys,
    relabel: &mut Relabel,
    rec: &mut Recorder,
) -> Result<(), String> {
    let luks = &config.storage.luks;
    if luks.is_empty() {
        return Ok(());
    }
    rec.op("writing crypttab entries and LUKS key files", None, |_| {
        let files =
            kindling_luks::crypttab::target_files(luks, &keys.0, kindling_luks::crypttab::uuid_of)?;
        if !files.keys.is_empty() {
            let dir = Path::new(kindling_luks::crypttab::KEY_DIR);
            let resolved = root.resolve(dir).map_err(|e| e.to_string())?;
            relabel.created(root, &resolved);
            let (parent, name, _) = root.parent_creating(&resolved).map_err(|e| e.to_string())?;
            parent
                .mkdir(&name, 0o700)
                .map_err(|e| format!("creating {}: {e}", dir.display()))?;
            for (name, key) in &files.keys {
                let path = dir.join(name);
                let resolved = root.resolve(&path).map_err(|e| e.to_string())?;
                relabel.created(root, &resolved);
                let (d, file) = root.parent(&resolved).map_err(|e| e.to_string())?;
                write_bytes(&d, &file, key, Perms::mode(0o600))
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
            }
        }
        let path = Path::new("/etc/crypttab");
        let resolved = root.resolve(path).map_err(|e| e.to_string())?;
        relabel.created(root, &resolved);
        let mut crypttab = root
            .read_file(&resolved)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        crypttab.extend_from_slice(files.crypttab.as_bytes());
        let (d, file, _) = root.parent_creating(&resolved).map_err(|e| e.to_string())?;
        write_bytes(&d, &file, &crypttab, Perms::mode(0o600))
            .map_err(|e| format!("writing {}: {e}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use crate::testutil::Target;
    use kindling_luks::volume::{FormatSpec, format};

    #[test]
    fn crypttab_and_key_files() {
        let t = Target::new();
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("vdb.img");
        std::fs::File::create(&img)
            .unwrap()
            .set_len(32 << 20)
            .unwrap();
        let spec = FormatSpec {
            keyslot_pbkdf: kindling_luks::options::Pbkdf::minimal(),
            ..FormatSpec::default()
        };
        let uuid = format(&img, &spec, b"key").unwrap();
        t.write("/etc/crypttab", "old line\n");
        let json = format!(
            r#"{{"storage":{{"luks":[{{"name":"data","device":"{0}"}},
                {{"name":"tpm","device":"{0}","kindlingTpm2":{{}}}},
                {{"name":"tang","device":"{0}","clevis":{{"tang":[{{"url":"http://t","thumbprint":"x"}}]}}}}]}}}}"#,
            img.display()
        );
        let mut options = t.options();
        options.luks_keys.0.insert(
            "data".into(),
            kindling_luks::key::to_data_url(b"key").to_string(),
        );
        t.run_with(&json, &options).unwrap();
        assert_eq!(
            t.read("/etc/crypttab"),
            format!(
                "old line\ndata UUID={uuid} /etc/luks/data luks,x-initrd.attach\n\
                 tpm UUID={uuid} none luks,tpm2-device=auto,x-initrd.attach\n\
                 tang UUID={uuid} none luks,_netdev,x-initrd.attach\n"
            )
        );
        assert_eq!(t.stat("/etc/crypttab").2, 0o600);
        assert_eq!(t.read("/etc/luks/data"), "key");
        assert_eq!(t.stat("/etc/luks/data").2, 0o600);
        assert_eq!(t.stat("/etc/luks").2, 0o700);
        assert!(!t.exists("/etc/luks/tpm"));
        assert!(format!("{:?}", options.luks_keys).contains("redacted"));
        assert!(!format!("{:?}", options.luks_keys).contains("base64"));

        // A key-file volume without its persisted key is an error, as upstream.
        let t = Target::new();
        let err = t.run(&json).unwrap_err();
        assert!(
            err.message.contains("missing persisted keyfile for data"),
            "{err}"
        );
    }
}
