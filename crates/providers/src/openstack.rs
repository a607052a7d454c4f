//! `openstack`: the config drive (labelled `config-2` or `CONFIG-2`, `openstack/latest/user_data`)
//! raced against the metadata service (`/openstack/latest/user_data`), first answer wins, as
//! in the OpenStack Nova docs "Config drives" and "Metadata service". A missing file or a 404
//! counts as an answer: an empty config. In the fetch-offline stage the metadata service
//! asks for the network straight away, as upstream.

use crate::drive;
use crate::metadata::{self, NotFound};
use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;
use std::sync::mpsc;

const METADATA: &str = "http://169.254.169.254";
const LABELS: &[&str] = &["config-2", "CONFIG-2"];
const FILE: &str = "/openstack/latest/user_data";

pub struct OpenStack;

impl Provider for OpenStack {
    fn id(&self) -> &'static str {
        "openstack"
    }

    fn fetch(&self, fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        let url = format!("{}{FILE}", host.metadata(METADATA));
        race(fetcher, host, LABELS, FILE, Source::Url(url)).map(Some)
    }
}

/// Where the network half of a race gets its config.
pub(crate) enum Source {
    Url(String),
    /// CloudStack: the DHCP server is the metadata server; find it, then this path.
    DhcpServer {
        leases: std::path::PathBuf,
        path: &'static str,
    },
}

/// The drive watcher and the metadata request, first success wins. Only when every racer
/// failed is the config empty; a network failure alone keeps waiting for the drive.
pub(crate) fn race(
    fetcher: &Fetcher,
    host: &Host,
    labels: &'static [&'static str],
    file: &'static str,
    source: Source,
) -> Result<Vec<u8>, ProviderError> {
    // As upstream: the race runs in the fetch stage only, even when a drive is attached.
    if fetcher.is_offline() {
        return Err(metadata::need_net(match &source {
            Source::Url(url) => url,
            Source::DhcpServer { path, .. } => path,
        }));
    }
    const RACERS: usize = 2;
    let (send, receive) = mpsc::channel();
    {
        let send = send.clone();
        let by_label = host.disk_by_label.clone();
        let sources: Vec<(&str, &str)> = labels.iter().map(|label| (*label, file)).collect();
        std::thread::spawn(move || {
            let _ = send.send((
                "config drive",
                drive::read_config(&by_label, &sources, None),
            ));
        });
    }
    {
        let fetcher = fetcher.clone();
        std::thread::spawn(move || {
            let result = match source {
                Source::Url(url) => metadata_user_data(&fetcher, &url),
                Source::DhcpServer { leases, path } => {
                    let server = crate::cloudstack::wait_for_dhcp_server(&leases);
                    metadata_user_data(&fetcher, &format!("http://{server}{path}"))
                }
            };
            let _ = send.send(("metadata service", result));
        });
    }
    let mut failed = 0;
    while let Ok((name, result)) = receive.recv() {
        match result {
            Ok(config) => {
                log::info!("config from the {name}");
                return Ok(config);
            }
            Err(e) if e.needs_network() => return Err(e),
            Err(e) => {
                log::warn!("{name}: {e}");
                failed += 1;
                if failed == RACERS {
                    break;
                }
            }
        }
    }
    log::info!("no source had a config: continuing with an empty config");
    Ok(Vec::new())
}

fn metadata_user_data(fetcher: &Fetcher, url: &str) -> Result<Vec<u8>, ProviderError> {
    let response = metadata::request(fetcher, "GET", url, &[], None, &[])?;
    metadata::user_data(response, url, NotFound::Empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::{CONFIG, fetcher, host_for};
    use crate::testserver::{Response, Server};

    #[test]
    fn metadata_service_answers_when_no_drive_is_attached() {
        let server = Server::start(|r| match r.path.as_str() {
            FILE => Response::new(200, CONFIG),
            _ => Response::new(404, ""),
        });
        let (dir, host) = host_for("openstack", &server);
        assert_eq!(
            OpenStack.fetch(&fetcher(), &host).unwrap().as_deref(),
            Some(CONFIG)
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn not_found_is_an_empty_config_and_offline_asks_for_the_network() {
        let server = Server::start(|_| Response::new(404, ""));
        let (dir, host) = host_for("openstack-404", &server);
        assert_eq!(
            OpenStack.fetch(&fetcher(), &host).unwrap(),
            Some(Vec::new())
        );
        let mut offline = fetcher();
        offline.set_offline(true);
        assert!(
            OpenStack
                .fetch(&offline, &host)
                .unwrap_err()
                .needs_network()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_broken_drive_does_not_hide_the_metadata_answer() {
        let server = Server::start(|r| match r.path.as_str() {
            FILE => Response::new(200, CONFIG).delayed(std::time::Duration::from_millis(300)),
            _ => Response::new(404, ""),
        });
        let (dir, host) = host_for("openstack-broken-drive", &server);
        std::fs::create_dir_all(&host.disk_by_label).unwrap();
        std::fs::write(host.disk_by_label.join("config-2"), "").unwrap();
        assert_eq!(
            OpenStack.fetch(&fetcher(), &host).unwrap().as_deref(),
            Some(CONFIG)
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn flapping_metadata_still_wins() {
        let count = std::sync::atomic::AtomicUsize::new(0);
        let server =
            Server::start(
                move |_| match count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                    0 => Response::new(500, ""),
                    _ => Response::new(200, CONFIG).delayed(std::time::Duration::from_millis(200)),
                },
            );
        let (dir, host) = host_for("openstack-flap", &server);
        assert_eq!(
            OpenStack.fetch(&fetcher(), &host).unwrap().as_deref(),
            Some(CONFIG)
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
