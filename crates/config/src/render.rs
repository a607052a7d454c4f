//! Rendering `ignition.config.replace` and `ignition.config.merge` through a fetch interface.
//!
//! As upstream: a set `replace.source` (even `""`) discards the config for the referenced one,
//! whose HTTP settings are then adopted; otherwise each `merge` entry is fetched in order, the
//! fetcher adopts the settings of `merge(accumulated, child)`, the child is rendered (depth
//! first) and merged onto the accumulated config. The result is validated once more, since
//! merging valid configs can give an invalid one.

use crate::merge::{merge, merge_ignition};
use crate::model::{Ignition, Resource};
use crate::parse::{ParseError, parse};
use crate::validate::validate;
use crate::{Config, Report, Severity, Version};
use std::fmt;

mod redact;

pub use redact::redact;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How deep `merge`/`replace` references may nest (the user config itself is depth 0). Upstream
/// has no limit; a config that references itself over HTTP would otherwise never end.
pub const MAX_DEPTH: usize = 16;

/// How many configs one rendering may fetch in all, so that a config merging itself twice per
/// level cannot make 2^MAX_DEPTH fetches.
pub const MAX_REFERENCED: usize = 256;

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
    /// Sources as written in the configs; they may hold secrets (a `data:` URL is the config
    /// itself, query strings carry tokens): log them through [`redact`].
    pub referenced: Vec<String>,
    /// Parse warnings of referenced configs, in fetch order: (redacted source, report).
    pub warnings: Vec<(String, Report)>,
}

/// Why rendering failed. Every `source` is redacted (see [`redact`]).
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

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Empty { source } => write!(
                f,
                "referenced config {source} is empty; as Ignition does, the whole user config is \
                 ignored. Serve a config there or remove the reference"
            ),
            RenderError::Fetch { source, error } => {
                write!(f, "fetching referenced config {source}: {error}")
            }
            RenderError::Parse { source, report } => {
                write!(f, "referenced config {source} is not valid")?;
                if let Some(first) = first_error(report) {
                    write!(f, ": {first}")?;
                }
                f.write_str(" (check it with `kindling validate`)")
            }
            RenderError::Invalid(report) => {
                f.write_str("merging configs resulted in an invalid config")?;
                if let Some(first) = first_error(report) {
                    write!(f, ": {first}")?;
                }
                f.write_str(" (a referenced config overrides a field its parent relies on)")
            }
        }
    }
}

fn first_error(report: &Report) -> Option<&crate::Entry> {
    report
        .entries
        .iter()
        .find(|e| e.severity == Severity::Error)
}

impl std::error::Error for RenderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RenderError::Fetch { error, .. } => Some(error.as_ref()),
            _ => None,
        }
    }
}

/// Render `config`: follow `replace`, or merge every `merge` entry in order, depth first.
pub fn render(config: Config, fetcher: &mut dyn ConfigFetcher) -> Result<Rendered, RenderError> {
    let mut renderer = Renderer {
        fetcher,
        referenced: Vec::new(),
        warnings: Vec::new(),
    };
    let config = renderer.render(config, 0)?;
    let report = validate(&config, Version::LATEST);
    if report.has_errors() {
        return Err(RenderError::Invalid(report));
    }
    Ok(Rendered {
        config,
        referenced: renderer.referenced,
        warnings: renderer.warnings,
    })
}

struct Renderer<'f> {
    fetcher: &'f mut dyn ConfigFetcher,
    referenced: Vec<String>,
    warnings: Vec<(String, Report)>,
}

impl Renderer<'_> {
    /// Render `config`, found at nesting `depth`.
    fn render(&mut self, config: Config, depth: usize) -> Result<Config, RenderError> {
        let replace = &config.ignition.config.replace;
        if replace.source.is_some() {
            let replacement = self.fetch(replace, depth + 1)?;
            // A replacement's own settings are adopted as they are, not merged with the original's.
            self.adopt(&replacement.ignition, replace)?;
            return self.render(replacement, depth + 1);
        }
        let references = config.ignition.config.merge.clone();
        let mut merged = config;
        for reference in &references {
            let child = self.fetch(reference, depth + 1)?;
            // The child's settings (over the accumulated ones) are in force while it is rendered.
            self.adopt(
                &merge_ignition(&merged.ignition, &child.ignition),
                reference,
            )?;
            let child = self.render(child, depth + 1)?;
            merged = merge(&merged, &child);
        }
        Ok(merged)
    }

    /// Fetch and parse one referenced config.
    fn fetch(&mut self, reference: &Resource, depth: usize) -> Result<Config, RenderError> {
        let raw = reference.source.as_deref().unwrap_or_default();
        let source = redact(raw);
        if reference.source.is_none() {
            // Validation rejects a merge entry without source; keep the error if one gets here.
            return Err(RenderError::Fetch {
                source,
                error: "source is required".into(),
            });
        }
        if depth > MAX_DEPTH {
            let error = format!(
                "nested more than {MAX_DEPTH} levels deep; a config probably references itself: \
                 break the ignition.config.merge/replace chain"
            );
            return Err(RenderError::Fetch {
                source,
                error: error.into(),
            });
        }
        if self.referenced.len() >= MAX_REFERENCED {
            let error = format!(
                "more than {MAX_REFERENCED} referenced configs in all; a config probably merges \
                 itself: break the ignition.config.merge chain"
            );
            return Err(RenderError::Fetch {
                source,
                error: error.into(),
            });
        }
        let bytes = self
            .fetcher
            .fetch_config(reference)
            .map_err(|error| RenderError::Fetch {
                source: source.clone(),
                error,
            })?;
        match parse(&bytes) {
            Ok(parsed) => {
                if !parsed.report.is_empty() {
                    self.warnings.push((source, parsed.report));
                }
                self.referenced.push(raw.to_owned());
                Ok(parsed.config)
            }
            Err(ParseError::Empty) => Err(RenderError::Empty { source }),
            Err(ParseError::Invalid(report)) => Err(RenderError::Parse { source, report }),
        }
    }

    /// A failure to adopt the settings (say, a certificate authority that cannot be fetched) is
    /// a failure to fetch the reference; the fetcher's error is kept as it is, so that callers
    /// can still tell "needs the network" apart.
    fn adopt(&mut self, ignition: &Ignition, reference: &Resource) -> Result<(), RenderError> {
        self.fetcher
            .adopt(ignition)
            .map_err(|error| RenderError::Fetch {
                source: redact(reference.source.as_deref().unwrap_or_default()),
                error,
            })
    }
}

#[cfg(test)]
mod tests;
