//! Parsing: version sniffing, per-version schema decoding, validation and translation.

use crate::{Config, Report, Version};
use std::fmt;

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

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => f.write_str("not a config (empty)"),
            ParseError::Invalid(report) => {
                // The first error is the headline; the full report follows on its own lines.
                let first = report
                    .entries
                    .iter()
                    .find(|e| e.severity == crate::Severity::Error);
                match first {
                    Some(e) => write!(f, "config is not valid: {e}"),
                    None => f.write_str("config is not valid"),
                }
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// Parse any accepted spec version, validate it with its own version's rules and translate it
/// to the internal model.
pub fn parse(bytes: &[u8]) -> Result<Parsed, ParseError> {
    if bytes.is_empty() {
        return Err(ParseError::Empty);
    }
    let invalid = |message: String| {
        let mut report = Report::default();
        report.error(None, message);
        ParseError::Invalid(report)
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    let declared = value
        .get("ignition")
        .and_then(|i| i.get("version"))
        .and_then(|v| v.as_str())
        .ok_or_else(|| invalid("invalid config version (couldn't parse)".into()))?;
    let version = Version::ALL
        .into_iter()
        .find(|v| v.as_str() == declared)
        .ok_or_else(|| invalid("unsupported config version".into()))?;
    let mut config: Config = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    config.ignition.version = crate::model::INTERNAL_VERSION.into();
    Ok(Parsed {
        config,
        version,
        report: Report::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_version() {
        for v in Version::ALL {
            let raw = format!(
                r#"{{"ignition":{{"version":"{v}"}},"storage":{{"files":[{{"path":"/a","mode":420}}]}}}}"#
            );
            let parsed = parse(raw.as_bytes()).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(parsed.version, v);
            assert_eq!(parsed.config.storage.files[0].node.path, "/a");
        }
    }

    #[test]
    fn rejects_empty_and_unknown_versions() {
        assert!(matches!(parse(b""), Err(ParseError::Empty)));
        let err = parse(br#"{"ignition":{"version":"3.6.0-experimental"}}"#);
        assert!(matches!(err, Err(ParseError::Invalid(_))));
    }
}
