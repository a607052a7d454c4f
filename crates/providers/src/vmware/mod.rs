//! `vmware`: the config is the guestinfo variable `ignition.config.data`, encoded as
//! `ignition.config.data.encoding` says, read over the VMware backdoor RPC channel; values
//! set through the OVF environment (`guestinfo.ovfEnv` properties) are the defaults, as in
//! VMware's docs on guestinfo/OVF properties ("Using GuestInfo variables" in the vSphere docs,
//! and Fedora CoreOS' "Provisioning on VMware"). x86_64 only. After the first boot the
//! config is replaced by `{}` ([`delete_config`], run by `kindling rmcfg --platform=vmware`).
//!
//! The backdoor cannot exist on a test machine: the channel framing is tested against a
//! simulated host ([`rpci`]), the decoding as pure functions.

mod backdoor;
pub(crate) mod rpci;

use crate::{Fetched, Host, Provider, ProviderError};
use base64::Engine;
use flate2::read::GzDecoder;
use kindling_fetch::Fetcher;
use rpci::{Channel, Port};
use std::io::Read;

const DATA: &str = "guestinfo.ignition.config.data";
const ENCODING: &str = "guestinfo.ignition.config.data.encoding";
const OVF_ENV: &str = "guestinfo.ovfEnv";
/// What a deleted config is replaced with: `{}` in base64.
const DELETED_DATA: &str = "e30K";
const DELETED_ENCODING: &str = "base64";

pub struct Vmware;

impl Provider for Vmware {
    fn id(&self) -> &'static str {
        "vmware"
    }

    fn fetch(&self, _fetcher: &Fetcher, _host: &Host) -> Result<Fetched, ProviderError> {
        let mut port = backdoor::Backdoor::new().map_err(ProviderError::Invalid)?;
        read_config(&mut port).map(Some)
    }
}

fn rpc_error(e: String) -> ProviderError {
    ProviderError::Invalid(e)
}

/// A guestinfo value; `None` when the host has none.
fn info_get<P: Port>(channel: &mut Channel<P>, key: &str) -> Result<Option<String>, ProviderError> {
    let reply = channel
        .request(format!("info-get {key}").as_bytes())
        .map_err(rpc_error)?;
    Ok(rpci::parse_reply(&reply)
        .ok()
        .map(|v| String::from_utf8_lossy(v).into_owned()))
}

/// The config from guestinfo, falling back to the OVF environment's properties.
pub(crate) fn read_config<P: Port>(port: &mut P) -> Result<Vec<u8>, ProviderError> {
    let mut channel = Channel::open(port).map_err(rpc_error)?;
    let data = info_get(&mut channel, DATA)?;
    let encoding = info_get(&mut channel, ENCODING)?;
    let ovf = info_get(&mut channel, OVF_ENV)?;
    channel.close();
    // As upstream: a guestinfo value that exists (even empty) wins; the OVF environment's
    // properties are the defaults for values that do not.
    let ovf = ovf.unwrap_or_default();
    let data = data
        .or_else(|| ovf_property(&ovf, DATA))
        .unwrap_or_default();
    let encoding = encoding
        .or_else(|| ovf_property(&ovf, ENCODING))
        .unwrap_or_default();
    if data.is_empty() {
        log::info!("no config in guestinfo: continuing with an empty config");
        return Ok(Vec::new());
    }
    decode(&data, &encoding)
}

/// Replace the config with `{}` and drop it from the OVF environment, so later boots do not
/// see secrets (the rmcfg command). Guestinfo values cannot be deleted, only overwritten.
pub(crate) fn delete_config<P: Port>(port: &mut P) -> Result<(), ProviderError> {
    let mut channel = Channel::open(port).map_err(rpc_error)?;
    let mut set = |key: &str, value: &str| -> Result<(), ProviderError> {
        let reply = channel
            .request(format!("info-set {key} {value}").as_bytes())
            .map_err(rpc_error)?;
        rpci::parse_reply(&reply)
            .map(|_| ())
            .map_err(|e| ProviderError::Invalid(format!("setting {key}: {e}")))
    };
    set(DATA, DELETED_DATA)?;
    set(ENCODING, DELETED_ENCODING)?;
    let reply = channel
        .request(format!("info-get {OVF_ENV}").as_bytes())
        .map_err(rpc_error)?;
    // Unlike fetching, reading the OVF environment must work here: a config left in it would
    // stay readable.
    if let Ok(ovf) = rpci::parse_reply(&reply) {
        let ovf = String::from_utf8_lossy(ovf).into_owned();
        if let Some(pruned) = remove_ovf_properties(&ovf, &[DATA, ENCODING]) {
            log::info!("deleting the config from the OVF environment");
            let reply = channel
                .request(format!("info-set {OVF_ENV} {pruned}").as_bytes())
                .map_err(rpc_error)?;
            rpci::parse_reply(&reply)
                .map_err(|e| ProviderError::Invalid(format!("setting {OVF_ENV}: {e}")))?;
        }
    }
    channel.close();
    Ok(())
}

/// The rmcfg entry point on the real backdoor.
pub fn delete() -> Result<(), ProviderError> {
    let mut port = backdoor::Backdoor::new().map_err(ProviderError::Invalid)?;
    delete_config(&mut port)
}

/// Decode guestinfo data by its `encoding`.
pub(crate) fn decode(data: &str, encoding: &str) -> Result<Vec<u8>, ProviderError> {
    let base64 = |text: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| ProviderError::Invalid(format!("decoding base64 guestinfo config: {e}")))
    };
    let gunzip = |bytes: Vec<u8>| {
        let mut out = Vec::new();
        GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| ProviderError::Invalid(format!("decompressing guestinfo config: {e}")))?;
        Ok::<_, ProviderError>(out)
    };
    match encoding {
        "" => Ok(data.as_bytes().to_vec()),
        "b64" | "base64" => base64(data),
        "gz" | "gzip" => gunzip(data.as_bytes().to_vec()),
        "gz+base64" | "gzip+base64" | "gz+b64" | "gzip+b64" => gunzip(base64(data)?),
        other => Err(ProviderError::Invalid(format!(
            "unsupported guestinfo config encoding {other:?}"
        ))),
    }
}

/// The value of an OVF environment `<Property oe:key="…" oe:value="…"/>`.
fn ovf_property(ovf: &str, key: &str) -> Option<String> {
    let needle = format!("oe:key=\"{key}\"");
    let at = ovf.find(&needle)?;
    let start = ovf[..at].rfind('<')?;
    let end = at + ovf[at..].find('>')?;
    let element = &ovf[start..end];
    let value_at = element.find("oe:value=\"")? + "oe:value=\"".len();
    let value_end = value_at + element[value_at..].find('"')?;
    Some(unescape(&element[value_at..value_end]))
}

/// The OVF environment without the `<Property>` elements of `keys`; `None` when it has none
/// of them.
fn remove_ovf_properties(ovf: &str, keys: &[&str]) -> Option<String> {
    let mut out = ovf.to_string();
    let mut pruned = false;
    for key in keys {
        let needle = format!("oe:key=\"{key}\"");
        while let Some(at) = out.find(&needle) {
            let (Some(start), Some(end)) = (out[..at].rfind('<'), out[at..].find('>')) else {
                break;
            };
            out.replace_range(start..at + end + 1, "");
            pruned = true;
        }
    }
    pruned.then_some(out)
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#xA;", "\n")
        .replace("&#10;", "\n")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use rpci::tests::FakeHost;
    use std::io::Write;

    const CONFIG: &str = r#"{"ignition":{"version":"3.5.0"}}"#;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn every_documented_encoding_decodes() {
        assert_eq!(decode(CONFIG, "").unwrap(), CONFIG.as_bytes());
        for enc in ["b64", "base64"] {
            assert_eq!(
                decode(&b64(CONFIG.as_bytes()), enc).unwrap(),
                CONFIG.as_bytes()
            );
        }
        for enc in ["gz+base64", "gzip+base64", "gz+b64", "gzip+b64"] {
            let data = b64(&gz(CONFIG.as_bytes()));
            assert_eq!(decode(&data, enc).unwrap(), CONFIG.as_bytes(), "{enc}");
        }
        assert!(decode(CONFIG, "rot13").is_err());
        assert!(decode("!!", "base64").is_err());
    }

    #[test]
    fn guestinfo_wins_over_ovf_and_ovf_is_the_default() {
        let ovf = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Environment xmlns:oe="http://schemas.dmtf.org/ovf/environment/1"><PropertySection>
<Property oe:key="guestinfo.ignition.config.data" oe:value="{}"/>
<Property oe:key="guestinfo.ignition.config.data.encoding" oe:value="base64"/>
</PropertySection></Environment>"#,
            b64(b"{\"from\":\"ovf\"}")
        );
        let mut host = FakeHost::default();
        host.guestinfo.insert(OVF_ENV.into(), ovf);
        assert_eq!(read_config(&mut host).unwrap(), b"{\"from\":\"ovf\"}");
        // Direct data without an encoding variable: the OVF encoding is the default.
        host.guestinfo.insert(DATA.into(), CONFIG.into());
        assert!(read_config(&mut host).is_err(), "plain JSON is not base64");
        // An encoding variable that exists, even empty, wins over the OVF one.
        host.guestinfo.insert(ENCODING.into(), String::new());
        assert_eq!(read_config(&mut host).unwrap(), CONFIG.as_bytes());
        host.guestinfo.insert(ENCODING.into(), "gz+b64".into());
        host.guestinfo
            .insert(DATA.into(), b64(&gz(CONFIG.as_bytes())));
        assert_eq!(read_config(&mut host).unwrap(), CONFIG.as_bytes());
    }

    #[test]
    fn nothing_set_is_an_empty_config_and_rmcfg_leaves_an_empty_object() {
        let mut host = FakeHost::default();
        assert_eq!(read_config(&mut host).unwrap(), b"");
        host.guestinfo.insert(DATA.into(), CONFIG.into());
        delete_config(&mut host).unwrap();
        assert_eq!(host.guestinfo[DATA], "e30K");
        assert_eq!(read_config(&mut host).unwrap(), b"{}\n");
    }

    #[test]
    fn rmcfg_drops_the_config_from_the_ovf_environment() {
        let ovf = r#"<Environment><PropertySection>
<Property oe:key="guestinfo.hostname" oe:value="node1"/>
<Property oe:key="guestinfo.ignition.config.data" oe:value="c2VjcmV0"/>
<Property oe:key="guestinfo.ignition.config.data.encoding" oe:value="base64"/>
</PropertySection></Environment>"#;
        let mut host = FakeHost::default();
        host.guestinfo.insert(OVF_ENV.into(), ovf.into());
        delete_config(&mut host).unwrap();
        let pruned = &host.guestinfo[OVF_ENV];
        assert!(!pruned.contains("c2VjcmV0"), "{pruned}");
        assert!(!pruned.contains("data.encoding"), "{pruned}");
        assert_eq!(
            ovf_property(pruned, "guestinfo.hostname").as_deref(),
            Some("node1")
        );
        assert_eq!(
            remove_ovf_properties(pruned, &[DATA]),
            None,
            "nothing left to prune"
        );
        assert_eq!(read_config(&mut host).unwrap(), b"{}\n");
    }

    #[test]
    fn only_a_vmware_hypervisor_is_asked() {
        // These tests never run on VMware: the provider must refuse before touching the port.
        if backdoor::is_vmware() {
            return;
        }
        let (dir, host) = crate::host::tests::temp_host("vmware");
        let err = Vmware.fetch(&Fetcher::new(), &host).unwrap_err();
        assert!(err.to_string().contains("VMware hypervisor"), "{err}");
        assert!(delete().is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn ovf_values_are_unescaped() {
        let ovf = r#"<Property oe:value="a&amp;b&quot;" oe:key="k"/>"#;
        assert_eq!(ovf_property(ovf, "k").as_deref(), Some("a&b\""));
        assert_eq!(ovf_property(ovf, "other"), None);
    }
}
