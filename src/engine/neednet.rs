//! The neednet flag: fetch-offline tells the distro to bring up networking before the later
//! stages by creating `/run/ignition/neednet`.

use super::StageError;
use kindling_config::Config;
use kindling_config::model::Resource;
use std::path::Path;

/// Create the (empty) flag file; its parent directories get mode 0755.
pub fn signal(path: &Path) -> Result<(), StageError> {
    log::info!("networking is needed: writing {}", path.display());
    let create = || -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::File::create(path).map(drop)
    };
    create().map_err(|e| {
        StageError::new(format!(
            "failed to signal neednet at {}: {e}",
            path.display()
        ))
    })
}

/// Whether any later stage will need the network: a resource with a remote source, a Tang
/// server without an advertisement, or a custom Clevis pin that says so.
pub fn config_needs_network(config: &Config) -> bool {
    let ignition = &config.ignition;
    let storage = &config.storage;
    let resources = ignition
        .config
        .merge
        .iter()
        .chain([&ignition.config.replace])
        .chain(&ignition.security.tls.certificate_authorities)
        .chain(
            storage
                .files
                .iter()
                .flat_map(|f| [&f.contents].into_iter().chain(&f.append)),
        )
        .chain(storage.luks.iter().map(|l| &l.key_file));
    let remote_resource = resources.into_iter().any(is_remote);
    let clevis = storage.luks.iter().any(|l| {
        l.clevis
            .tang
            .iter()
            .any(|t| t.advertisement.as_deref().unwrap_or("").is_empty())
            || l.clevis.custom.needs_network == Some(true)
    });
    remote_resource || clevis
}

fn is_remote(resource: &Resource) -> bool {
    let Some(source) = resource.source.as_deref() else {
        return false;
    };
    // A URL scheme: a letter, then letters, digits, `+`, `-` or `.`, then `:`.
    let scheme = source.split_once(':').map(|(s, _)| s).filter(|s| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    matches!(scheme, Some(s) if !s.eq_ignore_ascii_case("data"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kindling_config::model::{File, Luks, Tang};

    fn file(source: &str) -> File {
        let mut f = File::default();
        f.node.path = "/f".into();
        f.contents.source = Some(source.into());
        f
    }

    #[test]
    fn remote_sources_need_the_network_and_data_urls_do_not() {
        let mut config = Config::default();
        assert!(!config_needs_network(&config));
        config.storage.files.push(file("data:,hello"));
        config.storage.files.push(file(""));
        assert!(!config_needs_network(&config));
        let mut appended = file("data:,x");
        appended.append.push(Resource {
            source: Some("tftp://10.0.2.2/x".into()),
            ..Resource::default()
        });
        config.storage.files.push(appended);
        assert!(config_needs_network(&config));
    }

    #[test]
    fn merge_sources_and_tang_without_advertisement_need_the_network() {
        let mut config = Config::default();
        config.ignition.config.merge.push(Resource {
            source: Some("https://example.invalid/c.ign".into()),
            ..Resource::default()
        });
        assert!(config_needs_network(&config));

        let mut config = Config::default();
        let mut luks = Luks::default();
        luks.clevis.tang.push(Tang {
            url: "http://tang".into(),
            advertisement: Some("{}".into()),
            ..Tang::default()
        });
        config.storage.luks.push(luks.clone());
        assert!(!config_needs_network(&config));
        luks.clevis.tang[0].advertisement = None;
        config.storage.luks.push(luks);
        assert!(config_needs_network(&config));
    }

    #[test]
    fn signal_creates_an_empty_flag_and_its_parents() {
        let dir = std::env::temp_dir().join(format!("kindling-neednet-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let flag = dir.join("ignition/neednet");
        signal(&flag).unwrap();
        assert_eq!(std::fs::read(&flag).unwrap(), b"");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
