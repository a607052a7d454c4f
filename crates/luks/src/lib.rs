//! LUKS2 volumes for the disks stage.

pub mod header;
pub mod options;
pub mod token;
pub mod tpm2;
pub mod volume;

#[cfg(test)]
mod testtpm;
