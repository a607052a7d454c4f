//! `kindling plan CONFIG`: print what the disks stage would do with CONFIG on this machine's
//! disks or on disk images, destructive actions marked, and change nothing.

use kindling_disks::Devices;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: kindling plan [--image DEVICE=FILE]... [--sector-size 512|4096] CONFIG

Print the disk actions the disks stage would take for CONFIG (partitions, RAID, filesystems),
in order, each destructive one marked with '!', and every refusal. Nothing is written.

  --image DEVICE=FILE   plan DEVICE (as named in the config) against the image FILE;
                        a config device that is itself a regular file is an image too
  --sector-size N       logical sector size of images without a partition table (default 512)

Exit status: 0 nothing refused, 1 something refused or the config is invalid, 2 usage error.
";

struct Args {
    config: PathBuf,
    devices: Devices,
}

fn parse_args(args: &[OsString]) -> Result<Option<Args>, String> {
    let mut devices = Devices::default();
    let mut config = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let arg = arg.to_str().ok_or("arguments must be UTF-8")?;
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg, None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .and_then(|v| v.to_str())
                    .map(str::to_string)
                    .ok_or(format!("{name} needs a value")),
            }
        };
        match flag {
            "-h" | "--help" => return Ok(None),
            "--image" => {
                let v = value("--image")?;
                let (dev, file) = v
                    .split_once('=')
                    .ok_or(format!("--image wants DEVICE=FILE, got {v:?}"))?;
                devices.images.insert(dev.to_string(), PathBuf::from(file));
            }
            "--sector-size" => {
                let v = value("--sector-size")?;
                devices.image_sector_size = match v.as_str() {
                    "512" => 512,
                    "4096" => 4096,
                    _ => return Err(format!("--sector-size must be 512 or 4096, got {v:?}")),
                };
            }
            f if f.starts_with('-') && f != "-" => return Err(format!("unknown option {f:?}")),
            _ if config.is_some() => return Err("only one CONFIG can be planned".into()),
            _ => config = Some(PathBuf::from(arg)),
        }
    }
    let config = config.ok_or("CONFIG is required")?;
    Ok(Some(Args { config, devices }))
}

pub fn run(args: &[OsString]) -> ExitCode {
    let args = match parse_args(args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprint!("kindling plan: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let bytes = match std::fs::read(&args.config) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("kindling plan: cannot read {:?}: {e}", args.config);
            return ExitCode::from(1);
        }
    };
    let parsed = match kindling_config::parse(&bytes) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "kindling plan: {:?} is not a valid config:\n{e}",
                args.config
            );
            return ExitCode::from(1);
        }
    };
    if !parsed.report.is_empty() {
        eprint!("{}", parsed.report);
    }
    let plan = kindling_disks::plan::build(&parsed.config, &args.devices);
    if plan.is_empty() && plan.refusals.is_empty() {
        println!("the config asks nothing of the disks stage");
        return ExitCode::SUCCESS;
    }
    print!("{plan}");
    if plan.refusals.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn parses_images_and_sector_size() {
        let a = parse_args(&args(&[
            "--image",
            "/dev/vdb=b.img",
            "--image=/dev/vdc=c.img",
            "--sector-size=4096",
            "cfg.ign",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(a.config, PathBuf::from("cfg.ign"));
        assert_eq!(a.devices.images["/dev/vdb"], PathBuf::from("b.img"));
        assert_eq!(a.devices.images["/dev/vdc"], PathBuf::from("c.img"));
        assert_eq!(a.devices.image_sector_size, 4096);
        assert!(parse_args(&args(&["--sector-size", "1024", "c"])).is_err());
        assert!(parse_args(&args(&["--image", "nofile", "c"])).is_err());
        assert!(parse_args(&args(&[])).is_err());
        assert!(parse_args(&args(&["--help"])).unwrap().is_none());
    }
}
