//! `qemu`: the config is the fw_cfg blob `opt/com.coreos/config`
//! (`-fw_cfg name=opt/com.coreos/config,file=config.ign`), read through the `qemu_fw_cfg`
//! kernel module's sysfs files. No blob means an empty config.

use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::process::Command;

const BLOB: &str = "by_name/opt/com.coreos/config";

pub struct Qemu;

impl Provider for Qemu {
    fn id(&self) -> &'static str {
        "qemu"
    }

    fn fetch(&self, _fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        // No fw_cfg on these: a virtio block device instead.
        if cfg!(any(target_arch = "s390x", target_arch = "powerpc64")) {
            return crate::qemu_blockdev::fetch(host).map(Some);
        }
        if !host.qemu_fw_cfg.exists() {
            load_module(&host.modprobe)?;
        }
        read_blob(&host.qemu_fw_cfg.join(BLOB)).map(Some)
    }
}

fn load_module(modprobe: &str) -> Result<(), ProviderError> {
    log::info!("loading QEMU firmware config module");
    let command = format!("{modprobe} qemu_fw_cfg");
    let output = Command::new(modprobe)
        .arg("qemu_fw_cfg")
        .output()
        .map_err(|e| ProviderError::Command {
            command: command.clone(),
            message: e.to_string(),
        })?;
    if output.status.success() {
        return Ok(());
    }
    Err(ProviderError::Command {
        command,
        message: format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    })
}

/// Read a fw_cfg entry: its `size` file, then its `raw` file in as few reads as possible
/// (each read of `raw` costs time proportional to its offset in the kernel module).
fn read_blob(dir: &Path) -> Result<Vec<u8>, ProviderError> {
    let size_path = dir.join("size");
    let size = match std::fs::read_to_string(&size_path) {
        Ok(size) => size,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            log::info!("QEMU firmware config was not found. Ignoring...");
            return Ok(Vec::new());
        }
        Err(error) => {
            return Err(ProviderError::Read {
                path: size_path,
                error,
            });
        }
    };
    let size: usize = size.trim().parse().map_err(|_| {
        ProviderError::Invalid(format!(
            "couldn't parse QEMU firmware config size {:?} in {}",
            size.trim(),
            size_path.display()
        ))
    })?;
    let raw_path = dir.join("raw");
    let read_err = |error| ProviderError::Read {
        path: raw_path.clone(),
        error,
    };
    let mut raw = std::fs::File::open(&raw_path).map_err(read_err)?;
    // One guard byte past the announced size tells a blob that is longer than announced.
    let mut data = vec![0u8; size + 1];
    let mut len = 0;
    while len < size {
        match raw.read(&mut data[len..]) {
            Ok(0) => {
                return Err(ProviderError::Invalid(format!(
                    "QEMU firmware config ended after {len} of {size} bytes"
                )));
            }
            Ok(n) => len += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(read_err(e)),
        }
    }
    if len > size {
        return Err(ProviderError::Invalid(format!(
            "QEMU firmware config is longer than its announced size of {size} bytes"
        )));
    }
    data.truncate(size);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::temp_host;

    fn write_blob(host: &Host, size: &str, raw: &[u8]) {
        let dir = host.qemu_fw_cfg.join(BLOB);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("size"), size).unwrap();
        std::fs::write(dir.join("raw"), raw).unwrap();
    }

    #[test]
    fn reads_the_blob_of_its_announced_size() {
        let (dir, host) = temp_host("qemu-read");
        let config = br#"{"ignition":{"version":"3.5.0"}}"#;
        write_blob(&host, &format!("{}\n", config.len()), config);
        assert_eq!(
            Qemu.fetch(&Fetcher::new(), &host).unwrap().as_deref(),
            Some(&config[..])
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_blob_is_an_empty_config() {
        let (dir, host) = temp_host("qemu-missing");
        std::fs::create_dir_all(&host.qemu_fw_cfg).unwrap();
        assert_eq!(
            Qemu.fetch(&Fetcher::new(), &host).unwrap(),
            Some(Vec::new())
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn size_mismatch_and_bad_size_are_errors() {
        let (dir, host) = temp_host("qemu-mismatch");
        write_blob(&host, "4", b"{}");
        assert!(Qemu.fetch(&Fetcher::new(), &host).is_err(), "short blob");
        write_blob(&host, "1", b"{}");
        assert!(Qemu.fetch(&Fetcher::new(), &host).is_err(), "long blob");
        write_blob(&host, "two", b"{}");
        let err = Qemu.fetch(&Fetcher::new(), &host).unwrap_err();
        assert!(err.to_string().contains("size"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn loads_the_module_when_sysfs_dir_is_absent() {
        let (dir, mut host) = temp_host("qemu-modprobe");
        // temp_host's modprobe is `false`: loading fails, and so does the fetch.
        let err = Qemu.fetch(&Fetcher::new(), &host).unwrap_err();
        assert!(err.to_string().contains("qemu_fw_cfg"), "{err}");
        host.modprobe = "true".into();
        assert_eq!(
            Qemu.fetch(&Fetcher::new(), &host).unwrap(),
            Some(Vec::new())
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
