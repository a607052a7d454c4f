//! The `system` pseudo-provider: `user.ign` in the system config directories (the first
//! directory, by priority, that has one wins). Asked after the kernel command line.

use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;
use std::io::ErrorKind;

const USER_CONFIG: &str = "user.ign";

pub struct System;

impl Provider for System {
    fn id(&self) -> &'static str {
        "system"
    }

    fn fetch(&self, _fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        for dir in &host.system_config_dirs {
            let path = dir.join(USER_CONFIG);
            match std::fs::read(&path) {
                Ok(bytes) => {
                    log::info!("reading system config file {:?}", path.display());
                    return Ok(Some(bytes));
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    log::debug!("no config at {:?}", path.display());
                }
                Err(error) => return Err(ProviderError::Read { path, error }),
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::temp_host;

    #[test]
    fn highest_priority_directory_wins_and_missing_means_no_config() {
        let (dir, host) = temp_host("system");
        let fetcher = Fetcher::new();
        assert_eq!(System.fetch(&fetcher, &host).unwrap(), None);
        let [runtime, _local, vendor] = &host.system_config_dirs[..] else {
            panic!("three system config dirs expected");
        };
        std::fs::write(vendor.join(USER_CONFIG), b"vendor").unwrap();
        assert_eq!(
            System.fetch(&fetcher, &host).unwrap().as_deref(),
            Some(&b"vendor"[..])
        );
        std::fs::write(runtime.join(USER_CONFIG), b"").unwrap();
        assert_eq!(
            System.fetch(&fetcher, &host).unwrap().as_deref(),
            Some(&b""[..]),
            "an empty user.ign is an empty config, not a missing one"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unreadable_user_config_is_an_error() {
        let (dir, host) = temp_host("system-unreadable");
        // A directory where the file should be cannot be read as a config.
        std::fs::create_dir(host.system_config_dirs[1].join(USER_CONFIG)).unwrap();
        let err = System.fetch(&Fetcher::new(), &host).unwrap_err();
        assert!(matches!(err, ProviderError::Read { .. }), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
