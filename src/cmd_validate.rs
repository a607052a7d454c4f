//! `kindling validate`: a drop-in for `ignition-validate`.

use std::ffi::OsString;
use std::process::ExitCode;

pub fn run(args: &[OsString]) -> ExitCode {
    let _ = args;
    todo!("cmd_validate")
}
