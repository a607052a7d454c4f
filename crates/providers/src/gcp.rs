//! `gcp` (Google Compute Engine): the `user-data` instance attribute from the metadata server,
//! with `Metadata-Flavor: Google`, as in the Compute Engine docs "About VM metadata" and
//! "Access VM metadata". `gs://` sources get the VM's service-account token from the same
//! server.

use crate::metadata::{Encoding, NotFound, UserData};
use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::{Cloud, Fetcher};

const METADATA: &str = "http://169.254.169.254";

static USER_DATA: UserData = UserData {
    id: "gcp",
    base: METADATA,
    path: "/computeMetadata/v1/instance/attributes/user-data",
    headers: &[("Metadata-Flavor", "Google")],
    retry: &[],
    not_found: NotFound::Empty,
    encoding: Encoding::Raw,
};

pub struct Gcp;

impl Provider for Gcp {
    fn id(&self) -> &'static str {
        "gcp"
    }

    fn init(&self, fetcher: &mut Fetcher, host: &Host) -> Result<(), ProviderError> {
        fetcher.set_cloud(Cloud {
            gcp_metadata: Some(host.metadata(METADATA).to_string()),
            ..fetcher.cloud().clone()
        });
        Ok(())
    }

    fn fetch(&self, fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        USER_DATA.fetch(fetcher, host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::temp_host;
    use crate::metadata::tests::{Expect, conformance, raw};

    #[test]
    fn speaks_the_documented_protocol() {
        conformance(
            &Gcp,
            &Expect {
                path: "/computeMetadata/v1/instance/attributes/user-data",
                headers: &[("Metadata-Flavor", "Google")],
                encode: raw,
                not_found: NotFound::Empty,
            },
        );
    }

    #[test]
    fn init_points_gs_sources_at_the_metadata_server() {
        let (dir, mut host) = temp_host("gcp-init");
        host.metadata_url = Some("http://127.0.0.1:9".into());
        let mut fetcher = Fetcher::new();
        Gcp.init(&mut fetcher, &host).unwrap();
        assert_eq!(
            fetcher.cloud().gcp_metadata.as_deref(),
            Some("http://127.0.0.1:9")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
