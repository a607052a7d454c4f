//! `proxmoxve` (Proxmox VE): the cloud-init NoCloud drive labelled `cidata` (Proxmox VE admin
//! guide "Cloud-Init Support"), waited for 30 s; `user-data` is used unless it is empty or a
//! `#cloud-config` document, then `vendor-data` the same way; nothing usable, or a drive that
//! cannot be read, is an empty config, as upstream.

use crate::drive;
use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

pub struct ProxmoxVe;

impl Provider for ProxmoxVe {
    fn id(&self) -> &'static str {
        "proxmoxve"
    }

    fn fetch(&self, _fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        let Some(device) =
            drive::wait_for_label(&host.disk_by_label, &["cidata"], Some(WAIT), drive::POLL)
        else {
            log::info!("no cidata drive: continuing with an empty config");
            return Ok(Some(Vec::new()));
        };
        let read = drive::with_mounted(&device, "auto", |dir| {
            let user = drive::read_optional(dir, "/user-data")?;
            let vendor = drive::read_optional(dir, "/vendor-data")?;
            Ok(pick(user, vendor))
        });
        // As upstream, a drive that cannot be read means no config.
        Ok(Some(read.unwrap_or_else(|e| {
            log::error!("failed to fetch config from config drive (cidata): {e}");
            Vec::new()
        })))
    }
}

/// The first of user-data and vendor-data that is an Ignition config rather than empty or
/// cloud-config.
fn pick(user: Option<Vec<u8>>, vendor: Option<Vec<u8>>) -> Vec<u8> {
    [user, vendor]
        .into_iter()
        .flatten()
        .find(|data| !data.is_empty() && !data.starts_with(b"#cloud-config\n"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_drive_means_no_config() {
        let (dir, host) = crate::host::tests::temp_host("proxmoxve");
        std::fs::create_dir_all(&host.disk_by_label).unwrap();
        std::fs::write(host.disk_by_label.join("cidata"), "").unwrap();
        let got = ProxmoxVe.fetch(&Fetcher::new(), &host).unwrap();
        assert_eq!(got, Some(Vec::new()));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn cloud_config_and_empty_files_are_skipped() {
        let cc = || Some(b"#cloud-config\nusers: []\n".to_vec());
        let ign = || Some(b"{\"ignition\":{}}".to_vec());
        assert_eq!(pick(ign(), None), ign().unwrap());
        assert_eq!(pick(cc(), ign()), ign().unwrap());
        assert_eq!(pick(Some(Vec::new()), ign()), ign().unwrap());
        assert_eq!(pick(cc(), cc()), Vec::<u8>::new());
        assert_eq!(pick(None, None), Vec::<u8>::new());
    }
}
