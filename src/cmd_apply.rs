//! `kindling apply`: the files stage against a directory, for image builders and tests.
//!
//! `kindling apply --root DIR [--offline] [--ignore-unsupported] CONFIG|-` parses the config,
//! renders `merge`/`replace`, then writes users, groups, files, directories, links and units
//! into DIR. Unlike `ignition-apply` it does not require a container, and it does apply
//! `passwd`. Disk sections and kernel arguments cannot be applied to a directory: they are an
//! error unless `--ignore-unsupported` is given. Exit codes: 0 success, 1 failure.

use kindling_config::Config;
use kindling_config::render::render;
use kindling_fetch::Fetcher;
use kindling_files::{Options, Selinux};
use kindling_report::Recorder;
use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: kindling apply --root DIR [--offline] [--ignore-unsupported] CONFIG|-";

#[derive(Debug, PartialEq)]
struct Args {
    root: PathBuf,
    offline: bool,
    ignore_unsupported: bool,
    /// `None` = standard input.
    config: Option<PathBuf>,
}

/// Flags as `ignition-apply` takes them (Go style: `-x` or `--x`, `--root=DIR` or `--root DIR`).
fn parse_args(args: &[OsString]) -> Result<Args, String> {
    let mut root = None;
    let mut offline = false;
    let mut ignore_unsupported = false;
    let mut config = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let text = arg.to_string_lossy();
        let flag = text.strip_prefix("--").or_else(|| text.strip_prefix('-'));
        match flag {
            Some("") | None if text == "-" => config = Some(None),
            None => {
                if config.is_some() {
                    return Err(format!("unexpected argument {text:?}"));
                }
                config = Some(Some(PathBuf::from(arg)));
            }
            Some("offline") => offline = true,
            Some("ignore-unsupported") => ignore_unsupported = true,
            Some("root") => {
                let value = rest.next().ok_or("--root needs a directory")?;
                root = Some(PathBuf::from(value));
            }
            Some(f) if f.starts_with("root=") => root = Some(PathBuf::from(&f["root=".len()..])),
            Some(f) => return Err(format!("unknown flag -{f}")),
        }
    }
    Ok(Args {
        // Stricter than upstream (which defaults to `/` inside a container): say it.
        root: root.ok_or("--root is required (--root / applies the config to this system)")?,
        offline,
        ignore_unsupported,
        config: config.ok_or("no config given (a file, or - for standard input)")?,
    })
}

/// The sections that need the boot-time stages: none of them can be applied to a directory.
fn unsupported(config: &Config) -> Vec<&'static str> {
    let s = &config.storage;
    [
        ("storage.disks", !s.disks.is_empty()),
        ("storage.raid", !s.raid.is_empty()),
        ("storage.luks", !s.luks.is_empty()),
        ("storage.filesystems", !s.filesystems.is_empty()),
        (
            "kernelArguments",
            config.kernel_arguments != Default::default(),
        ),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
}

fn read_config(path: Option<&PathBuf>) -> Result<Vec<u8>, String> {
    match path {
        Some(p) => std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display())),
        None => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| format!("reading standard input: {e}"))?;
            Ok(bytes)
        }
    }
}

fn apply(args: &Args) -> Result<(), String> {
    let bytes = read_config(args.config.as_ref())?;
    let parsed = kindling_config::parse(&bytes).map_err(|e| match e {
        kindling_config::ParseError::Invalid(ref report) => format!("{e}\n{report}"),
        other => other.to_string(),
    })?;
    if !parsed.report.is_empty() {
        eprint!("{}", parsed.report);
    }
    let mut fetcher = Fetcher::new();
    fetcher.set_offline(args.offline);
    fetcher
        .adopt(&parsed.config.ignition)
        .map_err(|e| format!("applying the config's fetch settings: {e}"))?;
    let rendered = render(parsed.config, &mut fetcher).map_err(|e| e.to_string())?;
    for (source, report) in &rendered.warnings {
        eprint!("{source}:\n{report}");
    }
    let mut config = rendered.config;
    let skipped = unsupported(&config);
    if !skipped.is_empty() {
        if !args.ignore_unsupported {
            return Err(format!(
                "{} cannot be applied to a directory (they need the boot stages); \
                 remove them or pass --ignore-unsupported",
                skipped.join(", ")
            ));
        }
        eprintln!("ignoring unsupported sections: {}", skipped.join(", "));
        config.storage.disks.clear();
        config.storage.raid.clear();
        config.storage.luks.clear();
        config.storage.filesystems.clear();
        config.kernel_arguments = Default::default();
    }
    let options = Options {
        root: args.root.clone(),
        // An image builder labels the finished image itself.
        selinux: Selinux::Off,
        ..Options::default()
    };
    let mut recorder = Recorder::new("files");
    kindling_files::run(&config, &fetcher, &options, &mut recorder).map_err(|e| e.message)
}

/// Operation lines (`[started]`, `[finished]`, `[failed]`) on standard error.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("{}: {}", record.level(), record.args());
        }
    }

    fn flush(&self) {}
}

static LOGGER: StderrLog = StderrLog;

pub fn run(args: &[OsString]) -> ExitCode {
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kindling apply: {e}\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    match apply(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kindling apply: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(&list.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn parses_flags_in_both_styles() {
        let a = args(&["--root", "/r", "--offline", "c.ign"]).unwrap();
        assert_eq!(
            a,
            Args {
                root: "/r".into(),
                offline: true,
                ignore_unsupported: false,
                config: Some("c.ign".into())
            }
        );
        let a = args(&["-root=/r", "-ignore-unsupported", "-"]).unwrap();
        assert!(
            a.ignore_unsupported
                && a.config.is_none()
                && a.root.as_path() == std::path::Path::new("/r")
        );
        assert!(args(&["c.ign"]).unwrap_err().contains("--root is required"));
        assert!(args(&["--root", "/r"]).unwrap_err().contains("no config"));
        assert!(
            args(&["--root", "/r", "--bogus", "c"])
                .unwrap_err()
                .contains("unknown flag")
        );
        assert!(
            args(&["--root", "/r", "a", "b"])
                .unwrap_err()
                .contains("unexpected")
        );
    }

    /// A scratch directory removed on drop (the binary crate has no tempfile dependency).
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("kindling-apply-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn path(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn apply_config(json: &str, ignore_unsupported: bool) -> (Scratch, Result<(), String>) {
        let root = Scratch::new();
        let config = root.path().join("config.ign");
        std::fs::write(&config, json).unwrap();
        let args = Args {
            root: root.path().join("target"),
            offline: true,
            ignore_unsupported,
            config: Some(config),
        };
        std::fs::create_dir(&args.root).unwrap();
        let result = apply(&args);
        (root, result)
    }

    #[test]
    fn applies_files_units_and_merged_configs_to_a_directory() {
        // The merged child writes /child; data: URLs work offline.
        // {"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/child","contents":{"source":"data:,merged"}}]}}
        let child_url = "data:;base64,eyJpZ25pdGlvbiI6eyJ2ZXJzaW9uIjoiMy40LjAifSwic3RvcmFnZSI6eyJmaWxlcyI6W3sicGF0aCI6Ii9jaGlsZCIsImNvbnRlbnRzIjp7InNvdXJjZSI6ImRhdGE6LG1lcmdlZCJ9fV19fQ==";
        let json = format!(
            r#"{{"ignition":{{"version":"3.4.0","config":{{"merge":[{{"source":"{child_url}"}}]}}}},
            "storage":{{"files":[{{"path":"/etc/motd","contents":{{"source":"data:,hello"}},"mode":420}}]}},
            "systemd":{{"units":[{{"name":"a.service","enabled":true,"contents":"[Unit]\n[Install]\nWantedBy=multi-user.target\n"}}]}}}}"#
        );
        let (dir, result) = apply_config(&json, false);
        result.unwrap();
        let target = dir.path().join("target");
        assert_eq!(
            std::fs::read_to_string(target.join("etc/motd")).unwrap(),
            "hello"
        );
        assert_eq!(
            std::fs::read_to_string(target.join("child")).unwrap(),
            "merged"
        );
        assert_eq!(
            std::fs::read_to_string(target.join("etc/systemd/system-preset/20-ignition.preset"))
                .unwrap(),
            "enable a.service\n"
        );
    }

    #[test]
    fn special_mode_bits_only_from_spec_3_6_0() {
        use std::os::unix::fs::MetadataExt;
        // files.customperms and files.customperms.pre-#2042-fix: 3565 = 06755.
        for (version, want) in [("3.6.0", 0o6755), ("3.5.0", 0o755)] {
            let json = format!(
                r#"{{"ignition":{{"version":"{version}"}},"storage":{{"files":[{{"path":"/a","mode":3565,"user":{{"id":500}},"group":{{"id":500}}}}]}}}}"#
            );
            let (dir, result) = apply_config(&json, false);
            result.unwrap();
            let meta = std::fs::metadata(dir.path().join("target/a")).unwrap();
            assert_eq!(meta.mode() & 0o7777, want, "{version}");
        }
    }

    #[test]
    fn offline_refuses_remote_contents_and_invalid_configs_fail() {
        let json = r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/x","contents":{"source":"http://127.0.0.1:9/x"}}]}}"#;
        let (dir, result) = apply_config(json, false);
        assert!(result.is_err());
        assert!(!dir.path().join("target/x").exists());
        let (_, result) = apply_config(r#"{"ignition":{"version":"9.9.9"}}"#, false);
        assert!(result.is_err());
        let (_, result) = apply_config("", false);
        assert!(result.is_err());
    }

    #[test]
    fn unsupported_sections_fail_unless_ignored() {
        let json = r#"{"ignition":{"version":"3.4.0"},"storage":{"filesystems":[{"device":"/dev/vda1","format":"ext4","path":"/var"}],
            "files":[{"path":"/a","contents":{"source":"data:,a"}}]}}"#;
        let (dir, result) = apply_config(json, false);
        assert!(result.unwrap_err().contains("storage.filesystems"));
        assert!(!dir.path().join("target/a").exists());
        let (dir, result) = apply_config(json, true);
        result.unwrap();
        assert!(dir.path().join("target/a").exists());
    }

    #[test]
    fn disk_sections_and_kargs_are_unsupported() {
        let config: Config = serde_json::from_str(
            r#"{"storage":{"disks":[{"device":"/dev/vda"}],"files":[{"path":"/a"}]},
            "kernelArguments":{"shouldExist":["quiet"]}}"#,
        )
        .unwrap();
        assert_eq!(unsupported(&config), ["storage.disks", "kernelArguments"]);
        assert!(unsupported(&Config::default()).is_empty());
    }
}
