//! `cloudstack`: the config drive (`config-2`/`CONFIG-2`, `cloudstack/userdata/user_data.txt`)
//! raced against the metadata service on the DHCP server (`/latest/user-data`), as in the
//! Apache CloudStack docs "User Data and Meta Data". The DHCP server is the `SERVER_ADDRESS`
//! of a systemd-networkd lease, polled every 500 ms.

use crate::openstack::{Source, race};
use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;
use std::path::Path;
use std::time::Duration;

const LABELS: &[&str] = &["config-2", "CONFIG-2"];
const FILE: &str = "/cloudstack/userdata/user_data.txt";
const LEASES: &str = "/run/systemd/netif/leases";

pub struct CloudStack;

impl Provider for CloudStack {
    fn id(&self) -> &'static str {
        "cloudstack"
    }

    fn fetch(&self, fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        // Test only: the metadata override names the server the leases would.
        let source = match &host.metadata_url {
            Some(url) => Source::Url(format!("{url}/latest/user-data")),
            None => Source::DhcpServer {
                leases: LEASES.into(),
                path: "/latest/user-data",
            },
        };
        race(fetcher, host, LABELS, FILE, source).map(Some)
    }
}

/// The DHCP server of the first networkd lease that names one (polled until one does).
pub(crate) fn wait_for_dhcp_server(leases: &Path) -> String {
    loop {
        if let Some(server) = dhcp_server(leases) {
            return server;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn dhcp_server(leases: &Path) -> Option<String> {
    let mut entries: Vec<_> = std::fs::read_dir(leases).ok()?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    entries.iter().find_map(|entry| {
        let text = std::fs::read_to_string(entry.path()).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("SERVER_ADDRESS="))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::temp_host;
    use crate::metadata::tests::{CONFIG, fetcher, host_for};
    use crate::testserver::{Response, Server};

    #[test]
    fn the_dhcp_server_comes_from_a_networkd_lease() {
        let (dir, _) = temp_host("cloudstack-leases");
        let leases = dir.join("leases");
        std::fs::create_dir_all(&leases).unwrap();
        assert_eq!(dhcp_server(&leases), None);
        std::fs::write(
            leases.join("2"),
            "# This is private data.\nADDRESS=10.1.1.5\nSERVER_ADDRESS=10.1.1.1\n",
        )
        .unwrap();
        assert_eq!(dhcp_server(&leases).as_deref(), Some("10.1.1.1"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn metadata_service_answers_when_no_drive_is_attached() {
        let server = Server::start(|r| match r.path.as_str() {
            "/latest/user-data" => Response::new(200, CONFIG),
            _ => Response::new(404, ""),
        });
        let (dir, host) = host_for("cloudstack", &server);
        assert_eq!(
            CloudStack.fetch(&fetcher(), &host).unwrap().as_deref(),
            Some(CONFIG)
        );
        let server = Server::start(|_| Response::new(404, ""));
        let (dir2, host) = host_for("cloudstack-404", &server);
        assert_eq!(
            CloudStack.fetch(&fetcher(), &host).unwrap(),
            Some(Vec::new())
        );
        // The fetch-offline stage asks for the network even with a drive attached.
        std::fs::create_dir_all(&host.disk_by_label).unwrap();
        std::fs::write(host.disk_by_label.join("config-2"), "").unwrap();
        let mut offline = fetcher();
        offline.set_offline(true);
        assert!(
            CloudStack
                .fetch(&offline, &host)
                .unwrap_err()
                .needs_network()
        );
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::remove_dir_all(dir2).unwrap();
    }
}
