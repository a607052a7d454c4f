//! Rerunnable benchmark of the files stage against a temporary root:
//! `cargo run --release -p kindling-files --example bench_files [SMALL_FILES] [LARGE_MIB]`.
//!
//! Writes SMALL_FILES small files spread over nested directories (data: URLs, owners, modes),
//! then one file of LARGE_MIB MiB, and prints the wall time and throughput of each run. Every
//! write is a temp file + fsync + rename + directory fsync, so the numbers are dominated by
//! the file system's fsync cost. The baseline, in the same run, writes the same small files
//! the way upstream Ignition does: a temp file renamed into place, without fsync.

use kindling_config::Config;
use kindling_fetch::Fetcher;
use kindling_files::{Options, run};
use kindling_report::Recorder;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let small: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let large_mib: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(64);
    let fetcher = Fetcher::new();

    let files: Vec<String> = (0..small)
        .map(|i| {
            format!(
                r#"{{"path":"/bench/d{}/e{}/f{i}","mode":416,"user":{{"id":1000}},"contents":{{"source":"data:,file%20{i}%0A"}}}}"#,
                i % 10,
                i % 7
            )
        })
        .collect();
    let config: Config = serde_json::from_str(&format!(
        r#"{{"storage":{{"files":[{}]}}}}"#,
        files.join(",")
    ))?;
    let root = std::env::temp_dir().join(format!("kindling-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    let options = Options {
        root: root.clone(),
        ..Default::default()
    };
    let started = Instant::now();
    run(&config, &fetcher, &options, &mut Recorder::new("files"))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{small} small files: {secs:.3} s ({:.0} files/s)",
        small as f64 / secs
    );
    let base_root = root.join("baseline");
    let started = Instant::now();
    for i in 0..small {
        let dir = base_root.join(format!("bench/d{}/e{}", i % 10, i % 7));
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".tmp{i}"));
        std::fs::write(&tmp, format!("file {i}\n"))?;
        std::fs::rename(&tmp, dir.join(format!("f{i}")))?;
    }
    let base_secs = started.elapsed().as_secs_f64();
    println!(
        "baseline (temp file + rename, no fsync, as upstream): {base_secs:.3} s; kindling / baseline = {:.1}",
        secs / base_secs
    );

    // A large file through the data: scheme (base64 of zeros: decoding is part of the cost).
    let encoded = "A".repeat(large_mib * 1024 * 1024 / 3 * 4);
    let config: Config = serde_json::from_str(&format!(
        r#"{{"storage":{{"files":[{{"path":"/bench/large","contents":{{"source":"data:;base64,{encoded}"}}}}]}}}}"#
    ))?;
    let started = Instant::now();
    run(&config, &fetcher, &options, &mut Recorder::new("files"))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{large_mib} MiB file: {secs:.3} s ({:.0} MiB/s)",
        large_mib as f64 / secs
    );
    std::fs::remove_dir_all(&root)?;
    Ok(())
}
