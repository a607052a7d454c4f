//! The reference's §7 partition cases, decided against in-memory tables (the image-file tests in
//! `tests/` write and re-read them).

use super::*;
use crate::table::Table;

const MIB: u64 = 2048;
const ROOT_TYPE: &str = "3884dd41-8582-4404-b9a8-e9b84f2df50e";

fn disk(json: &str) -> Disk {
    serde_json::from_str(json).unwrap()
}

fn entry(first_mib: u64, size_mib: u64, name: &str) -> Entry {
    Entry {
        type_guid: DEFAULT_TYPE_GUID,
        guid: Uuid::new_v4(),
        first: first_mib * MIB,
        last: (first_mib + size_mib) * MIB - 1,
        name: name.into(),
        flags: 0,
    }
}

/// 1 GiB disk laid out like the blackbox base disk: 1 EFI-SYSTEM, 6 OEM, 9 ROOT, 128 MiB each
/// at 2, 130 and 258 MiB.
fn base() -> Table {
    let mut t = Table::new(512, 1 << 21).unwrap();
    t.entries.insert(1, entry(2, 128, "EFI-SYSTEM"));
    t.entries.insert(6, entry(130, 128, "OEM"));
    let mut root = entry(258, 128, "ROOT");
    root.type_guid = Uuid::parse_str(ROOT_TYPE).unwrap();
    t.entries.insert(9, root);
    t
}

fn blank() -> Table {
    Table::new(512, 1 << 21).unwrap()
}

fn run(table: &Table, json: &str) -> DiskDecision {
    decide(&disk(json), 0, "/dev/vdb", table, &Usage::default())
}

fn ok(table: &Table, json: &str) -> DiskDecision {
    let d = run(table, json);
    assert!(
        d.refusals.is_empty(),
        "unexpected refusals: {:?}",
        d.refusals
    );
    d
}

fn refused(table: &Table, json: &str) -> Vec<String> {
    let d = run(table, json);
    assert!(
        !d.refusals.is_empty(),
        "expected a refusal, got {:?}",
        d.actions
    );
    d.refusals
}

fn after(d: &DiskDecision) -> &Table {
    d.table_after.as_ref().expect("a table to write")
}

fn kinds(d: &DiskDecision) -> Vec<(u32, &'static str)> {
    d.actions
        .iter()
        .map(|a| {
            let k = match a.action {
                PartitionAction::Keep { .. } => "keep",
                PartitionAction::Absent { .. } => "absent",
                PartitionAction::Create { .. } => "create",
                PartitionAction::Delete { .. } => "delete",
                PartitionAction::Recreate { .. } => "recreate",
                PartitionAction::Resize { .. } => "resize",
            };
            (a.action.number(), k)
        })
        .collect()
}

#[test]
fn partition_create_with_type_guid_label_and_start() {
    let guid = "05a37d3b-2d81-4a71-a3a4-f4ee4f26a2d4";
    for start in ["", r#""startMiB": 1,"#] {
        let d = ok(
            &blank(),
            &format!(
                r#"{{"device": "/dev/vdb", "partitions": [{{"number": 1, {start} "sizeMiB": 32,
                "label": "important-data", "typeGuid": "{ROOT_TYPE}", "guid": "{guid}"}}]}}"#
            ),
        );
        let e = &after(&d).entries[&1];
        assert_eq!((e.first, e.size()), (MIB, 32 * MIB));
        assert_eq!(e.name, "important-data");
        assert_eq!(e.guid.to_string(), guid);
        assert_eq!(e.type_guid.to_string(), ROOT_TYPE);
    }
}

#[test]
fn partition_append_keeps_existing_and_untouched_entries() {
    let base = base();
    let d = ok(
        &base,
        r#"{"device": "/dev/vdb", "partitions": [
            {"number": 2, "sizeMiB": 32}, {"number": 3, "sizeMiB": 32}]}"#,
    );
    assert_eq!(kinds(&d), [(2, "create"), (3, "create")]);
    let t = after(&d);
    assert_eq!(t.entries[&2].first, 386 * MIB);
    assert_eq!(t.entries[&3].first, 418 * MIB);
    assert_eq!(t.entries[&9], base.entries[&9]);
}

#[test]
fn partition_resizeroot_with_wipe_entry_grows_into_following_space() {
    let d = ok(
        &base(),
        r#"{"device": "/dev/vdb", "partitions": [{"number": 9, "label": "ROOT",
            "sizeMiB": 512, "wipePartitionEntry": true}]}"#,
    );
    assert_eq!(kinds(&d), [(9, "recreate")]);
    let e = &after(&d).entries[&9];
    assert_eq!((e.first, e.size()), (258 * MIB, 512 * MIB));
    // Recreated from the config: a new GUID, the default type.
    assert_ne!(e.guid, base().entries[&9].guid);
    assert_eq!(e.type_guid, DEFAULT_TYPE_GUID);
}

#[test]
fn partition_resize_existing_keeps_identity() {
    let base = base();
    let d = ok(
        &base,
        r#"{"device": "/dev/vdb", "partitions": [{"number": 9, "label": "ROOT",
            "sizeMiB": 512, "resize": true}]}"#,
    );
    assert_eq!(kinds(&d), [(9, "resize")]);
    let (old, new) = (&base.entries[&9], &after(&d).entries[&9]);
    assert_eq!((new.first, new.size()), (old.first, 512 * MIB));
    assert_eq!(
        (&new.guid, &new.type_guid, &new.name),
        (&old.guid, &old.type_guid, &old.name)
    );
}

#[test]
fn resize_with_a_different_start_is_refused() {
    let r = refused(
        &base(),
        r#"{"device": "/dev/vdb", "partitions": [{"number": 9, "startMiB": 300,
            "sizeMiB": 512, "resize": true}]}"#,
    );
    assert_eq!(
        r,
        [format!(
            "partition 9 didn't match: starting sector did not match (specified {}, got {})",
            300 * MIB,
            258 * MIB
        )]
    );
}

#[test]
fn partitions_complex() {
    let mut t = base();
    t.entries.insert(2, entry(386, 64, "two"));
    t.entries.insert(4, entry(450, 64, "four"));
    t.entries.insert(5, entry(514, 64, "five"));
    t.entries.remove(&9);
    let d = ok(
        &t,
        r#"{"device": "/dev/vdb", "partitions": [
            {"number": 1, "sizeMiB": 64, "wipePartitionEntry": true},
            {"number": 2, "sizeMiB": 64},
            {"number": 3, "startMiB": 0, "sizeMiB": 0, "wipePartitionEntry": true},
            {"number": 4, "shouldExist": false, "wipePartitionEntry": true},
            {"number": 9, "shouldExist": false}]}"#,
    );
    assert_eq!(
        kinds(&d),
        [
            (4, "delete"),
            (1, "recreate"),
            (2, "keep"),
            (3, "create"),
            (9, "absent")
        ]
    );
    let a = after(&d);
    // Without a start, #1 goes to the largest free block of the dry run (after #5, 578 MiB),
    // and #3 then fills what is left of that block.
    assert_eq!(
        (a.entries[&1].first, a.entries[&1].size()),
        (578 * MIB, 64 * MIB)
    );
    assert_eq!(a.entries[&3].first, 642 * MIB);
    assert_eq!(a.entries[&3].last, a.last_usable);
    assert!(!a.entries.contains_key(&4));
    assert_eq!(a.entries[&5], t.entries[&5]);
}

#[test]
fn partition_delete_and_delete_all() {
    let d = ok(
        &base(),
        r#"{"device": "/dev/vdb", "partitions": [
            {"number": 1, "shouldExist": false, "wipePartitionEntry": true}]}"#,
    );
    assert_eq!(kinds(&d), [(1, "delete")]);
    assert_eq!(
        after(&d).entries.keys().copied().collect::<Vec<_>>(),
        [6, 9]
    );
    let all = [1, 2, 3, 4, 6, 7, 9]
        .iter()
        .map(|n| format!(r#"{{"number": {n}, "shouldExist": false, "wipePartitionEntry": true}}"#))
        .collect::<Vec<_>>()
        .join(",");
    let d = ok(
        &base(),
        &format!(r#"{{"device": "/dev/vdb", "partitions": [{all}]}}"#),
    );
    assert!(after(&d).entries.is_empty());
}

#[test]
fn partition_match_recreate_delete_add() {
    let mut t = blank();
    for n in 1..=3u32 {
        t.entries
            .insert(n, entry(u64::from(n) * 64, 64, &format!("p{n}")));
    }
    let d = ok(
        &t,
        r#"{"device": "/dev/vdb", "partitions": [
            {"number": 1, "label": "p1", "startMiB": 64, "sizeMiB": 64},
            {"number": 2, "label": "new2", "sizeMiB": 32, "wipePartitionEntry": true},
            {"number": 3, "shouldExist": false, "wipePartitionEntry": true},
            {"number": 4, "sizeMiB": 32}]}"#,
    );
    assert_eq!(
        kinds(&d),
        [(3, "delete"), (1, "keep"), (2, "recreate"), (4, "create")]
    );
}

#[test]
fn no_op_cases_write_nothing() {
    assert!(
        ok(&base(), r#"{"device": "/dev/vdb"}"#)
            .table_after
            .is_none()
    );
    let d = ok(
        &base(),
        r#"{"device": "/dev/vdb", "partitions": [
            {"number": 3, "shouldExist": false}, {"number": 4, "shouldExist": false}]}"#,
    );
    assert!(d.table_after.is_none());
    assert_eq!(kinds(&d), [(3, "absent"), (4, "absent")]);
    let d = ok(
        &base(),
        &format!(
            r#"{{"device": "/dev/vdb", "partitions": [
            {{"number": 1, "label": "EFI-SYSTEM", "startMiB": 2, "sizeMiB": 128}},
            {{"number": 6, "label": "OEM", "startMiB": 130, "sizeMiB": 128}},
            {{"number": 9, "label": "ROOT", "startMiB": 258, "sizeMiB": 128,
              "typeGuid": "{}", "wipePartitionEntry": true}}]}}"#,
            ROOT_TYPE.to_uppercase()
        ),
    );
    assert!(d.table_after.is_none());
    assert_eq!(kinds(&d), [(1, "keep"), (6, "keep"), (9, "keep")]);
}

#[test]
fn start_and_size_zero_fill_the_disk() {
    let d = ok(
        &blank(),
        r#"{"device": "/dev/vdb", "partitions": [{"number": 1, "startMiB": 0, "sizeMiB": 0}]}"#,
    );
    let t = after(&d);
    assert_eq!(
        (t.entries[&1].first, t.entries[&1].last),
        (MIB, t.last_usable)
    );
}

#[test]
fn number_zero_takes_the_next_free_slots() {
    let d = ok(
        &blank(),
        r#"{"device": "/dev/vdb", "partitions": [
            {"label": "a", "sizeMiB": 32}, {"label": "b", "sizeMiB": 32}, {"label": "c", "sizeMiB": 32}]}"#,
    );
    let t = after(&d);
    let labels: Vec<_> = t
        .entries
        .iter()
        .map(|(n, e)| (*n, e.name.as_str()))
        .collect();
    assert_eq!(labels, [(1, "a"), (2, "b"), (3, "c")]);
    assert_eq!(t.entries[&3].first, 65 * MIB);
}

#[test]
fn number_zero_comes_after_numbered_entries() {
    let mut t = blank();
    t.entries.insert(1, entry(1, 32, "foobar"));
    let d = ok(
        &t,
        r#"{"device": "/dev/vdb", "partitions": [{"label": "newpart", "sizeMiB": 32}, {"number": 1}]}"#,
    );
    assert_eq!(kinds(&d), [(1, "keep"), (2, "create")]);
    assert_eq!(after(&d).entries[&2].name, "newpart");
}

#[test]
fn number_zero_may_reuse_a_slot_deleted_in_the_same_plan() {
    let mut t = blank();
    t.entries.insert(1, entry(1, 32, "old"));
    let d = ok(
        &t,
        r#"{"device": "/dev/vdb", "partitions": [
            {"number": 1, "shouldExist": false, "wipePartitionEntry": true},
            {"label": "new", "sizeMiB": 16}]}"#,
    );
    assert_eq!(kinds(&d), [(1, "delete"), (1, "create")]);
    let e = &after(&d).entries[&1];
    assert_eq!((e.name.as_str(), e.first), ("new", MIB));
}

#[test]
fn root_with_zeros() {
    // Grows to fill with wipePartitionEntry.
    let d = ok(
        &base(),
        r#"{"device": "/dev/vdb", "partitions": [{"number": 9, "label": "ROOT",
            "startMiB": 0, "sizeMiB": 0, "wipePartitionEntry": true}]}"#,
    );
    let t = after(&d);
    assert_eq!(
        (t.entries[&9].first, t.entries[&9].last),
        (258 * MIB, t.last_usable)
    );
    // Already fills the disk: matches.
    let mut filled = base();
    let last = filled.last_usable;
    if let Some(e) = filled.entries.get_mut(&9) {
        e.last = last;
    }
    let d = ok(
        &filled,
        r#"{"device": "/dev/vdb", "partitions": [{"number": 9, "label": "ROOT",
            "startMiB": 0, "sizeMiB": 0}]}"#,
    );
    assert_eq!(kinds(&d), [(9, "keep")]);
    // Only a type GUID, free space after it: matches, untouched.
    let d = ok(
        &base(),
        &format!(
            r#"{{"device": "/dev/vdb", "partitions": [{{"number": 9, "typeGuid": "{ROOT_TYPE}"}}]}}"#
        ),
    );
    assert_eq!(kinds(&d), [(9, "keep")]);
}

#[test]
fn refusals_carry_ignition_reasons() {
    assert_eq!(
        refused(
            &base(),
            r#"{"device": "/dev/vdb", "partitions": [{"number": 9, "shouldExist": false}]}"#
        ),
        ["partition 9 exists but is specified as nonexistant and wipePartitionEntry is false"]
    );
    assert_eq!(
        refused(
            &base(),
            r#"{"device": "/dev/vdb", "partitions": [{"number": 9, "sizeMiB": 2}]}"#
        ),
        [format!(
            "partition 9 didn't match: size did not match (specified {}, got {})",
            2 * MIB,
            128 * MIB
        )]
    );
    // One matching entry does not save a mismatching one.
    assert_eq!(
        refused(
            &base(),
            r#"{"device": "/dev/vdb", "partitions": [{"number": 1, "label": "EFI-SYSTEM"},
                {"number": 9, "label": "root"}]}"#
        ),
        [r#"partition 9 didn't match: label did not match (specified "root", got "ROOT")"#]
    );
    assert_eq!(
        refused(
            &base(),
            r#"{"device": "/dev/vdb", "partitions": [{"number": 9, "guid": "05a37d3b-2d81-4a71-a3a4-f4ee4f26a2d4"}]}"#
        )[0]
        .split(" (")
        .next(),
        Some("partition 9 didn't match: GUID did not match")
    );
    assert!(
        refused(
            &base(),
            r#"{"device": "/dev/vdb", "partitions": [{"number": 9, "typeGuid": "0FC63DAF-8483-4772-8E79-3D69D8477DE4"}]}"#
        )[0]
        .starts_with("partition 9 didn't match: type GUID did not match (specified \"0FC63DAF")
    );
}

#[test]
fn zeros_without_wipe_must_already_fill_or_start() {
    // failstofill: size 0 would grow #9 into the free space after it.
    let r = refused(
        &base(),
        r#"{"device": "/dev/vdb", "partitions": [{"number": 9, "sizeMiB": 0}]}"#,
    );
    assert!(
        r[0].starts_with("partition 9 didn't match: size did not match"),
        "{r:?}"
    );
    // failstostart: start 0 is the largest free block's start, not #9's.
    let mut t = blank();
    t.entries.insert(9, entry(900, 64, "ROOT"));
    let r = refused(
        &t,
        r#"{"device": "/dev/vdb", "partitions": [{"number": 9, "startMiB": 0}]}"#,
    );
    assert!(
        r[0].starts_with("partition 9 didn't match: starting sector did not match"),
        "{r:?}"
    );
}

#[test]
fn active_partitions_and_overlaps_are_refused() {
    let usage = Usage {
        disk_in_use: false,
        active_partitions: [9].into(),
    };
    let d = decide(
        &disk(
            r#"{"device": "/dev/vdb", "partitions": [{"number": 9, "sizeMiB": 512, "resize": true},
            {"number": 1}]}"#,
        ),
        0,
        "/dev/vdb",
        &base(),
        &usage,
    );
    assert_eq!(
        d.refusals,
        [r#"refusing to modify active partition 9 on "/dev/vdb""#]
    );
    let r = refused(
        &base(),
        r#"{"device": "/dev/vdb", "partitions": [{"number": 2, "startMiB": 100, "sizeMiB": 64}]}"#,
    );
    assert!(
        r[0].starts_with(r#"partition 2 cannot be created on "/dev/vdb": sectors"#),
        "{r:?}"
    );
}

#[test]
fn four_k_sectors_convert_mib_with_the_logical_size() {
    let t = Table::new(4096, 1 << 18).unwrap();
    let d = ok(
        &t,
        r#"{"device": "/dev/vdb", "partitions": [{"number": 1, "startMiB": 1, "sizeMiB": 32},
            {"number": 2, "sizeMiB": 0}]}"#,
    );
    let a = after(&d);
    assert_eq!((a.entries[&1].first, a.entries[&1].size()), (256, 32 * 256));
    assert_eq!(
        (a.entries[&2].first, a.entries[&2].last),
        (33 * 256, a.last_usable)
    );
}
