//! `kindling apply`: the files stage against a directory, for image builders and tests.

use std::ffi::OsString;
use std::process::ExitCode;

pub fn run(args: &[OsString]) -> ExitCode {
    let _ = args;
    todo!("cmd_apply")
}
