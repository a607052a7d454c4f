//! Distro base configs: `base.d` and `base.platform.d/<platform>` under the system config dirs.
//!
//! As upstream 2.27: the file names of a base directory are gathered across every system config
//! directory, where a name in a higher-priority directory hides the same name in a lower one
//! (`/run/ignition` over `/etc/ignition` over `/usr/lib/ignition`); the files are then merged in
//! byte order of their names. `base.platform.d/<platform>` is merged over `base.d`. Base configs
//! are never rendered: their own `ignition.config.merge`/`replace` are not fetched.

use crate::merge::merge;
use crate::parse::{ParseError, parse};
use crate::{Config, Severity};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct BaseError {
    pub path: std::path::PathBuf,
    pub message: String,
}

impl fmt::Display for BaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "base config {}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for BaseError {}

/// The merged base configs and what to tell about them.
#[derive(Debug, Clone, Default)]
pub struct Base {
    /// `None` when there is no base config at all.
    pub config: Option<Config>,
    /// Every file merged, in merge order.
    pub files: Vec<PathBuf>,
    /// Log lines for problems that do not fail the stage: parse warnings, a vanished file, a
    /// platform directory ignored because of an error.
    pub warnings: Vec<String>,
}

/// Load and merge the base configs for `platform` from `dirs`, lowest priority first
/// (`/usr/lib/ignition`, `/etc/ignition`, `/run/ignition` in upstream 2.27 order).
/// `None` when there is no base config at all.
pub fn load_base(dirs: &[&Path], platform: &str) -> Result<Option<Config>, BaseError> {
    read_base(dirs, platform).map(|base| base.config)
}

/// [`load_base`], also returning the files merged and the warnings to log.
///
/// An error in `base.d` fails; an error in the platform directory only drops that directory's
/// configs with a warning, as upstream does.
pub fn read_base(dirs: &[&Path], platform: &str) -> Result<Base, BaseError> {
    let mut base = Base::default();
    base.config = read_directory(dirs, Path::new("base.d"), &mut base)?;
    if !is_plain_name(platform) {
        base.warnings.push(format!(
            "platform {platform:?} is not a plain directory name: no base.platform.d configs read"
        ));
        return Ok(base);
    }
    let platform_dir = Path::new("base.platform.d").join(platform);
    let mut platform_base = Base::default();
    match read_directory(dirs, &platform_dir, &mut platform_base) {
        Ok(config) => {
            base.files.append(&mut platform_base.files);
            base.warnings.append(&mut platform_base.warnings);
            base.config = match (base.config, config) {
                (Some(parent), Some(child)) => Some(merge(&parent, &child)),
                (parent, child) => child.or(parent),
            };
        }
        Err(e) => {
            base.warnings.append(&mut platform_base.warnings);
            base.warnings.push(format!(
                "{e}; ignoring every config in {} as Ignition does",
                platform_dir.display()
            ));
        }
    }
    Ok(base)
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/')
}

/// Merge the configs of `sub` (relative to each of `dirs`); record files and warnings in `base`.
fn read_directory(
    dirs: &[&Path],
    sub: &Path,
    base: &mut Base,
) -> Result<Option<Config>, BaseError> {
    let mut merged: Option<Config> = None;
    for (_, path) in gather(dirs, sub)? {
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            // Listed but gone (a dangling symlink): nothing to merge. Upstream drops every base
            // config in that case; skipping the one entry is the safer reading.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                base.warnings.push(format!(
                    "base config {}: listed but not readable ({e}); skipped",
                    path.display()
                ));
                continue;
            }
            Err(e) => {
                return Err(BaseError {
                    path,
                    message: format!("cannot read it: {e}"),
                });
            }
        };
        let parsed = match parse(&bytes) {
            Ok(parsed) => parsed,
            Err(ParseError::Empty) => {
                return Err(BaseError {
                    path,
                    message: "not a config (empty); an empty file cannot hide a base config, \
                              write {\"ignition\":{\"version\":\"3.0.0\"}} into it instead"
                        .into(),
                });
            }
            Err(ParseError::Invalid(report)) => {
                let first = report
                    .entries
                    .iter()
                    .find(|e| e.severity == Severity::Error)
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                return Err(BaseError {
                    path,
                    message: format!(
                        "config is not valid{first} (check it with `kindling validate`)"
                    ),
                });
            }
        };
        for entry in &parsed.report.entries {
            base.warnings
                .push(format!("base config {}: {entry}", path.display()));
        }
        merged = Some(match merged {
            Some(parent) => merge(&parent, &parsed.config),
            None => parsed.config,
        });
        base.files.push(path);
    }
    Ok(merged)
}

/// The files of `sub` across `dirs`, by name in byte order; the last directory holding a name wins.
fn gather(dirs: &[&Path], sub: &Path) -> Result<BTreeMap<OsString, PathBuf>, BaseError> {
    let mut files = BTreeMap::new();
    for dir in dirs.iter().rev() {
        let path = dir.join(sub);
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(BaseError {
                    path,
                    message: format!("cannot list the directory: {e}"),
                });
            }
        };
        for entry in entries {
            let entry = entry.map_err(|e| BaseError {
                path: path.clone(),
                message: format!("cannot list the directory: {e}"),
            })?;
            files
                .entry(entry.file_name())
                .or_insert_with(|| entry.path());
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests;
