//! `kindling`: a first-boot provisioning agent, a drop-in replacement for CoreOS Ignition.
//!
//! One binary: `kindling --stage=<stage> …` runs a boot stage as `ignition` does; the
//! subcommands `validate`, `apply` and `plan` are the tools for people and image builders.

mod cmd_apply;
mod cmd_plan;
mod cmd_rmcfg;
mod cmd_validate;
mod engine;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rest = args.get(1..).unwrap_or_default();
    // Upstream picks its behaviour by the name it was called as; keep those names working.
    match argv0.as_str() {
        "ignition-apply" => return cmd_apply::run(rest),
        "ignition-validate" => return cmd_validate::run(rest),
        "ignition-rmcfg" => return cmd_rmcfg::run(rest),
        _ => {}
    }
    match rest.first().and_then(|a| a.to_str()) {
        Some("validate") => cmd_validate::run(&rest[1..]),
        Some("apply") => cmd_apply::run(&rest[1..]),
        Some("plan") => cmd_plan::run(&rest[1..]),
        Some("rmcfg") => cmd_rmcfg::run(&rest[1..]),
        _ => engine::run(rest),
    }
}
