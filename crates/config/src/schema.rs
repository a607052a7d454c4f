//! Every spec version's schema as data: which keys each object has in which version, and the Go
//! type upstream decodes each into (pointer or not, which decides what `null` does, and the type
//! names its error messages use).

use crate::Version;
use Version::*;

/// How upstream declares a field.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// A non-pointer Go string (named type): `null` leaves it unchanged, its zero value is `""`.
    Str(&'static str),
    /// `*string`: `null` clears it.
    OptStr,
    /// A non-pointer Go `int`.
    Int,
    /// `*int`.
    OptInt,
    /// `*bool`.
    OptBool,
    /// A non-pointer struct: always present (zero-valued when absent).
    Struct(&'static Def),
    /// A pointer to a struct: absent until the input sets it.
    OptStruct(&'static Def),
    /// A slice: the element type and the Go name of the slice type.
    List(&'static Ty, &'static str),
}

/// One field of an object, valid from `since` up to (not including) `until`.
#[derive(Debug)]
pub struct Field {
    pub key: &'static str,
    pub ty: Ty,
    pub since: Version,
    pub until: Option<Version>,
}

/// An object type: its Go name and its fields in Go declaration order (the walk order of
/// validation, which fixes the order of report entries).
#[derive(Debug)]
pub struct Def {
    pub go_name: &'static str,
    pub fields: &'static [Field],
}

impl Field {
    pub fn exists_in(&self, version: Version) -> bool {
        self.since <= version && self.until.is_none_or(|u| version < u)
    }
}

impl Def {
    /// The fields this object has in `version`.
    pub fn fields_in(&self, version: Version) -> impl Iterator<Item = &'static Field> + '_ {
        self.fields.iter().filter(move |f| f.exists_in(version))
    }
}

impl Ty {
    /// The Go type name used in `json: cannot unmarshal … of type T`.
    pub fn go_name(&self) -> &'static str {
        match self {
            Ty::Str(name) => name,
            Ty::OptStr => "string",
            Ty::Int | Ty::OptInt => "int",
            Ty::OptBool => "bool",
            Ty::Struct(def) | Ty::OptStruct(def) => def.go_name,
            Ty::List(_, name) => name,
        }
    }
}

const fn f(key: &'static str, ty: Ty) -> Field {
    Field {
        key,
        ty,
        since: V3_0,
        until: None,
    }
}

const fn since(key: &'static str, ty: Ty, since: Version) -> Field {
    Field {
        key,
        ty,
        since,
        until: None,
    }
}

const fn until(key: &'static str, ty: Ty, until: Version) -> Field {
    Field {
        key,
        ty,
        since: V3_0,
        until: Some(until),
    }
}

const fn between(key: &'static str, ty: Ty, since: Version, until: Version) -> Field {
    Field {
        key,
        ty,
        since,
        until: Some(until),
    }
}

const STRING: Ty = Ty::Str("string");

/// `{"ignition": {"version": …}}`: what upstream decodes first to learn the version.
pub static VERSION_STUB: Def = Def {
    go_name: "util.versionStub",
    fields: &[f("Ignition", Ty::Struct(&VERSION_STUB_IGNITION))],
};

pub static VERSION_STUB_IGNITION: Def = Def {
    go_name: "struct { Version string }",
    fields: &[f("Version", STRING)],
};

pub static CONFIG: Def = Def {
    go_name: "types.Config",
    fields: &[
        f("ignition", Ty::Struct(&IGNITION)),
        since("kernelArguments", Ty::Struct(&KERNEL_ARGUMENTS), V3_3),
        f("passwd", Ty::Struct(&PASSWD)),
        f("storage", Ty::Struct(&STORAGE)),
        f("systemd", Ty::Struct(&SYSTEMD)),
    ],
};

static IGNITION: Def = Def {
    go_name: "types.Ignition",
    fields: &[
        f("config", Ty::Struct(&IGNITION_CONFIG)),
        since("proxy", Ty::Struct(&PROXY), V3_1),
        f("security", Ty::Struct(&SECURITY)),
        f("timeouts", Ty::Struct(&TIMEOUTS)),
        f("version", STRING),
    ],
};

static IGNITION_CONFIG: Def = Def {
    go_name: "types.IgnitionConfig",
    fields: &[
        until(
            "merge",
            Ty::List(&Ty::Struct(&CONFIG_REFERENCE), "[]types.ConfigReference"),
            V3_1,
        ),
        since(
            "merge",
            Ty::List(&Ty::Struct(&RESOURCE), "[]types.Resource"),
            V3_1,
        ),
        until("replace", Ty::Struct(&CONFIG_REFERENCE), V3_1),
        since("replace", Ty::Struct(&RESOURCE), V3_1),
    ],
};

/// 3.0 only.
static CONFIG_REFERENCE: Def = Def {
    go_name: "types.ConfigReference",
    fields: &[
        f("source", Ty::OptStr),
        f("verification", Ty::Struct(&VERIFICATION)),
    ],
};

/// 3.0 only.
static CA_REFERENCE: Def = Def {
    go_name: "types.CaReference",
    fields: &[
        f("source", STRING),
        f("verification", Ty::Struct(&VERIFICATION)),
    ],
};

/// 3.0 only.
static FILE_CONTENTS: Def = Def {
    go_name: "types.FileContents",
    fields: &[
        f("compression", Ty::OptStr),
        f("source", Ty::OptStr),
        f("verification", Ty::Struct(&VERIFICATION)),
    ],
};

/// 3.1 on.
static RESOURCE: Def = Def {
    go_name: "types.Resource",
    fields: &[
        f("compression", Ty::OptStr),
        f(
            "httpHeaders",
            Ty::List(&Ty::Struct(&HTTP_HEADER), "types.HTTPHeaders"),
        ),
        f("source", Ty::OptStr),
        f("verification", Ty::Struct(&VERIFICATION)),
    ],
};

static HTTP_HEADER: Def = Def {
    go_name: "types.HTTPHeader",
    fields: &[f("name", STRING), f("value", Ty::OptStr)],
};

static VERIFICATION: Def = Def {
    go_name: "types.Verification",
    fields: &[f("hash", Ty::OptStr)],
};

static PROXY: Def = Def {
    go_name: "types.Proxy",
    fields: &[
        f("httpProxy", Ty::OptStr),
        f("httpsProxy", Ty::OptStr),
        f(
            "noProxy",
            Ty::List(&Ty::Str("types.NoProxyItem"), "[]types.NoProxyItem"),
        ),
    ],
};

static SECURITY: Def = Def {
    go_name: "types.Security",
    fields: &[f("tls", Ty::Struct(&TLS))],
};

static TLS: Def = Def {
    go_name: "types.TLS",
    fields: &[
        until(
            "certificateAuthorities",
            Ty::List(&Ty::Struct(&CA_REFERENCE), "[]types.CaReference"),
            V3_1,
        ),
        since(
            "certificateAuthorities",
            Ty::List(&Ty::Struct(&RESOURCE), "[]types.Resource"),
            V3_1,
        ),
    ],
};

static TIMEOUTS: Def = Def {
    go_name: "types.Timeouts",
    fields: &[
        f("httpResponseHeaders", Ty::OptInt),
        f("httpTotal", Ty::OptInt),
    ],
};

static KERNEL_ARGUMENTS: Def = Def {
    go_name: "types.KernelArguments",
    fields: &[
        f(
            "shouldExist",
            Ty::List(&Ty::Str("types.KernelArgument"), "[]types.KernelArgument"),
        ),
        f(
            "shouldNotExist",
            Ty::List(&Ty::Str("types.KernelArgument"), "[]types.KernelArgument"),
        ),
    ],
};

static PASSWD: Def = Def {
    go_name: "types.Passwd",
    fields: &[
        f(
            "groups",
            Ty::List(&Ty::Struct(&PASSWD_GROUP), "[]types.PasswdGroup"),
        ),
        f(
            "users",
            Ty::List(&Ty::Struct(&PASSWD_USER), "[]types.PasswdUser"),
        ),
    ],
};

static PASSWD_GROUP: Def = Def {
    go_name: "types.PasswdGroup",
    fields: &[
        f("gid", Ty::OptInt),
        f("name", STRING),
        f("passwordHash", Ty::OptStr),
        since("shouldExist", Ty::OptBool, V3_2),
        f("system", Ty::OptBool),
    ],
};

static PASSWD_USER: Def = Def {
    go_name: "types.PasswdUser",
    fields: &[
        f("gecos", Ty::OptStr),
        f("groups", Ty::List(&Ty::Str("types.Group"), "[]types.Group")),
        f("homeDir", Ty::OptStr),
        f("name", STRING),
        f("noCreateHome", Ty::OptBool),
        f("noLogInit", Ty::OptBool),
        f("noUserGroup", Ty::OptBool),
        f("passwordHash", Ty::OptStr),
        f("primaryGroup", Ty::OptStr),
        f(
            "sshAuthorizedKeys",
            Ty::List(
                &Ty::Str("types.SSHAuthorizedKey"),
                "[]types.SSHAuthorizedKey",
            ),
        ),
        f("shell", Ty::OptStr),
        since("shouldExist", Ty::OptBool, V3_2),
        f("system", Ty::OptBool),
        f("uid", Ty::OptInt),
    ],
};

static STORAGE: Def = Def {
    go_name: "types.Storage",
    fields: &[
        f(
            "directories",
            Ty::List(&Ty::Struct(&DIRECTORY), "[]types.Directory"),
        ),
        f("disks", Ty::List(&Ty::Struct(&DISK), "[]types.Disk")),
        f("files", Ty::List(&Ty::Struct(&FILE), "[]types.File")),
        f(
            "filesystems",
            Ty::List(&Ty::Struct(&FILESYSTEM), "[]types.Filesystem"),
        ),
        f("links", Ty::List(&Ty::Struct(&LINK), "[]types.Link")),
        since("luks", Ty::List(&Ty::Struct(&LUKS), "[]types.Luks"), V3_2),
        f("raid", Ty::List(&Ty::Struct(&RAID), "[]types.Raid")),
    ],
};

static NODE_OWNER_GROUP: Def = Def {
    go_name: "types.NodeGroup",
    fields: &[f("id", Ty::OptInt), f("name", Ty::OptStr)],
};

static NODE_OWNER_USER: Def = Def {
    go_name: "types.NodeUser",
    fields: &[f("id", Ty::OptInt), f("name", Ty::OptStr)],
};

static DIRECTORY: Def = Def {
    go_name: "types.Directory",
    fields: &[
        f("group", Ty::Struct(&NODE_OWNER_GROUP)),
        f("overwrite", Ty::OptBool),
        f("path", STRING),
        f("user", Ty::Struct(&NODE_OWNER_USER)),
        f("mode", Ty::OptInt),
    ],
};

static FILE: Def = Def {
    go_name: "types.File",
    fields: &[
        f("group", Ty::Struct(&NODE_OWNER_GROUP)),
        f("overwrite", Ty::OptBool),
        f("path", STRING),
        f("user", Ty::Struct(&NODE_OWNER_USER)),
        until(
            "append",
            Ty::List(&Ty::Struct(&FILE_CONTENTS), "[]types.FileContents"),
            V3_1,
        ),
        since(
            "append",
            Ty::List(&Ty::Struct(&RESOURCE), "[]types.Resource"),
            V3_1,
        ),
        until("contents", Ty::Struct(&FILE_CONTENTS), V3_1),
        since("contents", Ty::Struct(&RESOURCE), V3_1),
        f("mode", Ty::OptInt),
    ],
};

static LINK: Def = Def {
    go_name: "types.Link",
    fields: &[
        f("group", Ty::Struct(&NODE_OWNER_GROUP)),
        f("overwrite", Ty::OptBool),
        f("path", STRING),
        f("user", Ty::Struct(&NODE_OWNER_USER)),
        f("hard", Ty::OptBool),
        until("target", STRING, V3_3),
        since("target", Ty::OptStr, V3_3),
    ],
};

static DISK: Def = Def {
    go_name: "types.Disk",
    fields: &[
        f("device", STRING),
        f(
            "partitions",
            Ty::List(&Ty::Struct(&PARTITION), "[]types.Partition"),
        ),
        f("wipeTable", Ty::OptBool),
    ],
};

static PARTITION: Def = Def {
    go_name: "types.Partition",
    fields: &[
        f("guid", Ty::OptStr),
        f("label", Ty::OptStr),
        f("number", Ty::Int),
        since("resize", Ty::OptBool, V3_2),
        f("shouldExist", Ty::OptBool),
        f("sizeMiB", Ty::OptInt),
        f("startMiB", Ty::OptInt),
        f("typeGuid", Ty::OptStr),
        f("wipePartitionEntry", Ty::OptBool),
    ],
};

static FILESYSTEM: Def = Def {
    go_name: "types.Filesystem",
    fields: &[
        f("device", STRING),
        f("format", Ty::OptStr),
        f("label", Ty::OptStr),
        since(
            "mountOptions",
            Ty::List(&Ty::Str("types.MountOption"), "[]types.MountOption"),
            V3_1,
        ),
        f(
            "options",
            Ty::List(
                &Ty::Str("types.FilesystemOption"),
                "[]types.FilesystemOption",
            ),
        ),
        f("path", Ty::OptStr),
        f("uuid", Ty::OptStr),
        f("wipeFilesystem", Ty::OptBool),
    ],
};

static LUKS: Def = Def {
    go_name: "types.Luks",
    fields: &[
        since("cex", Ty::Struct(&CEX), V3_5),
        between("clevis", Ty::OptStruct(&CLEVIS), V3_2, V3_3),
        since("clevis", Ty::Struct(&CLEVIS), V3_3),
        f("device", Ty::OptStr),
        since("discard", Ty::OptBool, V3_4),
        f("keyFile", Ty::Struct(&RESOURCE)),
        // Kindling extension (docs/luks.md); upstream warns "unused key" and ignores it.
        f("kindlingTpm2", Ty::OptStruct(&KINDLING_TPM2)),
        f("label", Ty::OptStr),
        f("name", STRING),
        since(
            "openOptions",
            Ty::List(&Ty::Str("types.OpenOption"), "[]types.OpenOption"),
            V3_4,
        ),
        f(
            "options",
            Ty::List(&Ty::Str("types.LuksOption"), "[]types.LuksOption"),
        ),
        f("uuid", Ty::OptStr),
        f("wipeVolume", Ty::OptBool),
    ],
};

static KINDLING_TPM2: Def = Def {
    go_name: "kindling.Tpm2",
    fields: &[
        f("pcrBank", Ty::OptStr),
        f("pcrs", Ty::List(&Ty::Int, "[]int")),
        f("pin", Ty::OptStr),
    ],
};

static CEX: Def = Def {
    go_name: "types.Cex",
    fields: &[f("enabled", Ty::OptBool)],
};

static CLEVIS: Def = Def {
    go_name: "types.Clevis",
    fields: &[
        between("custom", Ty::OptStruct(&CLEVIS_CUSTOM_3_2), V3_2, V3_3),
        since("custom", Ty::Struct(&CLEVIS_CUSTOM), V3_3),
        f("tang", Ty::List(&Ty::Struct(&TANG), "[]types.Tang")),
        f("threshold", Ty::OptInt),
        f("tpm2", Ty::OptBool),
    ],
};

/// 3.2's `Custom`: pin and config are plain strings.
static CLEVIS_CUSTOM_3_2: Def = Def {
    go_name: "types.Custom",
    fields: &[
        f("config", STRING),
        f("needsNetwork", Ty::OptBool),
        f("pin", STRING),
    ],
};

static CLEVIS_CUSTOM: Def = Def {
    go_name: "types.ClevisCustom",
    fields: &[
        f("config", Ty::OptStr),
        f("needsNetwork", Ty::OptBool),
        f("pin", Ty::OptStr),
    ],
};

static TANG: Def = Def {
    go_name: "types.Tang",
    fields: &[
        since("advertisement", Ty::OptStr, V3_4),
        f("thumbprint", Ty::OptStr),
        f("url", STRING),
    ],
};

static RAID: Def = Def {
    go_name: "types.Raid",
    fields: &[
        f(
            "devices",
            Ty::List(&Ty::Str("types.Device"), "[]types.Device"),
        ),
        until("level", STRING, V3_3),
        since("level", Ty::OptStr, V3_3),
        f("name", STRING),
        f(
            "options",
            Ty::List(&Ty::Str("types.RaidOption"), "[]types.RaidOption"),
        ),
        f("spares", Ty::OptInt),
    ],
};

static SYSTEMD: Def = Def {
    go_name: "types.Systemd",
    fields: &[f("units", Ty::List(&Ty::Struct(&UNIT), "[]types.Unit"))],
};

static UNIT: Def = Def {
    go_name: "types.Unit",
    fields: &[
        f("contents", Ty::OptStr),
        f("dropins", Ty::List(&Ty::Struct(&DROPIN), "[]types.Dropin")),
        f("enabled", Ty::OptBool),
        f("mask", Ty::OptBool),
        f("name", STRING),
    ],
};

static DROPIN: Def = Def {
    go_name: "types.Dropin",
    fields: &[f("contents", Ty::OptStr), f("name", STRING)],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(def: &Def, version: Version) -> Vec<&'static str> {
        def.fields_in(version).map(|f| f.key).collect()
    }

    #[test]
    fn keys_appear_in_their_versions() {
        assert_eq!(
            keys(&CONFIG, V3_2),
            ["ignition", "passwd", "storage", "systemd"]
        );
        assert!(keys(&CONFIG, V3_3).contains(&"kernelArguments"));
        assert!(!keys(&LUKS, V3_4).contains(&"cex"));
        assert!(keys(&LUKS, V3_5).contains(&"cex"));
        assert!(!keys(&TANG, V3_3).contains(&"advertisement"));
        assert!(!keys(&FILESYSTEM, V3_0).contains(&"mountOptions"));
    }

    #[test]
    fn each_key_has_one_type_per_version() {
        fn check(def: &'static Def, seen: &mut Vec<&'static str>) {
            if seen.contains(&def.go_name) {
                return;
            }
            seen.push(def.go_name);
            for v in Version::ALL {
                let mut ks = keys(def, v);
                let n = ks.len();
                ks.sort_unstable();
                ks.dedup();
                assert_eq!(ks.len(), n, "{} in {v}", def.go_name);
            }
            for field in def.fields {
                let mut ty = &field.ty;
                while let Ty::List(elem, _) = ty {
                    ty = elem;
                }
                if let Ty::Struct(d) | Ty::OptStruct(d) = ty {
                    check(d, seen);
                }
            }
        }
        check(&CONFIG, &mut Vec::new());
    }
}
