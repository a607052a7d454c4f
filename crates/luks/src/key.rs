//! Key material: generated keys, private temporary key files for the clevis CLI, and the data
//! URLs the state file carries between the disks and files stages. Keys are never logged and
//! are zeroed when dropped.

use base64::Engine;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub type Key = Zeroizing<Vec<u8>>;

/// A random key as Ignition makes one: 4096 random bytes, hex-encoded (8192 ASCII characters;
/// clevis handles hex key files, not raw random ones).
pub fn generate() -> Result<Key, String> {
    let mut raw = Zeroizing::new(vec![0u8; 4096]);
    getrandom::getrandom(&mut raw).map_err(|e| format!("no random bytes for a LUKS key: {e}"))?;
    let mut hex = Zeroizing::new(Vec::with_capacity(8192));
    for b in raw.iter() {
        hex.extend_from_slice(format!("{b:02x}").as_bytes());
    }
    Ok(hex)
}

/// A key in a file of its own (mode 0400, in a directory only root can enter), deleted with
/// its directory when dropped.
pub struct TempKeyFile {
    dir: PathBuf,
    path: PathBuf,
}

impl TempKeyFile {
    pub fn new(key: &[u8]) -> Result<TempKeyFile, String> {
        let base = std::env::temp_dir();
        let mut suffix = [0u8; 8];
        getrandom::getrandom(&mut suffix).map_err(|e| format!("no random bytes: {e}"))?;
        let dir = base.join(format!("kindling-luks-{}", crate::token::hex(&suffix)));
        DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let keyfile = TempKeyFile {
            path: dir.join("key"),
            dir,
        };
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o400)
            .open(&keyfile.path)
            .map_err(|e| format!("cannot create a temporary key file: {e}"))?;
        f.write_all(key)
            .map_err(|e| format!("cannot write a temporary key file: {e}"))?;
        Ok(keyfile)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempKeyFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            log::warn!("cannot remove {}: {e}", self.dir.display());
        }
    }
}

/// The key as the state file stores it (upstream's `luksPersistKeyFiles` values).
pub fn to_data_url(key: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "data:;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    ))
}

/// A key back from a state-file data URL (base64 or percent-encoded, as Go's dataurl writes).
pub fn from_data_url(url: &str) -> Result<Key, String> {
    let rest = url
        .strip_prefix("data:")
        .ok_or("persisted LUKS key is not a data URL")?;
    let (meta, data) = rest
        .split_once(',')
        .ok_or("persisted LUKS key: data URL without a comma")?;
    if meta.ends_with(";base64") {
        return base64::engine::general_purpose::STANDARD
            .decode(data)
            .map(Zeroizing::new)
            .map_err(|e| format!("persisted LUKS key: bad base64: {e}"));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(data.len()));
    let bytes = data.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = data
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("persisted LUKS key: bad percent escape")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_keys_are_long_hex_and_differ() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert_eq!(a.len(), 8192);
        assert!(a.iter().all(u8::is_ascii_hexdigit));
        assert_ne!(*a, *b);
    }

    #[test]
    fn temp_key_file_is_private_and_removed() {
        let f = TempKeyFile::new(b"k3y").unwrap();
        let path = f.path().to_path_buf();
        assert_eq!(std::fs::read(&path).unwrap(), b"k3y");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o400);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        drop(f);
        assert!(!path.parent().unwrap().exists());
    }

    #[test]
    fn data_urls_round_trip() {
        let key = b"\x00\xffkey with spaces%".to_vec();
        assert_eq!(*from_data_url(&to_data_url(&key)).unwrap(), key);
        assert_eq!(*from_data_url("data:,a%20b").unwrap(), b"a b".to_vec());
        assert!(from_data_url("http://x").is_err());
        assert!(from_data_url("data:,%zz").is_err());
    }
}
