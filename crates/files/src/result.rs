//! `/etc/.ignition-result.json`, as upstream writes it at the end of the files stage.

use crate::report::write_root_file;
use crate::root::Root;
use crate::selinux::Relabel;
use crate::{FilesError, Options};
use kindling_report::Recorder;
use serde::Serialize;
use std::path::Path;
use std::process::Command;

pub const RESULT_PATH: &str = "/etc/.ignition-result.json";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultFile {
    #[serde(rename = "provisioningBootID")]
    provisioning_boot_id: String,
    provisioning_date: String,
    user_config_provided: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_report: Option<serde_json::Value>,
}

/// What the result file records about this run.
pub struct Provisioning {
    pub boot_id: String,
    /// RFC 3339.
    pub date: String,
    /// Whether any fetched config was a user config (state file `fetchedConfigs[].kind`).
    pub user_config_provided: bool,
}

/// The `is-live-image` hook: exit 0 means a live (diskless) system; absent means not live.
fn is_live_image() -> bool {
    match Command::new("is-live-image").status() {
        Ok(status) => status.success(),
        Err(e) => {
            log::info!("failed to run is-live-image hook: {e}");
            false
        }
    }
}

/// Write the result file into the target (0600, replacing a previous one, which is kept as
/// `previousReport` unless this is a live image), labelled if the target has a policy.
pub fn write_result_file(
    options: &Options,
    provisioning: &Provisioning,
    recorder: &mut Recorder,
) -> Result<(), FilesError> {
    recorder.op("creating result file", None, |rec| {
        write_with(options, provisioning, is_live_image, rec)
    })
}

fn write_with(
    options: &Options,
    provisioning: &Provisioning,
    is_live: impl FnOnce() -> bool,
    rec: &mut Recorder,
) -> Result<(), FilesError> {
    let root = Root::open(&options.root).map_err(|e| FilesError::new(e.to_string()))?;
    let path = Path::new(RESULT_PATH);
    let previous = root
        .read_file(path)
        .map_err(|e| FilesError::new(format!("reading previous report: {e}")))?;
    let previous_report = match previous {
        Some(bytes) if !is_live() => {
            log::warn!(
                "Ignition has already run on this system. Unexpected behavior may occur. Ignition is not designed to run more than once per system."
            );
            Some(serde_json::from_slice(&bytes).map_err(|e| {
                FilesError::new(format!("couldn't unmarshal previous report output: {e}"))
            })?)
        }
        _ => None,
    };
    let result = ResultFile {
        provisioning_boot_id: provisioning.boot_id.clone(),
        provisioning_date: provisioning.date.clone(),
        user_config_provided: provisioning.user_config_provided,
        previous_report,
    };
    let mut json = serde_json::to_vec_pretty(&result)
        .map_err(|e| FilesError::new(format!("marshaling result file: {e}")))?;
    json.push(b'\n');
    let mut relabel = Relabel::new(&root, options.selinux)?;
    if let Ok(resolved) = root.resolve(path) {
        relabel.created(&root, &resolved);
    }
    write_root_file(options, path, &json, 0o600)?;
    relabel.run(&root, rec)
}

/// `2006-01-02T15:04:05Z` for a UTC time (Go's `time.RFC3339` in the UTC zone).
pub fn rfc3339_utc(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_827_696); // leap day 2000
        assert_eq!(rfc3339_utc(t), "2000-02-29T12:34:56Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_798_761_599);
        assert_eq!(rfc3339_utc(t), "2026-12-31T23:59:59Z");
    }

    fn provisioning() -> Provisioning {
        Provisioning {
            boot_id: "b0e1d".into(),
            date: "2026-01-02T03:04:05Z".into(),
            user_config_provided: true,
        }
    }

    #[test]
    fn first_and_second_run() {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            root: dir.path().to_path_buf(),
            ..Default::default()
        };
        let mut rec = Recorder::new("files");
        write_with(
            &options,
            &provisioning(),
            || panic!("no hook without a previous file"),
            &mut rec,
        )
        .unwrap();
        let path = dir.path().join("etc/.ignition-result.json");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\n  \"provisioningBootID\": \"b0e1d\",\n  \"provisioningDate\": \"2026-01-02T03:04:05Z\",\n  \"userConfigProvided\": true\n}\n"
        );
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);

        write_with(&options, &provisioning(), || false, &mut rec).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["previousReport"]["provisioningBootID"], "b0e1d");

        // A live image does not carry the previous report over.
        write_with(&options, &provisioning(), || true, &mut rec).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(json.get("previousReport").is_none());
    }

    #[test]
    fn corrupt_previous_report_fails() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/.ignition-result.json"), "not json").unwrap();
        let options = Options {
            root: dir.path().to_path_buf(),
            ..Default::default()
        };
        let mut rec = Recorder::new("files");
        assert!(write_with(&options, &provisioning(), || false, &mut rec).is_err());
    }
}
