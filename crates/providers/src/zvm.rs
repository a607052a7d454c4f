//! `zvm` (IBM z/VM): the config is a file of type `IGN` in the virtual reader (device
//! `000c`), spooled there with `PUNCH`. Read with the s390-tools reader commands (IBM
//! "Device Drivers, Features, and Commands": `vmur`, `chccwdev`, `cio_ignore`): bring the
//! reader online, list its spool files, receive the first `IGN` file. No such file is an
//! empty config; the NUL padding of the 80-byte records is trimmed.
//!
//! There is no z/VM reader on these machines: the listing parser is tested; the command
//! sequence runs only on z/VM.

use crate::drive::run;
use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;
use std::process::Command;

const READER: &str = "000c";

pub struct Zvm;

impl Provider for Zvm {
    fn id(&self) -> &'static str {
        "zvm"
    }

    fn fetch(&self, _fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        run(Command::new(&host.modprobe).arg("vmur"))?;
        if let Err(e) = run(Command::new("chccwdev").args(["-e", READER])) {
            log::info!("{e}: freeing the reader from the ignore list and trying again");
            run(Command::new("cio_ignore").args(["-r", READER]))?;
            run(Command::new("chccwdev").args(["-e", READER]))?;
        }
        run(Command::new("udevadm").arg("settle"))?;
        let listing =
            Command::new("vmur")
                .arg("li")
                .output()
                .map_err(|e| ProviderError::Command {
                    command: "vmur li".into(),
                    message: e.to_string(),
                })?;
        if !listing.status.success() {
            return Err(ProviderError::Command {
                command: "vmur li".into(),
                message: format!(
                    "can not get reader device: {}",
                    String::from_utf8_lossy(&listing.stderr).trim()
                ),
            });
        }
        let Some((spool_id, name)) = find_config(&String::from_utf8_lossy(&listing.stdout)) else {
            log::info!("no IGN file in the z/VM reader: continuing with an empty config");
            return Ok(Some(Vec::new()));
        };
        let dir = std::env::temp_dir().join(format!("kindling-zvm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|error| ProviderError::Read {
            path: dir.clone(),
            error,
        })?;
        let file = dir.join(format!("{name}.ign"));
        let received = run(Command::new("vmur")
            .args(["re", "-f", &spool_id])
            .arg(&file));
        // As upstream, a received file that cannot be read leaves the machine without config.
        let data = received.map(|()| {
            std::fs::read(&file).unwrap_or_else(|e| {
                log::error!("couldn't read the config from {}: {e}", file.display());
                Vec::new()
            })
        });
        let _ = std::fs::remove_dir_all(&dir);
        Ok(Some(trim_nul(&data?).to_vec()))
    }
}

/// Spool id and name of the first reader file of type `IGN` in a `vmur li` listing:
/// `ORIGINID FILE CLASS RECORDS CPY HOLD DATE TIME NAME TYPE DIST`, the class being two
/// words.
fn find_config(listing: &str) -> Option<(String, String)> {
    listing.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (spool_id, name, kind) = (fields.get(1)?, fields.get(9)?, fields.get(10)?);
        kind.eq_ignore_ascii_case("ign")
            .then(|| (spool_id.to_string(), name.to_string()))
    })
}

/// Records are NUL-padded: the padding around the config goes.
fn trim_nul(data: &[u8]) -> &[u8] {
    let start = data.iter().position(|&b| b != 0).unwrap_or(data.len());
    let end = data.iter().rposition(|&b| b != 0).map_or(start, |e| e + 1);
    &data[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "\
ORIGINID FILE CLASS RECORDS  CPY HOLD DATE  TIME     NAME      TYPE     DIST
LINUX01  0417 A PUN 00000012 001 NONE 11/25 10:41:02 PARMFILE  PARM     LINUX01
LINUX01  0418 A PUN 00000004 001 NONE 11/25 10:41:03 CONFIG    IGN      LINUX01
LINUX01  0419 A PUN 00000004 001 NONE 11/25 10:41:04 OTHER     IGN      LINUX01
";

    #[test]
    fn the_first_ign_file_is_the_config() {
        assert_eq!(find_config(LISTING), Some(("0418".into(), "CONFIG".into())));
        let header_only = LISTING.lines().next().unwrap();
        assert_eq!(find_config(header_only), None);
        assert_eq!(find_config(""), None);
    }

    #[test]
    fn record_padding_is_dropped() {
        assert_eq!(trim_nul(b"\0{}\n\0\0\0"), b"{}\n");
        assert_eq!(trim_nul(b"\0\0"), b"");
    }
}
