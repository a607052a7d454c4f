//! Table-driven rule tests: each rule with its valid and invalid neighbours, in every spec
//! version where it exists (and its absence where it does not).

use crate::Version::{self, *};
use crate::{ParseError, Severity};

/// `(severity, path, message)` of every entry `parse` reports for `body` in `version`.
fn entries(version: Version, body: &str) -> Vec<(char, String, String)> {
    let sep = if body.trim().is_empty() { "" } else { "," };
    let raw = format!(r#"{{"ignition":{{"version":"{version}"}}{sep}{body}}}"#);
    let report = match crate::parse(raw.as_bytes()) {
        Ok(p) => p.report,
        Err(ParseError::Invalid(r)) => r,
        Err(ParseError::Empty) => panic!("empty"),
    };
    report
        .entries
        .into_iter()
        .map(|e| {
            let sev = match e.severity {
                Severity::Error => 'E',
                Severity::Warning => 'W',
            };
            (sev, e.path.unwrap_or_default(), e.message)
        })
        .collect()
}

struct Case {
    body: &'static str,
    /// Expected `(severity, path, message)`; empty for a valid neighbour.
    want: &'static [(char, &'static str, &'static str)],
    since: Version,
    until: Option<Version>,
}

const fn case(body: &'static str, want: &'static [(char, &'static str, &'static str)]) -> Case {
    Case {
        body,
        want,
        since: V3_0,
        until: None,
    }
}

impl Case {
    const fn since(mut self, v: Version) -> Case {
        self.since = v;
        self
    }
    const fn until(mut self, v: Version) -> Case {
        self.until = Some(v);
        self
    }
}

fn run(cases: &[Case]) {
    let mut failures = Vec::new();
    for c in cases {
        for v in Version::ALL {
            if v < c.since || c.until.is_some_and(|u| v >= u) {
                continue;
            }
            let got = entries(v, c.body);
            let want: Vec<(char, String, String)> = c
                .want
                .iter()
                .map(|(s, p, m)| (*s, (*p).to_owned(), (*m).to_owned()))
                .collect();
            if got != want {
                failures.push(format!("{v} {}\n  got  {got:?}\n  want {want:?}", c.body));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const E: char = 'E';
const W: char = 'W';

#[test]
fn paths() {
    run(&[
        case(r#""storage":{"files":[{"path":"/a/b"}]}"#, &[]),
        case(
            r#""storage":{"files":[{"path":""}]}"#,
            &[(E, "$.storage.files.0.path", "path not specified")],
        ),
        case(
            r#""storage":{"files":[{}]}"#,
            &[(E, "$.storage.files.0.path", "path not specified")],
        ),
        case(
            r#""storage":{"directories":[{"path":"a"}]}"#,
            &[(E, "$.storage.directories.0.path", "path not absolute")],
        ),
        case(
            r#""storage":{"links":[{"path":"/a/../b","target":"/x"}]}"#,
            &[(E, "$.storage.links.0.path", "path is not fully simplified")],
        ),
        case(
            r#""storage":{"files":[{"path":"/a/"}]}"#,
            &[(E, "$.storage.files.0.path", "path is not fully simplified")],
        ),
        case(
            r#""storage":{"raid":[{"name":"r","level":"raid1","devices":["/dev/a","dev/b"]}]}"#,
            &[(E, "$.storage.raid.0.devices.1", "path not absolute")],
        ),
    ]);
}

#[test]
fn modes() {
    run(&[
        case(r#""storage":{"files":[{"path":"/a","mode":420}]}"#, &[]),
        case(
            r#""storage":{"files":[{"path":"/a","mode":4095}]}"#,
            &[(
                W,
                "$.storage.files.0.mode",
                crate::validate::msg::MODE_SPECIAL_BITS,
            )],
        )
        .until(V3_6),
        case(r#""storage":{"files":[{"path":"/a","mode":4095}]}"#, &[]).since(V3_6),
        case(
            r#""storage":{"directories":[{"path":"/a","mode":1023}]}"#,
            &[(
                W,
                "$.storage.directories.0.mode",
                crate::validate::msg::MODE_SPECIAL_BITS,
            )],
        )
        .until(V3_6),
        case(
            r#""storage":{"directories":[{"path":"/a","mode":1023}]}"#,
            &[],
        )
        .since(V3_6),
        case(
            r#""storage":{"files":[{"path":"/a","mode":4096}]}"#,
            &[(E, "$.storage.files.0.mode", "illegal file mode")],
        ),
        case(
            r#""storage":{"directories":[{"path":"/a","mode":-1}]}"#,
            &[
                (E, "$.storage.directories.0.mode", "illegal file mode"),
                (
                    W,
                    "$.storage.directories.0.mode",
                    crate::validate::msg::MODE_SPECIAL_BITS,
                ),
            ],
        )
        .until(V3_6),
        case(
            r#""storage":{"directories":[{"path":"/a","mode":-1}]}"#,
            &[(E, "$.storage.directories.0.mode", "illegal file mode")],
        )
        .since(V3_6),
    ]);
}

#[test]
fn files_and_resources() {
    run(&[
        case(
            r#""storage":{"files":[{"path":"/a","overwrite":true}]}"#,
            &[(E, "$.storage.files.0.overwrite", "overwrite must be false if source is unspecified")],
        ),
        case(
            r#""storage":{"files":[{"path":"/a","overwrite":true,"contents":{"source":""}}]}"#,
            &[],
        ),
        case(
            r#""storage":{"files":[{"path":"/a","contents":{"compression":"xz","source":"data:,"}}]}"#,
            &[(E, "$.storage.files.0.contents.compression", "invalid compression method")],
        ),
        case(
            r#""storage":{"files":[{"path":"/a","contents":{"compression":"gzip","source":"data:,"}}]}"#,
            &[],
        ),
        case(
            r#""storage":{"files":[{"path":"/a","contents":{"verification":{"hash":"sha512-00"}}}]}"#,
            &[
                (E, "$.storage.files.0.contents.verification.hash", "source must be specified if verification is specified"),
                (E, "$.storage.files.0.contents.verification.hash", "incorrect size for hash sum"),
            ],
        ),
        case(
            r#""storage":{"files":[{"path":"/a","append":[{"source":"ftp://x"}]}]}"#,
            &[(E, "$.storage.files.0.append.0.source", "invalid url scheme")],
        ),
        case(
            r#""storage":{"files":[{"path":"/a","contents":{"source":"gs://b/o"}}]}"#,
            &[(E, "$.storage.files.0.contents.source", "invalid url scheme")],
        )
        .until(V3_2),
        case(
            r#""storage":{"files":[{"path":"/a","contents":{"source":"gs://b/o"}}]}"#,
            &[],
        )
        .since(V3_2),
        case(
            r#""storage":{"files":[{"path":"/a","contents":{"source":"data:text"}}]}"#,
            &[(E, "$.storage.files.0.contents.source", "missing media type slash")],
        ),
        case(
            r#""storage":{"files":[{"path":"/a","contents":{"source":"http://x","httpHeaders":[{"name":"A","value":"b"}]}}]}"#,
            &[],
        )
        .since(V3_1),
        case(
            r#""storage":{"files":[{"path":"/a","contents":{"source":"data:,x","httpHeaders":[{"name":"","value":""}]}}]}"#,
            &[
                (E, "$.storage.files.0.contents.httpHeaders", "cannot use HTTP headers with this source scheme"),
                (E, "$.storage.files.0.contents.httpHeaders.0.name", "HTTP header name can't be empty"),
                (E, "$.storage.files.0.contents.httpHeaders.0.value", "unable to parse HTTP header"),
            ],
        )
        .since(V3_1),
        case(
            r#""storage":{"files":[{"path":"/a","contents":{"httpHeaders":[{"name":"a"},{"name":"a"}]}}]}"#,
            &[
                (E, "$.storage.files.0.contents.httpHeaders", "unable to parse url"),
                (E, "$.storage.files.0.contents.httpHeaders.1", "duplicate entry defined"),
            ],
        )
        .since(V3_1),
    ]);
}

#[test]
fn hashes() {
    let sha512 = "0".repeat(128);
    let sha256 = "0".repeat(64);
    let body = |h: &str| {
        format!(
            r#""storage":{{"files":[{{"path":"/a","contents":{{"source":"data:,","verification":{{"hash":"{h}"}}}}}}]}}"#
        )
    };
    let at = "$.storage.files.0.contents.verification.hash".to_owned();
    for v in Version::ALL {
        assert_eq!(entries(v, &body(&format!("sha512-{sha512}"))), vec![]);
        let sha = entries(v, &body(&format!("sha256-{sha256}")));
        if v >= V3_1 {
            assert_eq!(sha, vec![]);
        } else {
            assert_eq!(
                sha,
                vec![(E, at.clone(), "unrecognized hash function".into())]
            );
        }
        assert_eq!(
            entries(v, &body("sha512")),
            vec![(E, at.clone(), "malformed hash specifier".into())]
        );
        assert_eq!(
            entries(v, &body("md5-00")),
            vec![(E, at.clone(), "unrecognized hash function".into())]
        );
    }
}

#[test]
fn ignition_section() {
    run(&[
        case(
            r#""ignition":{"version":"3.0.0","config":{"merge":[{"source":""}]}}"#,
            &[],
        )
        .until(V3_1),
        case(
            r#""ignition":{"config":{"merge":[{}]}}"#,
            &[(E, "$.ignition.config.merge.0", "source is required")],
        )
        .since(V3_1),
        case(
            r#""ignition":{"config":{"merge":[{"source":"http://a"},{"source":"http://a"}]}}"#,
            &[(E, "$.ignition.config.merge.1", "duplicate entry defined")],
        ),
        case(
            r#""ignition":{"config":{"replace":{"source":"foo"}}}"#,
            &[(E, "$.ignition.config.replace.source", "invalid url scheme")],
        ),
        case(
            r#""ignition":{"security":{"tls":{"certificateAuthorities":[{"source":""}]}}}"#,
            &[(E, "$.ignition.security.tls.certificateAuthorities.0.source", "invalid url scheme")],
        )
        .until(V3_1),
        case(
            r#""ignition":{"security":{"tls":{"certificateAuthorities":[{"source":""}]}}}"#,
            &[(E, "$.ignition.security.tls.certificateAuthorities.0", "source is required")],
        )
        .since(V3_1),
        case(
            r#""ignition":{"proxy":{"httpProxy":"ftp://p","httpsProxy":"http://p","noProxy":["a","a"]}}"#,
            &[
                (E, "$.ignition.proxy.httpProxy", "proxies must be http(s)"),
                (W, "$.ignition.proxy.httpsProxy", "insecure plaintext HTTP proxy specified for HTTPS resources"),
                (E, "$.ignition.proxy.noProxy.1", "duplicate entry defined"),
            ],
        )
        .since(V3_1),
        case(
            r#""ignition":{"proxy":{"httpProxy":"http://p:x"}}"#,
            &[(E, "$.ignition.proxy.httpProxy", "unable to parse url")],
        )
        .since(V3_1),
        case(
            r#""ignition":{"timeouts":{"httpTotal":-5,"httpResponseHeaders":0}}"#,
            &[],
        ),
    ]);
}

#[test]
fn disks_and_partitions() {
    run(&[
        case(
            r#""storage":{"disks":[{"device":""}]}"#,
            &[(E, "$.storage.disks.0.device", "disk device is required")],
        ),
        case(
            r#""storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1},{"number":1}]}]}"#,
            &[
                (
                    E,
                    "$.storage.disks.0.partitions.1",
                    "partition numbers collide",
                ),
                (
                    E,
                    "$.storage.disks.0.partitions.1",
                    "duplicate entry defined",
                ),
            ],
        ),
        case(
            r#""storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1,"startMiB":1,"sizeMiB":10},{"number":2,"startMiB":5,"sizeMiB":10}]}]}"#,
            &[(E, "$.storage.disks.0.partitions.1", "partitions overlap")],
        ),
        case(
            r#""storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1,"startMiB":1,"sizeMiB":10},{"number":2,"startMiB":11,"sizeMiB":10}]}]}"#,
            &[],
        ),
        case(
            r#""storage":{"disks":[{"device":"/dev/sda","partitions":[{"label":"a"},{"label":"a"}]}]}"#,
            &[
                (
                    E,
                    "$.storage.disks.0.partitions.1",
                    "cannot use the same partition label twice",
                ),
                (
                    E,
                    "$.storage.disks.0.partitions.1",
                    "duplicate entry defined",
                ),
            ],
        ),
        case(
            r#""storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":0}]}]}"#,
            &[(
                E,
                "$.storage.disks.0.partitions.0",
                "a partition number >= 1 or a label must be specified",
            )],
        ),
        case(
            r#""storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1,"shouldExist":false,"label":"x"}]}]}"#,
            &[(
                E,
                "$.storage.disks.0.partitions.0",
                "shouldExist specified false with other options also specified",
            )],
        ),
        case(
            r#""storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1,"shouldExist":false,"typeGuid":""}]}]}"#,
            &[],
        ),
        case(
            r#""storage":{"disks":[{"device":"/dev/sda","partitions":[{"label":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},{"label":"a:b"}]}]}"#,
            &[
                (
                    E,
                    "$.storage.disks.0.partitions.0.label",
                    "partition labels may not exceed 36 characters",
                ),
                (
                    E,
                    "$.storage.disks.0.partitions.1.label",
                    "partition label will be truncated to text before the colon",
                ),
            ],
        ),
        case(
            r#""storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1,"guid":"zz","typeGuid":"0FC63DAF-8483-4772-8E79-3D69D8477DE4"}]}]}"#,
            &[(
                E,
                "$.storage.disks.0.partitions.0.guid",
                "doesn't match the form \"01234567-89AB-CDEF-EDCB-A98765432101\"",
            )],
        ),
        case(
            r#""storage":{"disks":[{"device":"/dev/sda","wipeTable":true}],"filesystems":[{"device":"/dev/sda","format":"ext4"}]}"#,
            &[(
                W,
                "$.storage.filesystems.0.device",
                "device matches disk with wipeTable enabled; filesystem will be wiped",
            )],
        ),
        case(
            r#""storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1}]}],"filesystems":[{"device":"/dev/sda","format":"ext4","wipeFilesystem":true}]}"#,
            &[(
                W,
                "$.storage.filesystems.0.device",
                "filesystem overwrites partitioned device",
            )],
        ),
        case(
            r#""storage":{"disks":[{"device":"/dev/sda"},{"device":"/dev/sda"}]}"#,
            &[(E, "$.storage.disks.1", "duplicate entry defined")],
        ),
    ]);
}

#[test]
fn filesystems() {
    run(&[
        case(r#""storage":{"filesystems":[{"device":"/dev/sda","format":"ext4","path":"/var","label":"l"}]}"#, &[]),
        case(
            r#""storage":{"filesystems":[{"device":"/dev/sda","path":"/var"}]}"#,
            &[(E, "$.storage.filesystems.0.format", "format cannot be empty when path, label, uuid, wipeFilesystem, options, or mountOptions is specified")],
        ),
        case(
            r#""storage":{"filesystems":[{"device":"/dev/sda","format":"zfs"}]}"#,
            &[(E, "$.storage.filesystems.0.format", "invalid filesystem format")],
        ),
        case(
            r#""storage":{"filesystems":[{"device":"/dev/sda","format":"none"}]}"#,
            &[(E, "$.storage.filesystems.0.format", "invalid filesystem format")],
        )
        .until(V3_3),
        case(r#""storage":{"filesystems":[{"device":"/dev/sda","format":"none"}]}"#, &[]).since(V3_3),
        case(
            r#""storage":{"filesystems":[{"device":"/dev/sda","format":"xfs","label":"abcdefghijklm"}]}"#,
            &[(E, "$.storage.filesystems.0.label", "filesystem labels cannot be longer than 12 characters when using xfs")],
        ),
        case(
            r#""storage":{"filesystems":[{"device":"/dev/sda","format":"","label":"x"}]}"#,
            &[
                (E, "$.storage.filesystems.0.format", "format cannot be empty when path, label, uuid, wipeFilesystem, options, or mountOptions is specified"),
                (E, "$.storage.filesystems.0.label", "filesystem must specify format if label is specified"),
            ],
        ),
        case(
            r#""storage":{"filesystems":[{"device":"/dev/sda","mountOptions":["ro"]}]}"#,
            &[(E, "$.storage.filesystems.0.format", "format cannot be empty when path, label, uuid, wipeFilesystem, options, or mountOptions is specified")],
        )
        .since(V3_1),
        case(
            r#""storage":{"filesystems":[{"device":"share","format":"virtiofs"}]}"#,
            &[
                (E, "$.storage.filesystems.0.device", "path not absolute"),
                (E, "$.storage.filesystems.0.format", "invalid filesystem format"),
            ],
        )
        .until(V3_7Experimental),
        case(r#""storage":{"filesystems":[{"device":"share","format":"virtiofs","path":"/mnt"}]}"#, &[])
            .since(V3_7Experimental),
        case(
            r#""storage":{"filesystems":[{"device":"0123456789012345678901234567890123456","format":"virtiofs","label":"x","uuid":"u","wipeFilesystem":true,"options":["o"]}]}"#,
            &[
                (E, "$.storage.filesystems.0.device", "virtiofs device tag cannot be longer than 36 bytes"),
                (E, "$.storage.filesystems.0.label", "filesystem labels cannot be set when using virtiofs"),
                (E, "$.storage.filesystems.0.uuid", "filesystem uuid cannot be set for non-block-device filesystems"),
                (E, "$.storage.filesystems.0.wipeFilesystem", "wipeFilesystem cannot be set for non-block-device filesystems"),
                (E, "$.storage.filesystems.0.options", "filesystem options (mkfs) cannot be set for non-block-device filesystems"),
            ],
        )
        .since(V3_7Experimental),
        case(
            r#""storage":{"filesystems":[{"device":"","format":"virtiofs"}]}"#,
            &[(E, "$.storage.filesystems.0.device", "device not specified")],
        )
        .since(V3_7Experimental),
    ]);
}

#[test]
fn links() {
    run(&[
        case(
            r#""storage":{"links":[{"path":"/a"}]}"#,
            &[(E, "$.storage.links.0.target", "link target is required")],
        )
        .since(V3_3),
        case(r#""storage":{"links":[{"path":"/a"}]}"#, &[]).until(V3_3),
        case(
            r#""storage":{"links":[{"path":"/l","target":"/t"}],"files":[{"path":"/l/f"}],"directories":[{"path":"/l/d"}]}"#,
            &[
                (
                    E,
                    "$.storage.directories.0",
                    "directory path includes link in config",
                ),
                (E, "$.storage.files.0", "file path includes link in config"),
            ],
        ),
        case(
            r#""storage":{"links":[{"path":"/l","target":"/t"},{"path":"/l/m","target":"/t"}]}"#,
            &[(E, "$.storage.links.1", "link path includes link in config")],
        ),
        case(
            r#""storage":{"links":[{"path":"/l","target":"/d","hard":true,"user":{"id":0},"group":{"name":"g"}}],"directories":[{"path":"/d"}]}"#,
            &[
                (E, "$.storage.links.0", "hard link target is a directory"),
                (
                    W,
                    "$.storage.links.0.user.id",
                    "user/group ignored for hard link",
                ),
                (
                    W,
                    "$.storage.links.0.group.name",
                    "user/group ignored for hard link",
                ),
            ],
        ),
        case(
            // A relative hard-link target is joined onto the link's own path (upstream quirk).
            r#""storage":{"links":[{"path":"/l","target":"d","hard":true}],"directories":[{"path":"/l/d"}]}"#,
            &[
                (
                    E,
                    "$.storage.directories.0",
                    "directory path includes link in config",
                ),
                (E, "$.storage.links.0", "hard link target is a directory"),
            ],
        ),
        case(
            r#""storage":{"files":[{"path":"/a","user":{"id":1,"name":"x"}}]}"#,
            &[(E, "$.storage.files.0.user", "cannot set both id and name")],
        ),
        case(
            r#""storage":{"files":[{"path":"/a"}],"directories":[{"path":"/a"}],"links":[{"path":"/a","target":"/b"}]}"#,
            &[
                (E, "$.storage.files.0", "duplicate entry defined"),
                (E, "$.storage.links.0", "duplicate entry defined"),
            ],
        ),
    ]);
}

#[test]
fn raid() {
    run(&[
        case(
            r#""storage":{"raid":[{"name":"md","level":"raid1","devices":["/dev/a","/dev/b"]}]}"#,
            &[],
        ),
        case(
            r#""storage":{"raid":[{"name":"md","devices":["/dev/a"]}]}"#,
            &[(E, "$.storage.raid.0.level", "unrecognized raid level")],
        )
        .until(V3_3),
        case(
            r#""storage":{"raid":[{"name":"md","devices":["/dev/a"]}]}"#,
            &[(E, "$.storage.raid.0.level", "raid level is required")],
        )
        .since(V3_3),
        case(
            r#""storage":{"raid":[{"name":"md","level":"raid0","spares":1,"devices":["/dev/a","/dev/a"]}]}"#,
            &[
                (
                    E,
                    "$.storage.raid.0.level",
                    "spares unsupported for linear and raid0 arrays",
                ),
                (E, "$.storage.raid.0.devices.1", "duplicate entry defined"),
            ],
        ),
        case(
            r#""storage":{"raid":[{"name":"md","level":"raid9"}]}"#,
            &[
                (E, "$.storage.raid.0.level", "unrecognized raid level"),
                (E, "$.storage.raid.0.devices", "raid devices required"),
            ],
        ),
    ]);
}

#[test]
fn luks() {
    let ok = r#""storage":{"luks":[{"name":"root","device":"/dev/sda","clevis":{"tpm2":true}}]}"#;
    run(&[
        case(ok, &[]).since(V3_2),
        case(ok, &[(W, "$.storage.luks", "unused key luks")]).until(V3_2),
        case(
            r#""storage":{"luks":[{"name":"a/b","label":"0123456789012345678901234567890123456789012345678"}]}"#,
            &[
                (E, "$.storage.luks.0.name", "device names cannot contain slashes"),
                (E, "$.storage.luks.0.label", "luks device labels cannot be longer than 47 characters"),
                (E, "$.storage.luks.0.device", "disk device is required"),
            ],
        )
        .since(V3_2),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","keyFile":{"source":"ftp://x"}}]}"#,
            &[
                (E, "$.storage.luks.0.keys", "invalid key-file source"),
                (E, "$.storage.luks.0.keyFile.source", "invalid url scheme"),
            ],
        )
        .since(V3_2),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","clevis":{"custom":{"pin":"tpm2","config":"{}"},"tpm2":true}}]}"#,
            &[(E, "$.storage.luks.0.clevis", "cannot use custom clevis config with tpm2, tang, or threshold")],
        )
        .since(V3_2),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","clevis":{"custom":{"pin":"mypin","config":"{}"}}}]}"#,
            &[(E, "$.storage.luks.0.clevis.custom.pin", "unsupported clevis pin")],
        )
        .since(V3_2)
        .until(V3_6),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","clevis":{"custom":{"pin":"mypin","config":"{}"}}}]}"#,
            &[],
        )
        .since(V3_6),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","clevis":{"custom":{"needsNetwork":true}}}]}"#,
            &[
                (E, "$.storage.luks.0.clevis.custom.pin", "missing required custom clevis pin"),
                (E, "$.storage.luks.0.clevis.custom.config", "missing required custom clevis config"),
            ],
        )
        .since(V3_3),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","clevis":{"custom":{"config":"{}"}}}]}"#,
            &[(E, "$.storage.luks.0.clevis.custom.pin", "unsupported clevis pin")],
        )
        .since(V3_2)
        .until(V3_3),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","clevis":{"tang":[{"url":"ftp://t"},{"url":"ftp://t","thumbprint":"x"}]}}]}"#,
            &[
                (E, "$.storage.luks.0.clevis.tang.0.url", "invalid url scheme"),
                (E, "$.storage.luks.0.clevis.tang.0.thumbprint", "thumbprint is required"),
                (E, "$.storage.luks.0.clevis.tang.1.url", "invalid url scheme"),
                (E, "$.storage.luks.0.clevis.tang.1", "duplicate entry defined"),
            ],
        )
        .since(V3_2),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","clevis":{"tang":[{"url":"http://t","thumbprint":"x","advertisement":"{"}]}}]}"#,
            &[(E, "$.storage.luks.0.clevis.tang.0.advertisement", "advertisement is not valid JSON")],
        )
        .since(V3_4),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","cex":{"enabled":true},"clevis":{"tpm2":true},"keyFile":{"source":"data:,k"}}]}"#,
            &[
                (E, "$.storage.luks.0.cex", "cannot use cex with clevis"),
                (E, "$.storage.luks.0.cex", "cannot use key file with cex"),
            ],
        )
        .since(V3_5),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","openOptions":["x","x"]}]}"#,
            &[(E, "$.storage.luks.0.openOptions.1", "duplicate entry defined")],
        )
        .since(V3_4),
    ]);
}

/// Kindling's TPM2 extension: valid in every version with luks, checked like the spec's rules.
#[test]
fn kindling_tpm2() {
    run(&[
        case(r#""storage":{"luks":[{"name":"a","device":"/dev/a","kindlingTpm2":{}}]}"#, &[]).since(V3_2),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","kindlingTpm2":{"pcrs":[0,7],"pcrBank":"sha384"}}]}"#,
            &[],
        )
        .since(V3_2),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","kindlingTpm2":{"pcrs":[7,7,24],"pcrBank":"md5"}}]}"#,
            &[
                (E, "$.storage.luks.0.kindlingTpm2.pcrs", "kindlingTpm2: PCR indexes are 0 to 23, each listed once"),
                (E, "$.storage.luks.0.kindlingTpm2.pcrBank", "kindlingTpm2: pcrBank must be sha1, sha256, sha384 or sha512"),
            ],
        )
        .since(V3_2),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","kindlingTpm2":{"pcrs":[-1]}}]}"#,
            &[(E, "$.storage.luks.0.kindlingTpm2.pcrs", "kindlingTpm2: PCR indexes are 0 to 23, each listed once")],
        )
        .since(V3_2),
        case(r#""storage":{"luks":[{"name":"a","device":"/dev/a","kindlingTpm2":{"pcrs":[]}}]}"#, &[]).since(V3_2),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","cex":{"enabled":true},"kindlingTpm2":{}}]}"#,
            &[(E, "$.storage.luks.0.kindlingTpm2", "cannot use kindlingTpm2 with cex")],
        )
        .since(V3_5),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","kindlingTpm2":{"pcr":[7]}}]}"#,
            &[(W, "$.storage.luks.0.kindlingTpm2.pcr", "unused key pcr")],
        )
        .since(V3_2),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","kindlingTpm2":{"pin":"4711 ü"}}]}"#,
            &[],
        )
        .since(V3_2),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","kindlingTpm2":{"pin":""}}]}"#,
            &[(E, "$.storage.luks.0.kindlingTpm2.pin", "kindlingTpm2: pin must not be empty")],
        )
        .since(V3_2),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","kindlingTpm2":{"pin":"12\n34"}},{"name":"b","device":"/dev/b","kindlingTpm2":{"pin":"1\u0000"}}]}"#,
            &[
                (E, "$.storage.luks.0.kindlingTpm2.pin", "kindlingTpm2: pin must not contain control characters"),
                (E, "$.storage.luks.1.kindlingTpm2.pin", "kindlingTpm2: pin must not contain control characters"),
            ],
        )
        .since(V3_2),
        case(
            r#""storage":{"luks":[{"name":"a","device":"/dev/a","kindlingTpm2":{"pin":1234}}]}"#,
            &[(E, "", "json: cannot unmarshal number into Go struct field Tpm2.storage.luks.kindlingTpm2.pin of type string")],
        )
        .since(V3_2),
    ]);
}

#[test]
fn systemd() {
    run(&[
        case(
            r#""systemd":{"units":[{"name":"a.service","enabled":true,"contents":"[Install]\nWantedBy=x"}]}"#,
            &[],
        ),
        case(
            r#""systemd":{"units":[{"name":"a.serv"}]}"#,
            &[(
                E,
                "$.systemd.units.0.name",
                "invalid systemd unit extension",
            )],
        ),
        case(
            r#""systemd":{"units":[{"name":"a.service","contents":"[Unit"}]}"#,
            &[(
                E,
                "$.systemd.units.0.contents",
                "invalid unit content: unable to find end of section",
            )],
        ),
        case(
            r#""systemd":{"units":[{"name":"a.service","enabled":true,"contents":"[Unit]\nA=b"}]}"#,
            &[(
                W,
                "$.systemd.units.0.contents",
                "unit \"a.service\" is enabled, but has no install section so enable does nothing",
            )],
        ),
        case(
            r#""systemd":{"units":[{"name":"a@.service","contents":"[Unit]\nA=b"},{"name":"a@x.service","enabled":true}]}"#,
            &[(
                W,
                "$.systemd.units.1.contents",
                "template unit \"a@.service\" for \"a@x.service\" doesn't have Install section",
            )],
        ),
        case(
            r#""systemd":{"units":[{"name":"a.service","dropins":[{"name":"x.txt","contents":"[Unit"},{"name":"x.txt"}]}]}"#,
            &[
                (
                    E,
                    "$.systemd.units.0.dropins.0.contents",
                    "invalid unit content: unable to find end of section",
                ),
                (
                    E,
                    "$.systemd.units.0.dropins.0.name",
                    "invalid systemd drop-in extension",
                ),
                (
                    E,
                    "$.systemd.units.0.dropins.1.name",
                    "invalid systemd drop-in extension",
                ),
                (E, "$.systemd.units.0.dropins.1", "duplicate entry defined"),
            ],
        ),
        case(
            r#""systemd":{"units":[{"name":"a.service","contents":"[Unit]"},{"name":"a.service"}]},"storage":{"files":[{"path":"/etc/systemd/system/a.service"}]}"#,
            &[
                (
                    E,
                    "$.storage.files.0.path",
                    "path conflicts with systemd unit or dropin",
                ),
                (E, "$.systemd.units.1", "duplicate entry defined"),
            ],
        ),
    ]);
}

#[test]
fn passwd_and_kernel_arguments() {
    run(&[
        case(
            r#""passwd":{"users":[{"name":"a","sshAuthorizedKeys":["k","k"],"groups":["g","g"]},{"name":"a"}],"groups":[{"name":"g"},{"name":"g"}]}"#,
            &[
                (E, "$.passwd.groups.1", "duplicate entry defined"),
                (E, "$.passwd.users.1", "duplicate entry defined"),
                (E, "$.passwd.users.0.groups.1", "duplicate entry defined"),
                (
                    E,
                    "$.passwd.users.0.sshAuthorizedKeys.1",
                    "duplicate entry defined",
                ),
            ],
        ),
        case(
            r#""kernelArguments":{"shouldExist":["a","b"],"shouldNotExist":["a"]}"#,
            &[(
                E,
                "$.kernelArguments.shouldNotExist.0",
                "duplicate entry defined",
            )],
        )
        .since(V3_3),
        case(
            r#""kernelArguments":{"shouldExist":["a"]}"#,
            &[(W, "$.kernelArguments", "unused key kernelArguments")],
        )
        .until(V3_3),
    ]);
}

#[test]
fn unknown_and_null_keys() {
    run(&[
        case(
            r#""storage":{"files":[{"path":"/a","Mode":420,"foo":1}]}"#,
            &[
                (W, "$.storage.files.0.Mode", "unused key Mode"),
                (W, "$.storage.files.0.foo", "unused key foo"),
            ],
        ),
        case(
            r#""storage":null"#,
            &[(
                W,
                "$.storage",
                "context tree does not match content tree at $.storage. Line and column reporting may be inconsistent. Unused keys may not be reported",
            )],
        ),
        case(r#""storage":{"files":null}"#, &[]),
    ]);
}
