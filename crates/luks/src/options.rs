//! `options` (extra `cryptsetup luksFormat` arguments) and `openOptions` (extra `luksOpen`
//! arguments) from the config, mapped onto libcryptsetup settings. Arguments this build does
//! not map are refused when planning, never silently dropped.

/// How the keyslot key is derived from the passphrase.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pbkdf {
    /// `pbkdf2`, `argon2i` or `argon2id`; `None`: libcryptsetup's default (argon2id).
    pub kind: Option<String>,
    pub hash: Option<String>,
    pub iter_time_ms: Option<u32>,
    pub memory_kib: Option<u32>,
    pub parallel: Option<u32>,
    /// Fixed iterations: no benchmark.
    pub force_iterations: Option<u32>,
}

impl Pbkdf {
    /// The minimal keyslot systemd-cryptenroll and clevis use for secrets that already have
    /// full entropy: pbkdf2, 1000 iterations, no benchmark.
    pub fn minimal() -> Pbkdf {
        Pbkdf {
            kind: Some("pbkdf2".into()),
            hash: Some("sha512".into()),
            force_iterations: Some(1000),
            ..Pbkdf::default()
        }
    }

    pub fn is_default(&self) -> bool {
        *self == Pbkdf::default()
    }
}

/// Format settings from `options`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FormatOptions {
    /// (cipher, mode), e.g. ("aes", "xts-plain64").
    pub cipher: Option<(String, String)>,
    pub key_size_bits: Option<usize>,
    /// The hash of the anti-forensic splitter and the digest.
    pub hash: Option<String>,
    pub sector_size: Option<u32>,
    pub subsystem: Option<String>,
    pub pbkdf: Pbkdf,
}

/// Activation flags from `openOptions` (and `discard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenFlags {
    pub allow_discards: bool,
    pub same_cpu_crypt: bool,
    pub submit_from_crypt_cpus: bool,
    pub no_read_workqueue: bool,
    pub no_write_workqueue: bool,
}

/// Split `--name=value` / `--name value` / `-x value` argument lists into (name, value).
fn pairs(
    args: &[String],
    takes_value: impl Fn(&str) -> bool,
) -> Result<Vec<(&str, Option<&str>)>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (arg.as_str(), None),
        };
        if takes_value(name) {
            let value = match inline {
                Some(v) => v,
                None => it
                    .next()
                    .map(String::as_str)
                    .ok_or_else(|| format!("option {name} needs a value"))?,
            };
            out.push((name, Some(value)));
        } else if inline.is_some() {
            return Err(format!("option {name} takes no value"));
        } else {
            out.push((name, None));
        }
    }
    Ok(out)
}

fn number<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("option {name}: {v:?} is not a number"))
}

const FORMAT_VALUED: &[&str] = &[
    "--cipher",
    "-c",
    "--key-size",
    "-s",
    "--hash",
    "-h",
    "--sector-size",
    "--subsystem",
    "--pbkdf",
    "--iter-time",
    "-i",
    "--pbkdf-memory",
    "--pbkdf-parallel",
    "--pbkdf-force-iterations",
    "--type",
    "-M",
];

/// Parse `luks[].options`.
pub fn format_options(args: &[String]) -> Result<FormatOptions, String> {
    let mut o = FormatOptions::default();
    for (name, value) in pairs(args, |n| FORMAT_VALUED.contains(&n))? {
        let v = value.unwrap_or_default();
        match name {
            "--cipher" | "-c" => {
                let (cipher, mode) = v
                    .split_once('-')
                    .ok_or_else(|| format!("option {name}: {v:?} is not cipher-mode"))?;
                o.cipher = Some((cipher.into(), mode.into()));
            }
            "--key-size" | "-s" => o.key_size_bits = Some(number(name, v)?),
            "--hash" | "-h" => o.hash = Some(v.into()),
            "--sector-size" => o.sector_size = Some(number(name, v)?),
            "--subsystem" => o.subsystem = Some(v.into()),
            "--pbkdf" => o.pbkdf.kind = Some(v.into()),
            "--iter-time" | "-i" => o.pbkdf.iter_time_ms = Some(number(name, v)?),
            "--pbkdf-memory" => o.pbkdf.memory_kib = Some(number(name, v)?),
            "--pbkdf-parallel" => o.pbkdf.parallel = Some(number(name, v)?),
            "--pbkdf-force-iterations" => o.pbkdf.force_iterations = Some(number(name, v)?),
            "--type" | "-M" if v == "luks2" => {}
            "--type" | "-M" => {
                return Err(format!(
                    "option {name} {v}: only LUKS2 volumes are created (as Ignition)"
                ));
            }
            // The kernel's RNG is used either way.
            "--use-urandom" | "--use-random" => {}
            other => {
                return Err(format!(
                    "luksFormat option {other:?} is not supported by Kindling; supported: \
                     {}, --use-urandom, --use-random",
                    FORMAT_VALUED.join(", ")
                ));
            }
        }
    }
    if let Some(bits) = o.key_size_bits
        && (bits == 0 || bits % 8 != 0)
    {
        return Err(format!("option --key-size {bits}: must be a multiple of 8"));
    }
    Ok(o)
}

/// Parse `luks[].openOptions`, with `discard`.
pub fn open_flags(args: &[String], discard: bool) -> Result<OpenFlags, String> {
    let mut f = OpenFlags {
        allow_discards: discard,
        ..OpenFlags::default()
    };
    for (name, _) in pairs(args, |_| false)? {
        match name {
            "--allow-discards" => f.allow_discards = true,
            "--perf-same_cpu_crypt" => f.same_cpu_crypt = true,
            "--perf-submit_from_crypt_cpus" => f.submit_from_crypt_cpus = true,
            "--perf-no_read_workqueue" => f.no_read_workqueue = true,
            "--perf-no_write_workqueue" => f.no_write_workqueue = true,
            other => {
                return Err(format!(
                    "luksOpen option {other:?} is not supported by Kindling; supported: \
                     --allow-discards, --perf-same_cpu_crypt, --perf-submit_from_crypt_cpus, \
                     --perf-no_read_workqueue, --perf-no_write_workqueue"
                ));
            }
        }
    }
    Ok(f)
}

impl OpenFlags {
    /// The names libcryptsetup stores in the header's `config.flags`.
    pub fn header_names(&self) -> Vec<&'static str> {
        [
            (self.allow_discards, "allow-discards"),
            (self.same_cpu_crypt, "same-cpu-crypt"),
            (self.submit_from_crypt_cpus, "submit-from-crypt-cpus"),
            (self.no_read_workqueue, "no-read-workqueue"),
            (self.no_write_workqueue, "no-write-workqueue"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn format_options_in_every_spelling() {
        let o = format_options(&s(&[
            "--cipher",
            "aes-xts-plain64",
            "--key-size=256",
            "-h",
            "sha256",
            "--sector-size",
            "4096",
            "--pbkdf=argon2id",
            "--pbkdf-memory",
            "65536",
            "--type",
            "luks2",
            "--use-urandom",
        ]))
        .unwrap();
        assert_eq!(o.cipher, Some(("aes".into(), "xts-plain64".into())));
        assert_eq!(o.key_size_bits, Some(256));
        assert_eq!(o.hash.as_deref(), Some("sha256"));
        assert_eq!(o.sector_size, Some(4096));
        assert_eq!(o.pbkdf.kind.as_deref(), Some("argon2id"));
        assert_eq!(o.pbkdf.memory_kib, Some(65536));
    }

    #[test]
    fn unsupported_or_malformed_options_are_refused() {
        for bad in [
            &["--integrity", "hmac-sha256"][..],
            &["--type", "luks1"],
            &["--key-size"],
            &["--key-size", "abc"],
            &["--key-size", "250"],
            &["--cipher", "aes"],
        ] {
            assert!(format_options(&s(bad)).is_err(), "{bad:?}");
        }
        assert!(open_flags(&s(&["--readonly"]), false).is_err());
        assert!(open_flags(&s(&["--allow-discards=yes"]), false).is_err());
    }

    #[test]
    fn open_flags_and_their_header_names() {
        let f = open_flags(&s(&["--perf-no_read_workqueue"]), true).unwrap();
        assert_eq!(
            f.header_names(),
            vec!["allow-discards", "no-read-workqueue"]
        );
        assert!(open_flags(&[], false).unwrap().header_names().is_empty());
    }
}
