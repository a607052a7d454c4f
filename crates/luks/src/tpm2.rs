//! Sealing a random secret to TPM2 PCRs, in exactly the form stock `systemd-cryptsetup` (252 and
//! newer) unseals: a transient ECC P-256 primary from systemd's "legacy" template, a sealed
//! keyed-hash object whose auth policy is a single PolicyPCR over the declared bank, and the
//! blob `TPM2B_PRIVATE ‖ TPM2B_PUBLIC`. The legacy parent (no persistent SRK, no `tpm2_srk`
//! field) is the one format every systemd from 252 on reads.
//!
//! With a PIN (systemd's `tpm2-pin`), as systemd 252 does it: the policy is PolicyPCR followed by
//! PolicyAuthValue, and the sealed object's auth value is SHA-256 of the PIN's bytes (no salt:
//! the `tpm2-salt` of systemd 254+ is unknown to 252). The object has no `noDA`, so wrong PINs
//! count towards the TPM's dictionary-attack lockout.
//!
//! Raw swtpm has no resource manager: every object and session is flushed on every path.

use sha2::{Digest as _, Sha256};
use std::str::FromStr;
use tss_esapi::attributes::{ObjectAttributesBuilder, SessionAttributesBuilder};
use tss_esapi::constants::SessionType;
use tss_esapi::handles::{KeyHandle, ObjectHandle};
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::{AuthSession, PolicySession};
use tss_esapi::structures::{
    Auth, Digest, EccParameter, EccPoint, EccScheme, KeyDerivationFunctionScheme, KeyedHashScheme,
    PcrSelectionList, PcrSelectionListBuilder, PcrSlot, Private, Public, PublicBuilder,
    PublicEccParametersBuilder, PublicKeyedHashParameters, SensitiveData, SymmetricDefinition,
    SymmetricDefinitionObject,
};
use tss_esapi::tcti_ldr::TctiNameConf;
use tss_esapi::traits::{Marshall, UnMarshall};
use tss_esapi::{Context, structures::PublicBuffer};
use zeroize::Zeroizing;

/// The TCTI of the machine's TPM (through the kernel's resource manager).
pub const DEVICE_TCTI: &str = "device:/dev/tpmrm0";

/// Which PCRs, in which bank, the secret is sealed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrPolicy {
    /// PCR indexes 0-23, sorted, no duplicates.
    pub pcrs: Vec<u32>,
    pub bank: Bank,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bank {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Bank {
    pub fn name(self) -> &'static str {
        match self {
            Bank::Sha1 => "sha1",
            Bank::Sha256 => "sha256",
            Bank::Sha384 => "sha384",
            Bank::Sha512 => "sha512",
        }
    }

    pub fn parse(name: &str) -> Option<Bank> {
        [Bank::Sha1, Bank::Sha256, Bank::Sha384, Bank::Sha512]
            .into_iter()
            .find(|b| b.name() == name)
    }

    fn alg(self) -> HashingAlgorithm {
        match self {
            Bank::Sha1 => HashingAlgorithm::Sha1,
            Bank::Sha256 => HashingAlgorithm::Sha256,
            Bank::Sha384 => HashingAlgorithm::Sha384,
            Bank::Sha512 => HashingAlgorithm::Sha512,
        }
    }
}

impl PcrPolicy {
    /// PCR 7 (Secure Boot state) in the sha256 bank: systemd-cryptenroll's default since 252.
    pub fn default_pcr7() -> PcrPolicy {
        PcrPolicy {
            pcrs: vec![7],
            bank: Bank::Sha256,
        }
    }

    fn selection(&self) -> Result<PcrSelectionList, String> {
        let slots = self
            .pcrs
            .iter()
            .map(|&i| {
                let bit = 1u32
                    .checked_shl(i)
                    .filter(|_| i < 24)
                    .ok_or_else(|| format!("PCR {i} does not exist (PCRs are 0-23)"))?;
                PcrSlot::try_from(bit).map_err(|e| format!("PCR {i}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Three select octets (the builder's default), as systemd: the digest depends on it.
        PcrSelectionListBuilder::new()
            .with_selection(self.bank.alg(), &slots)
            .build()
            .map_err(|e| format!("PCR selection: {e}"))
    }
}

/// A TPM2 PIN. Never printed; zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(Zeroizing<String>);

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

impl Pin {
    /// A PIN as systemd accepts one: not empty, no NUL (systemd hashes it as a C string).
    pub fn new(pin: &str) -> Result<Pin, String> {
        if pin.is_empty() || pin.contains('\0') {
            return Err("a TPM2 PIN must be non-empty and contain no NUL character".into());
        }
        Ok(Pin(Zeroizing::new(pin.to_string())))
    }

    /// The sealed object's auth value: SHA-256 of the PIN, as systemd 252 derives it (`Auth`
    /// zeroes itself on drop).
    fn auth(&self) -> Result<Auth, String> {
        Auth::try_from(Sha256::digest(self.0.as_bytes()).to_vec())
            .map_err(tpm_err("PIN auth value"))
    }
}

/// A freshly sealed secret: the LUKS passphrase and what goes into the token.
pub struct Sealed {
    /// base64 of the 32 sealed bytes: what systemd-cryptsetup passes to the keyslot.
    pub passphrase: Zeroizing<String>,
    /// `TPM2B_PRIVATE ‖ TPM2B_PUBLIC`.
    pub blob: Vec<u8>,
    /// The policy digest the sealed object requires.
    pub policy_hash: Vec<u8>,
    /// Whether the policy also demands the PIN (`tpm2-pin`).
    pub pin: bool,
}

fn tpm_err(what: &str) -> impl Fn(tss_esapi::Error) -> String + '_ {
    move |e| format!("TPM2 {what}: {e}")
}

fn open(tcti: &str) -> Result<Context, String> {
    let conf = TctiNameConf::from_str(tcti).map_err(|e| format!("TPM2 TCTI {tcti:?}: {e}"))?;
    Context::new(conf).map_err(|e| format!("cannot open the TPM through {tcti:?}: {e}"))
}

/// systemd's legacy storage primary: ECC P-256, restricted decryption key, AES-128-CFB,
/// `restricted|decrypt|fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth`, empty unique.
fn legacy_primary_template() -> Result<Public, String> {
    let attrs = ObjectAttributesBuilder::new()
        .with_restricted(true)
        .with_decrypt(true)
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .build()
        .map_err(tpm_err("primary attributes"))?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attrs)
        .with_ecc_parameters(
            PublicEccParametersBuilder::new()
                .with_symmetric(SymmetricDefinitionObject::AES_128_CFB)
                .with_ecc_scheme(EccScheme::Null)
                .with_curve(EccCurve::NistP256)
                .with_key_derivation_function_scheme(KeyDerivationFunctionScheme::Null)
                .with_is_decryption_key(true)
                .with_restricted(true)
                .build()
                .map_err(tpm_err("primary parameters"))?,
        )
        .with_ecc_unique_identifier(EccPoint::new(
            EccParameter::default(),
            EccParameter::default(),
        ))
        .build()
        .map_err(tpm_err("primary template"))
}

/// A TPM connection that flushes what it created when dropped, whatever happened.
struct Tpm {
    ctx: Context,
    handles: Vec<ObjectHandle>,
}

impl Drop for Tpm {
    fn drop(&mut self) {
        for h in self.handles.drain(..).rev() {
            // Best effort: a handle the TPM already dropped fails harmlessly.
            let _ = self.ctx.flush_context(h);
        }
        self.ctx.clear_sessions();
    }
}

impl Tpm {
    fn open(tcti: &str) -> Result<Tpm, String> {
        Ok(Tpm {
            ctx: open(tcti)?,
            handles: Vec::new(),
        })
    }

    fn primary(&mut self) -> Result<KeyHandle, String> {
        let template = legacy_primary_template()?;
        let key = self
            .ctx
            .execute_with_nullauth_session(|c| {
                c.create_primary(Hierarchy::Owner, template, None, None, None, None)
            })
            .map_err(tpm_err("creating the primary key"))?
            .key_handle;
        self.handles.push(key.into());
        Ok(key)
    }

    /// A session salted with the primary, encrypting parameters both ways, so the secret never
    /// crosses the bus in clear.
    fn encrypted_session(&mut self, primary: KeyHandle) -> Result<AuthSession, String> {
        let session = self
            .ctx
            .start_auth_session(
                Some(primary),
                None,
                None,
                SessionType::Hmac,
                SymmetricDefinition::AES_128_CFB,
                HashingAlgorithm::Sha256,
            )
            .map_err(tpm_err("starting an encrypted session"))?
            .ok_or("TPM2 returned no session handle")?;
        self.handles.push(session_object(session));
        let (attrs, mask) = SessionAttributesBuilder::new()
            .with_decrypt(true)
            .with_encrypt(true)
            .with_continue_session(true)
            .build();
        self.ctx
            .tr_sess_set_attributes(session, attrs, mask)
            .map_err(tpm_err("setting session attributes"))?;
        Ok(session)
    }

    /// A policy session (a trial one only computes the digest) with PolicyPCR applied over the
    /// current PCR values, then PolicyAuthValue when a PIN is part of the policy (systemd's
    /// order: the digest depends on it).
    fn pcr_policy(
        &mut self,
        primary: KeyHandle,
        policy: &PcrPolicy,
        with_pin: bool,
        kind: SessionType,
    ) -> Result<(AuthSession, Digest), String> {
        let session = self
            .ctx
            .start_auth_session(
                Some(primary),
                None,
                None,
                kind,
                SymmetricDefinition::AES_128_CFB,
                HashingAlgorithm::Sha256,
            )
            .map_err(tpm_err("starting a policy session"))?
            .ok_or("TPM2 returned no session handle")?;
        self.handles.push(session_object(session));
        let ps = PolicySession::try_from(session).map_err(tpm_err("policy session"))?;
        let selection = policy.selection()?;
        let digest = self.ctx.execute_without_session(|c| {
            c.policy_pcr(ps, Digest::default(), selection)
                .map_err(tpm_err("PolicyPCR"))?;
            if with_pin {
                c.policy_auth_value(ps)
                    .map_err(tpm_err("PolicyAuthValue"))?;
            }
            c.policy_get_digest(ps).map_err(tpm_err("PolicyGetDigest"))
        })?;
        Ok((session, digest))
    }
}

fn session_object(s: AuthSession) -> ObjectHandle {
    let handle: tss_esapi::handles::SessionHandle = s.into();
    handle.into()
}

/// Seal 32 random bytes to `policy` (and `pin`, when given) on the TPM at `tcti`.
pub fn seal(tcti: &str, policy: &PcrPolicy, pin: Option<&Pin>) -> Result<Sealed, String> {
    let mut secret = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(secret.as_mut()).map_err(|e| format!("no random bytes: {e}"))?;
    let mut tpm = Tpm::open(tcti)?;
    let primary = tpm.primary()?;
    let (_, policy_digest) = tpm.pcr_policy(primary, policy, pin.is_some(), SessionType::Trial)?;
    let attrs = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .build()
        .map_err(tpm_err("sealed object attributes"))?;
    let template = PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::KeyedHash)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attrs)
        .with_auth_policy(policy_digest.clone())
        .with_keyed_hash_parameters(PublicKeyedHashParameters::new(KeyedHashScheme::Null))
        .with_keyed_hash_unique_identifier(Digest::default())
        .build()
        .map_err(tpm_err("sealed object template"))?;
    let data = SensitiveData::try_from(secret.to_vec()).map_err(tpm_err("sealed data"))?;
    let auth = pin.map(Pin::auth).transpose()?;
    let session = tpm.encrypted_session(primary)?;
    let created = tpm
        .ctx
        .execute_with_session(Some(session), |c| {
            c.create(primary, template, auth, Some(data), None, None)
        })
        .map_err(tpm_err("creating the sealed object"))?;
    let private: &[u8] = created.out_private.as_ref();
    let public = PublicBuffer::try_from(created.out_public)
        .and_then(|p| p.marshall())
        .map_err(tpm_err("marshalling the sealed object"))?;
    let len = u16::try_from(private.len()).map_err(|_| "TPM2 private part too large")?;
    let mut blob = len.to_be_bytes().to_vec();
    blob.extend_from_slice(private);
    blob.extend_from_slice(&public);
    Ok(Sealed {
        passphrase: Zeroizing::new(base64(secret.as_ref())),
        blob,
        policy_hash: policy_digest.to_vec(),
        pin: pin.is_some(),
    })
}

/// Unseal `blob` (as [`seal`] or systemd-cryptenroll made it, legacy parent) under `policy`,
/// with `pin` when the blob was sealed with one; returns the LUKS passphrase. Fails when the
/// PCRs no longer match or the PIN is wrong (or missing).
pub fn unseal(
    tcti: &str,
    policy: &PcrPolicy,
    blob: &[u8],
    pin: Option<&Pin>,
) -> Result<Zeroizing<String>, String> {
    let bad = || "TPM2 blob is truncated".to_string();
    let len = usize::from(u16::from_be_bytes(
        blob.get(..2)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?,
    ));
    let private = blob.get(2..2 + len).ok_or_else(bad)?;
    let public = blob.get(2 + len..).ok_or_else(bad)?;
    let private = Private::try_from(private.to_vec()).map_err(tpm_err("private part"))?;
    let public = PublicBuffer::unmarshall(public)
        .and_then(Public::try_from)
        .map_err(tpm_err("public part"))?;
    let mut tpm = Tpm::open(tcti)?;
    let primary = tpm.primary()?;
    let object = tpm
        .ctx
        .execute_with_nullauth_session(|c| c.load(primary, private, public))
        .map_err(tpm_err("loading the sealed object"))?;
    tpm.handles.push(object.into());
    if let Some(pin) = pin {
        let auth = pin.auth()?;
        tpm.ctx
            .tr_set_auth(object.into(), auth)
            .map_err(tpm_err("setting the PIN"))?;
    }
    let enc = tpm.encrypted_session(primary)?;
    let (policy_session, _) =
        tpm.pcr_policy(primary, policy, pin.is_some(), SessionType::Policy)?;
    let what = if pin.is_some() {
        "unsealing (do the PCRs still match the policy, is the PIN right?)"
    } else {
        "unsealing (do the PCRs still match the policy?)"
    };
    let data = tpm
        .ctx
        .execute_with_sessions((Some(policy_session), Some(enc), None), |c| {
            c.unseal(object.into())
        })
        .map_err(tpm_err(what))?;
    let secret = Zeroizing::new(data.to_vec());
    Ok(Zeroizing::new(base64(&secret)))
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testtpm::SwTpm;

    #[test]
    fn seal_unseal_and_refusal_after_pcr_extend() {
        let tpm = SwTpm::start();
        let policy = PcrPolicy::default_pcr7();
        let sealed = seal(&tpm.tcti(), &policy, None).unwrap();
        assert!(!sealed.pin);
        assert_eq!(sealed.passphrase.len(), 44);
        assert_eq!(sealed.policy_hash.len(), 32);
        let again = unseal(&tpm.tcti(), &policy, &sealed.blob, None).unwrap();
        assert_eq!(*again, *sealed.passphrase);
        // Another secret each time.
        let other = seal(&tpm.tcti(), &policy, None).unwrap();
        assert_ne!(*other.passphrase, *sealed.passphrase);
        // The wrong policy for the blob is refused, as is the right one after PCR 7 moves.
        let pcr0 = PcrPolicy {
            pcrs: vec![0, 7],
            bank: Bank::Sha256,
        };
        assert!(unseal(&tpm.tcti(), &pcr0, &sealed.blob, None).is_err());
        tpm.extend(7);
        let refused = unseal(&tpm.tcti(), &policy, &sealed.blob, None).unwrap_err();
        assert!(refused.contains("unsealing"), "{refused}");
        // A PCR not in the policy does not matter.
        let p5 = PcrPolicy {
            pcrs: vec![5],
            bank: Bank::Sha256,
        };
        let s5 = seal(&tpm.tcti(), &p5, None).unwrap();
        tpm.extend(7);
        assert_eq!(
            *unseal(&tpm.tcti(), &p5, &s5.blob, None).unwrap(),
            *s5.passphrase
        );
    }

    #[test]
    fn a_pin_is_part_of_the_policy_and_needed_to_unseal() {
        let tpm = SwTpm::start();
        let policy = PcrPolicy::default_pcr7();
        let pin = Pin::new("123456").unwrap();
        let sealed = seal(&tpm.tcti(), &policy, Some(&pin)).unwrap();
        assert!(sealed.pin);
        // PolicyPCR then PolicyAuthValue: another digest than PolicyPCR alone.
        let plain = seal(&tpm.tcti(), &policy, None).unwrap();
        assert_ne!(sealed.policy_hash, plain.policy_hash);
        assert_eq!(
            *unseal(&tpm.tcti(), &policy, &sealed.blob, Some(&pin)).unwrap(),
            *sealed.passphrase
        );
        assert!(unseal(&tpm.tcti(), &policy, &sealed.blob, None).is_err());
        let wrong = Pin::new("123457").unwrap();
        let refused = unseal(&tpm.tcti(), &policy, &sealed.blob, Some(&wrong)).unwrap_err();
        assert!(refused.contains("PIN"), "{refused}");
        // A PIN given for a token without one makes the policy differ: refused too.
        assert!(unseal(&tpm.tcti(), &policy, &plain.blob, Some(&pin)).is_err());
        // One wrong PIN does not lock the TPM out.
        assert!(unseal(&tpm.tcti(), &policy, &sealed.blob, Some(&pin)).is_ok());
        // The PCRs still count.
        tpm.extend(7);
        assert!(unseal(&tpm.tcti(), &policy, &sealed.blob, Some(&pin)).is_err());
    }

    #[test]
    fn pins_are_checked_and_never_printed() {
        assert!(Pin::new("").is_err());
        assert!(Pin::new("12\0").is_err());
        let pin = Pin::new("secret-4711").unwrap();
        assert!(!format!("{pin:?}").contains("4711"));
    }

    #[test]
    fn bad_pcr_indexes_and_blobs_are_errors() {
        let policy = PcrPolicy {
            pcrs: vec![24],
            bank: Bank::Sha256,
        };
        assert!(policy.selection().unwrap_err().contains("PCR 24"));
        assert!(
            unseal(
                "swtpm:host=127.0.0.1,port=1",
                &PcrPolicy::default_pcr7(),
                &[0, 9, 1],
                None
            )
            .is_err()
        );
    }
}
