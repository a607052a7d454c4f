//! The target root, opened once; every file system operation of the stage goes through it.
//!
//! Confinement is the kernel's: every lookup is `openat2(root_fd, path, RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS)`, so absolute symlinks are re-rooted, `..` stops at the root and
//! `/proc/self/root`-style links are refused, whatever the target contains. Changes are made with
//! `*at()` calls on the parent directory's fd and never follow the final component, and modes and
//! owners are set on an fd opened with `O_NOFOLLOW`.

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

/// Symlinks followed while resolving one path before giving up (the kernel's limit too).
const MAX_SYMLINK_HOPS: usize = 40;

fn resolve_flags() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

/// An open directory in the root: its fd and its in-root path (for messages).
pub struct Dir {
    pub fd: OwnedFd,
    pub path: PathBuf,
}

impl Dir {
    /// The in-root path of `name` inside this directory.
    pub fn child(&self, name: &OsStr) -> PathBuf {
        self.path.join(name)
    }

    /// `lstat` of an entry; `None` if it does not exist.
    pub fn lstat(&self, name: &OsStr) -> io::Result<Option<Stat>> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn readlink(&self, name: &OsStr) -> io::Result<PathBuf> {
        let target = rustix::fs::readlinkat(&self.fd, name, Vec::new())?;
        Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
    }

    /// Open an existing regular file or directory for reading without following a symlink.
    pub fn open_nofollow(&self, name: &OsStr) -> io::Result<OwnedFd> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        Ok(rustix::fs::openat(&self.fd, name, flags, Mode::empty())?)
    }

    /// Open an entry as a directory (no symlink followed).
    pub fn subdir(&self, name: &OsStr) -> io::Result<Dir> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::empty())?;
        Ok(Dir {
            fd,
            path: self.child(name),
        })
    }

    /// Create a directory entry; an existing one is not an error.
    pub fn mkdir(&self, name: &OsStr, mode: u32) -> io::Result<bool> {
        match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(mode)) {
            Ok(()) => Ok(true),
            Err(Errno::EXIST) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub fn symlink(&self, target: &Path, name: &OsStr) -> io::Result<()> {
        Ok(rustix::fs::symlinkat(target, &self.fd, name)?)
    }

    /// Remove an entry and, for a directory, everything below it (never following symlinks).
    /// A missing entry is not an error.
    pub fn remove_all(&self, name: &OsStr) -> io::Result<()> {
        let Some(st) = self.lstat(name)? else {
            return Ok(());
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            let sub = self.subdir(name)?;
            let mut entries = rustix::fs::Dir::read_from(&sub.fd)?;
            let mut names = Vec::new();
            while let Some(entry) = entries.read() {
                let entry = entry?;
                let bytes = entry.file_name().to_bytes();
                if bytes != b"." && bytes != b".." {
                    names.push(OsStr::from_bytes(bytes).to_os_string());
                }
            }
            for child in names {
                sub.remove_all(&child)?;
            }
            rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR)?;
        } else {
            match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Remove a non-directory entry; a missing one is not an error.
    pub fn unlink(&self, name: &OsStr) -> io::Result<()> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// `lchown`: change the owner of an entry itself, never what a symlink points to.
    pub fn lchown(&self, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
        Ok(rustix::fs::chownat(
            &self.fd,
            name,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    pub fn sync(&self) -> io::Result<()> {
        Ok(rustix::fs::fsync(&self.fd)?)
    }
}

/// Set owner, then mode (chown clears setuid/setgid bits, so the mode must come last).
pub fn set_owner_and_mode(
    fd: BorrowedFd<'_>,
    owner: (u32, u32),
    mode: Option<u32>,
) -> io::Result<()> {
    rustix::fs::fchown(
        fd,
        Some(rustix::fs::Uid::from_raw(owner.0)),
        Some(rustix::fs::Gid::from_raw(owner.1)),
    )?;
    if let Some(mode) = mode {
        rustix::fs::fchmod(fd, Mode::from_raw_mode(mode & 0o7777))?;
    }
    Ok(())
}

pub fn owner_of(fd: BorrowedFd<'_>) -> io::Result<(u32, u32)> {
    let st = rustix::fs::fstat(fd)?;
    Ok((st.st_uid, st.st_gid))
}

pub fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

/// The target root.
pub struct Root {
    fd: OwnedFd,
    host_path: PathBuf,
}

/// A path split into the components to follow and the final name.
fn split(path: &Path) -> io::Result<(Vec<OsString>, OsString)> {
    let mut parts = components(path);
    match parts.pop() {
        Some(name) if name != ".." => Ok((parts, name)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name an entry", path.display()),
        )),
    }
}

/// Normal and `..` components of a path, `.` and the root dropped.
fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn in_root_path(parts: &[OsString]) -> PathBuf {
    let mut p = PathBuf::from("/");
    p.extend(parts);
    p
}

impl Root {
    /// Open the root; its path is made absolute (shadow-utils and setfiles need that).
    pub fn open(host_path: &Path) -> io::Result<Root> {
        let fail = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("opening the target root {}: {e}", host_path.display()),
            )
        };
        let host_path = std::fs::canonicalize(host_path).map_err(fail)?;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(&host_path, flags, Mode::empty()).map_err(|e| fail(e.into()))?;
        Ok(Root { fd, host_path })
    }

    /// The root as the host sees it (for tools that take `--root`).
    pub fn host_path(&self) -> &Path {
        &self.host_path
    }

    /// The host path of an in-root path (for tools that take paths, like `setfiles`).
    pub fn host_join(&self, path: &Path) -> PathBuf {
        let mut p = self.host_path.clone();
        p.extend(components(path));
        p
    }

    /// Open an existing directory of the root (the root itself for `/`).
    pub fn dir(&self, path: &Path) -> io::Result<Dir> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let rel = in_root_path(&components(path));
        let fd = rustix::fs::openat2(&self.fd, &rel, flags, Mode::empty(), resolve_flags())
            .map_err(|e| annotate(e.into(), "opening directory", &rel))?;
        Ok(Dir { fd, path: rel })
    }

    /// Open an existing file of the root for reading, confined; `None` if it does not exist.
    pub fn read_file(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC;
        match rustix::fs::openat2(&self.fd, path, flags, Mode::empty(), resolve_flags()) {
            Ok(fd) => {
                let mut out = Vec::new();
                io::Read::read_to_end(&mut File::from(fd), &mut out)?;
                Ok(Some(out))
            }
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(annotate(e.into(), "reading", path)),
        }
    }

    /// The directory holding `path` and the final name, creating missing parents (0755,
    /// owned by root). Also returns the first directory it had to create, if any.
    pub fn parent_creating(&self, path: &Path) -> io::Result<(Dir, OsString, Option<PathBuf>)> {
        let (parents, name) = split(path)?;
        let (dir, created) = self.mkdir_all(&in_root_path(&parents))?;
        Ok((dir, name, created))
    }

    /// The directory holding `path` (which must exist) and the final name.
    pub fn parent(&self, path: &Path) -> io::Result<(Dir, OsString)> {
        let (parents, name) = split(path)?;
        Ok((self.dir(&in_root_path(&parents))?, name))
    }

    /// `mkdir -p` inside the root; returns the directory and the first one created.
    pub fn mkdir_all(&self, path: &Path) -> io::Result<(Dir, Option<PathBuf>)> {
        let parts = components(path);
        let mut dir = self.dir(Path::new("/"))?;
        let mut first_created = None;
        for (i, part) in parts.iter().enumerate() {
            let prefix = in_root_path(&parts[..=i]);
            dir = match self.dir(&prefix) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if dir
                        .mkdir(part, 0o755)
                        .map_err(|e| annotate(e, "creating directory", &prefix))?
                    {
                        first_created.get_or_insert_with(|| prefix.clone());
                    }
                    self.dir(&prefix)?
                }
                Err(e) => return Err(e),
            };
        }
        Ok((dir, first_created))
    }

    /// Where `path` really is in the root: every component but the last is resolved, symlinks
    /// (absolute ones re-rooted, relative ones from their directory, chains followed) included;
    /// missing components are kept as written. Used to detect two entries landing on the same
    /// node and to order entries by depth; the writes themselves are confined by the kernel.
    pub fn resolve(&self, path: &Path) -> io::Result<PathBuf> {
        let (parents, name) = split(path)?;
        let mut pending: std::collections::VecDeque<OsString> = parents.into();
        let mut resolved: Vec<OsString> = Vec::new();
        let mut missing = false;
        let mut hops = 0;
        while let Some(part) = pending.pop_front() {
            if part == ".." {
                resolved.pop();
                continue;
            }
            if missing {
                resolved.push(part);
                continue;
            }
            let dir = self.dir(&in_root_path(&resolved))?;
            match dir.lstat(&part)? {
                None => {
                    missing = true;
                    resolved.push(part);
                }
                Some(st) if file_type(&st) == FileType::Symlink => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("too many levels of symbolic links in {}", path.display()),
                        ));
                    }
                    let target = dir.readlink(&part)?;
                    if target.is_absolute() {
                        resolved.clear();
                    }
                    for c in components(&target).into_iter().rev() {
                        pending.push_front(c);
                    }
                }
                Some(_) => resolved.push(part),
            }
        }
        resolved.push(name);
        Ok(in_root_path(&resolved))
    }
}

pub fn annotate(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

impl AsFd for Root {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn resolves_symlinks_in_root_and_keeps_missing_parts() {
        let root = tmp();
        std::fs::create_dir_all(root.path().join("real/sub")).unwrap();
        symlink("/real", root.path().join("abs")).unwrap();
        symlink("real/sub", root.path().join("rel")).unwrap();
        symlink("../../../../..", root.path().join("real/up")).unwrap();
        symlink("/abs", root.path().join("chain")).unwrap();
        let r = Root::open(root.path()).unwrap();
        let cases = [
            ("/abs/x", "/real/x"),
            ("/rel/x", "/real/sub/x"),
            ("/real/up/etc/x", "/etc/x"),
            ("/chain/sub/none/x", "/real/sub/none/x"),
            ("/abs", "/abs"),
        ];
        for (input, want) in cases {
            assert_eq!(
                r.resolve(Path::new(input)).unwrap(),
                PathBuf::from(want),
                "{input}"
            );
        }
    }

    #[test]
    fn symlink_loops_fail() {
        let root = tmp();
        symlink("/b", root.path().join("a")).unwrap();
        symlink("/a", root.path().join("b")).unwrap();
        let r = Root::open(root.path()).unwrap();
        assert!(r.resolve(Path::new("/a/x")).is_err());
    }

    #[test]
    fn mkdir_all_stays_inside_through_absolute_links() {
        let root = tmp();
        let outside = tmp();
        symlink(outside.path(), root.path().join("esc")).unwrap();
        let r = Root::open(root.path()).unwrap();
        let resolved = r.resolve(Path::new("/esc/new/dir/file")).unwrap();
        let (_, name, created) = r.parent_creating(&resolved).unwrap();
        assert_eq!(name, "file");
        // The absolute target is re-rooted: the directories appear under <root><outside>.
        assert!(
            root.path()
                .join(outside.path().strip_prefix("/").unwrap())
                .join("new/dir")
                .is_dir()
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        assert!(created.is_some());
    }

    #[test]
    fn kernel_confines_lookups_without_the_resolver() {
        // Lookups that still contain links (the tree changed after resolution) are re-rooted
        // by RESOLVE_IN_ROOT itself.
        let root = tmp();
        let outside = tmp();
        std::fs::write(outside.path().join("secret"), "outside").unwrap();
        symlink(outside.path(), root.path().join("esc")).unwrap();
        symlink("../../../../../../../..", root.path().join("up")).unwrap();
        let r = Root::open(root.path()).unwrap();
        let rel = outside.path().strip_prefix("/").unwrap();
        assert!(r.dir(Path::new("/esc")).is_err());
        assert_eq!(r.read_file(Path::new("/esc/secret")).unwrap(), None);
        assert_eq!(
            r.read_file(&Path::new("/up").join(rel).join("secret"))
                .unwrap(),
            None
        );
        std::fs::create_dir_all(root.path().join(rel)).unwrap();
        std::fs::write(root.path().join(rel).join("secret"), "inside").unwrap();
        assert_eq!(
            r.read_file(Path::new("/esc/secret")).unwrap().unwrap(),
            b"inside"
        );
    }

    #[test]
    fn remove_all_does_not_follow_links() {
        let root = tmp();
        let outside = tmp();
        std::fs::write(outside.path().join("keep"), "x").unwrap();
        std::fs::create_dir_all(root.path().join("d/e")).unwrap();
        symlink(outside.path(), root.path().join("d/e/link")).unwrap();
        let r = Root::open(root.path()).unwrap();
        r.dir(Path::new("/"))
            .unwrap()
            .remove_all(OsStr::new("d"))
            .unwrap();
        assert!(!root.path().join("d").exists());
        assert!(outside.path().join("keep").exists());
    }
}
