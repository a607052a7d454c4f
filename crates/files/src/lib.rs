//! The files stage: everything written into the target root, confined to it.
//!
//! Order as upstream: groups and users (shadow-utils with `--root`), then files, directories
//! and links, then systemd units, then SELinux relabelling of everything created. Every change
//! goes through [`root::Root`], which holds the root open and lets the kernel confine lookups.

mod accounts;
mod atomic;
mod contents;
mod luks;
mod nodes;
mod passwd;
pub mod report;
pub mod result;
mod root;
mod selinux;
mod units;

use kindling_config::Config;
use kindling_fetch::Fetcher;
use kindling_report::Recorder;
use std::path::PathBuf;

pub use contents::Contents;
pub use luks::LuksKeys;

/// How the files stage runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The target root (`/sysroot` at boot, any directory for `kindling apply`).
    pub root: PathBuf,
    /// Directories the mount stage created (from the state file), chowned to the user whose
    /// home they are under.
    pub notated_directories: Vec<String>,
    /// Where SSH keys go.
    pub authorized_keys: AuthorizedKeys,
    /// Whether to label what was written with the target's SELinux policy.
    pub selinux: Selinux,
    /// Called after a user's SSH keys were written, with the user name and the key file's
    /// path in the root: the engine sends upstream's journal entry from it (`MESSAGE_ID`
    /// `225067b87bbd4a0cb6ab151f82fa364b`, `IGNITION_USER_NAME`, `IGNITION_PATH`).
    pub on_ssh_keys_written: Option<fn(user: &str, path: &std::path::Path)>,
    /// LUKS keys from the disks stage, for `/etc/luks/<name>`.
    pub luks_keys: LuksKeys,
}

/// Where a user's `sshAuthorizedKeys` are written (upstream's `writeAuthorizedKeysFragment`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuthorizedKeys {
    /// `~/.ssh/authorized_keys.d/ignition` (upstream's default).
    #[default]
    Fragment,
    /// `~/.ssh/authorized_keys` (`IGNITION_WRITE_AUTHORIZED_KEYS_FRAGMENT=false`).
    File,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Selinux {
    /// Relabel when the target has a policy (`/etc/selinux/config`); otherwise do nothing.
    #[default]
    Auto,
    /// Never relabel (`kindling apply`, distributions without SELinux).
    Off,
}

#[derive(Debug)]
pub struct FilesError {
    pub message: String,
}

impl FilesError {
    pub fn new(message: impl Into<String>) -> FilesError {
        FilesError {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FilesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FilesError {}

/// Run the files stage: passwd, then files, directories and links, then systemd units.
pub fn run(
    config: &Config,
    fetcher: &Fetcher,
    options: &Options,
    recorder: &mut Recorder,
) -> Result<(), FilesError> {
    run_with(config, fetcher, options, recorder)
}

/// [`run`] with any source of file contents (tests use an in-memory one).
pub fn run_with(
    config: &Config,
    contents: &dyn Contents,
    options: &Options,
    recorder: &mut Recorder,
) -> Result<(), FilesError> {
    let root = root::Root::open(&options.root).map_err(|e| FilesError::new(e.to_string()))?;
    let mut relabel = selinux::Relabel::new(&root, options.selinux)?;
    passwd::apply(&root, config, options, &mut relabel, recorder)
        .map_err(|e| FilesError::new(format!("failed to create users/groups: {e}")))?;
    nodes::apply(&root, config, contents, &mut relabel, recorder)
        .map_err(|e| FilesError::new(format!("failed to create files: {e}")))?;
    units::apply(&root, config, &mut relabel, recorder)
        .map_err(|e| FilesError::new(format!("failed to create units: {e}")))?;
    luks::apply(&root, config, &options.luks_keys, &mut relabel, recorder)
        .map_err(|e| FilesError::new(format!("creating crypttab entries: {e}")))?;
    relabel
        .run(&root, recorder)
        .map_err(|e| FilesError::new(format!("failed to handle relabeling: {e}")))
}

#[cfg(test)]
pub(crate) mod testutil {
    //! A temporary target root and a one-call way to run the stage on it.
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    pub struct Target {
        pub dir: tempfile::TempDir,
    }

    impl Target {
        pub fn new() -> Target {
            Target {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        /// The host path of an in-root path.
        pub fn path(&self, p: &str) -> PathBuf {
            self.dir.path().join(p.trim_start_matches('/'))
        }

        pub fn write(&self, p: &str, contents: &str) {
            let path = self.path(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }

        pub fn mkdir(&self, p: &str) {
            std::fs::create_dir_all(self.path(p)).unwrap();
        }

        pub fn symlink(&self, target: &str, p: &str) {
            let path = self.path(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, path).unwrap();
        }

        pub fn read(&self, p: &str) -> String {
            std::fs::read_to_string(self.path(p)).unwrap()
        }

        pub fn exists(&self, p: &str) -> bool {
            std::fs::symlink_metadata(self.path(p)).is_ok()
        }

        /// (uid, gid, permission bits) of the node itself.
        pub fn stat(&self, p: &str) -> (u32, u32, u32) {
            let m = std::fs::symlink_metadata(self.path(p)).unwrap();
            (m.uid(), m.gid(), m.mode() & 0o7777)
        }

        pub fn options(&self) -> Options {
            Options {
                root: self.dir.path().to_path_buf(),
                ..Default::default()
            }
        }

        /// Run the stage on a config given as internal-model JSON, contents from `mem:` URLs.
        pub fn run(&self, json: &str) -> Result<Recorder, FilesError> {
            self.run_with(json, &self.options())
        }

        pub fn run_with(&self, json: &str, options: &Options) -> Result<Recorder, FilesError> {
            let config: Config = serde_json::from_str(json).unwrap();
            let mut rec = Recorder::new("files");
            run_with(&config, &contents::fake::Mem, options, &mut rec)?;
            Ok(rec)
        }

        /// No leftover temporary files anywhere in the root.
        pub fn assert_no_temp_files(&self) {
            fn walk(dir: &Path) {
                for entry in std::fs::read_dir(dir).unwrap() {
                    let entry = entry.unwrap();
                    let name = entry.file_name().to_string_lossy().into_owned();
                    assert!(!name.starts_with(".kindling-tmp"), "temp file left: {name}");
                    if entry.file_type().unwrap().is_dir() {
                        walk(&entry.path());
                    }
                }
            }
            walk(self.dir.path());
        }
    }
}
