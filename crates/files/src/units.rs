//! `systemd.units`: unit files and drop-ins in `/etc/systemd/system`, `enabled` as preset lines
//! in `/etc/systemd/system-preset/20-ignition.preset`, disabling of enabled units, `mask`.

use crate::atomic::{Perms, write_bytes};
use crate::root::{Dir, Root, file_type};
use crate::selinux::Relabel;
use kindling_config::Config;
use kindling_config::model::Unit;
use kindling_report::Recorder;
use rustix::fs::FileType;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const UNITS_DIR: &str = "/etc/systemd/system";
pub const PRESET_PATH: &str = "/etc/systemd/system-preset/20-ignition.preset";
/// Directories of `/etc/systemd/system` whose symlinks enable units.
const ENABLEMENT_SUFFIXES: [&str; 3] = [".wants", ".requires", ".upholds"];

/// A preset line in the making: a unit, or a template with its instances in config order.
struct Preset {
    unit: String,
    enabled: bool,
    instances: Vec<String>,
}

/// `echo@bar.service` → (`echo@.service`, `bar`); `None` for a unit that is not an instance.
fn split_instance(name: &str) -> Option<(String, String)> {
    let at = name.find('@')?;
    let dot = name.rfind('.')?;
    if dot < at {
        return None;
    }
    Some((
        format!("{}{}", &name[..=at], &name[dot..]),
        name[at + 1..dot].to_string(),
    ))
}

/// Unit and drop-in names become file names: refuse anything that is not one component.
fn check_name(name: &str, what: &str) -> Result<(), String> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!("invalid {what} name {name:?}: must be a file name"));
    }
    Ok(())
}

pub fn apply(
    root: &Root,
    config: &Config,
    relabel: &mut Relabel,
    rec: &mut Recorder,
) -> Result<(), String> {
    let mut presets: BTreeMap<String, Preset> = BTreeMap::new();
    for (i, unit) in config.systemd.units.iter().enumerate() {
        let config_path = format!("$.systemd.units.{i}");
        check_name(&unit.name, "unit")?;
        rec.op(
            format!("processing unit {:?}", unit.name),
            Some(&config_path),
            |rec| write_unit(root, unit, relabel, rec),
        )?;
        if let Some(enabled) = unit.enabled {
            let state = if enabled { "enabled" } else { "disabled" };
            let (key_unit, instance) = match split_instance(&unit.name) {
                Some((template, instance)) if enabled => (template, Some(instance)),
                _ => (unit.name.clone(), None),
            };
            let preset = presets
                .entry(format!("{key_unit}-{state}"))
                .or_insert(Preset {
                    unit: key_unit,
                    enabled,
                    instances: Vec::new(),
                });
            preset.instances.extend(instance);
        }
        match unit.mask {
            Some(true) => rec.op(
                format!("masking unit {:?}", unit.name),
                Some(&config_path),
                |_| mask(root, &unit.name, relabel),
            )?,
            Some(false) => unmask(root, &unit.name, rec, &config_path)?,
            None => {}
        }
    }
    if !presets.is_empty() {
        write_presets(root, presets.values(), relabel, rec)?;
    }
    Ok(())
}

fn unit_path(name: &str) -> PathBuf {
    Path::new(UNITS_DIR).join(name)
}

fn write_unit(
    root: &Root,
    unit: &Unit,
    relabel: &mut Relabel,
    rec: &mut Recorder,
) -> Result<(), String> {
    for dropin in &unit.dropins {
        let Some(contents) = dropin.contents.as_deref() else {
            continue;
        };
        check_name(&dropin.name, "drop-in")?;
        let path = Path::new(UNITS_DIR)
            .join(format!("{}.d", unit.name))
            .join(&dropin.name);
        rec.op(
            format!("writing systemd drop-in {:?} at {:?}", dropin.name, path),
            None,
            |_| write_file(root, &path, contents.as_bytes(), relabel),
        )?;
    }
    match unit.contents.as_deref() {
        Some(contents) if !contents.is_empty() => {
            let path = unit_path(&unit.name);
            rec.op(
                format!("writing unit {:?} at {:?}", unit.name, path),
                None,
                |_| write_file(root, &path, contents.as_bytes(), relabel),
            )
        }
        _ => Ok(()),
    }
}

/// Write a root-owned 0644 file atomically, replacing whatever file is there.
fn write_file(root: &Root, path: &Path, bytes: &[u8], relabel: &mut Relabel) -> Result<(), String> {
    let resolved = root.resolve(path).map_err(|e| e.to_string())?;
    relabel.created(root, &resolved);
    let (dir, name, _) = root.parent_creating(&resolved).map_err(|e| e.to_string())?;
    write_bytes(&dir, &name, bytes, Perms::mode(0o644))
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

fn units_dir(root: &Root, name: &str) -> Result<(Dir, OsString, PathBuf), String> {
    let resolved = root.resolve(&unit_path(name)).map_err(|e| e.to_string())?;
    let (dir, file, _) = root.parent_creating(&resolved).map_err(|e| e.to_string())?;
    Ok((dir, file, resolved))
}

fn mask(root: &Root, name: &str, relabel: &mut Relabel) -> Result<(), String> {
    let (dir, file, resolved) = units_dir(root, name)?;
    relabel.add(&resolved);
    dir.remove_all(&file).map_err(|e| e.to_string())?;
    dir.symlink(Path::new("/dev/null"), &file)
        .map_err(|e| e.to_string())?;
    dir.sync().map_err(|e| e.to_string())
}

fn is_masked(dir: &Dir, file: &OsStr) -> io::Result<bool> {
    match dir.lstat(file)? {
        Some(st) if file_type(&st) == FileType::Symlink => {
            Ok(dir.readlink(file)? == Path::new("/dev/null"))
        }
        _ => Ok(false),
    }
}

fn unmask(root: &Root, name: &str, rec: &mut Recorder, config_path: &str) -> Result<(), String> {
    let resolved = root.resolve(&unit_path(name)).map_err(|e| e.to_string())?;
    let Ok((dir, file)) = root.parent(&resolved) else {
        return Ok(());
    };
    if !is_masked(&dir, &file).map_err(|e| e.to_string())? {
        return Ok(());
    }
    rec.op(
        format!("unmasking unit {name:?}"),
        Some(config_path),
        |_| dir.unlink(&file).map_err(|e| e.to_string()),
    )
}

fn write_presets<'a>(
    root: &Root,
    presets: impl Iterator<Item = &'a Preset>,
    relabel: &mut Relabel,
    rec: &mut Recorder,
) -> Result<(), String> {
    let mut lines = String::new();
    for preset in presets {
        let mut unit = preset.unit.clone();
        for instance in &preset.instances {
            unit.push(' ');
            unit.push_str(instance);
        }
        if preset.enabled {
            rec.op(
                format!("setting preset to enabled for {unit:?}"),
                None,
                |_| {
                    lines.push_str(&format!("enable {unit}\n"));
                    Ok::<_, String>(())
                },
            )?;
        } else {
            rec.op(
                format!("setting preset to disabled for {unit:?}"),
                None,
                |rec| {
                    let removed = rec.op(
                        format!("removing enablement symlink(s) for {unit:?}"),
                        None,
                        |_| disable(root, &unit),
                    )?;
                    if removed > 0 {
                        lines.push_str(&format!("disable {unit}\n"));
                    }
                    Ok::<_, String>(())
                },
            )?;
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    // Appended as upstream does, but through a whole-file atomic replace.
    let path = root
        .resolve(Path::new(PRESET_PATH))
        .map_err(|e| e.to_string())?;
    let mut contents = root
        .read_file(&path)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    contents.extend_from_slice(lines.as_bytes());
    write_file(root, &path, &contents, relabel)
}

/// `systemctl disable` for units enabled through symlinks in `/etc/systemd/system`: remove
/// every `*.wants`/`*.requires`/`*.upholds` link named after the unit and every alias link
/// pointing at it. Returns how many links were removed (0 = the unit was not enabled).
fn disable(root: &Root, unit: &str) -> Result<usize, String> {
    let dir = match root.dir(Path::new(UNITS_DIR)) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.to_string()),
    };
    let mut removed = 0;
    for name in list(&dir).map_err(|e| e.to_string())? {
        let Some(st) = dir.lstat(&name).map_err(|e| e.to_string())? else {
            continue;
        };
        let text = name.to_string_lossy();
        match file_type(&st) {
            FileType::Directory if ENABLEMENT_SUFFIXES.iter().any(|s| text.ends_with(s)) => {
                let sub = dir.subdir(&name).map_err(|e| e.to_string())?;
                if let Some(st) = sub.lstat(OsStr::new(unit)).map_err(|e| e.to_string())?
                    && file_type(&st) == FileType::Symlink
                {
                    sub.unlink(OsStr::new(unit)).map_err(|e| e.to_string())?;
                    removed += 1;
                }
            }
            FileType::Symlink if text != unit => {
                let target = dir.readlink(&name).map_err(|e| e.to_string())?;
                if target.file_name() == Some(OsStr::new(unit)) {
                    dir.unlink(&name).map_err(|e| e.to_string())?;
                    removed += 1;
                }
            }
            _ => {}
        }
    }
    Ok(removed)
}

pub(crate) fn list(dir: &Dir) -> io::Result<Vec<OsString>> {
    let mut entries = rustix::fs::Dir::read_from(&dir.fd)?;
    let mut names = Vec::new();
    while let Some(entry) = entries.read() {
        let bytes = entry?.file_name().to_bytes().to_vec();
        if bytes != b"." && bytes != b".." {
            names.push(OsStr::from_bytes(&bytes).to_os_string());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests;
