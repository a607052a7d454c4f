//! `metal`: bare metal has no config store of its own; its config comes from
//! `ignition.config.url` or `user.ign`, asked before it. Without either the config is empty.

use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;

pub struct Metal;

impl Provider for Metal {
    fn id(&self) -> &'static str {
        "metal"
    }

    fn fetch(&self, _fetcher: &Fetcher, _host: &Host) -> Result<Fetched, ProviderError> {
        Ok(Some(Vec::new()))
    }
}
