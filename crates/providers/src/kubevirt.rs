//! `kubevirt` (KubeVirt): the config drive, following the KubeVirt user guide "Startup Scripts": a cloud-init NoCloud disk (label `cidata`, file
//! `user-data`) or config drive (label `config-2`, file `openstack/latest/user_data`), whichever
//! appears first, waited for forever (the journal says so every 30 s). A drive that cannot be
//! read is left aside for the other; when both fail the config is empty, as upstream.
//!
//! Mounting a real drive cannot happen on the test host (no iso9660 or vfat there, see
//! docs/platforms.md); the tests give it drives that cannot be mounted.

use crate::drive::{ConfigDrive, OnError};

pub static KUBEVIRT: ConfigDrive = ConfigDrive {
    id: "kubevirt",
    sources: &[
        ("cidata", "/user-data"),
        ("config-2", "/openstack/latest/user_data"),
    ],
    wait: None,
    on_error: OnError::Empty,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;
    use crate::host::tests::temp_host;

    #[test]
    fn an_unreadable_drive_means_no_config() {
        let (dir, host) = temp_host("kubevirt");
        std::fs::create_dir_all(&host.disk_by_label).unwrap();
        for (label, _) in KUBEVIRT.sources {
            // An empty file under the label: found at once, but mount refuses it.
            std::fs::write(host.disk_by_label.join(label), "").unwrap();
        }
        let got = KUBEVIRT.fetch(&kindling_fetch::Fetcher::new(), &host);
        assert_eq!(got.unwrap(), Some(Vec::new()));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
