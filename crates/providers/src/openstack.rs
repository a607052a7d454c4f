//! `openstack`: the config drive (labelled `config-2` or `CONFIG-2`, `openstack/latest/user_data`)
//! raced against the metadata service (`/openstack/latest/user_data`), first answer wins, as
//! in the OpenStack Nova docs "Config drives" and "Metadata service". A missing file or a 404
//! counts as an answer: an empty config. In the fetch-offline stage the metadata service
//! asks for the network straight away, as upstream.
//!
//! As newer upstream, the metadata service is asked at its IPv4 address and, in parallel, at
//! its IPv6 link-local address `fe80::a9fe:a9fe` on every interface that has an IPv6 address
//! (up, not loopback); the first address to answer decides.

use crate::drive;
use crate::metadata::{self, NotFound};
use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;
use std::sync::mpsc;

const METADATA: &str = "http://169.254.169.254";
const METADATA_V6: &str = "fe80::a9fe:a9fe";
const LABELS: &[&str] = &["config-2", "CONFIG-2"];
const FILE: &str = "/openstack/latest/user_data";

pub struct OpenStack;

impl Provider for OpenStack {
    fn id(&self) -> &'static str {
        "openstack"
    }

    fn fetch(&self, fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        let mut urls = vec![format!("{}{FILE}", host.metadata(METADATA))];
        urls.extend(
            ipv6_bases(host)
                .into_iter()
                .map(|base| format!("{base}{FILE}")),
        );
        race(fetcher, host, LABELS, FILE, Source::Urls(urls)).map(Some)
    }
}

/// The IPv6 metadata base URL for each interface with an IPv6 address, or the test override.
/// The zone is the interface index: the HTTP stack resolves numeric zones only.
fn ipv6_bases(host: &Host) -> Vec<String> {
    let interfaces = ipv6_interfaces(host);
    match (&host.metadata_url_v6, &host.metadata_url) {
        (Some(url), _) => interfaces.iter().map(|_| url.clone()).collect(),
        // A test pointed IPv4 at a loopback server: never ask a real address.
        (None, Some(_)) => Vec::new(),
        (None, None) => interfaces
            .iter()
            .map(|(name, index)| {
                log::debug!("asking the metadata service over IPv6 on {name} too");
                format!("http://[{METADATA_V6}%{index}]")
            })
            .collect(),
    }
}

/// Interfaces (name, index) with an IPv6 address, loopback left out, from the kernel's
/// `if_inet6` table (`address index prefix-length scope flags name`). An interface that is
/// down has no IPv6 address there. Unreadable: none (IPv4 only, as upstream).
fn ipv6_interfaces(host: &Host) -> Vec<(String, u32)> {
    const SCOPE_HOST: &str = "10";
    let Ok(table) = std::fs::read_to_string(&host.if_inet6) else {
        return Vec::new();
    };
    let mut found: Vec<(String, u32)> = Vec::new();
    for line in table.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, index, _, scope, _, name] = fields[..] else {
            continue;
        };
        let Ok(index) = u32::from_str_radix(index, 16) else {
            continue;
        };
        if scope == SCOPE_HOST || name == "lo" || found.iter().any(|(n, _)| n == name) {
            continue;
        }
        found.push((name.to_string(), index));
    }
    found
}

/// Where the network half of a race gets its config.
pub(crate) enum Source {
    Url(String),
    /// The same service at several addresses: the first to answer decides.
    Urls(Vec<String>),
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
            Source::Urls(urls) => urls.first().map_or(FILE, String::as_str),
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
                Source::Urls(urls) => first_answer(&fetcher, urls),
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

/// Asks every URL at once; the first answer, whatever it is, decides (as upstream: a 404 at
/// one address is an empty config even if another would still answer).
fn first_answer(fetcher: &Fetcher, urls: Vec<String>) -> Result<Vec<u8>, ProviderError> {
    let (send, receive) = mpsc::channel();
    for url in urls {
        let (fetcher, send) = (fetcher.clone(), send.clone());
        std::thread::spawn(move || {
            let result = metadata_user_data(&fetcher, &url);
            if result.is_ok() {
                log::info!("metadata service answered at {url}");
            }
            let _ = send.send(result);
        });
    }
    drop(send);
    receive
        .recv()
        .unwrap_or_else(|_| Err(ProviderError::Invalid("no metadata address to ask".into())))
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

    /// A host whose IPv4 and IPv6 metadata services are `v4` and `v6` (on ::1), with one
    /// interface (`eth0`, index 2) that has IPv6 addresses.
    fn dual_stack(name: &str, v4: &Server, v6: &Server) -> (std::path::PathBuf, Host) {
        let (dir, mut host) = host_for(name, v4);
        host.metadata_url_v6 = Some(v6.url.clone());
        std::fs::write(&host.if_inet6, IF_INET6).unwrap();
        (dir, host)
    }

    const IF_INET6: &str = "\
00000000000000000000000000000001 01 80 10 80       lo
fe80000000000000505400fffe123456 02 40 20 80     eth0
fd000000000000000000000000000002 02 40 00 80     eth0
";

    #[test]
    fn interfaces_with_ipv6_leave_out_loopback_and_repeats() {
        let (dir, host) = crate::host::tests::temp_host("openstack-if-inet6");
        assert_eq!(ipv6_interfaces(&host), Vec::new());
        std::fs::write(&host.if_inet6, format!("{IF_INET6}garbage line\n")).unwrap();
        assert_eq!(ipv6_interfaces(&host), vec![("eth0".to_string(), 2)]);
        // Without any override the real link-local address is named, zoned by index.
        assert_eq!(
            ipv6_bases(&host),
            vec!["http://[fe80::a9fe:a9fe%2]".to_string()]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_ipv6_address_answers_when_ipv4_does_not() {
        let v4 = Server::start(|_| Response::new(500, ""));
        let v6 = Server::start_v6(|r| match r.path.as_str() {
            FILE => Response::new(200, CONFIG),
            _ => Response::new(404, ""),
        });
        let (dir, host) = dual_stack("openstack-v6", &v4, &v6);
        assert_eq!(
            OpenStack.fetch(&fetcher(), &host).unwrap().as_deref(),
            Some(CONFIG)
        );
        assert_eq!(v6.requests().len(), 1);
        assert!(v6.requests()[0].peer.is_ipv6());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_first_address_to_answer_decides() {
        let v4 = Server::start(|_| Response::new(404, ""));
        let v6 = Server::start_v6(|_| {
            Response::new(200, CONFIG).delayed(std::time::Duration::from_millis(500))
        });
        let (dir, host) = dual_stack("openstack-v4-first", &v4, &v6);
        assert_eq!(
            OpenStack.fetch(&fetcher(), &host).unwrap(),
            Some(Vec::new())
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn ipv6_is_asked_only_with_an_ipv6_interface_and_never_for_real_in_tests() {
        let v4 = Server::start(|_| Response::new(200, CONFIG));
        let v6 = Server::start_v6(|_| Response::new(200, CONFIG));
        let (dir, mut host) = dual_stack("openstack-no-v6", &v4, &v6);
        std::fs::write(
            &host.if_inet6,
            "00000000000000000000000000000001 01 80 10 80 lo\n",
        )
        .unwrap();
        assert_eq!(
            OpenStack.fetch(&fetcher(), &host).unwrap().as_deref(),
            Some(CONFIG)
        );
        assert_eq!(v6.requests().len(), 0);
        std::fs::write(&host.if_inet6, IF_INET6).unwrap();
        host.metadata_url_v6 = None;
        assert_eq!(ipv6_bases(&host), Vec::<String>::new());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The real URL form, `[address%index]`, goes through the fetcher to that interface
    /// (here the loopback interface and ::1).
    #[test]
    fn a_zoned_ipv6_url_reaches_its_interface() {
        let v6 = Server::start_v6(|_| Response::new(200, CONFIG));
        let lo = std::fs::read_to_string("/sys/class/net/lo/ifindex").unwrap();
        let url = v6.url.replace("[::1]", &format!("[::1%{}]", lo.trim()));
        assert_eq!(
            metadata_user_data(&fetcher(), &format!("{url}{FILE}")).unwrap(),
            CONFIG
        );
        assert_eq!(v6.requests().len(), 1);
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
