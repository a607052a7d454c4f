//! Telling the kernel about a new partition table, and waiting for exactly the device nodes the
//! next steps need (instead of a blanket `udevadm settle`).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::raw::{c_char, c_int, c_longlong, c_void};
use std::path::Path;
use std::time::{Duration, Instant};

const BLK: u8 = 0x12;

// struct blkpg_ioctl_arg and struct blkpg_partition from <linux/blkpg.h>.
#[repr(C)]
struct BlkpgIoctlArg {
    op: c_int,
    flags: c_int,
    datalen: c_int,
    data: *mut c_void,
}

#[repr(C)]
struct BlkpgPartition {
    start: c_longlong,
    length: c_longlong,
    pno: c_int,
    devname: [c_char; 64],
    volname: [c_char; 64],
}

const BLKPG_ADD_PARTITION: c_int = 1;
const BLKPG_DEL_PARTITION: c_int = 2;

nix::ioctl_read_bad!(blksszget, nix::request_code_none!(BLK, 104), c_int);
nix::ioctl_none_bad!(blkrrpart, nix::request_code_none!(BLK, 95));
nix::ioctl_write_ptr_bad!(blkpg, nix::request_code_none!(BLK, 105), BlkpgIoctlArg);

/// The logical sector size of a block device (BLKSSZGET).
pub fn logical_sector_size(dev: &File) -> std::io::Result<u64> {
    let mut size: c_int = 0;
    // SAFETY: BLKSSZGET writes one int through the pointer, which outlives the call.
    unsafe { blksszget(dev.as_raw_fd(), &mut size) }?;
    u64::try_from(size).map_err(std::io::Error::other)
}

/// Re-read the whole partition table (BLKRRPART); fails with EBUSY while partitions are in use.
pub fn reread(dev: &File) -> nix::Result<()> {
    // SAFETY: BLKRRPART takes no argument.
    unsafe { blkrrpart(dev.as_raw_fd()) }.map(drop)
}

fn partition_op(dev: &File, op: c_int, number: u32, start: u64, length: u64) -> nix::Result<()> {
    let too_big = |_| nix::errno::Errno::EOVERFLOW;
    let mut part = BlkpgPartition {
        start: c_longlong::try_from(start).map_err(too_big)?,
        length: c_longlong::try_from(length).map_err(too_big)?,
        pno: c_int::try_from(number).map_err(too_big)?,
        devname: [0; 64],
        volname: [0; 64],
    };
    let arg = BlkpgIoctlArg {
        op,
        flags: 0,
        datalen: std::mem::size_of::<BlkpgPartition>() as c_int,
        data: (&mut part as *mut BlkpgPartition).cast(),
    };
    // SAFETY: `arg` points at `part`; both live until the ioctl returns.
    unsafe { blkpg(dev.as_raw_fd(), &arg) }.map(drop)
}

/// Remove partition `number` from the kernel's view (BLKPG); absent already is fine.
pub fn del_partition(dev: &File, number: u32) -> nix::Result<()> {
    match partition_op(dev, BLKPG_DEL_PARTITION, number, 0, 0) {
        Err(nix::errno::Errno::ENXIO) => Ok(()),
        r => r,
    }
}

/// Add partition `number` at `start`/`length` bytes to the kernel's view (BLKPG).
pub fn add_partition(dev: &File, number: u32, start: u64, length: u64) -> nix::Result<()> {
    partition_op(dev, BLKPG_ADD_PARTITION, number, start, length)
}

/// Poll until every path in `present` exists and every path in `absent` is gone.
pub fn wait_for(present: &[&Path], absent: &[&Path], timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let missing: Vec<_> = present.iter().filter(|p| !p.exists()).collect();
        let lingering: Vec<_> = absent.iter().filter(|p| p.exists()).collect();
        if missing.is_empty() && lingering.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let mut what = Vec::new();
            if !missing.is_empty() {
                what.push(format!("{missing:?} did not appear"));
            }
            if !lingering.is_empty() {
                what.push(format!("{lingering:?} did not go away"));
            }
            return Err(format!(
                "timed out after {}s waiting for device nodes: {}; is udev running?",
                timeout.as_secs(),
                what.join(", ")
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The node a device path (often a udev symlink) resolves to, retried until `timeout`: udev
/// removes and re-creates `/dev/disk/by-*` links while it reprocesses a disk.
pub fn resolve(path: &Path, timeout: Duration) -> Result<std::path::PathBuf, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match std::fs::canonicalize(path) {
            Ok(node) => return Ok(node),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "cannot resolve {path:?} within {}s: {e}",
                    timeout.as_secs()
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_with_a_clear_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let here = dir.path().join("here");
        std::fs::write(&here, "").unwrap();
        let gone = dir.path().join("gone");
        assert_eq!(
            wait_for(&[&here], &[&gone], Duration::from_millis(10)),
            Ok(())
        );
        let e = wait_for(&[&gone], &[&here], Duration::from_millis(50)).unwrap_err();
        assert!(
            e.contains("did not appear") && e.contains("did not go away"),
            "{e}"
        );
    }

    #[test]
    fn resolves_links_and_times_out_on_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let node = dir.path().join("node");
        std::fs::write(&node, "").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&node, &link).unwrap();
        let got = resolve(&link, Duration::from_millis(10)).unwrap();
        assert_eq!(got, std::fs::canonicalize(&node).unwrap());
        let missing = dir.path().join("missing");
        assert!(
            resolve(&missing, Duration::from_millis(30))
                .unwrap_err()
                .contains("within 0s")
        );
    }

    #[test]
    fn sector_size_ioctl_fails_cleanly_on_a_file() {
        let f = tempfile::tempfile().unwrap();
        assert!(logical_sector_size(&f).is_err());
    }
}
