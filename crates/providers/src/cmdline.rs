//! The `cmdline` pseudo-provider: `ignition.config.url=<URL>` on the kernel command line.
//!
//! Asked before every other source. The command line is split on whitespace; a key without `=`
//! or with an empty value is ignored; the last occurrence wins, as upstream.

use crate::{Fetched, Host, Provider, ProviderError};
use kindling_config::model::Resource;
use kindling_fetch::Fetcher;

const URL_KEY: &str = "ignition.config.url";

pub struct Cmdline;

impl Provider for Cmdline {
    fn id(&self) -> &'static str {
        "cmdline"
    }

    fn fetch(&self, fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        let cmdline =
            std::fs::read_to_string(&host.kernel_cmdline).map_err(|error| ProviderError::Read {
                path: host.kernel_cmdline.clone(),
                error,
            })?;
        let Some(url) = config_url(&cmdline) else {
            return Ok(None);
        };
        log::info!("fetching config from {URL_KEY}");
        let resource = Resource {
            source: Some(url),
            ..Resource::default()
        };
        Ok(Some(fetcher.fetch(&resource)?))
    }
}

/// The value of the last non-empty `ignition.config.url=` on a kernel command line.
pub fn config_url(cmdline: &str) -> Option<String> {
    let mut url = None;
    for arg in cmdline.split_whitespace() {
        let Some((key, value)) = arg.split_once('=') else {
            continue;
        };
        if key != URL_KEY {
            continue;
        }
        if value.is_empty() {
            log::info!("{URL_KEY} found but no value provided");
            continue;
        }
        url = Some(value.to_string());
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_occurrence_wins() {
        let line =
            "root=/dev/vda ignition.config.url=http://a/1 quiet ignition.config.url=tftp://b/2\n";
        assert_eq!(config_url(line).as_deref(), Some("tftp://b/2"));
    }

    #[test]
    fn bare_key_and_empty_value_are_ignored() {
        assert_eq!(config_url("ignition.config.url quiet"), None);
        assert_eq!(
            config_url("ignition.config.url=http://a/ ignition.config.url= ignition.config.url"),
            Some("http://a/".to_string())
        );
    }

    #[test]
    fn value_keeps_everything_after_the_first_equals_sign() {
        let line = "ignition.config.url=data:,%7B%7D?a=b\tx";
        assert_eq!(config_url(line).as_deref(), Some("data:,%7B%7D?a=b"));
    }

    #[test]
    fn other_keys_and_prefixes_do_not_match() {
        assert_eq!(
            config_url("xignition.config.url=http://a/ ignition.config.urls=http://b/"),
            None
        );
        assert_eq!(config_url(""), None);
    }
}
