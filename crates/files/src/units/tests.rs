//! The reference's systemd cases (§7.2), against temporary roots.

use super::split_instance;
use crate::testutil::Target;

const PRESET: &str = "/etc/systemd/system-preset/20-ignition.preset";

fn link_target(t: &Target, p: &str) -> String {
    std::fs::read_link(t.path(p))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn instances_split_from_their_template() {
    assert_eq!(
        split_instance("echo@bar.service"),
        Some(("echo@.service".into(), "bar".into()))
    );
    assert_eq!(
        split_instance("echo@.service"),
        Some(("echo@.service".into(), String::new()))
    );
    assert_eq!(split_instance("plain.service"), None);
}

#[test]
fn unit_create_with_preset() {
    let t = Target::new();
    t.run(r#"{"systemd":{"units":[{"name":"example.service","enabled":true,"contents":"[Service]\nType=oneshot\nExecStart=/usr/bin/echo Hello World\n\n[Install]\nWantedBy=multi-user.target"}]}}"#)
        .unwrap();
    assert!(
        t.read("/etc/systemd/system/example.service")
            .starts_with("[Service]")
    );
    assert_eq!(t.stat("/etc/systemd/system/example.service"), (0, 0, 0o644));
    assert_eq!(t.read(PRESET), "enable example.service\n");
    t.assert_no_temp_files();
}

#[test]
fn instantiated_units_grouped_per_template() {
    let t = Target::new();
    t.run(
        r#"{"systemd":{"units":[
        {"name":"echo@.service","contents":"[Unit]\nDescription=echo\n[Service]\nExecStart=/bin/echo %i\n[Install]\nWantedBy=multi-user.target\n"},
        {"name":"echo@bar.service","enabled":true},
        {"name":"echo@foo.service","enabled":true}]}}"#,
    )
    .unwrap();
    assert_eq!(t.read(PRESET), "enable echo@.service bar foo\n");
}

#[test]
fn presets_sorted_and_appended() {
    let t = Target::new();
    t.write(PRESET, "enable existing.service\n");
    t.run(
        r#"{"systemd":{"units":[
        {"name":"e.service","enabled":true},{"name":"a.service","enabled":true},
        {"name":"d.service","enabled":true},{"name":"b.service","enabled":true},{"name":"c.service","enabled":true}]}}"#,
    )
    .unwrap();
    assert_eq!(
        t.read(PRESET),
        "enable existing.service\nenable a.service\nenable b.service\nenable c.service\nenable d.service\nenable e.service\n"
    );
}

#[test]
fn empty_dropin_is_written() {
    let t = Target::new();
    t.run(
        r#"{"systemd":{"units":[{"name":"zincati.service","dropins":[{"name":"empty.conf","contents":""},{"name":"absent.conf"}]}]}}"#,
    )
    .unwrap();
    assert_eq!(
        t.read("/etc/systemd/system/zincati.service.d/empty.conf"),
        ""
    );
    assert!(!t.exists("/etc/systemd/system/zincati.service.d/absent.conf"));
    assert!(!t.exists("/etc/systemd/system/zincati.service"));
}

#[test]
fn dropin_replaces_existing_file() {
    let t = Target::new();
    t.write(
        "/etc/systemd/system/systemd-journald.service.d/debug.conf",
        "old",
    );
    t.run(r#"{"systemd":{"units":[{"name":"systemd-journald.service","dropins":[{"name":"debug.conf","contents":"[Service]\nEnvironment=SYSTEMD_LOG_LEVEL=debug"}]}]}}"#)
        .unwrap();
    assert_eq!(
        t.read("/etc/systemd/system/systemd-journald.service.d/debug.conf"),
        "[Service]\nEnvironment=SYSTEMD_LOG_LEVEL=debug"
    );
}

#[test]
fn mask_existing_and_new_units() {
    let t = Target::new();
    t.write("/etc/systemd/system/existing.service", "[Service]\n");
    t.run(
        r#"{"systemd":{"units":[{"name":"existing.service","mask":true},
        {"name":"new.service","mask":true,"contents":"[Service]\nExecStart=/bin/true\n"}]}}"#,
    )
    .unwrap();
    assert_eq!(
        link_target(&t, "/etc/systemd/system/existing.service"),
        "/dev/null"
    );
    assert_eq!(
        link_target(&t, "/etc/systemd/system/new.service"),
        "/dev/null"
    );
}

#[test]
fn unmask_removes_only_dev_null_links() {
    let t = Target::new();
    t.symlink("/dev/null", "/etc/systemd/system/foo.service");
    t.symlink("/dev/null", "/etc/systemd/system/bar.service");
    t.symlink(
        "/usr/lib/systemd/system/other.service",
        "/etc/systemd/system/keep.service",
    );
    t.run(
        r#"{"systemd":{"units":[{"name":"foo.service","mask":false},
        {"name":"bar.service","enabled":true,"mask":false},
        {"name":"keep.service","mask":false},{"name":"absent.service","mask":false}]}}"#,
    )
    .unwrap();
    assert!(!t.exists("/etc/systemd/system/foo.service"));
    assert!(!t.exists("/etc/systemd/system/bar.service"));
    assert!(t.exists("/etc/systemd/system/keep.service"));
    assert_eq!(t.read(PRESET), "enable bar.service\n");
}

#[test]
fn disabling_removes_enablement_symlinks() {
    let t = Target::new();
    t.write(
        "/usr/lib/systemd/system/foo.service",
        "[Unit]\nDescription=f\n[Service]\nType=oneshot\nExecStart=/usr/bin/true\n[Install]\nWantedBy=multi-user.target\n",
    );
    t.symlink(
        "/usr/lib/systemd/system/foo.service",
        "/etc/systemd/system/multi-user.target.wants/foo.service",
    );
    t.symlink(
        "/usr/lib/systemd/system/foo.service",
        "/etc/systemd/system/foo-alias.service",
    );
    t.symlink(
        "/usr/lib/systemd/system/other.service",
        "/etc/systemd/system/multi-user.target.wants/other.service",
    );
    t.run(r#"{"systemd":{"units":[{"name":"foo.service","enabled":false},{"name":"enoent.service","enabled":false}]}}"#)
        .unwrap();
    assert!(!t.exists("/etc/systemd/system/multi-user.target.wants/foo.service"));
    assert!(!t.exists("/etc/systemd/system/foo-alias.service"));
    assert!(t.exists("/etc/systemd/system/multi-user.target.wants/other.service"));
    assert!(t.exists("/usr/lib/systemd/system/foo.service"));
    // Only the unit that was enabled gets a line.
    assert_eq!(t.read(PRESET), "disable foo.service\n");
}

#[test]
fn unit_names_with_slashes_are_refused() {
    let t = Target::new();
    let r = t.run(r#"{"systemd":{"units":[{"name":"../../../x.service","contents":"[Unit]\n"}]}}"#);
    assert!(r.is_err_and(|e| e.message.contains("must be a file name")));
    let r = t.run(r#"{"systemd":{"units":[{"name":"a.service","dropins":[{"name":"../b.conf","contents":""}]}]}}"#);
    assert!(r.is_err());
    assert!(!t.exists("/etc/systemd/system/b.conf"));
}
