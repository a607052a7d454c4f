//! `aliyun` (Alibaba Cloud): the user data from the metadata service. Follows Alibaba Cloud ECS "Instance metadata" (the `latest/user-data` item of the metadata
//! service at 100.100.100.200).

use crate::metadata::{Encoding, NotFound, UserData};

pub static ALIYUN: UserData = UserData {
    id: "aliyun",
    base: "http://100.100.100.200",
    path: "/latest/user-data",
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
            &ALIYUN,
            &Expect {
                path: "/latest/user-data",
                headers: &[],
                encode: raw,
                not_found: NotFound::Empty,
            },
        );
    }
}
