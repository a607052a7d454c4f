//! The state file shared by the stages of one boot (`/run/ignition/state`), in upstream's JSON
//! format: empty lists and maps are written as `null`, as Go does, and read back as empty.

use kindling_config::model::File;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The configs the fetch stages used; the files stage's result file reads it.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub fetched_configs: Vec<FetchedConfig>,
    /// LUKS key files from the disks stage, written to the real root by the files stage.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub luks_persist_key_files: BTreeMap<String, String>,
    /// Directories the mount stage created, relative to the root; the files stage chowns
    /// those under a new user's home.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub notated_directories: Vec<String>,
    /// Files a provider produced while fetching, written by the files stage.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub provider_output_files: Vec<File>,
    /// CEX volume key files from the disks stage.
    #[serde(
        rename = "luksPersistVolumeKeyFiles",
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub luks_persist_secure_key_repo_files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedConfig {
    /// `user` or `base`.
    pub kind: String,
    /// The provider (`cmdline`, `system`, a platform id) or, for a referenced config, its URL.
    pub source: String,
    pub referenced: bool,
}

fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

trait IsEmpty {
    fn is_empty(&self) -> bool;
}

impl<T> IsEmpty for Vec<T> {
    fn is_empty(&self) -> bool {
        Vec::is_empty(self)
    }
}

impl<K, V> IsEmpty for BTreeMap<K, V> {
    fn is_empty(&self) -> bool {
        BTreeMap::is_empty(self)
    }
}

fn empty_as_null<S: Serializer, T: Serialize + IsEmpty>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        v.serialize(s)
    }
}

impl State {
    /// Load the state file; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<State, String> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("parsing state file {}: {e}", path.display())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(format!("reading state file {}: {e}", path.display())),
        }
    }

    /// Write the state file (JSON and a newline, mode 0600, parent directory 0700).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let mut data = serde_json::to_vec(self).map_err(|e| format!("serializing state: {e}"))?;
        data.push(b'\n');
        write_private(path, &data)
            .map_err(|e| format!("writing state file {}: {e}", path.display()))
    }

    /// Record a fetched config once (stages re-run the base config lookup every time).
    pub fn record_fetched(&mut self, kind: &str, source: &str, referenced: bool) {
        let entry = FetchedConfig {
            kind: kind.into(),
            source: source.into(),
            referenced,
        };
        if !self.fetched_configs.contains(&entry) {
            self.fetched_configs.push(entry);
        }
    }
}

/// Write a file readable by root only, creating its parent directory with mode 0700.
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode on open; state is secret (LUKS keys), so force it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    std::io::Write::write_all(&mut file, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_upstream_format_with_nulls_and_round_trips() {
        let mut state = State::default();
        state.record_fetched("user", "file", false);
        state.record_fetched("user", "file", false);
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(
            json,
            r#"{"fetchedConfigs":[{"kind":"user","source":"file","referenced":false}],"luksPersistKeyFiles":null,"notatedDirectories":null,"providerOutputFiles":null,"luksPersistVolumeKeyFiles":null}"#
        );
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn load_missing_is_empty_and_save_is_private() {
        let dir = std::env::temp_dir().join(format!("kindling-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("ignition/state");
        assert_eq!(State::load(&path).unwrap(), State::default());
        let mut state = State::default();
        state.notated_directories.push("/var/home".into());
        state.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), state);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert!(std::fs::read(&path).unwrap().ends_with(b"}\n"));
        std::fs::write(&path, b"{").unwrap();
        assert!(
            State::load(&path)
                .unwrap_err()
                .contains("parsing state file")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
