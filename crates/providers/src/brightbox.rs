//! `brightbox`: Brightbox Cloud serves an OpenStack-compatible metadata service and config
//! drive (Brightbox docs "User data" / "Metadata service"), read exactly as `openstack`.

use crate::openstack::OpenStack;
use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;

pub struct Brightbox;

impl Provider for Brightbox {
    fn id(&self) -> &'static str {
        "brightbox"
    }

    fn fetch(&self, fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        OpenStack.fetch(fetcher, host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::{CONFIG, fetcher, host_for};
    use crate::testserver::{Response, Server};

    #[test]
    fn reads_the_openstack_metadata_path() {
        let server = Server::start(|r| match r.path.as_str() {
            "/openstack/latest/user_data" => Response::new(200, CONFIG),
            _ => Response::new(404, ""),
        });
        let (dir, host) = host_for("brightbox", &server);
        assert_eq!(
            Brightbox.fetch(&fetcher(), &host).unwrap().as_deref(),
            Some(CONFIG)
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
