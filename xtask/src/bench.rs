//! `cargo xtask bench [--vm]`: every benchmark, each printing its figures next to a baseline
//! measured in the same run (docs name the baselines). `--vm` adds the VM benchmark scenarios
//! (`disks-bench`, `luks-bench`), whose figures are in their console logs and reports; for
//! `disks-bench` it prints the disks stage's wall time and every operation's time.

use crate::host::{self, Result};
use std::process::Command;

/// (title, package, example, arguments)
const HOST_BENCHES: &[(&str, &str, &str, &[&str])] = &[
    (
        "config: parse+validate 10,000 files and 1,000 units",
        "kindling-config",
        "bench_parse",
        &[],
    ),
    (
        "fetch: 1 GiB gzip with sha512 from loopback, next to curl | gunzip | sha512sum",
        "kindling-fetch",
        "bench_fetch",
        &["throughput", "1024"],
    ),
    (
        "fetch: 1000 clients retrying against one failing server, with and without jitter",
        "kindling-fetch",
        "bench_fetch",
        &["jitter", "1000"],
    ),
    (
        "files: 1000 small files and one 64 MiB file into a temporary root",
        "kindling-files",
        "bench_files",
        &["1000", "64"],
    ),
    (
        "disks: 4 disk images, 12 partitions, 8 filesystems",
        "kindling-disks",
        "bench_disks",
        &[],
    ),
];

pub fn run(with_vm: bool) -> Result<bool> {
    let root = host::repo_root();
    host::ensure_packages(&host::test_packages(&root)?)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for (title, package, example, args) in HOST_BENCHES {
        println!("\n=== {title}");
        host::run(
            Command::new(&cargo)
                .args([
                    "run",
                    "--quiet",
                    "--release",
                    "-p",
                    package,
                    "--example",
                    example,
                    "--",
                ])
                .args(*args)
                .current_dir(&root),
        )?;
    }
    if with_vm {
        println!("\n=== VM: disks-bench and luks-bench scenarios");
        let passed = crate::vm_scenarios(&["disks-bench".into(), "luks-bench".into()])?;
        println!("\n=== VM: disks-bench, the disks stage under TCG (from the guest's report)");
        let dir = crate::target_dir().join("kindling-vm/disks-bench");
        crate::runner::guest_report::print_stage(&dir, 1, "disks")?;
        println!("\n=== VM: luks-bench, one LUKS2 data disk with ext4, key slot settings");
        let dir = crate::target_dir().join("kindling-vm/luks-bench");
        let ops = crate::runner::guest_report::operations(&dir, 1)?;
        let time = |volume: &str| {
            ops.iter()
                .find(|(name, _)| {
                    name.starts_with(&format!("provisioning LUKS volume \"{volume}\""))
                })
                .map(|(_, ms)| *ms)
        };
        match (time("ours"), time("defaults")) {
            (Some(ours), Some(defaults)) => println!(
                "Kindling's slot (generated key, minimal pbkdf2): {ours:.0} ms\n\
                 baseline, cryptsetup's defaults (benchmarked argon2id): {defaults:.0} ms; \
                 ours / baseline = {:.2}",
                ours / defaults
            ),
            _ => println!("the report has no 'provisioning LUKS volume' operations"),
        }
        return Ok(passed);
    }
    Ok(true)
}
