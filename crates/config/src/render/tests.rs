use super::*;
use crate::model::Timeouts;
use std::collections::HashMap;
use std::path::PathBuf;

const FIXTURES: &str = "http://fixtures.test/";

/// Serves `data:` URLs, the files of `fixtures/` under [`FIXTURES`], and generated configs;
/// records what it was asked.
#[derive(Default)]
struct TestFetcher {
    generated: HashMap<String, String>,
    fetched: Vec<Resource>,
    adopted: Vec<Ignition>,
    refuse_adopt: bool,
}

impl ConfigFetcher for TestFetcher {
    fn fetch_config(&mut self, resource: &Resource) -> Result<Vec<u8>, BoxError> {
        self.fetched.push(resource.clone());
        let source = resource.source.as_deref().unwrap_or_default();
        if let Some(config) = self.generated.get(source) {
            return Ok(config.clone().into_bytes());
        }
        if let Some(name) = source.strip_prefix(FIXTURES) {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("src/render/fixtures")
                .join(name);
            return std::fs::read(&path).map_err(|e| format!("resource not found: {e}").into());
        }
        if let Some(url) = source.strip_prefix("data:") {
            return decode_data_url(url);
        }
        Err("resource not found".into())
    }

    fn adopt(&mut self, ignition: &Ignition) -> Result<(), BoxError> {
        self.adopted.push(ignition.clone());
        if self.refuse_adopt {
            return Err("certificate authority not found".into());
        }
        Ok(())
    }
}

/// RFC 2397: `data:[<mediatype>][;base64],<data>` (the part after `data:`).
fn decode_data_url(url: &str) -> Result<Vec<u8>, BoxError> {
    let (meta, data) = url.split_once(',').ok_or("missing comma in data URL")?;
    let bytes = percent_decode(data)?;
    if meta.to_ascii_lowercase().ends_with(";base64") {
        base64_decode(&bytes)
    } else {
        Ok(bytes)
    }
}

fn percent_decode(s: &str) -> Result<Vec<u8>, BoxError> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [
                bytes.next().ok_or("short escape")?,
                bytes.next().ok_or("short escape")?,
            ];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex)?, 16)?);
        } else {
            out.push(b);
        }
    }
    Ok(out)
}

fn base64_decode(data: &[u8]) -> Result<Vec<u8>, BoxError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in data.iter().filter(|&&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).ok_or("bad base64")?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// A `data:` URL of `text`, percent-encoded.
fn data_url(text: &str) -> String {
    let mut url = String::from("data:,");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

fn config(json: &str) -> Config {
    match parse(json.as_bytes()) {
        Ok(parsed) => parsed.config,
        Err(e) => panic!("test config does not parse: {e}"),
    }
}

/// A 3.0.0 config with one file `path` whose contents are `contents`, merging `merge`.
fn config_json(merge: &[&str], files: &[(&str, &str)]) -> String {
    let merge: Vec<String> = merge
        .iter()
        .map(|s| format!(r#"{{"source": "{s}"}}"#))
        .collect();
    let files: Vec<String> = files
        .iter()
        .map(|(path, contents)| {
            format!(r#"{{"path": "{path}", "contents": {{"source": "data:,{contents}"}}, "overwrite": true}}"#)
        })
        .collect();
    format!(
        r#"{{"ignition": {{"version": "3.0.0", "config": {{"merge": [{}]}}}}, "storage": {{"files": [{}]}}}}"#,
        merge.join(","),
        files.join(",")
    )
}

fn file_sources(config: &Config) -> Vec<(String, String)> {
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

fn rendered(config: Config, fetcher: &mut TestFetcher) -> Rendered {
    match render(config, fetcher) {
        Ok(rendered) => rendered,
        Err(e) => panic!("render failed: {e}"),
    }
}

#[test]
fn a_config_without_references_is_returned_as_is() {
    let original = config(&config_json(&[], &[("/a", "a")]));
    let mut fetcher = TestFetcher::default();
    let out = rendered(original.clone(), &mut fetcher);
    assert_eq!(out.config, original);
    assert!(out.referenced.is_empty());
    assert!(fetcher.fetched.is_empty() && fetcher.adopted.is_empty());
}

#[test]
fn merges_in_order_depth_first() {
    // parent merges [c1, c2]; c1 merges [g]. Depth first, g lands in c1 before c2 is fetched,
    // so c2's value of /x wins; g's /g survives.
    let g = data_url(&config_json(&[], &[("/x", "g"), ("/g", "g")]));
    let c1 = data_url(&config_json(&[&g], &[("/x", "c1")]));
    let c2 = data_url(&config_json(&[], &[("/x", "c2")]));
    let parent = config(&config_json(&[&c1, &c2], &[("/x", "p"), ("/p", "p")]));
    let mut fetcher = TestFetcher::default();
    let out = rendered(parent, &mut fetcher);
    assert_eq!(
        file_sources(&out.config),
        [("/x", "data:,c2"), ("/p", "data:,p"), ("/g", "data:,g")]
            .map(|(p, s)| (p.to_owned(), s.to_owned()))
    );
    assert_eq!(out.referenced, [c1.clone(), g.clone(), c2.clone()]);
    let fetched: Vec<_> = fetcher
        .fetched
        .iter()
        .filter_map(|r| r.source.clone())
        .collect();
    assert_eq!(fetched, out.referenced);
    // The merged config keeps every merge entry it saw, the child's after the parent's (as
    // upstream's does).
    let merge_list: Vec<_> = out
        .config
        .ignition
        .config
        .merge
        .iter()
        .filter_map(|r| r.source.clone())
        .collect();
    assert_eq!(merge_list, [c1, c2, g]);
}

#[test]
fn a_child_renders_with_its_settings_over_the_accumulated_ones() {
    let child = format!("{FIXTURES}child.ign");
    let parent = config(&format!(
        r#"{{"ignition": {{"version": "3.1.0", "timeouts": {{"httpResponseHeaders": 20}},
            "config": {{"merge": [{{"source": "{child}"}}]}}}}}}"#
    ));
    let mut fetcher = TestFetcher::default();
    let out = rendered(parent, &mut fetcher);
    assert_eq!(fetcher.adopted.len(), 1);
    assert_eq!(
        fetcher.adopted[0].timeouts,
        Timeouts {
            http_response_headers: Some(20),
            http_total: Some(7)
        }
    );
    assert_eq!(out.config.ignition.timeouts, fetcher.adopted[0].timeouts);
    // A 3.2.0 child is translated to the internal model like any config.
    assert_eq!(out.config.ignition.version, crate::model::INTERNAL_VERSION);
    assert_eq!(
        file_sources(&out.config),
        [("/etc/child".to_owned(), "data:,child".to_owned())]
    );
}

#[test]
fn replace_discards_the_original_and_adopts_the_replacement_settings() {
    let parent = config(&format!(
        r#"{{"ignition": {{"version": "3.3.0", "timeouts": {{"httpTotal": 99}},
            "config": {{"replace": {{"source": "{FIXTURES}replacement.ign"}},
                        "merge": [{{"source": "{FIXTURES}missing.ign"}}]}}}},
            "storage": {{"files": [{{"path": "/etc/original"}}]}}}}"#
    ));
    let mut fetcher = TestFetcher::default();
    let out = rendered(parent, &mut fetcher);
    // The replacement's own settings, not merged with the original's httpTotal 99; then its
    // merged child's on top of the replacement's.
    assert_eq!(
        fetcher.adopted[0].timeouts,
        Timeouts {
            http_response_headers: Some(3),
            http_total: None
        }
    );
    assert_eq!(
        fetcher.adopted[1].timeouts,
        Timeouts {
            http_response_headers: Some(3),
            http_total: Some(7)
        }
    );
    assert_eq!(
        file_sources(&out.config),
        [
            ("/etc/replaced", "data:,replaced"),
            ("/etc/child", "data:,child")
        ]
        .map(|(p, s)| (p.to_owned(), s.to_owned()))
    );
    assert_eq!(
        out.referenced,
        [
            format!("{FIXTURES}replacement.ign"),
            format!("{FIXTURES}child.ign")
        ]
    );
}

#[test]
fn an_empty_replace_source_is_still_fetched() {
    let parent =
        config(r#"{"ignition": {"version": "3.0.0", "config": {"replace": {"source": ""}}}}"#);
    let mut fetcher = TestFetcher::default();
    let err = render(parent, &mut fetcher).err();
    assert!(
        matches!(&err, Some(RenderError::Fetch { source, .. }) if source.contains("empty source")),
        "{err:?}"
    );
    assert_eq!(fetcher.fetched.len(), 1);
}

#[test]
fn the_fetched_reference_carries_its_verification_and_headers() {
    let parent = config(&format!(
        r#"{{"ignition": {{"version": "3.1.0", "config": {{"merge": [{{"source": "{FIXTURES}child.ign",
            "verification": {{"hash": "sha512-{}"}}, "compression": "gzip",
            "httpHeaders": [{{"name": "X-Token", "value": "t"}}]}}]}}}}}}"#,
        "0".repeat(128)
    ));
    let mut fetcher = TestFetcher::default();
    rendered(parent.clone(), &mut fetcher);
    assert_eq!(fetcher.fetched, parent.ignition.config.merge);
}

#[test]
fn an_empty_referenced_config_is_reported_as_empty() {
    let parent = config(&config_json(&[&format!("{FIXTURES}empty.ign")], &[]));
    let err = render(parent, &mut TestFetcher::default()).err();
    assert!(
        matches!(&err, Some(RenderError::Empty { source }) if source.ends_with("empty.ign")),
        "{err:?}"
    );
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("whole user config is ignored"),
        "{message}"
    );
}

#[test]
fn an_invalid_referenced_config_names_its_redacted_source() {
    let secret = data_url(r#"{"ignition": {"version": "3.0.0"}, "passwd": "hunter2"#);
    let parent = config(&config_json(&[&secret], &[]));
    let err = render(parent, &mut TestFetcher::default()).err();
    let Some(RenderError::Parse { source, report }) = &err else {
        panic!("expected a parse error, got {err:?}");
    };
    assert!(source.starts_with("data URL ("), "{source}");
    assert!(report.has_errors());
    let message = err.as_ref().map(|e| e.to_string()).unwrap_or_default();
    assert!(!message.contains("hunter2"), "{message}");

    let parent = config(&config_json(&[&format!("{FIXTURES}invalid.ign")], &[]));
    let err = render(parent, &mut TestFetcher::default()).err();
    assert!(
        matches!(&err, Some(RenderError::Parse { source, .. }) if source.ends_with("invalid.ign")),
        "{err:?}"
    );
}

#[test]
fn fetch_and_settings_failures_name_the_reference() {
    let missing = "https://user:secret@example.com/c.ign?token=abc";
    let parent = config(&config_json(&[missing], &[]));
    let err = render(parent, &mut TestFetcher::default()).err();
    let message = err.as_ref().map(|e| e.to_string()).unwrap_or_default();
    assert!(matches!(err, Some(RenderError::Fetch { .. })));
    assert_eq!(
        message,
        "fetching referenced config https://…@example.com/c.ign?token=…: resource not found"
    );

    let parent = config(&config_json(&[&format!("{FIXTURES}child.ign")], &[]));
    let mut fetcher = TestFetcher {
        refuse_adopt: true,
        ..TestFetcher::default()
    };
    // The fetcher's own error is passed on untouched, so callers can inspect it.
    let (source, error) = fetch_error(render(parent, &mut fetcher));
    assert!(source.ends_with("child.ign"), "{source}");
    assert_eq!(error, "certificate authority not found");
}

/// The redacted source and the error message of a `RenderError::Fetch`.
fn fetch_error(result: Result<Rendered, RenderError>) -> (String, String) {
    match result {
        Err(RenderError::Fetch { source, error }) => (source, error.to_string()),
        other => panic!("expected a fetch error, got {other:?}"),
    }
}

#[test]
fn a_config_merging_itself_stops_at_the_depth_limit() {
    let parent = config(&config_json(&[&format!("{FIXTURES}self.ign")], &[]));
    let mut fetcher = TestFetcher::default();
    let (source, error) = fetch_error(render(parent, &mut fetcher));
    assert!(source.ends_with("self.ign"), "{source}");
    assert!(error.contains("levels deep"), "{error}");
    assert_eq!(fetcher.fetched.len(), MAX_DEPTH);
}

#[test]
fn a_chain_at_the_depth_limit_renders() {
    let mut fetcher = TestFetcher::default();
    for level in 1..=MAX_DEPTH {
        let next = if level < MAX_DEPTH {
            vec![format!("{FIXTURES}chain/{}", level + 1)]
        } else {
            vec![]
        };
        let next: Vec<&str> = next.iter().map(String::as_str).collect();
        let json = config_json(&next, &[(&format!("/level{level}"), "x")]);
        fetcher
            .generated
            .insert(format!("{FIXTURES}chain/{level}"), json);
    }
    let parent = config(&config_json(&[&format!("{FIXTURES}chain/1")], &[]));
    let out = rendered(parent.clone(), &mut fetcher);
    assert_eq!(out.config.storage.files.len(), MAX_DEPTH);

    // One level more is refused.
    let deepest = format!("{FIXTURES}chain/{MAX_DEPTH}");
    fetcher.generated.insert(
        deepest,
        config_json(&[&format!("{FIXTURES}child.ign")], &[]),
    );
    let (source, error) = fetch_error(render(parent, &mut fetcher));
    assert!(source.ends_with("child.ign"), "{source}");
    assert!(error.contains("levels deep"), "{error}");
}

#[test]
fn too_many_references_in_all_are_refused() {
    let mut fetcher = TestFetcher::default();
    let children: Vec<String> = (0..=MAX_REFERENCED)
        .map(|i| format!("{FIXTURES}wide/{i}"))
        .collect();
    for child in &children {
        fetcher
            .generated
            .insert(child.clone(), config_json(&[], &[]));
    }
    let refs: Vec<&str> = children.iter().map(String::as_str).collect();
    let (source, error) = fetch_error(render(config(&config_json(&refs, &[])), &mut fetcher));
    assert!(
        source.ends_with(&format!("wide/{MAX_REFERENCED}")),
        "{source}"
    );
    assert!(error.contains("referenced configs in all"), "{error}");
    assert_eq!(fetcher.fetched.len(), MAX_REFERENCED);
}

#[test]
fn config_merge_failed() {
    // Blackbox config.merge.failed: each config is valid, their merge is not.
    let child = data_url(
        r#"{"ignition": {"version": "3.0.0"},
            "storage": {"filesystems": [{"format": "", "device": "/dev/vdb"}]}}"#,
    );
    let parent = config(&format!(
        r#"{{"ignition": {{"version": "3.0.0", "config": {{"merge": [{{"source": "{child}"}}]}}}},
            "storage": {{"filesystems": [{{"path": "/foo", "format": "ext4", "device": "/dev/vdb"}}]}}}}"#
    ));
    let err = render(parent, &mut TestFetcher::default()).err();
    let Some(RenderError::Invalid(report)) = &err else {
        panic!("expected an invalid merged config, got {err:?}");
    };
    assert!(
        report.entries.iter().any(|e| e
            .path
            .as_deref()
            .is_some_and(|p| p.starts_with("$.storage.filesystems.0"))),
        "{report}"
    );
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.starts_with(
            "merging configs resulted in an invalid config: error at $.storage.filesystems.0"
        ),
        "{message}"
    );
}

#[test]
fn parse_warnings_of_referenced_configs_are_kept() {
    let child = data_url(r#"{"ignition": {"version": "3.0.0"}, "unknownKey": 1}"#);
    let parent = config(&config_json(&[&child], &[]));
    let out = rendered(parent, &mut TestFetcher::default());
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    let (source, report) = &out.warnings[0];
    assert!(source.starts_with("data URL ("), "{source}");
    assert!(!report.has_errors() && report.has_warnings(), "{report}");
}

#[test]
fn a_merged_child_that_replaces_itself_merges_its_replacement() {
    let replacement = data_url(&config_json(&[], &[("/r", "r")]));
    let child = data_url(&format!(
        r#"{{"ignition": {{"version": "3.0.0", "config": {{"replace": {{"source": "{replacement}"}}}}}},
            "storage": {{"files": [{{"path": "/c", "contents": {{"source": "data:,c"}}}}]}}}}"#
    ));
    let parent = config(&config_json(&[&child], &[("/p", "p")]));
    let mut fetcher = TestFetcher::default();
    let out = rendered(parent, &mut fetcher);
    assert_eq!(
        file_sources(&out.config),
        [("/p", "data:,p"), ("/r", "data:,r")].map(|(p, s)| (p.to_owned(), s.to_owned()))
    );
    assert_eq!(out.referenced, [child, replacement]);
    assert_eq!(fetcher.adopted.len(), 2);
}
