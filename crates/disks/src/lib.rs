//! The disks, mount and umount stages.

pub mod devices;
pub mod filesystems;
pub mod kernel;
pub mod partitions;
pub mod placement;
pub mod probe;
pub mod raid;
pub mod table;
