//! Rendering `ignition.config.replace` and `ignition.config.merge` through a fetch interface.

use crate::model::{Ignition, Resource};
use crate::{Config, Report};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What rendering needs from a fetcher. Implemented by `kindling_fetch::Fetcher`.
pub trait ConfigFetcher {
    /// Fetch a referenced config, decompressed and verified against `verification.hash`.
    fn fetch_config(&mut self, resource: &Resource) -> Result<Vec<u8>, BoxError>;
    /// Adopt the timeouts, proxy and certificate authorities of the config being rendered.
    fn adopt(&mut self, ignition: &Ignition) -> Result<(), BoxError>;
}

/// A rendered config and the sources of the configs it pulled in, in fetch order.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub config: Config,
    pub referenced: Vec<String>,
}

#[derive(Debug)]
pub enum RenderError {
    /// A referenced config was empty; upstream then treats the whole user config as empty.
    Empty {
        source: String,
    },
    Fetch {
        source: String,
        error: BoxError,
    },
    Parse {
        source: String,
        report: Report,
    },
    /// Merging valid configs produced an invalid one.
    Invalid(Report),
}

/// Render `config`: follow `replace`, or merge every `merge` entry in order, depth first.
pub fn render(config: Config, fetcher: &mut dyn ConfigFetcher) -> Result<Rendered, RenderError> {
    let _ = (config, fetcher);
    todo!("config engine: render")
}
