use super::merge;
use crate::Config;
use serde_json::{Value, json};

fn config(value: Value) -> Config {
    match serde_json::from_value(value) {
        Ok(config) => config,
        Err(e) => panic!("test fixture is not a model config: {e}"),
    }
}

fn merged(parent: Value, child: Value) -> Value {
    let out = merge(&config(parent), &config(child));
    match serde_json::to_value(out) {
        Ok(value) => value,
        Err(e) => panic!("merged config does not serialise: {e}"),
    }
}

#[test]
fn empty_configs_merge_to_empty() {
    assert_eq!(
        merge(&Config::default(), &Config::default()),
        Config::default()
    );
}

#[test]
fn version_and_required_scalars_come_from_the_child() {
    let out = merged(
        json!({"ignition": {"version": "1234"}}),
        json!({"ignition": {"version": "haha this isn't validated"}}),
    );
    assert_eq!(
        out,
        json!({"ignition": {"version": "haha this isn't validated"}})
    );
}

#[test]
fn an_empty_child_section_keeps_the_parent_section() {
    let parent = json!({"ignition": {"version": "3.7.0-experimental",
        "timeouts": {"httpTotal": 5}, "proxy": {"httpProxy": "http://p"}}});
    assert_eq!(merged(parent.clone(), json!({})), parent);
    assert_eq!(merged(json!({}), parent.clone()), parent);
}

#[test]
fn optional_scalars_take_any_value_the_child_sets() {
    let parent = json!({"passwd": {"users": [{"name": "core", "shell": "/bin/bash",
        "noCreateHome": true, "uid": 1000, "gecos": "Core"}]}});
    let child = json!({"passwd": {"users": [{"name": "core", "shell": "",
        "noCreateHome": false, "uid": 0}]}});
    assert_eq!(
        merged(parent, child),
        json!({"ignition": {"version": ""}, "passwd": {"users": [{"name": "core", "shell": "",
            "noCreateHome": false, "uid": 0, "gecos": "Core"}]}})
    );
}

#[test]
fn keyed_lists_merge_at_the_parent_position_and_append_new_child_items() {
    let parent = json!({"systemd": {"units": [
        {"name": "a.service", "enabled": true},
        {"name": "b.service", "mask": true},
        {"name": "c.service", "contents": "[Unit]\n", "dropins": [{"name": "x.conf", "contents": "x"}]}
    ]}});
    let child = json!({"systemd": {"units": [
        {"name": "c.service", "dropins": [{"name": "y.conf", "contents": "y"}, {"name": "x.conf", "contents": "x2"}]},
        {"name": "d.service", "enabled": false},
        {"name": "a.service", "enabled": false}
    ]}});
    assert_eq!(
        merged(parent, child)["systemd"],
        json!({"units": [
            {"name": "a.service", "enabled": false},
            {"name": "b.service", "mask": true},
            {"name": "c.service", "contents": "[Unit]\n",
             "dropins": [{"name": "x.conf", "contents": "x2"}, {"name": "y.conf", "contents": "y"}]},
            {"name": "d.service", "enabled": false}
        ]})
    );
}

#[test]
fn disks_partitions_appends_and_string_lists() {
    // Upstream's main merge case, written as JSON.
    let parent = json!({
        "storage": {
            "disks": [
                {"device": "foo", "wipeTable": true,
                 "partitions": [{"number": 1, "label": "label", "startMiB": 4}]},
                {"device": "bar", "wipeTable": true}
            ],
            "files": [
                {"path": "/foo", "append": [{"source": "source1"}]},
                {"path": "/bar", "contents": {"compression": "gzip"}}
            ]
        },
        "passwd": {"users": [{"name": "bovik", "sshAuthorizedKeys": ["one", "two"]}]}
    });
    let child = json!({
        "storage": {
            "disks": [
                {"device": "foo", "wipeTable": false, "partitions": [
                    {"number": 1, "label": "labelchanged"},
                    {"number": 2, "label": "label2"}
                ]},
                {"device": "bar"},
                {"device": "baz", "wipeTable": true}
            ],
            "files": [{"path": "/foo", "append": [{"source": "source1"}, {"source": "source2"}]}],
            "directories": [{"path": "/bar"}],
            "links": [{"path": "/baz"}]
        },
        "passwd": {"users": [{"name": "bovik", "sshAuthorizedKeys": ["three", "two"]}]}
    });
    assert_eq!(
        merged(parent, child),
        json!({
            "ignition": {"version": ""},
            "storage": {
                "disks": [
                    {"device": "foo", "wipeTable": false, "partitions": [
                        {"number": 1, "label": "labelchanged", "startMiB": 4},
                        {"number": 2, "label": "label2"}
                    ]},
                    {"device": "bar", "wipeTable": true},
                    {"device": "baz", "wipeTable": true}
                ],
                "files": [{"path": "/foo", "append": [
                    {"source": "source1"}, {"source": "source1"}, {"source": "source2"}
                ]}],
                "directories": [{"path": "/bar"}],
                "links": [{"path": "/baz"}]
            },
            "passwd": {"users": [{"name": "bovik", "sshAuthorizedKeys": ["one", "two", "three"]}]}
        })
    );
}

#[test]
fn a_child_node_of_another_kind_replaces_the_parent_node() {
    let parent = json!({"storage": {
        "files": [{"path": "/a", "mode": 420}, {"path": "/keep"}],
        "directories": [{"path": "/b", "mode": 493}],
        "links": [{"path": "/c", "target": "/x"}]
    }});
    let child = json!({"storage": {
        "links": [{"path": "/a", "target": "/y"}],
        "files": [{"path": "/b"}],
        "directories": [{"path": "/c"}]
    }});
    assert_eq!(
        merged(parent, child)["storage"],
        json!({
            "directories": [{"path": "/c"}],
            "files": [{"path": "/keep"}, {"path": "/b"}],
            "links": [{"path": "/a", "target": "/y"}]
        })
    );
}

#[test]
fn a_child_repeating_a_path_across_lists_keeps_upstream_order_of_precedence() {
    // Invalid as a config, but merging must still be deterministic: the later list in upstream's
    // field order (directories, files, links) owns the key, the earlier list loses the parent item
    // and does not append its own.
    let parent = json!({"storage": {"files": [{"path": "/p", "mode": 420}]}});
    let child =
        json!({"storage": {"files": [{"path": "/p"}], "links": [{"path": "/p", "target": "/t"}]}});
    assert_eq!(
        merged(parent, child)["storage"],
        json!({"links": [{"path": "/p", "target": "/t"}]})
    );
}

#[test]
fn kernel_arguments_share_one_key_space() {
    let parent =
        json!({"kernelArguments": {"shouldExist": ["a", "b"], "shouldNotExist": ["c", "d"]}});
    let child =
        json!({"kernelArguments": {"shouldExist": ["c", "e"], "shouldNotExist": ["a", "d"]}});
    assert_eq!(
        merged(parent, child)["kernelArguments"],
        json!({"shouldExist": ["b", "c", "e"], "shouldNotExist": ["d", "a"]})
    );
}

#[test]
fn a_child_header_without_value_deletes_the_parent_header() {
    let headers_parent = json!([
        {"name": "old-header", "value": "old-value"},
        {"name": "same-header", "value": "old-value"},
        {"name": "to-remove-header", "value": "some-value"}
    ]);
    let headers_child = json!([
        {"name": "to-remove-header"},
        {"name": "new-header", "value": "new-value"},
        {"name": "same-header", "value": "new-value"}
    ]);
    let headers_out = json!([
        {"name": "old-header", "value": "old-value"},
        {"name": "same-header", "value": "new-value"},
        {"name": "new-header", "value": "new-value"}
    ]);
    let url = "http://example.com/myconf.ign";
    let in_replace = |h: &Value| json!({"ignition": {"version": "3.7.0-experimental", "config": {"replace": {"source": url, "httpHeaders": h}}}});
    let out = merged(in_replace(&headers_parent), in_replace(&headers_child));
    assert_eq!(out, in_replace(&headers_out));

    let in_ca = |h: &Value| {
        json!({"ignition": {"version": "3.7.0-experimental",
        "security": {"tls": {"certificateAuthorities": [{"source": url, "httpHeaders": h}]}}}})
    };
    assert_eq!(
        merged(in_ca(&headers_parent), in_ca(&headers_child)),
        in_ca(&headers_out)
    );

    let in_file = |h: &Value| json!({"storage": {"files": [{"path": "/f", "contents": {"source": url, "httpHeaders": h}}]}});
    assert_eq!(
        merged(in_file(&headers_parent), in_file(&headers_child))["storage"],
        in_file(&headers_out)["storage"]
    );
}

#[test]
fn a_child_header_without_value_and_no_parent_header_is_kept() {
    // Nothing to delete: the marker stays (validation then rejects it at fetch time).
    let out = merged(
        json!({"storage": {"files": [{"path": "/f", "contents": {"source": "http://h/", "httpHeaders": [{"name": "a", "value": "1"}]}}]}}),
        json!({"storage": {"files": [{"path": "/f", "contents": {"httpHeaders": [{"name": "b"}]}}]}}),
    );
    assert_eq!(
        out["storage"]["files"][0]["contents"]["httpHeaders"],
        json!([{"name": "a", "value": "1"}, {"name": "b"}])
    );
}

#[test]
fn append_lists_concatenate_without_deduplication() {
    let parent = json!({"storage": {
        "files": [{"path": "/f", "append": [{"source": "data:,a", "httpHeaders": [{"name": "h", "value": "1"}]}]}],
        "filesystems": [{"device": "/dev/sda", "options": ["a", "b"], "mountOptions": ["ro"]}],
        "luks": [{"name": "root", "options": ["--x"], "openOptions": ["discard", "y"]}],
        "raid": [{"name": "md0", "options": ["--z"], "devices": ["/dev/a", "/dev/b"]}]
    }});
    let child = json!({"storage": {
        "files": [{"path": "/f", "append": [{"source": "data:,a", "httpHeaders": [{"name": "h"}]}]}],
        "filesystems": [{"device": "/dev/sda", "options": ["b"], "mountOptions": ["ro", "noatime"]}],
        "luks": [{"name": "root", "options": ["--x"], "openOptions": ["discard"]}],
        "raid": [{"name": "md0", "options": ["--z"], "devices": ["/dev/b", "/dev/c"]}]
    }});
    assert_eq!(
        merged(parent, child)["storage"],
        json!({
            "files": [{"path": "/f", "append": [
                {"source": "data:,a", "httpHeaders": [{"name": "h", "value": "1"}]},
                {"source": "data:,a", "httpHeaders": [{"name": "h"}]}
            ]}],
            "filesystems": [{"device": "/dev/sda", "options": ["a", "b", "b"], "mountOptions": ["ro", "ro", "noatime"]}],
            "luks": [{"name": "root", "options": ["--x", "--x"], "openOptions": ["discard", "y"]}],
            "raid": [{"name": "md0", "options": ["--z", "--z"], "devices": ["/dev/a", "/dev/b", "/dev/c"]}]
        })
    );
}

#[test]
fn partitions_are_keyed_by_number_then_label() {
    let parent = json!({"storage": {"disks": [{"device": "/dev/vda", "partitions": [
        {"number": 0, "label": "data", "sizeMiB": 100},
        {"number": 3, "label": "data", "sizeMiB": 10},
        {"sizeMiB": 5}
    ]}]}});
    let child = json!({"storage": {"disks": [{"device": "/dev/vda", "partitions": [
        {"label": "data", "resize": true},
        {"number": 3, "label": "other"},
        {"startMiB": 7}
    ]}]}});
    assert_eq!(
        merged(parent, child)["storage"]["disks"][0]["partitions"],
        json!([
            {"label": "data", "sizeMiB": 100, "resize": true},
            {"number": 3, "label": "other", "sizeMiB": 10},
            {"sizeMiB": 5, "startMiB": 7}
        ])
    );
}

#[test]
fn resource_lists_merge_by_source() {
    let parent = json!({"ignition": {"version": "3.7.0-experimental", "config": {"merge": [
        {"source": "http://a/"}, {"source": "http://b/", "compression": "gzip"}
    ]}}});
    let child = json!({"ignition": {"version": "3.7.0-experimental", "config": {"merge": [
        {"source": "http://b/", "verification": {"hash": "sha512-00"}}, {"source": "http://c/"}
    ]}}});
    assert_eq!(
        merged(parent, child)["ignition"]["config"]["merge"],
        json!([
            {"source": "http://a/"},
            {"source": "http://b/", "compression": "gzip", "verification": {"hash": "sha512-00"}},
            {"source": "http://c/"}
        ])
    );
}

#[test]
fn nested_objects_merge_field_by_field() {
    let parent = json!({"storage": {"luks": [{"name": "root", "device": "/dev/vda4",
        "clevis": {"tpm2": true, "tang": [{"url": "http://t1", "thumbprint": "a"}], "custom": {"pin": "sss"}},
        "keyFile": {"source": "data:,k"}}],
        "files": [{"path": "/f", "user": {"name": "core"}, "group": {"id": 5}, "overwrite": true}]}});
    let child = json!({"storage": {"luks": [{"name": "root",
        "clevis": {"threshold": 2, "tang": [{"url": "http://t1", "advertisement": "{}"}, {"url": "http://t2"}]},
        "cex": {"enabled": false}}],
        "files": [{"path": "/f", "user": {"id": 0}, "mode": 384}]}});
    assert_eq!(
        merged(parent, child)["storage"],
        json!({
            "files": [{"path": "/f", "user": {"name": "core", "id": 0}, "group": {"id": 5},
                       "overwrite": true, "mode": 384}],
            "luks": [{"name": "root", "device": "/dev/vda4", "cex": {"enabled": false},
                "clevis": {"tpm2": true, "threshold": 2, "custom": {"pin": "sss"},
                    "tang": [{"url": "http://t1", "thumbprint": "a", "advertisement": "{}"}, {"url": "http://t2"}]},
                "keyFile": {"source": "data:,k"}}]
        })
    );
}

#[test]
fn merged_filesystem_can_become_invalid() {
    // Blackbox config.merge.failed: the child clears `format` while the parent set a mount path.
    let parent = json!({"storage": {"filesystems": [{"device": "/dev/vdb", "path": "/foo", "format": "ext4"}]}});
    let child = json!({"storage": {"filesystems": [{"device": "/dev/vdb", "format": ""}]}});
    assert_eq!(
        merged(parent, child)["storage"]["filesystems"],
        json!([{"device": "/dev/vdb", "path": "/foo", "format": ""}])
    );
}

#[test]
fn base_and_user_configs_are_both_applied() {
    // Blackbox preemption.base.*: the user config is the child of the base config.
    let file = |who: &str| json!({"path": format!("/ignition/{who}"), "contents": {"source": format!("data:,{who}")}, "overwrite": true});
    let out = merged(
        json!({"ignition": {"version": "3.0.0"}, "storage": {"files": [file("base")]}}),
        json!({"ignition": {"version": "3.7.0-experimental"}, "storage": {"files": [file("user")]}}),
    );
    assert_eq!(out["storage"]["files"], json!([file("base"), file("user")]));
    assert_eq!(out["ignition"]["version"], "3.7.0-experimental");
}

/// A small deterministic generator (xorshift) for configs whose keys collide often.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
    fn list(&mut self, make: &mut dyn FnMut(&mut Gen) -> Value) -> Value {
        let n = self.next() % 4;
        Value::Array((0..n).map(|_| make(self)).collect())
    }
    fn config(&mut self) -> Value {
        const PATHS: &[&str] = &["/a", "/b", "/c", ""];
        const WORDS: &[&str] = &["x", "y", "z"];
        json!({
            "ignition": {"version": self.pick(&["3.0.0", "3.7.0-experimental"]),
                "config": {"merge": self.list(&mut |g| json!({"source": g.pick(WORDS)}))}},
            "kernelArguments": {
                "shouldExist": self.list(&mut |g| json!(g.pick(WORDS))),
                "shouldNotExist": self.list(&mut |g| json!(g.pick(WORDS)))
            },
            "storage": {
                "files": self.list(&mut |g| json!({"path": g.pick(PATHS),
                    "append": [{"source": g.pick(WORDS), "httpHeaders": [{"name": g.pick(WORDS)}]}]})),
                "directories": self.list(&mut |g| json!({"path": g.pick(PATHS), "mode": 493})),
                "links": self.list(&mut |g| json!({"path": g.pick(PATHS), "target": g.pick(WORDS)})),
                "disks": self.list(&mut |g| json!({"device": g.pick(PATHS),
                    "partitions": g.list(&mut |g| json!({"number": g.next() % 3, "label": g.pick(WORDS)}))}))
            }
        })
    }
}

fn node_paths(storage: &crate::model::Storage) -> Vec<String> {
    let mut paths: Vec<String> = storage
        .files
        .iter()
        .map(|f| f.node.path.clone())
        .chain(storage.directories.iter().map(|d| d.node.path.clone()))
        .chain(storage.links.iter().map(|l| l.node.path.clone()))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[test]
fn random_configs_merge_without_losing_or_inventing_keys() {
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let parent = config(g.config());
        let child = config(g.config());
        let out = merge(&parent, &child);
        // Merging with nothing changes nothing, from either side.
        assert_eq!(merge(&out, &Config::default()), out);
        assert_eq!(merge(&Config::default(), &out), out);
        // Every node path of either side is still there, and no other: a key moves between lists
        // but never disappears.
        let mut both = node_paths(&parent.storage);
        both.extend(node_paths(&child.storage));
        both.sort();
        both.dedup();
        assert_eq!(node_paths(&out.storage), both);
        // Each kernel argument is wanted either present or absent, as the child last said.
        for arg in &child.kernel_arguments.should_not_exist {
            let still_wanted = out.kernel_arguments.should_exist.contains(arg);
            assert!(!still_wanted || child.kernel_arguments.should_exist.contains(arg));
        }
        assert_eq!(out.ignition.version, child.ignition.version);
    }
}
