//! Filesystems as Ignition treats them (reference §3.4): reuse what matches, refuse to destroy
//! what does not unless `wipeFilesystem`, otherwise `wipefs -a` and the format's mkfs.

use crate::probe::Found;
use kindling_config::model::Filesystem;
use std::process::Command;

/// What will happen to one configured filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsAction {
    /// Format, label and UUID already match (or `none` on a blank device): nothing to do.
    Reuse(Option<Found>),
    /// Blank device: mkfs (after a `wipefs -a` that finds nothing).
    Create,
    /// `wipeFilesystem: true`: whatever is there (if anything) is erased, then mkfs.
    Wipe(Option<Found>),
    /// The device is created by this plan (a RAID array): probed and decided when it exists.
    Deferred,
}

/// The error Ignition returns when it refuses to overwrite a filesystem.
pub const WRONG_TYPE: &str = "filesystem is not of the correct type";

/// Ignition's comparison: lowercase, and for vfat the dash in `XXXX-XXXX` is dropped.
fn canonical_uuid(format: &str, uuid: &str) -> String {
    let u = uuid.to_lowercase();
    if format == "vfat" && u.len() == 9 && u.as_bytes()[4] == b'-' {
        return u.replacen('-', "", 1);
    }
    u
}

/// Decide from what a probe found; `Err` is the refusal (Ignition's error and its log detail).
pub fn decide(fs: &Filesystem, found: Option<Found>) -> Result<FsAction, String> {
    if fs.wipe_filesystem == Some(true) {
        return Ok(FsAction::Wipe(found));
    }
    let format = match fs.format.as_deref() {
        Some("none") | None => "",
        Some(f) => f,
    };
    let (ty, label, uuid) = found
        .as_ref()
        .map(|f| (f.fs_type.as_str(), f.label.as_str(), f.uuid.as_str()))
        .unwrap_or_default();
    let label_ok = fs.label.as_deref().is_none_or(|l| l == label);
    let uuid_ok = fs
        .uuid
        .as_deref()
        .is_none_or(|u| canonical_uuid(ty, uuid) == canonical_uuid(format, u));
    if ty == format && label_ok && uuid_ok {
        return Ok(FsAction::Reuse(found));
    }
    if !ty.is_empty() {
        return Err(format!(
            "{WRONG_TYPE}: filesystem at {:?} is not of the correct type, label, or UUID \
             (found {ty}, {label:?}, {uuid}) and a filesystem wipe was not requested",
            fs.device
        ));
    }
    Ok(FsAction::Create)
}

/// The mkfs command line for `fs` on `device`, exactly as Ignition builds it (user options
/// first); `None` for format `none`.
pub fn mkfs_command(fs: &Filesystem, device: &str) -> Result<Option<Vec<String>>, String> {
    let format = fs.format.as_deref().unwrap_or_default();
    let mut argv: Vec<String> = Vec::new();
    let mut push = |a: &[&str]| argv.extend(a.iter().map(|s| s.to_string()));
    let (tool, force, uuid_flag, label_flag) = match format {
        "ext4" => ("mkfs.ext4", Some("-F"), "-U", "-L"),
        "btrfs" => ("mkfs.btrfs", Some("--force"), "-U", "-L"),
        "xfs" => ("mkfs.xfs", Some("-f"), "-m", "-L"),
        "swap" => ("mkswap", Some("-f"), "-U", "-L"),
        "vfat" => ("mkfs.fat", None, "-i", "-n"),
        "none" => return Ok(None),
        other => return Err(format!("unsupported filesystem format: {other:?}")),
    };
    push(&[tool]);
    argv.extend(fs.options.iter().cloned());
    if let Some(f) = force {
        argv.push(f.into());
    }
    if let Some(u) = &fs.uuid {
        argv.push(uuid_flag.into());
        argv.push(match format {
            "xfs" => format!("uuid={u}"),
            "vfat" => u.replace('-', "").to_lowercase(),
            _ => u.clone(),
        });
    }
    if let Some(l) = &fs.label {
        argv.push(label_flag.into());
        argv.push(l.clone());
    }
    argv.push(device.into());
    Ok(Some(argv))
}

/// Run a command, turning failure into an error with its stderr.
pub fn run(argv: &[String]) -> Result<(), String> {
    let (tool, args) = argv.split_first().ok_or("empty command")?;
    let out = Command::new(tool)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {tool}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed ({}): {}",
            argv.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Erase signatures and create the filesystem on an existing device.
pub fn format(fs: &Filesystem, device: &str) -> Result<(), String> {
    run(&["wipefs".into(), "-a".into(), device.into()])
        .map_err(|e| format!("wipefs failed: {e}"))?;
    if let Some(argv) = mkfs_command(fs, device)? {
        run(&argv).map_err(|e| format!("mkfs failed: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{Window, probe};

    fn fs(json: &str) -> Filesystem {
        serde_json::from_str(json).unwrap()
    }

    fn found(t: &str, l: &str, u: &str) -> Option<Found> {
        Some(Found {
            fs_type: t.into(),
            label: l.into(),
            uuid: u.into(),
        })
    }

    #[test]
    fn commands_are_ignitions() {
        let cases = [
            (
                r#"{"device":"/dev/vdb1","format":"ext4","options":["-E","nodiscard"],"label":"ROOT","uuid":"9c1e1e7a-0d1b-4b5e-8b3c-2f1d1c1b1a19"}"#,
                "mkfs.ext4 -E nodiscard -F -U 9c1e1e7a-0d1b-4b5e-8b3c-2f1d1c1b1a19 -L ROOT /dev/vdb1",
            ),
            (
                r#"{"device":"/dev/vdb1","format":"btrfs","label":"b"}"#,
                "mkfs.btrfs --force -L b /dev/vdb1",
            ),
            (
                r#"{"device":"/dev/vdb1","format":"xfs","options":["--unsupported"],"uuid":"u-1"}"#,
                "mkfs.xfs --unsupported -f -m uuid=u-1 /dev/vdb1",
            ),
            (
                r#"{"device":"/dev/vdb1","format":"swap","label":"s"}"#,
                "mkswap -f -L s /dev/vdb1",
            ),
            (
                r#"{"device":"/dev/vdb1","format":"vfat","uuid":"2E24-EC82","label":"EFI"}"#,
                "mkfs.fat -i 2e24ec82 -n EFI /dev/vdb1",
            ),
        ];
        for (json, want) in cases {
            let argv = mkfs_command(&fs(json), "/dev/vdb1").unwrap().unwrap();
            assert_eq!(argv.join(" "), want);
        }
        assert_eq!(
            mkfs_command(&fs(r#"{"device":"/d","format":"none"}"#), "/d"),
            Ok(None)
        );
    }

    #[test]
    fn reuse_and_refusal_follow_ignition() {
        let ext4 = fs(r#"{"device":"/dev/vdb1","format":"ext4","label":"data"}"#);
        assert!(matches!(
            decide(&ext4, found("ext4", "data", "x")),
            Ok(FsAction::Reuse(_))
        ));
        assert_eq!(decide(&ext4, None), Ok(FsAction::Create));
        let e = decide(&ext4, found("ext4", "other", "x")).unwrap_err();
        assert!(e.starts_with(WRONG_TYPE), "{e}");
        assert!(e.contains(r#"(found ext4, "other", x)"#), "{e}");
        // regression.filesystem.ignoreswipe: vfat requested on ext4 without wipe.
        let vfat = fs(r#"{"device":"/dev/vdb1","format":"vfat"}"#);
        assert!(decide(&vfat, found("ext4", "", "x")).is_err());
        // regression.uuids.vfat: case and dash canonicalised.
        let vfat = fs(r#"{"device":"/d","format":"vfat","uuid":"2E24EC82"}"#);
        assert!(matches!(
            decide(&vfat, found("vfat", "", "2e24-ec82")),
            Ok(FsAction::Reuse(_))
        ));
        // format none: blank is a match, anything else is refused without wipe.
        let none = fs(r#"{"device":"/d","format":"none"}"#);
        assert_eq!(decide(&none, None), Ok(FsAction::Reuse(None)));
        assert!(decide(&none, found("ext4", "", "")).is_err());
        let wipe = fs(r#"{"device":"/d","format":"none","wipeFilesystem":true}"#);
        assert_eq!(
            decide(&wipe, found("ext4", "", "")),
            Ok(FsAction::Wipe(found("ext4", "", "")))
        );
        // A partition table on the device is a signature too.
        assert!(decide(&ext4, found("gpt partition table", "", "")).is_err());
    }

    /// Every format's command really creates what blkid then reports (reference §7 *.wipe cases).
    #[test]
    fn formats_image_files_with_label_and_uuid() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "ext4",
                "ext4lbl",
                "9c1e1e7a-0d1b-4b5e-8b3c-2f1d1c1b1a19",
                "[]",
            ),
            (
                "btrfs",
                "btrfslbl",
                "3f3c1a2e-7f43-4f61-9d0e-6c1a2b3c4d5e",
                "[]",
            ),
            (
                "xfs",
                "xfslbl",
                "7b1d2c3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
                r#"["--unsupported"]"#,
            ),
            (
                "swap",
                "swaplbl",
                "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d",
                "[]",
            ),
            ("vfat", "VFATLBL", "2e24ec82", "[]"),
        ];
        for (format, label, uuid, opts) in cases {
            let img = dir.path().join(format!("{format}.img"));
            std::fs::File::create(&img)
                .unwrap()
                .set_len(320 << 20)
                .unwrap();
            let dev = img.to_string_lossy().into_owned();
            let cfg = fs(&format!(
                r#"{{"device":"{dev}","format":"{format}","label":"{label}","uuid":"{uuid}","options":{opts},"wipeFilesystem":true}}"#
            ));
            format_checked(&cfg, &dev);
            let w = Window {
                path: &img,
                offset: None,
            };
            let got = probe(&w).unwrap().unwrap();
            assert_eq!((got.fs_type.as_str(), got.label.as_str()), (format, label));
            assert_eq!(
                canonical_uuid(format, &got.uuid),
                canonical_uuid(format, uuid)
            );
            // The same config without wipe now reuses it.
            let mut again = cfg.clone();
            again.wipe_filesystem = None;
            assert!(matches!(decide(&again, Some(got)), Ok(FsAction::Reuse(_))));
        }
    }

    fn format_checked(cfg: &Filesystem, dev: &str) {
        if let Err(e) = format(cfg, dev) {
            panic!("{e}");
        }
    }
}
