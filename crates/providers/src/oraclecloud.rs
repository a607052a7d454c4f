//! `oraclecloud` (Oracle Cloud Infrastructure): the user data from the metadata service. Follows OCI "Getting Instance Metadata" (IMDSv2: `/opc/v2/instance/metadata/user_data`,
//! `Authorization: Bearer Oracle`, base64 user data, 429 when throttled).

use crate::metadata::{Encoding, NotFound, UserData};

pub static ORACLECLOUD: UserData = UserData {
    id: "oraclecloud",
    base: "http://169.254.169.254",
    path: "/opc/v2/instance/metadata/user_data",
    headers: &[("Authorization", "Bearer Oracle")],
    retry: &[429],
    not_found: NotFound::Empty,
    encoding: Encoding::Base64,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;
    use crate::metadata::tests::{CONFIG, Expect, base64, conformance, fetcher, host_for};
    use crate::testserver::{Response, Server};

    #[test]
    fn speaks_the_documented_protocol() {
        conformance(
            &ORACLECLOUD,
            &Expect {
                path: "/opc/v2/instance/metadata/user_data",
                headers: &[("Authorization", "Bearer Oracle")],
                encode: base64,
                not_found: NotFound::Empty,
            },
        );
    }

    #[test]
    fn throttling_is_retried() {
        let count = std::sync::atomic::AtomicUsize::new(0);
        let server =
            Server::start(
                move |_| match count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                    0 => Response::new(429, "slow down"),
                    _ => Response::new(200, base64(CONFIG)),
                },
            );
        let (dir, host) = host_for("oraclecloud-429", &server);
        assert_eq!(
            ORACLECLOUD.fetch(&fetcher(), &host).unwrap().as_deref(),
            Some(CONFIG)
        );
        assert_eq!(server.requests().len(), 2);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
