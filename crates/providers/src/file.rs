//! `file`: the config is a local file (`IGNITION_CONFIG_FILE`, default `config.ign` in the
//! working directory), for tests and image builders. A missing file is an error.

use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;

pub struct File;

impl Provider for File {
    fn id(&self) -> &'static str {
        "file"
    }

    fn fetch(&self, _fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        log::info!("using config file at {:?}", host.config_file.display());
        std::fs::read(&host.config_file)
            .map(Some)
            .map_err(|error| ProviderError::Read {
                path: host.config_file.clone(),
                error,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::temp_host;

    #[test]
    fn reads_the_named_file_and_fails_when_it_is_missing() {
        let (dir, mut host) = temp_host("file");
        host.config_file = dir.join("config.ign");
        let err = File.fetch(&Fetcher::new(), &host).unwrap_err();
        assert!(err.to_string().contains("config.ign"), "{err}");
        std::fs::write(&host.config_file, b"{}").unwrap();
        assert_eq!(
            File.fetch(&Fetcher::new(), &host).unwrap().as_deref(),
            Some(&b"{}"[..])
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
