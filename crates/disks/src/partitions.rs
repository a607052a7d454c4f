//! Ignition's partition decisions for one disk, computed without touching it: resolve zeros with
//! a dry run of all configured (re)creations, then apply the match/mismatch table of the
//! reference (§3.1) to each configured partition, and build the table as it will be written.

use crate::placement::Layout;
use crate::table::{DEFAULT_TYPE_GUID, Entry, Table};
use kindling_config::model::{Disk, Partition};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// What happens to one configured partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionAction {
    /// Exists and matches: left untouched.
    Keep {
        number: u32,
        entry: Entry,
    },
    /// Must not exist and does not.
    Absent {
        number: u32,
    },
    Create {
        number: u32,
        entry: Entry,
    },
    Delete {
        number: u32,
        old: Entry,
    },
    /// Did not match and `wipePartitionEntry` allows deleting and recreating it.
    Recreate {
        number: u32,
        old: Entry,
        new: Entry,
    },
    /// `resize: true` and everything but the size matches: same identity, new size.
    Resize {
        number: u32,
        old: Entry,
        new: Entry,
    },
}

impl PartitionAction {
    pub fn number(&self) -> u32 {
        match self {
            PartitionAction::Keep { number, .. }
            | PartitionAction::Absent { number }
            | PartitionAction::Create { number, .. }
            | PartitionAction::Delete { number, .. }
            | PartitionAction::Recreate { number, .. }
            | PartitionAction::Resize { number, .. } => *number,
        }
    }

    /// Whether the partition table changes for this partition.
    pub fn modifies(&self) -> bool {
        !matches!(
            self,
            PartitionAction::Keep { .. } | PartitionAction::Absent { .. }
        )
    }
}

/// A configured partition's action, with where it came from in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub config_path: String,
    pub action: PartitionAction,
}

/// Whether the disk or its partitions are in use right now (mounted, held, swapped on).
#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub disk_in_use: bool,
    pub active_partitions: BTreeSet<u32>,
}

/// The outcome for one disk: actions in commit order, the table to write, and refusals.
#[derive(Debug, Clone)]
pub struct DiskDecision {
    pub actions: Vec<Decided>,
    /// The table after all actions; `None` when nothing is to be written.
    pub table_after: Option<Table>,
    pub refusals: Vec<String>,
}

/// One configured partition with its sizes in sectors.
#[derive(Debug, Clone)]
struct Spec<'a> {
    index: usize,
    cfg: &'a Partition,
    /// Resolved number (number-0 entries get the next free slot).
    number: u32,
    numbered: bool,
    start: Option<u64>,
    size: Option<u64>,
}

impl Spec<'_> {
    fn should_exist(&self) -> bool {
        self.cfg.should_exist != Some(false)
    }
    fn wipe(&self) -> bool {
        self.cfg.wipe_partition_entry == Some(true)
    }
}

fn mib_to_sectors(mib: Option<i64>, sector_size: u64, what: &str) -> Result<Option<u64>, String> {
    match mib {
        None => Ok(None),
        Some(m) => u64::try_from(m)
            .ok()
            .and_then(|m| m.checked_mul((1 << 20) / sector_size))
            .map(Some)
            .ok_or_else(|| format!("{what} {m} MiB is out of range")),
    }
}

fn parse_guid(value: &Option<String>, what: &str) -> Result<Option<Uuid>, String> {
    match value.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => Uuid::parse_str(s)
            .map(Some)
            .map_err(|e| format!("{what} {s:?} is not a GUID: {e}")),
    }
}

/// The sgdisk-style comparison of an existing entry with a resolved spec, size excluded.
fn matches_common(existing: &Entry, spec: &Spec) -> Result<(), String> {
    if let Some(start) = spec.start
        && start != existing.first
    {
        return Err(format!(
            "starting sector did not match (specified {start}, got {})",
            existing.first
        ));
    }
    if let Some(g) = spec.cfg.guid.as_deref().filter(|g| !g.is_empty())
        && !g.eq_ignore_ascii_case(&existing.guid.to_string())
    {
        return Err(format!(
            "GUID did not match (specified {g:?}, got {:?})",
            existing.guid.to_string()
        ));
    }
    if let Some(t) = spec.cfg.type_guid.as_deref().filter(|t| !t.is_empty())
        && !t.eq_ignore_ascii_case(&existing.type_guid.to_string())
    {
        return Err(format!(
            "type GUID did not match (specified {t:?}, got {:?})",
            existing.type_guid.to_string()
        ));
    }
    if let Some(l) = &spec.cfg.label
        && *l != existing.name
    {
        return Err(format!(
            "label did not match (specified {l:?}, got {:?})",
            existing.name
        ));
    }
    Ok(())
}

fn matches(existing: &Entry, spec: &Spec) -> Result<(), String> {
    matches_common(existing, spec)?;
    if let Some(size) = spec.size
        && size != existing.size()
    {
        return Err(format!(
            "size did not match (specified {size}, got {})",
            existing.size()
        ));
    }
    Ok(())
}

/// A new entry as sgdisk creates it from a resolved spec.
fn new_entry(spec: &Spec) -> Result<Entry, String> {
    let (Some(first), Some(size)) = (spec.start, spec.size) else {
        return Err(format!(
            "partition {} has no resolved placement",
            spec.number
        ));
    };
    Ok(Entry {
        type_guid: parse_guid(&spec.cfg.type_guid, "typeGuid")?.unwrap_or(DEFAULT_TYPE_GUID),
        guid: parse_guid(&spec.cfg.guid, "guid")?.unwrap_or_else(Uuid::new_v4),
        first,
        last: first + size - 1,
        name: spec.cfg.label.clone().unwrap_or_default(),
        flags: 0,
    })
}

/// Decide what to do with `disk` (the config entry at `$.storage.disks.<disk_index>`) given
/// the table it has now (`None`: no table, or one that `wipeTable` erases first).
pub fn decide(
    disk: &Disk,
    disk_index: usize,
    device: &str,
    existing: &Table,
    usage: &Usage,
) -> DiskDecision {
    let mut refusals = Vec::new();
    let sector_size = existing.sector_size;
    let path = |i: usize| format!("$.storage.disks.{disk_index}.partitions.{i}");

    // Number-0 entries go last, otherwise config order (a stable sort, as upstream).
    let mut order: Vec<usize> = (0..disk.partitions.len()).collect();
    order.sort_by_key(|&i| disk.partitions[i].number == 0);

    let mut specs = Vec::new();
    for &index in &order {
        let cfg = &disk.partitions[index];
        let sized = mib_to_sectors(cfg.start_mib, sector_size, "startMiB")
            .and_then(|start| Ok((start, mib_to_sectors(cfg.size_mib, sector_size, "sizeMiB")?)));
        let number = u32::try_from(cfg.number).map_err(|_| format!("number {}", cfg.number));
        match (sized, number) {
            (Ok((start, size)), Ok(number)) => specs.push(Spec {
                index,
                cfg,
                number,
                numbered: number != 0,
                start,
                size,
            }),
            (Err(e), _) | (_, Err(e)) => refusals.push(format!("{}: invalid {e}", path(index))),
        }
    }

    // Dry run: every configured existing partition is deleted, then every partition that should
    // exist is created in order; unspecified start/size of an existing entry without
    // wipePartitionEntry stays where it is.
    let mut layout = Layout::new(existing.first_usable, existing.last_usable, sector_size);
    for (n, e) in &existing.entries {
        layout.insert(*n, e.first, e.last);
    }
    let mut used: BTreeMap<u32, bool> = existing.entries.keys().map(|n| (*n, true)).collect();
    for spec in specs.iter_mut() {
        if let Some(e) = existing.entries.get(&spec.number).filter(|_| spec.numbered) {
            layout.remove(spec.number);
            if !spec.wipe() {
                spec.start.get_or_insert(e.first);
                spec.size.get_or_insert(e.size());
            }
        }
        if spec.numbered {
            used.insert(spec.number, spec.should_exist());
        }
    }
    let mut free = 1u32;
    let mut placeable = vec![true; specs.len()];
    for (i, spec) in specs.iter_mut().enumerate() {
        if !spec.should_exist() {
            continue;
        }
        if !spec.numbered {
            while used.get(&free) == Some(&true) {
                free += 1;
            }
            spec.number = free;
            free += 1;
            if spec.number > existing.slots {
                refusals.push(format!(
                    "{}: no free partition slot left (the table has {})",
                    path(spec.index),
                    existing.slots
                ));
                placeable[i] = false;
                continue;
            }
        }
        let start = spec.start.unwrap_or(0);
        let size = spec.size.unwrap_or(0);
        match layout.place(spec.number, start, size) {
            Ok((first, last)) => {
                if start == 0 || size == 0 {
                    spec.start = Some(first);
                    spec.size = Some(last + 1 - first);
                }
            }
            Err(e) => {
                refusals.push(format!(
                    "partition {} cannot be created on {device:?}: {e}",
                    spec.number
                ));
                placeable[i] = false;
            }
        }
    }

    // The decision table.
    let mut actions = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let number = spec.number;
        if !spec.should_exist()
            && specs
                .iter()
                .any(|o| o.number == number && o.should_exist() && o.numbered)
        {
            continue;
        }
        if !placeable[i] {
            continue;
        }
        let existing_entry = existing.entries.get(&number).filter(|_| spec.numbered);
        let decided = match (existing_entry, spec.should_exist()) {
            (None, false) => Ok(PartitionAction::Absent { number }),
            (None, true) => new_entry(spec).map(|entry| PartitionAction::Create { number, entry }),
            (Some(_), false) if !spec.wipe() => Err(format!(
                "partition {number} exists but is specified as nonexistant and wipePartitionEntry is false"
            )),
            (Some(old), false) => Ok(PartitionAction::Delete {
                number,
                old: old.clone(),
            }),
            (Some(old), true) => match matches(old, spec) {
                Ok(()) => Ok(PartitionAction::Keep {
                    number,
                    entry: old.clone(),
                }),
                Err(_) if spec.wipe() => new_entry(spec).map(|new| PartitionAction::Recreate {
                    number,
                    old: old.clone(),
                    new,
                }),
                Err(_) if spec.cfg.resize == Some(true) && matches_common(old, spec).is_ok() => {
                    spec.size
                        .map(|size| PartitionAction::Resize {
                            number,
                            old: old.clone(),
                            new: Entry {
                                last: old.first + size - 1,
                                ..old.clone()
                            },
                        })
                        .ok_or_else(|| format!("partition {number} has no resolved size"))
                }
                Err(reason) => Err(format!("partition {number} didn't match: {reason}")),
            },
        };
        match decided {
            Ok(action) => {
                if action.modifies() && usage.active_partitions.contains(&number) {
                    refusals.push(format!(
                        "refusing to modify active partition {number} on {device:?}"
                    ));
                }
                actions.push(Decided {
                    config_path: path(spec.index),
                    action,
                });
            }
            Err(e) => refusals.push(e),
        }
    }

    let table_after = if refusals.is_empty() && actions.iter().any(|d| d.action.modifies()) {
        match apply(existing, &actions) {
            Ok(t) => Some(t),
            Err(e) => {
                refusals.push(format!("the new table of {device:?} is inconsistent: {e}"));
                None
            }
        }
    } else {
        None
    };
    // Commit order as sgdisk runs it: deletions, then creations.
    actions.sort_by_key(|d| !matches!(d.action, PartitionAction::Delete { .. }));
    DiskDecision {
        actions,
        table_after,
        refusals,
    }
}

/// The table after deleting and then (re)creating entries; refuses overlaps.
fn apply(existing: &Table, actions: &[Decided]) -> Result<Table, String> {
    let mut table = existing.clone();
    for d in actions {
        if let PartitionAction::Delete { number, .. }
        | PartitionAction::Recreate { number, .. }
        | PartitionAction::Resize { number, .. } = &d.action
        {
            table.entries.remove(number);
        }
    }
    let mut layout = Layout::new(table.first_usable, table.last_usable, table.sector_size);
    for (n, e) in &table.entries {
        layout.insert(*n, e.first, e.last);
    }
    for d in actions {
        if let PartitionAction::Create { number, entry: new }
        | PartitionAction::Recreate { number, new, .. }
        | PartitionAction::Resize { number, new, .. } = &d.action
        {
            layout
                .place(*number, new.first, new.size())
                .map_err(|e| format!("partition {number}: {e}"))?;
            table.entries.insert(*number, new.clone());
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests;
