//! The `systemd-tpm2` LUKS2 token, in the field set systemd 252 writes and every later systemd
//! reads (no `tpm2_srk`: the legacy parent).

use crate::tpm2::{PcrPolicy, Sealed};
use base64::Engine;
use serde_json::{Value, json};

/// The token for `sealed`, unlocking `keyslot`.
pub fn systemd_tpm2(keyslot: u32, policy: &PcrPolicy, sealed: &Sealed) -> Value {
    json!({
        "type": "systemd-tpm2",
        "keyslots": [keyslot.to_string()],
        "tpm2-blob": base64::engine::general_purpose::STANDARD.encode(&sealed.blob),
        "tpm2-pcrs": policy.pcrs,
        "tpm2-pcr-bank": policy.bank.name(),
        "tpm2-primary-alg": "ecc",
        "tpm2-policy-hash": hex(&sealed.policy_hash),
        "tpm2-pin": sealed.pin,
    })
}

/// What a `systemd-tpm2` token says (for tests and checks).
#[derive(Debug)]
pub struct Tpm2Token {
    pub policy: PcrPolicy,
    pub blob: Vec<u8>,
    /// `tpm2-pin`: unsealing needs the PIN.
    pub pin: bool,
}

/// Read a `systemd-tpm2` token.
pub fn parse_systemd_tpm2(token: &Value) -> Result<Tpm2Token, String> {
    if token["type"] != "systemd-tpm2" {
        return Err(format!("not a systemd-tpm2 token: {}", token["type"]));
    }
    let pcrs = token["tpm2-pcrs"]
        .as_array()
        .ok_or("token has no tpm2-pcrs")?
        .iter()
        .map(|v| {
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("bad PCR index {v}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bank = token["tpm2-pcr-bank"].as_str().unwrap_or("sha256");
    let bank = crate::tpm2::Bank::parse(bank).ok_or_else(|| format!("unknown bank {bank:?}"))?;
    let blob = token["tpm2-blob"]
        .as_str()
        .ok_or("token has no tpm2-blob")?;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .map_err(|e| format!("tpm2-blob is not base64: {e}"))?;
    let pin = match &token["tpm2-pin"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        other => return Err(format!("tpm2-pin is not a boolean: {other}")),
    };
    Ok(Tpm2Token {
        policy: PcrPolicy { pcrs, bank },
        blob,
        pin,
    })
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
