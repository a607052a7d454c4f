//! Acquiring the user config: fetched, rendered and cached by the fetch stages; read back from
//! the cache by every later stage.

use super::flags::Flags;
use super::journal;
use super::state::State;
use super::{Env, StageError};
use kindling_config::model::{INTERNAL_VERSION, Ignition};
use kindling_config::render::{RenderError, render};
use kindling_config::{Config, ParseError, Report, Severity, Version};
use kindling_fetch::{ErrorKind, FetchError, Fetcher};
use kindling_providers::{Provider, cmdline::Cmdline, system::System};
use kindling_report::Recorder;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Journal message id of "fetched … config" entries, as upstream (console-login-helper-messages
/// and similar tools look for it).
const FETCHED_CONFIG_MESSAGE_ID: &str = "57124006b5c94805b77ce473e92a8aeb";

const VALIDATE_HINT: &str =
    "check the config with `kindling validate <file>` and fix what it reports";

/// The empty config a stage runs with when no user config was provided.
pub fn empty_config() -> Config {
    let mut config = Config::default();
    config.ignition.version = INTERNAL_VERSION.to_string();
    config
}

/// The fetch stages: user config from the first source that has one, rendered, validated and
/// cached. `None` when the fetch-offline stage found that fetching needs the network.
pub fn fetch(
    flags: &Flags,
    env: &Env,
    fetcher: &mut Fetcher,
    state: &mut State,
    recorder: &mut Recorder,
) -> Result<Option<Config>, StageError> {
    let offline = flags.stage == super::Stage::FetchOffline;
    // `--fetch-timeout` bounds the provider config only (0 = no limit, as a Go duration);
    // referenced configs are fetched with the user config's own timeouts.
    let timeout = flags.fetch_timeout;
    fetcher.set_total_timeout((!timeout.is_zero()).then_some(timeout));
    let sources: [&dyn Provider; 3] = [&Cmdline, &System, flags.platform];
    let mut found = None;
    for source in sources {
        let name = source.id();
        // Needing the network in fetch-offline is an answer, not a failure: Ok(Err(())).
        let result = recorder.op(
            format!("looking for a config in {name}"),
            None,
            |_| match source.fetch(fetcher, &env.host) {
                Err(e) if offline && e.needs_network() => {
                    log::info!("fetching the config needs the network: {e}");
                    Ok(Err(()))
                }
                other => other.map(Ok),
            },
        );
        match result {
            Ok(Err(())) => return Ok(None),
            Ok(Ok(None)) => continue,
            Ok(Ok(Some(bytes))) => {
                // Files the platform produced (Hyper-V's KVP pools), for the files stage.
                state.provider_output_files = source.output_files();
                found = Some((name, bytes));
                break;
            }
            Err(e) => {
                return Err(
                    StageError::new(format!("failed to fetch config: {e}")).hint(format!(
                        "make the config source `{name}` reachable, or fix its URL or file"
                    )),
                );
            }
        }
    }
    fetcher.set_total_timeout(None);
    let (source, bytes) = found.ok_or_else(|| {
        StageError::new("config provider was not online")
            .hint("give the machine a config: ignition.config.url=, user.ign or the platform's")
    })?;

    let config = match parse(&bytes)? {
        None => {
            log::info!("provider config was empty, continuing with empty cache config");
            empty_config()
        }
        Some(config) => {
            state.record_fetched("user", source, false);
            if !adopt(fetcher, &config.ignition, offline)? {
                return Ok(None);
            }
            // An empty referenced config, or one that needs the network in fetch-offline, is
            // an answer, not a failed operation.
            let rendered = recorder.op("rendering config", None, |_| {
                match render(config, fetcher) {
                    Ok(rendered) => Ok(Rendering::Done(Box::new(rendered))),
                    Err(RenderError::Empty { source }) => Ok(Rendering::Empty(source)),
                    Err(RenderError::Fetch { error, .. })
                        if offline && is_need_net(error.as_ref()) =>
                    {
                        log::info!("fetching a referenced config needs the network: {error}");
                        Ok(Rendering::NeedNet)
                    }
                    Err(e) => Err(e),
                }
            });
            match rendered {
                Ok(Rendering::NeedNet) => return Ok(None),
                Ok(Rendering::Done(rendered)) => {
                    for referenced in &rendered.referenced {
                        state.record_fetched("user", &url_path(referenced), true);
                    }
                    rendered.config
                }
                Ok(Rendering::Empty(source)) | Err(RenderError::Empty { source }) => {
                    log::info!(
                        "referenced config {source} was empty: provider config was empty, \
                         continuing with empty cache config"
                    );
                    empty_config()
                }
                Err(RenderError::Fetch { source, error }) => {
                    return Err(StageError::new(format!(
                        "fetching referenced config {source}: {error}"
                    ))
                    .at("$.ignition.config")
                    .hint("make the referenced config reachable, or fix its source and hash"));
                }
                Err(RenderError::Parse { source, report }) => {
                    log_report(&report);
                    return Err(invalid(
                        &report,
                        &format!("referenced config {source} is not valid"),
                    ));
                }
                Err(RenderError::Invalid(report)) => {
                    log_report(&report);
                    log::error!(target: journal::CRIT, "merging configs resulted in an invalid config");
                    return Err(invalid(
                        &report,
                        "merging configs resulted in an invalid config",
                    ));
                }
            }
        }
    };
    let mut config = config;
    if !adopt(fetcher, &config.ignition, offline)? {
        return Ok(None);
    }
    fetcher.inline_certificate_authorities(&mut config.ignition);
    let report = kindling_config::validate::validate(&config, Version::V3_7Experimental);
    log_report(&report);
    if report.has_errors() {
        log::error!(target: journal::CRIT, "merging configs resulted in an invalid config");
        return Err(invalid(
            &report,
            "merging configs resulted in an invalid config",
        ));
    }
    write_cache(&flags.config_cache, &config)?;
    for fetched in &state.fetched_configs {
        let referenced = if fetched.referenced {
            "referenced "
        } else {
            ""
        };
        journal::send(
            &format!(
                "fetched {referenced}{} config from {:?}",
                fetched.kind, fetched.source
            ),
            &[
                ("MESSAGE_ID", FETCHED_CONFIG_MESSAGE_ID),
                ("IGNITION_CONFIG_TYPE", &fetched.kind),
                ("IGNITION_CONFIG_SRC", &fetched.source),
                (
                    "IGNITION_CONFIG_REFERENCED",
                    if fetched.referenced { "true" } else { "false" },
                ),
            ],
        );
    }
    Ok(Some(config))
}

enum Rendering {
    Done(Box<kindling_config::render::Rendered>),
    Empty(String),
    NeedNet,
}

/// Parse the user config; `None` for an empty one.
fn parse(bytes: &[u8]) -> Result<Option<Config>, StageError> {
    match kindling_config::parse(bytes) {
        Ok(parsed) => {
            log_report(&parsed.report);
            Ok(Some(parsed.config))
        }
        Err(ParseError::Empty) => Ok(None),
        Err(ParseError::Invalid(report)) => {
            log_report(&report);
            Err(invalid(&report, "config is not valid"))
        }
    }
}

fn invalid(report: &Report, message: &str) -> StageError {
    let first = report
        .entries
        .iter()
        .find(|e| e.severity == Severity::Error);
    let detail = first.map(|e| format!(": {e}")).unwrap_or_default();
    let error = StageError::new(format!("{message}{detail}")).hint(VALIDATE_HINT);
    match first.and_then(|e| e.path.clone()) {
        Some(path) => error.at(path),
        None => error,
    }
}

/// Report entries in the log: errors as CRIT, warnings as WARNING, as upstream.
fn log_report(report: &Report) {
    for entry in &report.entries {
        match entry.severity {
            Severity::Error => log::error!(target: journal::CRIT, "{entry}"),
            Severity::Warning => log::warn!("{entry}"),
        }
    }
}

/// Adopt a config's HTTP settings; `false` when fetching its CA bundles needs the network in
/// the fetch-offline stage.
fn adopt(fetcher: &mut Fetcher, ignition: &Ignition, offline: bool) -> Result<bool, StageError> {
    match fetcher.adopt(ignition) {
        Ok(()) => Ok(true),
        Err(e) if offline && e.kind == ErrorKind::NeedNet => {
            log::info!("failed to fetch config: {e}");
            Ok(false)
        }
        Err(e) => Err(fetch_settings_error(e)),
    }
}

fn fetch_settings_error(e: FetchError) -> StageError {
    StageError::new(format!(
        "failed to update timeouts and CAs for fetcher: {e}"
    ))
    .at("$.ignition.security.tls.certificateAuthorities")
    .hint("make the certificate authorities reachable and valid PEM certificates")
}

fn is_need_net(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    error
        .downcast_ref::<FetchError>()
        .is_some_and(|e| e.kind == ErrorKind::NeedNet)
}

/// The path part of a URL, as upstream records referenced configs (no host, no query).
fn url_path(url: &str) -> String {
    let Some((_, rest)) = url.split_once("://") else {
        return String::new();
    };
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    path.split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Write the cache atomically (temporary file and rename), mode 0640, compact JSON.
fn write_cache(path: &Path, config: &Config) -> Result<(), StageError> {
    let fail = |e: &dyn std::fmt::Display| {
        log::error!(target: journal::CRIT, "failed to write cached config: {e}");
        StageError::new(format!(
            "failed to write cached config {}: {e}",
            path.display()
        ))
    };
    let json = serde_json::to_vec(config).map_err(|e| fail(&e))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o640)
            .open(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(&e)
    })
}

/// Later stages: the cached config, as the fetch stages wrote it (not re-validated).
pub fn cached(path: &Path, fetcher: &mut Fetcher) -> Result<Config, StageError> {
    let bytes = std::fs::read(path).map_err(|e| {
        StageError::new(format!("reading cached config {}: {e}", path.display())).hint(
            "the fetch stages did not complete in this boot: look at their log \
             (journalctl -t ignition)",
        )
    })?;
    let config: Config = serde_json::from_slice(&bytes).map_err(|e| {
        log::error!(target: journal::CRIT, "failed to parse cached config: {e}");
        StageError::new(format!(
            "failed to parse cached config {}: {e}",
            path.display()
        ))
    })?;
    fetcher
        .adopt(&config.ignition)
        .map_err(fetch_settings_error)?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referenced_configs_are_recorded_by_url_path() {
        assert_eq!(url_path("http://host:8080/a/b.ign?token=x#f"), "/a/b.ign");
        assert_eq!(url_path("tftp://host/c.ign"), "/c.ign");
        assert_eq!(url_path("https://host"), "");
        assert_eq!(url_path("data:,%7B%7D"), "");
    }
}
