//! `storage.files`, `storage.directories` and `storage.links`, with upstream's rules: entries
//! resolved through the target's symlinks, conflicts detected on the resolved paths, processing
//! by depth with hard links last, `overwrite` deleting whatever is there first.

use crate::accounts;
use crate::atomic::{Perms, TempFile};
use crate::contents::{self, Contents};
use crate::root::{Dir, Root, file_type, owner_of, set_owner_and_mode};
use crate::selinux::Relabel;
use kindling_config::Config;
use kindling_config::model::{Directory, File, Link, Node, NodeOwner, Resource};
use kindling_report::Recorder;
use rustix::fs::{AtFlags, FileType, OFlags};
use std::ffi::OsStr;
use std::io::{self, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::path::{Component, Path, PathBuf};

const DEFAULT_FILE_MODE: u32 = 0o644;
const DEFAULT_DIR_MODE: u32 = 0o755;

enum Kind<'a> {
    File(&'a File),
    Dir(&'a Directory),
    Link(&'a Link),
}

struct Entry<'a> {
    kind: Kind<'a>,
    /// Where the entry really lands (parents resolved in the root).
    path: PathBuf,
    config_path: String,
}

impl Entry<'_> {
    fn node(&self) -> &Node {
        match self.kind {
            Kind::File(f) => &f.node,
            Kind::Dir(d) => &d.node,
            Kind::Link(l) => &l.node,
        }
    }
}

pub fn apply(
    root: &Root,
    config: &Config,
    contents: &dyn Contents,
    relabel: &mut Relabel,
    rec: &mut Recorder,
) -> Result<(), String> {
    let entries = ordered_entries(root, config)?;
    for entry in &entries {
        create(root, entry, contents, relabel, rec)?;
    }
    Ok(())
}

/// Resolve every entry, refuse two landing on the same node, and order them: by depth of the
/// resolved path (stable, so config order breaks ties), hard links last in config order.
fn ordered_entries<'a>(root: &Root, config: &'a Config) -> Result<Vec<Entry<'a>>, String> {
    let storage = &config.storage;
    let dirs = storage.directories.iter().enumerate().map(|(i, d)| {
        (
            Kind::Dir(d),
            &d.node,
            format!("$.storage.directories.{i}"),
            "directory",
        )
    });
    let files = storage.files.iter().enumerate().map(|(i, f)| {
        (
            Kind::File(f),
            &f.node,
            format!("$.storage.files.{i}"),
            "file",
        )
    });
    let links = storage.links.iter().enumerate().map(|(i, l)| {
        (
            Kind::Link(l),
            &l.node,
            format!("$.storage.links.{i}"),
            "link",
        )
    });
    let mut seen: std::collections::HashMap<PathBuf, String> = Default::default();
    let mut entries = Vec::new();
    let mut hard_links = Vec::new();
    for (kind, node, config_path, what) in dirs.chain(files).chain(links) {
        let path = root
            .resolve(Path::new(&node.path))
            .map_err(|e| format!("resolving {what} {:?} ({config_path}): {e}", node.path))?;
        if let Some(other) = seen.get(&path) {
            return Err(format!(
                "{what} at {} resolved to {} after symlink chasing, but another entry with path {other} also resolves there",
                node.path,
                path.display()
            ));
        }
        seen.insert(path.clone(), node.path.clone());
        let hard = matches!(kind, Kind::Link(l) if l.hard == Some(true));
        let entry = Entry {
            kind,
            path,
            config_path,
        };
        if hard {
            hard_links.push(entry);
        } else {
            entries.push(entry);
        }
    }
    entries.sort_by_key(|e| e.path.components().count());
    entries.extend(hard_links);
    Ok(entries)
}

fn create(
    root: &Root,
    entry: &Entry<'_>,
    contents: &dyn Contents,
    relabel: &mut Relabel,
    rec: &mut Recorder,
) -> Result<(), String> {
    let path = &entry.path;
    if entry.node().overwrite == Some(true) {
        remove_existing(root, path)
            .map_err(|e| format!("error removing existing {}: {e}", path.display()))?;
    }
    relabel.created(root, path);
    match entry.kind {
        Kind::File(f) => rec.op(
            format!("writing file {:?}", f.node.path),
            Some(&entry.config_path),
            |_| create_file(root, f, path, contents),
        ),
        Kind::Dir(d) => rec.op(
            format!("creating directory {:?}", d.node.path),
            Some(&entry.config_path),
            |_| create_dir(root, d, path),
        ),
        Kind::Link(l) => {
            let target = l.target.as_deref().unwrap_or_default();
            rec.op(
                format!("writing link {:?} -> {target:?}", l.node.path),
                Some(&entry.config_path),
                |_| create_link(root, l, path),
            )
        }
    }
}

fn remove_existing(root: &Root, path: &Path) -> io::Result<()> {
    match root.parent(path) {
        Ok((dir, name)) => dir.remove_all(&name),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

/// A configured mode as permission bits (specs before 3.6.0 had the special bits masked by
/// translation already).
fn mode_bits(mode: Option<i64>) -> Result<Option<u32>, String> {
    mode.map(|m| {
        u32::try_from(m)
            .ok()
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| format!("illegal file mode {m}"))
    })
    .transpose()
}

fn owner_id(owner: &NodeOwner, root: &Root, user: bool) -> Result<Option<u32>, String> {
    if let Some(id) = owner.id {
        return u32::try_from(id)
            .map(Some)
            .map_err(|_| format!("invalid id {id}"));
    }
    let Some(name) = owner.name.as_deref().filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let found = if user {
        accounts::user(root, name).map(|u| u.map(|u| u.uid))
    } else {
        accounts::group(root, name)
    };
    match found {
        Ok(Some(id)) => Ok(Some(id)),
        Ok(None) if user => Err(format!("no such user {name:?}")),
        Ok(None) => Err(format!("no such group {name:?}")),
        Err(e) => Err(format!("looking up {name:?} in the target: {e}")),
    }
}

fn owners(node: &Node, root: &Root) -> Result<(Option<u32>, Option<u32>), String> {
    let uid = owner_id(&node.user, root, true);
    let gid = owner_id(&node.group, root, false);
    match (uid, gid) {
        (Ok(u), Ok(g)) => Ok((u, g)),
        (Err(e), _) | (_, Err(e)) => Err(format!(
            "failed to determine correct uid and gid for {}: {e}",
            node.path
        )),
    }
}

/// Owner (unset ids keep the current ones), then mode if configured, on the node itself.
fn set_perms(
    dir: &Dir,
    name: &OsStr,
    owner: (Option<u32>, Option<u32>),
    mode: Option<u32>,
) -> io::Result<()> {
    let fd = dir.open_nofollow(name)?;
    let (uid, gid) = owner_of(fd.as_fd())?;
    set_owner_and_mode(
        fd.as_fd(),
        (owner.0.unwrap_or(uid), owner.1.unwrap_or(gid)),
        mode,
    )
}

fn create_file(root: &Root, f: &File, path: &Path, contents: &dyn Contents) -> Result<(), String> {
    let p = &f.node.path;
    let owner = owners(&f.node, root)?;
    let mode = mode_bits(f.mode)?;
    let (dir, name, _) = root.parent_creating(path).map_err(io_err(path))?;
    let existing = dir.lstat(&name).map_err(io_err(path))?;
    match existing {
        None => write_new(
            &dir,
            &name,
            f,
            contents,
            owner,
            mode.unwrap_or(DEFAULT_FILE_MODE),
        )
        .map_err(|e| format!("failed to create file {p:?}: {e}")),
        Some(st) if file_type(&st) != FileType::RegularFile => Err(format!(
            "error creating file {p:?}: A non regular file exists there already and overwrite is false"
        )),
        Some(_) if f.contents.source.is_some() => Err(format!(
            "error creating file {p:?}: A file exists there already and overwrite is false"
        )),
        Some(_) => {
            for fragment in &f.append {
                append_in_place(&dir, &name, fragment, contents)
                    .map_err(|e| format!("failed to append to file {p:?}: {e}"))?;
            }
            set_perms(&dir, &name, owner, mode)
                .map_err(|e| format!("error setting file permissions for {p}: {e}"))
        }
    }
}

/// A new file: contents and every fragment assembled in one temporary file, owner and mode
/// set, then renamed into place, so the final path never holds a partial file.
fn write_new(
    dir: &Dir,
    name: &OsStr,
    f: &File,
    contents: &dyn Contents,
    owner: (Option<u32>, Option<u32>),
    mode: u32,
) -> Result<(), String> {
    let mut tmp = TempFile::new(dir).map_err(|e| e.to_string())?;
    contents::fill(contents, &f.contents, &mut tmp.file)?;
    for fragment in &f.append {
        let mut piece = fetch_fragment(dir, fragment, contents)?;
        tmp.file.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
        io::copy(&mut piece.file, &mut tmp.file).map_err(|e| e.to_string())?;
    }
    let perms = Perms {
        uid: owner.0,
        gid: owner.1,
        mode,
    };
    tmp.commit(name, perms).map_err(|e| e.to_string())
}

/// Fetch (and verify) one fragment into its own temporary file, rewound for reading.
fn fetch_fragment<'a>(
    dir: &'a Dir,
    fragment: &Resource,
    contents: &dyn Contents,
) -> Result<TempFile<'a>, String> {
    let mut piece = TempFile::new(dir).map_err(|e| e.to_string())?;
    contents::fill(contents, fragment, &mut piece.file)?;
    piece
        .file
        .seek(SeekFrom::Start(0))
        .map_err(|e| e.to_string())?;
    Ok(piece)
}

/// Append to an existing regular file in place (keeping its inode, owner and mode, as upstream
/// does); the fragment is complete and verified before the first byte is appended.
fn append_in_place(
    dir: &Dir,
    name: &OsStr,
    fragment: &Resource,
    contents: &dyn Contents,
) -> Result<(), String> {
    let mut piece = fetch_fragment(dir, fragment, contents)?;
    let flags =
        OFlags::WRONLY | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let fd = rustix::fs::openat(&dir.fd, name, flags, rustix::fs::Mode::empty())
        .map_err(|e| e.to_string())?;
    let st = rustix::fs::fstat(&fd).map_err(|e| e.to_string())?;
    if file_type(&st) != FileType::RegularFile {
        return Err("can only append to files".to_string());
    }
    let mut target = std::fs::File::from(fd);
    io::copy(&mut piece.file, &mut target).map_err(|e| e.to_string())?;
    target.sync_all().map_err(|e| e.to_string())
}

fn create_dir(root: &Root, d: &Directory, path: &Path) -> Result<(), String> {
    let p = &d.node.path;
    let owner = owners(&d.node, root)?;
    let mode = mode_bits(d.mode)?;
    let (parent, name, _) = root.parent_creating(path).map_err(io_err(path))?;
    let mode = match parent.lstat(&name).map_err(io_err(path))? {
        None => {
            parent
                .mkdir(&name, DEFAULT_DIR_MODE)
                .map_err(|e| format!("failed to create directory {p}: {e}"))?;
            Some(mode.unwrap_or(DEFAULT_DIR_MODE))
        }
        Some(st) if file_type(&st) == FileType::Directory => mode,
        Some(_) => {
            return Err(format!(
                "error creating directory {p}: A non-directory already exists and overwrite is false"
            ));
        }
    };
    set_perms(&parent, &name, owner, mode)
        .map_err(|e| format!("error setting directory permissions for {p}: {e}"))
}

/// `filepath.Clean`: lexical normalisation used to compare symlink targets.
fn clean(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

fn create_link(root: &Root, l: &Link, path: &Path) -> Result<(), String> {
    let p = &l.node.path;
    let target = l.target.as_deref().unwrap_or_default();
    if target.is_empty() {
        return Err(format!("link {p} has no target"));
    }
    let hard = l.hard == Some(true);
    let (uid, gid) = if hard {
        (None, None)
    } else {
        owners(&l.node, root)?
    };
    let (dir, name, _) = root.parent_creating(path).map_err(io_err(path))?;
    let existing = dir.lstat(&name).map_err(io_err(path))?;
    if hard {
        // Upstream resolves a relative hard-link target from the root, not the link's directory.
        let target_path = root
            .resolve(&Path::new("/").join(target))
            .map_err(|e| format!("error resolving target path of hard link {p}: {e}"))?;
        let (tdir, tname) = root.parent(&target_path).map_err(|e| {
            format!(
                "error creating hard link {p}: target does not exist or stat() returned an err: {e}"
            )
        })?;
        let tstat = tdir
            .lstat(&tname)
            .map_err(io_err(&target_path))?
            .ok_or_else(|| {
                format!(
                    "error creating hard link {p}: target does not exist or stat() returned an err"
                )
            })?;
        if let Some(st) = existing {
            if (st.st_dev, st.st_ino) == (tstat.st_dev, tstat.st_ino) {
                log::info!("Hardlink {p} to {target} already exists, doing nothing");
                return Ok(());
            }
            return Err(format!(
                "error creating hard link {p}: a file already exists at that path but is not the target and overwrite is false"
            ));
        }
        rustix::fs::linkat(&tdir.fd, &tname, &dir.fd, &name, AtFlags::empty())
            .map_err(|e| format!("failed to create link {p:?}: {e}"))?;
        return dir.sync().map_err(io_err(path));
    }
    match existing {
        Some(st) if file_type(&st) == FileType::Symlink => {
            let current = dir
                .readlink(&name)
                .map_err(|e| format!("error reading link at {p}: {e}"))?;
            if clean(&current) != clean(Path::new(target)) {
                return Err(format!(
                    "error creating symlink {p}: a symlink exists at that path but points to {}, not {target} and overwrite is false",
                    current.display()
                ));
            }
            log::info!("Symlink {p} to {target} already exists, doing nothing");
            Ok(())
        }
        Some(_) => Err(format!(
            "error creating symlink {p}: a non-symlink already exists at that path and overwrite is false"
        )),
        None => {
            dir.symlink(Path::new(target), &name).map_err(|e| {
                format!("failed to create link {p:?}: could not create symlink: {e}")
            })?;
            if uid.is_some() || gid.is_some() {
                let st = dir
                    .lstat(&name)
                    .map_err(io_err(path))?
                    .ok_or("symlink vanished")?;
                dir.lchown(&name, uid.unwrap_or(st.st_uid), gid.unwrap_or(st.st_gid))
                    .map_err(|e| format!("error setting permissions of {p}: {e}"))?;
            }
            dir.sync().map_err(io_err(path))
        }
    }
}

#[cfg(test)]
mod tests;
