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
