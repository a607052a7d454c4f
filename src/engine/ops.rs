//! Every stage's operation records, kept for the whole boot in `kindling-ops.json` beside the
//! state file, so the files stage can write a report that covers the fetch, kargs, disks and
//! mount stages too.

use kindling_report::Operation;
use std::path::{Path, PathBuf};

fn path(state_file: &Path) -> PathBuf {
    state_file.with_file_name("kindling-ops.json")
}

/// The records of the stages that ran before, oldest first (empty when there are none).
pub fn load(state_file: &Path) -> Result<Vec<Operation>, String> {
    let path = path(state_file);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| format!("parsing {}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("reading {}: {e}", path.display())),
    }
}

/// Add one stage's records to the boot's.
pub fn append(state_file: &Path, operations: &[Operation]) -> Result<(), String> {
    if operations.is_empty() {
        return Ok(());
    }
    let mut all = load(state_file)?;
    all.extend_from_slice(operations);
    let json = serde_json::to_vec(&all).map_err(|e| e.to_string())?;
    let path = path(state_file);
    super::state::write_private(&path, &json)
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kindling_report::Recorder;

    #[test]
    fn stages_accumulate_in_order() {
        let dir = std::env::temp_dir().join(format!("kindling-ops-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state = dir.join("state");
        assert!(load(&state).unwrap().is_empty());
        for stage in ["fetch", "files"] {
            let mut rec = Recorder::new(stage);
            let _ = rec.op(format!("{stage} op"), None, |_| Ok::<_, String>(()));
            append(&state, rec.operations()).unwrap();
        }
        let all = load(&state).unwrap();
        let stages: Vec<&str> = all.iter().map(|o| o.stage.as_str()).collect();
        assert_eq!(stages, ["fetch", "files"]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
