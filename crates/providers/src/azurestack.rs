//! `azurestack` (Azure Stack Hub): only the custom data of the provisioning CD-ROM (UDF or
//! ISO 9660, `ovf-env.xml` + `CustomData.bin`), as in the Azure Stack Hub docs on custom
//! data; waited for forever. The CD-ROM path is shared with `azure`; it cannot run on the
//! test host (no CD-ROM, no udf), see docs/platforms.md.

use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;

pub struct AzureStack;

impl Provider for AzureStack {
    fn id(&self) -> &'static str {
        "azurestack"
    }

    fn fetch(&self, _fetcher: &Fetcher, _host: &Host) -> Result<Fetched, ProviderError> {
        crate::azure::custom_data(&["udf", "iso9660"]).map(Some)
    }
}
