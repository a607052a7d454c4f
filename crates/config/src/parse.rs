//! Parsing: version sniffing, per-version schema decoding, validation and translation.

use crate::json::{self, LineIndex, Node, Value};
use crate::report::{Entry, Severity};
use crate::validate::{self, msg};
use crate::version::SemVer;
use crate::{Config, Report, Version, decode, hint, keys, schema, translate};
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
                // The first error is the headline (the whole report is in the value). A version
                // error has no report upstream: it is the message alone.
                let first = report
                    .entries
                    .iter()
                    .find(|e| e.severity == crate::Severity::Error);
                match first {
                    Some(e) if e.path.is_none() && e.position.is_none() => f.write_str(&e.message),
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
    let lines = LineIndex::new(bytes);
    let at = |offset: usize, message: String| {
        ParseError::Invalid(single(None, Some(lines.position(offset)), message))
    };
    let root = json::parse(bytes).map_err(|e| at(e.offset, e.message))?;

    // Upstream first decodes only `ignition.version`, then the whole config with that
    // version's types.
    let (stub, error) = decode::decode(&root, &schema::VERSION_STUB, Version::V3_0);
    if let Some(e) = error {
        return Err(at(e.offset, e.message));
    }
    let declared = stub["Ignition"]["Version"].as_str().unwrap_or("");
    let Some(semver) = SemVer::parse(declared) else {
        return Err(bare(msg::INVALID_VERSION));
    };
    let Some(version) = semver.accepted() else {
        return Err(bare(msg::UNKNOWN_VERSION));
    };
    let (decoded, error) = decode::decode(&root, &schema::CONFIG, version);
    if let Some(e) = error {
        return Err(at(e.offset, e.message));
    }
    // Unknown keys are found on the decoded value before it is turned into the model.
    let unused = keys::check(&root, &decoded, &schema::CONFIG, version, &lines);
    // The position tree is big next to the model; most configs need no positions, so it is
    // dropped here and rebuilt below only when there is something to point at.
    drop(root);
    let config: Config = serde_json::from_value(decoded)
        .map_err(|e| bare(&format!("internal error decoding the config: {e}")))?;

    let mut report = validate::validate(&config, version);
    report.merge(validate::duplicates(&config));
    if !report.entries.is_empty() {
        let root = json::parse(bytes).map_err(|e| at(e.offset, e.message))?;
        for entry in &mut report.entries {
            entry.position = entry
                .path
                .as_deref()
                .map(|p| lines.position(deepest_node(&root, p).start));
        }
    }
    report.entries.extend(unused);
    add_hints(&mut report);
    if report.has_errors() {
        return Err(ParseError::Invalid(report));
    }
    Ok(Parsed {
        config: translate::translate(config, version),
        version,
        report,
    })
}

/// A report of one error without a path: upstream's errors that come without a report (version
/// problems) have no position either; syntax and type errors have only a position.
fn single(path: Option<String>, position: Option<(usize, usize)>, message: String) -> Report {
    let mut report = Report {
        entries: vec![Entry {
            severity: Severity::Error,
            path,
            position,
            message,
            hint: None,
        }],
    };
    add_hints(&mut report);
    report
}

fn bare(message: &str) -> ParseError {
    ParseError::Invalid(single(None, None, message.to_owned()))
}

fn add_hints(report: &mut Report) {
    for entry in &mut report.entries {
        if entry.hint.is_none() {
            entry.hint = hint::for_message(&entry.message).map(str::to_owned);
        }
    }
}

/// The deepest node of the tree on a `$.a.0.b` path, matching keys exactly (as upstream's
/// position tree does); the root when nothing matches.
fn deepest_node<'a>(root: &'a Node, path: &str) -> &'a Node {
    let mut node = root;
    for seg in path.split('.').skip(1) {
        let next = match &node.value {
            Value::Object(_) => node.get(seg).map(|m| &m.value),
            Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    node
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

    fn parsed(raw: &str) -> Parsed {
        parse(raw.as_bytes()).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn old_plain_strings_become_set_optionals() {
        // 3.0 CA sources, 3.0-3.2 link targets and raid levels, 3.2 custom clevis pins were
        // plain strings; upstream's translators turn them into set (possibly empty) values.
        let c = parsed(
            r#"{"ignition":{"version":"3.0.0","security":{"tls":{"certificateAuthorities":[{"source":"data:,x"}]}}},
                "storage":{"links":[{"path":"/l"}],"raid":[{"name":"md","level":"raid1","devices":["/dev/a"]}]}}"#,
        )
        .config;
        assert_eq!(c.ignition.version, crate::model::INTERNAL_VERSION);
        let ca = &c.ignition.security.tls.certificate_authorities[0];
        assert_eq!(ca.source.as_deref(), Some("data:,x"));
        assert_eq!(c.storage.links[0].target.as_deref(), Some(""));
        assert_eq!(c.storage.raid[0].level.as_deref(), Some("raid1"));

        let c = parsed(
            r#"{"ignition":{"version":"3.2.0"},"storage":{"luks":[
                {"name":"a","device":"/dev/a","clevis":{"custom":{"pin":"tpm2","config":"{}"}}},
                {"name":"b","device":"/dev/b","clevis":{"tpm2":true}}]}}"#,
        )
        .config;
        assert_eq!(c.storage.luks[0].clevis.custom.pin.as_deref(), Some("tpm2"));
        assert_eq!(c.storage.luks[1].clevis.custom.pin, None);
        assert_eq!(c.storage.luks[1].clevis.tpm2, Some(true));

        let c = parsed(
            r#"{"ignition":{"version":"3.3.0"},"storage":{"links":[{"path":"/l","target":"/t"}]}}"#,
        )
        .config;
        assert_eq!(c.storage.links[0].target.as_deref(), Some("/t"));
    }

    #[test]
    fn special_mode_bits_warn_and_are_masked_before_3_6() {
        let raw = |v: &str| {
            format!(
                r#"{{"ignition":{{"version":"{v}"}},"storage":{{"files":[{{"path":"/a","mode":2541}}]}}}}"#
            )
        };
        let old = parsed(&raw("3.5.0"));
        assert_eq!(old.config.storage.files[0].mode, Some(0o755));
        assert!(old.report.has_warnings());
        let new = parsed(&raw("3.6.0"));
        assert_eq!(new.config.storage.files[0].mode, Some(0o4755));
        assert!(new.report.is_empty());
    }

    #[test]
    fn warnings_carry_positions_and_hints() {
        let p = parsed(
            "{\"ignition\":{\"version\":\"3.4.0\"},\n \"storage\":{\"disks\":[{\"device\":\"/dev/a\",\"partitions\":[{\"number\":1,\"sizeMib\":5}]}]}}",
        );
        let e = &p.report.entries[0];
        assert_eq!(
            e.path.as_deref(),
            Some("$.storage.disks.0.partitions.0.sizeMib")
        );
        assert_eq!(e.position, Some((2, 67)));
        assert_eq!(
            e.hint.as_deref(),
            Some("did you mean `sizeMiB`? (keys are case-sensitive)")
        );
    }

    #[test]
    fn error_display() {
        let shown = |raw: &str| parse(raw.as_bytes()).err().map(|e| e.to_string());
        assert_eq!(shown(""), Some("not a config (empty)".into()));
        assert_eq!(
            shown(r#"{"ignition":{"version":"4.0.0"}}"#),
            Some("unsupported config version".into())
        );
        assert_eq!(
            shown(r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"a"}]}}"#),
            Some(
                "config is not valid: error at $.storage.files.0.path, line 1 col 61: path not absolute"
                    .into()
            )
        );
    }

    #[test]
    fn rejects_empty_and_unknown_versions() {
        assert!(matches!(parse(b""), Err(ParseError::Empty)));
        let err = parse(br#"{"ignition":{"version":"3.6.0-experimental"}}"#);
        assert!(matches!(err, Err(ParseError::Invalid(_))));
    }
}
