//! `qemu` on s390x and ppc64le, where QEMU has no fw_cfg: the config is a virtio block device
//! with serial `ignition` (`-drive if=none,id=ign,format=raw,file=config.ign,readonly=on
//! -device virtio-blk,serial=ignition,drive=ign`, as Fedora CoreOS documents for these
//! architectures), read whole from `/dev/disk/by-id/virtio-ignition`; the zero padding to the
//! device's sector size is stripped. The device is polled every 5 s and must appear within
//! 5 minutes. Upstream calls this experimental, and so does the journal.

use crate::{Host, ProviderError};
use std::io::ErrorKind;
use std::path::Path;
use std::time::{Duration, Instant};

const DEVICE: &str = "/dev/disk/by-id/virtio-ignition";
const POLL: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(300);

pub(crate) fn fetch(host: &Host) -> Result<Vec<u8>, ProviderError> {
    log::warn!(
        "Fetching the config via the virtio block driver is currently experimental and subject to change."
    );
    if !Path::new("/sys/bus/virtio/drivers/virtio_blk").exists() {
        crate::drive::run(std::process::Command::new(&host.modprobe).arg("virtio_blk"))?;
    }
    read_device(Path::new(DEVICE), POLL, TIMEOUT)
}

/// The device's bytes without trailing NULs, once it exists.
fn read_device(path: &Path, poll: Duration, timeout: Duration) -> Result<Vec<u8>, ProviderError> {
    let start = Instant::now();
    loop {
        match std::fs::read(path) {
            Ok(mut data) => {
                let end = data.iter().rposition(|&b| b != 0).map_or(0, |e| e + 1);
                data.truncate(end);
                return Ok(data);
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                if start.elapsed() >= timeout {
                    return Err(ProviderError::Invalid(format!(
                        "timed out after {} s waiting for block device {:?} to appear",
                        timeout.as_secs(),
                        path.display()
                    )));
                }
                log::debug!("block device {:?} not found. Waiting...", path.display());
                std::thread::sleep(poll);
            }
            Err(error) => {
                return Err(ProviderError::Read {
                    path: path.to_path_buf(),
                    error,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sector_padding_is_stripped_and_a_missing_device_times_out() {
        let (dir, _) = crate::host::tests::temp_host("qemu-blockdev");
        let device = dir.join("virtio-ignition");
        let tick = Duration::from_millis(10);
        let err = read_device(&device, tick, Duration::from_millis(30)).unwrap_err();
        assert!(err.to_string().contains("timed out"), "{err}");
        let mut sector = b"{\"ignition\":{}}\n".to_vec();
        sector.resize(512, 0);
        std::fs::write(&device, &sector).unwrap();
        assert_eq!(
            read_device(&device, tick, tick).unwrap(),
            b"{\"ignition\":{}}\n"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
