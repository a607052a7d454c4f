//! Benchmark of the disks stage on disk images: 4 disks, 12 partitions, 8 filesystems (ext4,
//! xfs, btrfs, vfat, swap), formatted in parallel through loop devices. Prints the stage's wall
//! time and every operation's time from the report. The baseline, from the same run, is the same
//! stage pinned to one CPU, which formats one device at a time.
//!
//! `cargo run --release -p kindling-disks --example bench_disks [-- DIR]` (root: loop devices). The
//! images go to DIR (default: a temporary directory) and are removed afterwards.

use kindling_disks::Devices;
use kindling_report::Recorder;
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const FORMATS: [&str; 8] = [
    "ext4", "xfs", "btrfs", "vfat", "ext4", "xfs", "swap", "ext4",
];

fn main() -> Result<(), String> {
    let base = std::env::args().nth(1).map(PathBuf::from);
    let dir = match &base {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .map_err(|e| format!("temporary directory: {e}"))?;
    let mut devices = Devices::default();
    let mut disks = Vec::new();
    let mut filesystems = Vec::new();
    for d in 0..4u8 {
        let name = format!("/dev/vd{}", (b'b' + d) as char);
        let img = dir.path().join(format!("disk{d}.img"));
        std::fs::File::create(&img)
            .and_then(|f| f.set_len(1 << 30))
            .map_err(|e| format!("{img:?}: {e}"))?;
        devices.images.insert(name.clone(), img);
        disks.push(format!(
            r#"{{"device": "{name}", "wipeTable": true, "partitions": [
                {{"number": 1, "label": "d{d}p1", "sizeMiB": 320}},
                {{"number": 2, "label": "d{d}p2", "sizeMiB": 320}},
                {{"number": 3, "label": "d{d}p3", "sizeMiB": 0}}]}}"#
        ));
        for n in 1..=2usize {
            let i = usize::from(d) * 2 + n - 1;
            filesystems.push(format!(
                r#"{{"device": "{name}{n}", "format": "{}", "label": "fs{i}", "wipeFilesystem": true}}"#,
                FORMATS[i]
            ));
        }
    }
    let json = format!(
        r#"{{"ignition": {{"version": "3.5.0"}}, "storage": {{"disks": [{}], "filesystems": [{}]}}}}"#,
        disks.join(","),
        filesystems.join(",")
    );
    let config = serde_json::from_str(&json).map_err(|e| format!("bench config: {e}"))?;
    println!("disks stage: 4 disks, 12 partitions, 8 filesystems");

    // Baseline: the same stage pinned to one CPU, so one device is formatted at a time (the
    // config wipes tables and filesystems, so every run starts from the same state).
    let all_cpus = sched_getaffinity(Pid::from_raw(0)).map_err(|e| format!("affinity: {e}"))?;
    let first = (0..CpuSet::count())
        .find(|&c| all_cpus.is_set(c).unwrap_or(false))
        .ok_or("no CPU in this process's affinity mask")?;
    let mut one_cpu = CpuSet::new();
    one_cpu.set(first).map_err(|e| format!("affinity: {e}"))?;
    sched_setaffinity(Pid::from_raw(0), &one_cpu).map_err(|e| format!("affinity: {e}"))?;
    let (serial, _) = run_stage(&config, &devices)?;
    sched_setaffinity(Pid::from_raw(0), &all_cpus).map_err(|e| format!("affinity: {e}"))?;

    let (wall, rec) = run_stage(&config, &devices)?;
    println!("wall time: {:.1} ms", wall.as_secs_f64() * 1000.0);
    for op in rec.operations() {
        println!(
            "{:>10.1} ms  {}",
            op.duration_ms.as_secs_f64() * 1000.0,
            op.name
        );
    }
    println!(
        "baseline (same stage on one CPU, one device at a time): {:.1} ms; wall / baseline = {:.2}",
        serial.as_secs_f64() * 1000.0,
        wall.as_secs_f64() / serial.as_secs_f64()
    );
    Ok(())
}

fn run_stage(
    config: &kindling_config::Config,
    devices: &Devices,
) -> Result<(Duration, Recorder), String> {
    let mut rec = Recorder::new("disks");
    let started = Instant::now();
    kindling_disks::run(config, devices, Duration::from_secs(30), &mut rec)
        .map_err(|e| e.message)?;
    Ok((started.elapsed(), rec))
}
