//! `exoscale` (Exoscale): the user data from the metadata service. Follows Exoscale "User data" compute guide (metadata server, `/1.0/user-data`).

use crate::metadata::{Encoding, NotFound, UserData};

pub static EXOSCALE: UserData = UserData {
    id: "exoscale",
    base: "http://169.254.169.254",
    path: "/1.0/user-data",
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
            &EXOSCALE,
            &Expect {
                path: "/1.0/user-data",
                headers: &[],
                encode: raw,
                not_found: NotFound::Empty,
            },
        );
    }
}
