//! The stage command line, parsed as Go's `flag` package parses Ignition's: `-flag value`,
//! `-flag=value`, `--flag value`, `--flag=value`; boolean flags take no separate value;
//! parsing stops at the first non-flag argument or after `--`.

use super::Stage;
use kindling_providers::Provider;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// A validated stage invocation.
pub struct Flags {
    pub config_cache: PathBuf,
    pub fetch_timeout: Duration,
    pub need_net: PathBuf,
    pub platform: &'static dyn Provider,
    pub root: PathBuf,
    pub stage: Stage,
    pub state_file: PathBuf,
    pub log_to_stdout: bool,
}

pub enum Parsed {
    Run(Flags),
    Version,
    Help,
}

/// A command line error: printed with the usage, exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

pub const USAGE: &str = "\
Usage: kindling --stage=<stage> --platform=<id> [--root=/sysroot] [options]
       kindling validate|apply|plan …
Options (one or two dashes; `-flag value` or `-flag=value`):
  --config-cache PATH    where to cache the config (default /run/ignition.json)
  --fetch-timeout DUR    initial duration for which to wait for config (default 2m0s)
  --neednet PATH         flag file to write from fetch-offline if networking is needed
                         (default /run/ignition/neednet)
  --platform ID          current platform
  --root PATH            root of the filesystem (default /)
  --stage STAGE          execution stage: fetch-offline, fetch, kargs, disks, mount, files, umount
  --state-file PATH      where to store internal state (default /run/ignition/state)
  --log-to-stdout        log to stdout instead of the system log
  --version              print the version and exit
";

pub fn parse(args: &[OsString]) -> Result<Parsed, UsageError> {
    let mut config_cache = PathBuf::from("/run/ignition.json");
    let mut fetch_timeout = Duration::from_secs(120);
    let mut need_net = PathBuf::from("/run/ignition/neednet");
    let mut platform = None;
    let mut root = PathBuf::from("/");
    let mut stage = None;
    let mut state_file = PathBuf::from("/run/ignition/state");
    let mut log_to_stdout = false;
    let mut version = false;

    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let Some(arg) = arg.to_str() else {
            return Err(UsageError(format!(
                "argument is not valid UTF-8: {}",
                arg.to_string_lossy()
            )));
        };
        if arg == "--" {
            break;
        }
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            break; // the first non-flag argument ends the flags, as in Go
        };
        if flag.is_empty() || flag.starts_with('-') || flag.starts_with('=') {
            return Err(UsageError(format!("bad flag syntax: {arg}")));
        }
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (flag, None),
        };
        match name {
            "log-to-stdout" => log_to_stdout = parse_bool(name, inline)?,
            "version" => version = parse_bool(name, inline)?,
            "h" | "help" => return Ok(Parsed::Help),
            "config-cache" | "fetch-timeout" | "neednet" | "platform" | "root" | "stage"
            | "state-file" => {
                let value = match inline {
                    Some(v) => v.to_string(),
                    None => args
                        .next()
                        .map(|v| v.to_string_lossy().into_owned())
                        .ok_or_else(|| UsageError(format!("flag needs an argument: -{name}")))?,
                };
                match name {
                    "config-cache" => config_cache = value.into(),
                    "fetch-timeout" => {
                        fetch_timeout =
                            parse_duration(&value).map_err(|e| invalid(name, &value, &e))?
                    }
                    "neednet" => need_net = value.into(),
                    "platform" => platform = Some(parse_platform(&value)?),
                    "root" => root = value.into(),
                    "stage" => {
                        stage = Some(Stage::from_name(&value).ok_or_else(|| {
                            invalid(
                                name,
                                &value,
                                &format!("unknown stage; one of {}", Stage::names()),
                            )
                        })?)
                    }
                    _ => state_file = value.into(),
                }
            }
            _ => {
                return Err(UsageError(format!(
                    "flag provided but not defined: -{name}"
                )));
            }
        }
    }
    if version {
        return Ok(Parsed::Version);
    }
    let platform = platform.ok_or_else(|| UsageError("'--platform' must be provided".into()))?;
    let stage = stage.ok_or_else(|| UsageError("'--stage' must be provided".into()))?;
    Ok(Parsed::Run(Flags {
        config_cache,
        fetch_timeout,
        need_net,
        platform,
        root,
        stage,
        state_file,
        log_to_stdout,
    }))
}

fn invalid(name: &str, value: &str, why: &str) -> UsageError {
    UsageError(format!("invalid value {value:?} for flag -{name}: {why}"))
}

fn parse_platform(id: &str) -> Result<&'static dyn Provider, UsageError> {
    kindling_providers::get(id).ok_or_else(|| {
        invalid(
            "platform",
            id,
            &format!(
                "unknown platform; this build supports {}",
                kindling_providers::ids().join(", ")
            ),
        )
    })
}

/// Go's `strconv.ParseBool`, for `-flag=value` on boolean flags.
fn parse_bool(name: &str, value: Option<&str>) -> Result<bool, UsageError> {
    match value {
        None | Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(v) => Err(invalid(name, v, "parse error")),
    }
}

/// Go's `time.ParseDuration` for non-negative durations: `2m`, `90s`, `1h30m`, `1.5h`,
/// `300ms`, `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.strip_prefix('+').unwrap_or(text);
    if s.starts_with('-') {
        return Err("negative durations are not allowed".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err("invalid duration".into());
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("missing unit in duration {text:?}"))?;
        let (number, tail) = rest.split_at(number_len);
        if number.is_empty() || number == "." {
            return Err(format!("invalid duration {text:?}"));
        }
        let number: f64 = number
            .parse()
            .map_err(|_| format!("invalid duration {text:?}"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(format!("unknown unit {unit:?} in duration {text:?}")),
        };
        total += number * seconds;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).map_err(|_| format!("invalid duration {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn run(list: &[&str]) -> Flags {
        match parse(&args(list)) {
            Ok(Parsed::Run(f)) => f,
            Ok(_) => panic!("expected a run for {list:?}"),
            Err(e) => panic!("{list:?}: {}", e.0),
        }
    }

    #[test]
    fn accepts_every_go_flag_spelling() {
        for list in [
            &["-platform", "file", "-stage", "files", "-root", "/r"][..],
            &["-platform=file", "-stage=files", "-root=/r"],
            &["--platform", "file", "--stage", "files", "--root", "/r"],
            &["--platform=file", "--stage=files", "--root=/r"],
        ] {
            let f = run(list);
            assert_eq!(f.platform.id(), "file");
            assert_eq!(f.stage, Stage::Files);
            assert_eq!(f.root, PathBuf::from("/r"));
            assert!(!f.log_to_stdout);
        }
    }

    #[test]
    fn defaults_match_ignition() {
        let f = run(&["--platform=metal", "--stage=fetch-offline"]);
        assert_eq!(f.config_cache, PathBuf::from("/run/ignition.json"));
        assert_eq!(f.state_file, PathBuf::from("/run/ignition/state"));
        assert_eq!(f.need_net, PathBuf::from("/run/ignition/neednet"));
        assert_eq!(f.root, PathBuf::from("/"));
        assert_eq!(f.fetch_timeout, Duration::from_secs(120));
    }

    #[test]
    fn every_path_flag_and_booleans() {
        let f = run(&[
            "-platform",
            "qemu",
            "-stage",
            "kargs",
            "-config-cache",
            "/c",
            "-state-file",
            "/s",
            "-neednet",
            "/n",
            "-fetch-timeout",
            "90s",
            "-log-to-stdout",
            "--",
            "-version",
        ]);
        assert_eq!(f.config_cache, PathBuf::from("/c"));
        assert_eq!(f.state_file, PathBuf::from("/s"));
        assert_eq!(f.need_net, PathBuf::from("/n"));
        assert_eq!(f.fetch_timeout, Duration::from_secs(90));
        assert!(f.log_to_stdout, "-version after -- is not a flag");
        let f = run(&["-platform=qemu", "-stage=kargs", "-log-to-stdout=false"]);
        assert!(!f.log_to_stdout);
    }

    #[test]
    fn version_wins_over_missing_required_flags() {
        assert!(matches!(parse(&args(&["--version"])), Ok(Parsed::Version)));
        assert!(matches!(
            parse(&args(&["-version=true"])),
            Ok(Parsed::Version)
        ));
        assert!(matches!(parse(&args(&["-h"])), Ok(Parsed::Help)));
    }

    #[test]
    fn usage_errors() {
        for (list, needle) in [
            (&["--stage=files"][..], "'--platform' must be provided"),
            (&["--platform=file"], "'--stage' must be provided"),
            (
                &["--platform=nosuchcloud", "--stage=files"],
                "unknown platform",
            ),
            (&["--platform=file", "--stage=setup"], "unknown stage"),
            (
                &["--platform=file", "--stage"],
                "flag needs an argument: -stage",
            ),
            (&["--bogus"], "flag provided but not defined: -bogus"),
            (&["---platform=file"], "bad flag syntax"),
            (&["--fetch-timeout=2"], "missing unit"),
            (&["--version=maybe"], "parse error"),
        ] {
            match parse(&args(list)) {
                Err(UsageError(m)) => assert!(m.contains(needle), "{list:?}: {m}"),
                Ok(_) => panic!("{list:?} should be a usage error"),
            }
        }
    }

    #[test]
    fn go_durations() {
        for (text, secs) in [
            ("2m", 120.0),
            ("90s", 90.0),
            ("1h30m", 5400.0),
            ("1.5h", 5400.0),
            ("300ms", 0.3),
            ("0", 0.0),
            ("+5s", 5.0),
            ("1m0.5s", 60.5),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs_f64(secs)),
                "{text}"
            );
        }
        for bad in ["", "5", "-1s", "1d", "s", ".s", "1..5s"] {
            assert!(parse_duration(bad).is_err(), "{bad} should be rejected");
        }
    }
}
