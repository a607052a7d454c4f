//! Clevis bindings, made as Ignition makes them: `clevis luks bind` with the `sss` pin built
//! from `clevis.tang`, `clevis.tpm2` and `clevis.threshold`, or the custom pin and config
//! verbatim; then proof that the binding unlocks the volume now, when it can without a human.

use crate::key::TempKeyFile;
use kindling_config::model::Clevis;
use serde_json::{Map, Value, json};
use std::path::Path;
use std::process::{Command, Stdio};

/// What `clevis luks bind` is given.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub pin: String,
    pub config: String,
    /// Whether the unlock check can run unattended now (enough pins without a fetched
    /// advertisement or with a TPM), as upstream decides it.
    pub checkable: bool,
    /// Whether unlocking needs the network (`_netdev` in crypttab).
    pub needs_network: bool,
}

/// Whether the config asks for clevis at all.
pub fn present(c: &Clevis) -> bool {
    c.custom.pin.as_deref().is_some_and(|p| !p.is_empty())
        || !c.tang.is_empty()
        || c.tpm2 == Some(true)
        || c.threshold.is_some_and(|t| t != 0)
}

/// The binding for `c`, or `None` without clevis.
pub fn binding(c: &Clevis) -> Result<Option<Binding>, String> {
    if !present(c) {
        return Ok(None);
    }
    if let Some(pin) = c.custom.pin.as_deref().filter(|p| !p.is_empty()) {
        return Ok(Some(Binding {
            pin: pin.to_string(),
            config: c.custom.config.clone().unwrap_or_default(),
            checkable: false,
            needs_network: c.custom.needs_network == Some(true),
        }));
    }
    let mut pins = Map::new();
    let mut tangs = Vec::new();
    let mut live = 0i64;
    for t in &c.tang {
        let mut server = Map::new();
        server.insert("url".into(), json!(t.url));
        server.insert(
            "thp".into(),
            json!(t.thumbprint.clone().unwrap_or_default()),
        );
        match t.advertisement.as_deref().filter(|a| !a.is_empty()) {
            Some(adv) => {
                let adv: Value = serde_json::from_str(adv)
                    .map_err(|e| format!("tang {} advertisement is not JSON: {e}", t.url))?;
                server.insert("adv".into(), adv);
            }
            None => live += 1,
        }
        tangs.push(Value::Object(server));
    }
    let tpm2 = c.tpm2 == Some(true);
    if !tangs.is_empty() || !tpm2 {
        pins.insert("tang".into(), Value::Array(tangs));
    }
    if tpm2 {
        pins.insert("tpm2".into(), json!({}));
        live += 1;
    }
    let threshold = c.threshold.filter(|t| *t != 0).unwrap_or(1);
    Ok(Some(Binding {
        pin: "sss".into(),
        config: json!({"t": threshold, "pins": pins}).to_string(),
        checkable: live >= threshold,
        needs_network: !c.tang.is_empty(),
    }))
}

/// `(index in clevis.tang, <url>/adv)` for every tang server given without an advertisement.
/// Ignition fetches these through its retrying fetcher before `clevis luks bind`, whose own
/// `curl` tries once: a network or server that comes up late then delays the bind instead of
/// failing it. The path is joined as Go's `path.Join` does (cleaned, query kept).
pub fn advertisement_urls(c: &Clevis) -> Vec<(usize, String)> {
    c.tang
        .iter()
        .enumerate()
        .filter(|(_, t)| t.advertisement.as_deref().unwrap_or("").is_empty())
        .map(|(i, t)| (i, join_adv(&t.url)))
        .collect()
}

fn join_adv(url: &str) -> String {
    let (base, suffix) = match url.find(['?', '#']) {
        Some(at) => url.split_at(at),
        None => (url, ""),
    };
    let path_at = base
        .find("://")
        .map(|s| s + 3)
        .map(|h| base[h..].find('/').map_or(base.len(), |p| h + p))
        .unwrap_or(0);
    let (origin, path) = base.split_at(path_at);
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/').chain(["adv"]) {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    format!("{origin}/{}{suffix}", segments.join("/"))
}

fn run(cmd: &mut Command, what: &str) -> Result<Vec<u8>, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e} (is clevis installed?)"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

/// The clevis tpm2 pin finds the TPM through `TPM2TOOLS_TCTI`; the kernel device needs nothing.
fn with_tcti<'a>(cmd: &'a mut Command, tcti: &str) -> &'a mut Command {
    if tcti != crate::tpm2::DEVICE_TCTI {
        cmd.env("TPM2TOOLS_TCTI", tcti);
    }
    cmd
}

/// `clevis luks bind -f -k KEYFILE -d DEV PIN CONFIG`; returns the new key slot.
pub fn bind(dev: &Path, key: &[u8], b: &Binding, tcti: &str) -> Result<u32, String> {
    let keyfile = TempKeyFile::new(key)?;
    let before = clevis_slots(dev)?;
    run(
        with_tcti(&mut Command::new("clevis"), tcti)
            .args(["luks", "bind", "-f", "-k"])
            .arg(keyfile.path())
            .arg("-d")
            .arg(dev)
            .arg(&b.pin)
            .arg(&b.config),
        "clevis luks bind",
    )?;
    clevis_slots(dev)?
        .into_iter()
        .find(|s| !before.contains(s))
        .ok_or_else(|| {
            format!(
                "clevis luks bind added no clevis token to {}",
                dev.display()
            )
        })
}

fn clevis_slots(dev: &Path) -> Result<Vec<u32>, String> {
    let crate::header::Header::Luks2(h) = crate::header::read(dev, 0)? else {
        return Err(format!("{} has no LUKS2 header", dev.display()));
    };
    Ok(h.tokens("clevis")
        .iter()
        .flat_map(|t| t["keyslots"].as_array().cloned().unwrap_or_default())
        .filter_map(|s| s.as_str().and_then(|s| s.parse().ok()))
        .collect())
}

/// Prove the binding opens `slot` now: clevis decrypts the slot's passphrase (through tang
/// and/or the TPM) and libcryptsetup checks it against the slot. Nothing is printed.
pub fn check(dev: &Path, slot: u32, tcti: &str) -> Result<(), String> {
    let pass = zeroize::Zeroizing::new(run(
        with_tcti(&mut Command::new("clevis"), tcti)
            .args(["luks", "pass", "-d"])
            .arg(dev)
            .args(["-s", &slot.to_string()]),
        "clevis luks pass (the unlock check)",
    )?);
    crate::volume::check_key(dev, &pass, Some(slot))
        .map(drop)
        .map_err(|e| format!("the clevis binding does not unlock {}: {e}", dev.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clevis(json: &str) -> Clevis {
        serde_json::from_str(json).unwrap()
    }

    fn parsed(b: &Binding) -> Value {
        serde_json::from_str(&b.config).unwrap()
    }

    #[test]
    fn sss_config_as_ignition_builds_it() {
        assert_eq!(binding(&Clevis::default()).unwrap(), None);
        let b = binding(&clevis(r#"{"tpm2":true}"#)).unwrap().unwrap();
        assert_eq!(b.pin, "sss");
        assert_eq!(parsed(&b), json!({"pins":{"tpm2":{}},"t":1}));
        assert!(b.checkable && !b.needs_network);
        let b = binding(&clevis(
            r#"{"tang":[{"url":"http://t","thumbprint":"abc","advertisement":"{\"payload\":\"x\"}"},
                        {"url":"http://u","thumbprint":"def"}],"tpm2":true,"threshold":2}"#,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            parsed(&b),
            json!({"pins":{"tang":[{"adv":{"payload":"x"},"thp":"abc","url":"http://t"},
                                   {"thp":"def","url":"http://u"}],"tpm2":{}},"t":2})
        );
        assert!(b.checkable && b.needs_network);
        // Only servers with a given advertisement: nothing proves the binding now.
        let b = binding(&clevis(
            r#"{"tang":[{"url":"http://t","thumbprint":"a","advertisement":"{}"}]}"#,
        ))
        .unwrap()
        .unwrap();
        assert!(!b.checkable);
        let b = binding(&clevis(r#"{"threshold":1}"#)).unwrap().unwrap();
        assert_eq!(parsed(&b), json!({"pins":{"tang":[]},"t":1}));
    }

    #[test]
    fn advertisements_are_fetched_for_servers_without_one() {
        let c = clevis(
            r#"{"tang":[{"url":"http://10.0.2.101","thumbprint":"a"},
                        {"url":"http://t","thumbprint":"b","advertisement":"{}"},
                        {"url":"https://t:8443/tang/","thumbprint":"c"},
                        {"url":"http://t/a/./b/../c?x=1#f","thumbprint":"d","advertisement":""}]}"#,
        );
        assert_eq!(
            advertisement_urls(&c),
            vec![
                (0, "http://10.0.2.101/adv".to_string()),
                (2, "https://t:8443/tang/adv".to_string()),
                (3, "http://t/a/c/adv?x=1#f".to_string()),
            ]
        );
        assert!(advertisement_urls(&clevis(r#"{"tpm2":true}"#)).is_empty());
    }

    #[test]
    fn custom_pins_pass_through() {
        let b = binding(&clevis(
            r#"{"custom":{"pin":"tpm2","config":"{\"pcr_ids\":\"7\"}","needsNetwork":true}}"#,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            (b.pin.as_str(), b.config.as_str()),
            ("tpm2", r#"{"pcr_ids":"7"}"#)
        );
        assert!(b.needs_network && !b.checkable);
    }
}
