//! The host paths and knobs providers read, with Ignition's environment overrides, so tests
//! can point every source at a temporary directory.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Host {
    /// The kernel command line (`/proc/cmdline`; `IGNITION_KERNEL_CMDLINE_PATH`).
    pub kernel_cmdline: PathBuf,
    /// System config directories, highest priority first: `/run/ignition`, `/etc/ignition`,
    /// `/usr/lib/ignition` (`IGNITION_SYSTEM_RUNTIME_CONFIG_DIR`,
    /// `IGNITION_SYSTEM_LOCAL_CONFIG_DIR`, `IGNITION_SYSTEM_CONFIG_DIR`).
    pub system_config_dirs: Vec<PathBuf>,
    /// The `file` platform's config (`IGNITION_CONFIG_FILE`, default `config.ign` in the
    /// working directory).
    pub config_file: PathBuf,
    /// The QEMU firmware config directory in sysfs.
    pub qemu_fw_cfg: PathBuf,
    /// The `modprobe` command.
    pub modprobe: String,
    /// Where block devices appear by filesystem label (config drives, `cidata`).
    pub disk_by_label: PathBuf,
    /// Test only: every platform's metadata service (`http://169.254.169.254`,
    /// `http://100.100.100.200`, `https://metadata.packet.net`, the Azure wireserver, …) is
    /// replaced by this base URL (`KINDLING_TEST_METADATA_URL`), so tests talk to a loopback
    /// server. Never set on a real machine.
    pub metadata_url: Option<String>,
    /// Test only: the IPv6 metadata service (`http://[fe80::a9fe:a9fe%<interface>]`, OpenStack)
    /// is replaced by this base URL (`KINDLING_TEST_METADATA_URL_V6`). While `metadata_url` is
    /// set and this is not, no IPv6 metadata address is asked at all.
    pub metadata_url_v6: Option<String>,
    /// The kernel's list of IPv6 addresses by interface (`/proc/net/if_inet6`).
    pub if_inet6: PathBuf,
}

impl Host {
    /// The real machine, with Ignition's environment overrides applied.
    pub fn from_env() -> Self {
        let var = |name: &str, default: &str| -> String {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Host {
            kernel_cmdline: var("IGNITION_KERNEL_CMDLINE_PATH", "/proc/cmdline").into(),
            system_config_dirs: vec![
                var("IGNITION_SYSTEM_RUNTIME_CONFIG_DIR", "/run/ignition").into(),
                var("IGNITION_SYSTEM_LOCAL_CONFIG_DIR", "/etc/ignition").into(),
                var("IGNITION_SYSTEM_CONFIG_DIR", "/usr/lib/ignition").into(),
            ],
            config_file: var("IGNITION_CONFIG_FILE", "config.ign").into(),
            qemu_fw_cfg: "/sys/firmware/qemu_fw_cfg".into(),
            modprobe: "modprobe".into(),
            disk_by_label: "/dev/disk/by-label".into(),
            metadata_url: std::env::var("KINDLING_TEST_METADATA_URL")
                .ok()
                .filter(|v| !v.is_empty()),
            metadata_url_v6: std::env::var("KINDLING_TEST_METADATA_URL_V6")
                .ok()
                .filter(|v| !v.is_empty()),
            if_inet6: "/proc/net/if_inet6".into(),
        }
    }

    /// `default` (a platform's metadata base URL), or the test override.
    pub fn metadata<'a>(&'a self, default: &'a str) -> &'a str {
        self.metadata_url.as_deref().unwrap_or(default)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::Host;
    use std::path::PathBuf;

    /// A fresh directory with the three system config dirs and a fake fw_cfg sysfs dir.
    pub(crate) fn temp_host(name: &str) -> (PathBuf, Host) {
        let dir =
            std::env::temp_dir().join(format!("kindling-providers-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let dirs: Vec<PathBuf> = ["run", "etc", "usr"].iter().map(|d| dir.join(d)).collect();
        for d in &dirs {
            std::fs::create_dir_all(d).unwrap();
        }
        let host = Host {
            kernel_cmdline: dir.join("cmdline"),
            system_config_dirs: dirs,
            config_file: dir.join("config.ign"),
            qemu_fw_cfg: dir.join("qemu_fw_cfg"),
            modprobe: "false".into(),
            disk_by_label: dir.join("by-label"),
            metadata_url: None,
            metadata_url_v6: None,
            if_inet6: dir.join("if_inet6"),
        };
        (dir, host)
    }
}
