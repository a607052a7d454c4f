//! Decoding a JSON tree into a version's schema with Go `encoding/json` semantics.
//!
//! What existing configs rely on: keys match fields exactly or else case-insensitively, a later
//! duplicate key decodes *into* what the earlier one left (objects merge, arrays reuse elements),
//! `null` clears pointers and slices but leaves plain strings, ints and structs alone, integers
//! must be integer literals within 64 bits, and only the first type error is reported (Go keeps
//! decoding but remembers the first). The result is a `serde_json::Value` shaped like the model.

use crate::Version;
use crate::json::{Member, Node, Value};
use crate::schema::{Def, Field, Ty};
use serde_json::{Map, Value as Out};

/// A Go `UnmarshalTypeError`: message and byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    pub message: String,
    pub offset: usize,
}

/// Decode `node` as an object of type `def` in `version`.
pub fn decode(node: &Node, def: &'static Def, version: Version) -> (Out, Option<TypeError>) {
    let mut decoder = Decoder {
        version,
        error: None,
        fields: Vec::new(),
        struct_name: "",
    };
    let mut out = Out::Null;
    decoder.value(&Ty::Struct(def), node, &mut out);
    if out.is_null() {
        out = zero(def, version);
    }
    (out, decoder.error)
}

/// Go's case folding for matching keys to field names (`foldName`): ASCII letters fold to upper
/// case, and the two non-ASCII runes that fold onto ASCII letters (long s, Kelvin sign) do too.
fn fold_eq(key: &str, field: &str) -> bool {
    let mut k = key.chars().map(|c| match c {
        'ſ' => 'S',
        'K' => 'K',
        c => c.to_ascii_uppercase(),
    });
    let mut f = field.chars().map(|c| c.to_ascii_uppercase());
    loop {
        match (k.next(), f.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// The field `key` decodes into: an exact match first, else a case-insensitive one.
pub fn find_field(def: &'static Def, version: Version, key: &str) -> Option<&'static Field> {
    def.fields_in(version)
        .find(|f| f.key == key)
        .or_else(|| def.fields_in(version).find(|f| fold_eq(key, f.key)))
}

/// Go's zero value of a struct, with the non-pointer fields the model needs present.
fn zero(def: &'static Def, version: Version) -> Out {
    let mut map = Map::new();
    for field in def.fields_in(version) {
        if let Some(z) = zero_of(&field.ty, version) {
            map.insert(field.key.to_owned(), z);
        }
    }
    Out::Object(map)
}

fn zero_of(ty: &Ty, version: Version) -> Option<Out> {
    match ty {
        Ty::Str(_) => Some(Out::String(String::new())),
        Ty::Int => Some(Out::from(0)),
        Ty::Struct(def) => Some(zero(def, version)),
        Ty::List(..) => Some(Out::Array(Vec::new())),
        Ty::OptStr | Ty::OptInt | Ty::OptBool | Ty::OptStruct(_) => None,
    }
}

struct Decoder {
    version: Version,
    error: Option<TypeError>,
    /// Field names from the root to the current field, as Go's error context records them.
    fields: Vec<&'static str>,
    /// Go name of the struct type being decoded.
    struct_name: &'static str,
}

impl Decoder {
    fn type_error(&mut self, ty: &Ty, node: &Node) {
        if self.error.is_some() {
            return;
        }
        let value = match (&node.value, ty) {
            (Value::Number(lit), Ty::Int | Ty::OptInt) => format!("number {lit}"),
            (v, _) => v.kind_name().to_owned(),
        };
        // Go reports containers right after their opening bracket, literals right after them.
        let offset = match node.value {
            Value::Array(_) | Value::Object(_) => node.start,
            _ => node.end,
        };
        let message = if self.struct_name.is_empty() && self.fields.is_empty() {
            format!(
                "json: cannot unmarshal {value} into Go value of type {}",
                ty.go_name()
            )
        } else {
            format!(
                "json: cannot unmarshal {value} into Go struct field {}.{} of type {}",
                self.struct_name,
                self.fields.join("."),
                ty.go_name()
            )
        };
        self.error = Some(TypeError { message, offset });
    }

    fn value(&mut self, ty: &Ty, node: &Node, out: &mut Out) {
        match (ty, &node.value) {
            (Ty::OptStr | Ty::OptInt | Ty::OptBool | Ty::OptStruct(_), Value::Null) => {
                *out = Out::Null
            }
            // A nil slice; the model has no use for the nil/empty difference.
            (Ty::List(..), Value::Null) => *out = Out::Array(Vec::new()),
            (_, Value::Null) => {}
            (Ty::Str(_) | Ty::OptStr, Value::String(s)) => *out = Out::String(s.clone()),
            (Ty::Int | Ty::OptInt, Value::Number(lit)) => match lit.parse::<i64>() {
                Ok(n) => *out = Out::from(n),
                Err(_) => self.type_error(ty, node),
            },
            (Ty::OptBool, Value::Bool(b)) => *out = Out::Bool(*b),
            (Ty::Struct(def) | Ty::OptStruct(def), Value::Object(members)) => {
                if !out.is_object() {
                    *out = zero(def, self.version);
                }
                self.object(def, members, out);
            }
            (Ty::List(elem, _), Value::Array(items)) => {
                if !out.is_array() {
                    *out = Out::Array(Vec::new());
                }
                if let Out::Array(list) = out {
                    for (i, item) in items.iter().enumerate() {
                        if i >= list.len() {
                            list.push(zero_of(elem, self.version).unwrap_or(Out::Null));
                        }
                        self.value(elem, item, &mut list[i]);
                    }
                    list.truncate(items.len());
                }
            }
            _ => self.type_error(ty, node),
        }
    }

    fn object(&mut self, def: &'static Def, members: &[Member], out: &mut Out) {
        let saved_struct = self.struct_name;
        for member in members {
            // Unknown keys are skipped here; validation reports them.
            let Some(field) = find_field(def, self.version, &member.key) else {
                continue;
            };
            self.struct_name = go_struct_name(def.go_name);
            self.fields.push(field.key);
            if let Out::Object(map) = out {
                let slot = map.entry(field.key).or_insert(Out::Null);
                self.value(&field.ty, &member.value, slot);
                // A nil pointer to a struct is the same as an absent one for the model.
                if slot.is_null() {
                    map.remove(field.key);
                }
            }
            self.fields.pop();
            self.struct_name = saved_struct;
        }
    }
}

/// `reflect.Type.Name()` of a struct: without its package, empty for an anonymous struct.
fn go_struct_name(go_name: &'static str) -> &'static str {
    if go_name.starts_with("struct ") {
        return "";
    }
    go_name.rsplit('.').next().unwrap_or(go_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::schema::{CONFIG, VERSION_STUB};

    fn run(input: &str, def: &'static Def, version: Version) -> (Out, Option<TypeError>) {
        let node = json::parse(input.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
        decode(&node, def, version)
    }

    fn type_error(input: &str, version: Version) -> String {
        match run(input, &CONFIG, version).1 {
            Some(e) => e.message,
            None => panic!("{input} decoded"),
        }
    }

    #[test]
    fn keys_match_case_insensitively_and_last_wins() {
        let (out, err) = run(
            r#"{"Ignition":{"VERSION":"3.0.0"},"ignition":{"version":"3.1.0"},"storage":{"files":[{"PATH":"/a","path":"/b"}]}}"#,
            &CONFIG,
            Version::V3_1,
        );
        assert_eq!(err, None);
        assert_eq!(out["ignition"]["version"], "3.1.0");
        assert_eq!(out["storage"]["files"][0]["path"], "/b");
    }

    #[test]
    fn null_semantics_follow_go() {
        let (out, _) = run(
            r#"{"storage":{"files":[{"path":"/a","mode":420}]},"storage":{"files":[{"path":null,"mode":null}]}}"#,
            &CONFIG,
            Version::V3_4,
        );
        // A plain string keeps its value; a pointer is cleared; the element is reused.
        assert_eq!(out["storage"]["files"][0]["path"], "/a");
        assert_eq!(out["storage"]["files"][0]["mode"], Out::Null);
    }

    #[test]
    fn duplicate_arrays_decode_into_existing_elements() {
        let (out, _) = run(
            r#"{"storage":{"files":[{"path":"/a","mode":1},{"path":"/b"}]},"storage":{"files":[{"path":"/c"}]}}"#,
            &CONFIG,
            Version::V3_4,
        );
        let files = out["storage"]["files"].as_array().map(Vec::len);
        assert_eq!(files, Some(1));
        assert_eq!(out["storage"]["files"][0]["mode"], 1);
        assert_eq!(out["storage"]["files"][0]["path"], "/c");
    }

    #[test]
    fn type_errors_name_go_types() {
        assert_eq!(
            type_error(r#"{"storage":{"files":[{"mode":420.0}]}}"#, Version::V3_5),
            "json: cannot unmarshal number 420.0 into Go struct field File.storage.files.mode of type int"
        );
        assert_eq!(
            type_error(r#"{"storage":{"files":{}}}"#, Version::V3_5),
            "json: cannot unmarshal object into Go struct field Storage.storage.files of type []types.File"
        );
        assert_eq!(
            type_error(r#"{"storage":{"raid":[{"devices":[1]}]}}"#, Version::V3_0),
            "json: cannot unmarshal number into Go struct field Raid.storage.raid.devices of type types.Device"
        );
        assert_eq!(
            type_error(
                r#"{"passwd":{"users":[{"uid":99999999999999999999}]}}"#,
                Version::V3_0
            ),
            "json: cannot unmarshal number 99999999999999999999 into Go struct field PasswdUser.passwd.users.uid of type int"
        );
        // Only the first error in document order is kept.
        assert_eq!(
            type_error(r#"{"passwd":5,"storage":5}"#, Version::V3_0),
            "json: cannot unmarshal number into Go struct field Config.passwd of type types.Passwd"
        );
    }

    #[test]
    fn null_pointer_structs_are_absent() {
        let (out, err) = run(
            r#"{"storage":{"luks":[{"name":"a","clevis":{"custom":null,"tpm2":true}},{"name":"b","clevis":null}]}}"#,
            &CONFIG,
            Version::V3_2,
        );
        assert_eq!(err, None);
        assert!(out["storage"]["luks"][0]["clevis"].get("custom").is_none());
        assert!(out["storage"]["luks"][1].get("clevis").is_none());
        let config: Result<crate::Config, _> = serde_json::from_value(out);
        assert!(config.is_ok());
    }

    #[test]
    fn keys_of_other_versions_are_ignored() {
        let (out, err) = run(
            r#"{"kernelArguments":5,"storage":{"luks":[{"name":"x"}]}}"#,
            &CONFIG,
            Version::V3_1,
        );
        assert_eq!(err, None);
        assert!(out.get("kernelArguments").is_none());
        assert!(out["storage"].get("luks").is_none());
    }

    #[test]
    fn version_stub_errors() {
        let stub = |input: &str| {
            run(input, &VERSION_STUB, Version::V3_0)
                .1
                .map(|e| e.message)
        };
        assert_eq!(
            stub("[]"),
            Some("json: cannot unmarshal array into Go value of type util.versionStub".into())
        );
        assert_eq!(
            stub(r#"{"ignition":{"version":1}}"#),
            Some(
                "json: cannot unmarshal number into Go struct field .Ignition.Version of type string"
                    .into()
            )
        );
        assert_eq!(stub(r#"{"ignition":null}"#), None);
    }
}
