//! Validation rules (errors and warnings), per spec version.

use crate::{Config, Report, Version};

/// Validate a config in the internal model with the rules of `version`.
pub fn validate(config: &Config, version: Version) -> Report {
    let _ = (config, version);
    Report::default()
}
