//! A hostile target root: symlinks of every kind aimed at a canary directory outside the root
//! (never at the real `/`). Whatever the stage does with them — follow them inside the root or
//! fail — the canary must not change in any way.
//!
//! Needs root (chown, useradd, mounting proc inside the temporary root for the magic links).

use kindling_config::Config;
use kindling_config::model::Resource;
use kindling_files::{Contents, Options, run_with};
use kindling_report::Recorder;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Mem;

impl Contents for Mem {
    fn fetch_into(&self, resource: &Resource, out: &mut File) -> Result<u64, String> {
        let text = resource
            .source
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches("mem:");
        out.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
        Ok(text.len() as u64)
    }
}

/// Everything observable about a tree: type, mode, owner, size, mtime, content, link target.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let m = std::fs::symlink_metadata(&path).unwrap();
            let detail = if m.file_type().is_symlink() {
                std::fs::read_link(&path).unwrap().display().to_string()
            } else if m.is_file() {
                String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned()
            } else {
                stack.push(path.clone());
                String::new()
            };
            let desc = format!(
                "{:o} {}:{} {} {} {}",
                m.mode(),
                m.uid(),
                m.gid(),
                m.len(),
                m.mtime_nsec() + m.mtime() * 1_000_000_000,
                detail
            );
            out.insert(path, desc);
        }
    }
    out.insert(dir.to_path_buf(), {
        let m = std::fs::metadata(dir).unwrap();
        format!("{:o} {}:{} {}", m.mode(), m.uid(), m.gid(), m.mtime_nsec())
    });
    out
}

struct Hostile {
    root: tempfile::TempDir,
    canary: tempfile::TempDir,
    _canary_fd: File,
    proc_mounted: bool,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        if self.proc_mounted {
            let _ = Command::new("umount")
                .arg(self.root.path().join("proc"))
                .status();
        }
    }
}

impl Hostile {
    /// A root full of links to the canary, and a canary with a file, a directory, a link.
    fn new() -> Hostile {
        let root = tempfile::tempdir().unwrap();
        let canary = tempfile::tempdir().unwrap();
        let c = canary.path();
        std::fs::write(c.join("secret"), "canary").unwrap();
        std::fs::create_dir(c.join("sub")).unwrap();
        std::fs::write(c.join("sub/file"), "deep").unwrap();
        symlink("secret", c.join("link")).unwrap();
        let r = root.path();
        let rel = c.strip_prefix("/").unwrap();
        symlink(c, r.join("abs")).unwrap();
        symlink(
            Path::new("../../../../../../../../../..").join(rel),
            r.join("rel"),
        )
        .unwrap();
        symlink("/chain2", r.join("chain1")).unwrap();
        symlink("chain3", r.join("chain2")).unwrap();
        symlink(c, r.join("chain3")).unwrap();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        symlink("../../../../../../..", r.join("a/b/up")).unwrap();
        symlink(c.join("secret"), r.join("abs-file")).unwrap();
        symlink(c.join("sub"), r.join("abs-dir")).unwrap();
        std::fs::create_dir(r.join("proc")).unwrap();
        let proc_mounted = Command::new("mount")
            .args(["-t", "proc", "proc"])
            .arg(r.join("proc"))
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            proc_mounted,
            "mounting proc inside the test root (the suite needs root)"
        );
        symlink(Path::new("/proc/self/root").join(rel), r.join("magic-root")).unwrap();
        // An fd on the canary, held for the suite's lifetime: /proc/self/fd/N is the canary.
        let canary_fd = File::open(c).unwrap();
        let fd_link = format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&canary_fd)
        );
        symlink(fd_link, r.join("magic-fd")).unwrap();
        symlink("/proc/thread-self/root", r.join("magic-thread")).unwrap();
        Hostile {
            root,
            canary,
            _canary_fd: canary_fd,
            proc_mounted,
        }
    }

    fn run(&self, json: &str) -> Result<(), String> {
        let config: Config = serde_json::from_str(json).unwrap();
        let options = Options {
            root: self.root.path().to_path_buf(),
            ..Default::default()
        };
        let mut rec = Recorder::new("files");
        run_with(&config, &Mem, &options, &mut rec).map_err(|e| e.message)
    }
}

/// Every way into the canary the root offers, as directory prefixes.
const PREFIXES: [&str; 8] = [
    "/abs",
    "/rel",
    "/chain1",
    "/a/b/up/CANARY",
    "/magic-root",
    "/magic-thread/CANARY",
    "/abs-dir",
    "/magic-fd",
];

fn prefixes(h: &Hostile) -> Vec<String> {
    let rel = h
        .canary
        .path()
        .strip_prefix("/")
        .unwrap()
        .display()
        .to_string();
    PREFIXES.iter().map(|p| p.replace("CANARY", &rel)).collect()
}

/// Run `config` and check the canary is untouched; returns the stage's outcome.
fn attempt(h: &Hostile, config: &str) -> Result<(), String> {
    let before = snapshot(h.canary.path());
    let outcome = h.run(config);
    assert_eq!(
        before,
        snapshot(h.canary.path()),
        "canary changed by {config}: {outcome:?}"
    );
    outcome
}

#[test]
fn files_dirs_and_links_through_every_kind_of_link_stay_inside() {
    let h = Hostile::new();
    for p in prefixes(&h) {
        let cases = [
            format!(
                r#"{{"storage":{{"files":[{{"path":"{p}/secret","overwrite":true,"contents":{{"source":"mem:pwned"}},"mode":4095,"user":{{"id":1}}}}]}}}}"#
            ),
            format!(
                r#"{{"storage":{{"files":[{{"path":"{p}/secret","append":[{{"source":"mem:pwned"}}],"mode":511}}]}}}}"#
            ),
            format!(
                r#"{{"storage":{{"files":[{{"path":"{p}/new","contents":{{"source":"mem:pwned"}}}}]}}}}"#
            ),
            format!(
                r#"{{"storage":{{"files":[{{"path":"{p}/link","append":[{{"source":"mem:pwned"}}]}}]}}}}"#
            ),
            format!(
                r#"{{"storage":{{"directories":[{{"path":"{p}/sub","mode":511,"user":{{"id":7}}}},{{"path":"{p}/newdir"}}]}}}}"#
            ),
            format!(r#"{{"storage":{{"directories":[{{"path":"{p}/sub","overwrite":true}}]}}}}"#),
            format!(
                r#"{{"storage":{{"links":[{{"path":"{p}/sub/file","target":"/x","overwrite":true}},{{"path":"{p}/l2","target":"/x"}}]}}}}"#
            ),
            format!(
                r#"{{"storage":{{"links":[{{"path":"/hard","target":"{p}/secret","hard":true}}]}}}}"#
            ),
            format!(
                r#"{{"storage":{{"links":[{{"path":"{p}/hard","target":"/a","hard":true}}]}}}}"#
            ),
        ];
        for config in cases {
            let _ = attempt(&h, &config);
        }
    }
}

#[test]
fn final_component_links_are_never_followed() {
    let h = Hostile::new();
    // Existing links as the entry itself: refused without overwrite, replaced with it.
    let e = attempt(
        &h,
        r#"{"storage":{"files":[{"path":"/abs-file","mode":511}]}}"#,
    )
    .unwrap_err();
    assert!(e.contains("A non regular file exists there already"), "{e}");
    let e = attempt(
        &h,
        r#"{"storage":{"files":[{"path":"/abs-file","append":[{"source":"mem:x"}]}]}}"#,
    )
    .unwrap_err();
    assert!(e.contains("non regular"), "{e}");
    let e = attempt(
        &h,
        r#"{"storage":{"directories":[{"path":"/abs-dir","mode":511}]}}"#,
    )
    .unwrap_err();
    assert!(e.contains("A non-directory already exists"), "{e}");
    attempt(
        &h,
        r#"{"storage":{"files":[{"path":"/abs-file","overwrite":true,"mode":511}]}}"#,
    )
    .unwrap();
    assert!(h.root.path().join("abs-file").is_file());
    attempt(
        &h,
        r#"{"storage":{"directories":[{"path":"/abs-dir","overwrite":true}]}}"#,
    )
    .unwrap();
    assert!(h.root.path().join("abs-dir").is_dir());
}

#[test]
fn absolute_links_are_rerooted() {
    let h = Hostile::new();
    let rel = h.canary.path().strip_prefix("/").unwrap();
    attempt(
        &h,
        r#"{"storage":{"files":[{"path":"/abs/new","contents":{"source":"mem:inside"}}]}}"#,
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(h.root.path().join(rel).join("new")).unwrap(),
        "inside"
    );
    attempt(
        &h,
        r#"{"storage":{"files":[{"path":"/chain1/new2","contents":{"source":"mem:inside"}}]}}"#,
    )
    .unwrap();
    assert!(h.root.path().join(rel).join("new2").is_file());
    attempt(
        &h,
        r#"{"storage":{"files":[{"path":"/magic-root/new3","contents":{"source":"mem:inside"}}]}}"#,
    )
    .unwrap();
    assert!(h.root.path().join(rel).join("new3").is_file());
}

#[test]
fn units_and_presets_through_linked_etc_stay_inside() {
    let h = Hostile::new();
    let r = h.root.path();
    symlink(h.canary.path(), r.join("etc")).unwrap();
    let _ = attempt(
        &h,
        r#"{"systemd":{"units":[{"name":"a.service","enabled":true,"contents":"[Unit]\n","dropins":[{"name":"x.conf","contents":""}]},
        {"name":"sub","mask":true},{"name":"b.service","enabled":false},{"name":"c.service","mask":false}]}}"#,
    );
    let rel = h.canary.path().strip_prefix("/").unwrap();
    assert!(r.join(rel).join("systemd/system/a.service").is_file());
    std::fs::remove_file(r.join("etc")).unwrap();
    std::fs::create_dir_all(r.join("etc/systemd")).unwrap();
    symlink(h.canary.path(), r.join("etc/systemd/system")).unwrap();
    symlink(
        h.canary.path().join("secret"),
        r.join("etc/systemd/system-preset"),
    )
    .unwrap();
    let _ = attempt(
        &h,
        r#"{"systemd":{"units":[{"name":"secret","mask":true},{"name":"link","contents":"x"},{"name":"d.service","enabled":true}]}}"#,
    );
}

#[test]
fn ssh_keys_through_a_linked_home_stay_inside() {
    let h = Hostile::new();
    let r = h.root.path();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::write(
        r.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\nevil:x:1000:1000::/magic-root/sub:/bin/sh\nabs:x:1001:1001::/abs:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        r.join("etc/group"),
        "root:x:0:\nevil:x:1000:\nabs:x:1001:\n",
    )
    .unwrap();
    std::fs::write(
        r.join("etc/shadow"),
        "root:*:1::::::\nevil:*:1::::::\nabs:*:1::::::\n",
    )
    .unwrap();
    std::fs::write(r.join("etc/gshadow"), "root:*::\nevil:*::\nabs:*::\n").unwrap();
    for user in ["evil", "abs"] {
        let _ = attempt(
            &h,
            &format!(
                r#"{{"passwd":{{"users":[{{"name":"{user}","sshAuthorizedKeys":["ssh-ed25519 AAAA"]}}]}}}}"#
            ),
        );
    }
    let rel = h.canary.path().strip_prefix("/").unwrap();
    assert!(
        r.join(rel)
            .join(".ssh/authorized_keys.d/ignition")
            .is_file()
    );
}

#[test]
fn swapping_a_directory_for_a_link_while_writing_stays_inside() {
    // The tree changes between resolution and the writes: /race is atomically exchanged, again
    // and again, between a real directory and a link to the canary.
    let h = Hostile::new();
    let r = h.root.path();
    std::fs::create_dir(r.join("race")).unwrap();
    symlink(h.canary.path(), r.join("race-alt")).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let dir = File::open(r).unwrap();
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                rustix::fs::renameat_with(
                    &dir,
                    "race",
                    &dir,
                    "race-alt",
                    rustix::fs::RenameFlags::EXCHANGE,
                )
                .unwrap();
                swaps += 1;
            }
            swaps
        })
    };
    let before = snapshot(h.canary.path());
    let mut written = 0;
    for i in 0..200 {
        let config = format!(
            r#"{{"storage":{{"files":[{{"path":"/race/secret","overwrite":true,"mode":511,"contents":{{"source":"mem:{i}"}}}},
            {{"path":"/race/sub/new{i}","append":[{{"source":"mem:x"}}]}}],
            "directories":[{{"path":"/race/sub","mode":511,"user":{{"id":9}}}}]}}}}"#
        );
        written += usize::from(h.run(&config).is_ok());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert_eq!(before, snapshot(h.canary.path()), "canary changed");
    assert!(swaps > 200, "only {swaps} swaps");
    assert!(written > 0, "no run succeeded, the race was not exercised");
}
