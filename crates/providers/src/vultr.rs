//! `vultr` (Vultr): the user data from the metadata service. Follows Vultr "Metadata API" (`/user-data/user-data`).

use crate::metadata::{Encoding, NotFound, UserData};

pub static VULTR: UserData = UserData {
    id: "vultr",
    base: "http://169.254.169.254",
    path: "/user-data/user-data",
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
            &VULTR,
            &Expect {
                path: "/user-data/user-data",
                headers: &[],
                encode: raw,
                not_found: NotFound::Empty,
            },
        );
    }
}
