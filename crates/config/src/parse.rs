//! Parsing: version sniffing, per-version schema decoding, validation and translation.

use crate::{Config, Report, Version};

/// A config that parsed and validated (possibly with warnings).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub config: Config,
    /// The version the config declared.
    pub version: Version,
    /// Warnings only; a report with errors is a [`ParseError::Invalid`].
    pub report: Report,
}

#[derive(Debug, Clone)]
pub enum ParseError {
    /// Zero bytes of input (`not a config (empty)`); providers treat it as "no config".
    Empty,
    /// Syntax, type, version or validation errors.
    Invalid(Report),
}

/// Parse any accepted spec version, validate it with its own version's rules and translate it
/// to the internal model.
pub fn parse(bytes: &[u8]) -> Result<Parsed, ParseError> {
    let _ = bytes;
    todo!("config engine: parse")
}
