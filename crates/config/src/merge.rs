//! The merge algorithm (parent ⊕ child): keyed lists, shared key spaces, append lists, header deletion.
//!
//! Field by field, as upstream's reflection-based merge does on its Go structs:
//! - a required scalar (`path`, `name`, `device`, `number`, `version`) takes the child's value;
//! - an optional scalar takes the child's value when the child sets it, even to `""`/`false`/`0`;
//! - a nested object is the parent's when the child's is empty, the child's when the parent's is
//!   empty, and merged field by field otherwise;
//! - an append list (`files[].append`, `filesystems[].options` / `mountOptions`, `luks[].options`,
//!   `raid[].options`) is the parent's items followed by the child's;
//! - any other list is keyed: each parent item keeps its position and is merged with the child's
//!   item of the same key, then the child's items with new keys are appended. Lists that share a
//!   key space (files, directories and links by path; kernel arguments that should or should not
//!   exist) drop a parent item whose key the child uses in a *different* list of that space;
//! - a child HTTP header with a name and no value deletes the parent's header of that name.

use crate::model::{
    Cex, Clevis, ClevisCustom, Config, Directory, Disk, Dropin, File, Filesystem, HttpHeader,
    Ignition, IgnitionConfig, KernelArguments, Link, Luks, Node, NodeOwner, Partition, Passwd,
    PasswdGroup, PasswdUser, Proxy, Raid, Resource, Security, Storage, Systemd, Tang, Timeouts,
    Tls, Unit, Verification,
};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// Merge `child` onto `parent` as Ignition does.
pub fn merge(parent: &Config, child: &Config) -> Config {
    Config::merged(parent, child)
}

/// The `ignition` section of `merge(parent, child)`, without merging the rest: rendering needs
/// it to pick the HTTP settings in force while a child config is rendered.
pub(crate) fn merge_ignition(parent: &Ignition, child: &Ignition) -> Ignition {
    nested(parent, child)
}

/// A type merged field by field.
trait Merge: Sized {
    fn merged(parent: &Self, child: &Self) -> Self;
}

/// An item of a keyed list.
trait Keyed: Merge + Clone {
    fn key(&self) -> Cow<'_, str>;
    /// Whether this child item deletes the parent item of the same key instead of merging.
    fn deletes_parent(&self) -> bool {
        false
    }
}

fn optional<T: Clone>(parent: &Option<T>, child: &Option<T>) -> Option<T> {
    child.as_ref().or(parent.as_ref()).cloned()
}

fn nested<T: Merge + Clone + Default + PartialEq>(parent: &T, child: &T) -> T {
    let empty = T::default();
    if *child == empty {
        parent.clone()
    } else if *parent == empty {
        child.clone()
    } else {
        T::merged(parent, child)
    }
}

fn appended<T: Clone>(parent: &[T], child: &[T]) -> Vec<T> {
    parent.iter().chain(child).cloned().collect()
}

/// The child's keys in one key space: which of the space's lists, and which index in it, each key
/// was last seen at (a later list wins over an earlier one, as upstream's map does).
#[derive(Default)]
struct ChildKeys<'a>(HashMap<Cow<'a, str>, (usize, usize)>);

impl<'a> ChildKeys<'a> {
    fn with<T: Keyed>(mut self, list: usize, items: &'a [T]) -> Self {
        for (index, item) in items.iter().enumerate() {
            self.0.insert(item.key(), (list, index));
        }
        self
    }
}

/// Merge list number `list` of a key space; `keys` holds the child's keys of the whole space.
fn keyed_in<T: Keyed>(parent: &[T], child: &[T], list: usize, keys: &ChildKeys) -> Vec<T> {
    let mut out = Vec::with_capacity(parent.len() + child.len());
    for item in parent {
        match keys.0.get(item.key().as_ref()) {
            Some(&(found, index)) if found == list => match child.get(index) {
                Some(over) if over.deletes_parent() => {}
                Some(over) => out.push(T::merged(item, over)),
                None => out.push(item.clone()),
            },
            // The child uses this key in another list of the space: that list carries it now.
            Some(_) => {}
            None => out.push(item.clone()),
        }
    }
    let parent_keys: HashSet<Cow<str>> = parent.iter().map(Keyed::key).collect();
    out.extend(
        child
            .iter()
            .filter(|item| !parent_keys.contains(item.key().as_ref()))
            .cloned(),
    );
    out
}

/// Merge a keyed list that shares its key space with no other list.
fn keyed<T: Keyed>(parent: &[T], child: &[T]) -> Vec<T> {
    keyed_in(parent, child, 0, &ChildKeys::default().with(0, child))
}

impl Merge for String {
    fn merged(_parent: &Self, child: &Self) -> Self {
        child.clone()
    }
}

impl Keyed for String {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl Merge for Config {
    fn merged(p: &Self, c: &Self) -> Self {
        Config {
            ignition: nested(&p.ignition, &c.ignition),
            kernel_arguments: nested(&p.kernel_arguments, &c.kernel_arguments),
            passwd: nested(&p.passwd, &c.passwd),
            storage: nested(&p.storage, &c.storage),
            systemd: nested(&p.systemd, &c.systemd),
        }
    }
}

impl Merge for Ignition {
    fn merged(p: &Self, c: &Self) -> Self {
        Ignition {
            config: nested(&p.config, &c.config),
            proxy: nested(&p.proxy, &c.proxy),
            security: nested(&p.security, &c.security),
            timeouts: nested(&p.timeouts, &c.timeouts),
            version: c.version.clone(),
        }
    }
}

impl Merge for IgnitionConfig {
    fn merged(p: &Self, c: &Self) -> Self {
        IgnitionConfig {
            merge: keyed(&p.merge, &c.merge),
            replace: nested(&p.replace, &c.replace),
        }
    }
}

impl Merge for Proxy {
    fn merged(p: &Self, c: &Self) -> Self {
        Proxy {
            http_proxy: optional(&p.http_proxy, &c.http_proxy),
            https_proxy: optional(&p.https_proxy, &c.https_proxy),
            no_proxy: keyed(&p.no_proxy, &c.no_proxy),
        }
    }
}

impl Merge for Security {
    fn merged(p: &Self, c: &Self) -> Self {
        Security {
            tls: nested(&p.tls, &c.tls),
        }
    }
}

impl Merge for Tls {
    fn merged(p: &Self, c: &Self) -> Self {
        Tls {
            certificate_authorities: keyed(&p.certificate_authorities, &c.certificate_authorities),
        }
    }
}

impl Merge for Timeouts {
    fn merged(p: &Self, c: &Self) -> Self {
        Timeouts {
            http_response_headers: optional(&p.http_response_headers, &c.http_response_headers),
            http_total: optional(&p.http_total, &c.http_total),
        }
    }
}

impl Merge for Resource {
    fn merged(p: &Self, c: &Self) -> Self {
        Resource {
            compression: optional(&p.compression, &c.compression),
            http_headers: keyed(&p.http_headers, &c.http_headers),
            source: optional(&p.source, &c.source),
            verification: nested(&p.verification, &c.verification),
        }
    }
}

impl Keyed for Resource {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.source.as_deref().unwrap_or(""))
    }
}

impl Merge for HttpHeader {
    fn merged(p: &Self, c: &Self) -> Self {
        HttpHeader {
            name: c.name.clone(),
            value: optional(&p.value, &c.value),
        }
    }
}

impl Keyed for HttpHeader {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }
    fn deletes_parent(&self) -> bool {
        self.value.is_none()
    }
}

impl Merge for Verification {
    fn merged(p: &Self, c: &Self) -> Self {
        Verification {
            hash: optional(&p.hash, &c.hash),
        }
    }
}

impl Merge for KernelArguments {
    fn merged(p: &Self, c: &Self) -> Self {
        // One key space: an argument the child wants absent cancels the parent wanting it present,
        // and the other way round.
        let keys = ChildKeys::default()
            .with(0, &c.should_exist)
            .with(1, &c.should_not_exist);
        KernelArguments {
            should_exist: keyed_in(&p.should_exist, &c.should_exist, 0, &keys),
            should_not_exist: keyed_in(&p.should_not_exist, &c.should_not_exist, 1, &keys),
        }
    }
}

impl Merge for Passwd {
    fn merged(p: &Self, c: &Self) -> Self {
        Passwd {
            groups: keyed(&p.groups, &c.groups),
            users: keyed(&p.users, &c.users),
        }
    }
}

impl Merge for PasswdGroup {
    fn merged(p: &Self, c: &Self) -> Self {
        PasswdGroup {
            gid: optional(&p.gid, &c.gid),
            name: c.name.clone(),
            password_hash: optional(&p.password_hash, &c.password_hash),
            should_exist: optional(&p.should_exist, &c.should_exist),
            system: optional(&p.system, &c.system),
        }
    }
}

impl Keyed for PasswdGroup {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }
}

impl Merge for PasswdUser {
    fn merged(p: &Self, c: &Self) -> Self {
        PasswdUser {
            gecos: optional(&p.gecos, &c.gecos),
            groups: keyed(&p.groups, &c.groups),
            home_dir: optional(&p.home_dir, &c.home_dir),
            name: c.name.clone(),
            no_create_home: optional(&p.no_create_home, &c.no_create_home),
            no_log_init: optional(&p.no_log_init, &c.no_log_init),
            no_user_group: optional(&p.no_user_group, &c.no_user_group),
            password_hash: optional(&p.password_hash, &c.password_hash),
            primary_group: optional(&p.primary_group, &c.primary_group),
            ssh_authorized_keys: keyed(&p.ssh_authorized_keys, &c.ssh_authorized_keys),
            shell: optional(&p.shell, &c.shell),
            should_exist: optional(&p.should_exist, &c.should_exist),
            system: optional(&p.system, &c.system),
            uid: optional(&p.uid, &c.uid),
        }
    }
}

impl Keyed for PasswdUser {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }
}

impl Merge for Storage {
    fn merged(p: &Self, c: &Self) -> Self {
        // Files, directories and links share the path key space; the list order is upstream's
        // field order, which decides the winner when a child repeats a path across lists.
        let nodes = ChildKeys::default()
            .with(0, &c.directories)
            .with(1, &c.files)
            .with(2, &c.links);
        Storage {
            directories: keyed_in(&p.directories, &c.directories, 0, &nodes),
            disks: keyed(&p.disks, &c.disks),
            files: keyed_in(&p.files, &c.files, 1, &nodes),
            filesystems: keyed(&p.filesystems, &c.filesystems),
            links: keyed_in(&p.links, &c.links, 2, &nodes),
            luks: keyed(&p.luks, &c.luks),
            raid: keyed(&p.raid, &c.raid),
        }
    }
}

impl Merge for Node {
    fn merged(p: &Self, c: &Self) -> Self {
        Node {
            group: nested(&p.group, &c.group),
            overwrite: optional(&p.overwrite, &c.overwrite),
            path: c.path.clone(),
            user: nested(&p.user, &c.user),
        }
    }
}

impl Merge for NodeOwner {
    fn merged(p: &Self, c: &Self) -> Self {
        NodeOwner {
            id: optional(&p.id, &c.id),
            name: optional(&p.name, &c.name),
        }
    }
}

impl Merge for File {
    fn merged(p: &Self, c: &Self) -> Self {
        File {
            node: nested(&p.node, &c.node),
            append: appended(&p.append, &c.append),
            contents: nested(&p.contents, &c.contents),
            mode: optional(&p.mode, &c.mode),
        }
    }
}

impl Keyed for File {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.node.path)
    }
}

impl Merge for Directory {
    fn merged(p: &Self, c: &Self) -> Self {
        Directory {
            node: nested(&p.node, &c.node),
            mode: optional(&p.mode, &c.mode),
        }
    }
}

impl Keyed for Directory {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.node.path)
    }
}

impl Merge for Link {
    fn merged(p: &Self, c: &Self) -> Self {
        Link {
            node: nested(&p.node, &c.node),
            hard: optional(&p.hard, &c.hard),
            target: optional(&p.target, &c.target),
        }
    }
}

impl Keyed for Link {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.node.path)
    }
}

impl Merge for Disk {
    fn merged(p: &Self, c: &Self) -> Self {
        Disk {
            device: c.device.clone(),
            partitions: keyed(&p.partitions, &c.partitions),
            wipe_table: optional(&p.wipe_table, &c.wipe_table),
        }
    }
}

impl Keyed for Disk {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.device)
    }
}

impl Merge for Partition {
    fn merged(p: &Self, c: &Self) -> Self {
        Partition {
            guid: optional(&p.guid, &c.guid),
            label: optional(&p.label, &c.label),
            number: c.number,
            resize: optional(&p.resize, &c.resize),
            should_exist: optional(&p.should_exist, &c.should_exist),
            size_mib: optional(&p.size_mib, &c.size_mib),
            start_mib: optional(&p.start_mib, &c.start_mib),
            type_guid: optional(&p.type_guid, &c.type_guid),
            wipe_partition_entry: optional(&p.wipe_partition_entry, &c.wipe_partition_entry),
        }
    }
}

impl Keyed for Partition {
    fn key(&self) -> Cow<'_, str> {
        match (self.number, &self.label) {
            (0, Some(label)) => Cow::Owned(format!("label:{label}")),
            (0, None) => Cow::Borrowed(""),
            (number, _) => Cow::Owned(format!("number:{number}")),
        }
    }
}

impl Merge for Raid {
    fn merged(p: &Self, c: &Self) -> Self {
        Raid {
            devices: keyed(&p.devices, &c.devices),
            level: optional(&p.level, &c.level),
            name: c.name.clone(),
            options: appended(&p.options, &c.options),
            spares: optional(&p.spares, &c.spares),
        }
    }
}

impl Keyed for Raid {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }
}

impl Merge for Luks {
    fn merged(p: &Self, c: &Self) -> Self {
        Luks {
            cex: nested(&p.cex, &c.cex),
            clevis: nested(&p.clevis, &c.clevis),
            device: optional(&p.device, &c.device),
            discard: optional(&p.discard, &c.discard),
            key_file: nested(&p.key_file, &c.key_file),
            // Kindling extension: the child's object replaces the parent's as a whole.
            kindling_tpm2: optional(&p.kindling_tpm2, &c.kindling_tpm2),
            label: optional(&p.label, &c.label),
            name: c.name.clone(),
            open_options: keyed(&p.open_options, &c.open_options),
            options: appended(&p.options, &c.options),
            uuid: optional(&p.uuid, &c.uuid),
            wipe_volume: optional(&p.wipe_volume, &c.wipe_volume),
        }
    }
}

impl Keyed for Luks {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }
}

impl Merge for Cex {
    fn merged(p: &Self, c: &Self) -> Self {
        Cex {
            enabled: optional(&p.enabled, &c.enabled),
        }
    }
}

impl Merge for Clevis {
    fn merged(p: &Self, c: &Self) -> Self {
        Clevis {
            custom: nested(&p.custom, &c.custom),
            tang: keyed(&p.tang, &c.tang),
            threshold: optional(&p.threshold, &c.threshold),
            tpm2: optional(&p.tpm2, &c.tpm2),
        }
    }
}

impl Merge for ClevisCustom {
    fn merged(p: &Self, c: &Self) -> Self {
        ClevisCustom {
            config: optional(&p.config, &c.config),
            needs_network: optional(&p.needs_network, &c.needs_network),
            pin: optional(&p.pin, &c.pin),
        }
    }
}

impl Merge for Tang {
    fn merged(p: &Self, c: &Self) -> Self {
        Tang {
            advertisement: optional(&p.advertisement, &c.advertisement),
            thumbprint: optional(&p.thumbprint, &c.thumbprint),
            url: c.url.clone(),
        }
    }
}

impl Keyed for Tang {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.url)
    }
}

impl Merge for Filesystem {
    fn merged(p: &Self, c: &Self) -> Self {
        Filesystem {
            device: c.device.clone(),
            format: optional(&p.format, &c.format),
            label: optional(&p.label, &c.label),
            mount_options: appended(&p.mount_options, &c.mount_options),
            options: appended(&p.options, &c.options),
            path: optional(&p.path, &c.path),
            uuid: optional(&p.uuid, &c.uuid),
            wipe_filesystem: optional(&p.wipe_filesystem, &c.wipe_filesystem),
        }
    }
}

impl Keyed for Filesystem {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.device)
    }
}

impl Merge for Systemd {
    fn merged(p: &Self, c: &Self) -> Self {
        Systemd {
            units: keyed(&p.units, &c.units),
        }
    }
}

impl Merge for Unit {
    fn merged(p: &Self, c: &Self) -> Self {
        Unit {
            contents: optional(&p.contents, &c.contents),
            dropins: keyed(&p.dropins, &c.dropins),
            enabled: optional(&p.enabled, &c.enabled),
            mask: optional(&p.mask, &c.mask),
            name: c.name.clone(),
        }
    }
}

impl Keyed for Unit {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }
}

impl Merge for Dropin {
    fn merged(p: &Self, c: &Self) -> Self {
        Dropin {
            contents: optional(&p.contents, &c.contents),
            name: c.name.clone(),
        }
    }
}

impl Keyed for Dropin {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }
}

#[cfg(test)]
mod tests;
