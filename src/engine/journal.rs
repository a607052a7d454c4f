//! The `log` backend: the systemd journal's native protocol, with structured fields, or plain
//! lines on stdout (`--log-to-stdout`) or stderr (no journal socket).
//!
//! Journal entries carry `SYSLOG_IDENTIFIER=ignition`, so `journalctl -t ignition` and tools
//! written for Ignition keep working, plus `KINDLING_STAGE` and the fields an operation record
//! attaches as `log` key-values (`operation`, `config_path`, `duration_ms`, `outcome` become
//! `KINDLING_OPERATION`, …). Plain lines use Ignition's `LEVEL    : message` format.

use log::kv::{Key, Value, VisitSource};
use log::{Level, Log, Metadata, Record};
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::OnceLock;

const SOCKET: &str = "/run/systemd/journal/socket";
const IDENTIFIER: &str = "ignition";
/// Journal datagrams stay well below the socket's default buffer size.
const MAX_MESSAGE: usize = 60 * 1024;

/// Log target for critical messages (`CRIT`, priority 2), which `log` has no level for.
pub const CRIT: &str = "crit";

enum Sink {
    Journal(UnixDatagram),
    Stdout,
    Stderr,
}

struct Logger {
    sink: Sink,
    stage: &'static str,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Install the logger for one stage run. Falls back to stderr when the journal is not there.
pub fn init(log_to_stdout: bool, stage: &'static str) {
    let sink = if log_to_stdout {
        Sink::Stdout
    } else {
        journal(Path::new(SOCKET)).unwrap_or(Sink::Stderr)
    };
    let logger = LOGGER.get_or_init(|| Logger { sink, stage });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
}

/// Send an entry with extra fields (`MESSAGE_ID` …) to the journal; elsewhere it is an info line.
pub fn send(message: &str, fields: &[(&str, &str)]) {
    match LOGGER.get() {
        Some(Logger {
            sink: Sink::Journal(socket),
            stage,
        }) => {
            let mut entry = header(6, stage, message);
            for (key, value) in fields {
                field(&mut entry, key, value);
            }
            if socket.send(&entry).is_err() {
                log::info!("{message}");
            }
        }
        _ => log::info!("{message}"),
    }
}

fn journal(socket: &Path) -> Option<Sink> {
    let client = UnixDatagram::unbound().ok()?;
    client.connect(socket).ok()?;
    Some(Sink::Journal(client))
}

fn priority(record: &Record) -> u8 {
    if record.target() == CRIT {
        return 2;
    }
    match record.level() {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

fn label(priority: u8) -> &'static str {
    match priority {
        2 => "CRITICAL :",
        3 => "ERROR    :",
        4 => "WARNING  :",
        6 => "INFO     :",
        _ => "DEBUG    :",
    }
}

impl Log for Logger {
    /// Everything of ours down to debug, as Ignition logs; other crates' (the HTTP client's
    /// connection chatter) only from info up.
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= Level::Info
            || metadata.target().starts_with("kindling")
            || metadata.target() == CRIT
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let priority = priority(record);
        let message = record.args().to_string();
        match &self.sink {
            Sink::Journal(socket) => {
                let mut entry = header(priority, self.stage, &message);
                let _ = record.key_values().visit(&mut Fields(&mut entry));
                if socket.send(&entry).is_err() {
                    line(&mut std::io::stderr(), priority, &message);
                }
            }
            Sink::Stdout => line(&mut std::io::stdout(), priority, &message),
            Sink::Stderr => line(&mut std::io::stderr(), priority, &message),
        }
    }

    fn flush(&self) {}
}

fn line(out: &mut dyn Write, priority: u8, message: &str) {
    let _ = writeln!(out, "{} {message}", label(priority));
}

fn header(priority: u8, stage: &str, message: &str) -> Vec<u8> {
    let mut entry = Vec::with_capacity(message.len() + 128);
    let message = match message.char_indices().nth(MAX_MESSAGE) {
        Some((cut, _)) => &message[..cut],
        None => message,
    };
    field(&mut entry, "MESSAGE", message);
    field(&mut entry, "PRIORITY", &priority.to_string());
    field(&mut entry, "SYSLOG_IDENTIFIER", IDENTIFIER);
    field(&mut entry, "KINDLING_STAGE", stage);
    entry
}

/// One field in the native protocol: `KEY=value\n`, or for values with a newline
/// `KEY\n<u64 LE length><value>\n`.
fn field(entry: &mut Vec<u8>, key: &str, value: &str) {
    entry.extend_from_slice(key.as_bytes());
    if value.contains('\n') {
        entry.push(b'\n');
        entry.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        entry.push(b'=');
    }
    entry.extend_from_slice(value.as_bytes());
    entry.push(b'\n');
}

/// `log` key-values become `KINDLING_<KEY>` journal fields.
struct Fields<'a>(&'a mut Vec<u8>);

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let value = value.to_string();
        if value.is_empty() {
            return Ok(());
        }
        let name: String = key
            .as_str()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        field(self.0, &format!("KINDLING_{name}"), &value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_protocol_encodes_multiline_values_with_a_length() {
        let mut entry = Vec::new();
        field(&mut entry, "A", "one");
        field(&mut entry, "B", "x\ny");
        let mut expected = b"A=one\nB\n".to_vec();
        expected.extend_from_slice(&3u64.to_le_bytes());
        expected.extend_from_slice(b"x\ny\n");
        assert_eq!(entry, expected);
    }

    #[test]
    fn other_crates_debug_lines_are_left_out() {
        let logger = Logger {
            sink: Sink::Stderr,
            stage: "disks",
        };
        let at = |level, target| {
            logger.enabled(&Metadata::builder().level(level).target(target).build())
        };
        assert!(at(Level::Debug, "kindling::engine"));
        assert!(at(Level::Debug, "kindling_fetch::http"));
        assert!(at(Level::Info, "ureq::unversioned"));
        assert!(at(Level::Warn, "rustls::conn"));
        assert!(!at(Level::Debug, "ureq::call"));
        assert!(!at(Level::Trace, "rustls::client"));
    }

    #[test]
    fn header_names_the_stage_and_compat_identifier() {
        let entry = String::from_utf8(header(2, "files", "boom")).unwrap();
        assert_eq!(
            entry,
            "MESSAGE=boom\nPRIORITY=2\nSYSLOG_IDENTIFIER=ignition\nKINDLING_STAGE=files\n"
        );
    }

    #[test]
    fn records_reach_the_journal_socket_with_their_fields() {
        let dir = std::env::temp_dir().join(format!("kindling-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("socket");
        let server = UnixDatagram::bind(&path).unwrap();
        let logger = Logger {
            sink: journal(&path).unwrap(),
            stage: "files",
        };
        let kvs: &[(&str, &str)] = &[("operation", "writing file"), ("duration_ms", "2.5")];
        logger.log(
            &Record::builder()
                .level(Level::Error)
                .args(format_args!("op(1): [failed]   writing file"))
                .key_values(&kvs)
                .build(),
        );
        logger.log(
            &Record::builder()
                .level(Level::Error)
                .target(CRIT)
                .args(format_args!("Ignition failed"))
                .build(),
        );
        let mut buf = [0u8; 4096];
        let n = server.recv(&mut buf).unwrap();
        let entry = String::from_utf8_lossy(&buf[..n]).into_owned();
        for field in [
            "MESSAGE=op(1): [failed]   writing file\n",
            "PRIORITY=3\n",
            "SYSLOG_IDENTIFIER=ignition\n",
            "KINDLING_STAGE=files\n",
            "KINDLING_OPERATION=writing file\n",
            "KINDLING_DURATION_MS=2.5\n",
        ] {
            assert!(entry.contains(field), "{field:?} missing from {entry:?}");
        }
        let n = server.recv(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).contains("PRIORITY=2\n"));
        assert!(
            journal(&dir.join("absent")).is_none(),
            "no socket: stderr instead"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn key_values_become_kindling_fields() {
        let mut entry = Vec::new();
        let kvs: &[(&str, &str)] = &[
            ("config_path", "$.storage.files.0"),
            ("empty", ""),
            ("duration_ms", "1.5"),
        ];
        log::kv::Source::visit(&kvs, &mut Fields(&mut entry)).unwrap();
        assert_eq!(
            String::from_utf8(entry).unwrap(),
            "KINDLING_CONFIG_PATH=$.storage.files.0\nKINDLING_DURATION_MS=1.5\n"
        );
    }
}
