//! The mount and umount stages (reference §3.5): the configured filesystems under the target
//! root, shallowest first, and unmounted deepest first.

use crate::execute::DisksError;
use crate::filesystems::run;
use kindling_config::Config;
use kindling_config::model::Filesystem;
use kindling_report::Recorder;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};

/// Filesystems the mount stage handles (a path, and a format that can be mounted), with their
/// config paths, shallowest first; equal depths keep config order.
fn mountable(config: &Config) -> Vec<(String, &Filesystem, &str)> {
    let mut list: Vec<_> = config
        .storage
        .filesystems
        .iter()
        .enumerate()
        .filter_map(|(i, fs)| {
            let path = fs.path.as_deref().filter(|p| !p.is_empty())?;
            match fs.format.as_deref() {
                None | Some("") | Some("swap") | Some("none") => None,
                Some(_) => Some((format!("$.storage.filesystems.{i}"), fs, path)),
            }
        })
        .collect();
    list.sort_by_key(|(_, _, p)| depth(p));
    list
}

fn depth(path: &str) -> usize {
    Path::new(path)
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count()
}

/// `root` joined with an in-root absolute path, literally (no symlink is followed).
fn join(root: &Path, path: &str) -> PathBuf {
    let mut out = root.to_path_buf();
    for c in Path::new(path).components() {
        if let Component::Normal(n) = c {
            out.push(n);
        }
    }
    out
}

/// Create the mount point, refusing any existing component that is not a directory (a
/// symlink could point the mount anywhere). Returns the directories created, as in-root paths.
fn prepare_mount_point(root: &Path, path: &str) -> Result<Vec<String>, String> {
    let target = join(root, path);
    let mut current = root.to_path_buf();
    let mut in_root = String::new();
    let mut created = Vec::new();
    for c in Path::new(path).components() {
        let Component::Normal(name) = c else { continue };
        current.push(name);
        in_root.push('/');
        in_root.push_str(&name.to_string_lossy());
        match fs::symlink_metadata(&current) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "mount path {:?} contains non-directory component {:?}",
                    target.display().to_string(),
                    current.display().to_string()
                ));
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .mode(0o755)
                    .create(&current)
                    .map_err(|e| format!("creating {current:?}: {e}"))?;
                created.push(in_root.clone());
            }
            Err(e) => return Err(format!("checking {current:?}: {e}")),
        }
    }
    Ok(created)
}

/// The mount stage. Returns the directories it created (for the state file's
/// `notatedDirectories`), even when a later mount fails.
pub fn mount(
    config: &Config,
    root: &Path,
    rec: &mut Recorder,
) -> (Vec<String>, Result<(), DisksError>) {
    let mut notated = Vec::new();
    for (config_path, fs, path) in mountable(config) {
        let target = join(root, path);
        let options = fs.mount_options.join(",");
        let format = fs.format.as_deref().unwrap_or_default();
        let name = format!(
            "mounting {:?} at {:?} with type {format:?} and options {options:?}",
            fs.device,
            target.display().to_string()
        );
        let result = rec.op(name, Some(&config_path), |_| {
            notated.extend(prepare_mount_point(root, path)?);
            run(&[
                "mount".into(),
                "-o".into(),
                options.clone(),
                "-t".into(),
                format.into(),
                fs.device.clone(),
                target.to_string_lossy().into_owned(),
            ])
        });
        if let Err(message) = result {
            return (
                notated,
                Err(DisksError {
                    message,
                    config_path: Some(config_path),
                }),
            );
        }
    }
    (notated, Ok(()))
}

/// The umount stage: every filesystem the mount stage mounted, deepest first.
pub fn umount(config: &Config, root: &Path, rec: &mut Recorder) -> Result<(), DisksError> {
    for (config_path, _, path) in mountable(config).into_iter().rev() {
        let target = join(root, path);
        rec.op(
            format!("unmounting {:?}", target.display().to_string()),
            Some(&config_path),
            |_| nix::mount::umount(&target).map_err(|e| format!("umount {target:?}: {e}")),
        )
        .map_err(|message| DisksError {
            message,
            config_path: Some(config_path.clone()),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Config {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn mounts_shallowest_first_and_skips_unmountable() {
        let c = config(
            r#"{"ignition":{"version":"3.5.0"},"storage":{"filesystems":[
                {"device":"/dev/a","format":"ext4","path":"/var/lib/x"},
                {"device":"/dev/b","format":"swap","path":"/swap"},
                {"device":"/dev/c","format":"xfs","path":"/var"},
                {"device":"/dev/d","format":"none","path":"/n"},
                {"device":"/dev/e","path":"/nofmt"},
                {"device":"/dev/f","format":"vfat","path":"/boot"},
                {"device":"/dev/g","format":"ext4"}]}}"#,
        );
        let order: Vec<&str> = mountable(&c)
            .iter()
            .map(|(_, fs, _)| fs.device.as_str())
            .collect();
        assert_eq!(order, ["/dev/c", "/dev/f", "/dev/a"]);
        assert_eq!(mountable(&c)[0].0, "$.storage.filesystems.2");
    }

    #[test]
    fn mount_points_are_created_and_symlinks_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("home")).unwrap();
        let made = prepare_mount_point(root, "/home/test/.ssh/foo").unwrap();
        assert_eq!(
            made,
            ["/home/test", "/home/test/.ssh", "/home/test/.ssh/foo"]
        );
        assert!(root.join("home/test/.ssh/foo").is_dir());
        assert_eq!(
            prepare_mount_point(root, "/home/test").unwrap(),
            Vec::<String>::new()
        );
        // filesystem.pathusessymlinks
        std::os::unix::fs::symlink("/etc", root.join("tmp0")).unwrap();
        let e = prepare_mount_point(root, "/tmp0/x").unwrap_err();
        assert_eq!(
            e,
            format!(
                "mount path {:?} contains non-directory component {:?}",
                root.join("tmp0/x").display().to_string(),
                root.join("tmp0").display().to_string()
            )
        );
        assert!(!Path::new("/etc/x").exists() || Path::new("/etc/x").is_dir());
    }

    #[test]
    fn a_failed_mount_names_its_entry() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(
            r#"{"ignition":{"version":"3.5.0"},"storage":{"filesystems":[
                {"device":"/dev/kindling-test-missing","format":"ext4","path":"/data",
                 "mountOptions":["doesnotexist"]}]}}"#,
        );
        let mut rec = Recorder::new("mount");
        let (made, r) = mount(&c, dir.path(), &mut rec);
        assert_eq!(made, ["/data"]);
        let e = r.unwrap_err();
        assert_eq!(e.config_path.as_deref(), Some("$.storage.filesystems.0"));
        assert!(
            e.message.contains("mount -o doesnotexist -t ext4"),
            "{}",
            e.message
        );
        assert_eq!(rec.operations().len(), 1);
    }

    fn mounted(target: &Path) -> bool {
        let mounts = fs::read_to_string("/proc/mounts").unwrap();
        let t = target.to_string_lossy();
        mounts.lines().any(|l| l.split(' ').nth(1) == Some(&*t))
    }

    /// Mount stage then umount stage on real (loop-mounted) ext4 images; needs root.
    #[test]
    fn mounts_by_depth_and_unmounts_in_reverse() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir(&root).unwrap();
        let mut devices = Vec::new();
        for name in ["outer", "inner"] {
            let img = dir.path().join(format!("{name}.img"));
            fs::File::create(&img).unwrap().set_len(16 << 20).unwrap();
            run(&[
                "mkfs.ext4".into(),
                "-q".into(),
                img.to_string_lossy().into_owned(),
            ])
            .unwrap();
            devices.push(img.to_string_lossy().into_owned());
        }
        let c = config(&format!(
            r#"{{"ignition":{{"version":"3.5.0"}},"storage":{{"filesystems":[
                {{"device":"{}","format":"ext4","path":"/srv/inner","mountOptions":["ro"]}},
                {{"device":"{}","format":"ext4","path":"/srv"}}]}}}}"#,
            devices[1], devices[0]
        ));
        let mut rec = Recorder::new("mount");
        let (made, r) = mount(&c, &root, &mut rec);
        r.unwrap();
        // /srv was created in the root, /srv/inner inside the outer filesystem.
        assert_eq!(made, ["/srv", "/srv/inner"]);
        assert!(mounted(&root.join("srv")) && mounted(&root.join("srv/inner")));
        let names: Vec<_> = rec.operations().iter().map(|o| o.name.clone()).collect();
        assert!(
            names[0].contains("/srv\" with type \"ext4\" and options \"\""),
            "{names:?}"
        );
        assert!(names[1].contains("and options \"ro\""), "{names:?}");
        let mut rec = Recorder::new("umount");
        umount(&c, &root, &mut rec).unwrap();
        assert!(!mounted(&root.join("srv/inner")) && !mounted(&root.join("srv")));
        assert!(rec.operations()[0].name.ends_with("srv/inner\""));
    }
}
