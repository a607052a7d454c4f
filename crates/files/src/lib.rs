//! The files stage: everything written into the target root, confined to it.

use kindling_config::Config;
use kindling_fetch::Fetcher;
use kindling_report::Recorder;
use std::path::PathBuf;

/// How the files stage runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The target root (`/sysroot` at boot, any directory for `kindling apply`).
    pub root: PathBuf,
    /// Directories the mount stage created (from the state file), chowned to the user whose
    /// home they are under.
    pub notated_directories: Vec<String>,
}

#[derive(Debug)]
pub struct FilesError {
    pub message: String,
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
    let _ = (config, fetcher, options, recorder);
    todo!("files stage")
}
