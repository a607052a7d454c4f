use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A scratch directory holding `usr/lib/ignition`, `etc/ignition` and `run/ignition`, removed on drop.
struct Root(PathBuf);

impl Root {
    fn new() -> Root {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("kindling-base-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Root(path)
    }

    fn dirs(&self) -> [PathBuf; 3] {
        ["usr/lib/ignition", "etc/ignition", "run/ignition"].map(|d| self.0.join(d))
    }

    /// Write `contents` at `dir/rel` where `dir` is 0 (/usr/lib), 1 (/etc) or 2 (/run).
    fn write(&self, dir: usize, rel: &str, contents: &str) -> PathBuf {
        let path = self.dirs()[dir].join(rel);
        if let Some(parent) = path.parent() {
            must(std::fs::create_dir_all(parent));
        }
        must(std::fs::write(&path, contents));
        path
    }

    fn read(&self, platform: &str) -> Result<Base, BaseError> {
        let dirs = self.dirs();
        let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
        read_base(&dirs, platform)
    }

    fn load(&self, platform: &str) -> Base {
        match self.read(platform) {
            Ok(base) => base,
            Err(e) => panic!("{e}"),
        }
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn must<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("test setup: {e}"))
}

fn file_config(path: &str, text: &str) -> String {
    format!(
        r#"{{"ignition": {{"version": "3.0.0"}},
            "storage": {{"files": [{{"path": "{path}", "contents": {{"source": "data:,{text}"}}}}]}}}}"#
    )
}

fn files(config: &Option<Config>) -> Vec<(String, String)> {
    let Some(config) = config else {
        return Vec::new();
    };
    config
        .storage
        .files
        .iter()
        .map(|f| {
            (
                f.node.path.clone(),
                f.contents.source.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn no_directories_means_no_base_config() {
    let root = Root::new();
    let base = root.load("qemu");
    assert!(base.config.is_none() && base.files.is_empty() && base.warnings.is_empty());
}

#[test]
fn merge_multiple_base_configs() {
    // Blackbox merge.multiple.base.configs: later files override earlier ones per path, the
    // platform directory overrides base.d.
    let root = Root::new();
    root.write(
        0,
        "base.d/40-base.ign",
        &file_config("/foo/bar", "base%20config"),
    );
    root.write(
        0,
        "base.d/50-base2.ign",
        &file_config("/foo/bar2", "base%20config2"),
    );
    root.write(
        0,
        "base.d/60-base3.ign",
        &file_config("/foo/bar", "base%20config3"),
    );
    root.write(
        0,
        "base.platform.d/file/10-plaform.ign",
        &file_config("/foo/bar3", "platform%20config"),
    );
    root.write(
        0,
        "base.platform.d/file/20-plaform2.ign",
        &file_config("/foo/bar4", "platform%20config2"),
    );
    root.write(
        0,
        "base.platform.d/file/30-plaform3.ign",
        &file_config("/foo/bar2", "platform%20config3"),
    );
    root.write(
        0,
        "base.platform.d/other/10.ign",
        &file_config("/other", "x"),
    );
    let base = root.load("file");
    assert_eq!(
        files(&base.config),
        pairs(&[
            ("/foo/bar", "data:,base%20config3"),
            ("/foo/bar2", "data:,platform%20config3"),
            ("/foo/bar3", "data:,platform%20config"),
            ("/foo/bar4", "data:,platform%20config2"),
        ])
    );
    let names: Vec<_> = base
        .files
        .iter()
        .filter_map(|p| p.file_name()?.to_str())
        .collect();
    assert_eq!(
        names,
        [
            "40-base.ign",
            "50-base2.ign",
            "60-base3.ign",
            "10-plaform.ign",
            "20-plaform2.ign",
            "30-plaform3.ign"
        ]
    );
}

#[test]
fn a_name_in_a_higher_priority_directory_hides_the_lower_one() {
    let root = Root::new();
    root.write(0, "base.d/10-a.ign", &file_config("/a", "usr"));
    root.write(1, "base.d/10-a.ign", &file_config("/a", "etc"));
    root.write(2, "base.d/10-a.ign", &file_config("/b", "run"));
    root.write(0, "base.d/20-c.ign", &file_config("/c", "usr"));
    root.write(1, "base.d/20-c.ign", &file_config("/c", "etc"));
    // Different names are all merged, in name order whatever their directory.
    root.write(0, "base.d/30-d.ign", &file_config("/d", "usr"));
    root.write(2, "base.d/05-e.ign", &file_config("/d", "run"));
    let base = root.load("qemu");
    assert_eq!(
        files(&base.config),
        pairs(&[
            ("/d", "data:,usr"),
            ("/b", "data:,run"),
            ("/c", "data:,etc")
        ])
    );
    let dirs = root.dirs();
    assert_eq!(
        base.files,
        [
            dirs[2].join("base.d/05-e.ign"),
            dirs[2].join("base.d/10-a.ign"),
            dirs[1].join("base.d/20-c.ign"),
            dirs[0].join("base.d/30-d.ign")
        ]
    );
}

#[test]
fn base_configs_are_not_rendered() {
    let root = Root::new();
    let merging = r#"{"ignition": {"version": "3.1.0", "config": {"merge": [{"source": "http://example.com/x"}]}}}"#;
    root.write(0, "base.d/a.ign", merging);
    let base = root.load("qemu");
    let merge = base
        .config
        .map(|c| c.ignition.config.merge)
        .unwrap_or_default();
    assert_eq!(merge.len(), 1, "the reference is kept as data, not fetched");
}

#[test]
fn a_bad_base_d_file_fails_naming_the_file() {
    let root = Root::new();
    root.write(0, "base.d/10-good.ign", &file_config("/a", "a"));
    let bad = root.write(
        1,
        "base.d/20-bad.ign",
        r#"{"ignition": {"version": "9.9.9"}}"#,
    );
    let err = root.read("qemu").err();
    assert!(
        matches!(&err, Some(BaseError { path, .. }) if *path == bad),
        "{err:?}"
    );
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("unsupported config version"), "{message}");
    assert!(message.contains("20-bad.ign"), "{message}");
}

#[test]
fn an_empty_base_d_file_fails_and_says_how_to_hide_a_file() {
    let root = Root::new();
    root.write(0, "base.d/10.ign", &file_config("/a", "a"));
    root.write(2, "base.d/10.ign", "");
    let message = root
        .read("qemu")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("not a config (empty)") && message.contains("write {"),
        "{message}"
    );
}

#[test]
fn a_directory_inside_base_d_fails() {
    let root = Root::new();
    root.write(0, "base.d/sub/x.ign", &file_config("/a", "a"));
    let err = root.read("qemu").err();
    assert!(
        matches!(&err, Some(BaseError { path, .. }) if path.ends_with("base.d/sub")),
        "{err:?}"
    );
}

#[test]
fn a_bad_platform_file_drops_the_platform_directory_with_a_warning() {
    let root = Root::new();
    root.write(0, "base.d/10.ign", &file_config("/a", "a"));
    root.write(0, "base.platform.d/qemu/10.ign", &file_config("/p", "p"));
    root.write(1, "base.platform.d/qemu/20.ign", "{");
    let base = root.load("qemu");
    assert_eq!(files(&base.config), pairs(&[("/a", "data:,a")]));
    assert_eq!(base.files.len(), 1);
    assert_eq!(base.warnings.len(), 1, "{:?}", base.warnings);
    assert!(
        base.warnings[0].contains("20.ign") && base.warnings[0].contains("ignoring every config")
    );
}

#[test]
fn platform_configs_alone_are_a_base_config() {
    let root = Root::new();
    root.write(2, "base.platform.d/metal/10.ign", &file_config("/p", "p"));
    let base = root.load("metal");
    assert_eq!(files(&base.config), pairs(&[("/p", "data:,p")]));
}

#[test]
fn a_platform_that_is_not_a_plain_name_reads_no_platform_directory() {
    let root = Root::new();
    root.write(0, "base.platform.d/x.ign", &file_config("/p", "p"));
    for platform in ["", "..", "../base.platform.d"] {
        let base = root.load(platform);
        assert!(base.config.is_none(), "{platform:?}");
        assert_eq!(base.warnings.len(), 1);
    }
}

#[test]
fn a_dangling_symlink_is_skipped_with_a_warning() {
    let root = Root::new();
    let good = root.write(0, "base.d/20.ign", &file_config("/a", "a"));
    let link = root.dirs()[0].join("base.d/10.ign");
    must(std::os::unix::fs::symlink(root.0.join("nowhere"), &link));
    let base = root.load("qemu");
    assert_eq!(base.files, [good]);
    assert!(
        base.warnings.iter().any(|w| w.contains("10.ign")),
        "{:?}",
        base.warnings
    );
}

#[test]
fn load_base_is_read_base_without_the_notes() {
    let root = Root::new();
    root.write(0, "base.d/10.ign", &file_config("/a", "a"));
    let dirs = root.dirs();
    let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let loaded = load_base(&dirs, "qemu").ok().flatten();
    assert_eq!(loaded, root.load("qemu").config);
    assert!(loaded.is_some());
}
