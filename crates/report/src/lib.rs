//! Timed operation records.
//!
//! Every stage runs its work as named operations through a [`Recorder`]: each one is logged as
//! Ignition logs it (`[started]  X`, `[finished] X`, `[failed]   X: err`, with an `op(N)` prefix)
//! and kept as an [`Operation`] so the engine can write Kindling's machine-readable report.

use serde::{Deserialize, Serialize};
use std::fmt::Display;
use std::time::{Duration, Instant};

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "outcome", content = "error")]
pub enum Outcome {
    Ok,
    Failed(String),
}

/// One finished operation of one stage. Deserializable so the engine can keep a boot's
/// records across stages (one process per stage).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Operation {
    pub stage: String,
    /// Sequence number within the stage, as in Ignition's `op(N)` prefixes (hex).
    pub id: String,
    pub name: String,
    /// JSON path in the config that asked for it (`$.storage.files.3`), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    #[serde(serialize_with = "as_millis", deserialize_with = "from_millis")]
    pub duration_ms: Duration,
    #[serde(flatten)]
    pub outcome: Outcome,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn from_millis<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let ms = f64::deserialize(d)?;
    Duration::try_from_secs_f64(ms / 1000.0).map_err(serde::de::Error::custom)
}

/// Runs and records the operations of one stage.
#[derive(Debug, Default)]
pub struct Recorder {
    stage: String,
    prefix: Vec<String>,
    next: usize,
    operations: Vec<Operation>,
}

impl Recorder {
    pub fn new(stage: &str) -> Self {
        Recorder {
            stage: stage.to_string(),
            ..Default::default()
        }
    }

    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// Run `f` as the operation `name`, logging its start and end and keeping its record.
    /// Operations may nest: an inner operation's log prefix includes the outer one's id.
    pub fn op<T, E: Display>(
        &mut self,
        name: impl Into<String>,
        config_path: Option<&str>,
        f: impl FnOnce(&mut Recorder) -> Result<T, E>,
    ) -> Result<T, E> {
        let name = name.into();
        let id = self.next_id();
        self.prefix.push(format!("op({id})"));
        let prefix = self.prefix.join(": ");
        let path = config_path.unwrap_or("");
        log::info!(operation = name.as_str(), config_path = path; "{prefix}: [started]  {name}");
        let started = Instant::now();
        let result = f(self);
        let duration = started.elapsed();
        self.prefix.pop();
        let outcome = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
        self.finish(id, &prefix, name, config_path, duration, outcome);
        result
    }

    /// Record an operation that already ran elsewhere (on another thread, for work done in
    /// parallel) and took `duration`; logged and kept as [`Recorder::op`] does.
    pub fn record(
        &mut self,
        name: impl Into<String>,
        config_path: Option<&str>,
        duration: Duration,
        result: Result<(), String>,
    ) {
        let id = self.next_id();
        let prefix = self
            .prefix
            .iter()
            .cloned()
            .chain([format!("op({id})")])
            .collect::<Vec<_>>()
            .join(": ");
        self.finish(id, &prefix, name.into(), config_path, duration, result);
    }

    fn next_id(&mut self) -> String {
        let id = format!("{:x}", self.next);
        self.next += 1;
        id
    }

    /// Log the end of an operation (with structured fields for the journal: KINDLING_OPERATION,
    /// KINDLING_DURATION_MS, …) and keep its record.
    fn finish(
        &mut self,
        id: String,
        prefix: &str,
        name: String,
        config_path: Option<&str>,
        duration: Duration,
        result: Result<(), String>,
    ) {
        let path = config_path.unwrap_or("");
        let ms = duration.as_secs_f64() * 1000.0;
        let outcome = match result {
            Ok(()) => {
                log::info!(
                    operation = name.as_str(), config_path = path,
                    duration_ms = ms, outcome = "ok";
                    "{prefix}: [finished] {name}"
                );
                Outcome::Ok
            }
            Err(e) => {
                log::error!(
                    operation = name.as_str(), config_path = path,
                    duration_ms = ms, outcome = "failed";
                    "{prefix}: [failed]   {name}: {e}"
                );
                Outcome::Failed(e)
            }
        };
        self.operations.push(Operation {
            stage: self.stage.clone(),
            id,
            name,
            config_path: config_path.map(str::to_string),
            duration_ms: duration,
            outcome,
        });
    }

    /// The records so far, in the order the operations finished.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    pub fn into_operations(self) -> Vec<Operation> {
        self.operations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_nested_operations_with_outcomes() {
        let mut rec = Recorder::new("files");
        let r: Result<(), String> = rec.op("outer", Some("$.storage.files.0"), |rec| {
            rec.op("inner", None, |_| Ok::<_, String>(()))?;
            Err("boom".to_string())
        });
        assert_eq!(r, Err("boom".to_string()));
        let ops = rec.operations();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].name, "inner");
        assert_eq!(ops[0].outcome, Outcome::Ok);
        assert_eq!(ops[1].name, "outer");
        assert_eq!(ops[1].outcome, Outcome::Failed("boom".into()));
        assert_eq!(ops[1].config_path.as_deref(), Some("$.storage.files.0"));

        let json = serde_json::to_value(&ops[1]).unwrap();
        assert_eq!(json["outcome"], "failed");
        assert_eq!(json["error"], "boom");
        let back: Operation = serde_json::from_value(json).unwrap();
        assert_eq!(back.name, "outer");
        assert_eq!(back.outcome, Outcome::Failed("boom".into()));
        assert_eq!(back.config_path.as_deref(), Some("$.storage.files.0"));
        assert!(back.duration_ms.abs_diff(ops[1].duration_ms) < Duration::from_micros(1));
    }

    #[test]
    fn records_operations_timed_elsewhere() {
        let mut rec = Recorder::new("disks");
        rec.record("first", None, Duration::from_millis(3), Ok(()));
        rec.record(
            "second",
            Some("$.a"),
            Duration::from_millis(7),
            Err("bad".into()),
        );
        let last = &rec.operations()[1];
        assert_eq!(
            (last.id.as_str(), last.duration_ms),
            ("1", Duration::from_millis(7))
        );
        assert_eq!(last.outcome, Outcome::Failed("bad".into()));
    }
}
