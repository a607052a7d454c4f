//! `kindling validate` as scripts call it: files and stdin, exit codes, and the
//! `ignition-validate` name.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn kindling() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kindling"))
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kindling-validate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

fn run(cmd: &mut Command, stdin: Option<&[u8]>) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input)
            .unwrap_or_else(|e| panic!("writing stdin: {e}"));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {cmd:?}: {e}"))
}

#[test]
fn valid_file_exits_zero_and_prints_nothing() {
    let f = temp_file("valid.ign", br#"{"ignition":{"version":"3.5.0"}}"#);
    let out = run(Command::new(kindling()).arg("validate").arg(&f), None);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn invalid_stdin_exits_one_with_ignition_lines() {
    let input = br#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"a"}]}}"#;
    let out = run(
        Command::new(kindling()).args(["validate", "-"]),
        Some(input),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "error at $.storage.files.0.path, line 1 col 61: path not absolute\n"
    );
}

#[test]
fn answers_to_the_ignition_validate_name() {
    let dir = temp_file("placeholder", b"").with_file_name("bin");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let link = dir.join("ignition-validate");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(kindling(), &link).unwrap_or_else(|e| panic!("symlink: {e}"));
    let f = temp_file(
        "unsupported.ign",
        br#"{"ignition":{"version":"3.6.0-experimental"}}"#,
    );
    let out = run(Command::new(&link).arg(&f), None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .ends_with("couldn't parse config: unsupported config version\n")
    );
}

#[test]
fn missing_file_and_bad_usage_fail() {
    let out = run(
        Command::new(kindling()).args(["validate", "/nonexistent/kindling.ign"]),
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("couldn't read config: "));
    let usage = run(Command::new(kindling()).arg("validate"), None);
    assert_eq!(usage.status.code(), Some(1));
}
