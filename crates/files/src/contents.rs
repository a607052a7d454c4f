//! Where file contents come from: the fetcher at boot, anything in tests.

use kindling_config::model::Resource;
use kindling_fetch::Fetcher;
use std::fs::File;

/// A source of file contents: streams `resource` into `out` (truncating it on a retry) and
/// returns only once the content is complete and verified.
pub trait Contents {
    fn fetch_into(&self, resource: &Resource, out: &mut File) -> Result<u64, String>;
}

impl Contents for Fetcher {
    fn fetch_into(&self, resource: &Resource, out: &mut File) -> Result<u64, String> {
        Fetcher::fetch_into(self, resource, out).map_err(|e| e.to_string())
    }
}

/// Fetch `resource` into `out`; an empty source is empty content, without a fetch.
pub fn fill(contents: &dyn Contents, resource: &Resource, out: &mut File) -> Result<(), String> {
    match resource.source.as_deref() {
        None | Some("") => Ok(()),
        Some(_) => contents.fetch_into(resource, out).map(|_| ()),
    }
}

#[cfg(test)]
pub mod fake {
    //! In-memory contents for tests: `mem:<text>` sources, and `fail:<why>` ones that fail.
    use super::*;
    use std::io::Write;

    pub struct Mem;

    impl Contents for Mem {
        fn fetch_into(&self, resource: &Resource, out: &mut File) -> Result<u64, String> {
            let source = resource.source.as_deref().unwrap_or_default();
            if let Some(text) = source.strip_prefix("mem:") {
                out.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
                Ok(text.len() as u64)
            } else {
                Err(format!("fetch of {source:?} failed"))
            }
        }
    }
}
