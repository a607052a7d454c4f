//! Deleting the config from the platform after the first boot, where it would otherwise stay
//! readable by every later process in the VM (`ignition-rmcfg`): VMware guestinfo and
//! VirtualBox guest properties. Other platforms keep nothing the guest can delete.

use crate::ProviderError;

/// Delete the config the platform holds for this machine.
pub fn delete_config(platform: &str) -> Result<(), ProviderError> {
    match platform {
        "vmware" => crate::vmware::delete(),
        "virtualbox" => crate::virtualbox::delete(),
        other => Err(ProviderError::Invalid(format!(
            "cannot delete config on this platform ({other})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_vmware_and_virtualbox_keep_a_deletable_config() {
        for platform in ["aws", "qemu", "metal", ""] {
            let err = delete_config(platform).unwrap_err();
            assert!(err.to_string().contains("cannot delete config"), "{err}");
        }
    }
}
