//! The boot stages: `kindling --stage=<stage> --platform=<id> --root=/sysroot`, a drop-in for
//! `ignition` in Ignition's systemd units (see docs/engine.md).
//!
//! One invocation runs one stage: load the state file and the base configs, acquire the user
//! config (fetch stages: from the kernel command line, `user.ign` or the platform, rendered and
//! cached; later stages: from the cache), merge, run the stage, save the state. Exit codes as
//! upstream: 0 success, 1 stage failure, 2 command line error, 3 state file unreadable.

mod acquire;
mod failure;
mod files;
mod firstboot;
mod flags;
mod journal;
mod kargs;
mod neednet;
mod ops;
pub mod state;
pub mod storage;
#[cfg(test)]
mod tests;

use flags::{Flags, Parsed};
use kindling_config::Config;
use kindling_config::merge::merge;
use kindling_fetch::Fetcher;
use kindling_providers::Host;
use kindling_report::Recorder;
use state::State;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

pub const VERSION: &str = concat!("Kindling ", env!("CARGO_PKG_VERSION"));

/// The boot stages, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    FetchOffline,
    Fetch,
    Kargs,
    Disks,
    Mount,
    Files,
    Umount,
}

impl Stage {
    const ALL: [Stage; 7] = [
        Stage::FetchOffline,
        Stage::Fetch,
        Stage::Kargs,
        Stage::Disks,
        Stage::Mount,
        Stage::Files,
        Stage::Umount,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::FetchOffline => "fetch-offline",
            Stage::Fetch => "fetch",
            Stage::Kargs => "kargs",
            Stage::Disks => "disks",
            Stage::Mount => "mount",
            Stage::Files => "files",
            Stage::Umount => "umount",
        }
    }

    fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }

    fn names() -> String {
        Stage::ALL.map(Stage::name).join(", ")
    }

    fn is_fetch(self) -> bool {
        matches!(self, Stage::FetchOffline | Stage::Fetch)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a stage failed, for the log and the console summary: what, where in the config, what
/// to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageError {
    pub message: String,
    /// JSON path of the config entry concerned (`$.storage.files.3`), when known.
    pub config_path: Option<String>,
    /// One line on what to do.
    pub hint: Option<String>,
}

impl StageError {
    pub fn new(message: impl Into<String>) -> Self {
        StageError {
            message: message.into(),
            config_path: None,
            hint: None,
        }
    }

    pub fn at(mut self, config_path: impl Into<String>) -> Self {
        self.config_path = Some(config_path.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a stage gets to work with (the storage stages' entry point takes it).
pub struct Context<'a> {
    /// The target root (`/sysroot` at boot).
    pub root: &'a Path,
    pub fetcher: &'a Fetcher,
    pub state: &'a mut State,
    pub recorder: &'a mut Recorder,
    /// How long the disks stage waits for a device node.
    pub device_timeout: Duration,
}

/// Host paths and commands beyond the providers' ones; tests point them at temp dirs.
#[derive(Debug, Clone)]
pub struct Env {
    pub host: Host,
    /// `ignition-kargs-helper` (`KINDLING_KARGS_HELPER`).
    pub kargs_helper: String,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: PathBuf,
    /// Where the failure summary is shown besides stderr: `/dev/console` in the initramfs
    /// (when `/etc/initrd-release` exists), nowhere elsewhere. Our dracut module's summary unit
    /// shows it itself and says so with `KINDLING_CONSOLE_SUMMARY=0`, so it appears once.
    pub console: Option<PathBuf>,
    /// How long the disks stage waits for a device node (`KINDLING_DEVICE_TIMEOUT` seconds).
    pub device_timeout: Duration,
}

impl Env {
    fn from_host() -> Self {
        let in_initrd = Path::new("/etc/initrd-release").exists();
        Env {
            host: Host::from_env(),
            kargs_helper: std::env::var("KINDLING_KARGS_HELPER")
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "ignition-kargs-helper".into()),
            boot_id: "/proc/sys/kernel/random/boot_id".into(),
            console: (in_initrd
                && std::env::var_os("KINDLING_CONSOLE_SUMMARY") != Some("0".into()))
            .then(|| "/dev/console".into()),
            device_timeout: std::env::var("KINDLING_DEVICE_TIMEOUT")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Duration::from_secs)
                .unwrap_or(kindling_disks::DEFAULT_DEVICE_TIMEOUT),
        }
    }
}

/// `kindling --stage=…`: parse the flags, set up logging, run the stage.
pub fn run(args: &[OsString]) -> ExitCode {
    let flags = match flags::parse(args) {
        Ok(Parsed::Run(flags)) => flags,
        Ok(Parsed::Version) => {
            println!("{VERSION}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Help) => {
            print!("{}", flags::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{}\n{}", e.0, flags::USAGE);
            return ExitCode::from(2);
        }
    };
    journal::init(flags.log_to_stdout, flags.stage.name());
    ExitCode::from(run_stage(&flags, &Env::from_host()))
}

/// Run one stage; returns the exit code.
fn run_stage(flags: &Flags, env: &Env) -> u8 {
    log::info!("{VERSION}");
    log::info!("Stage: {}", flags.stage);
    let mut state = match State::load(&flags.state_file) {
        Ok(state) => state,
        Err(e) => {
            log::error!(target: journal::CRIT, "reading state: {e}");
            return 3;
        }
    };
    let mut fetcher = Fetcher::new();
    let mut recorder = Recorder::new(flags.stage.name());
    let result = stage(flags, env, &mut fetcher, &mut state, &mut recorder);
    let error_text = result.as_ref().err().map(|e| e.message.clone());
    if let Err(e) = flags
        .platform
        .status(flags.stage.name(), &fetcher, error_text.as_deref())
    {
        log::error!("POST Status error: {e}");
    }
    let operations = recorder.into_operations();
    if let Err(e) = ops::append(&flags.state_file, &operations) {
        log::warn!("keeping the operation records: {e}");
    }
    match result {
        Err(error) => {
            failure::report(flags, env, &error, &operations);
            log::error!(target: journal::CRIT, "Ignition failed: {error}");
            1
        }
        Ok(()) => match state.save(&flags.state_file) {
            Ok(()) => {
                log::info!("Ignition finished successfully");
                0
            }
            Err(e) => {
                log::error!(target: journal::CRIT, "writing state: {e}");
                1
            }
        },
    }
}

/// The stage proper, between loading and saving the state.
fn stage(
    flags: &Flags,
    env: &Env,
    fetcher: &mut Fetcher,
    state: &mut State,
    recorder: &mut Recorder,
) -> Result<(), StageError> {
    let base = load_base(flags, env, state)?;
    let offline = flags.stage == Stage::FetchOffline;
    fetcher.set_offline(offline);
    match flags.platform.init(fetcher, &env.host) {
        Ok(()) => {}
        Err(e) if offline && e.needs_network() => return neednet::signal(&flags.need_net),
        Err(e) => {
            return Err(StageError::new(format!(
                "initializing platform config: {e}"
            )));
        }
    }
    let user = if flags.stage.is_fetch() {
        match acquire::fetch(flags, env, fetcher, state, recorder)? {
            Some(config) => config,
            None => return neednet::signal(&flags.need_net),
        }
    } else {
        acquire::cached(&flags.config_cache, fetcher)?
    };
    let config = match &base {
        Some(base) => merge(base, &user),
        None => user,
    };
    let mut ctx = Context {
        root: &flags.root,
        fetcher,
        state,
        recorder,
        device_timeout: env.device_timeout,
    };
    match flags.stage {
        Stage::FetchOffline => {
            if neednet::config_needs_network(&config) {
                log::info!("the config needs the network in later stages");
                neednet::signal(&flags.need_net)?;
            }
        }
        Stage::Fetch => log::info!("fetch complete"),
        Stage::Kargs => kargs::run(&config, &env.kargs_helper, ctx.recorder)?,
        Stage::Disks | Stage::Umount => storage::run(flags.stage, &config, &mut ctx)?,
        Stage::Mount => {
            firstboot::begin(&flags.root, env, Stage::Mount)?;
            let result = storage::run(Stage::Mount, &config, &mut ctx);
            firstboot::end(&flags.root, env, Stage::Mount, result.as_ref().err());
            result?;
        }
        Stage::Files => {
            firstboot::begin(&flags.root, env, Stage::Files)?;
            let result = files::run(&config, flags, env, &mut ctx);
            firstboot::end(&flags.root, env, Stage::Files, result.as_ref().err());
            result?;
        }
    }
    log::info!("{} passed", flags.stage);
    Ok(())
}

/// The distro's base configs, re-read by every stage and never cached.
fn load_base(flags: &Flags, env: &Env, state: &mut State) -> Result<Option<Config>, StageError> {
    // Base configs are merged lowest priority first: /usr/lib, /etc, /run.
    let dirs: Vec<&Path> = env
        .host
        .system_config_dirs
        .iter()
        .rev()
        .map(PathBuf::as_path)
        .collect();
    let base = kindling_config::base::load_base(&dirs, flags.platform.id()).map_err(|e| {
        let what = format!("base config {}: {}", e.path.display(), e.message);
        log::error!(target: journal::CRIT, "failed to acquire system base config: {what}");
        StageError::new(format!("failed to acquire system base config: {what}"))
            .hint("the distribution's base configs are broken: check them with `kindling validate`")
    })?;
    if base.is_some() {
        state.record_fetched("base", "system", false);
    }
    Ok(base)
}
