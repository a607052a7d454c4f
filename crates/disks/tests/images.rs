//! The disks stage end to end on disk image files: plan, execute, re-read; every refusal leaves
//! the images byte-identical. Needs root for loop devices (filesystems inside images), and the
//! tools in `test-packages.txt`.

use kindling_config::Config;
use kindling_disks::Devices;
use kindling_disks::filesystems::FsAction;
use kindling_disks::partitions::PartitionAction;
use kindling_disks::plan::{self, Plan};
use kindling_disks::probe::{Window, probe};
use kindling_disks::table::{DEFAULT_TYPE_GUID, Entry, Existing, Table};
use kindling_report::Recorder;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;
use uuid::Uuid;

const ROOT_TYPE: &str = "3884dd41-8582-4404-b9a8-e9b84f2df50e";

struct Disks {
    _dir: TempDir,
    devices: Devices,
}

impl Disks {
    /// `/dev/vdb`, `/dev/vdc`, … backed by sparse images of the given sizes.
    fn new(sizes_mib: &[u64], sector_size: u64) -> Disks {
        let dir = tempfile::tempdir().unwrap();
        let mut devices = Devices {
            image_sector_size: sector_size,
            ..Devices::default()
        };
        for (i, mib) in sizes_mib.iter().enumerate() {
            let path = dir.path().join(format!("disk{i}.img"));
            File::create(&path).unwrap().set_len(mib << 20).unwrap();
            let name = format!("/dev/vd{}", (b'b' + i as u8) as char);
            devices.images.insert(name, path);
        }
        Disks { _dir: dir, devices }
    }

    fn image(&self, dev: &str) -> &Path {
        &self.devices.images[dev]
    }

    /// `cksum` (CRC and length) of every image: fast on large sparse files.
    fn checksums(&self) -> String {
        let out = Command::new("cksum")
            .args(self.devices.images.values())
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    fn table(&self, dev: &str) -> Table {
        let mut f = File::open(self.image(dev)).unwrap();
        let ss = kindling_disks::table::detect_sector_size(&mut f, 512).unwrap();
        match Table::read(&mut f, ss).unwrap() {
            Existing::Gpt(t) => t,
            other => panic!("{dev}: no GPT: {other:?}"),
        }
    }

    /// The blackbox base disk: 1 EFI-SYSTEM (vfat), 6 OEM, 9 ROOT (ext4), 128 MiB each at 2,
    /// 130 and 258 MiB.
    fn with_base_layout(self, dev: &str) -> Disks {
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.image(dev))
            .unwrap();
        let total = f.seek(SeekFrom::End(0)).unwrap() / 512;
        let mut t = Table::new(512, total).unwrap();
        for (n, start, name, ty) in [
            (1u32, 2u64, "EFI-SYSTEM", DEFAULT_TYPE_GUID),
            (6, 130, "OEM", DEFAULT_TYPE_GUID),
            (9, 258, "ROOT", Uuid::parse_str(ROOT_TYPE).unwrap()),
        ] {
            t.entries.insert(
                n,
                Entry {
                    type_guid: ty,
                    guid: Uuid::new_v4(),
                    first: start * 2048,
                    last: (start + 128) * 2048 - 1,
                    name: name.into(),
                    flags: 0,
                },
            );
        }
        t.write(&mut f).unwrap();
        drop(f);
        mkfs_at(
            self.image(dev),
            258 << 20,
            128 << 20,
            &["mkfs.ext4", "-q", "-L", "ROOT"],
        );
        self
    }

    fn plan(&self, json: &str) -> Plan {
        plan::build(&config(json), &self.devices)
    }

    fn run(&self, json: &str) -> Result<Plan, kindling_disks::DisksError> {
        let mut rec = Recorder::new("disks");
        kindling_disks::run(
            &config(json),
            &self.devices,
            Duration::from_secs(5),
            &mut rec,
        )
    }
}

/// Make a filesystem at a window of an image through a loop device.
fn mkfs_at(image: &Path, offset: u64, size: u64, argv: &[&str]) {
    let out = Command::new("losetup")
        .args([
            "--find",
            "--show",
            "--offset",
            &offset.to_string(),
            "--sizelimit",
        ])
        .arg(size.to_string())
        .arg(image)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "losetup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let st = Command::new(argv[0])
        .args(&argv[1..])
        .arg(&dev)
        .output()
        .unwrap();
    Command::new("losetup").args(["-d", &dev]).status().unwrap();
    assert!(
        st.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&st.stderr)
    );
}

fn config(json: &str) -> Config {
    serde_json::from_str(&format!(
        r#"{{"ignition": {{"version": "3.5.0"}}, "storage": {json}}}"#
    ))
    .unwrap()
}

fn sgdisk_verifies(image: &Path) {
    let out = Command::new("sgdisk")
        .arg("-v")
        .arg(image)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("No problems found"), "sgdisk -v: {text}");
}

fn probe_window(image: &Path, t: &Table, n: u32) -> Option<kindling_disks::probe::Found> {
    let e = &t.entries[&n];
    let ss = t.sector_size;
    probe(&Window {
        path: image,
        offset: Some((e.first * ss, e.size() * ss)),
    })
    .unwrap()
}

#[test]
fn creates_tables_that_sgdisk_verifies_and_replans_to_nothing() {
    for ss in [512u64, 4096] {
        let disks = Disks::new(&[256], ss);
        let json = format!(
            r#"{{"disks": [{{"device": "/dev/vdb", "partitions": [
                {{"number": 1, "label": "boot", "sizeMiB": 32, "typeGuid": "{ROOT_TYPE}"}},
                {{"label": "data", "sizeMiB": 0}}]}}]}}"#
        );
        let p = disks.run(&json).unwrap();
        assert!(p.refusals.is_empty());
        let t = disks.table("/dev/vdb");
        assert_eq!(t.sector_size, ss);
        let spm = (1 << 20) / ss;
        assert_eq!((t.entries[&1].first, t.entries[&1].size()), (spm, 32 * spm));
        assert_eq!(t.entries[&1].type_guid.to_string(), ROOT_TYPE);
        assert_eq!(
            (t.entries[&2].name.as_str(), t.entries[&2].first),
            ("data", 33 * spm)
        );
        assert_eq!(t.entries[&2].last, t.last_usable);
        if ss == 512 {
            sgdisk_verifies(disks.image("/dev/vdb"));
        }
        // The same config again: everything matches, nothing is written.
        let before = disks.checksums();
        let again = disks
            .run(&json.replace(
                r#""label": "data", "sizeMiB": 0"#,
                r#""number": 2, "label": "data", "sizeMiB": 0"#,
            ))
            .unwrap();
        assert!(again.disks[0].table_after.is_none());
        assert!(
            again.disks[0]
                .partitions
                .iter()
                .all(|d| matches!(d.action, PartitionAction::Keep { .. }))
        );
        assert_eq!(disks.checksums(), before);
    }
}

#[test]
fn every_refusal_leaves_the_images_byte_identical() {
    let disks = Disks::new(&[512, 64], 512).with_base_layout("/dev/vdb");
    mkfs_at(
        disks.image("/dev/vdc"),
        0,
        64 << 20,
        &["mkfs.ext4", "-q", "-L", "other"],
    );
    // Each config also asks for harmless changes, which must not happen either.
    let harmless = r#"{"number": 2, "label": "new", "startMiB": 400, "sizeMiB": 16}"#;
    let cases = [
        (
            "partition.delete.nowipe",
            format!(
                r#"{{"disks": [{{"device": "/dev/vdb", "partitions": [{harmless}, {{"number": 9, "shouldExist": false}}]}}]}}"#
            ),
            "partition 9 exists but is specified as nonexistant and wipePartitionEntry is false",
        ),
        (
            "partition.match.fail",
            format!(
                r#"{{"disks": [{{"device": "/dev/vdb", "partitions": [{harmless}, {{"number": 9, "sizeMiB": 2}}]}}]}}"#
            ),
            "partition 9 didn't match: size did not match (specified 4096, got 262144)",
        ),
        (
            "partition.partialmatch.fail",
            format!(
                r#"{{"disks": [{{"device": "/dev/vdb", "partitions": [{harmless}, {{"number": 1, "label": "EFI-SYSTEM"}}, {{"number": 9, "label": "NOTROOT"}}]}}]}}"#
            ),
            r#"partition 9 didn't match: label did not match (specified "NOTROOT", got "ROOT")"#,
        ),
        (
            "partition.partialmatch.fail.nonexistent",
            format!(
                r#"{{"disks": [{{"device": "/dev/vdb", "partitions": [{harmless}, {{"number": 3, "shouldExist": false}}, {{"number": 6, "label": "NOTOEM"}}]}}]}}"#
            ),
            r#"partition 6 didn't match: label did not match (specified "NOTOEM", got "OEM")"#,
        ),
        (
            "partition.resizePartition.mismatch.config",
            format!(
                r#"{{"disks": [{{"device": "/dev/vdb", "partitions": [{harmless}, {{"number": 9, "startMiB": 300, "sizeMiB": 64, "resize": true}}]}}]}}"#
            ),
            "partition 9 didn't match: starting sector did not match (specified 614400, got 528384)",
        ),
        (
            "partition.match.failstofill",
            r#"{"disks": [{"device": "/dev/vdb", "partitions": [{"number": 9, "sizeMiB": 0}]}]}"#
                .to_string(),
            "partition 9 didn't match: size did not match (specified 520159, got 262144)",
        ),
        (
            "regression.filesystem.ignoreswipe",
            format!(
                r#"{{"disks": [{{"device": "/dev/vdb", "partitions": [{harmless}]}}], "filesystems": [{{"device": "/dev/vdc", "format": "vfat"}}]}}"#
            ),
            "filesystem is not of the correct type",
        ),
        (
            "filesystem.erase.block.device.invalidoptions",
            r#"{"filesystems": [{"device": "/dev/vdc", "format": "none"}]}"#.to_string(),
            "filesystem is not of the correct type",
        ),
        (
            "filesystem on ROOT with another label",
            format!(
                r#"{{"disks": [{{"device": "/dev/vdb", "partitions": [{harmless}]}}], "filesystems": [{{"device": "/dev/vdb9", "format": "ext4", "label": "root"}}]}}"#
            ),
            r#"(found ext4, "ROOT","#,
        ),
    ];
    for (name, json, reason) in cases {
        let before = disks.checksums();
        let p = disks.plan(&json);
        assert!(
            p.refusals.iter().any(|r| r.message.contains(reason)),
            "{name}: {reason:?} not in {:?}",
            p.refusals
        );
        assert!(p.to_string().contains("nothing will be written"), "{name}");
        let e = disks.run(&json).unwrap_err();
        assert!(e.message.contains(reason), "{name}: {}", e.message);
        assert_eq!(disks.checksums(), before, "{name} changed the images");
    }
}

#[test]
fn filesystems_inside_images_are_created_reused_and_protected() {
    let disks = Disks::new(&[512], 512);
    let layout = r#"{"device": "/dev/vdb", "partitions": [
        {"number": 1, "label": "EFI", "sizeMiB": 64}, {"number": 2, "label": "var", "sizeMiB": 0}]}"#;
    let json = format!(
        r#"{{"disks": [{layout}], "filesystems": [
            {{"device": "/dev/vdb1", "format": "vfat", "label": "EFI", "uuid": "2E24EC82"}},
            {{"device": "/dev/disk/by-partlabel/var", "format": "ext4", "label": "var", "options": ["-E", "nodiscard"]}}]}}"#
    );
    let p = disks.run(&json).unwrap();
    assert_eq!(p.filesystems.len(), 2);
    let t = disks.table("/dev/vdb");
    let efi = probe_window(disks.image("/dev/vdb"), &t, 1).unwrap();
    assert_eq!(
        (efi.fs_type.as_str(), efi.label.as_str(), efi.uuid.as_str()),
        ("vfat", "EFI", "2E24-EC82")
    );
    let var = probe_window(disks.image("/dev/vdb"), &t, 2).unwrap();
    assert_eq!((var.fs_type.as_str(), var.label.as_str()), ("ext4", "var"));

    // Again: both reused (regression.uuids.vfat: the dash and case do not matter).
    let before = disks.checksums();
    let again = disks.run(&json).unwrap();
    assert!(
        again
            .filesystems
            .iter()
            .all(|f| matches!(f.action, FsAction::Reuse(_)))
    );
    assert_eq!(disks.checksums(), before);

    // A different label without wipe is refused; with wipeFilesystem it is planned as a wipe.
    let relabel = json.replace(
        r#""label": "var", "options""#,
        r#""label": "VAR", "options""#,
    );
    assert!(disks.run(&relabel).is_err());
    assert_eq!(disks.checksums(), before);
    let wipe = relabel.replace(r#""options""#, r#""wipeFilesystem": true, "options""#);
    let plan = disks.plan(&wipe);
    assert!(
        plan.to_string()
            .contains(r#"! WIPE     /dev/disk/by-partlabel/var (ext4, label "var""#),
        "{plan}"
    );
    disks.run(&wipe).unwrap();
    let var = probe_window(disks.image("/dev/vdb"), &disks.table("/dev/vdb"), 2).unwrap();
    assert_eq!(var.label, "VAR");
}

#[test]
fn a_recreated_partition_is_probed_where_it_will_be() {
    // ROOT holds ext4; recreating #9 at the same start exposes the same filesystem, so an
    // xfs there without wipeFilesystem is refused before the table is touched.
    let disks = Disks::new(&[800], 512).with_base_layout("/dev/vdb");
    let before = disks.checksums();
    let json = r#"{"disks": [{"device": "/dev/vdb", "partitions": [
        {"number": 9, "label": "ROOT", "sizeMiB": 512, "wipePartitionEntry": true}]}],
        "filesystems": [{"device": "/dev/vdb9", "format": "xfs"}]}"#;
    let e = disks.run(json).unwrap_err();
    assert!(e.message.contains("(found ext4, \"ROOT\""), "{}", e.message);
    assert_eq!(disks.checksums(), before);
    // partition.resizeroot: the same without the filesystem grows ROOT in place.
    let p = disks
        .run(
            r#"{"disks": [{"device": "/dev/vdb", "partitions": [
            {"number": 9, "label": "ROOT", "sizeMiB": 512, "wipePartitionEntry": true}]}]}"#,
        )
        .unwrap();
    assert!(
        p.to_string().contains("! RECREATE /dev/vdb partition 9"),
        "{p}"
    );
    let t = disks.table("/dev/vdb");
    assert_eq!(
        (t.entries[&9].first, t.entries[&9].size()),
        (258 * 2048, 512 * 2048)
    );
    let root = probe_window(disks.image("/dev/vdb"), &t, 9).unwrap();
    assert_eq!(root.label, "ROOT");
    sgdisk_verifies(disks.image("/dev/vdb"));
}

#[test]
fn wipe_table_replaces_a_corrupt_table_and_number_zero_reuses_deleted_slots() {
    let disks = Disks::new(&[128], 512);
    disks
        .run(r#"{"disks": [{"device": "/dev/vdb", "partitions": [{"number": 1, "label": "a", "sizeMiB": 8}]}]}"#)
        .unwrap();
    // Corrupt both GPT headers; the protective MBR stays.
    let img = disks.image("/dev/vdb");
    let mut f = OpenOptions::new().write(true).open(img).unwrap();
    let end = f.seek(SeekFrom::End(0)).unwrap();
    for at in [512, end - 512] {
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(b"garbage!").unwrap();
    }
    drop(f);
    let before = disks.checksums();
    let wanted = r#"{"number": 1, "shouldExist": false, "wipePartitionEntry": true}, {"label": "new", "sizeMiB": 4}"#;
    let e = disks
        .run(&format!(
            r#"{{"disks": [{{"device": "/dev/vdb", "partitions": [{wanted}]}}]}}"#
        ))
        .unwrap_err();
    assert!(
        e.message.contains("protective MBR but no valid GPT"),
        "{}",
        e.message
    );
    assert_eq!(disks.checksums(), before);
    // partition.wipebadtable
    disks
        .run(r#"{"disks": [{"device": "/dev/vdb", "wipeTable": true, "partitions": [
            {"number": 1, "label": "old", "sizeMiB": 8}, {"number": 2, "label": "keep", "sizeMiB": 8}]}]}"#)
        .unwrap();
    sgdisk_verifies(img);
    // Deleting #1 and adding a number-0 partition in one go: it takes slot 1, placed at the
    // start of the largest free block (after #2).
    let p = disks
        .run(&format!(
            r#"{{"disks": [{{"device": "/dev/vdb", "partitions": [{wanted}]}}]}}"#
        ))
        .unwrap();
    let text = p.to_string();
    assert!(text.contains("! DELETE   /dev/vdb partition 1"), "{text}");
    let t = disks.table("/dev/vdb");
    assert_eq!(t.entries[&1].name, "new");
    assert_eq!(t.entries[&2].name, "keep");
    assert_eq!(t.entries[&1].first, 34816);
}

#[test]
fn report_has_one_timed_operation_per_step() {
    let disks = Disks::new(&[64, 64], 512);
    let mut rec = Recorder::new("disks");
    kindling_disks::run(
        &config(
            r#"{"disks": [{"device": "/dev/vdb", "partitions": [{"number": 1, "sizeMiB": 0}]}],
                "filesystems": [{"device": "/dev/vdc", "format": "ext4"}, {"device": "/dev/vdb1", "format": "swap"}]}"#,
        ),
        &disks.devices,
        Duration::from_secs(5),
        &mut rec,
    )
    .unwrap();
    let names: Vec<&str> = rec.operations().iter().map(|o| o.name.as_str()).collect();
    for want in [
        "planning disk changes",
        "partitioning \"/dev/vdb\"",
        "creating \"ext4\" filesystem on \"/dev/vdc\"",
        "creating \"swap\" filesystem on \"/dev/vdb1\"",
        "formatting filesystems",
    ] {
        assert!(names.contains(&want), "{want:?} not in {names:?}");
    }
    let swap = PathBuf::from(disks.image("/dev/vdc"));
    assert_eq!(
        probe(&Window {
            path: &swap,
            offset: None
        })
        .unwrap()
        .unwrap()
        .fs_type,
        "ext4"
    );
}

#[test]
fn plans_resolve_by_id_partuuid_raid_and_luks() {
    let mut disks = Disks::new(&[64, 64, 64], 512);
    let img = disks.devices.images.remove("/dev/vdb").unwrap();
    disks
        .devices
        .images
        .insert("/dev/disk/by-id/virtio-x".into(), img);
    let guid = "3a1c5f2e-9b7d-4e6a-8c1b-2d3e4f5a6b7c";
    let p = disks.plan(&format!(
        r#"{{"disks": [{{"device": "/dev/disk/by-id/virtio-x", "partitions": [
            {{"number": 1, "sizeMiB": 16}}, {{"number": 2, "sizeMiB": 16, "guid": "{guid}"}}]}}],
           "raid": [{{"name": "data", "level": "raid1", "devices": ["/dev/vdc", "/dev/vdd"]}}],
           "filesystems": [
             {{"device": "/dev/disk/by-id/virtio-x-part1", "format": "ext4"}},
             {{"device": "/dev/disk/by-partuuid/{}", "format": "xfs"}},
             {{"device": "/dev/md/data", "format": "btrfs"}}]}}"#,
        guid.to_uppercase()
    ));
    assert!(p.refusals.is_empty(), "{:?}", p.refusals);
    let actions: Vec<&FsAction> = p.filesystems.iter().map(|f| &f.action).collect();
    assert_eq!(
        actions,
        [&FsAction::Create, &FsAction::Create, &FsAction::Deferred]
    );
    let text = p.to_string();
    assert!(
        text.contains(
            "! CREATE-RAID /dev/md/data (overwrites its members): mdadm --create /dev/md/data"
        ),
        "{text}"
    );
    // LUKS: a blank device is formatted, its mapping's filesystem decided once it is open.
    let luks = disks.plan(
        r#"{"luks": [{"name": "root", "device": "/dev/vdc"}],
            "filesystems": [{"device": "/dev/mapper/root", "format": "ext4"}]}"#,
    );
    assert!(luks.refusals.is_empty(), "{:?}", luks.refusals);
    assert_eq!(luks.filesystems[0].action, FsAction::Deferred);
    assert!(
        luks.to_string()
            .contains("LUKS2-FORMAT /dev/vdc as root (generated key)"),
        "{luks}"
    );
    // A member that does not exist is refused.
    let missing = disks.plan(
        r#"{"raid": [{"name": "x", "level": "raid1", "devices": ["/dev/vdc", "/dev/kindling-none"]}]}"#,
    );
    assert!(
        missing.refusals[0].message.contains("not found"),
        "{:?}",
        missing.refusals
    );
}

/// LUKS through the whole stage on images: a volume in a new partition (through a loop device)
/// and one on a whole disk; the second run reuses both; a refusal leaves every image as it was.
#[test]
fn luks_volumes_are_formatted_reused_and_refused() {
    let disks = Disks::new(&[64, 64], 512);
    let json = r#"{"disks": [{"device": "/dev/vdb", "partitions": [{"number": 1, "sizeMiB": 32, "label": "crypt"}]}],
        "luks": [
          {"name": "part", "device": "/dev/vdb1", "label": "p", "keyFile": {"source": "data:,k1"},
           "options": ["--pbkdf=pbkdf2", "--pbkdf-force-iterations=1000"]},
          {"name": "whole", "device": "/dev/vdc", "discard": true}]}"#;
    let run = |keys: &[(&str, &[u8])]| {
        let input = kindling_disks::LuksInput {
            keys: keys
                .iter()
                .map(|(n, k)| (n.to_string(), zeroize::Zeroizing::new(k.to_vec())))
                .collect(),
            tcti: None,
        };
        let mut rec = Recorder::new("disks");
        kindling_disks::run_with(
            &config(json),
            &disks.devices,
            Duration::from_secs(5),
            &input,
            &mut rec,
        )
    };
    let (_, done) = run(&[("part", b"k1")]).unwrap();
    let names: Vec<&str> = done.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["part", "whole"]);
    assert_eq!(done[0].done.persist_key.as_deref(), Some(&b"k1".to_vec()));
    assert_eq!(
        done[1].done.persist_key.as_ref().map(|k| k.len()),
        Some(8192)
    );
    let whole = kindling_luks::header::read(disks.image("/dev/vdc"), 0).unwrap();
    let kindling_luks::header::Header::Luks2(h) = whole else {
        panic!("no LUKS2 header on /dev/vdc: {whole:?}")
    };
    assert_eq!(h.uuid, done[1].done.uuid);
    assert_eq!(h.persistent_flags(), ["allow-discards"]);
    let entry = disks.table("/dev/vdb").entries[&1].clone();
    let part = kindling_luks::header::read(disks.image("/dev/vdb"), entry.first * 512).unwrap();
    assert!(matches!(part, kindling_luks::header::Header::Luks2(ref p) if p.label == "p"));

    // Second run: the partition's volume (explicit key) is reused; the whole-disk one has a
    // generated key, so it cannot be and the plan refuses, writing nothing.
    let before = disks.checksums();
    let err = run(&[("part", b"k1")]).err().unwrap();
    assert!(
        err.message.contains("$.storage.luks.1")
            && err.message.contains("needs the volume's key in keyFile"),
        "{err}"
    );
    assert_eq!(disks.checksums(), before);
    let p = disks.plan(json);
    assert!(
        p.to_string()
            .contains("REUSE    LUKS2 volume /dev/vdb1, open as part"),
        "{p}"
    );
}
