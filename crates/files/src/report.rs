//! Kindling's machine-readable report: every operation of every stage, with its duration and
//! outcome, written into the target root (confined and atomic) at the end of the files stage.

use crate::atomic::{Perms, write_bytes};
use crate::root::Root;
use crate::{FilesError, Options};
use kindling_report::Operation;
use serde::Serialize;
use std::path::Path;

pub const REPORT_PATH: &str = "/var/log/kindling/report.json";

#[derive(Serialize)]
struct Report<'a> {
    /// Bumped when the shape changes incompatibly.
    version: u32,
    operations: &'a [Operation],
}

/// Write `operations` (all stages, in order) to [`REPORT_PATH`] in the target root, 0600.
pub fn write_report(options: &Options, operations: &[Operation]) -> Result<(), FilesError> {
    let report = Report {
        version: 1,
        operations,
    };
    let mut json = serde_json::to_vec_pretty(&report)
        .map_err(|e| FilesError::new(format!("encoding the report: {e}")))?;
    json.push(b'\n');
    write_root_file(options, Path::new(REPORT_PATH), &json, 0o600)
}

/// Write a whole root-owned file into the target atomically, replacing what is there.
pub(crate) fn write_root_file(
    options: &Options,
    path: &Path,
    bytes: &[u8],
    mode: u32,
) -> Result<(), FilesError> {
    let fail = |e: std::io::Error| FilesError::new(format!("writing {}: {e}", path.display()));
    let root = Root::open(&options.root).map_err(fail)?;
    let resolved = root.resolve(path).map_err(fail)?;
    let (dir, name, _) = root.parent_creating(&resolved).map_err(fail)?;
    if let Some(st) = dir.lstat(&name).map_err(fail)?
        && crate::root::file_type(&st) == rustix::fs::FileType::Directory
    {
        dir.remove_all(&name).map_err(fail)?;
    }
    write_bytes(&dir, &name, bytes, Perms::mode(mode)).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kindling_report::Recorder;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn report_lists_operations_of_all_stages() {
        let dir = tempfile::tempdir().unwrap();
        let mut disks = Recorder::new("disks");
        let _ = disks.op("partitioning", None, |_| Ok::<_, String>(()));
        let mut files = Recorder::new("files");
        let _ = files.op("writing file \"/a\"", Some("$.storage.files.0"), |_| {
            Err::<(), _>("boom")
        });
        let mut ops = disks.into_operations();
        ops.extend(files.into_operations());
        let options = Options {
            root: dir.path().to_path_buf(),
            ..Default::default()
        };
        write_report(&options, &ops).unwrap();
        let path = dir.path().join("var/log/kindling/report.json");
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let ops = json["operations"].as_array().unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0]["stage"], "disks");
        assert_eq!(ops[0]["outcome"], "ok");
        assert_eq!(ops[1]["outcome"], "failed");
        assert_eq!(ops[1]["error"], "boom");
        assert_eq!(ops[1]["config_path"], "$.storage.files.0");
        assert!(ops[1]["duration_ms"].is_number());
    }
}
