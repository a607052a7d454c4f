//! The disks, mount and umount stages.

pub mod partitions;
pub mod placement;
pub mod table;
