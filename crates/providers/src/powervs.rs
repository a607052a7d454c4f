//! `powervs` (IBM Power Virtual Server): the config drive, following the IBM Power Virtual Server
//! docs on user data (a config drive labelled `config-2` with `openstack/latest/user_data`). The
//! drive is waited for forever (the journal says so every 30 s), as upstream. Mounting cannot run
//! on the test host (no iso9660 or vfat there): see docs/platforms.md.

use crate::drive::ConfigDrive;

pub static POWERVS: ConfigDrive = ConfigDrive {
    id: "powervs",
    labels: &["config-2"],
    file: "/openstack/latest/user_data",
    wait: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;
    use crate::host::tests::temp_host;

    #[test]
    fn reads_the_documented_label_and_file() {
        assert_eq!(POWERVS.labels, &["config-2"]);
        assert_eq!(POWERVS.file, "/openstack/latest/user_data");
        assert_eq!(POWERVS.wait, None);
        // Without the drive, a bounded wait ends in an empty config.
        let (dir, host) = temp_host("powervs");
        let bounded = ConfigDrive {
            wait: Some(std::time::Duration::ZERO),
            ..POWERVS
        };
        let got = bounded
            .fetch(&kindling_fetch::Fetcher::new(), &host)
            .unwrap();
        assert_eq!(got, Some(Vec::new()));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
