//! The boot stages: `kindling --stage=<stage> --platform=<id> --root=/sysroot`.

use std::ffi::OsString;
use std::process::ExitCode;

pub fn run(args: &[OsString]) -> ExitCode {
    let _ = args;
    todo!("engine")
}
