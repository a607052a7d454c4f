//! `digitalocean` (DigitalOcean): the user data from the metadata service. Follows DigitalOcean "Metadata API" reference (`/metadata/v1/user-data`); a droplet
//! always has the endpoint, so 404 fails the boot, as upstream.

use crate::metadata::{Encoding, NotFound, UserData};

pub static DIGITALOCEAN: UserData = UserData {
    id: "digitalocean",
    base: "http://169.254.169.254",
    path: "/metadata/v1/user-data",
    headers: &[],
    retry: &[],
    not_found: NotFound::Fail,
    encoding: Encoding::Raw,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::{Expect, conformance, raw};

    #[test]
    fn speaks_the_documented_protocol() {
        conformance(
            &DIGITALOCEAN,
            &Expect {
                path: "/metadata/v1/user-data",
                headers: &[],
                encode: raw,
                not_found: NotFound::Fail,
            },
        );
    }
}
