//! `powervs` (IBM Power Virtual Server): the config drive, following the IBM Power Virtual Server docs on user data: a config drive
//! (label `config-2`, file `openstack/latest/user_data`), waited for forever (the journal says
//! so every 30 s). A drive that cannot be read fails the boot, as upstream.
//!
//! Mounting a real drive cannot happen on the test host (no iso9660 or vfat there, see
//! docs/platforms.md); the tests give it drives that cannot be mounted.

use crate::drive::{ConfigDrive, OnError};

pub static POWERVS: ConfigDrive = ConfigDrive {
    id: "powervs",
    sources: &[("config-2", "/openstack/latest/user_data")],
    wait: None,
    on_error: OnError::Fail,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;
    use crate::host::tests::temp_host;

    #[test]
    fn an_unreadable_drive_fails_the_boot() {
        let (dir, host) = temp_host("powervs");
        std::fs::create_dir_all(&host.disk_by_label).unwrap();
        for (label, _) in POWERVS.sources {
            // An empty file under the label: found at once, but mount refuses it.
            std::fs::write(host.disk_by_label.join(label), "").unwrap();
        }
        let got = POWERVS.fetch(&kindling_fetch::Fetcher::new(), &host);
        let err = got.unwrap_err();
        assert!(err.to_string().contains("mount"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
