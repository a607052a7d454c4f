//! Validation reports: errors and warnings with the JSON path and line:column they concern.

/// How bad one entry is: any error makes the config invalid; warnings never do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, printed in Ignition's format:
/// `error at $.storage.files.0.path, line 1 col 61: path not absolute`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub severity: Severity,
    /// `$.storage.files.0.path`; `None` for syntax errors, which only have a position.
    pub path: Option<String>,
    /// 1-based line and column in the input, when known.
    pub position: Option<(usize, usize)>,
    /// The exact upstream message.
    pub message: String,
    /// Kindling's one line on how to fix it.
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub entries: Vec<Entry>,
}
