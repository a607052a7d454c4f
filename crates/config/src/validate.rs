//! Validation rules (errors and warnings), per spec version.
//!
//! The walk visits the config in upstream's order (each object's own rule, then its fields in
//! declaration order), so report entries come out in the order `ignition-validate` prints them.
//! Messages are upstream's, byte for byte; paths are upstream's context paths.

mod dups;
mod unit;
mod url;

pub use dups::duplicates;

use crate::Version::{self, *};
use crate::model::*;
use crate::{Config, Report};

/// Validate a config in the internal model with the struct rules of `version` (everything except
/// the duplicate-entry check, see [`duplicates`]). Paths are set; positions are not.
pub fn validate(config: &Config, version: Version) -> Report {
    let mut v = Walk {
        version,
        report: Report::default(),
    };
    v.config(config);
    v.report
}

pub(crate) mod msg {
    pub const INVALID_VERSION: &str = "invalid config version (couldn't parse)";
    pub const UNKNOWN_VERSION: &str = "unsupported config version";
    pub const DUPLICATE: &str = "duplicate entry defined";
    pub const COMPRESSION_INVALID: &str = "invalid compression method";
    pub const FILE_USED_SYMLINK: &str = "file path includes link in config";
    pub const DIRECTORY_USED_SYMLINK: &str = "directory path includes link in config";
    pub const LINK_USED_SYMLINK: &str = "link path includes link in config";
    pub const LINK_TARGET_REQUIRED: &str = "link target is required";
    pub const HARD_LINK_TO_DIRECTORY: &str = "hard link target is a directory";
    pub const HARD_LINK_SPECIFIES_OWNER: &str = "user/group ignored for hard link";
    pub const DISK_DEVICE_REQUIRED: &str = "disk device is required";
    pub const PARTITION_NUMBERS_COLLIDE: &str = "partition numbers collide";
    pub const PARTITIONS_OVERLAP: &str = "partitions overlap";
    pub const OVERWRITE_AND_NIL_SOURCE: &str = "overwrite must be false if source is unspecified";
    pub const VERIFICATION_AND_NIL_SOURCE: &str =
        "source must be specified if verification is specified";
    pub const FILESYSTEM_INVALID_FORMAT: &str = "invalid filesystem format";
    pub const LABEL_NEEDS_FORMAT: &str = "filesystem must specify format if label is specified";
    pub const FORMAT_NIL_WITH_OTHERS: &str = "format cannot be empty when path, label, uuid, wipeFilesystem, options, or mountOptions is specified";
    pub const VIRTIOFS_CANNOT_HAVE_LABEL: &str =
        "filesystem labels cannot be set when using virtiofs";
    pub const VIRTIOFS_DEVICE_TAG_TOO_LONG: &str =
        "virtiofs device tag cannot be longer than 36 bytes";
    pub const UUID_NOT_SUPPORTED_FOR_FORMAT: &str =
        "filesystem uuid cannot be set for non-block-device filesystems";
    pub const WIPE_NOT_SUPPORTED_FOR_FORMAT: &str =
        "wipeFilesystem cannot be set for non-block-device filesystems";
    pub const MKFS_OPTIONS_NOT_SUPPORTED_FOR_FORMAT: &str =
        "filesystem options (mkfs) cannot be set for non-block-device filesystems";
    pub const LUKS_LABEL_TOO_LONG: &str = "luks device labels cannot be longer than 47 characters";
    pub const LUKS_NAME_CONTAINS_SLASH: &str = "device names cannot contain slashes";
    pub const INVALID_LUKS_KEY_FILE: &str = "invalid key-file source";
    pub const CLEVIS_PIN_REQUIRED: &str = "missing required custom clevis pin";
    pub const UNKNOWN_CLEVIS_PIN: &str = "unsupported clevis pin";
    pub const CLEVIS_CONFIG_REQUIRED: &str = "missing required custom clevis config";
    pub const CLEVIS_CUSTOM_WITH_OTHERS: &str =
        "cannot use custom clevis config with tpm2, tang, or threshold";
    pub const TANG_THUMBPRINT_REQUIRED: &str = "thumbprint is required";
    pub const INVALID_TANG_ADVERTISEMENT: &str = "advertisement is not valid JSON";
    pub const FILE_ILLEGAL_MODE: &str = "illegal file mode";
    pub const MODE_SPECIAL_BITS: &str = "setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0";
    pub const BOTH_ID_AND_NAME_SET: &str = "cannot set both id and name";
    pub const LABEL_TOO_LONG: &str = "partition labels may not exceed 36 characters";
    pub const DOESNT_MATCH_GUID_REGEX: &str =
        "doesn't match the form \"01234567-89AB-CDEF-EDCB-A98765432101\"";
    pub const LABEL_CONTAINS_COLON: &str =
        "partition label will be truncated to text before the colon";
    pub const NO_PATH: &str = "path not specified";
    pub const PATH_RELATIVE: &str = "path not absolute";
    pub const DIRTY_PATH: &str = "path is not fully simplified";
    pub const NO_DEVICE: &str = "device not specified";
    pub const PARTITIONS_OVERWRITTEN: &str = "filesystem overwrites partitioned device";
    pub const FILESYSTEM_IMPLICIT_WIPE: &str =
        "device matches disk with wipeTable enabled; filesystem will be wiped";
    pub const RAID_LEVEL_REQUIRED: &str = "raid level is required";
    pub const SPARES_UNSUPPORTED_FOR_LEVEL: &str = "spares unsupported for linear and raid0 arrays";
    pub const UNRECOGNIZED_RAID_LEVEL: &str = "unrecognized raid level";
    pub const RAID_DEVICES_REQUIRED: &str = "raid devices required";
    pub const SHOULD_NOT_EXIST_WITH_OTHERS: &str =
        "shouldExist specified false with other options also specified";
    pub const NEED_LABEL_OR_NUMBER: &str = "a partition number >= 1 or a label must be specified";
    pub const DUPLICATE_LABELS: &str = "cannot use the same partition label twice";
    pub const INVALID_PROXY: &str = "proxies must be http(s)";
    pub const INSECURE_PROXY: &str = "insecure plaintext HTTP proxy specified for HTTPS resources";
    pub const PATH_CONFLICTS_SYSTEMD: &str = "path conflicts with systemd unit or dropin";
    pub const CEX_WITH_CLEVIS: &str = "cannot use cex with clevis";
    pub const CEX_WITH_KEY_FILE: &str = "cannot use key file with cex";
    // Kindling's TPM2 extension (storage.luks[].kindlingTpm2).
    pub const TPM2_BAD_PCR: &str = "kindlingTpm2: PCR indexes are 0 to 23, each listed once";
    pub const TPM2_BAD_BANK: &str = "kindlingTpm2: pcrBank must be sha1, sha256, sha384 or sha512";
    pub const TPM2_WITH_CEX: &str = "cannot use kindlingTpm2 with cex";
    pub const TPM2_EMPTY_PIN: &str = "kindlingTpm2: pin must not be empty";
    pub const TPM2_PIN_CONTROL: &str = "kindlingTpm2: pin must not contain control characters";
    pub const INVALID_SYSTEMD_EXT: &str = "invalid systemd unit extension";
    pub const INVALID_SYSTEMD_DROPIN_EXT: &str = "invalid systemd drop-in extension";
    pub const SOURCE_REQUIRED: &str = "source is required";
    pub const INVALID_SCHEME: &str = "invalid url scheme";
    pub const INVALID_URL: &str = "unable to parse url";
    pub const INVALID_HTTP_HEADER: &str = "unable to parse HTTP header";
    pub const EMPTY_HTTP_HEADER_NAME: &str = "HTTP header name can't be empty";
    pub const UNSUPPORTED_SCHEME_FOR_HTTP_HEADERS: &str =
        "cannot use HTTP headers with this source scheme";
    pub const HASH_MALFORMED: &str = "malformed hash specifier";
    pub const HASH_WRONG_SIZE: &str = "incorrect size for hash sum";
    pub const HASH_UNRECOGNIZED: &str = "unrecognized hash function";
    pub const INVALID_S3_ARN: &str = "invalid S3 ARN format";
    pub const INVALID_S3_OBJECT_VERSION_ID: &str = "invalid S3 object VersionId";
}

/// Which upstream type a resource was in its own version (3.0 had three).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ResourceKind {
    /// 3.0 `ignition.config.merge[]` / `replace`.
    ConfigReference,
    /// 3.0 `certificateAuthorities[]`.
    CaReference,
    /// 3.0 `files[].contents` / `append[]`.
    FileContents,
    /// 3.1 on: everything.
    Resource,
}

struct Walk {
    version: Version,
    report: Report,
}

fn join(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

fn idx(path: &str, i: usize) -> String {
    format!("{path}.{i}")
}

fn nil_or_empty(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(str::is_empty)
}

fn not_empty(s: &Option<String>) -> bool {
    !nil_or_empty(s)
}

fn is_true(b: Option<bool>) -> bool {
    b == Some(true)
}

/// Go's `path.Clean`.
pub(crate) fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `path.Ext`.
fn ext(name: &str) -> &str {
    for (i, c) in name.char_indices().rev() {
        match c {
            '/' => return "",
            '.' => return &name[i..],
            _ => {}
        }
    }
    ""
}

pub(crate) fn validate_path(p: &str) -> Option<&'static str> {
    if p.is_empty() {
        Some(msg::NO_PATH)
    } else if !p.starts_with('/') {
        Some(msg::PATH_RELATIVE)
    } else if clean(p) != p {
        Some(msg::DIRTY_PATH)
    } else {
        None
    }
}

fn validate_mode(mode: Option<i64>) -> Option<&'static str> {
    match mode {
        Some(m) if !(0..=0o7777).contains(&m) => Some(msg::FILE_ILLEGAL_MODE),
        _ => None,
    }
}

/// Upstream converts the mode to uint32 before masking, so negative modes trigger it too.
fn validate_mode_special_bits(mode: Option<i64>) -> Option<&'static str> {
    match mode {
        Some(m) if (m as u32) & 0o7000 != 0 => Some(msg::MODE_SPECIAL_BITS),
        _ => None,
    }
}

/// `^(|[[:xdigit:]]{8}-[[:xdigit:]]{4}-[[:xdigit:]]{4}-[[:xdigit:]]{4}-[[:xdigit:]]{12})$`
fn validate_guid(guid: &Option<String>) -> Option<&'static str> {
    let g = guid.as_deref()?;
    if g.is_empty() {
        return None;
    }
    let groups: Vec<&str> = g.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(s, n)| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        None
    } else {
        Some(msg::DOESNT_MATCH_GUID_REGEX)
    }
}

impl Walk {
    fn error(&mut self, path: String, message: impl Into<String>) {
        self.report.error(Some(path), message);
    }

    fn warn(&mut self, path: String, message: impl Into<String>) {
        self.report.warning(Some(path), message);
    }

    fn error_opt(&mut self, path: String, message: Option<impl Into<String>>) {
        if let Some(m) = message {
            self.error(path, m);
        }
    }

    fn config(&mut self, c: &Config) {
        self.systemd_path_conflicts(c);
        self.ignition(&c.ignition);
        self.storage(&c.storage, "$.storage");
        self.systemd(&c.systemd, "$.systemd");
    }

    fn systemd_path_conflicts(&mut self, c: &Config) {
        let mut unit_paths = std::collections::HashSet::new();
        for unit in &c.systemd.units {
            if not_empty(&unit.contents) {
                unit_paths.insert(format!("/etc/systemd/system/{}", unit.name));
            }
            for dropin in &unit.dropins {
                if not_empty(&dropin.contents) {
                    unit_paths.insert(format!(
                        "/etc/systemd/system/{}.d/{}",
                        unit.name, dropin.name
                    ));
                }
            }
        }
        if unit_paths.is_empty() {
            return;
        }
        let s = &c.storage;
        let lists: [(&str, Vec<&str>); 3] = [
            (
                "files",
                s.files.iter().map(|f| f.node.path.as_str()).collect(),
            ),
            (
                "directories",
                s.directories.iter().map(|d| d.node.path.as_str()).collect(),
            ),
            (
                "links",
                s.links.iter().map(|l| l.node.path.as_str()).collect(),
            ),
        ];
        for (list, paths) in lists {
            for (i, p) in paths.into_iter().enumerate() {
                if unit_paths.contains(p) {
                    self.error(
                        format!("$.storage.{list}.{i}.path"),
                        msg::PATH_CONFLICTS_SYSTEMD,
                    );
                }
            }
        }
    }

    fn ignition(&mut self, ign: &Ignition) {
        let version_path = "$.ignition.version".to_owned();
        match crate::version::SemVer::parse(&ign.version) {
            None => self.error(version_path, msg::INVALID_VERSION),
            Some(v) if !v.is(self.version) => self.error(version_path, msg::UNKNOWN_VERSION),
            Some(_) => {}
        }
        let old = self.version < V3_1;
        let refs = if old {
            ResourceKind::ConfigReference
        } else {
            ResourceKind::Resource
        };
        if !old {
            for (i, res) in ign.config.merge.iter().enumerate() {
                let m = self.required_source(res);
                self.error_opt(format!("$.ignition.config.merge.{i}"), m);
            }
        }
        for (i, res) in ign.config.merge.iter().enumerate() {
            self.resource(res, &format!("$.ignition.config.merge.{i}"), refs);
        }
        self.resource(&ign.config.replace, "$.ignition.config.replace", refs);
        if !old {
            self.proxy(&ign.proxy, "$.ignition.proxy");
        }
        let cas = &ign.security.tls.certificate_authorities;
        if !old {
            for (i, res) in cas.iter().enumerate() {
                let m = self.required_source(res);
                self.error_opt(
                    format!("$.ignition.security.tls.certificateAuthorities.{i}"),
                    m,
                );
            }
        }
        let kind = if old {
            ResourceKind::CaReference
        } else {
            ResourceKind::Resource
        };
        for (i, res) in cas.iter().enumerate() {
            self.resource(
                res,
                &format!("$.ignition.security.tls.certificateAuthorities.{i}"),
                kind,
            );
        }
    }

    fn required_source(&self, res: &Resource) -> Option<String> {
        match res.source.as_deref() {
            None | Some("") => Some(msg::SOURCE_REQUIRED.into()),
            Some(s) => url::validate_url(s, self.version).err(),
        }
    }

    fn proxy(&mut self, p: &Proxy, path: &str) {
        for (key, value, http_ok) in [
            ("httpProxy", &p.http_proxy, true),
            ("httpsProxy", &p.https_proxy, false),
        ] {
            let Some(s) = value else { continue };
            let at = join(path, key);
            match url::GoUrl::parse(s) {
                None => self.error(at, msg::INVALID_URL),
                Some(u) if u.scheme != "http" && u.scheme != "https" => {
                    self.error(at, msg::INVALID_PROXY)
                }
                Some(u) if u.scheme == "http" && !http_ok => self.warn(at, msg::INSECURE_PROXY),
                Some(_) => {}
            }
        }
    }

    fn resource(&mut self, res: &Resource, path: &str, kind: ResourceKind) {
        let v = self.version;
        match kind {
            ResourceKind::ConfigReference => {
                let m = url::validate_url_nil_ok(&res.source, v);
                self.error_opt(join(path, "source"), m);
            }
            ResourceKind::CaReference => {
                let m = url::validate_url(res.source.as_deref().unwrap_or(""), v).err();
                self.error_opt(join(path, "source"), m);
            }
            ResourceKind::FileContents | ResourceKind::Resource => {
                if let Some(c) = res.compression.as_deref()
                    && !matches!(c, "" | "gzip")
                {
                    self.error(join(path, "compression"), msg::COMPRESSION_INVALID);
                }
                if res.verification.hash.is_some() && res.source.is_none() {
                    self.error(
                        format!("{path}.verification.hash"),
                        msg::VERIFICATION_AND_NIL_SOURCE,
                    );
                }
                let m = url::validate_url_nil_ok(&res.source, v);
                self.error_opt(join(path, "source"), m);
                if kind == ResourceKind::Resource {
                    let m = http_headers_scheme(res);
                    self.error_opt(join(path, "httpHeaders"), m);
                    for (i, h) in res.http_headers.iter().enumerate() {
                        let hp = format!("{path}.httpHeaders.{i}");
                        if h.name.is_empty() {
                            self.error(join(&hp, "name"), msg::EMPTY_HTTP_HEADER_NAME);
                        }
                        if h.value.as_deref() == Some("") {
                            self.error(join(&hp, "value"), msg::INVALID_HTTP_HEADER);
                        }
                    }
                }
            }
        }
        self.verification(&res.verification, &join(path, "verification"));
    }

    fn verification(&mut self, ver: &Verification, path: &str) {
        let Some(hash) = ver.hash.as_deref() else {
            return;
        };
        let at = join(path, "hash");
        let Some((function, sum)) = hash.split_once('-') else {
            self.error(at, msg::HASH_MALFORMED);
            return;
        };
        let size = match function {
            "sha512" => 64,
            "sha256" if self.version >= V3_1 => 32,
            _ => {
                self.error(at, msg::HASH_UNRECOGNIZED);
                return;
            }
        };
        if sum.len() != size * 2 {
            self.error(at, msg::HASH_WRONG_SIZE);
        }
    }

    fn storage(&mut self, s: &Storage, path: &str) {
        self.storage_rules(s, path);
        for (i, d) in s.directories.iter().enumerate() {
            let p = format!("{path}.directories.{i}");
            self.node_path(&d.node, &p);
            self.error_opt(join(&p, "mode"), validate_mode(d.mode));
            if self.version < V3_6
                && let Some(m) = validate_mode_special_bits(d.mode)
            {
                self.warn(join(&p, "mode"), m);
            }
            self.node_owners(&d.node, &p);
        }
        for (i, d) in s.disks.iter().enumerate() {
            self.disk(d, &format!("{path}.disks.{i}"));
        }
        for (i, f) in s.files.iter().enumerate() {
            let p = format!("{path}.files.{i}");
            self.node_path(&f.node, &p);
            self.error_opt(join(&p, "mode"), validate_mode(f.mode));
            if self.version < V3_6
                && let Some(m) = validate_mode_special_bits(f.mode)
            {
                self.warn(join(&p, "mode"), m);
            }
            if is_true(f.node.overwrite) && f.contents.source.is_none() {
                self.error(join(&p, "overwrite"), msg::OVERWRITE_AND_NIL_SOURCE);
            }
            self.node_owners(&f.node, &p);
            let kind = if self.version < V3_1 {
                ResourceKind::FileContents
            } else {
                ResourceKind::Resource
            };
            for (j, a) in f.append.iter().enumerate() {
                self.resource(a, &format!("{p}.append.{j}"), kind);
            }
            self.resource(&f.contents, &join(&p, "contents"), kind);
        }
        for (i, fs) in s.filesystems.iter().enumerate() {
            self.filesystem(fs, &format!("{path}.filesystems.{i}"));
        }
        for (i, l) in s.links.iter().enumerate() {
            let p = format!("{path}.links.{i}");
            self.node_path(&l.node, &p);
            self.node_owners(&l.node, &p);
        }
        for (i, l) in s.luks.iter().enumerate() {
            self.luks(l, &format!("{path}.luks.{i}"));
        }
        for (i, r) in s.raid.iter().enumerate() {
            self.raid(r, &format!("{path}.raid.{i}"));
        }
    }

    fn node_path(&mut self, n: &Node, path: &str) {
        self.error_opt(join(path, "path"), validate_path(&n.path));
    }

    fn node_owners(&mut self, n: &Node, path: &str) {
        for (key, owner) in [("group", &n.group), ("user", &n.user)] {
            if owner.id.is_some() && not_empty(&owner.name) {
                self.error(join(path, key), msg::BOTH_ID_AND_NAME_SET);
            }
        }
    }

    /// `Storage.Validate`: rules across entries.
    fn storage_rules(&mut self, s: &Storage, path: &str) {
        let link_prefixes: Vec<String> = s
            .links
            .iter()
            .map(|l| format!("{}/", l.node.path))
            .collect();
        let under_link = |p: &str| {
            link_prefixes
                .iter()
                .filter(|l| p.starts_with(l.as_str()))
                .count()
        };
        for (i, d) in s.directories.iter().enumerate() {
            for _ in 0..under_link(&d.node.path) {
                self.error(
                    format!("{path}.directories.{i}"),
                    msg::DIRECTORY_USED_SYMLINK,
                );
            }
        }
        for (i, f) in s.files.iter().enumerate() {
            for _ in 0..under_link(&f.node.path) {
                self.error(format!("{path}.files.{i}"), msg::FILE_USED_SYMLINK);
            }
        }
        for (i, l) in s.links.iter().enumerate() {
            let p = format!("{path}.links.{i}");
            for _ in 0..under_link(&l.node.path) {
                self.error(p.clone(), msg::LINK_USED_SYMLINK);
            }
            if self.version >= V3_3 && nil_or_empty(&l.target) {
                self.error(join(&p, "target"), msg::LINK_TARGET_REQUIRED);
                continue;
            }
            if !is_true(l.hard) {
                continue;
            }
            let raw_target = l.target.as_deref().unwrap_or("");
            let mut target = clean(raw_target);
            if !target.starts_with('/') {
                // Go's path.Join skips empty elements.
                let parts: Vec<&str> = [l.node.path.as_str(), raw_target]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect();
                target = if parts.is_empty() {
                    String::new()
                } else {
                    clean(&parts.join("/"))
                };
            }
            for d in &s.directories {
                if target == d.node.path {
                    self.error(p.clone(), msg::HARD_LINK_TO_DIRECTORY);
                }
            }
            let owners = [
                ("user.id", l.node.user.id.is_some()),
                ("user.name", l.node.user.name.is_some()),
                ("group.id", l.node.group.id.is_some()),
                ("group.name", l.node.group.name.is_some()),
            ];
            for (field, set) in owners {
                if set {
                    self.warn(join(&p, field), msg::HARD_LINK_SPECIFIES_OWNER);
                }
            }
        }
        let disks: std::collections::HashMap<&str, &Disk> =
            s.disks.iter().map(|d| (d.device.as_str(), d)).collect();
        for (i, fs) in s.filesystems.iter().enumerate() {
            if let Some(disk) = disks.get(fs.device.as_str()) {
                let at = format!("{path}.filesystems.{i}.device");
                if !disk.partitions.is_empty() {
                    self.warn(at, msg::PARTITIONS_OVERWRITTEN);
                } else if !is_true(fs.wipe_filesystem) && is_true(disk.wipe_table) {
                    self.warn(at, msg::FILESYSTEM_IMPLICIT_WIPE);
                }
            }
        }
    }

    fn disk(&mut self, d: &Disk, path: &str) {
        if d.device.is_empty() {
            self.error(join(path, "device"), msg::DISK_DEVICE_REQUIRED);
        } else {
            self.error_opt(join(path, "device"), validate_path(&d.device));
            if let Some(i) = partition_numbers_collide(&d.partitions) {
                self.error(
                    idx(&join(path, "partitions"), i),
                    msg::PARTITION_NUMBERS_COLLIDE,
                );
            }
            if let Some(i) = partitions_overlap(&d.partitions) {
                self.error(idx(&join(path, "partitions"), i), msg::PARTITIONS_OVERLAP);
            }
            if let Some(i) = partition_labels_collide(&d.partitions) {
                self.error(idx(&join(path, "partitions"), i), msg::DUPLICATE_LABELS);
            }
        }
        for (i, p) in d.partitions.iter().enumerate() {
            self.partition(p, &format!("{path}.partitions.{i}"));
        }
    }

    fn partition(&mut self, p: &Partition, path: &str) {
        if p.should_exist == Some(false)
            && (p.label.is_some()
                || not_empty(&p.type_guid)
                || not_empty(&p.guid)
                || p.start_mib.is_some()
                || p.size_mib.is_some())
        {
            self.error(path.to_owned(), msg::SHOULD_NOT_EXIST_WITH_OTHERS);
        }
        if p.number == 0 && p.label.is_none() {
            self.error(path.to_owned(), msg::NEED_LABEL_OR_NUMBER);
        }
        if let Some(label) = &p.label {
            if label.len() > 36 {
                self.error(join(path, "label"), msg::LABEL_TOO_LONG);
            } else if label.contains(':') {
                self.error(join(path, "label"), msg::LABEL_CONTAINS_COLON);
            }
        }
        self.error_opt(join(path, "guid"), validate_guid(&p.guid));
        self.error_opt(join(path, "typeGuid"), validate_guid(&p.type_guid));
    }

    fn filesystem(&mut self, f: &Filesystem, path: &str) {
        let v = self.version;
        let format = f.format.as_deref().unwrap_or("");
        let virtiofs = v >= V3_7Experimental && format == "virtiofs";
        if let Some(p) = f.path.as_deref().filter(|p| !p.is_empty()) {
            self.error_opt(join(path, "path"), validate_path(p));
        }
        let device = if virtiofs {
            if f.device.is_empty() {
                Some(msg::NO_DEVICE)
            } else if f.device.len() > 36 {
                Some(msg::VIRTIOFS_DEVICE_TAG_TOO_LONG)
            } else {
                None
            }
        } else {
            validate_path(&f.device)
        };
        self.error_opt(join(path, "device"), device);
        if format.is_empty() {
            let others = not_empty(&f.path)
                || not_empty(&f.label)
                || not_empty(&f.uuid)
                || is_true(f.wipe_filesystem)
                || (v >= V3_1 && !f.mount_options.is_empty())
                || !f.options.is_empty();
            if others {
                self.error(join(path, "format"), msg::FORMAT_NIL_WITH_OTHERS);
            }
        } else {
            let known = match format {
                "ext4" | "btrfs" | "xfs" | "swap" | "vfat" => true,
                "none" => v >= V3_3,
                "virtiofs" => v >= V3_7Experimental,
                _ => false,
            };
            if !known {
                self.error(join(path, "format"), msg::FILESYSTEM_INVALID_FORMAT);
            }
        }
        if let Some(label) = f.label.as_deref().filter(|l| !l.is_empty()) {
            let m = if format.is_empty() {
                Some(msg::LABEL_NEEDS_FORMAT.to_owned())
            } else {
                let max = match format {
                    "ext4" => Some(16),
                    "btrfs" => Some(256),
                    "xfs" => Some(12),
                    "swap" => Some(15),
                    "vfat" => Some(11),
                    _ => None,
                };
                match max {
                    Some(n) if label.len() > n => Some(format!(
                        "filesystem labels cannot be longer than {n} characters when using {format}"
                    )),
                    _ if virtiofs => Some(msg::VIRTIOFS_CANNOT_HAVE_LABEL.to_owned()),
                    _ => None,
                }
            };
            self.error_opt(join(path, "label"), m);
        }
        if virtiofs {
            if not_empty(&f.uuid) {
                self.error(join(path, "uuid"), msg::UUID_NOT_SUPPORTED_FOR_FORMAT);
            }
            if is_true(f.wipe_filesystem) {
                self.error(
                    join(path, "wipeFilesystem"),
                    msg::WIPE_NOT_SUPPORTED_FOR_FORMAT,
                );
            }
            if !f.options.is_empty() {
                self.error(
                    join(path, "options"),
                    msg::MKFS_OPTIONS_NOT_SUPPORTED_FOR_FORMAT,
                );
            }
        }
    }

    fn luks(&mut self, l: &Luks, path: &str) {
        let v = self.version;
        if l.name.contains('/') {
            self.error(join(path, "name"), msg::LUKS_NAME_CONTAINS_SLASH);
        }
        if l.label.as_deref().is_some_and(|s| s.len() > 47) {
            self.error(join(path, "label"), msg::LUKS_LABEL_TOO_LONG);
        }
        match l.device.as_deref() {
            None | Some("") => self.error(join(path, "device"), msg::DISK_DEVICE_REQUIRED),
            Some(d) => self.error_opt(join(path, "device"), validate_path(d)),
        }
        let c = &l.clevis;
        let others = !c.tang.is_empty() || is_true(c.tpm2) || c.threshold.is_some_and(|t| t != 0);
        // 3.2 had a pointer to the custom pin: any `custom` object counts (pin is then set).
        let custom = if v < V3_3 {
            c.custom.pin.is_some()
        } else {
            not_empty(&c.custom.pin)
        };
        if custom && others {
            self.error(join(path, "clevis"), msg::CLEVIS_CUSTOM_WITH_OTHERS);
        }
        if url::validate_url_nil_ok(&l.key_file.source, v).is_some() {
            self.error(join(path, "keys"), msg::INVALID_LUKS_KEY_FILE);
        }
        if v >= V3_5 && is_true(l.cex.enabled) {
            let clevis_present = not_empty(&c.custom.pin)
                || !c.tang.is_empty()
                || is_true(c.tpm2)
                || c.threshold.is_some_and(|t| t != 0);
            if clevis_present {
                self.error(join(path, "cex"), msg::CEX_WITH_CLEVIS);
            }
            if not_empty(&l.key_file.source) {
                self.error(join(path, "cex"), msg::CEX_WITH_KEY_FILE);
            }
        }
        if let Some(t) = &l.kindling_tpm2 {
            self.kindling_tpm2(t, &join(path, "kindlingTpm2"), is_true(l.cex.enabled));
        }
        self.clevis_custom(&c.custom, &format!("{path}.clevis.custom"));
        for (i, t) in c.tang.iter().enumerate() {
            self.tang(t, &format!("{path}.clevis.tang.{i}"));
        }
        self.resource(&l.key_file, &join(path, "keyFile"), ResourceKind::Resource);
    }

    fn kindling_tpm2(&mut self, t: &KindlingTpm2, path: &str, cex: bool) {
        if cex {
            self.error(path.to_string(), msg::TPM2_WITH_CEX);
        }
        let mut seen = std::collections::BTreeSet::new();
        if t.pcrs
            .iter()
            .any(|p| !(0..24).contains(p) || !seen.insert(*p))
        {
            self.error(join(path, "pcrs"), msg::TPM2_BAD_PCR);
        }
        if t.pcr_bank
            .as_deref()
            .is_some_and(|b| !["sha1", "sha256", "sha384", "sha512"].contains(&b))
        {
            self.error(join(path, "pcrBank"), msg::TPM2_BAD_BANK);
        }
        // systemd hashes the PIN as a C string and reads it as one line (prompt, $PIN, stdin).
        match t.pin.as_deref() {
            Some("") => self.error(join(path, "pin"), msg::TPM2_EMPTY_PIN),
            Some(p) if p.chars().any(char::is_control) => {
                self.error(join(path, "pin"), msg::TPM2_PIN_CONTROL)
            }
            _ => {}
        }
    }

    fn clevis_custom(&mut self, cu: &ClevisCustom, path: &str) {
        let v = self.version;
        if v < V3_3 {
            // 3.2: a pointer; absent means no rule. Pin and config are plain strings.
            let (Some(pin), Some(config)) = (cu.pin.as_deref(), cu.config.as_deref()) else {
                return;
            };
            if pin.is_empty() && config.is_empty() {
                return;
            }
            if !matches!(pin, "tpm2" | "tang" | "sss") {
                self.error(join(path, "pin"), msg::UNKNOWN_CLEVIS_PIN);
            }
            if config.is_empty() {
                self.error(join(path, "config"), msg::CLEVIS_CONFIG_REQUIRED);
            }
            return;
        }
        if nil_or_empty(&cu.pin) && nil_or_empty(&cu.config) && !is_true(cu.needs_network) {
            return;
        }
        match cu.pin.as_deref() {
            None | Some("") => self.error(join(path, "pin"), msg::CLEVIS_PIN_REQUIRED),
            // From 3.6 on any pin name is accepted (upstream 2.25+).
            Some(pin) if v < V3_6 && !matches!(pin, "tpm2" | "tang" | "sss") => {
                self.error(join(path, "pin"), msg::UNKNOWN_CLEVIS_PIN)
            }
            Some(_) => {}
        }
        if nil_or_empty(&cu.config) {
            self.error(join(path, "config"), msg::CLEVIS_CONFIG_REQUIRED);
        }
    }

    fn tang(&mut self, t: &Tang, path: &str) {
        let m = match url::GoUrl::parse(&t.url) {
            None => Some(msg::INVALID_URL),
            Some(u) if u.scheme != "http" && u.scheme != "https" => Some(msg::INVALID_SCHEME),
            Some(_) => None,
        };
        self.error_opt(join(path, "url"), m);
        if nil_or_empty(&t.thumbprint) {
            self.error(join(path, "thumbprint"), msg::TANG_THUMBPRINT_REQUIRED);
        }
        if self.version >= V3_4
            && let Some(adv) = t.advertisement.as_deref().filter(|a| !a.is_empty())
            && !crate::json::decodes_as_any(adv.as_bytes())
        {
            self.error(join(path, "advertisement"), msg::INVALID_TANG_ADVERTISEMENT);
        }
    }

    fn raid(&mut self, r: &Raid, path: &str) {
        let level = r.level.as_deref().unwrap_or("");
        let m = if level.is_empty() && self.version >= V3_3 {
            Some(msg::RAID_LEVEL_REQUIRED)
        } else {
            match level {
                "linear" | "raid0" | "0" | "stripe" if r.spares.is_some_and(|s| s != 0) => {
                    Some(msg::SPARES_UNSUPPORTED_FOR_LEVEL)
                }
                "linear" | "raid0" | "0" | "stripe" | "raid1" | "1" | "mirror" | "raid4" | "4"
                | "raid5" | "5" | "raid6" | "6" | "raid10" | "10" => None,
                _ => Some(msg::UNRECOGNIZED_RAID_LEVEL),
            }
        };
        self.error_opt(join(path, "level"), m);
        if r.devices.is_empty() {
            self.error(join(path, "devices"), msg::RAID_DEVICES_REQUIRED);
        }
        for (i, d) in r.devices.iter().enumerate() {
            self.error_opt(format!("{path}.devices.{i}"), validate_path(d));
        }
    }

    fn systemd(&mut self, s: &Systemd, path: &str) {
        self.template_units(s, path);
        for (i, u) in s.units.iter().enumerate() {
            let p = format!("{path}.units.{i}");
            if !matches!(
                ext(&u.name),
                ".service"
                    | ".socket"
                    | ".device"
                    | ".mount"
                    | ".automount"
                    | ".swap"
                    | ".target"
                    | ".path"
                    | ".timer"
                    | ".snapshot"
                    | ".slice"
                    | ".scope"
            ) {
                self.error(join(&p, "name"), msg::INVALID_SYSTEMD_EXT);
            }
            let contents = join(&p, "contents");
            match unit::parse_options(u.contents.as_deref()) {
                Err(e) => self.error(contents, format!("invalid unit content: {e}")),
                Ok(options) => {
                    if is_true(u.enabled)
                        && not_empty(&u.contents)
                        && !options.iter().any(|s| s == "Install")
                    {
                        self.warn(
                            contents,
                            format!(
                                "unit {} is enabled, but has no install section so enable does nothing",
                                unit::go_quote(&u.name)
                            ),
                        );
                    }
                }
            }
            for (j, d) in u.dropins.iter().enumerate() {
                let dp = format!("{p}.dropins.{j}");
                if let Err(e) = unit::parse_options(d.contents.as_deref()) {
                    self.error(join(&dp, "contents"), format!("invalid unit content: {e}"));
                }
                if ext(&d.name) != ".conf" {
                    self.error(join(&dp, "name"), msg::INVALID_SYSTEMD_DROPIN_EXT);
                }
            }
        }
    }

    /// An enabled instance `x@i.service` whose template `x@.service` has contents but no
    /// `[Install]` options.
    fn template_units(&mut self, s: &Systemd, path: &str) {
        let mut units: std::collections::HashMap<&str, &Unit> = std::collections::HashMap::new();
        for u in &s.units {
            units.insert(u.name.as_str(), u);
        }
        for (i, u) in s.units.iter().enumerate() {
            if !is_true(u.enabled) {
                continue;
            }
            let Some(prefix) = instance_prefix(&u.name) else {
                continue;
            };
            let template = format!("{prefix}@.service");
            let Some(t) = units.get(template.as_str()) else {
                continue;
            };
            if !not_empty(&t.contents) {
                continue;
            }
            let Ok(options) = unit::parse_options(t.contents.as_deref()) else {
                continue;
            };
            if !options.iter().any(|s| s == "Install") {
                self.warn(
                    format!("{path}.units.{i}.contents"),
                    format!(
                        "template unit {} for {} doesn't have Install section",
                        unit::go_quote(&template),
                        unit::go_quote(&u.name)
                    ),
                );
            }
        }
    }
}

/// `^(.+?)@(.+?)\.service$`: the template prefix of an instance unit name.
fn instance_prefix(name: &str) -> Option<&str> {
    // `.` does not match a newline in Go regexps.
    if name.contains('\n') {
        return None;
    }
    let stem = name.strip_suffix(".service")?;
    let at = stem.find('@')?;
    // Both groups need at least one character; the lazy first group takes the first `@`
    // that leaves a non-empty instance.
    if at == 0 {
        // The first group must be non-empty: try a later `@`.
        let later = stem[1..].find('@')? + 1;
        return (later + 1 < stem.len()).then(|| &stem[..later]);
    }
    if at + 1 < stem.len() {
        Some(&stem[..at])
    } else {
        None
    }
}

fn http_headers_scheme(res: &Resource) -> Option<&'static str> {
    if res.http_headers.is_empty() {
        return None;
    }
    let Some(source) = res.source.as_deref().filter(|s| !s.is_empty()) else {
        return Some(msg::INVALID_URL);
    };
    match url::GoUrl::parse(source) {
        None => Some(msg::INVALID_URL),
        Some(u) if u.scheme == "http" || u.scheme == "https" => None,
        Some(_) => Some(msg::UNSUPPORTED_SCHEME_FOR_HTTP_HEADERS),
    }
}

fn partition_numbers_collide(parts: &[Partition]) -> Option<usize> {
    let mut first_seen: Vec<(i64, usize)> = Vec::new();
    let mut best: Option<usize> = None;
    for (i, p) in parts.iter().enumerate() {
        if p.number == 0 {
            continue;
        }
        if first_seen.iter().any(|(n, _)| *n == p.number) {
            best = Some(best.map_or(i, |b| b.min(i)));
        } else {
            first_seen.push((p.number, i));
        }
    }
    best
}

fn partition_labels_collide(parts: &[Partition]) -> Option<usize> {
    let mut seen = std::collections::HashSet::new();
    for (i, p) in parts.iter().enumerate() {
        if let Some(l) = &p.label
            && !seen.insert(l.as_str())
        {
            return Some(i);
        }
    }
    None
}

fn partitions_overlap(parts: &[Partition]) -> Option<usize> {
    // Go ints wrap on overflow; so do these.
    let end = |start: i64, size: i64| {
        if size == 0 {
            start
        } else {
            start.wrapping_add(size).wrapping_sub(1)
        }
    };
    let placed = |p: &Partition| match (p.start_mib, p.size_mib) {
        (Some(start), Some(size)) if start != 0 => Some((start, end(start, size))),
        _ => None,
    };
    for (pi, p) in parts.iter().enumerate() {
        let Some((ps, pe)) = placed(p) else { continue };
        for (oi, o) in parts.iter().enumerate() {
            if oi == pi {
                continue;
            }
            let Some((os, oe)) = placed(o) else { continue };
            if (ps >= os && ps <= oe) || (pe >= os && pe <= oe) || (ps < os && pe > oe) {
                return Some(oi);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
