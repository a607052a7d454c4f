//! `passwd`: groups, then users, through shadow-utils with `--root`, then home directory
//! fix-ups and SSH keys written confined into the user's home.

use crate::accounts::{self, User};
use crate::atomic::{Perms, write_bytes};
use crate::root::{Dir, Root, file_type, set_owner_and_mode};
use crate::selinux::Relabel;
use crate::{AuthorizedKeys, Options};
use kindling_config::Config;
use kindling_config::model::{PasswdGroup, PasswdUser};
use kindling_report::Recorder;
use rustix::fs::FileType;
use std::ffi::{OsStr, OsString};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files shadow-utils rewrites, relabelled afterwards (prefixes in `/etc`).
const ACCOUNT_FILES: [&str; 6] = ["passwd", "group", "shadow", "gshadow", "subuid", "subgid"];

pub fn apply(
    root: &Root,
    config: &Config,
    options: &Options,
    relabel: &mut Relabel,
    rec: &mut Recorder,
) -> Result<(), String> {
    let passwd = &config.passwd;
    for (i, group) in passwd.groups.iter().enumerate() {
        ensure_group(root, group, rec, &format!("$.passwd.groups.{i}")).map_err(|e| {
            format!(
                "failed to configure groups: failed to create group {:?}: {e}",
                group.name
            )
        })?;
    }
    for (i, user) in passwd.users.iter().enumerate() {
        ensure_user(root, user, options, rec, &format!("$.passwd.users.{i}")).map_err(|e| {
            format!(
                "failed to configure users: failed to create user {:?}: {e}",
                user.name
            )
        })?;
    }
    if (!passwd.groups.is_empty() || !passwd.users.is_empty()) && relabel.enabled() {
        queue_relabel(root, config, relabel)?;
    }
    Ok(())
}

/// Run one shadow-utils command as the operation `what`.
fn run(
    rec: &mut Recorder,
    what: String,
    config_path: &str,
    program: &str,
    args: &[String],
) -> Result<(), String> {
    rec.op(what, Some(config_path), |_| {
        let out = Command::new(program)
            .args(args)
            .output()
            .map_err(|e| format!("running {program}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    })
}

fn lookup_err(e: std::io::Error) -> String {
    format!("looking up accounts in the target: {e}")
}

fn ensure_group(
    root: &Root,
    g: &PasswdGroup,
    rec: &mut Recorder,
    config_path: &str,
) -> Result<(), String> {
    let exists = accounts::group(root, &g.name)
        .map_err(lookup_err)?
        .is_some();
    let mut args = vec!["--root".to_string(), root.host_path().display().to_string()];
    if g.should_exist == Some(false) {
        if exists {
            args.push(g.name.clone());
            run(
                rec,
                format!("deleting group {:?}", g.name),
                config_path,
                "groupdel",
                &args,
            )?;
        }
        return Ok(());
    }
    if let Some(gid) = g.gid {
        args.extend(["--gid".to_string(), gid.to_string()]);
    }
    if let Some(hash) = g.password_hash.as_deref().filter(|h| !h.is_empty()) {
        args.extend(["--password".to_string(), hash.to_string()]);
    }
    if exists {
        // An existing group is updated (upstream since 2.25), not an error.
        args.push(g.name.clone());
        run(
            rec,
            format!("modifying group {:?}", g.name),
            config_path,
            "groupmod",
            &args,
        )
    } else {
        if g.system == Some(true) {
            args.push("--system".to_string());
        }
        args.push(g.name.clone());
        run(
            rec,
            format!("adding group {:?}", g.name),
            config_path,
            "groupadd",
            &args,
        )
    }
}

fn push_opt(args: &mut Vec<String>, flag: &str, value: Option<&String>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        args.extend([flag.to_string(), v.clone()]);
    }
}

/// The `useradd` / `usermod` arguments for a user (upstream's flags, in upstream's order).
fn user_args(u: &PasswdUser, root: &Path, exists: bool) -> Vec<String> {
    let mut args = vec!["--root".to_string(), root.display().to_string()];
    if exists {
        if let Some(home) = u.home_dir.as_ref().filter(|h| !h.is_empty()) {
            args.extend([
                "--home".to_string(),
                home.clone(),
                "--move-home".to_string(),
            ]);
        }
    } else {
        push_opt(&mut args, "--home-dir", u.home_dir.as_ref());
        args.push(
            if u.no_create_home == Some(true) {
                "--no-create-home"
            } else {
                "--create-home"
            }
            .to_string(),
        );
        for (flag, set) in [
            ("--no-user-group", u.no_user_group),
            ("--system", u.system),
            ("--no-log-init", u.no_log_init),
        ] {
            if set == Some(true) {
                args.push(flag.to_string());
            }
        }
    }
    match u.password_hash.as_deref() {
        Some("") => args.extend(["--password".to_string(), "*".to_string()]),
        Some(hash) => args.extend(["--password".to_string(), hash.to_string()]),
        None if !exists => args.extend(["--password".to_string(), "*".to_string()]),
        None => {}
    }
    if let Some(uid) = u.uid {
        args.extend(["--uid".to_string(), uid.to_string()]);
    }
    push_opt(&mut args, "--comment", u.gecos.as_ref());
    push_opt(&mut args, "--gid", u.primary_group.as_ref());
    if !u.groups.is_empty() {
        args.extend(["--groups".to_string(), u.groups.join(",")]);
    }
    push_opt(&mut args, "--shell", u.shell.as_ref());
    args.push(u.name.clone());
    args
}

fn ensure_user(
    root: &Root,
    u: &PasswdUser,
    options: &Options,
    rec: &mut Recorder,
    config_path: &str,
) -> Result<(), String> {
    let exists = accounts::user(root, &u.name).map_err(lookup_err)?.is_some();
    if u.should_exist == Some(false) {
        if exists {
            let args = vec![
                "--remove".to_string(),
                "--root".to_string(),
                root.host_path().display().to_string(),
                u.name.clone(),
            ];
            run(
                rec,
                format!("deleting user {:?}", u.name),
                config_path,
                "userdel",
                &args,
            )?;
        }
        return Ok(());
    }
    let (program, what) = if exists {
        ("usermod", "modifying")
    } else {
        ("useradd", "creating")
    };
    let args = user_args(u, root.host_path(), exists);
    run(
        rec,
        format!("{what} user {:?}", u.name),
        config_path,
        program,
        &args,
    )?;
    let user = accounts::user(root, &u.name)
        .map_err(lookup_err)?
        .ok_or_else(|| format!("user {:?} missing from the target after {program}", u.name))?;
    if u.no_create_home != Some(true) {
        fix_notated_dirs(root, &user, &options.notated_directories).map_err(|e| {
            format!(
                "failed to modify home directory permissions for {:?}: {e}",
                u.name
            )
        })?;
    }
    if let Some(hash) = u.password_hash.as_deref() {
        let hash = if hash.is_empty() { "*" } else { hash };
        let args = vec![
            "--root".to_string(),
            root.host_path().display().to_string(),
            "--password".to_string(),
            hash.to_string(),
            u.name.clone(),
        ];
        run(
            rec,
            format!("setting password for {:?}", u.name),
            config_path,
            "usermod",
            &args,
        )?;
    }
    if !u.ssh_authorized_keys.is_empty() {
        rec.op(
            format!("adding ssh keys to user {:?}", u.name),
            Some(config_path),
            |_| {
                write_keys(root, &user, &u.ssh_authorized_keys, options.authorized_keys)
                    .map_err(|e| format!("failed to set SSH key: {e}"))
            },
        )?;
    }
    Ok(())
}

/// Directories the mount stage created at or below the user's home become the user's, 0700.
fn fix_notated_dirs(root: &Root, user: &User, notated: &[String]) -> Result<(), String> {
    let home = user.home.to_string_lossy().into_owned();
    for dir in notated {
        if *dir != home && !dir.starts_with(&format!("{home}/")) {
            continue;
        }
        let resolved = root
            .resolve(Path::new(dir))
            .map_err(|e| format!("calculating path of {dir:?}: {e}"))?;
        let (parent, name) = root.parent(&resolved).map_err(|e| format!("{dir}: {e}"))?;
        let fd = parent
            .open_nofollow(&name)
            .map_err(|e| format!("{dir}: {e}"))?;
        set_owner_and_mode(fd.as_fd(), (user.uid, user.gid), Some(0o700))
            .map_err(|e| format!("changing ownership and mode of {dir:?}: {e}"))?;
    }
    Ok(())
}

/// An existing directory below the home, or a new one owned by the user, 0700. Symlinks below
/// the home are refused: the user could point them anywhere in the root.
fn user_subdir(parent: &Dir, name: &OsStr, user: &User) -> Result<Dir, String> {
    let path = parent.child(name);
    match parent
        .lstat(name)
        .map_err(|e| format!("{}: {e}", path.display()))?
    {
        None => {
            parent
                .mkdir(name, 0o700)
                .map_err(|e| format!("creating {}: {e}", path.display()))?;
            let dir = parent
                .subdir(name)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            set_owner_and_mode(dir.fd.as_fd(), (user.uid, user.gid), Some(0o700))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(dir)
        }
        Some(st) if file_type(&st) == FileType::Directory => parent
            .subdir(name)
            .map_err(|e| format!("{}: {e}", path.display())),
        Some(_) => Err(format!("{} exists and is not a directory", path.display())),
    }
}

fn write_keys(
    root: &Root,
    user: &User,
    keys: &[String],
    mode: AuthorizedKeys,
) -> Result<PathBuf, String> {
    let mut text = keys.join("\n");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    // The home itself may be reached through symlinks (`/home` → `var/home`), resolved in-root.
    let home = root
        .resolve(&user.home.join(".ssh"))
        .map_err(|e| format!("resolving the home of {:?}: {e}", user.name))?;
    let home = home.parent().unwrap_or(Path::new("/"));
    let home_err = |e: std::io::Error| format!("home of {:?}: {e}", user.name);
    let home_dir = match root.dir(home) {
        Ok(dir) => dir,
        // A missing home (noCreateHome, or a user without one) is created for the keys,
        // owned by the user, 0700; its parents as any created directory.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (parent, name, _) = root.parent_creating(home).map_err(home_err)?;
            user_subdir(&parent, &name, user)?
        }
        Err(e) => return Err(home_err(e)),
    };
    let ssh = user_subdir(&home_dir, OsStr::new(".ssh"), user)?;
    let (dir, file): (Dir, OsString) = match mode {
        AuthorizedKeys::Fragment => (
            user_subdir(&ssh, OsStr::new("authorized_keys.d"), user)?,
            "ignition".into(),
        ),
        AuthorizedKeys::File => (ssh, "authorized_keys".into()),
    };
    let perms = Perms {
        uid: Some(user.uid),
        gid: Some(user.gid),
        mode: 0o600,
    };
    write_bytes(&dir, &file, text.as_bytes(), perms)
        .map_err(|e| format!("{}: {e}", dir.child(&file).display()))?;
    let path = dir.child(&file);
    log::info!(
        "wrote ssh authorized keys file for user: {} ({})",
        user.name,
        path.display()
    );
    Ok(path)
}

/// Queue the account files and the homes of configured users for relabelling.
fn queue_relabel(root: &Root, config: &Config, relabel: &mut Relabel) -> Result<(), String> {
    if let Ok(etc) = root.dir(Path::new("/etc")) {
        let names = crate::units::list(&etc).map_err(|e| format!("listing /etc: {e}"))?;
        for name in names {
            let text = name.to_string_lossy();
            if ACCOUNT_FILES.iter().any(|prefix| text.starts_with(prefix)) {
                relabel.add(&Path::new("/etc").join(&name));
            }
        }
    }
    relabel.add(Path::new("/etc/.pwd.lock"));
    for u in &config.passwd.users {
        if u.no_create_home == Some(true) || u.should_exist == Some(false) {
            continue;
        }
        if let Some(user) = accounts::user(root, &u.name).map_err(lookup_err)? {
            let home: PathBuf = root
                .resolve(&user.home)
                .map_err(|e| format!("resolving the home of {:?}: {e}", u.name))?;
            relabel.add(&home);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
