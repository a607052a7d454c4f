//! `kindling rmcfg --platform=<id>` (also as `ignition-rmcfg`): delete the config from the
//! platform's metadata after the first boot (VMware guestinfo, VirtualBox guest properties).
//! Run from the real root by `kindling-delete-config.service`; without `--platform` the
//! platform is `ignition.platform.id` of the kernel command line.

use std::ffi::OsString;
use std::process::ExitCode;

const USAGE: &str = "Usage: kindling rmcfg --platform=<vmware|virtualbox>";

pub fn run(args: &[OsString]) -> ExitCode {
    let mut platform = None;
    let mut args = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        let flag = arg.trim_start_matches('-');
        if flag == "help" || flag == "h" {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        match flag.split_once('=') {
            Some(("platform", value)) => platform = Some(value.to_string()),
            None if flag == "platform" => platform = args.next(),
            _ => {
                eprintln!("unknown argument {arg:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let platform = platform.or_else(|| {
        let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
        platform_id(&cmdline)
    });
    let Some(platform) = platform.filter(|p| !p.is_empty()) else {
        eprintln!("'--platform' must be provided\n{USAGE}");
        return ExitCode::from(2);
    };
    match kindling_providers::rmcfg::delete_config(&platform) {
        Ok(()) => {
            println!("deleted the config from the {platform} metadata");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("couldn't delete the config: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The last `ignition.platform.id=` of a kernel command line.
fn platform_id(cmdline: &str) -> Option<String> {
    cmdline
        .split_whitespace()
        .filter_map(|a| a.strip_prefix("ignition.platform.id="))
        .next_back()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_comes_from_the_kernel_command_line() {
        let line = "root=/dev/vda ignition.platform.id=qemu ignition.platform.id=vmware quiet\n";
        assert_eq!(platform_id(line).as_deref(), Some("vmware"));
        assert_eq!(platform_id("quiet"), None);
    }

    #[test]
    fn platforms_without_a_deletable_config_fail() {
        let args: Vec<OsString> = vec!["--platform=aws".into()];
        assert_eq!(run(&args), ExitCode::FAILURE);
        assert_eq!(run(&["--bogus".into()]), ExitCode::from(2));
    }
}
