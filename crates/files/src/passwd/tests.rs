//! The reference's passwd cases (§7.2) with the real shadow-utils (`--root`) against a seeded
//! temporary root, plus the argument construction.

use super::user_args;
use crate::testutil::Target;
use crate::{AuthorizedKeys, Options};
use kindling_config::model::PasswdUser;
use std::path::Path;

/// A minimal account database, as upstream's blackbox tests seed it (core is 500:500).
fn seeded() -> Target {
    let t = Target::new();
    t.write(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\ncore:x:500:500:CoreOS Admin:/home/core:/bin/bash\n",
    );
    t.write(
        "/etc/group",
        "root:x:0:\nwheel:x:10:root\ncore:x:500:core\n",
    );
    t.write(
        "/etc/shadow",
        "root:*:19000:0:99999:7:::\ncore:*:19000:0:99999:7:::\n",
    );
    t.write("/etc/gshadow", "root:*::\nwheel:*::root\ncore:*::core\n");
    t.write(
        "/etc/login.defs",
        "USERGROUPS_ENAB yes\nUID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\n",
    );
    t.mkdir("/home");
    t
}

fn line(t: &Target, file: &str, name: &str) -> Option<String> {
    t.read(file)
        .lines()
        .find(|l| l.split(':').next() == Some(name))
        .map(str::to_string)
}

#[test]
fn useradd_arguments_follow_upstream() {
    let u: PasswdUser = serde_json::from_str(
        r#"{"name":"u","uid":1020,"gecos":"G","homeDir":"/h","noCreateHome":true,"noUserGroup":true,
        "system":true,"noLogInit":true,"primaryGroup":"pg","groups":["a","b"],"shell":"/bin/sh","passwordHash":""}"#,
    )
    .unwrap();
    let args = user_args(&u, Path::new("/r"), false);
    assert_eq!(
        args.join(" "),
        "--root /r --home-dir /h --no-create-home --no-user-group --system --no-log-init --password * --uid 1020 --comment G --gid pg --groups a,b --shell /bin/sh u"
    );
    assert_eq!(
        user_args(&u, Path::new("/r"), true).join(" "),
        "--root /r --home /h --move-home --password * --uid 1020 --comment G --gid pg --groups a,b --shell /bin/sh u"
    );
    let bare: PasswdUser = serde_json::from_str(r#"{"name":"b"}"#).unwrap();
    assert_eq!(
        user_args(&bare, Path::new("/r"), false).join(" "),
        "--root /r --create-home --password * b"
    );
    assert_eq!(
        user_args(&bare, Path::new("/r"), true).join(" "),
        "--root /r b"
    );
}

#[test]
fn users_add_with_hash_and_key() {
    let t = seeded();
    t.run(
        r#"{"passwd":{"users":[{"name":"jenkins","uid":1020,"gecos":"Jenkins","passwordHash":"$6$salt$hash",
        "groups":["wheel"],"sshAuthorizedKeys":["ssh-rsa AAAA jenkins@host","ssh-ed25519 BBBB second"]}]}}"#,
    )
    .unwrap();
    let passwd = line(&t, "/etc/passwd", "jenkins").unwrap();
    assert!(
        passwd.starts_with("jenkins:x:1020:1020:Jenkins:/home/jenkins:"),
        "{passwd}"
    );
    assert!(
        line(&t, "/etc/shadow", "jenkins")
            .unwrap()
            .starts_with("jenkins:$6$salt$hash:")
    );
    assert!(
        line(&t, "/etc/group", "wheel")
            .unwrap()
            .ends_with("root,jenkins")
    );
    let keys = "/home/jenkins/.ssh/authorized_keys.d/ignition";
    assert_eq!(
        t.read(keys),
        "ssh-rsa AAAA jenkins@host\nssh-ed25519 BBBB second\n"
    );
    assert_eq!(t.stat(keys), (1020, 1020, 0o600));
    assert_eq!(t.stat("/home/jenkins/.ssh"), (1020, 1020, 0o700));
    assert_eq!(
        t.stat("/home/jenkins/.ssh/authorized_keys.d"),
        (1020, 1020, 0o700)
    );
    t.assert_no_temp_files();
}

#[test]
fn users_authorized_keys_file_mode() {
    use std::sync::Mutex;
    static WRITTEN: Mutex<Vec<(String, std::path::PathBuf)>> = Mutex::new(Vec::new());
    fn hook(user: &str, path: &Path) {
        WRITTEN
            .lock()
            .unwrap()
            .push((user.to_string(), path.to_path_buf()));
    }
    let t = seeded();
    let options = Options {
        authorized_keys: AuthorizedKeys::File,
        on_ssh_keys_written: Some(hook),
        ..t.options()
    };
    t.run_with(
        r#"{"passwd":{"users":[{"name":"test","uid":1000,"sshAuthorizedKeys":["key"]}]}}"#,
        &options,
    )
    .unwrap();
    assert_eq!(t.read("/home/test/.ssh/authorized_keys"), "key\n");
    assert_eq!(
        t.stat("/home/test/.ssh/authorized_keys"),
        (1000, 1000, 0o600)
    );
}

#[test]
fn existing_user_is_modified_and_empty_hash_locks() {
    let t = seeded();
    t.run(r#"{"passwd":{"users":[{"name":"core","gecos":"Changed","shell":"/bin/sh","passwordHash":"","sshAuthorizedKeys":["k"]}]}}"#)
        .unwrap();
    assert_eq!(
        line(&t, "/etc/passwd", "core").unwrap(),
        "core:x:500:500:Changed:/home/core:/bin/sh"
    );
    assert!(
        line(&t, "/etc/shadow", "core")
            .unwrap()
            .starts_with("core:*:")
    );
    // The home did not exist: the keys need it, so this is the one thing created for it.
    assert_eq!(t.read("/home/core/.ssh/authorized_keys.d/ignition"), "k\n");
    assert_eq!(t.stat("/home/core"), (500, 500, 0o700));
}

#[test]
fn users_and_groups_delete() {
    let t = seeded();
    t.run(r#"{"passwd":{"users":[{"name":"jenkins","uid":1020}],"groups":[{"name":"extra","gid":1500}]}}"#)
        .unwrap();
    assert!(line(&t, "/etc/passwd", "jenkins").is_some());
    assert!(line(&t, "/etc/group", "extra").is_some());
    t.run(
        r#"{"passwd":{"users":[{"name":"jenkins","shouldExist":false},{"name":"test","shouldExist":false}],
        "groups":[{"name":"extra","shouldExist":false},{"name":"absent","shouldExist":false}]}}"#,
    )
    .unwrap();
    assert!(line(&t, "/etc/passwd", "jenkins").is_none());
    assert!(line(&t, "/etc/group", "extra").is_none());
    assert!(!t.exists("/home/jenkins"));
}

#[test]
fn groups_add_and_existing_group_is_updated() {
    let t = seeded();
    t.run(
        r#"{"passwd":{"groups":[{"name":"docker","gid":990,"system":true,"passwordHash":"$1$x"},
        {"name":"core","gid":600}]}}"#,
    )
    .unwrap();
    assert_eq!(line(&t, "/etc/group", "docker").unwrap(), "docker:x:990:");
    assert!(
        line(&t, "/etc/gshadow", "docker")
            .unwrap()
            .starts_with("docker:$1$x:")
    );
    assert!(
        line(&t, "/etc/group", "core")
            .unwrap()
            .starts_with("core:x:600:")
    );
}

#[test]
fn failing_command_reports_the_user() {
    let t = seeded();
    let e = t
        .run(r#"{"passwd":{"users":[{"name":"dup","uid":500,"noUserGroup":true}]}}"#)
        .map(|_| ())
        .unwrap_err();
    assert!(e.message.contains(r#"failed to create user "dup""#), "{e}");
    assert!(e.message.contains("useradd failed"), "{e}");
}

#[test]
fn notated_directories_under_home_become_the_users() {
    // users.add.mountpoint: the mount stage created /home/test/.ssh/foo/bar for a filesystem;
    // an explicit directory entry for .ssh keeps its configured mode.
    let t = seeded();
    t.mkdir("/home/test/.ssh/foo/bar");
    t.mkdir("/srv/other");
    let options = Options {
        notated_directories: [
            "/home/test/.ssh",
            "/home/test/.ssh/foo",
            "/home/test/.ssh/foo/bar",
            "/srv/other",
        ]
        .map(String::from)
        .to_vec(),
        ..t.options()
    };
    t.run_with(
        r#"{"passwd":{"users":[{"name":"test","uid":1000}]},
        "storage":{"directories":[{"path":"/home/test/.ssh","mode":488,"user":{"name":"test"}}]}}"#,
        &options,
    )
    .unwrap();
    // Chowned to 1000:1000 for the mount, then the entry's user and mode.
    assert_eq!(t.stat("/home/test/.ssh"), (1000, 1000, 0o750));
    assert_eq!(t.stat("/home/test/.ssh/foo"), (1000, 1000, 0o700));
    assert_eq!(t.stat("/home/test/.ssh/foo/bar"), (1000, 1000, 0o700));
    assert_eq!(t.stat("/srv/other"), (0, 0, 0o755));
}

#[test]
fn keys_follow_home_symlink_in_root_but_not_links_below_home() {
    // Fedora CoreOS: /home -> var/home.
    let t = seeded();
    std::fs::remove_dir(t.path("/home")).unwrap();
    t.mkdir("/var/home");
    t.symlink("var/home", "/home");
    t.run(r#"{"passwd":{"users":[{"name":"fcos","uid":1000,"sshAuthorizedKeys":["k"]}]}}"#)
        .unwrap();
    assert_eq!(
        t.read("/var/home/fcos/.ssh/authorized_keys.d/ignition"),
        "k\n"
    );

    let t = seeded();
    t.mkdir("/etc/target");
    t.run(r#"{"passwd":{"users":[{"name":"evil","uid":1001}]}}"#)
        .unwrap();
    t.symlink("/etc/target", "/home/evil/.ssh");
    let e = t
        .run(r#"{"passwd":{"users":[{"name":"evil","sshAuthorizedKeys":["k"]}]}}"#)
        .map(|_| ())
        .unwrap_err();
    assert!(e.message.contains("is not a directory"), "{e}");
    assert_eq!(std::fs::read_dir(t.path("/etc/target")).unwrap().count(), 0);
}
