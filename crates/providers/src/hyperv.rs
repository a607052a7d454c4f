//! `hyperv`: the config is a Hyper-V KVP (key-value pair exchange) item the host sets in the
//! external pool (pool 0): `ignition.config`, or, for configs larger than one value,
//! `ignition.config.0`, `ignition.config.1`, … concatenated up to the first gap. The guest
//! side is the `hv_kvp` character device, spoken the way the kernel's `hv_kvp_daemon` does
//! (Linux `include/uapi/linux/hyperv.h`, `tools/hv/hv_kvp_daemon.c`; Microsoft's "Data
//! Exchange: Using key-value pairs to share information between the host and guest"):
//! register with `KVP_OP_REGISTER1`, then answer each host message; the host pushes its
//! items as `KVP_OP_SET`. Reading stops once the host has been quiet for a few seconds.
//!
//! There is no Hyper-V host on these machines: the message and pool-file formats are tested
//! as pure functions; the device loop around them is not.

use crate::{Fetched, Host, Provider, ProviderError};
use base64::Engine;
use kindling_config::model::{File, Node, Resource};
use kindling_fetch::Fetcher;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Mutex;

const DEVICE: &str = "/dev/vmbus/hv_kvp";
pub const MAX_KEY: usize = 512;
pub const MAX_VALUE: usize = 2048;
/// `struct hv_kvp_msg`: a 4-byte header, then a union whose largest member is the packed
/// `hv_kvp_ipaddr_value` (256 + 2 + 2 × (1024 + 1024 + 512 + 1024) = 7426 bytes), padded to
/// the union's 4-byte alignment (its `hv_kvp_msg_delete` member starts with a u32).
pub const MESSAGE_SIZE: usize =
    4 + (256usize + 2 + 2 * (1024 + 1024 + 512 + 1024)).next_multiple_of(4);
/// A record of a pool file (`/var/lib/hyperv/.kvp_pool_<n>`): key, then value, NUL-padded.
pub const RECORD_SIZE: usize = MAX_KEY + MAX_VALUE;
const OP_SET: u8 = 1;
const OP_REGISTER1: u8 = 100;
const EXTERNAL_POOL: u8 = 0;
const KEY: &str = "ignition.config";
/// The host has sent everything once it has been quiet this long.
const QUIET_MS: i32 = 5000;
/// The pools a KVP daemon keeps (external, guest, auto, auto-external, auto-internal).
const POOLS: u8 = 5;

/// The pool files of the last fetch, for [`Provider::output_files`].
static POOL_FILES: Mutex<Vec<File>> = Mutex::new(Vec::new());

pub struct HyperV;

impl Provider for HyperV {
    fn id(&self) -> &'static str {
        "hyperv"
    }

    fn fetch(&self, _fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        if !std::path::Path::new("/sys/bus/vmbus/drivers/hv_utils").exists() {
            crate::drive::run(std::process::Command::new(&host.modprobe).arg("hv_utils"))?;
        }
        let items = read_device(DEVICE)?;
        // The host sends its items once per boot and hv_kvp_daemon has not seen them:
        // the target gets the pool files the daemon would have written.
        if let Ok(mut files) = POOL_FILES.lock() {
            *files = pool_files(&items);
        }
        let external: Vec<(String, String)> = items
            .into_iter()
            .filter(|(pool, _, _)| *pool == EXTERNAL_POOL)
            .map(|(_, k, v)| (k, v))
            .collect();
        Ok(Some(config_from(&external)))
    }

    fn output_files(&self) -> Vec<File> {
        POOL_FILES.lock().map(|f| f.clone()).unwrap_or_default()
    }
}

/// `/var/lib/hyperv/.kvp_pool_<n>` for every pool, mode 0600 (not the daemon's 0644: pool 0
/// holds the config, which must not leak to other users), replacing what is there.
fn pool_files(items: &[(u8, String, String)]) -> Vec<File> {
    (0..POOLS)
        .map(|pool| {
            let bytes: Vec<u8> = items
                .iter()
                .filter(|(p, _, _)| *p == pool)
                .flat_map(|(_, k, v)| pool_record(k, v))
                .collect();
            File {
                node: Node {
                    path: format!("/var/lib/hyperv/.kvp_pool_{pool}"),
                    overwrite: Some(true),
                    ..Node::default()
                },
                contents: Resource {
                    source: Some(format!(
                        "data:;base64,{}",
                        base64::engine::general_purpose::STANDARD.encode(&bytes)
                    )),
                    ..Resource::default()
                },
                mode: Some(0o600),
                ..File::default()
            }
        })
        .collect()
}

/// A message from the host: operation, pool, and for `KVP_OP_SET` the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub operation: u8,
    pub pool: u8,
    pub item: Option<(String, String)>,
}

/// The registration message a KVP daemon writes first.
pub fn register_message() -> Vec<u8> {
    let mut message = vec![0u8; MESSAGE_SIZE];
    message[0] = OP_REGISTER1;
    message
}

/// `struct hv_kvp_exchg_msg_value` sits right after the header: value type, key size,
/// value size (u32 each, sizes counting the NUL), key[512], value[2048].
pub fn parse_message(message: &[u8]) -> Option<Message> {
    if message.len() < 4 + 12 + RECORD_SIZE {
        return None;
    }
    let (operation, pool) = (message[0], message[1]);
    let item = (operation == OP_SET).then(|| {
        let u32_at = |at: usize| {
            u32::from_le_bytes([
                message[at],
                message[at + 1],
                message[at + 2],
                message[at + 3],
            ]) as usize
        };
        let key_size = u32_at(8).min(MAX_KEY);
        let value_size = u32_at(12).min(MAX_VALUE);
        let key = &message[16..16 + key_size];
        let value = &message[16 + MAX_KEY..16 + MAX_KEY + value_size];
        (c_string(key), c_string(value))
    });
    Some(Message {
        operation,
        pool,
        item,
    })
}

/// The answer to a host message: the same message with the header replaced by the status
/// (`HV_S_OK`).
pub fn reply(message: &mut [u8]) {
    message[..4].copy_from_slice(&0i32.to_le_bytes());
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The config from the external pool: `ignition.config`, else its numbered chunks.
pub fn config_from(items: &[(String, String)]) -> Vec<u8> {
    let get = |key: &str| items.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v);
    if let Some(value) = get(KEY).filter(|v| !v.is_empty()) {
        return value.as_bytes().to_vec();
    }
    let mut config = Vec::new();
    for i in 0.. {
        match get(&format!("{KEY}.{i}")) {
            Some(chunk) => config.extend_from_slice(chunk.as_bytes()),
            None => break,
        }
    }
    if config.is_empty() {
        log::info!("no {KEY} in the KVP pool: continuing with an empty config");
    }
    config
}

/// One pool-file record.
pub fn pool_record(key: &str, value: &str) -> Vec<u8> {
    let mut record = vec![0u8; RECORD_SIZE];
    let key = &key.as_bytes()[..key.len().min(MAX_KEY - 1)];
    let value = &value.as_bytes()[..value.len().min(MAX_VALUE - 1)];
    record[..key.len()].copy_from_slice(key);
    record[MAX_KEY..MAX_KEY + value.len()].copy_from_slice(value);
    record
}

/// The items of a pool file.
pub fn parse_pool(bytes: &[u8]) -> Vec<(String, String)> {
    bytes
        .chunks_exact(RECORD_SIZE)
        .map(|r| (c_string(&r[..MAX_KEY]), c_string(&r[MAX_KEY..])))
        .collect()
}

/// Register on the device and collect `(pool, key, value)` until the host is quiet.
fn read_device(path: &str) -> Result<Vec<(u8, String, String)>, ProviderError> {
    let io = |error| ProviderError::Read {
        path: path.into(),
        error,
    };
    let mut device = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    device.write_all(&register_message()).map_err(io)?;
    let mut items = Vec::new();
    let mut message = vec![0u8; MESSAGE_SIZE];
    loop {
        let mut poll = libc::pollfd {
            fd: device.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for a descriptor `device` owns.
        let ready = unsafe { libc::poll(&mut poll, 1, QUIET_MS) };
        if ready < 0 {
            return Err(io(std::io::Error::last_os_error()));
        }
        if ready == 0 {
            return Ok(items);
        }
        let n = device.read(&mut message).map_err(io)?;
        let Some(parsed) = parse_message(&message[..n]) else {
            continue;
        };
        if parsed.operation != OP_REGISTER1 {
            if let Some((key, value)) = parsed.item {
                items.push((parsed.pool, key, value));
            }
            reply(&mut message);
            device.write_all(&message).map_err(io)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_message(pool: u8, key: &str, value: &str) -> Vec<u8> {
        let mut m = vec![0u8; MESSAGE_SIZE];
        m[0] = OP_SET;
        m[1] = pool;
        m[8..12].copy_from_slice(&(key.len() as u32 + 1).to_le_bytes());
        m[12..16].copy_from_slice(&(value.len() as u32 + 1).to_le_bytes());
        m[16..16 + key.len()].copy_from_slice(key.as_bytes());
        m[16 + MAX_KEY..16 + MAX_KEY + value.len()].copy_from_slice(value.as_bytes());
        m
    }

    #[test]
    fn the_message_has_the_kernel_layout() {
        // sizeof(struct hv_kvp_msg) on Linux.
        assert_eq!(MESSAGE_SIZE, 7432);
        let register = register_message();
        assert_eq!((register.len(), register[0]), (MESSAGE_SIZE, 100));
        let mut m = set_message(0, "ignition.config", "{}");
        assert_eq!(
            parse_message(&m),
            Some(Message {
                operation: OP_SET,
                pool: 0,
                item: Some(("ignition.config".into(), "{}".into())),
            })
        );
        reply(&mut m);
        assert_eq!(&m[..4], &[0, 0, 0, 0]);
        assert_eq!(parse_message(&m[..100]), None);
    }

    #[test]
    fn config_is_the_key_or_its_chunks_up_to_the_first_gap() {
        let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(config_from(&[kv("ignition.config", "{}")]), b"{}");
        let chunks = [
            kv("ignition.config.1", "b"),
            kv("ignition.config.0", "a"),
            kv("ignition.config.3", "d"),
            kv("other", "x"),
        ];
        assert_eq!(config_from(&chunks), b"ab");
        assert_eq!(
            config_from(&[kv("ignition.config", ""), kv("ignition.config.0", "z")]),
            b"z"
        );
        assert_eq!(config_from(&[]), b"");
    }

    #[test]
    fn every_pool_becomes_a_private_file_in_the_target() {
        let items = [
            (0, "ignition.config".to_string(), "{}".to_string()),
            (3, "k".to_string(), "v".to_string()),
        ];
        let files = pool_files(&items);
        assert_eq!(files.len(), 5);
        assert_eq!(files[0].node.path, "/var/lib/hyperv/.kvp_pool_0");
        assert!(
            files
                .iter()
                .all(|f| f.mode == Some(0o600) && f.node.overwrite == Some(true))
        );
        let decode = |f: &File| {
            let source = f.contents.source.as_deref().unwrap();
            let b64 = source.strip_prefix("data:;base64,").unwrap();
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap()
        };
        assert_eq!(
            parse_pool(&decode(&files[0])),
            vec![(items[0].1.clone(), items[0].2.clone())]
        );
        assert_eq!(
            parse_pool(&decode(&files[3])),
            vec![("k".into(), "v".into())]
        );
        assert!(decode(&files[1]).is_empty());
    }

    #[test]
    fn pool_records_round_trip() {
        let mut pool = pool_record("a", "1");
        pool.extend(pool_record("ignition.config", "{}"));
        assert_eq!(pool.len(), 2 * RECORD_SIZE);
        assert_eq!(
            parse_pool(&pool),
            vec![
                ("a".into(), "1".into()),
                ("ignition.config".into(), "{}".into())
            ]
        );
    }
}
