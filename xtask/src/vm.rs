//! One QEMU boot under TCG: disks, fw_cfg entries, restricted user networking, optional swtpm,
//! the serial console captured to a log and watched for the harness's markers.

use crate::host::{self, Result};
use crate::image::Guest;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Guest address that guestfwd maps to the loopback HTTP server.
pub const HTTP_GUEST_ADDR: &str = "10.0.2.100";
/// Guest address that guestfwd maps to the loopback tang server (port 80).
pub const TANG_GUEST_ADDR: &str = "10.0.2.101";
/// x86-64-v2 with AES-NI. `-cpu max` offers AVX2 and more, which TCG emulates slowly: the same
/// scenarios took 20-40% longer with it (and longer still as `Haswell-v4`).
const GUEST_CPU: &str = "qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt,+aes,+pclmulqdq";
pub const STATE_END: &str = "=====KINDLING-STATE-END=====";
pub const FAILURE_BANNER: &str = "Kindling: provisioning failed";

pub struct Boot<'a> {
    pub guest: &'a Guest,
    pub root_disk: PathBuf,
    pub disks: Vec<PathBuf>,
    /// Logical (and physical) sector size of disks that do not have 512-byte sectors.
    pub sector_sizes: BTreeMap<PathBuf, u64>,
    /// Read-only CD-ROM images on a virtio-scsi controller (`/dev/sr0`, …).
    pub cdroms: Vec<PathBuf>,
    pub cmdline: String,
    /// Virtual CPUs (each is a host thread under TCG).
    pub vcpus: usize,
    pub fw_cfg: Vec<(String, PathBuf)>,
    /// Loopback port the guest reaches at http://10.0.2.100/.
    pub http_port: Option<u16>,
    /// Loopback port the guest reaches at http://10.0.2.101/ (tang).
    pub tang_port: Option<u16>,
    pub tftp_dir: Option<PathBuf>,
    /// The user network (`net=`) when not QEMU's default 10.0.2.0/24.
    pub network: Option<&'static str>,
    /// (guest address, loopback port): guest port 80 at that address goes to 127.0.0.1.
    pub guestfwd: Vec<(String, u16)>,
    /// (host port on 127.0.0.1, guest port).
    pub hostfwd: Vec<(u16, u16)>,
    /// swtpm state directory; a TPM is attached when set.
    pub tpm_state: Option<PathBuf>,
    /// Shared with the guest's kernel-argument helper as 9p tag `kindling-kargs`.
    pub kargs_dir: PathBuf,
    pub log: PathBuf,
}

/// Disk images named `*.qcow2` are qcow2 overlays; every other image is raw.
pub fn is_qcow2(disk: &Path) -> bool {
    disk.extension().is_some_and(|e| e == "qcow2")
}

/// How a boot ended.
#[derive(Debug, PartialEq)]
pub enum End {
    /// The collector reported and the guest powered off (or, held, is still running).
    Reported,
    /// The failure summary appeared: the boot stopped in emergency mode.
    Failed,
    /// QEMU exited without a report (e.g. a reboot requested by the kargs helper).
    Exited,
    TimedOut,
}

pub struct Running {
    child: Child,
    tpm: Option<Child>,
    console: Arc<Mutex<String>>,
}

impl Boot<'_> {
    pub fn spawn(&self) -> Result<Running> {
        let mut tpm = None;
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-accel", "tcg", "-cpu", GUEST_CPU, "-m", "1536"])
            .arg("-smp")
            .arg(self.vcpus.to_string())
            .args([
                "-nodefaults",
                "-display",
                "none",
                "-no-reboot",
                "-serial",
                "stdio",
            ])
            .arg("-kernel")
            .arg(&self.guest.kernel)
            .arg("-initrd")
            .arg(&self.guest.initrd)
            .arg("-append")
            .arg(&self.cmdline);
        // Explicit virtio-blk devices, in order (vda, vdb, …), so a disk can have 4 KiB sectors.
        for (i, disk) in std::iter::once(&self.root_disk)
            .chain(&self.disks)
            .enumerate()
        {
            let sector = self.sector_sizes.get(disk).copied().unwrap_or(512);
            let format = if is_qcow2(disk) { "qcow2" } else { "raw" };
            cmd.arg("-drive")
                .arg(format!(
                    "file={},if=none,id=vd{i},format={format},cache=unsafe",
                    disk.display()
                ))
                .arg("-device")
                .arg(format!(
                    "virtio-blk-pci,drive=vd{i},logical_block_size={sector},physical_block_size={sector}"
                ));
        }
        if !self.cdroms.is_empty() {
            cmd.args(["-device", "virtio-scsi-pci,id=scsi0"]);
        }
        for (i, iso) in self.cdroms.iter().enumerate() {
            cmd.arg("-drive")
                .arg(format!(
                    "file={},if=none,id=cd{i},format=raw,media=cdrom,readonly=on",
                    iso.display()
                ))
                .arg("-device")
                .arg(format!("scsi-cd,drive=cd{i},bus=scsi0.0"));
        }
        for (name, file) in &self.fw_cfg {
            cmd.arg("-fw_cfg")
                .arg(format!("name={name},file={}", file.display()));
        }
        let mut net = String::from("user,id=n0,restrict=on");
        if let Some(network) = self.network {
            net.push_str(&format!(",net={network}"));
        }
        for (addr, port) in &self.guestfwd {
            net.push_str(&format!(
                ",guestfwd=tcp:{addr}:80-cmd:socat STDIO TCP4:127.0.0.1:{port}"
            ));
        }
        if let Some(port) = self.http_port {
            net.push_str(&format!(
                ",guestfwd=tcp:{HTTP_GUEST_ADDR}:80-cmd:socat STDIO TCP4:127.0.0.1:{port}"
            ));
        }
        if let Some(port) = self.tang_port {
            net.push_str(&format!(
                ",guestfwd=tcp:{TANG_GUEST_ADDR}:80-cmd:socat STDIO TCP4:127.0.0.1:{port}"
            ));
        }
        if let Some(dir) = &self.tftp_dir {
            net.push_str(&format!(",tftp={}", dir.display()));
        }
        for (host_port, guest_port) in &self.hostfwd {
            net.push_str(&format!(",hostfwd=tcp:127.0.0.1:{host_port}-:{guest_port}"));
        }
        cmd.arg("-netdev")
            .arg(net)
            .args(["-device", "virtio-net-pci,netdev=n0"]);
        cmd.arg("-virtfs").arg(format!(
            "local,path={},mount_tag=kindling-kargs,security_model=none",
            self.kargs_dir.display()
        ));
        if let Some(state) = &self.tpm_state {
            host::mkdir(state)?;
            let sock = state.join("swtpm.sock");
            let _ = std::fs::remove_file(&sock);
            tpm = Some(
                Command::new("swtpm")
                    .args(["socket", "--tpm2", "--tpmstate"])
                    .arg(format!("dir={}", state.display()))
                    .arg("--ctrl")
                    .arg(format!("type=unixio,path={}", sock.display()))
                    .stdout(Stdio::null())
                    .spawn()
                    .map_err(|e| format!("cannot start swtpm: {e}"))?,
            );
            wait_for_path(&sock)?;
            cmd.arg("-chardev")
                .arg(format!("socket,id=chrtpm,path={}", sock.display()))
                .args(["-tpmdev", "emulator,id=tpm0,chardev=chrtpm"])
                .args(["-device", "tpm-tis,tpmdev=tpm0"]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start QEMU: {e}"))?;
        let console = Arc::new(Mutex::new(String::new()));
        let mut log = std::fs::File::create(&self.log)
            .map_err(|e| format!("cannot create {}: {e}", self.log.display()))?;
        if let Some(mut out) = child.stdout.take() {
            let console = console.clone();
            std::thread::spawn(move || {
                use std::io::Write as _;
                let mut buf = [0u8; 4096];
                while let Ok(n) = out.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let _ = log.write_all(&buf[..n]);
                    if let Ok(mut c) = console.lock() {
                        c.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
        }
        if let Some(mut err) = child.stderr.take() {
            let console = console.clone();
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = err.read_to_string(&mut text);
                if !text.is_empty()
                    && let Ok(mut c) = console.lock()
                {
                    c.push_str("\n[qemu] ");
                    c.push_str(&text);
                }
            });
        }
        Ok(Running {
            child,
            tpm,
            console,
        })
    }
}

fn wait_for_path(path: &Path) -> Result<()> {
    let started = Instant::now();
    while !path.exists() {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("{} did not appear", path.display()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

impl Running {
    pub fn console(&self) -> String {
        self.console.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Waits until the guest reported, failed, exited or ran out of time. When `hold` is set
    /// the VM keeps running after its report (the caller stops it).
    pub fn wait(&mut self, timeout: Duration, hold: bool) -> End {
        let started = Instant::now();
        let mut failed_at: Option<Instant> = None;
        loop {
            let exited = matches!(self.child.try_wait(), Ok(Some(_)));
            let console = self.console();
            if let Some(at) = failed_at {
                // Let the summary finish printing, then leave the emergency shell behind.
                if exited || at.elapsed() > Duration::from_secs(3) {
                    self.stop();
                    return End::Failed;
                }
            } else if console.contains(STATE_END) {
                if hold {
                    return End::Reported;
                }
                // The guest powers itself off right after reporting.
                if exited || self.wait_exit(Duration::from_secs(30)) {
                    return End::Reported;
                }
                self.stop();
                return End::Reported;
            } else if console.contains(FAILURE_BANNER) {
                failed_at = Some(Instant::now());
                continue;
            } else if exited {
                // Give the reader thread a moment to drain the pipe.
                std::thread::sleep(Duration::from_millis(200));
                return if self.console().contains(STATE_END) {
                    End::Reported
                } else {
                    End::Exited
                };
            } else if started.elapsed() > timeout {
                self.stop();
                return End::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_exit(&mut self, limit: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(tpm) = &mut self.tpm {
            let _ = tpm.kill();
            let _ = tpm.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}
