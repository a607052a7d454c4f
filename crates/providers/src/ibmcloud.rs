//! `ibmcloud` (IBM Cloud VPC): the config drive, following the IBM Cloud VPC docs "User data": a cloud-init NoCloud volume
//! (label `cidata`, file `user-data`) waited for 30 s. No volume in time, no file, or a volume
//! that cannot be read is an empty config, as upstream.
//!
//! Mounting a real drive cannot happen on the test host (no iso9660 or vfat there, see
//! docs/platforms.md); the tests give it drives that cannot be mounted.

use crate::drive::{ConfigDrive, OnError};
use std::time::Duration;

pub static IBMCLOUD: ConfigDrive = ConfigDrive {
    id: "ibmcloud",
    sources: &[("cidata", "/user-data")],
    wait: Some(Duration::from_secs(30)),
    on_error: OnError::Empty,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;
    use crate::host::tests::temp_host;

    #[test]
    fn an_unreadable_drive_means_no_config() {
        let (dir, host) = temp_host("ibmcloud");
        std::fs::create_dir_all(&host.disk_by_label).unwrap();
        for (label, _) in IBMCLOUD.sources {
            // An empty file under the label: found at once, but mount refuses it.
            std::fs::write(host.disk_by_label.join(label), "").unwrap();
        }
        let got = IBMCLOUD.fetch(&kindling_fetch::Fetcher::new(), &host);
        assert_eq!(got.unwrap(), Some(Vec::new()));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
