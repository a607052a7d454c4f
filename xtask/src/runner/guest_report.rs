//! What a boot's report carries besides the checks, kept in the scenario's directory: the
//! guest's operation records (`/run/ignition/kindling-ops.json`, when a check asked for that
//! file) as `ops-<boot>.json`, and the stages' start and end times (`stageTimes`) as
//! `stage-times-<boot>.json`. `cargo xtask bench --vm` reads them.

use crate::check::{State, base64_decode};
use crate::host::{self, Result};
use std::path::Path;

/// Where the engine keeps every stage's operation records during the boot.
pub const OPS_FILE: &str = "/run/ignition/kindling-ops.json";

/// Writes `ops-<boot>.json` and `stage-times-<boot>.json` (boot counted from 1) when the
/// report has them.
pub fn save(state: &State, dir: &Path, boot: usize) -> Result<()> {
    let mut times = serde_json::Map::new();
    for (kind, arg, fields) in state.iter() {
        match (kind, fields) {
            // file <path> <mode> <uid> <gid> <kind> <base64 content>
            ("file", [_, _, _, _, content, ..]) if arg == OPS_FILE => {
                let bytes = base64_decode(content)
                    .ok_or_else(|| format!("{OPS_FILE} in the report is not base64"))?;
                host::write(&dir.join(format!("ops-{boot}.json")), bytes)?;
            }
            ("stagetime", [line, ..]) => {
                if let Some(t) = stage_time(line) {
                    times.insert(arg.to_string(), t);
                }
            }
            _ => {}
        }
    }
    if !times.is_empty() {
        let text = serde_json::to_string_pretty(&times).map_err(|e| e.to_string())?;
        host::write(&dir.join(format!("stage-times-{boot}.json")), text + "\n")?;
    }
    Ok(())
}

/// The collector's `Starting=<s> Finished=<s>` (monotonic seconds of systemd's messages about
/// the stage's unit) as `{"start", "end", "secs"}`.
fn stage_time(line: &str) -> Option<serde_json::Value> {
    let at = |word: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(word)?.strip_prefix('=')?.parse::<f64>().ok())
    };
    let (start, end) = (at("Starting")?, at("Finished")?);
    Some(serde_json::json!({"start": start, "end": end, "secs": end - start}))
}

/// Prints a stage's wall time and its operations from a scenario's saved report.
pub fn print_stage(dir: &Path, boot: usize, stage: &str) -> Result<()> {
    let times = read_json(&dir.join(format!("stage-times-{boot}.json")))?;
    let ops = read_json(&dir.join(format!("ops-{boot}.json")))?;
    for line in stage_lines(&times, &ops, stage) {
        println!("{line}");
    }
    Ok(())
}

/// `(name, milliseconds)` of every operation in a scenario's saved report.
pub fn operations(dir: &Path, boot: usize) -> Result<Vec<(String, f64)>> {
    let ops = read_json(&dir.join(format!("ops-{boot}.json")))?;
    Ok(ops
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o["name"].as_str().unwrap_or_default().to_string(),
                o["duration_ms"].as_f64().unwrap_or_default(),
            )
        })
        .collect())
}

/// The wall time line, then one line per operation, those that ran inside another one
/// indented under it.
fn stage_lines(times: &serde_json::Value, ops: &serde_json::Value, stage: &str) -> Vec<String> {
    let mut lines = vec![match times[stage]["secs"].as_f64() {
        Some(secs) => format!("{stage} stage wall time (systemd start to finish): {secs:.2} s"),
        None => format!("{stage} stage wall time: not reported"),
    }];
    let ops: Vec<&serde_json::Value> = ops
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["stage"] == stage)
        .collect();
    for (i, op) in ops.iter().enumerate() {
        lines.push(format!(
            "  {:>9.1} ms  {}{}",
            op["duration_ms"].as_f64().unwrap_or_default(),
            "  ".repeat(nesting(&ops, i)),
            op["name"].as_str().unwrap_or_default()
        ));
    }
    lines
}

/// Records are written when an operation ends and ids are given when one starts (hex), so an
/// operation ran inside every later-listed one with a smaller id.
fn nesting(ops: &[&serde_json::Value], i: usize) -> usize {
    let id = |o: &serde_json::Value| u64::from_str_radix(o["id"].as_str().unwrap_or("0"), 16).ok();
    let mine = id(ops[i]);
    ops[i + 1..]
        .iter()
        .filter(|o| id(o).zip(mine).is_some_and(|(outer, me)| outer < me))
        .count()
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    serde_json::from_slice(&host::read(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_times_come_from_systemds_messages() {
        let t = stage_time("Starting=9.25 Finished=21.75 ").unwrap();
        assert_eq!(t["secs"], 12.5);
        assert!(stage_time("Starting=9.25 ").is_none());
    }

    #[test]
    fn operations_nest_under_the_ones_that_end_after_them() {
        let ops: Vec<serde_json::Value> = serde_json::from_str(
            r#"[{"id": "4", "name": "planning"}, {"id": "a", "name": "mkfs 1"},
                {"id": "b", "name": "mkfs 2"}, {"id": "9", "name": "formatting"}]"#,
        )
        .unwrap();
        let refs: Vec<&serde_json::Value> = ops.iter().collect();
        let depths: Vec<usize> = (0..refs.len()).map(|i| nesting(&refs, i)).collect();
        assert_eq!(depths, [0, 1, 1, 0]);
    }

    #[test]
    fn stage_lines_show_wall_time_and_nested_operations() {
        let times = serde_json::json!({"disks": {"start": 1.0, "end": 3.5, "secs": 2.5}});
        let ops = serde_json::json!([
            {"stage": "fetch", "id": "0", "name": "fetching", "duration_ms": 1.0},
            {"stage": "disks", "id": "0", "name": "planning", "duration_ms": 700.0},
            {"stage": "disks", "id": "2", "name": "mkfs", "duration_ms": 1200.5},
            {"stage": "disks", "id": "1", "name": "formatting", "duration_ms": 1300.0}]);
        assert_eq!(
            stage_lines(&times, &ops, "disks"),
            [
                "disks stage wall time (systemd start to finish): 2.50 s",
                "      700.0 ms  planning",
                "     1200.5 ms    mkfs",
                "     1300.0 ms  formatting",
            ]
        );
        assert_eq!(
            stage_lines(&serde_json::json!({}), &ops, "files"),
            ["files stage wall time: not reported"]
        );
    }

    #[test]
    fn saves_the_ops_file_and_stage_times_from_a_report() {
        let dir = std::env::temp_dir().join(format!("xtask-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        host::mkdir(&dir).unwrap();
        // "[]\n" in base64
        let console = "=====KINDLING-STATE-BEGIN=====\n\
            file\t/run/ignition/kindling-ops.json\t644\t0\t0\tregular_file\tW10K\n\
            stagetime\tdisks\tStarting=1.5 Finished=4.0 \n\
            =====KINDLING-STATE-END=====\n";
        save(&State::parse(console).unwrap(), &dir, 1).unwrap();
        assert_eq!(host::read(&dir.join("ops-1.json")).unwrap(), b"[]\n");
        let times = read_json(&dir.join("stage-times-1.json")).unwrap();
        assert_eq!(times["disks"]["secs"], 2.5);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
