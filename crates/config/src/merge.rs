//! The merge algorithm (parent ⊕ child): keyed lists, shared key spaces, append lists, header deletion.

use crate::Config;

/// Merge `child` onto `parent` as Ignition does.
pub fn merge(parent: &Config, child: &Config) -> Config {
    let _ = (parent, child);
    todo!("config engine: merge")
}
