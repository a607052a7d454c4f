//! SELinux labelling of what the stage created, as upstream does it: collect the paths, then
//! one `setfiles -vF0 -r <root> <file_contexts> -f -` run with the target's policy. Only when
//! the target has `/etc/selinux/config`; without a policy nothing is attempted.

use crate::root::Root;
use crate::{FilesError, Selinux};
use kindling_report::Recorder;
use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CONFIG: &str = "/etc/selinux/config";

/// The paths to relabel, or `None` when the target has no policy (or labelling is off).
pub struct Relabel {
    policy: Option<String>,
    /// `setfiles`, from `PATH` (tests point it at a recorder).
    program: PathBuf,
    paths: BTreeSet<PathBuf>,
}

/// `SELINUXTYPE=` from the target's SELinux config.
fn policy_type(config: &[u8]) -> Result<String, FilesError> {
    let text = String::from_utf8_lossy(config);
    for line in text.lines() {
        if let Some(policy) = line.trim().strip_prefix("SELINUXTYPE=") {
            if policy.is_empty() {
                return Err(FilesError::new(format!(
                    "invalid SELINUXTYPE value in {CONFIG}"
                )));
            }
            return Ok(policy.to_string());
        }
    }
    Err(FilesError::new(format!(
        "didn't find SELINUXTYPE in {CONFIG}"
    )))
}

impl Relabel {
    pub fn new(root: &Root, mode: Selinux) -> Result<Relabel, FilesError> {
        let policy = match mode {
            Selinux::Off => None,
            Selinux::Auto => match root.read_file(Path::new(CONFIG)) {
                Ok(Some(config)) => Some(policy_type(&config)?),
                Ok(None) => None,
                Err(e) => return Err(FilesError::new(format!("reading {CONFIG}: {e}"))),
            },
        };
        Ok(Relabel {
            policy,
            paths: BTreeSet::new(),
            program: PathBuf::from("setfiles"),
        })
    }

    pub fn enabled(&self) -> bool {
        self.policy.is_some()
    }

    /// Queue an in-root path for relabelling.
    pub fn add(&mut self, path: &Path) {
        if self.enabled() {
            self.paths.insert(path.to_path_buf());
        }
    }

    /// Before `path` is created: queue its first component that does not exist yet (so the
    /// directories created for it are labelled too), or the path itself.
    pub fn created(&mut self, root: &Root, path: &Path) {
        if !self.enabled() {
            return;
        }
        let mut prefix = PathBuf::from("/");
        for part in path.components().skip(1) {
            prefix.push(part);
            let exists = root
                .parent(&prefix)
                .ok()
                .and_then(|(dir, name)| dir.lstat(&name).ok().flatten())
                .is_some();
            if !exists {
                break;
            }
        }
        self.paths.insert(prefix);
    }

    /// Label everything queued that exists.
    pub fn run(self, root: &Root, rec: &mut Recorder) -> Result<(), FilesError> {
        let Some(policy) = self.policy else {
            return Ok(());
        };
        let existing: Vec<PathBuf> = self
            .paths
            .iter()
            .filter(|p| {
                root.parent(p)
                    .ok()
                    .and_then(|(dir, name)| dir.lstat(&name).ok().flatten())
                    .is_some()
            })
            .map(|p| root.host_join(p))
            .collect();
        if existing.is_empty() {
            return Ok(());
        }
        let contexts = root.host_join(
            &Path::new("/etc/selinux")
                .join(&policy)
                .join("contexts/files/file_contexts"),
        );
        rec.op(
            format!("relabeling {} patterns", existing.len()),
            None,
            |_| setfiles(&self.program, root.host_path(), &contexts, &existing),
        )
    }
}

fn setfiles(
    program: &Path,
    root: &Path,
    contexts: &Path,
    paths: &[PathBuf],
) -> Result<(), FilesError> {
    let mut child = Command::new(program)
        .arg("-vF0")
        .arg("-r")
        .arg(root)
        .arg(contexts)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| FilesError::new(format!("running setfiles: {e}")))?;
    let mut input = Vec::new();
    for p in paths {
        input.extend_from_slice(p.as_os_str().as_bytes());
        input.push(0);
    }
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&input)
            .map_err(|e| FilesError::new(format!("writing paths to setfiles: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| FilesError::new(format!("running setfiles: {e}")))?;
    if !out.status.success() {
        return Err(FilesError::new(format!(
            "setfiles failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_type_is_read_or_refused() {
        assert_eq!(
            policy_type(b"SELINUX=enforcing\nSELINUXTYPE=targeted\n").unwrap(),
            "targeted"
        );
        assert!(policy_type(b"SELINUX=enforcing\n").is_err());
        assert!(policy_type(b"SELINUXTYPE=\n").is_err());
    }

    #[test]
    fn no_policy_means_nothing_queued() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let mut r = Relabel::new(&root, Selinux::Auto).unwrap();
        r.created(&root, Path::new("/etc/foo"));
        assert!(!r.enabled());
        assert!(r.paths.is_empty());
    }

    #[test]
    fn runs_setfiles_with_the_target_policy_on_existing_paths() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("root");
        std::fs::create_dir_all(target.join("etc/selinux")).unwrap();
        std::fs::write(target.join("etc/selinux/config"), "SELINUXTYPE=targeted\n").unwrap();
        std::fs::create_dir_all(target.join("var/a")).unwrap();
        // A stand-in for setfiles that records its arguments and standard input.
        let log = dir.path().join("log");
        let fake = dir.path().join("setfiles");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\necho \"$@\" > {0}\ntr '\\0' '\\n' >> {0}\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let root = Root::open(&target).unwrap();
        let mut r = Relabel::new(&root, Selinux::Auto).unwrap();
        r.program = fake;
        r.created(&root, Path::new("/var/a/b/c"));
        r.add(Path::new("/gone"));
        std::fs::create_dir_all(target.join("var/a/b/c")).unwrap();
        let mut rec = Recorder::new("files");
        r.run(&root, &mut rec).unwrap();
        let t = target.display();
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            format!(
                "-vF0 -r {t} {t}/etc/selinux/targeted/contexts/files/file_contexts -f -\n{t}/var/a/b\n"
            )
        );
        assert_eq!(rec.operations()[0].name, "relabeling 1 patterns");
    }

    #[test]
    fn queues_first_missing_component() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/selinux")).unwrap();
        std::fs::write(
            dir.path().join("etc/selinux/config"),
            "SELINUXTYPE=targeted\n",
        )
        .unwrap();
        let root = Root::open(dir.path()).unwrap();
        let mut r = Relabel::new(&root, Selinux::Auto).unwrap();
        r.created(&root, Path::new("/etc/a/b/c"));
        r.created(&root, Path::new("/etc/selinux/config"));
        let want: BTreeSet<PathBuf> = ["/etc/a", "/etc/selinux/config"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(r.paths, want);
        assert!(Relabel::new(&root, Selinux::Off).unwrap().policy.is_none());
    }
}
