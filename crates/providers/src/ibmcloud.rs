//! `ibmcloud` (IBM Cloud VPC): the config drive, following the IBM Cloud VPC docs "User data" (a
//! cloud-init NoCloud volume labelled `cidata` with `user-data`); the volume is waited for 30 s.
//! No volume after 30 s, or no file on it, is an empty config, as upstream. Mounting cannot run on
//! the test host (no iso9660 or vfat there): see docs/platforms.md.

use crate::drive::ConfigDrive;
use std::time::Duration;

pub static IBMCLOUD: ConfigDrive = ConfigDrive {
    id: "ibmcloud",
    labels: &["cidata"],
    file: "/user-data",
    wait: Some(Duration::from_secs(30)),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;
    use crate::host::tests::temp_host;

    #[test]
    fn reads_the_documented_label_and_file() {
        assert_eq!(IBMCLOUD.labels, &["cidata"]);
        assert_eq!(IBMCLOUD.file, "/user-data");
        assert_eq!(IBMCLOUD.wait, Some(Duration::from_secs(30)));
        // Without the drive, a bounded wait ends in an empty config.
        let (dir, host) = temp_host("ibmcloud");
        let bounded = ConfigDrive {
            wait: Some(std::time::Duration::ZERO),
            ..IBMCLOUD
        };
        let got = bounded
            .fetch(&kindling_fetch::Fetcher::new(), &host)
            .unwrap();
        assert_eq!(got, Some(Vec::new()));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
