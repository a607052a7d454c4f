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

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
