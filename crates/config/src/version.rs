//! Accepted spec versions.

use std::fmt;

/// A spec version Kindling accepts, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    V3_0,
    V3_1,
    V3_2,
    V3_3,
    V3_4,
    V3_5,
    V3_6,
    V3_7Experimental,
}

impl Version {
    /// Every accepted version, oldest first.
    pub const ALL: [Version; 8] = [
        Version::V3_0,
        Version::V3_1,
        Version::V3_2,
        Version::V3_3,
        Version::V3_4,
        Version::V3_5,
        Version::V3_6,
        Version::V3_7Experimental,
    ];

    /// The newest version: the internal model's.
    pub const LATEST: Version = Version::V3_7Experimental;

    /// The canonical version string, as written in `ignition.version`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V3_0 => "3.0.0",
            Version::V3_1 => "3.1.0",
            Version::V3_2 => "3.2.0",
            Version::V3_3 => "3.3.0",
            Version::V3_4 => "3.4.0",
            Version::V3_5 => "3.5.0",
            Version::V3_6 => "3.6.0",
            Version::V3_7Experimental => "3.7.0-experimental",
        }
    }
}

/// A version string as upstream's semver library reads it (`github.com/coreos/go-semver`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer {
    pub major: i64,
    pub minor: i64,
    pub patch: i64,
    pub pre_release: String,
    pub metadata: String,
}

/// `^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$`, or empty.
fn valid_identifier(id: &str) -> bool {
    id.is_empty()
        || id.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Go's `strconv.ParseInt(s, 10, 64)`: an optional sign, then decimal digits.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

impl SemVer {
    /// `None` where upstream says `invalid config version (couldn't parse)`.
    pub fn parse(s: &str) -> Option<SemVer> {
        let (rest, metadata) = s.split_once('+').unwrap_or((s, ""));
        let (rest, pre_release) = rest.split_once('-').unwrap_or((rest, ""));
        let parts: Vec<&str> = rest.splitn(3, '.').collect();
        if parts.len() != 3 || !valid_identifier(pre_release) || !valid_identifier(metadata) {
            return None;
        }
        Some(SemVer {
            major: parse_go_int(parts[0])?,
            minor: parse_go_int(parts[1])?,
            patch: parse_go_int(parts[2])?,
            pre_release: pre_release.to_owned(),
            metadata: metadata.to_owned(),
        })
    }

    /// Exactly `version` (upstream compares all five parts).
    pub fn is(&self, version: Version) -> bool {
        Some(self) == SemVer::parse(version.as_str()).as_ref()
    }

    /// The accepted version this is, if any.
    pub fn accepted(&self) -> Option<Version> {
        Version::ALL.into_iter().find(|v| self.is(*v))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(s: &str) -> Result<Option<Version>, ()> {
        SemVer::parse(s).map(|v| v.accepted()).ok_or(())
    }

    #[test]
    fn version_strings_as_go_semver_reads_them() {
        for v in Version::ALL {
            assert_eq!(accepted(v.as_str()), Ok(Some(v)));
        }
        // Quirks of the Go library that upstream inherits.
        assert_eq!(accepted("3.05.0"), Ok(Some(Version::V3_5)));
        assert_eq!(accepted("3.5.0-"), Ok(Some(Version::V3_5)));
        assert_eq!(accepted("3.5.0+"), Ok(Some(Version::V3_5)));
        for unsupported in [
            "3.6.0-experimental",
            "3.5.0-experimental",
            "3.5.0+meta",
            "2.2.0",
            "4.0.0",
            "3.7.0",
        ] {
            assert_eq!(accepted(unsupported), Ok(None), "{unsupported}");
        }
        for unparseable in [
            "",
            "+3.5.0",
            "v3.5.0",
            "3.5",
            "3.5.0.1",
            " 3.5.0",
            "-3.5.0",
            "3.5.0-a..b",
            "3.5.0-é",
        ] {
            assert_eq!(accepted(unparseable), Err(()), "{unparseable}");
        }
    }
}
