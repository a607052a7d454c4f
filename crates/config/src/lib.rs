//! Ignition configs, spec 3.0.0 to 3.7.0-experimental: parse each with its own version's schema,
//! validate, translate forward to one internal model ([`model::Config`]), merge, and render
//! `ignition.config.merge` / `replace` through a fetch interface.

pub mod base;
mod decode;
mod hint;
pub mod json;
mod keys;
pub mod merge;
pub mod model;
pub mod parse;
pub mod render;
pub mod report;
mod schema;
pub mod translate;
pub mod validate;
pub mod version;

pub use model::Config;
pub use parse::{ParseError, Parsed, parse};
pub use report::{Entry, Report, Severity};
pub use version::Version;
