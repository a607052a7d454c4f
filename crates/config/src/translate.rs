//! Step-wise translation from each spec version to the internal model.
//!
//! Decoding already gives each older type its successor's shape (plain strings that later became
//! optional are set, as upstream's translators set them). What is left are the steps that change
//! values.

use crate::Config;
use crate::Version::{self, *};
use crate::model::INTERNAL_VERSION;

/// Translate a config decoded and validated as `from` to the internal version.
pub fn translate(mut config: Config, from: Version) -> Config {
    if from == V3_4 {
        // Upstream's 3.4 → 3.5 translator copies only a tang server's url and thumbprint, so a
        // 3.4 config's `advertisement` does not survive; reproduced for identical behaviour.
        for luks in &mut config.storage.luks {
            for tang in &mut luks.clevis.tang {
                tang.advertisement = None;
            }
        }
    }
    if from < V3_6 {
        // Special mode bits were not honoured before 3.6.0 (validation warned about them).
        for file in &mut config.storage.files {
            file.mode = file.mode.map(|m| m & !0o7000);
        }
        for dir in &mut config.storage.directories {
            dir.mode = dir.mode.map(|m| m & !0o7000);
        }
    }
    config.ignition.version = INTERNAL_VERSION.to_owned();
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Clevis, Directory, File, Luks, Tang};

    fn sample() -> Config {
        let mut c = Config::default();
        c.storage.files.push(File {
            mode: Some(0o4755),
            ..File::default()
        });
        c.storage.directories.push(Directory {
            mode: Some(0o1777),
            ..Directory::default()
        });
        c.storage.luks.push(Luks {
            clevis: Clevis {
                tang: vec![Tang {
                    url: "http://t".into(),
                    advertisement: Some("{}".into()),
                    ..Tang::default()
                }],
                ..Clevis::default()
            },
            ..Luks::default()
        });
        c
    }

    #[test]
    fn special_bits_are_masked_before_3_6() {
        for v in Version::ALL {
            let out = translate(sample(), v);
            let (file, dir) = (out.storage.files[0].mode, out.storage.directories[0].mode);
            if v < V3_6 {
                assert_eq!((file, dir), (Some(0o755), Some(0o777)), "{v}");
            } else {
                assert_eq!((file, dir), (Some(0o4755), Some(0o1777)), "{v}");
            }
            assert_eq!(out.ignition.version, INTERNAL_VERSION);
        }
    }

    #[test]
    fn a_3_4_tang_advertisement_is_dropped_as_upstream() {
        let adv = |v| {
            translate(sample(), v).storage.luks[0].clevis.tang[0]
                .advertisement
                .clone()
        };
        assert_eq!(adv(V3_4), None);
        assert_eq!(adv(V3_5), Some("{}".into()));
    }
}
