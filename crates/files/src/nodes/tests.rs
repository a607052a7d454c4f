//! The reference's files, directories and links cases (§7.2, §7.3), against temporary roots.

use crate::testutil::Target;
use std::os::unix::fs::MetadataExt;

fn err(t: &Target, json: &str) -> String {
    match t.run(json) {
        Ok(_) => panic!("expected a failure for {json}"),
        Err(e) => e.message,
    }
}

fn inode(t: &Target, p: &str) -> u64 {
    std::fs::symlink_metadata(t.path(p)).unwrap().ino()
}

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/bash\ncore:x:500:500:CoreOS Admin:/home/core:/bin/bash\n";
const GROUP: &str = "root:x:0:\ncore:x:500:core\n";

#[test]
fn files_create_with_default_mode_and_owner() {
    let t = Target::new();
    t.run(
        r#"{"storage":{"files":[{"path":"/foo/bar","contents":{"source":"mem:example file\n"}}]}}"#,
    )
    .unwrap();
    assert_eq!(t.read("/foo/bar"), "example file\n");
    assert_eq!(t.stat("/foo/bar"), (0, 0, 0o644));
    assert_eq!(t.stat("/foo").2, 0o755);
    t.assert_no_temp_files();
}

#[test]
fn files_without_contents_are_created_empty() {
    let t = Target::new();
    t.run(r#"{"storage":{"files":[{"path":"/a/empty"},{"path":"/a/blank","contents":{"source":""}}]}}"#)
        .unwrap();
    assert_eq!(t.read("/a/empty"), "");
    assert_eq!(t.read("/a/blank"), "");
}

#[test]
fn files_append_withcreate() {
    let t = Target::new();
    t.run(
        r#"{"storage":{"files":[{"path":"/foo/bar","user":{"id":500},"group":{"id":500},
        "contents":{"source":"mem:example file\n"},"append":[{"source":"mem:hello world\n"},{"source":"mem:!\n"}]}]}}"#,
    )
    .unwrap();
    assert_eq!(t.read("/foo/bar"), "example file\nhello world\n!\n");
    assert_eq!(t.stat("/foo/bar"), (500, 500, 0o644));
    t.assert_no_temp_files();
}

#[test]
fn files_append_existing_keeps_inode_owner_and_mode() {
    let t = Target::new();
    t.write("/foo/bar", "example file\n");
    std::os::unix::fs::chown(t.path("/foo/bar"), Some(500), Some(500)).unwrap();
    std::fs::set_permissions(
        t.path("/foo/bar"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    let before = inode(&t, "/foo/bar");
    t.run(
        r#"{"storage":{"files":[{"path":"/foo/bar","append":[{"source":"mem:hello world\n"}]}]}}"#,
    )
    .unwrap();
    assert_eq!(t.read("/foo/bar"), "example file\nhello world\n");
    assert_eq!(t.stat("/foo/bar"), (500, 500, 0o640));
    assert_eq!(inode(&t, "/foo/bar"), before);
    t.assert_no_temp_files();
}

#[test]
fn files_append_nonexistent() {
    let t = Target::new();
    t.run(r#"{"storage":{"files":[{"path":"/foo/bar","group":{"id":500},"append":[{"source":"mem:hello world\n"}]}]}}"#)
        .unwrap();
    assert_eq!(t.read("/foo/bar"), "hello world\n");
    assert_eq!(t.stat("/foo/bar"), (0, 500, 0o644));
}

#[test]
fn files_owner_by_name_from_target_etc_and_usr_lib() {
    let t = Target::new();
    t.write("/etc/passwd", PASSWD);
    t.write("/etc/group", GROUP);
    t.write("/usr/lib/passwd", "alt:x:777:778::/var/alt:/bin/sh\n");
    t.write("/usr/lib/group", "alt:x:778:\n");
    t.run(
        r#"{"storage":{"files":[
        {"path":"/foo/core","user":{"name":"core"},"group":{"name":"core"}},
        {"path":"/foo/alt","user":{"name":"alt"},"group":{"name":"alt"}}]}}"#,
    )
    .unwrap();
    assert_eq!(t.stat("/foo/core"), (500, 500, 0o644));
    assert_eq!(t.stat("/foo/alt"), (777, 778, 0o644));
}

#[test]
fn files_owner_unknown_name_fails() {
    let t = Target::new();
    t.write("/etc/passwd", PASSWD);
    let e = err(
        &t,
        r#"{"storage":{"files":[{"path":"/foo","user":{"name":"nobody-here"}}]}}"#,
    );
    assert!(e.contains(r#"no such user "nobody-here""#), "{e}");
    let e = err(
        &t,
        r#"{"storage":{"files":[{"path":"/foo","group":{"name":"nogroup"}}]}}"#,
    );
    assert!(e.contains(r#"no such group "nogroup""#), "{e}");
    assert!(!t.exists("/foo"));
}

#[test]
fn files_custom_special_bits_survive_chown() {
    let t = Target::new();
    t.run(
        r#"{"storage":{"files":[
        {"path":"/a","mode":3565,"user":{"id":500},"group":{"id":500}},
        {"path":"/b","mode":2541,"user":{"id":500}},
        {"path":"/c","mode":1517,"group":{"id":500}}]}}"#,
    )
    .unwrap();
    assert_eq!(t.stat("/a"), (500, 500, 0o6755));
    assert_eq!(t.stat("/b"), (500, 0, 0o4755));
    assert_eq!(t.stat("/c"), (0, 500, 0o2755));
}

#[test]
fn files_create_force_replaces() {
    let t = Target::new();
    t.write("/foo/bar", "old");
    t.run(r#"{"storage":{"files":[{"path":"/foo/bar","overwrite":true,"contents":{"source":"mem:asdf\nfdsa"}}]}}"#)
        .unwrap();
    assert_eq!(t.read("/foo/bar"), "asdf\nfdsa");
}

#[test]
fn files_existing_without_source_keeps_content_and_applies_mode() {
    let t = Target::new();
    t.write("/foo", "keep");
    t.run(r#"{"storage":{"files":[{"path":"/foo","mode":384}]}}"#)
        .unwrap();
    assert_eq!(t.read("/foo"), "keep");
    assert_eq!(t.stat("/foo").2, 0o600);
}

#[test]
fn files_create_overwrite_false_fails() {
    let t = Target::new();
    t.write("/foo/bar", "old");
    let e = err(
        &t,
        r#"{"storage":{"files":[{"path":"/foo/bar","contents":{"source":"mem:new"}}]}}"#,
    );
    assert!(
        e.contains(
            r#"error creating file "/foo/bar": A file exists there already and overwrite is false"#
        ),
        "{e}"
    );
    assert_eq!(t.read("/foo/bar"), "old");
}

#[test]
fn files_over_directory_fails() {
    let t = Target::new();
    t.mkdir("/foo/bar");
    let e = err(
        &t,
        r#"{"storage":{"files":[{"path":"/foo/bar","contents":{"source":"mem:x"}}]}}"#,
    );
    assert!(
        e.contains("A non regular file exists there already and overwrite is false"),
        "{e}"
    );
}

#[test]
fn files_over_symlink_without_overwrite_fails() {
    // links.sym.overwritelink
    let t = Target::new();
    t.write("/usr/rofile", "ro");
    t.symlink("/usr/rofile", "/etc/file");
    let e = err(&t, r#"{"storage":{"files":[{"path":"/etc/file"}]}}"#);
    assert!(e.contains("A non regular file exists there already"), "{e}");
}

#[test]
fn files_fetch_failure_leaves_nothing() {
    let t = Target::new();
    t.write("/foo/bar", "old");
    let e = err(
        &t,
        r#"{"storage":{"files":[{"path":"/foo/bar","overwrite":true,"contents":{"source":"fail:bad hash"}}]}}"#,
    );
    assert!(e.contains(r#"failed to create file "/foo/bar""#), "{e}");
    t.assert_no_temp_files();
    let e = err(
        &t,
        r#"{"storage":{"files":[{"path":"/new","contents":{"source":"mem:a"},"append":[{"source":"fail:x"}]}]}}"#,
    );
    assert!(e.contains("fail:x"), "{e}");
    assert!(!t.exists("/new"));
    t.assert_no_temp_files();
}

#[test]
fn links_sym_writeover_replaces_the_link_not_its_target() {
    for target in ["/usr/rofile", "/usr/missing"] {
        let t = Target::new();
        t.write("/usr/rofile", "ro");
        t.symlink(target, "/etc/file");
        t.run(r#"{"storage":{"files":[{"path":"/etc/file","overwrite":true,"contents":{"source":""}}]}}"#)
            .unwrap();
        assert!(
            std::fs::symlink_metadata(t.path("/etc/file"))
                .unwrap()
                .is_file()
        );
        assert_eq!(t.read("/etc/file"), "");
        assert_eq!(t.read("/usr/rofile"), "ro");
    }
}

#[test]
fn directories_create_and_defaults() {
    let t = Target::new();
    t.run(r#"{"storage":{"directories":[{"path":"/foo/bar"},{"path":"/x","mode":448,"user":{"id":500}}]}}"#)
        .unwrap();
    assert_eq!(t.stat("/foo/bar"), (0, 0, 0o755));
    assert_eq!(t.stat("/x"), (500, 0, 0o700));
}

#[test]
fn directories_create_force_replaces_file() {
    let t = Target::new();
    t.write("/foo/bar", "file");
    t.run(r#"{"storage":{"directories":[{"path":"/foo/bar","overwrite":true}]}}"#)
        .unwrap();
    assert!(t.path("/foo/bar").is_dir());
}

#[test]
fn directories_match_keeps_contents_and_sets_mode() {
    let t = Target::new();
    t.write("/foo/bar/baz", "content");
    t.run(r#"{"storage":{"directories":[{"path":"/foo/bar","mode":511}]}}"#)
        .unwrap();
    assert_eq!(t.read("/foo/bar/baz"), "content");
    assert_eq!(t.stat("/foo/bar").2, 0o777);
}

#[test]
fn directories_match_overwrite_empties() {
    let t = Target::new();
    t.write("/foo/bar/deep/baz", "content");
    t.run(r#"{"storage":{"directories":[{"path":"/foo/bar","overwrite":true}]}}"#)
        .unwrap();
    assert_eq!(std::fs::read_dir(t.path("/foo/bar")).unwrap().count(), 0);
}

#[test]
fn directories_ordering_through_symlink_to_root() {
    let t = Target::new();
    t.symlink("/", "/foo/bar");
    t.run(r#"{"storage":{"directories":[{"path":"/foo/bar/baz","mode":511},{"path":"/baz/quux","mode":493}]}}"#)
        .unwrap();
    assert_eq!(t.stat("/baz").2, 0o777);
    assert_eq!(t.stat("/baz/quux").2, 0o755);
    assert!(
        std::fs::symlink_metadata(t.path("/foo/bar"))
            .unwrap()
            .is_symlink()
    );
}

#[test]
fn directories_over_file_fails() {
    let t = Target::new();
    t.write("/foo/bar", "file");
    let e = err(&t, r#"{"storage":{"directories":[{"path":"/foo/bar"}]}}"#);
    assert!(e.contains("error creating directory /foo/bar: A non-directory already exists and overwrite is false"), "{e}");
    // A symlink to a directory is not a directory either.
    let t = Target::new();
    t.mkdir("/real");
    t.symlink("/real", "/dirlink");
    let e = err(&t, r#"{"storage":{"directories":[{"path":"/dirlink"}]}}"#);
    assert!(e.contains("A non-directory already exists"), "{e}");
}

#[test]
fn links_sym_create_match_and_force() {
    let t = Target::new();
    t.write("/foo/target", "t");
    t.symlink("/foo/target", "/foo/same");
    t.write("/foo/file", "f");
    t.run(
        r#"{"storage":{"links":[
        {"path":"/foo/bar","target":"/foo/target","user":{"id":500}},
        {"path":"/foo/same","target":"/foo/./target/"},
        {"path":"/foo/file","target":"target","overwrite":true}]}}"#,
    )
    .unwrap();
    assert_eq!(
        std::fs::read_link(t.path("/foo/bar")).unwrap().to_str(),
        Some("/foo/target")
    );
    assert_eq!(t.stat("/foo/bar").0, 500);
    assert_eq!(
        std::fs::read_link(t.path("/foo/file")).unwrap().to_str(),
        Some("target")
    );
}

#[test]
fn links_sym_mismatches_fail() {
    let t = Target::new();
    t.symlink("/elsewhere", "/foo/bar");
    let e = err(
        &t,
        r#"{"storage":{"links":[{"path":"/foo/bar","target":"/foo/target"}]}}"#,
    );
    assert!(e.contains("a symlink exists at that path but points to /elsewhere, not /foo/target and overwrite is false"), "{e}");
    t.write("/foo/file", "f");
    let e = err(
        &t,
        r#"{"storage":{"links":[{"path":"/foo/file","target":"/foo/target"}]}}"#,
    );
    assert!(
        e.contains("a non-symlink already exists at that path and overwrite is false"),
        "{e}"
    );
    t.mkdir("/foo/dir");
    let e = err(
        &t,
        r#"{"storage":{"links":[{"path":"/foo/dir","target":"/foo/target"}]}}"#,
    );
    assert!(e.contains("a non-symlink already exists"), "{e}");
}

#[test]
fn links_hard_create_match_force_and_deep() {
    let t = Target::new();
    t.write("/foo/target", "t");
    std::fs::hard_link(t.path("/foo/target"), t.path("/foo/already")).unwrap();
    t.write("/foo/file", "f");
    t.run(
        r#"{"storage":{
        "links":[
          {"path":"/foo/quux","target":"/foo/bar/baz","hard":true},
          {"path":"/foo/hard","target":"/foo/target","hard":true},
          {"path":"/foo/already","target":"/foo/target","hard":true},
          {"path":"/foo/file","target":"foo/target","hard":true,"overwrite":true}],
        "files":[{"path":"/foo/bar/baz","contents":{"source":"mem:deep"}}]}}"#,
    )
    .unwrap();
    let target = inode(&t, "/foo/target");
    assert_eq!(inode(&t, "/foo/hard"), target);
    assert_eq!(inode(&t, "/foo/already"), target);
    assert_eq!(inode(&t, "/foo/file"), target);
    assert_eq!(inode(&t, "/foo/quux"), inode(&t, "/foo/bar/baz"));
}

#[test]
fn links_hard_to_dangling_symlink_links_the_symlink() {
    let t = Target::new();
    t.symlink("/nowhere", "/bar");
    t.run(r#"{"storage":{"links":[{"path":"/foo","target":"/bar","hard":true}]}}"#)
        .unwrap();
    assert_eq!(inode(&t, "/foo"), inode(&t, "/bar"));
    assert!(
        std::fs::symlink_metadata(t.path("/foo"))
            .unwrap()
            .is_symlink()
    );
}

#[test]
fn links_hard_mismatches_fail() {
    let t = Target::new();
    t.write("/foo/target", "t");
    t.write("/foo/bar", "other");
    let e = err(
        &t,
        r#"{"storage":{"links":[{"path":"/foo/bar","target":"/foo/target","hard":true}]}}"#,
    );
    assert!(
        e.contains(
            "a file already exists at that path but is not the target and overwrite is false"
        ),
        "{e}"
    );
    let e = err(
        &t,
        r#"{"storage":{"links":[{"path":"/foo/new","target":"/foo/missing","hard":true}]}}"#,
    );
    assert!(e.contains("target does not exist"), "{e}");
}

#[test]
fn resolved_conflicts_fail_before_anything_is_written() {
    let t = Target::new();
    t.symlink("/", "/foo");
    let e = err(
        &t,
        r#"{"storage":{"files":[{"path":"/foo/bar/baz","contents":{"source":"mem:a"}},{"path":"/bar/baz","contents":{"source":"mem:b"}}]}}"#,
    );
    assert!(
        e.contains("file at /bar/baz resolved to /bar/baz after symlink chasing, but another entry with path /foo/bar/baz also resolves there"),
        "{e}"
    );
    assert!(!t.exists("/bar"));
}

#[test]
fn entries_are_processed_by_depth_with_hard_links_last() {
    let t = Target::new();
    let rec = t
        .run(
            r#"{"storage":{
        "links":[{"path":"/h","target":"/a/b/c","hard":true}],
        "files":[{"path":"/a/b/c"}],
        "directories":[{"path":"/a/b","mode":448},{"path":"/a","mode":493}]}}"#,
        )
        .unwrap();
    let names: Vec<&str> = rec.operations().iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [
            r#"creating directory "/a""#,
            r#"creating directory "/a/b""#,
            r#"writing file "/a/b/c""#,
            r#"writing link "/h" -> "/a/b/c""#,
        ]
    );
    assert_eq!(t.stat("/a/b").2, 0o700);
    assert_eq!(
        rec.operations()[2].config_path.as_deref(),
        Some("$.storage.files.0")
    );
}
