//! `cargo xtask <task>`: the project's developer tasks.
//!
//! - `demo`: install what is missing, build everything, boot a VM that provisions itself from
//!   `qemu/demo/config.ign`, and show what it became.
//! - `test`: unit tests, the release binary's size and libraries, then every VM scenario.
//! - `vm [NAME…]`: run some VM scenarios (all when none is named).
//! - `image`: build (or find cached) the guest kernel, initramfs and root image.
//! - `bench [--vm]`: every benchmark next to its baseline (`--vm`: also the VM benchmarks).
//!
//! `KINDLING_BINARY=path` uses that binary instead of building the release one.

mod bench;
mod check;
mod demo;
mod host;
mod image;
mod metadata;
mod runner;
mod scenario;
mod serve;
mod vm;

use host::Result;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("image") => prepare().map(|_| true),
        Some("vm") => vm_scenarios(&args[1..]),
        Some("demo") => prepare().and_then(|guest| demo::run(&guest, &target_dir())),
        Some("test") => test(),
        Some("bench") => bench::run(args.get(1).is_some_and(|a| a == "--vm")),
        _ => Err(usage()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> String {
    "usage: cargo xtask demo | test | vm [SCENARIO…] | image | bench [--vm]".into()
}

/// Host packages, the release binary and the guest built from it.
fn prepare() -> Result<image::Guest> {
    host::ensure_packages(&image::host_packages())?;
    let binary = match std::env::var_os("KINDLING_BINARY") {
        Some(path) => PathBuf::from(path),
        None => build_release()?,
    };
    image::build(&binary)
}

fn vm_scenarios(names: &[String]) -> Result<bool> {
    let guest = prepare()?;
    let root = host::repo_root();
    let scenarios = scenario::load_all(&root.join("qemu/scenarios"), names)?;
    Ok(runner::run_all(
        &guest,
        &scenarios,
        &target_dir().join("kindling-vm"),
    ))
}

/// What CI runs: host packages, unit tests, the release binary's size and libraries, then every
/// VM scenario.
fn test() -> Result<bool> {
    let root = host::repo_root();
    let mut packages = image::host_packages();
    packages.extend(host::test_packages(&root)?);
    host::ensure_packages(&packages)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    host::run(
        Command::new(&cargo)
            .args(["test", "--workspace"])
            .current_dir(&root),
    )?;
    let binary = build_release()?;
    let size = std::fs::metadata(&binary)
        .map_err(|e| format!("cannot stat {}: {e}", binary.display()))?
        .len();
    println!(
        "release binary: {} bytes ({:.2} MB)",
        size,
        size as f64 / 1_000_000.0
    );
    let dynamic = host::output(Command::new("readelf").arg("-d").arg(&binary))?;
    for line in dynamic.lines().filter(|l| l.contains("(NEEDED)")) {
        println!("  {}", line.trim());
    }
    let guest = image::build(&binary)?;
    let scenarios = scenario::load_all(&root.join("qemu/scenarios"), &[])?;
    Ok(runner::run_all(
        &guest,
        &scenarios,
        &target_dir().join("kindling-vm"),
    ))
}

fn target_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| host::repo_root().join("target"))
}

fn build_release() -> Result<PathBuf> {
    host::run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "-p", "kindling"])
            .current_dir(host::repo_root()),
    )?;
    Ok(target_dir().join("release/kindling"))
}
