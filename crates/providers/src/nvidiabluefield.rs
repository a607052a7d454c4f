//! `nvidiabluefield` (NVIDIA BlueField DPUs): the config is pushed with the BFB image
//! (`bfb-install --config`) and read back from the boot FIFO that the `mlxbf_bootctl` module
//! exposes in sysfs (NVIDIA BlueField BSP docs, "Deploying BlueField Software Using BFB":
//! the bootfifo of device `MLNXBF04:00`). NUL padding is trimmed; a missing or empty FIFO is
//! an empty config.

use crate::drive::run;
use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;
use std::io::ErrorKind;
use std::path::Path;

const BOOTFIFO: &str = "/sys/bus/platform/devices/MLNXBF04:00/bootfifo";

pub struct NvidiaBlueField;

impl Provider for NvidiaBlueField {
    fn id(&self) -> &'static str {
        "nvidiabluefield"
    }

    fn fetch(&self, _fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        run(std::process::Command::new(&host.modprobe).arg("mlxbf_bootctl"))?;
        Ok(Some(read_bootfifo(Path::new(BOOTFIFO))))
    }
}

fn read_bootfifo(path: &Path) -> Vec<u8> {
    match std::fs::read(path) {
        Ok(raw) => {
            let start = raw.iter().position(|&b| b != 0).unwrap_or(raw.len());
            let end = raw.iter().rposition(|&b| b != 0).map_or(start, |e| e + 1);
            if start == end {
                log::info!(
                    "{} is empty: continuing with an empty config",
                    path.display()
                );
            }
            raw[start..end].to_vec()
        }
        Err(e) => {
            if e.kind() != ErrorKind::NotFound {
                log::error!("could not read the bootfifo at {}: {e}", path.display());
            }
            log::info!("no config in the BlueField bootfifo: continuing with an empty config");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_trimmed_and_absence_is_empty() {
        let (dir, _) = crate::host::tests::temp_host("bluefield");
        let fifo = dir.join("bootfifo");
        assert_eq!(read_bootfifo(&fifo), b"");
        std::fs::write(&fifo, b"\0\0{\"ignition\":{}}\0\0\0").unwrap();
        assert_eq!(read_bootfifo(&fifo), b"{\"ignition\":{}}");
        std::fs::write(&fifo, b"\0\0").unwrap();
        assert_eq!(read_bootfifo(&fifo), b"");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_module_is_loaded_first() {
        let (dir, host) = crate::host::tests::temp_host("bluefield-modprobe");
        let err = NvidiaBlueField.fetch(&Fetcher::new(), &host).unwrap_err();
        assert!(err.to_string().contains("mlxbf_bootctl"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
