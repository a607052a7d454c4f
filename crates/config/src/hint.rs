//! One line on how to fix each error (and the warnings worth acting on).

use crate::validate::msg;

const DATA_URL: &str =
    "write the data URL as data:[<type>/<subtype>][;base64],<data> with %-escaped or base64 data";

/// The fix for a finding with upstream message `message`, if Kindling knows one.
pub fn for_message(message: &str) -> Option<&'static str> {
    let hint = match message {
        msg::INVALID_VERSION => "set ignition.version to a version string such as \"3.5.0\"",
        msg::UNKNOWN_VERSION => {
            "use one of 3.0.0, 3.1.0, 3.2.0, 3.3.0, 3.4.0, 3.5.0, 3.6.0 or 3.7.0-experimental"
        }
        msg::DUPLICATE => "remove or rename one of the entries: each key may appear once",
        msg::COMPRESSION_INVALID => "use \"gzip\", or leave compression out for plain content",
        msg::FILE_USED_SYMLINK | msg::DIRECTORY_USED_SYMLINK | msg::LINK_USED_SYMLINK => {
            "a configured link is a parent of this path: use the link's target path instead"
        }
        msg::LINK_TARGET_REQUIRED => "set target to the path the link should point to",
        msg::HARD_LINK_TO_DIRECTORY => {
            "hard links cannot point to directories: make it a symlink (hard: false)"
        }
        msg::HARD_LINK_SPECIFIES_OWNER => {
            "remove user/group: a hard link shares its target's owner"
        }
        msg::DISK_DEVICE_REQUIRED => "set device to the block device path, e.g. /dev/disk/by-id/…",
        msg::PARTITION_NUMBERS_COLLIDE => "give each partition of the disk a different number",
        msg::PARTITIONS_OVERLAP => "change startMiB/sizeMiB so the partitions do not overlap",
        msg::OVERWRITE_AND_NIL_SOURCE => {
            "set contents.source (\"data:,\" for an empty file) or set overwrite to false"
        }
        msg::VERIFICATION_AND_NIL_SOURCE => "set source, or remove verification",
        msg::FILESYSTEM_INVALID_FORMAT => {
            "use ext4, btrfs, xfs, vfat, swap or none (virtiofs from 3.7.0-experimental)"
        }
        msg::LABEL_NEEDS_FORMAT | msg::FORMAT_NIL_WITH_OTHERS => {
            "set format (e.g. \"ext4\") or remove the other filesystem settings"
        }
        msg::VIRTIOFS_CANNOT_HAVE_LABEL => "remove label: virtiofs shares have no label",
        msg::VIRTIOFS_DEVICE_TAG_TOO_LONG => "shorten the virtiofs tag to at most 36 bytes",
        msg::UUID_NOT_SUPPORTED_FOR_FORMAT
        | msg::WIPE_NOT_SUPPORTED_FOR_FORMAT
        | msg::MKFS_OPTIONS_NOT_SUPPORTED_FOR_FORMAT => {
            "remove it: virtiofs is not created by Kindling, so it cannot be formatted"
        }
        msg::LUKS_LABEL_TOO_LONG => "shorten the label to at most 47 bytes",
        msg::LUKS_NAME_CONTAINS_SLASH => "use a plain device-mapper name without '/'",
        msg::INVALID_LUKS_KEY_FILE => "fix keyFile.source: it must be a supported URL",
        msg::CLEVIS_PIN_REQUIRED => "set clevis.custom.pin (e.g. \"tpm2\"), or remove custom",
        msg::UNKNOWN_CLEVIS_PIN => {
            "use pin tpm2, tang or sss (any pin name needs spec 3.6.0 or newer)"
        }
        msg::CLEVIS_CONFIG_REQUIRED => "set clevis.custom.config to the pin's JSON configuration",
        msg::CLEVIS_CUSTOM_WITH_OTHERS => {
            "use either clevis.custom or tang/tpm2/threshold, not both"
        }
        msg::TANG_THUMBPRINT_REQUIRED => "set thumbprint to the tang server's key thumbprint",
        msg::INVALID_TANG_ADVERTISEMENT => {
            "set advertisement to the JSON the tang server serves at /adv"
        }
        msg::FILE_ILLEGAL_MODE => {
            "use a mode from 0 to 4095 (07777), written in decimal, e.g. 420 for 0644"
        }
        msg::MODE_SPECIAL_BITS => {
            "drop the setuid/setgid/sticky bits, or use spec 3.6.0 or newer where they work"
        }
        msg::BOTH_ID_AND_NAME_SET => "set either id or name, not both",
        msg::LABEL_TOO_LONG => "shorten the partition label to at most 36 characters",
        msg::LABEL_CONTAINS_COLON => "remove ':' from the label",
        msg::DOESNT_MATCH_GUID_REGEX => {
            "write the GUID as 8-4-4-4-12 hexadecimal digits, or leave it empty"
        }
        msg::NO_PATH => "set an absolute path",
        msg::PATH_RELATIVE => "start the path with '/'",
        msg::DIRTY_PATH => "remove '.', '..', repeated and trailing slashes from the path",
        msg::NO_DEVICE => "set device",
        msg::PARTITIONS_OVERWRITTEN => "use a partition of the disk as the filesystem's device",
        msg::FILESYSTEM_IMPLICIT_WIPE => "set wipeFilesystem: true to confirm, or use a partition",
        msg::RAID_LEVEL_REQUIRED | msg::UNRECOGNIZED_RAID_LEVEL => {
            "use linear, raid0, raid1, raid4, raid5, raid6 or raid10"
        }
        msg::SPARES_UNSUPPORTED_FOR_LEVEL => {
            "remove spares, or use a redundant level such as raid1"
        }
        msg::RAID_DEVICES_REQUIRED => "list the member devices in devices",
        msg::SHOULD_NOT_EXIST_WITH_OTHERS => {
            "to delete a partition give only its number (and wipePartitionEntry)"
        }
        msg::NEED_LABEL_OR_NUMBER => "set number (1 or more) or label",
        msg::DUPLICATE_LABELS => "give each partition of the disk a different label",
        msg::INVALID_PROXY => "use an http:// or https:// proxy URL",
        msg::INSECURE_PROXY => "use an https:// proxy to keep HTTPS requests private",
        msg::PATH_CONFLICTS_SYSTEMD => {
            "write the unit with systemd.units (or its drop-in) instead of storage"
        }
        msg::CEX_WITH_CLEVIS => "use either cex or clevis, not both",
        msg::CEX_WITH_KEY_FILE => "remove keyFile: cex provides the key",
        msg::INVALID_SYSTEMD_EXT => "name the unit with its type suffix, e.g. foo.service",
        msg::INVALID_SYSTEMD_DROPIN_EXT => "name the drop-in with a .conf suffix",
        msg::SOURCE_REQUIRED => "set source to the URL of the config or certificate",
        msg::INVALID_SCHEME => "use http, https, tftp, s3, gs, arn (S3) or data URLs",
        msg::INVALID_URL => "fix the URL: it could not be parsed",
        msg::INVALID_HTTP_HEADER => "give the header a non-empty value",
        msg::EMPTY_HTTP_HEADER_NAME => "give the header a name",
        msg::UNSUPPORTED_SCHEME_FOR_HTTP_HEADERS => "httpHeaders only work with http(s) sources",
        msg::HASH_MALFORMED => "write the hash as sha512-<hex> or sha256-<hex>",
        msg::HASH_WRONG_SIZE => "use the full hex digest: 128 digits for sha512, 64 for sha256",
        msg::HASH_UNRECOGNIZED => "use sha512 (or sha256 from spec 3.1.0)",
        msg::INVALID_S3_ARN => {
            "use arn:aws:s3:::bucket/key or arn:aws:s3:region:account:accesspoint/name/object/key"
        }
        msg::INVALID_S3_OBJECT_VERSION_ID => "give versionId a value, or remove it",
        msg::TPM2_BAD_PCR => "list each PCR index from 0 to 23 at most once, e.g. [7]",
        msg::TPM2_BAD_BANK => "use pcrBank sha1, sha256, sha384 or sha512",
        msg::TPM2_WITH_CEX => "use either kindlingTpm2 or cex, not both",
        msg::TPM2_EMPTY_PIN => "remove pin for a key the TPM unseals alone, or give a PIN",
        msg::TPM2_PIN_CONTROL => "use a PIN of printable characters, typed as one line",
        "missing data prefix"
        | "missing comma before data"
        | "invalid character after data prefix"
        | "missing media type slash"
        | "invalid character for media type"
        | "invalid media type"
        | "incomplete media type"
        | "invalid character for media subtype"
        | "expected semicolon or comma"
        | "unterminated parameter sequence"
        | "invalid character for parameter attribute"
        | "invalid character for parameter value"
        | "unclosed quoted string"
        | "invalid escaped character"
        | "invalid data character"
        | "invalid syntax" => DATA_URL,
        m if m.starts_with("expected base64, got ")
            || m.starts_with("rfc2396: ")
            || m.starts_with("illegal base64 data") =>
        {
            DATA_URL
        }
        m if m.starts_with("filesystem labels cannot be longer") => {
            "shorten the label to the format's limit"
        }
        m if m.starts_with("invalid unit content") => {
            "fix the unit file syntax: [Section] headers and Key=Value lines"
        }
        m if m.starts_with("json: cannot unmarshal") => {
            "give the value the type the key needs (integers without a fraction)"
        }
        m if m.starts_with("invalid character") || m == "unexpected end of JSON input" => {
            "fix the JSON syntax at this position"
        }
        m if m.starts_with("unit ") && m.ends_with("enable does nothing") => {
            "add an [Install] section with WantedBy=, or drop enabled"
        }
        m if m.starts_with("template unit") => "add an [Install] section to the template unit",
        _ => return None,
    };
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_message_has_a_hint() {
        for m in [
            msg::PATH_RELATIVE,
            msg::DUPLICATE,
            "invalid unit content: EOF",
            "json: cannot unmarshal string into Go struct field File.storage.files.mode of type int",
            "filesystem labels cannot be longer than 16 characters when using ext4",
            "invalid character 'x' looking for beginning of value",
            "missing media type slash",
            "illegal base64 data at input byte 3",
        ] {
            assert!(for_message(m).is_some(), "{m}");
        }
        assert_eq!(for_message("something else"), None);
    }
}
