//! Compares what the guest's collector reported (or the console showed) with a boot's
//! expectations. Every mismatch becomes one readable line.

use crate::scenario::{Expect, FailureExpect};
use std::collections::BTreeMap;

/// The collector's report: kind → argument → the remaining tab-separated fields.
#[derive(Debug, Default)]
pub struct State {
    entries: BTreeMap<(String, String), Vec<String>>,
}

impl State {
    /// Parses the lines between the collector's markers in the console log.
    pub fn parse(console: &str) -> Option<State> {
        let begin = console.find("=====KINDLING-STATE-BEGIN=====")?;
        let rest = &console[begin..];
        let end = rest.find("=====KINDLING-STATE-END=====")?;
        let mut state = State::default();
        for line in rest[..end].lines().skip(1) {
            let line = line.trim_end_matches('\r');
            let mut fields = line.split('\t').map(str::to_string);
            if let (Some(kind), Some(arg)) = (fields.next(), fields.next()) {
                state.entries.insert((kind, arg), fields.collect());
            }
        }
        Some(state)
    }

    /// Every reported item as (kind, argument, fields), in order of kind and argument.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &[String])> {
        self.entries
            .iter()
            .map(|((k, a), f)| (k.as_str(), a.as_str(), f.as_slice()))
    }

    fn get(&self, kind: &str, arg: &str) -> Option<&[String]> {
        self.entries
            .get(&(kind.to_string(), arg.to_string()))
            .map(Vec::as_slice)
    }
}

/// Decodes standard base64 (what `base64 -w0` prints).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Checks a booted system's state; returns the mismatches.
pub fn state(expect: &Expect, state: &State) -> Vec<String> {
    let mut bad = Vec::new();
    for (path, want) in &expect.files {
        let Some(got) = state.get("file", path) else {
            bad.push(format!("file {path}: not reported"));
            continue;
        };
        check_file(path, want, got, &mut bad);
    }
    for (unit, want) in &expect.units {
        match state.get("unit", unit) {
            Some([active, ..]) if active == want => {}
            // Pulled into this boot, conditions checked and unmet: never started.
            Some([active, _, condition, ..])
                if want == "skipped" && active == "inactive" && condition == "no" => {}
            Some([active, _, condition, ..]) if want == "skipped" => bad.push(format!(
                "unit {unit}: {active}, condition {condition}, expected skipped by its condition"
            )),
            Some([active, ..]) => bad.push(format!("unit {unit}: {active}, expected {want}")),
            _ => bad.push(format!("unit {unit}: not reported")),
        }
    }
    for (user, want) in &expect.users {
        let Some([passwd, groups, ..]) = state.get("user", user) else {
            bad.push(format!("user {user}: absent"));
            continue;
        };
        // name:x:uid:gid:gecos:home:shell
        let f: Vec<&str> = passwd.split(':').collect();
        if let Some(uid) = want.uid
            && f.get(2) != Some(&uid.to_string().as_str())
        {
            bad.push(format!(
                "user {user}: passwd entry {passwd}, expected uid {uid}"
            ));
        }
        if let Some(home) = &want.home
            && f.get(5) != Some(&home.as_str())
        {
            bad.push(format!(
                "user {user}: passwd entry {passwd}, expected home {home}"
            ));
        }
        if let Some(shell) = &want.shell
            && f.get(6) != Some(&shell.as_str())
        {
            bad.push(format!(
                "user {user}: passwd entry {passwd}, expected shell {shell}"
            ));
        }
        let have: Vec<&str> = groups.split(',').collect();
        for g in &want.groups {
            if !have.contains(&g.as_str()) {
                bad.push(format!("user {user}: not in group {g} (groups: {groups})"));
            }
        }
    }
    for (disk, want) in &expect.partitions {
        check_partitions(disk, want, state.get("disk", disk), &mut bad);
    }
    for (dev, want) in &expect.filesystems {
        check_fs(dev, want, state.get("fs", dev), &mut bad);
    }
    for (mount, want) in &expect.mounts {
        match state.get("mount", mount) {
            Some([source, fstype, ..]) => {
                if want.source.as_ref().is_some_and(|s| s != source) {
                    bad.push(format!(
                        "mount {mount}: source {source}, expected {:?}",
                        want.source
                    ));
                }
                if want.fstype.as_ref().is_some_and(|t| t != fstype) {
                    bad.push(format!(
                        "mount {mount}: type {fstype}, expected {:?}",
                        want.fstype
                    ));
                }
            }
            _ => bad.push(format!("mount {mount}: not mounted")),
        }
    }
    if let Some(want) = &expect.kernel_args {
        let cmdline = state
            .iter()
            .find(|(kind, _, _)| *kind == "cmdline")
            .map(|(_, line, _)| line)
            .unwrap_or_default();
        let words: Vec<&str> = cmdline.split_whitespace().collect();
        for w in &want.present {
            if !words.contains(&w.as_str()) {
                bad.push(format!("kernel command line lacks {w}: {cmdline}"));
            }
        }
        for w in &want.absent {
            if words.contains(&w.as_str()) {
                bad.push(format!("kernel command line still has {w}: {cmdline}"));
            }
        }
    }
    if let Some(want) = expect.stages_ran {
        for stage in ["fetch-offline", "files"] {
            let lines: u64 = state
                .get("stage", stage)
                .and_then(|f| f.first())
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
            if (lines > 0) != want {
                let did = if lines > 0 { "ran" } else { "did not run" };
                bad.push(format!("stage {stage} {did} on this boot"));
            }
        }
    }
    bad
}

fn check_file(
    path: &str,
    want: &crate::scenario::FileExpect,
    got: &[String],
    bad: &mut Vec<String>,
) {
    let mut complain = |what: String| bad.push(format!("file {path}: {what}"));
    match got {
        [absent] if absent == "absent" => {
            if !want.absent {
                complain("absent".into());
            }
        }
        _ if want.absent => complain("exists, expected absent".into()),
        [link, target] if link == "link" => {
            if want.kind.as_deref().is_some_and(|k| k != "link") {
                complain(format!("is a link, expected {:?}", want.kind));
            }
            if want.target.as_ref().is_some_and(|t| t != target) {
                complain(format!("links to {target}, expected {:?}", want.target));
            }
        }
        [mode, uid, gid, kind, content @ ..] => {
            if want
                .mode
                .as_ref()
                .is_some_and(|m| m.trim_start_matches('0') != mode)
            {
                complain(format!("mode {mode}, expected {:?}", want.mode));
            }
            if want.uid.is_some_and(|u| u.to_string() != *uid) {
                complain(format!("uid {uid}, expected {:?}", want.uid));
            }
            if want.gid.is_some_and(|g| g.to_string() != *gid) {
                complain(format!("gid {gid}, expected {:?}", want.gid));
            }
            if want.kind.as_ref().is_some_and(|k| k != kind) {
                complain(format!("is a {kind}, expected {:?}", want.kind));
            }
            let text = content
                .first()
                .and_then(|c| base64_decode(c))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            if want.content.as_ref().is_some_and(|c| *c != text) {
                complain(format!("content {text:?}, expected {:?}", want.content));
            }
            for needle in &want.contains {
                if !text.contains(needle.as_str()) {
                    complain(format!("content does not contain {needle:?}"));
                }
            }
        }
        _ => complain(format!("unexpected report {got:?}")),
    }
}

fn check_partitions(
    disk: &str,
    want: &[crate::scenario::PartitionExpect],
    got: Option<&[String]>,
    bad: &mut Vec<String>,
) {
    let table = got
        .and_then(|f| f.first())
        .and_then(|b| base64_decode(b))
        .and_then(|j| serde_json::from_slice::<serde_json::Value>(&j).ok());
    if want.is_empty() {
        // `[]`: no partitions, whether the table is empty or gone.
        let nodes: Vec<String> = table
            .as_ref()
            .and_then(|t| t["partitiontable"]["partitions"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|p| p["node"].as_str().unwrap_or("?").to_string())
            .collect();
        if !nodes.is_empty() {
            bad.push(format!(
                "disk {disk}: expected no partitions, found {nodes:?}"
            ));
        }
        return;
    }
    let Some(table) = table else {
        bad.push(format!("disk {disk}: no partition table"));
        return;
    };
    let sector = table["partitiontable"]["sectorsize"]
        .as_u64()
        .unwrap_or(512);
    let parts = table["partitiontable"]["partitions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for w in want {
        let node_suffix = w.number.to_string();
        let Some(p) = parts.iter().find(|p| {
            p["node"].as_str().is_some_and(|n| {
                n.strip_prefix(disk)
                    .is_some_and(|r| r.trim_start_matches('p') == node_suffix)
            })
        }) else {
            bad.push(format!("disk {disk}: no partition {}", w.number));
            continue;
        };
        let mib = |v: &serde_json::Value| v.as_u64().map(|s| s * sector / (1024 * 1024));
        let n = w.number;
        if w.label
            .as_ref()
            .is_some_and(|l| p["name"].as_str() != Some(l.as_str()))
        {
            bad.push(format!(
                "disk {disk} partition {n}: label {}, expected {:?}",
                p["name"], w.label
            ));
        }
        if w.size_mib.is_some() && mib(&p["size"]) != w.size_mib {
            bad.push(format!(
                "disk {disk} partition {n}: {:?} MiB, expected {:?}",
                mib(&p["size"]),
                w.size_mib
            ));
        }
        if w.start_mib.is_some() && mib(&p["start"]) != w.start_mib {
            bad.push(format!(
                "disk {disk} partition {n}: starts at {:?} MiB, expected {:?}",
                mib(&p["start"]),
                w.start_mib
            ));
        }
        if let Some(t) = &w.type_guid
            && !p["type"]
                .as_str()
                .is_some_and(|g| g.eq_ignore_ascii_case(t))
        {
            bad.push(format!(
                "disk {disk} partition {n}: type {}, expected {t}",
                p["type"]
            ));
        }
    }
}

/// The collector's `fs <dev> <blkid exit status> <base64 of blkid -p -o export>`.
fn check_fs(
    dev: &str,
    want: &crate::scenario::FsExpect,
    got: Option<&[String]>,
    bad: &mut Vec<String>,
) {
    let Some([status, export, ..]) = got else {
        bad.push(format!("filesystem {dev}: not reported"));
        return;
    };
    let text = base64_decode(export)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_default()
            .to_string()
    };
    // blkid: 2 = no signature, 8 = ambivalent (several signatures).
    let found = match status.as_str() {
        "0" => value("TYPE"),
        "2" => String::new(),
        "8" => "(ambivalent)".into(),
        other => format!("(blkid exit status {other})"),
    };
    let mut differs =
        |what: &str, got: String, want: &Option<String>, same: fn(&str, &str) -> bool| {
            if let Some(w) = want
                && !same(&got, w)
            {
                bad.push(format!("filesystem {dev}: {what} {got:?}, expected {w:?}"));
            }
        };
    differs("type", found, &want.fs_type, |a, b| a == b);
    differs("label", value("LABEL"), &want.label, |a, b| a == b);
    differs("uuid", value("UUID"), &want.uuid, |a, b| {
        a.eq_ignore_ascii_case(b)
    });
}

/// Checks the console of a boot that had to stop in emergency mode.
pub fn failure(want: &FailureExpect, console: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let Some(at) = console.find("Kindling: provisioning failed") else {
        return vec!["no failure summary on the console".into()];
    };
    let summary = &console[at..];
    let summary = &summary[..summary.find("\n=====").map_or(summary.len(), |e| e)];
    if !summary.contains(&format!("Stage:   {} ", want.stage)) {
        bad.push(format!(
            "summary does not name stage {}:\n{summary}",
            want.stage
        ));
    }
    for needle in &want.contains {
        if !summary.contains(needle.as_str()) {
            bad.push(format!("summary does not contain {needle:?}:\n{summary}"));
        }
    }
    for needle in &want.console {
        if !console.contains(needle.as_str()) {
            bad.push(format!("the console does not show {needle:?}"));
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(base64_decode("aGVsbG8K").as_deref(), Some(&b"hello\n"[..]));
        assert_eq!(base64_decode("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64_decode("*"), None);
    }

    #[test]
    fn no_partitions_means_an_empty_or_missing_table() {
        // {"partitiontable":{"partitions":[{"node":"/dev/vdd1"}]}} and an empty table.
        let one = [
            "eyJwYXJ0aXRpb250YWJsZSI6eyJwYXJ0aXRpb25zIjpbeyJub2RlIjoiL2Rldi92ZGQxIn1dfX0=".into(),
        ];
        let none = ["eyJwYXJ0aXRpb250YWJsZSI6eyJwYXJ0aXRpb25zIjpbXX19".into()];
        let check = |got: Option<&[String]>| {
            let mut bad = Vec::new();
            check_partitions("/dev/vdd", &[], got, &mut bad);
            bad
        };
        assert_eq!(
            check(Some(&one)),
            ["disk /dev/vdd: expected no partitions, found [\"/dev/vdd1\"]"]
        );
        assert!(check(Some(&none)).is_empty());
        assert!(check(None).is_empty());
    }

    #[test]
    fn parses_collector_report_and_checks_files() {
        let console = "noise\n=====KINDLING-STATE-BEGIN=====\r\n\
            file\t/etc/motd\t644\t0\t0\tregular_file\taGVsbG8K\r\n\
            file\t/etc/none\tabsent\r\n\
            unit\tweb.service\tactive\tenabled\r\n\
            =====KINDLING-STATE-END=====\n";
        let state = State::parse(console).unwrap();
        let expect: Expect = serde_json::from_str(
            r#"{"files": {"/etc/motd": {"content": "hello\n", "mode": "0644", "uid": 0},
                          "/etc/none": {"absent": true}},
                "units": {"web.service": "active"}}"#,
        )
        .unwrap();
        assert!(super::state(&expect, &state).is_empty());
        let wrong: Expect = serde_json::from_str(
            r#"{"files": {"/etc/motd": {"content": "bye\n", "mode": "600"},
                          "/etc/none": {}},
                "units": {"web.service": "failed"}}"#,
        )
        .unwrap();
        assert_eq!(super::state(&wrong, &state).len(), 4);
    }

    #[test]
    fn a_skipped_unit_had_its_condition_checked_and_unmet() {
        let console = "=====KINDLING-STATE-BEGIN=====\n\
            unit\tskipped.service\tinactive\tenabled\tno\n\
            unit\tnever.service\tinactive\t\tunchecked\n\
            unit\tran.service\tactive\tenabled\tyes\n\
            =====KINDLING-STATE-END=====\n";
        let state = State::parse(console).unwrap();
        let expect = |unit: &str| -> Expect {
            serde_json::from_str(&format!(r#"{{"units": {{"{unit}": "skipped"}}}}"#)).unwrap()
        };
        assert!(super::state(&expect("skipped.service"), &state).is_empty());
        assert_eq!(super::state(&expect("never.service"), &state).len(), 1);
        assert_eq!(super::state(&expect("ran.service"), &state).len(), 1);
    }

    #[test]
    fn filesystems_are_compared_with_blkid() {
        // TYPE=ext4 LABEL=data UUID=AB-CD
        let export = "VFlQRT1leHQ0CkxBQkVMPWRhdGEKVVVJRD1BQi1DRAo=";
        let console = format!(
            "=====KINDLING-STATE-BEGIN=====\nfs\t/dev/vdb1\t0\t{export}\n\
             fs\t/dev/vdb2\t2\t\nfs\t/dev/vdb3\t8\t\n=====KINDLING-STATE-END=====\n"
        );
        let state = State::parse(&console).unwrap();
        let expect: Expect = serde_json::from_str(
            r#"{"filesystems": {"/dev/vdb1": {"type": "ext4", "label": "data", "uuid": "ab-cd"},
                                "/dev/vdb2": {"type": ""}, "/dev/vdb3": {"type": "(ambivalent)"}}}"#,
        )
        .unwrap();
        assert_eq!(super::state(&expect, &state), Vec::<String>::new());
        let wrong: Expect = serde_json::from_str(
            r#"{"filesystems": {"/dev/vdb1": {"type": "xfs", "label": "x"},
                                "/dev/vdb2": {"type": "ext4"}, "/dev/vdc": {}}}"#,
        )
        .unwrap();
        assert_eq!(super::state(&wrong, &state).len(), 4);
    }

    #[test]
    fn failure_summary_must_name_the_stage() {
        let console = "x\n==== Kindling: provisioning failed ====\nStage:   files (ignition-files.service)\nError:\n  bad hash\n=====\n";
        let mut want = FailureExpect {
            stage: "files".into(),
            contains: vec!["bad hash".into()],
            console: vec!["x\n".into()],
        };
        assert!(failure(&want, console).is_empty());
        want.console.push("refusal".into());
        assert_eq!(failure(&want, console).len(), 1);
        let other = FailureExpect {
            stage: "disks".into(),
            ..FailureExpect::default()
        };
        assert_eq!(failure(&other, console).len(), 1);
    }
}
