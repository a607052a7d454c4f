//! Atomic writes: a temporary file in the destination directory, owner and mode set on it,
//! fsync, rename over the final name, fsync of the directory. A crash at any point leaves either
//! the old node or the complete new file at the final path, never a partial one.

use crate::root::{Dir, owner_of, set_owner_and_mode};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};

/// Owner and mode of a file being written; unset ids keep what the file system gave the new
/// file (root, or the group of a setgid directory).
#[derive(Debug, Clone, Copy)]
pub struct Perms {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub mode: u32,
}

impl Perms {
    pub fn mode(mode: u32) -> Perms {
        Perms {
            uid: None,
            gid: None,
            mode,
        }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A hidden, unique name for a temporary file (the `O_EXCL` create retries on a clash).
fn temp_name() -> OsString {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    OsString::from(format!(
        ".kindling-tmp-{}-{n}-{nanos:08x}",
        std::process::id()
    ))
}

/// A temporary file in `dir`, removed on drop unless it was renamed into place.
pub struct TempFile<'a> {
    dir: &'a Dir,
    name: Option<OsString>,
    pub file: File,
}

impl<'a> TempFile<'a> {
    pub fn new(dir: &'a Dir) -> io::Result<TempFile<'a>> {
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        loop {
            let name = temp_name();
            match rustix::fs::openat(&dir.fd, &name, flags, Mode::from_raw_mode(0o600)) {
                Ok(fd) => {
                    return Ok(TempFile {
                        dir,
                        name: Some(name),
                        file: File::from(fd),
                    });
                }
                Err(Errno::EXIST) => continue,
                Err(e) => {
                    return Err(io::Error::new(
                        io::Error::from(e).kind(),
                        format!("creating a temporary file in {}: {e}", dir.path.display()),
                    ));
                }
            }
        }
    }

    /// Set owner and mode, sync, rename over `name` and sync the directory.
    pub fn commit(mut self, name: &OsStr, perms: Perms) -> io::Result<()> {
        let (cur_uid, cur_gid) = owner_of(self.file.as_fd())?;
        let owner = (perms.uid.unwrap_or(cur_uid), perms.gid.unwrap_or(cur_gid));
        set_owner_and_mode(self.file.as_fd(), owner, Some(perms.mode))?;
        self.file.sync_all()?;
        let Some(tmp) = self.name.take() else {
            return Err(io::Error::other("temporary file already committed"));
        };
        if let Err(e) = rustix::fs::renameat(&self.dir.fd, &tmp, &self.dir.fd, name) {
            let _ = rustix::fs::unlinkat(&self.dir.fd, &tmp, rustix::fs::AtFlags::empty());
            return Err(e.into());
        }
        self.dir.sync()
    }
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            let _ = rustix::fs::unlinkat(&self.dir.fd, &name, rustix::fs::AtFlags::empty());
        }
    }
}

/// Write `bytes` atomically to `dir/name`.
pub fn write_bytes(dir: &Dir, name: &OsStr, bytes: &[u8], perms: Perms) -> io::Result<()> {
    let mut tmp = TempFile::new(dir)?;
    io::Write::write_all(&mut tmp.file, bytes)?;
    tmp.commit(name, perms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::Root;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    #[test]
    fn writes_replaces_and_leaves_no_temp_behind() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("f"), "old").unwrap();
        let r = Root::open(root.path()).unwrap();
        let dir = r.dir(Path::new("/")).unwrap();
        let perms = Perms {
            uid: Some(12),
            gid: Some(34),
            mode: 0o4750,
        };
        write_bytes(&dir, OsStr::new("f"), b"new", perms).unwrap();
        let meta = std::fs::metadata(root.path().join("f")).unwrap();
        assert_eq!(std::fs::read(root.path().join("f")).unwrap(), b"new");
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o7777),
            (12, 34, 0o4750)
        );
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    }

    #[test]
    fn dropped_temp_file_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let r = Root::open(root.path()).unwrap();
        let dir = r.dir(Path::new("/")).unwrap();
        {
            let mut tmp = TempFile::new(&dir).unwrap();
            io::Write::write_all(&mut tmp.file, b"partial").unwrap();
        }
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }
}
