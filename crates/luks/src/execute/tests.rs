//! The whole volume lifecycle on image files: formats, reuse and refusals, TPM2 against swtpm,
//! clevis against a loopback tang server.

use super::*;
use crate::header::{self, Header};
use crate::testtpm::{SwTpm, Tang};
use kindling_config::model::Luks;
use zeroize::Zeroizing;

fn image(dir: &Path, name: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    p
}

fn luks(json: &str) -> Luks {
    serde_json::from_str(json).unwrap()
}

fn found(img: &Path) -> Found {
    match header::read(img, 0).unwrap() {
        Header::None => Found::Blank,
        Header::Luks1 => Found::Luks1,
        Header::Luks2(h) => Found::Luks2(h),
    }
}

fn env(tcti: &str) -> Env {
    Env {
        tcti: tcti.to_string(),
        activate: false,
    }
}

fn run(l: &Luks, img: &Path, key: Option<&[u8]>, tcti: &str) -> Result<Done, String> {
    let v = plan::plan(l, "$.storage.luks.0", found(img))?;
    execute(
        &v,
        img,
        key.map(|k| Zeroizing::new(k.to_vec())),
        |_| unreachable!("nothing is deferred here"),
        &env(tcti),
    )
}

fn luks2(img: &Path) -> header::Luks2 {
    match header::read(img, 0).unwrap() {
        Header::Luks2(h) => h,
        other => panic!("expected LUKS2, found {other:?}"),
    }
}

fn keyslots(img: &Path) -> Vec<String> {
    luks2(img).metadata["keyslots"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn generated_key_gets_a_minimal_slot_and_is_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), "a.img");
    let l = luks(r#"{"name":"data","device":"/dev/vdb","label":"data","discard":true}"#);
    let done = run(&l, &img, None, "").unwrap();
    let key = done.persist_key.expect("key persisted");
    assert_eq!(key.len(), 8192);
    let h = luks2(&img);
    assert_eq!(
        (h.label.as_str(), h.uuid.as_str()),
        ("data", done.uuid.as_str())
    );
    assert_eq!(h.persistent_flags(), vec!["allow-discards"]);
    assert_eq!(h.metadata["keyslots"]["0"]["kdf"]["type"], "pbkdf2");
    assert_eq!(h.metadata["keyslots"]["0"]["kdf"]["iterations"], 1000);
    assert_eq!(volume::check_key(&img, &key, None).unwrap(), 0);
    assert_eq!(
        crate::crypttab::line(&l, &done.uuid),
        format!(
            "data UUID={} /etc/luks/data luks,x-initrd.attach\n",
            done.uuid
        )
    );
}

#[test]
fn configured_key_keeps_argon2id_and_the_volume_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), "a.img");
    let l = luks(
        r#"{"name":"data","device":"/dev/vdb","label":"L","uuid":"0b9e5a3c-4f7e-4bd0-9a52-7f1c2d3e4f50",
            "keyFile":{"source":"data:,passphrase"}}"#,
    );
    let done = run(&l, &img, Some(b"passphrase"), "").unwrap();
    assert_eq!(done.uuid, "0b9e5a3c-4f7e-4bd0-9a52-7f1c2d3e4f50");
    assert_eq!(
        luks2(&img).metadata["keyslots"]["0"]["kdf"]["type"],
        "argon2id"
    );
    assert_eq!(&**done.persist_key.as_ref().unwrap(), b"passphrase");

    // Second run, same config: reused, untouched.
    let before = std::fs::read(&img).unwrap();
    let v = plan::plan(&l, "$", found(&img)).unwrap();
    assert_eq!(v.action, Action::Reuse);
    let again = run(&l, &img, Some(b"passphrase"), "").unwrap();
    assert_eq!(again.uuid, done.uuid);
    assert_eq!(std::fs::read(&img).unwrap(), before);

    // A wrong key is refused when executing, and nothing is written.
    let err = run(&l, &img, Some(b"wrong"), "").err().unwrap();
    assert!(err.contains("could not be reused"), "{err}");
    assert_eq!(std::fs::read(&img).unwrap(), before);
}

#[test]
fn reuse_and_refusal_rules() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), "a.img");
    let base = r#""name":"d","device":"/dev/vdb","keyFile":{"source":"data:,k"},"options":["--pbkdf-force-iterations=1000","--pbkdf=pbkdf2"]"#;
    run(
        &luks(&format!("{{{base},\"label\":\"one\"}}")),
        &img,
        Some(b"k"),
        "",
    )
    .unwrap();
    let before = std::fs::read(&img).unwrap();
    for (extra, why) in [
        (r#","label":"two""#, "label is \"one\""),
        (
            r#","label":"one","uuid":"0b9e5a3c-4f7e-4bd0-9a52-7f1c2d3e4f50""#,
            "UUID is",
        ),
        (r#","label":"one","discard":true"#, "discard is false"),
        (r#","label":"one","clevis":{"tpm2":true}"#, "clevis"),
        (r#","label":"one","kindlingTpm2":{}"#, "TPM2"),
    ] {
        let err = plan::plan(&luks(&format!("{{{base}{extra}}}")), "$", found(&img)).unwrap_err();
        assert!(
            err.contains("could not be reused") && err.contains(why),
            "{extra}: {err}"
        );
    }
    let generated = luks(r#"{"name":"d","device":"/dev/vdb"}"#);
    assert!(
        plan::plan(&generated, "$", found(&img))
            .unwrap_err()
            .contains("needs the volume's key in keyFile")
    );
    assert_eq!(std::fs::read(&img).unwrap(), before);

    // Other signatures and LUKS1 are refused; wipeVolume overrides all of it.
    let other = plan::plan(&generated, "$", Found::Other("ext4".into())).unwrap_err();
    assert!(
        other.contains("not of the correct type (found ext4)"),
        "{other}"
    );
    assert!(
        plan::plan(&generated, "$", Found::Luks1)
            .unwrap_err()
            .contains("not luks2")
    );
    let wipe = luks(r#"{"name":"d","device":"/dev/vdb","wipeVolume":true}"#);
    assert_eq!(
        plan::plan(&wipe, "$", Found::Other("ext4".into()))
            .unwrap()
            .action,
        Action::Format { wipe: true }
    );
    let old_uuid = luks2(&img).uuid;
    let done = run(&wipe, &img, None, "").unwrap();
    assert_ne!(done.uuid, old_uuid);
}

#[test]
fn unsupported_options_are_refused_when_planning() {
    let l = luks(r#"{"name":"d","device":"/dev/vdb","options":["--integrity","hmac-sha256"]}"#);
    assert!(
        plan::plan(&l, "$", Found::Blank)
            .unwrap_err()
            .contains("--integrity")
    );
    let l = luks(r#"{"name":"d","device":"/dev/vdb","cex":{"enabled":true}}"#);
    assert!(
        plan::plan(&l, "$", Found::Blank)
            .unwrap_err()
            .contains("cex")
    );
}

#[test]
fn tpm2_token_replaces_the_generated_key_and_follows_pcr7() {
    let tpm = SwTpm::start();
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), "a.img");
    let l = luks(r#"{"name":"secure","device":"/dev/vdb","kindlingTpm2":{}}"#);
    let done = run(&l, &img, None, &tpm.tcti()).unwrap();
    assert!(done.persist_key.is_none());
    // Only the TPM2 slot is left, minimal, with its token.
    assert_eq!(keyslots(&img), vec!["1"]);
    let h = luks2(&img);
    assert_eq!(h.metadata["keyslots"]["1"]["kdf"]["type"], "pbkdf2");
    let tokens = h.tokens("systemd-tpm2");
    assert_eq!(tokens.len(), 1);
    let t = tokens[0];
    assert_eq!(t["keyslots"], serde_json::json!(["1"]));
    assert_eq!(t["tpm2-pcrs"], serde_json::json!([7]));
    assert_eq!(t["tpm2-pcr-bank"], "sha256");
    assert_eq!(t["tpm2-primary-alg"], "ecc");
    assert!(t.get("tpm2_srk").is_none());
    let token::Tpm2Token { policy, blob, pin } = token::parse_systemd_tpm2(t).unwrap();
    assert!(!pin);
    assert_eq!(t["tpm2-pin"], false);
    let pass = tpm2::unseal(&tpm.tcti(), &policy, &blob, None).unwrap();
    assert_eq!(
        volume::check_key(&img, pass.as_bytes(), Some(1)).unwrap(),
        1
    );
    tpm.extend(7);
    assert!(tpm2::unseal(&tpm.tcti(), &policy, &blob, None).is_err());
    assert_eq!(
        crate::crypttab::line(&l, &done.uuid),
        format!(
            "secure UUID={} none luks,tpm2-device=auto,x-initrd.attach\n",
            done.uuid
        )
    );
}

#[test]
fn tpm2_with_a_configured_key_keeps_it_as_recovery() {
    let tpm = SwTpm::start();
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), "a.img");
    let l = luks(
        r#"{"name":"s","device":"/dev/vdb","keyFile":{"source":"data:,recovery"},
            "options":["--pbkdf=pbkdf2","--pbkdf-force-iterations=1000"],
            "kindlingTpm2":{"pcrs":[0,7],"pcrBank":"sha256"}}"#,
    );
    let done = run(&l, &img, Some(b"recovery"), &tpm.tcti()).unwrap();
    assert!(done.persist_key.is_none());
    assert_eq!(keyslots(&img), vec!["0", "1"]);
    assert_eq!(volume::check_key(&img, b"recovery", None).unwrap(), 0);
    let h = luks2(&img);
    assert_eq!(
        h.tokens("systemd-tpm2")[0]["tpm2-pcrs"],
        serde_json::json!([0, 7])
    );
}

#[test]
fn tpm2_unreachable_fails_without_leaving_a_half_bound_volume_unnoticed() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), "a.img");
    let l = luks(r#"{"name":"s","device":"/dev/vdb","kindlingTpm2":{}}"#);
    let err = run(&l, &img, None, "swtpm:host=127.0.0.1,port=1")
        .err()
        .unwrap();
    assert!(err.contains("cannot open the TPM"), "{err}");
}

#[test]
fn tang_binding_unlocks_while_the_server_is_up_only() {
    let mut tang = Tang::start();
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), "a.img");
    let l = luks(&format!(
        r#"{{"name":"t","device":"/dev/vdb","clevis":{{"tang":[{{"url":"{}","thumbprint":"{}"}}]}}}}"#,
        tang.url, tang.thumbprint
    ));
    let done = run(&l, &img, None, "").unwrap();
    assert!(done.persist_key.is_none());
    // Only the clevis slot remains.
    let h = luks2(&img);
    let slot: u32 = h.tokens("clevis")[0]["keyslots"][0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(keyslots(&img), vec![slot.to_string()]);
    clevis::check(&img, slot, "").unwrap();
    tang.down();
    assert!(clevis::check(&img, slot, "").is_err());
    tang.up();
    clevis::check(&img, slot, "").unwrap();
    assert_eq!(
        crate::crypttab::line(&l, &done.uuid),
        format!("t UUID={} none luks,_netdev,x-initrd.attach\n", done.uuid)
    );
}

#[test]
fn sss_with_tang_and_tpm2_honours_the_threshold() {
    let tpm = SwTpm::start();
    let mut tang = Tang::start();
    let dir = tempfile::tempdir().unwrap();
    for (threshold, unlocks_without_tang) in [(2, false), (1, true)] {
        let img = image(dir.path(), &format!("t{threshold}.img"));
        let l = luks(&format!(
            r#"{{"name":"s","device":"/dev/vdb","clevis":{{"tpm2":true,"threshold":{threshold},
                "tang":[{{"url":"{}","thumbprint":"{}"}}]}}}}"#,
            tang.url, tang.thumbprint
        ));
        run(&l, &img, None, &tpm.tcti()).unwrap();
        let slot: u32 = luks2(&img).tokens("clevis")[0]["keyslots"][0]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        tang.down();
        assert_eq!(
            clevis::check(&img, slot, &tpm.tcti()).is_ok(),
            unlocks_without_tang,
            "threshold {threshold}"
        );
        tang.up();
        clevis::check(&img, slot, &tpm.tcti()).unwrap();
    }
}

#[test]
fn tpm2_pin_volume_needs_the_pin_and_gets_an_on_demand_crypttab_line() {
    let tpm = SwTpm::start();
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), "a.img");
    let l = luks(r#"{"name":"pinned","device":"/dev/vdb","kindlingTpm2":{"pin":"4711 Brünn"}}"#);
    let done = run(&l, &img, None, &tpm.tcti()).unwrap();
    assert!(done.persist_key.is_none());
    assert_eq!(keyslots(&img), vec!["1"]);
    let h = luks2(&img);
    let t = h.tokens("systemd-tpm2")[0];
    assert_eq!(t["tpm2-pin"], true);
    // The PIN is nowhere in the header.
    assert!(!h.metadata.to_string().contains("4711"));
    let t = token::parse_systemd_tpm2(t).unwrap();
    assert!(t.pin);
    let pin = tpm2::Pin::new("4711 Brünn").unwrap();
    let pass = tpm2::unseal(&tpm.tcti(), &t.policy, &t.blob, Some(&pin)).unwrap();
    assert_eq!(volume::check_key(&img, pass.as_bytes(), None).unwrap(), 1);
    assert!(tpm2::unseal(&tpm.tcti(), &t.policy, &t.blob, None).is_err());
    assert_eq!(
        crate::crypttab::line(&l, &done.uuid),
        format!(
            "pinned UUID={} none luks,tpm2-device=auto,x-initrd.attach\n",
            done.uuid
        )
    );
}

/// systemd-cryptenroll (252 on Debian 12) with `--tpm2-with-pin` on one image, Kindling with
/// the same PIN and PCRs on another, same TPM: each side's sealed object opens with the other's
/// derivation (Kindling unseals systemd's blob with the PIN) and both demand the same policy.
#[test]
fn tpm2_pin_token_matches_systemd_cryptenroll() {
    let tpm = SwTpm::start();
    let dir = tempfile::tempdir().unwrap();
    let theirs = image(dir.path(), "theirs.img");
    let l = luks(
        r#"{"name":"s","device":"/dev/vdb","keyFile":{"source":"data:,recovery"},"options":["--pbkdf=pbkdf2","--pbkdf-force-iterations=1000"]}"#,
    );
    run(&l, &theirs, Some(b"recovery"), &tpm.tcti()).unwrap();
    let out = Command::new("systemd-cryptenroll")
        .arg(format!("--tpm2-device={}", tpm.tcti()))
        .args(["--tpm2-pcrs=7", "--tpm2-with-pin=yes"])
        .arg(&theirs)
        .env("PASSWORD", "recovery")
        .env("NEWPIN", "0815")
        .output()
        .expect("systemd-cryptenroll (systemd) must be installed");
    assert!(out.status.success(), "{out:?}");
    let theirs_h = luks2(&theirs);
    let their_token = theirs_h.tokens("systemd-tpm2")[0];
    let t = token::parse_systemd_tpm2(their_token).unwrap();
    assert!(t.pin);
    let pin = tpm2::Pin::new("0815").unwrap();
    let pass = tpm2::unseal(&tpm.tcti(), &t.policy, &t.blob, Some(&pin)).unwrap();
    volume::check_key(&theirs, pass.as_bytes(), None).unwrap();
    // Without the PIN the policy does not match: refused before the TPM checks any PIN.
    assert!(tpm2::unseal(&tpm.tcti(), &t.policy, &t.blob, None).is_err());

    let ours = image(dir.path(), "ours.img");
    let l = luks(r#"{"name":"s","device":"/dev/vdb","kindlingTpm2":{"pin":"0815"}}"#);
    run(&l, &ours, None, &tpm.tcti()).unwrap();
    let ours_h = luks2(&ours);
    let our_token = ours_h.tokens("systemd-tpm2")[0];
    assert_eq!(
        our_token["tpm2-policy-hash"],
        their_token["tpm2-policy-hash"]
    );
    for field in ["tpm2-pin", "tpm2-pcrs", "tpm2-pcr-bank", "tpm2-primary-alg"] {
        assert_eq!(our_token[field], their_token[field], "{field}");
    }
    let keys = |t: &serde_json::Value| t.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(our_token), keys(their_token));
}
