//! Validation reports: errors and warnings with the JSON path and line:column they concern.

use std::fmt;

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

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

impl fmt::Display for Entry {
    /// Ignition's line format; the hint is not part of it (see [`Entry::hint`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.severity)?;
        match (&self.path, self.position) {
            (Some(path), Some((line, col))) => write!(f, " at {path}, line {line} col {col}")?,
            (Some(path), None) => write!(f, " at {path}")?,
            (None, Some((line, col))) => write!(f, " at line {line} col {col}")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.message)
    }
}

impl fmt::Display for Report {
    /// One entry per line, in Ignition's format, each line newline-terminated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for entry in &self.entries {
            writeln!(f, "{entry}")?;
        }
        Ok(())
    }
}

impl Report {
    /// Whether any entry is an error (the config is then invalid).
    pub fn has_errors(&self) -> bool {
        self.entries.iter().any(|e| e.severity == Severity::Error)
    }

    /// Whether any entry is a warning.
    pub fn has_warnings(&self) -> bool {
        self.entries.iter().any(|e| e.severity == Severity::Warning)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Append an error at `path` (a `$.a.b.0` string, or `None`).
    pub fn error(&mut self, path: Option<String>, message: impl Into<String>) {
        self.push(Severity::Error, path, message);
    }

    /// Append a warning at `path`.
    pub fn warning(&mut self, path: Option<String>, message: impl Into<String>) {
        self.push(Severity::Warning, path, message);
    }

    fn push(&mut self, severity: Severity, path: Option<String>, message: impl Into<String>) {
        self.entries.push(Entry {
            severity,
            path,
            position: None,
            message: message.into(),
            hint: None,
        });
    }

    /// Move every entry of `other` into this report.
    pub fn merge(&mut self, other: Report) {
        self.entries.extend(other.entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(severity: Severity, path: Option<&str>, position: Option<(usize, usize)>) -> Entry {
        Entry {
            severity,
            path: path.map(str::to_owned),
            position,
            message: "path not absolute".into(),
            hint: Some("start the path with /".into()),
        }
    }

    #[test]
    fn entry_lines_follow_ignition_format() {
        let cases = [
            (
                entry(
                    Severity::Error,
                    Some("$.storage.files.0.path"),
                    Some((1, 61)),
                ),
                "error at $.storage.files.0.path, line 1 col 61: path not absolute",
            ),
            (
                entry(Severity::Warning, Some("$.a"), None),
                "warning at $.a: path not absolute",
            ),
            (
                entry(Severity::Error, None, Some((2, 3))),
                "error at line 2 col 3: path not absolute",
            ),
            (
                entry(Severity::Error, None, None),
                "error: path not absolute",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn has_errors_ignores_warnings() {
        let mut r = Report::default();
        r.warning(Some("$.x".into()), "unused key x");
        assert!(!r.has_errors());
        r.error(None, "bad");
        assert!(r.has_errors());
        assert_eq!(r.to_string(), "warning at $.x: unused key x\nerror: bad\n");
    }
}
