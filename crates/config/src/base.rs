//! Distro base configs: `base.d` and `base.platform.d/<platform>` under the system config dirs.

use crate::Config;
use std::path::Path;

#[derive(Debug)]
pub struct BaseError {
    pub path: std::path::PathBuf,
    pub message: String,
}

/// Load and merge the base configs for `platform` from `dirs`, lowest priority first
/// (`/usr/lib/ignition`, `/etc/ignition`, `/run/ignition` in upstream 2.27 order).
/// `None` when there is no base config at all.
pub fn load_base(dirs: &[&Path], platform: &str) -> Result<Option<Config>, BaseError> {
    let _ = (dirs, platform);
    todo!("config engine: base configs")
}
