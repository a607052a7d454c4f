//! The fetcher as the config renderer's fetch interface.

use crate::Fetcher;
use kindling_config::model::{Ignition, Resource};
use kindling_config::render::{BoxError, ConfigFetcher};

impl ConfigFetcher for Fetcher {
    /// Fetch, decompress and verify a referenced config (the hash is checked while streaming).
    fn fetch_config(&mut self, resource: &Resource) -> Result<Vec<u8>, BoxError> {
        Ok(self.fetch(resource)?)
    }

    fn adopt(&mut self, ignition: &Ignition) -> Result<(), BoxError> {
        Ok(Fetcher::adopt(self, ignition)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kindling_config::model::Verification;

    fn resource(source: &str, hash: Option<&str>) -> Resource {
        Resource {
            source: Some(source.to_string()),
            verification: Verification {
                hash: hash.map(str::to_string),
            },
            ..Default::default()
        }
    }

    #[test]
    fn fetch_config_verifies_the_hash() {
        let mut fetcher = Fetcher::new();
        let hello = "sha256-2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let ok = fetcher.fetch_config(&resource("data:,hello", Some(hello)));
        assert_eq!(ok.ok(), Some(b"hello".to_vec()));
        let bad = fetcher.fetch_config(&resource("data:,hellO", Some(hello)));
        assert!(bad.is_err_and(|e| e.to_string().contains("hash verification failed")));
    }

    #[test]
    fn adopt_rejects_a_bundle_that_is_not_certificates() {
        let mut fetcher = Fetcher::new();
        let mut ignition = Ignition::default();
        ignition.security.tls.certificate_authorities = vec![resource("data:,not%20pem", None)];
        let err = ConfigFetcher::adopt(&mut fetcher, &ignition);
        assert!(err.is_err_and(|e| e.to_string().contains("certificateAuthorities")));
    }
}
