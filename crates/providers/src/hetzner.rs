//! `hetzner` (Hetzner Cloud): the user data from the metadata service. Follows Hetzner Cloud "Server metadata" API (`/hetzner/v1/userdata`).

use crate::metadata::{Encoding, NotFound, UserData};

pub static HETZNER: UserData = UserData {
    id: "hetzner",
    base: "http://169.254.169.254",
    path: "/hetzner/v1/userdata",
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
            &HETZNER,
            &Expect {
                path: "/hetzner/v1/userdata",
                headers: &[],
                encode: raw,
                not_found: NotFound::Empty,
            },
        );
    }
}
