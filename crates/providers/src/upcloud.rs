//! `upcloud` (UpCloud): the user data from the metadata service. Follows UpCloud "Metadata service" (`/metadata/v1/user_data`; the service must be enabled
//! on the server).

use crate::metadata::{Encoding, NotFound, UserData};

pub static UPCLOUD: UserData = UserData {
    id: "upcloud",
    base: "http://169.254.169.254",
    path: "/metadata/v1/user_data",
    headers: &[],
    retry: &[],
    not_found: NotFound::Empty,
    encoding: Encoding::Raw,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::{Expect, conformance, raw};

    #[test]
    fn speaks_the_documented_protocol() {
        conformance(
            &UPCLOUD,
            &Expect {
                path: "/metadata/v1/user_data",
                headers: &[],
                encode: raw,
                not_found: NotFound::Empty,
            },
        );
    }
}
