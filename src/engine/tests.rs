//! Engine tests on the host, after Ignition's blackbox harness: `--platform=file`, temporary
//! cache, state, neednet, system config directories and root; each stage run as the units run
//! it, checked by its exit code and what it left behind.

use super::flags::{self, Flags, Parsed};
use super::{Env, run_stage};
use kindling_providers::Host;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Harness {
    dir: PathBuf,
    env: Env,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Harness {
    fn new() -> Harness {
        let dir = std::env::temp_dir().join(format!(
            "kindling-engine-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["root", "system/run", "system/etc", "system/usr", "run"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("cmdline"), "root=/dev/vda quiet\n").unwrap();
        std::fs::write(
            dir.join("boot_id"),
            "11111111-2222-3333-4444-555555555555\n",
        )
        .unwrap();
        let host = Host {
            kernel_cmdline: dir.join("cmdline"),
            system_config_dirs: ["run", "etc", "usr"]
                .iter()
                .map(|d| dir.join("system").join(d))
                .collect(),
            config_file: dir.join("config.ign"),
            qemu_fw_cfg: dir.join("fw_cfg"),
            modprobe: "false".into(),
            disk_by_label: dir.join("by-label"),
            metadata_url: None,
            metadata_url_v6: None,
            if_inet6: dir.join("if_inet6"),
        };
        let env = Env {
            host,
            kargs_helper: dir.join("kargs-helper").display().to_string(),
            boot_id: dir.join("boot_id"),
            console: None,
            // Devices tests name do not exist here: fail fast instead of waiting 90 s.
            device_timeout: std::time::Duration::from_secs(1),
        };
        Harness { dir, env }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn flags(&self, stage: &str) -> Flags {
        self.flags_on("file", stage)
    }

    fn flags_on(&self, platform: &str, stage: &str) -> Flags {
        let arg = |flag: &str, rel: &str| format!("--{flag}={}", self.path(rel).display()).into();
        let args = vec![
            "-platform".into(),
            platform.into(),
            format!("-stage={stage}").into(),
            arg("root", "root"),
            arg("config-cache", "run/ignition.json"),
            arg("neednet", "run/ignition/neednet"),
            arg("state-file", "run/ignition/state"),
            "--log-to-stdout".into(),
        ];
        match flags::parse(&args) {
            Ok(Parsed::Run(flags)) => flags,
            _ => panic!("test flags do not parse"),
        }
    }

    fn stage(&self, stage: &str) -> u8 {
        run_stage(&self.flags(stage), &self.env)
    }

    /// fetch, then mount, files and umount as the blackbox harness runs them.
    fn boot(&self) -> Result<(), (String, u8)> {
        for stage in ["fetch", "kargs", "disks", "mount", "files", "umount"] {
            match self.stage(stage) {
                0 => {}
                code => return Err((stage.to_string(), code)),
            }
        }
        Ok(())
    }

    fn write(&self, rel: &str, contents: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    fn json(&self, rel: &str) -> Value {
        let bytes = std::fs::read(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        serde_json::from_slice(&bytes).unwrap()
    }

    fn mode(&self, rel: &str) -> u32 {
        std::fs::metadata(self.path(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A config writing `path` with `text` (a data URL), with an optional hash.
fn file_config(version: &str, files: &[(&str, &str)]) -> String {
    let files: Vec<Value> = files
        .iter()
        .map(|(path, text)| {
            serde_json::json!({
                "path": path,
                "contents": {"source": format!("data:,{text}")},
            })
        })
        .collect();
    serde_json::json!({"ignition": {"version": version}, "storage": {"files": files}}).to_string()
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

#[test]
fn version_only_config_runs_every_stage() {
    let h = Harness::new();
    h.write("config.ign", r#"{"ignition":{"version":"3.5.0"}}"#);
    h.boot().unwrap();
    let cache = h.json("run/ignition.json");
    assert_eq!(cache["ignition"]["version"], "3.7.0-experimental");
    assert_eq!(h.mode("run/ignition.json"), 0o640);
    let state = h.json("run/ignition/state");
    assert_eq!(
        state["fetchedConfigs"],
        serde_json::json!([{"kind": "user", "source": "file", "referenced": false}])
    );
    assert_eq!(h.mode("run/ignition/state"), 0o600);
    assert_eq!(h.mode("run/ignition"), 0o700);
    assert!(!exists(&h.path("run/ignition/neednet")));
    let result = h.json("root/etc/.ignition-result.json");
    assert_eq!(result["userConfigProvided"], true);
    assert_eq!(
        result["provisioningBootID"],
        "11111111-2222-3333-4444-555555555555"
    );
    let report = h.json("root/var/log/kindling/report.json");
    let stages: Vec<&str> = report["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|op| op["stage"].as_str())
        .collect();
    assert!(
        stages.contains(&"fetch") && stages.contains(&"files"),
        "{stages:?}"
    );
    assert!(!exists(&h.path("root/etc/.kindling-firstboot.json")));
}

#[test]
fn empty_config_is_no_user_config() {
    let h = Harness::new();
    h.write("config.ign", "");
    h.boot().unwrap();
    assert_eq!(
        h.json("run/ignition.json")["ignition"]["version"],
        "3.7.0-experimental"
    );
    assert_eq!(h.json("run/ignition/state")["fetchedConfigs"], Value::Null);
    assert_eq!(
        h.json("root/etc/.ignition-result.json")["userConfigProvided"],
        false
    );
}

#[test]
fn files_are_written_into_the_root() {
    let h = Harness::new();
    h.write(
        "config.ign",
        &file_config("3.4.0", &[("/etc/motd", "hello")]),
    );
    h.boot().unwrap();
    assert_eq!(
        std::fs::read_to_string(h.path("root/etc/motd")).unwrap(),
        "hello"
    );
}

#[test]
fn provider_output_files_from_the_state_are_written_by_the_files_stage() {
    // What the hyperv platform leaves in the state after fetching (its KVP pools).
    let h = Harness::new();
    h.write(
        "config.ign",
        &file_config("3.4.0", &[("/etc/motd", "hello")]),
    );
    assert_eq!(h.stage("fetch"), 0);
    let mut state = h.json("run/ignition/state");
    state["providerOutputFiles"] = serde_json::json!([{
        "path": "/var/lib/hyperv/.kvp_pool_0",
        "overwrite": true,
        "contents": {"source": "data:;base64,a2V5AA=="},
        "mode": 384
    }]);
    h.write("run/ignition/state", &state.to_string());
    for stage in ["kargs", "disks", "mount", "files", "umount"] {
        assert_eq!(h.stage(stage), 0, "{stage}");
    }
    assert_eq!(
        std::fs::read(h.path("root/var/lib/hyperv/.kvp_pool_0")).unwrap(),
        b"key\0"
    );
    assert_eq!(h.mode("root/var/lib/hyperv/.kvp_pool_0"), 0o600);
    assert!(exists(&h.path("root/etc/motd")));
}

#[test]
fn cmdline_preempts_user_ign_which_preempts_the_platform_and_base_configs_merge_under() {
    let h = Harness::new();
    h.write(
        "system/usr/base.d/10-base.ign",
        &file_config("3.3.0", &[("/base", "base"), ("/shared", "base")]),
    );
    h.write(
        "system/etc/base.platform.d/file/20-platform.ign",
        &file_config("3.5.0", &[("/platform-base", "p")]),
    );
    h.write(
        "system/etc/base.platform.d/qemu/20-other.ign",
        &file_config("3.5.0", &[("/other-platform", "o")]),
    );
    h.write("config.ign", &file_config("3.5.0", &[("/provider", "x")]));
    h.write(
        "system/usr/user.ign",
        &file_config("3.5.0", &[("/user", "user"), ("/shared", "user")]),
    );
    h.boot().unwrap();
    let root = h.path("root");
    assert_eq!(std::fs::read_to_string(root.join("base")).unwrap(), "base");
    assert_eq!(std::fs::read_to_string(root.join("user")).unwrap(), "user");
    assert_eq!(
        std::fs::read_to_string(root.join("shared")).unwrap(),
        "user"
    );
    assert!(
        !exists(&root.join("provider")),
        "user.ign preempts the platform"
    );
    let fetched = h.json("run/ignition/state")["fetchedConfigs"].clone();
    assert_eq!(
        fetched,
        serde_json::json!([
            {"kind": "base", "source": "system", "referenced": false},
            {"kind": "user", "source": "system", "referenced": false},
        ])
    );
    // The cache holds the user config only, never the base configs.
    let cache = std::fs::read_to_string(h.path("run/ignition.json")).unwrap();
    assert!(!cache.contains("/base"), "{cache}");

    let h = Harness::new();
    h.write(
        "system/usr/user.ign",
        &file_config("3.5.0", &[("/user", "user")]),
    );
    let url = format!(
        "data:,{}",
        file_config("3.5.0", &[("/cmdline", "c")]).replace(' ', "")
    );
    // Percent-encode what a kernel command line cannot carry.
    let url = url
        .replace('%', "%25")
        .replace('"', "%22")
        .replace('{', "%7B")
        .replace('}', "%7D");
    h.write("cmdline", &format!("quiet ignition.config.url={url}\n"));
    h.boot().unwrap();
    assert!(exists(&h.path("root/cmdline")));
    assert!(!exists(&h.path("root/user")));
    assert_eq!(
        h.json("run/ignition/state")["fetchedConfigs"][0]["source"],
        "cmdline"
    );
}

#[test]
fn bad_hash_fails_the_files_stage_and_writes_nothing() {
    let h = Harness::new();
    let config = serde_json::json!({
        "ignition": {"version": "3.5.0"},
        "storage": {"files": [{
            "path": "/etc/secret",
            "contents": {
                "source": "data:,hello",
                "verification": {"hash": format!("sha512-{}", "0".repeat(128))},
            },
        }]},
    });
    h.write("config.ign", &config.to_string());
    assert_eq!(h.boot(), Err(("files".to_string(), 1)));
    assert!(!exists(&h.path("root/etc/secret")));
    assert!(!exists(&h.path("root/etc/.ignition-result.json")));
    let summary = std::fs::read_to_string(h.path("run/ignition/kindling-failure.txt")).unwrap();
    assert!(summary.contains("the files stage failed"), "{summary}");
    assert!(summary.contains("$.storage.files.0"), "{summary}");
    assert!(
        !summary.contains("\"storage\""),
        "never the config: {summary}"
    );
    let stamp = h.json("root/etc/.kindling-firstboot.json");
    assert_eq!(stamp["status"], "failed");
    assert_eq!(stamp["stage"], "files");
}

#[test]
fn a_reboot_after_a_failed_first_boot_stops_clearly_in_mount() {
    let h = Harness::new();
    let config = serde_json::json!({
        "ignition": {"version": "3.5.0"},
        "storage": {"files": [{"path": "/a", "contents": {
            "source": "data:,x",
            "verification": {"hash": format!("sha256-{}", "0".repeat(64))},
        }}]},
    });
    h.write("config.ign", &config.to_string());
    assert_eq!(h.boot(), Err(("files".to_string(), 1)));
    // Next boot: new boot id, fresh /run.
    h.write("boot_id", "99999999-2222-3333-4444-555555555555\n");
    std::fs::remove_dir_all(h.path("run")).unwrap();
    assert_eq!(h.boot(), Err(("mount".to_string(), 1)));
    let summary = std::fs::read_to_string(h.path("run/ignition/kindling-failure.txt")).unwrap();
    assert!(summary.contains("a previous first boot"), "{summary}");
    assert!(summary.contains("stopped in the files stage"), "{summary}");
}

#[test]
fn unsupported_version_fails_fetch_without_a_cache() {
    let h = Harness::new();
    h.write("config.ign", r#"{"ignition":{"version":"2.2.0"}}"#);
    assert_eq!(h.stage("fetch"), 1);
    assert!(!exists(&h.path("run/ignition.json")));
    let summary = std::fs::read_to_string(h.path("run/ignition/kindling-failure.txt")).unwrap();
    assert!(summary.contains("config is not valid"), "{summary}");
}

#[test]
fn invalid_config_fails_fetch_naming_the_config_path() {
    let h = Harness::new();
    h.write(
        "config.ign",
        r#"{"ignition":{"version":"3.5.0"},"storage":{"files":[{"path":"relative"}]}}"#,
    );
    assert_eq!(h.stage("fetch"), 1);
    assert!(!exists(&h.path("run/ignition.json")));
    let summary = std::fs::read_to_string(h.path("run/ignition/kindling-failure.txt")).unwrap();
    assert!(summary.contains("$.storage.files.0.path"), "{summary}");
    assert!(summary.contains("kindling validate"), "{summary}");
}

#[test]
fn missing_config_file_fails_fetch() {
    let h = Harness::new();
    assert_eq!(h.stage("fetch"), 1);
}

#[test]
fn fetch_offline_signals_neednet_for_a_remote_config_url() {
    let h = Harness::new();
    // Never contacted: offline fetching refuses before connecting.
    h.write(
        "cmdline",
        "ignition.config.url=http://127.0.0.1:9/config.ign\n",
    );
    assert_eq!(h.stage("fetch-offline"), 0);
    assert!(exists(&h.path("run/ignition/neednet")));
    assert!(
        !exists(&h.path("run/ignition.json")),
        "no cache without a config"
    );
}

#[test]
fn fetch_offline_caches_a_local_config_that_needs_the_network_later() {
    let h = Harness::new();
    let config = r#"{"ignition":{"version":"3.5.0"},"storage":{"files":[{"path":"/a","contents":{"source":"http://127.0.0.1:9/a"}}]}}"#;
    h.write("config.ign", config);
    assert_eq!(h.stage("fetch-offline"), 0);
    assert!(exists(&h.path("run/ignition.json")));
    assert!(exists(&h.path("run/ignition/neednet")));

    let h = Harness::new();
    h.write("config.ign", &file_config("3.5.0", &[("/a", "x")]));
    assert_eq!(h.stage("fetch-offline"), 0);
    assert!(exists(&h.path("run/ignition.json")));
    assert!(!exists(&h.path("run/ignition/neednet")));
}

#[test]
fn fetch_offline_signals_neednet_for_a_remote_certificate_authority() {
    let h = Harness::new();
    let config = r#"{"ignition":{"version":"3.5.0","security":{"tls":{"certificateAuthorities":[{"source":"http://127.0.0.1:9/ca.pem"}]}}}}"#;
    h.write("config.ign", config);
    assert_eq!(h.stage("fetch-offline"), 0);
    assert!(exists(&h.path("run/ignition/neednet")));
    assert!(!exists(&h.path("run/ignition.json")));
}

#[test]
fn later_stages_need_the_cache() {
    let h = Harness::new();
    assert_eq!(h.stage("files"), 1);
    let summary = std::fs::read_to_string(h.path("run/ignition/kindling-failure.txt")).unwrap();
    assert!(
        summary.contains("fetch stages did not complete"),
        "{summary}"
    );
}

#[test]
fn unreadable_state_exits_3() {
    let h = Harness::new();
    h.write("run/ignition/state", "{not json");
    assert_eq!(h.stage("fetch"), 3);
}

#[test]
fn kargs_stage_calls_the_helper() {
    let h = Harness::new();
    h.write(
        "config.ign",
        r#"{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldExist":["a=1"],"shouldNotExist":["b"]}}"#,
    );
    let out = h.path("kargs-args");
    h.write(
        "kargs-helper",
        &format!("#!/bin/sh\necho \"$@\" > {}\n", out.display()),
    );
    std::fs::set_permissions(h.path("kargs-helper"), PermissionsExt::from_mode(0o755)).unwrap();
    assert_eq!(h.stage("fetch"), 0);
    assert_eq!(h.stage("kargs"), 0);
    assert_eq!(
        std::fs::read_to_string(out).unwrap(),
        "--should-exist a=1 --should-not-exist b\n"
    );
}

#[test]
fn storage_sections_fail_clearly_until_the_disks_stage_lands() {
    let h = Harness::new();
    h.write(
        "config.ign",
        r#"{"ignition":{"version":"3.5.0"},"storage":{"filesystems":[{"device":"/dev/vdb","format":"ext4"}]}}"#,
    );
    assert_eq!(h.stage("fetch"), 0);
    assert_eq!(h.stage("disks"), 1);
    let summary = std::fs::read_to_string(h.path("run/ignition/kindling-failure.txt")).unwrap();
    assert!(summary.contains("$.storage.filesystems"), "{summary}");
}

#[test]
fn tang_advertisements_are_fetched_before_any_disk_is_touched() {
    // Every request is a 404: the disks stage fails on the advertisement, naming the server.
    let port = serve(1, |_| Vec::new());
    let h = Harness::new();
    h.write(
        "config.ign",
        &format!(
            r#"{{"ignition":{{"version":"3.5.0"}},"storage":{{"luks":[{{"name":"t","device":"/dev/kindling-test-absent","clevis":{{"tang":[{{"url":"http://127.0.0.1:{port}/tang/","thumbprint":"x"}}]}}}}]}}}}"#
        ),
    );
    assert_eq!(h.stage("fetch"), 0);
    assert_eq!(h.stage("disks"), 1);
    let summary = std::fs::read_to_string(h.path("run/ignition/kindling-failure.txt")).unwrap();
    assert!(summary.contains("fetching tang advertisement"), "{summary}");
    assert!(
        summary.contains("$.storage.luks.0.clevis.tang.0.url"),
        "{summary}"
    );
    assert!(!summary.contains("kindling-test-absent"), "{summary}");
}

/// A loopback HTTP server for `requests` connections: `routes` (given the server's port) map
/// request targets to bodies; anything else is a 404.
fn serve(requests: usize, routes: impl FnOnce(u16) -> Vec<(String, String)>) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let routes = routes(port);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            let Ok(read_half) = stream.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(read_half);
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let target = request_line.split(' ').nth(1).unwrap_or("");
            let response = match routes.iter().find(|(t, _)| t == target) {
                Some((_, body)) => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string(),
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

#[test]
fn metal_boot_with_an_http_config_url_needs_the_network_then_fetches() {
    let h = Harness::new();
    // fetch-offline never connects; the fetch stage asks for the config and its merged child.
    let port = serve(2, |port| {
        let parent = serde_json::json!({
            "ignition": {"version": "3.5.0", "config": {"merge": [
                {"source": format!("http://127.0.0.1:{port}/child.ign?token=secret")},
            ]}},
            "storage": {"files": [{"path": "/parent", "contents": {"source": "data:,p"}}]},
        });
        vec![
            ("/config.ign".into(), parent.to_string()),
            (
                "/child.ign?token=secret".into(),
                file_config("3.5.0", &[("/merged", "m")]),
            ),
        ]
    });
    h.write(
        "cmdline",
        &format!("ignition.config.url=http://127.0.0.1:{port}/config.ign\n"),
    );
    let flags = |stage| h.flags_on("metal", stage);
    assert_eq!(run_stage(&flags("fetch-offline"), &h.env), 0);
    assert!(exists(&h.path("run/ignition/neednet")));
    assert!(!exists(&h.path("run/ignition.json")));
    let ops = h.json("run/ignition/kindling-ops.json");
    assert!(
        ops.as_array()
            .unwrap()
            .iter()
            .all(|op| op["outcome"] == "ok"),
        "needing the network is not a failure: {ops}"
    );
    assert_eq!(run_stage(&flags("fetch"), &h.env), 0);
    assert_eq!(run_stage(&flags("files"), &h.env), 0);
    assert_eq!(std::fs::read_to_string(h.path("root/parent")).unwrap(), "p");
    assert_eq!(std::fs::read_to_string(h.path("root/merged")).unwrap(), "m");
    assert_eq!(
        h.json("run/ignition/state")["fetchedConfigs"],
        serde_json::json!([
            {"kind": "user", "source": "cmdline", "referenced": false},
            {"kind": "user", "source": "/child.ign", "referenced": true},
        ])
    );
}

#[test]
fn metal_with_a_missing_config_url_fails_and_without_one_boots_empty() {
    let h = Harness::new();
    let port = serve(1, |_| Vec::new());
    h.write(
        "cmdline",
        &format!("ignition.config.url=http://127.0.0.1:{port}/absent.ign\n"),
    );
    assert_eq!(run_stage(&h.flags_on("metal", "fetch"), &h.env), 1);

    let h = Harness::new();
    assert_eq!(run_stage(&h.flags_on("metal", "fetch"), &h.env), 0);
    assert_eq!(run_stage(&h.flags_on("metal", "files"), &h.env), 0);
    assert_eq!(
        h.json("root/etc/.ignition-result.json")["userConfigProvided"],
        false
    );
}

#[test]
fn qemu_reads_the_fw_cfg_blob() {
    let h = Harness::new();
    let config = file_config("3.5.0", &[("/from-qemu", "q")]);
    let blob = h.path("fw_cfg/by_name/opt/com.coreos/config");
    std::fs::create_dir_all(&blob).unwrap();
    std::fs::write(blob.join("size"), format!("{}\n", config.len())).unwrap();
    std::fs::write(blob.join("raw"), &config).unwrap();
    assert_eq!(run_stage(&h.flags_on("qemu", "fetch-offline"), &h.env), 0);
    assert!(!exists(&h.path("run/ignition/neednet")));
    assert_eq!(run_stage(&h.flags_on("qemu", "files"), &h.env), 0);
    assert_eq!(
        std::fs::read_to_string(h.path("root/from-qemu")).unwrap(),
        "q"
    );
}

#[test]
fn fetch_timeout_bounds_a_provider_that_keeps_failing() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // 503 is retried by the fetcher until the total timeout runs out.
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let h = Harness::new();
    h.write(
        "cmdline",
        &format!("ignition.config.url=http://127.0.0.1:{port}/c.ign\n"),
    );
    let mut flags = h.flags_on("metal", "fetch");
    flags.fetch_timeout = std::time::Duration::from_secs(1);
    assert_eq!(run_stage(&flags, &h.env), 1);
    assert!(!exists(&h.path("run/ignition.json")));
}
