//! User and group names resolved in the target: its `/etc/passwd` and `/etc/group`, then
//! `/usr/lib/passwd` and `/usr/lib/group` (nss-altfiles, where Fedora CoreOS keeps its base
//! users). The initramfs's own account database is never consulted.

use crate::root::Root;
use std::io;
use std::path::{Path, PathBuf};

const PASSWD_FILES: [&str; 2] = ["/etc/passwd", "/usr/lib/passwd"];
const GROUP_FILES: [&str; 2] = ["/etc/group", "/usr/lib/group"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// The first entry named `name` in the colon-separated files, in order; `None` if absent.
fn find_line(root: &Root, files: &[&str], name: &str) -> io::Result<Option<Vec<String>>> {
    for file in files {
        let Some(bytes) = root.read_file(Path::new(file))? else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.first() == Some(&name) && !line.starts_with('#') {
                return Ok(Some(fields.into_iter().map(str::to_string).collect()));
            }
        }
    }
    Ok(None)
}

fn parse_id(field: Option<&String>, what: &str, name: &str) -> io::Result<u32> {
    field.and_then(|f| f.parse().ok()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed {what} entry for {name:?} in the target"),
        )
    })
}

/// Look a user up in the target; `None` if no such user.
pub fn user(root: &Root, name: &str) -> io::Result<Option<User>> {
    let Some(fields) = find_line(root, &PASSWD_FILES, name)? else {
        return Ok(None);
    };
    Ok(Some(User {
        name: name.to_string(),
        uid: parse_id(fields.get(2), "passwd", name)?,
        gid: parse_id(fields.get(3), "passwd", name)?,
        home: PathBuf::from(fields.get(5).map(String::as_str).unwrap_or("/")),
    }))
}

/// Look a group's id up in the target; `None` if no such group.
pub fn group(root: &Root, name: &str) -> io::Result<Option<u32>> {
    match find_line(root, &GROUP_FILES, name)? {
        Some(fields) => Ok(Some(parse_id(fields.get(2), "group", name)?)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_in_etc_then_usr_lib() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("etc")).unwrap();
        std::fs::create_dir_all(p.join("usr/lib")).unwrap();
        std::fs::write(
            p.join("etc/passwd"),
            "core:x:500:501:Core:/var/home/core:/bin/bash\n",
        )
        .unwrap();
        std::fs::write(
            p.join("usr/lib/passwd"),
            "core:x:9:9::/x:/bin/sh\nbin:x:1:1::/bin:/sbin/nologin\n",
        )
        .unwrap();
        std::fs::write(p.join("usr/lib/group"), "wheel:x:10:\n").unwrap();
        let root = Root::open(p).unwrap();
        let core = user(&root, "core").unwrap().unwrap();
        assert_eq!((core.uid, core.gid), (500, 501));
        assert_eq!(core.home, PathBuf::from("/var/home/core"));
        assert_eq!(user(&root, "bin").unwrap().unwrap().uid, 1);
        assert_eq!(user(&root, "nobody").unwrap(), None);
        assert_eq!(group(&root, "wheel").unwrap(), Some(10));
        assert_eq!(group(&root, "core").unwrap(), None);
    }

    #[test]
    fn malformed_ids_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/group"), "bad:x:notanumber:\n").unwrap();
        let root = Root::open(dir.path()).unwrap();
        assert!(group(&root, "bad").is_err());
    }
}
