//! The duplicate-entry check: two entries with the same key in one list, or in lists that share
//! a key space (files, directories and links by path; kernel arguments that should and should
//! not exist). Upstream runs it at parse time only, not after merging.

use super::msg;
use crate::model::*;
use crate::{Config, Report};
use std::collections::HashSet;

/// Report `duplicate entry defined` at every entry whose key an earlier entry already used.
pub fn duplicates(config: &Config) -> Report {
    let mut d = Dups {
        report: Report::default(),
    };
    d.config(config);
    d.report
}

struct Dups {
    report: Report,
}

impl Dups {
    /// Check one list, sharing `seen` with the other lists of its key space.
    fn list<'a>(
        &mut self,
        seen: &mut HashSet<&'a str>,
        path: &str,
        keys: impl Iterator<Item = &'a str>,
    ) {
        for (i, key) in keys.enumerate() {
            if !seen.insert(key) {
                self.report
                    .error(Some(format!("{path}.{i}")), msg::DUPLICATE);
            }
        }
    }

    fn own_list<'a>(&mut self, path: &str, keys: impl Iterator<Item = &'a str>) {
        self.list(&mut HashSet::new(), path, keys);
    }

    fn config(&mut self, c: &Config) {
        let ign = &c.ignition;
        self.own_list(
            "$.ignition.config.merge",
            ign.config.merge.iter().map(resource_key),
        );
        for (i, r) in ign.config.merge.iter().enumerate() {
            self.resource(r, &format!("$.ignition.config.merge.{i}"));
        }
        self.resource(&ign.config.replace, "$.ignition.config.replace");
        self.own_list(
            "$.ignition.proxy.noProxy",
            ign.proxy.no_proxy.iter().map(String::as_str),
        );
        let cas = &ign.security.tls.certificate_authorities;
        self.own_list(
            "$.ignition.security.tls.certificateAuthorities",
            cas.iter().map(resource_key),
        );
        for (i, r) in cas.iter().enumerate() {
            self.resource(
                r,
                &format!("$.ignition.security.tls.certificateAuthorities.{i}"),
            );
        }

        let kargs = &c.kernel_arguments;
        let mut seen = HashSet::new();
        self.list(
            &mut seen,
            "$.kernelArguments.shouldExist",
            kargs.should_exist.iter().map(String::as_str),
        );
        self.list(
            &mut seen,
            "$.kernelArguments.shouldNotExist",
            kargs.should_not_exist.iter().map(String::as_str),
        );

        let passwd = &c.passwd;
        self.own_list(
            "$.passwd.groups",
            passwd.groups.iter().map(|g| g.name.as_str()),
        );
        self.own_list(
            "$.passwd.users",
            passwd.users.iter().map(|u| u.name.as_str()),
        );
        for (i, u) in passwd.users.iter().enumerate() {
            let p = format!("$.passwd.users.{i}");
            self.own_list(&format!("{p}.groups"), u.groups.iter().map(String::as_str));
            self.own_list(
                &format!("{p}.sshAuthorizedKeys"),
                u.ssh_authorized_keys.iter().map(String::as_str),
            );
        }

        self.storage(&c.storage);

        let units = &c.systemd.units;
        self.own_list("$.systemd.units", units.iter().map(|u| u.name.as_str()));
        for (i, u) in units.iter().enumerate() {
            self.own_list(
                &format!("$.systemd.units.{i}.dropins"),
                u.dropins.iter().map(|d| d.name.as_str()),
            );
        }
    }

    fn storage(&mut self, s: &Storage) {
        let mut nodes = HashSet::new();
        self.list(
            &mut nodes,
            "$.storage.directories",
            s.directories.iter().map(|d| d.node.path.as_str()),
        );
        self.own_list("$.storage.disks", s.disks.iter().map(|d| d.device.as_str()));
        self.list(
            &mut nodes,
            "$.storage.files",
            s.files.iter().map(|f| f.node.path.as_str()),
        );
        self.own_list(
            "$.storage.filesystems",
            s.filesystems.iter().map(|f| f.device.as_str()),
        );
        self.list(
            &mut nodes,
            "$.storage.links",
            s.links.iter().map(|l| l.node.path.as_str()),
        );
        self.own_list("$.storage.luks", s.luks.iter().map(|l| l.name.as_str()));
        self.own_list("$.storage.raid", s.raid.iter().map(|r| r.name.as_str()));

        for (i, d) in s.disks.iter().enumerate() {
            let keys: Vec<String> = d.partitions.iter().map(partition_key).collect();
            self.own_list(
                &format!("$.storage.disks.{i}.partitions"),
                keys.iter().map(String::as_str),
            );
        }
        for (i, f) in s.files.iter().enumerate() {
            let p = format!("$.storage.files.{i}");
            for (j, a) in f.append.iter().enumerate() {
                self.resource(a, &format!("{p}.append.{j}"));
            }
            self.resource(&f.contents, &format!("{p}.contents"));
        }
        for (i, l) in s.luks.iter().enumerate() {
            let p = format!("$.storage.luks.{i}");
            self.own_list(
                &format!("{p}.openOptions"),
                l.open_options.iter().map(String::as_str),
            );
            self.own_list(
                &format!("{p}.clevis.tang"),
                l.clevis.tang.iter().map(|t| t.url.as_str()),
            );
            self.resource(&l.key_file, &format!("{p}.keyFile"));
        }
        for (i, r) in s.raid.iter().enumerate() {
            self.own_list(
                &format!("$.storage.raid.{i}.devices"),
                r.devices.iter().map(String::as_str),
            );
        }
    }

    fn resource(&mut self, r: &Resource, path: &str) {
        self.own_list(
            &format!("{path}.httpHeaders"),
            r.http_headers.iter().map(|h| h.name.as_str()),
        );
    }
}

fn resource_key(r: &Resource) -> &str {
    r.source.as_deref().unwrap_or("")
}

/// `number:N`, else `label:L`, else the empty key.
fn partition_key(p: &Partition) -> String {
    if p.number != 0 {
        format!("number:{}", p.number)
    } else if let Some(l) = &p.label {
        format!("label:{l}")
    } else {
        String::new()
    }
}
