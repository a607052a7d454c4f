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
    use crate::metadata::tests::{Expect, base64, conformance};

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
}
