//! Where the user config comes from.
//!
//! The engine asks, in order, the kernel command line ([`cmdline`]), the system config
//! directories ([`system`]) and the platform named by `--platform`; the first source that has
//! something wins. Every platform is a [`Provider`] in [`PLATFORMS`]: adding one is a module and
//! a line there, the engine does not change.

pub mod akamai;
pub mod aliyun;
pub mod applehv;
pub mod aws;
pub mod azure;
pub mod azurestack;
pub mod brightbox;
pub mod cloudstack;
pub mod cmdline;
pub mod digitalocean;
mod drive;
mod error;
pub mod exoscale;
pub mod file;
pub mod gcp;
pub mod hetzner;
mod host;
pub mod hyperv;
pub mod ibmcloud;
pub mod kubevirt;
pub mod metadata;
pub mod metal;
pub mod nutanix;
pub mod nvidiabluefield;
pub mod openstack;
pub mod oraclecloud;
pub mod packet;
pub mod powervs;
pub mod proxmoxve;
pub mod qemu;
mod qemu_blockdev;
mod rawhttp;
pub mod rmcfg;
pub mod scaleway;
pub mod system;
#[cfg(test)]
mod testserver;
pub mod upcloud;
pub mod virtualbox;
pub mod vmware;
pub mod vultr;
pub mod zvm;

pub use error::ProviderError;
pub use host::Host;

use kindling_fetch::Fetcher;

/// What a source answered: `None` when it has no config (the next source is asked), otherwise
/// the raw config bytes. Zero bytes mean "an empty config": the boot goes on without one.
pub type Fetched = Option<Vec<u8>>;

/// One platform (`--platform=<id>`).
pub trait Provider: Sync {
    /// The platform id, as on the command line and in `ignition.platform.id`.
    fn id(&self) -> &'static str;

    /// Runs in every stage before the config is acquired, to configure the fetcher for the
    /// platform (credentials, region hints). Most platforms need nothing.
    fn init(&self, _fetcher: &mut Fetcher, _host: &Host) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Fetch the user config the platform holds for this machine.
    fn fetch(&self, fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError>;

    /// Files the platform produced while fetching, for the files stage to write into the
    /// target (upstream's provider output files: Hyper-V's KVP pools). Asked after `fetch`.
    fn output_files(&self) -> Vec<kindling_config::model::File> {
        Vec::new()
    }

    /// Told how each stage ended, for platforms that report provisioning status; errors are
    /// only logged by the engine.
    fn status(
        &self,
        _stage: &str,
        _fetcher: &Fetcher,
        _error: Option<&str>,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// Every platform this build supports, by id.
pub static PLATFORMS: &[&dyn Provider] = &[
    &akamai::Akamai,
    &aliyun::ALIYUN,
    &applehv::AppleHv,
    &aws::Aws,
    &azure::Azure,
    &azurestack::AzureStack,
    &brightbox::Brightbox,
    &cloudstack::CloudStack,
    &digitalocean::DIGITALOCEAN,
    &exoscale::EXOSCALE,
    &file::File,
    &gcp::Gcp,
    &hetzner::HETZNER,
    &hyperv::HyperV,
    &ibmcloud::IBMCLOUD,
    &kubevirt::KUBEVIRT,
    &metal::Metal,
    &nutanix::NUTANIX,
    &nvidiabluefield::NvidiaBlueField,
    &openstack::OpenStack,
    &oraclecloud::ORACLECLOUD,
    &packet::Packet,
    &powervs::POWERVS,
    &proxmoxve::ProxmoxVe,
    &qemu::Qemu,
    &scaleway::Scaleway,
    &upcloud::UPCLOUD,
    &virtualbox::VirtualBox,
    &vmware::Vmware,
    &zvm::Zvm,
    &vultr::VULTR,
];

/// The platform with this id.
pub fn get(id: &str) -> Option<&'static dyn Provider> {
    PLATFORMS.iter().copied().find(|p| p.id() == id)
}

/// The supported platform ids, for usage and error messages.
pub fn ids() -> Vec<&'static str> {
    PLATFORMS.iter().map(|p| p.id()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_finds_each_platform_by_its_id() {
        for id in ["file", "metal", "qemu"] {
            assert_eq!(get(id).map(|p| p.id()), Some(id));
        }
        assert!(get("nosuchcloud").is_none());
        assert!(get("").is_none());
        let mut ids = ids();
        ids.dedup();
        assert_eq!(ids.len(), PLATFORMS.len(), "platform ids must be unique");
    }

    #[test]
    fn every_ignition_platform_is_supported() {
        // `ignition.platform.id` values upstream supports (docs/supported-platforms.md).
        let upstream = [
            "akamai",
            "aliyun",
            "applehv",
            "aws",
            "azure",
            "azurestack",
            "brightbox",
            "cloudstack",
            "digitalocean",
            "exoscale",
            "file",
            "gcp",
            "hetzner",
            "hyperv",
            "ibmcloud",
            "kubevirt",
            "metal",
            "nutanix",
            "nvidiabluefield",
            "openstack",
            "oraclecloud",
            "packet",
            "powervs",
            "proxmoxve",
            "qemu",
            "scaleway",
            "upcloud",
            "virtualbox",
            "vmware",
            "vultr",
            "zvm",
        ];
        let mut ours = ids();
        ours.sort_unstable();
        assert_eq!(ours, upstream);
    }
}
