//! Config drives and CD-ROMs: wait for a filesystem label to appear under
//! `/dev/disk/by-label`, mount the device read-only on a private directory, read, unmount.

use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often a missing drive is looked for again.
pub const POLL: Duration = Duration::from_secs(1);
/// How often a long wait says so in the journal.
const NAG: Duration = Duration::from_secs(30);

/// The first of `labels` that appears in `by_label`, polling every `poll`; `None` when `wait`
/// ran out (`None` waits forever, logging every 30 s).
pub fn wait_for_label(
    by_label: &Path,
    labels: &[&str],
    wait: Option<Duration>,
    poll: Duration,
) -> Option<PathBuf> {
    let start = Instant::now();
    let mut nagged = start;
    loop {
        if let Some(found) = labels.iter().map(|l| by_label.join(l)).find(|p| p.exists()) {
            log::info!("found config drive {}", found.display());
            return Some(found);
        }
        if wait.is_some_and(|w| start.elapsed() >= w) {
            return None;
        }
        if nagged.elapsed() >= NAG {
            log::warn!(
                "still waiting for a drive labelled {} after {} s",
                labels.join(" or "),
                start.elapsed().as_secs()
            );
            nagged = Instant::now();
        }
        std::thread::sleep(poll);
    }
}

/// Run `read` on the filesystem of `device`, mounted read-only with `fstype` (`auto`, `udf`,
/// `iso9660`, …), then unmount it.
pub fn with_mounted<T>(
    device: &Path,
    fstype: &str,
    read: impl FnOnce(&Path) -> Result<T, ProviderError>,
) -> Result<T, ProviderError> {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kindling-drive-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).map_err(|error| ProviderError::Read {
        path: dir.clone(),
        error,
    })?;
    let mounted = run(Command::new("mount")
        .args(["-o", "ro", "-t", fstype])
        .arg(device)
        .arg(&dir));
    let result = mounted.and_then(|()| {
        let result = read(&dir);
        if let Err(e) = run(Command::new("umount").arg(&dir)) {
            log::warn!("unmounting {}: {e}", dir.display());
        }
        result
    });
    let _ = std::fs::remove_dir(&dir);
    result
}

/// A file of a mounted drive; `None` when it is absent.
pub fn read_optional(dir: &Path, relative: &str) -> Result<Option<Vec<u8>>, ProviderError> {
    let path = dir.join(relative.trim_start_matches('/'));
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            log::info!("no {relative} on the drive");
            Ok(None)
        }
        Err(error) => Err(ProviderError::Read { path, error }),
    }
}

/// Run a helper command; its stderr becomes the error.
pub fn run(command: &mut Command) -> Result<(), ProviderError> {
    let name = format!("{command:?}");
    let output = command.output().map_err(|e| ProviderError::Command {
        command: name.clone(),
        message: e.to_string(),
    })?;
    if output.status.success() {
        return Ok(());
    }
    Err(ProviderError::Command {
        command: name,
        message: format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    })
}

/// The config from the first drive that appears among `sources` (label, file on it):
/// mounted (`auto`) and read; a missing file is an empty config, and so is no drive within
/// `wait` (`None` waits forever). A drive that cannot be read is left aside and the others
/// are waited for; the error comes back only when every source failed.
pub fn read_config(
    by_label: &Path,
    sources: &[(&str, &str)],
    wait: Option<Duration>,
) -> Result<Vec<u8>, ProviderError> {
    let start = Instant::now();
    let mut remaining = sources.to_vec();
    loop {
        let labels: Vec<&str> = remaining.iter().map(|(label, _)| *label).collect();
        let left = wait.map(|w| w.saturating_sub(start.elapsed()));
        let Some(device) = wait_for_label(by_label, &labels, left, POLL) else {
            log::info!("no config drive appeared: continuing with an empty config");
            return Ok(Vec::new());
        };
        let Some(at) = remaining
            .iter()
            .position(|(label, _)| by_label.join(label) == device)
        else {
            return Ok(Vec::new());
        };
        let (label, file) = remaining.remove(at);
        match with_mounted(&device, "auto", |dir| read_optional(dir, file)) {
            Ok(data) => return Ok(data.unwrap_or_default()),
            Err(e) if remaining.is_empty() => return Err(e),
            Err(e) => log::error!("failed to fetch config from config drive ({label}): {e}"),
        }
    }
}

/// What a drive that cannot be read means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// The fetch fails.
    Fail,
    /// Logged; the machine boots with an empty config.
    Empty,
}

/// A platform whose config is a file of a config drive found by label.
pub struct ConfigDrive {
    pub id: &'static str,
    /// (label, file on that drive), in order of preference.
    pub sources: &'static [(&'static str, &'static str)],
    /// How long to wait for a drive; `None` waits forever.
    pub wait: Option<Duration>,
    pub on_error: OnError,
}

impl Provider for ConfigDrive {
    fn id(&self) -> &'static str {
        self.id
    }

    fn fetch(&self, _fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        match read_config(&host.disk_by_label, self.sources, self.wait) {
            Ok(data) => Ok(Some(data)),
            Err(e) if self.on_error == OnError::Empty => {
                log::error!("{e}: continuing with an empty config");
                Ok(Some(Vec::new()))
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::temp_host;

    #[test]
    fn labels_are_found_in_order_or_the_wait_runs_out() {
        let (dir, host) = temp_host("drive-wait");
        std::fs::create_dir_all(&host.disk_by_label).unwrap();
        let short = Some(Duration::from_millis(50));
        let tick = Duration::from_millis(10);
        let by_label = &host.disk_by_label;
        assert_eq!(wait_for_label(by_label, &["config-2"], short, tick), None);
        std::fs::write(by_label.join("CONFIG-2"), "").unwrap();
        assert_eq!(
            wait_for_label(by_label, &["config-2", "CONFIG-2"], short, tick),
            Some(by_label.join("CONFIG-2"))
        );
        // A drive that appears while waiting is picked up.
        let late = by_label.join("cidata");
        let writer = {
            let late = late.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                std::fs::write(late, "").unwrap();
            })
        };
        assert_eq!(
            wait_for_label(by_label, &["cidata"], None, tick),
            Some(late)
        );
        writer.join().unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_drive_is_an_empty_config_and_files_are_optional() {
        let (dir, host) = temp_host("drive-read");
        let got = read_config(
            &host.disk_by_label,
            &[("cidata", "/user-data")],
            Some(Duration::ZERO),
        );
        assert_eq!(got.unwrap(), Vec::<u8>::new());
        std::fs::write(dir.join("user-data"), "x").unwrap();
        assert_eq!(
            read_optional(&dir, "/user-data").unwrap(),
            Some(b"x".to_vec())
        );
        assert_eq!(read_optional(&dir, "/vendor-data").unwrap(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_drive_that_cannot_be_mounted_is_an_error_naming_mount() {
        // An empty regular file has no filesystem: mount refuses it.
        let (dir, host) = temp_host("drive-unmountable");
        std::fs::create_dir_all(&host.disk_by_label).unwrap();
        std::fs::write(host.disk_by_label.join("cidata"), "").unwrap();
        let err = read_config(&host.disk_by_label, &[("cidata", "/user-data")], None).unwrap_err();
        assert!(err.to_string().contains("mount"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_broken_drive_is_left_aside_for_the_others() {
        let (dir, host) = temp_host("drive-others");
        std::fs::create_dir_all(&host.disk_by_label).unwrap();
        std::fs::write(host.disk_by_label.join("cidata"), "").unwrap();
        let sources = [
            ("cidata", "/user-data"),
            ("config-2", "/openstack/latest/user_data"),
        ];
        // cidata fails to mount; config-2 never comes within the wait: no config.
        let got = read_config(
            &host.disk_by_label,
            &sources,
            Some(Duration::from_millis(50)),
        );
        assert_eq!(got.unwrap(), Vec::<u8>::new());
        // Both fail: the error of the last one.
        std::fs::write(host.disk_by_label.join("config-2"), "").unwrap();
        let err = read_config(&host.disk_by_label, &sources, None).unwrap_err();
        assert!(err.to_string().contains("config-2"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn failing_commands_say_what_failed() {
        let err = run(&mut Command::new("false")).unwrap_err();
        assert!(err.to_string().contains("false"), "{err}");
    }
}
