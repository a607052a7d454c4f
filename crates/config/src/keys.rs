//! Keys the schema does not know (`unused key …` warnings, with the nearest known key as a hint)
//! and values where an object was expected but `null` was given (the context-tree warning).
//!
//! Upstream walks the decoded Go value and looks each object up in a position tree by exact key;
//! this walks the decoded value and the JSON tree together the same way.

use crate::Version;
use crate::json::{LineIndex, Node, Value};
use crate::report::{Entry, Severity};
use crate::schema::{Def, Ty};
use serde_json::Value as Out;

/// Warnings for unknown keys and mismatched contexts, in upstream's walk order.
pub fn check(
    root: &Node,
    decoded: &Out,
    def: &'static Def,
    version: Version,
    lines: &LineIndex,
) -> Vec<Entry> {
    let mut walk = Walk {
        version,
        lines,
        entries: Vec::new(),
    };
    walk.object(decoded, Some(root), def, "$");
    walk.entries
}

struct Walk<'a> {
    version: Version,
    lines: &'a LineIndex,
    entries: Vec<Entry>,
}

impl Walk<'_> {
    fn warn(&mut self, path: String, at: usize, message: String, hint: Option<String>) {
        self.entries.push(Entry {
            severity: Severity::Warning,
            path: Some(path),
            position: Some(self.lines.position(at)),
            message,
            hint,
        });
    }

    /// One struct value at `path`; `node` is what the position tree has there.
    fn object(&mut self, value: &Out, node: Option<&Node>, def: &'static Def, path: &str) {
        let Some(node) = node else { return };
        let Value::Object(members) = &node.value else {
            self.warn(
                path.to_owned(),
                node.start,
                format!(
                    "context tree does not match content tree at {path}. Line and column reporting may be inconsistent. Unused keys may not be reported"
                ),
                Some("use an object here, or leave the key out instead of writing null".into()),
            );
            return;
        };
        let known: Vec<&str> = def.fields_in(self.version).map(|f| f.key).collect();
        let mut reported = std::collections::HashSet::new();
        let mut last_start: Option<std::collections::HashMap<&str, usize>> = None;
        for m in members {
            if known.contains(&m.key.as_str()) {
                continue;
            }
            // One warning per distinct key, at its last occurrence as upstream's tree keeps it.
            if !reported.insert(m.key.as_str()) {
                continue;
            }
            let last = last_start
                .get_or_insert_with(|| {
                    members
                        .iter()
                        .map(|o| (o.key.as_str(), o.key_start))
                        .collect()
                })
                .get(m.key.as_str())
                .copied()
                .unwrap_or(m.key_start);
            let hint = suggest(&m.key, def, self.version);
            self.warn(
                format!("{path}.{}", m.key),
                last,
                format!("unused key {}", m.key),
                hint,
            );
        }
        for field in def.fields_in(self.version) {
            let child_value = value.get(field.key);
            let child_node = node.get(field.key).map(|m| &m.value);
            let child_path = format!("{path}.{}", field.key);
            match (&field.ty, child_value) {
                (Ty::Struct(d), Some(v)) => self.object(v, child_node, d, &child_path),
                (Ty::OptStruct(d), Some(v)) if v.is_object() => {
                    self.object(v, child_node, d, &child_path)
                }
                (Ty::List(Ty::Struct(d), _), Some(Out::Array(items))) => {
                    for (i, item) in items.iter().enumerate() {
                        let elem = match child_node.map(|n| &n.value) {
                            Some(Value::Array(nodes)) => nodes.get(i),
                            _ => None,
                        };
                        self.object(item, elem, d, &format!("{child_path}.{i}"));
                    }
                }
                _ => {}
            }
        }
    }
}

/// The hint for an unknown key: the known key it most likely meant, or the version that has it.
fn suggest(key: &str, def: &'static Def, version: Version) -> Option<String> {
    if let Some(f) = def.fields.iter().find(|f| f.key == key) {
        let since = f.since;
        return Some(if version < since {
            format!("`{key}` needs spec version {since} or newer; raise ignition.version to use it")
        } else {
            format!("`{key}` is not part of spec version {version}")
        });
    }
    // Known keys are short; a long key cannot be a near miss (and is not worth the time).
    if key.len() > 40 {
        return Some("remove it; it is not a key of this object".into());
    }
    let lower = key.to_ascii_lowercase();
    let best = def
        .fields_in(version)
        .map(|f| (distance(&lower, &f.key.to_ascii_lowercase()), f.key))
        .min();
    match best {
        // Case-only differences decode anyway (Go matches case-insensitively) but still warn.
        Some((0, k)) => Some(format!("did you mean `{k}`? (keys are case-sensitive)")),
        Some((d, k)) if d <= (k.len() / 3).max(2) => Some(format!("did you mean `{k}`?")),
        _ => Some("remove it; it is not a key of this object".into()),
    }
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::CONFIG;

    type Found = (String, (usize, usize), String, Option<String>);

    fn run(input: &str, version: Version) -> Vec<Found> {
        let node = crate::json::parse(input.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
        let (decoded, err) = crate::decode::decode(&node, &CONFIG, version);
        assert_eq!(err, None);
        let lines = LineIndex::new(input.as_bytes());
        check(&node, &decoded, &CONFIG, version, &lines)
            .into_iter()
            .map(|e| {
                (
                    e.path.unwrap_or_default(),
                    e.position.unwrap_or_default(),
                    e.message,
                    e.hint,
                )
            })
            .collect()
    }

    #[test]
    fn unknown_keys_with_suggestions() {
        let got = run(
            r#"{"ignition":{"version":"3.1.0"},"storage":{"disks":[{"device":"/dev/sda","partitions":[{"sizeMib":5}]}]},"kernelArguments":{}}"#,
            Version::V3_1,
        );
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, "$.kernelArguments");
        assert_eq!(got[0].2, "unused key kernelArguments");
        assert!(got[0].3.as_deref().is_some_and(|h| h.contains("3.3.0")));
        assert_eq!(got[1].0, "$.storage.disks.0.partitions.0.sizeMib");
        assert_eq!(got[1].1, (1, 89));
        assert_eq!(
            got[1].3.as_deref(),
            Some("did you mean `sizeMiB`? (keys are case-sensitive)")
        );
    }

    #[test]
    fn null_where_an_object_is_expected() {
        let got = run(
            r#"{"ignition":{"version":"3.3.0"},"storage":null,"passwd":{"users":[null]}}"#,
            Version::V3_3,
        );
        let paths: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(paths, ["$.passwd.users.0", "$.storage"]);
        assert!(
            got[0]
                .2
                .starts_with("context tree does not match content tree at $.passwd.users.0.")
        );
    }

    #[test]
    fn case_mismatched_objects_are_not_searched() {
        let got = run(
            r#"{"ignition":{"version":"3.3.0"},"Storage":{"foo":1}}"#,
            Version::V3_3,
        );
        let messages: Vec<&str> = got.iter().map(|g| g.2.as_str()).collect();
        assert_eq!(messages, ["unused key Storage"]);
    }

    #[test]
    fn edit_distance() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
    }
}
