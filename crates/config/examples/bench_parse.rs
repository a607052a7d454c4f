//! Benchmark: parse + validate a generated config with 10,000 files and 1,000 units.
//!
//! `cargo run --release -p kindling-config --example bench_parse [-- FILES UNITS RUNS]`
//! prints the input size, the time of each run (min and median) and the peak resident memory
//! of the process (VmHWM), measured before and after parsing. The baseline, measured in the
//! same run, is serde_json reading the same bytes into a `Value` (JSON syntax only: no schema,
//! no positions, no validation).

use std::time::{Duration, Instant};

fn generate(files: usize, units: usize) -> String {
    let mut s = String::from(r#"{"ignition":{"version":"3.4.0"},"storage":{"files":["#);
    for i in 0..files {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"path":"/etc/kindling/bench/dir{}/file{i}.conf","mode":420,"overwrite":true,"contents":{{"source":"data:,line%20{i}%0A","verification":{{"hash":"sha256-{:064x}"}}}},"user":{{"name":"core"}}}}"#,
            i % 100,
            i
        ));
    }
    s.push_str(
        r#"],"directories":[{"path":"/etc/kindling/bench","mode":493}]},"systemd":{"units":["#,
    );
    for i in 0..units {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"name":"bench{i}.service","enabled":true,"contents":"[Unit]\nDescription=bench {i}\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/true\n\n[Install]\nWantedBy=multi-user.target\n","dropins":[{{"name":"10-env.conf","contents":"[Service]\nEnvironment=N={i}\n"}}]}}"#
        ));
    }
    s.push_str("]}}");
    s
}

/// Peak resident set size in KiB, from /proc (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let files = args.first().copied().unwrap_or(10_000);
    let units = args.get(1).copied().unwrap_or(1_000);
    let runs = args.get(2).copied().unwrap_or(5).max(1);

    let input = generate(files, units);
    let before = peak_rss_kib();
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let parsed = kindling_config::parse(input.as_bytes());
        times.push(start.elapsed());
        match parsed {
            Ok(p) => assert_eq!(p.config.storage.files.len(), files),
            Err(e) => {
                eprintln!("benchmark config did not parse: {e}");
                std::process::exit(1);
            }
        }
    }
    times.sort();
    let after = peak_rss_kib();
    let mut baseline: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let value: Result<serde_json::Value, _> = serde_json::from_slice(input.as_bytes());
        baseline.push(start.elapsed());
        if let Err(e) = value {
            eprintln!("benchmark config is not JSON: {e}");
            std::process::exit(1);
        }
    }
    baseline.sort();
    println!("input: {files} files, {units} units, {} bytes", input.len());
    println!(
        "parse+validate: min {:.1} ms, median {:.1} ms over {runs} runs",
        times[0].as_secs_f64() * 1e3,
        times[runs / 2].as_secs_f64() * 1e3
    );
    println!(
        "baseline serde_json::Value: median {:.1} ms; parse+validate / baseline = {:.2}",
        baseline[runs / 2].as_secs_f64() * 1e3,
        times[runs / 2].as_secs_f64() / baseline[runs / 2].as_secs_f64()
    );
    match (before, after) {
        (Some(b), Some(a)) => println!(
            "peak RSS: {:.1} MiB (before parsing: {:.1} MiB, input included)",
            a as f64 / 1024.0,
            b as f64 / 1024.0
        ),
        _ => println!("peak RSS: unavailable (no /proc/self/status)"),
    }
}
