//! The host side: running commands, installing missing Debian packages, hashing inputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub type Result<T> = std::result::Result<T, String>;

/// The repository root (the parent of this crate's directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command to completion, failing with its stderr when it exits non-zero.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = describe(cmd);
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// Runs a command and returns its standard output.
pub fn output(cmd: &mut Command) -> Result<String> {
    let shown = describe(cmd);
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{shown}` failed ({})", out.status));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("`{shown}` printed non-UTF-8 output"))
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Installs the Debian packages that are not installed yet; does nothing when all are.
pub fn ensure_packages(packages: &[String]) -> Result<()> {
    let missing: Vec<&String> = packages
        .iter()
        .filter(|p| {
            let status = Command::new("dpkg-query")
                .args(["-W", "-f=${db:Status-Status}", p])
                .stderr(Stdio::null())
                .output();
            !matches!(status, Ok(o) if o.stdout == b"installed")
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
    eprintln!("installing host packages: {}", names.join(" "));
    run(Command::new("apt-get").args(["update", "-q"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&names)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Packages listed one per line in every `test-packages.txt` of the repository.
pub fn test_packages(root: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    collect_named(root, "test-packages.txt", 0, &mut found)?;
    let mut packages = Vec::new();
    for file in found {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        for line in text.lines().map(str::trim) {
            if !line.is_empty() && !line.starts_with('#') && !packages.iter().any(|p| p == line) {
                packages.push(line.to_string());
            }
        }
    }
    Ok(packages)
}

fn collect_named(dir: &Path, name: &str, depth: usize, found: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let file_name = entry.file_name();
        let skip = file_name.to_string_lossy().starts_with('.') || file_name == "target";
        if path.is_dir() && !skip && depth < 4 {
            collect_named(&path, name, depth + 1, found)?;
        } else if file_name == name {
            found.push(path);
        }
    }
    Ok(())
}

/// A short hex digest of byte strings, for cache keys.
pub fn digest(parts: &[&[u8]]) -> Result<String> {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start sha256sum: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        for part in parts {
            // Length-prefixed so that moving bytes between parts changes the digest.
            let len = (part.len() as u64).to_le_bytes();
            stdin
                .write_all(&len)
                .and_then(|()| stdin.write_all(part))
                .map_err(|e| format!("cannot feed sha256sum: {e}"))?;
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("sha256sum failed: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.chars().take(16).collect())
}

/// Every file under `dir` (sorted by path) as name and contents, for hashing.
pub fn dir_contents(dir: &Path) -> Result<Vec<u8>> {
    let mut files = Vec::new();
    collect_all(dir, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        out.extend_from_slice(
            f.strip_prefix(dir)
                .unwrap_or(&f)
                .as_os_str()
                .as_encoded_bytes(),
        );
        out.push(0);
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

fn collect_all(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_all(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

pub fn mkdir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

/// Takes an exclusive lock on `dir/.lock` (made if missing), waiting for whoever holds it;
/// the lock lasts until the returned file is dropped.
pub fn lock_dir(dir: &Path) -> Result<std::fs::File> {
    mkdir(dir)?;
    let path = dir.join(".lock");
    let file =
        std::fs::File::create(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    if file.try_lock().is_err() {
        eprintln!("waiting for another run using {}…", dir.display());
        file.lock()
            .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    }
    Ok(file)
}
