//! Runs scenarios (a few at once) and prints each one's time and a summary line.

use crate::check::{self, State};
use crate::host::{self, Result};
use crate::image::Guest;
use crate::scenario::{Boot, ImageKind, Scenario, VFAT_DEFAULT_MIB};
use crate::serve::HttpServer;
use crate::vm::{self, End};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod config_drive;
pub mod disk_fill;
pub mod guest_report;
mod tang;

/// How many reboots the kernel-argument helper may ask for within one scenario boot.
const MAX_KARGS_REBOOTS: usize = 2;

/// Looks at a held VM (the demo), given its console so far.
pub type Show = dyn Fn(&str) -> Result<()>;

pub struct Outcome {
    pub name: String,
    pub secs: f64,
    pub problems: Vec<String>,
}

/// Runs every scenario and prints the summary; returns whether all passed.
///
/// `KINDLING_VM_JOBS` scenarios run at once (default 2: one single-vCPU TCG guest keeps about
/// one host core busy, so two fill this 2-core machine). Each scenario has its own directory,
/// disks and servers.
pub fn run_all(guest: &Guest, scenarios: &[Scenario], work: &Path) -> bool {
    let jobs = env_count("KINDLING_VM_JOBS").unwrap_or(2);
    let vcpus = vcpus_for(jobs);
    // Another `cargo xtask vm` in the same tree would reuse the same scenario directories.
    let _lock = match host::lock_dir(work).and_then(|lock| check_free_space(work).map(|_| lock)) {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("xtask: {e}");
            return false;
        }
    };
    let started = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(scenarios.len()) {
            scope.spawn(|| {
                while let Some(s) =
                    scenarios.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    let outcome = run_timed(guest, s, work, vcpus);
                    if let Ok(mut done) = done.lock() {
                        done.push(outcome);
                    }
                }
            });
        }
    });
    let mut outcomes = done.into_inner().unwrap_or_default();
    outcomes.sort_by(|a, b| a.name.cmp(&b.name));
    print_summary(&outcomes, work, started.elapsed().as_secs_f64(), jobs);
    outcomes.iter().all(|o| o.problems.is_empty())
}

/// Virtual CPUs per guest (`KINDLING_VM_SMP` overrides). Two 2-vCPU TCG guests on two host
/// cores slow each other down far more than they gain: a scenario that takes 40 s alone took
/// 146 s next to another one, against 55 s with one vCPU each.
pub fn vcpus_for(jobs: usize) -> usize {
    env_count("KINDLING_VM_SMP").unwrap_or(if jobs > 1 { 1 } else { 2 })
}

fn env_count(name: &str) -> Option<usize> {
    std::env::var(name)
        .ok()
        .and_then(|j| j.parse::<usize>().ok())
        .filter(|&j| j > 0)
}

fn run_timed(guest: &Guest, s: &Scenario, work: &Path, vcpus: usize) -> Outcome {
    eprintln!("--- scenario {}: {}", s.name, s.description);
    let started = Instant::now();
    let problems = match run_held(guest, s, &work.join(&s.name), None, vcpus) {
        Ok(p) => p,
        Err(e) => vec![e],
    };
    let secs = started.elapsed().as_secs_f64();
    if problems.is_empty() && std::env::var_os("KINDLING_VM_KEEP").is_none() {
        discard_images(&work.join(&s.name));
    }
    let verdict = if problems.is_empty() { "PASS" } else { "FAIL" };
    let mut text = format!("{verdict} {} ({secs:.0} s)", s.name);
    for p in &problems {
        text.push_str(&format!("\n    {}", p.replace('\n', "\n    ")));
    }
    eprintln!("{text}");
    Outcome {
        name: s.name.clone(),
        secs,
        problems,
    }
}

/// Free space the scenario directories need: two scenarios at once, each with an overlay on
/// the cached root image and disks of up to a few hundred MiB, plus a failed one's images kept.
const NEEDED_FREE_BYTES: u64 = 3 << 30;

fn check_free_space(work: &Path) -> Result<()> {
    let out = host::output(Command::new("df").args(["--output=avail", "-B1"]).arg(work))?;
    let avail: u64 = out
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("cannot read the free space of {} from df", work.display()))?;
    if avail < NEEDED_FREE_BYTES {
        return Err(format!(
            "only {} MiB free under {}; the VM scenarios need about {} MiB: free some space \
             (old target/kindling-vm directories, `cargo clean`) or point CARGO_TARGET_DIR elsewhere",
            avail >> 20,
            work.display(),
            NEEDED_FREE_BYTES >> 20
        ));
    }
    Ok(())
}

/// Removes a passed scenario's disk images and their staging directories; its console logs,
/// checks and guest reports stay. `KINDLING_VM_KEEP=1` keeps everything; a failed scenario
/// always keeps everything.
fn discard_images(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let removed = if path.is_dir() {
            let staging = name.ends_with("-files") || name.ends_with("-fill") || name == "tftp";
            staging.then(|| std::fs::remove_dir_all(&path))
        } else {
            let image = [".img", ".iso", ".qcow2"].iter().any(|x| name.ends_with(x));
            image.then(|| std::fs::remove_file(&path))
        };
        if let Some(Err(err)) = removed {
            eprintln!("cannot remove {}: {err}", path.display());
        }
    }
}

fn print_summary(outcomes: &[Outcome], work: &Path, wall: f64, jobs: usize) {
    println!("\nVM scenarios (logs under {}):", work.display());
    for o in outcomes {
        let verdict = if o.problems.is_empty() {
            "pass"
        } else {
            "FAIL"
        };
        println!("  {verdict}  {:>5.0} s  {}", o.secs, o.name);
    }
    let failed = outcomes.iter().filter(|o| !o.problems.is_empty()).count();
    let total: f64 = outcomes.iter().map(|o| o.secs).sum();
    println!(
        "{} passed, {failed} failed ({total:.0} s of scenarios in {wall:.0} s, {jobs} at once)",
        outcomes.len() - failed
    );
}

/// Disks, servers and boots of one scenario; returns its problems. With `show`, the VM is kept
/// running after its report while `show` runs (the demo looks at the live system), then stopped.
pub fn run_held(
    guest: &Guest,
    s: &Scenario,
    dir: &Path,
    show: Option<&Show>,
    vcpus: usize,
) -> Result<Vec<String>> {
    let setup = Setup::new(guest, s, dir, vcpus)?;
    let mut problems = Vec::new();
    let mut last_boot_id = None;
    for (i, boot) in s.boots.iter().enumerate() {
        let label = format!("boot {}", i + 1);
        let sums = if boot.expect.disks_unchanged {
            disk_fill::checksums(&setup.disks)?
        } else {
            Vec::new()
        };
        let (end, console) = setup.boot(s, boot, i, show)?;
        let mut bad = evaluate(boot, &end, &console, &setup.root_disk);
        if boot.expect.disks_unchanged {
            bad.extend(disk_fill::changed(&setup.disks, &sums)?);
        }
        if let Some(state) = State::parse(&console) {
            guest_report::save(&state, dir, i + 1)?;
        }
        let seen = setup.stands.as_ref().map(|m| m.take()).unwrap_or_default();
        bad.extend(crate::metadata::check(&boot.expect.requests, &seen));
        let boot_id = state_boot_id(&console);
        if boot_id.is_some() && boot_id == last_boot_id {
            bad.push("the guest reported the same boot id as the boot before".into());
        }
        last_boot_id = boot_id;
        problems.extend(bad.into_iter().map(|p| format!("{label}: {p}")));
        if !problems.is_empty() {
            break;
        }
    }
    Ok(problems)
}

fn state_boot_id(console: &str) -> Option<String> {
    let at = console.find("\nboot_id\t")?;
    console[at + 9..]
        .lines()
        .next()
        .map(|l| l.trim().to_string())
}

/// Compares one boot's end with its expectations.
fn evaluate(boot: &Boot, end: &End, console: &str, root_disk: &Path) -> Vec<String> {
    let tail = || {
        let lines: Vec<&str> = console.lines().collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    };
    match (&boot.expect.failure, end) {
        (Some(want), End::Failed) => {
            let mut bad = check::failure(want, console);
            bad.extend(files_on_disk(&boot.expect.files, root_disk));
            bad
        }
        (None, End::Reported) => match State::parse(console) {
            Some(state) => check::state(&boot.expect, &state),
            None => vec!["the collector's report is incomplete".into()],
        },
        (Some(_), other) => vec![format!(
            "expected a failure, got {other:?}; console ends:\n{}",
            tail()
        )],
        (None, End::Failed) => vec![format!("provisioning failed; console ends:\n{}", tail())],
        (None, other) => vec![format!("no report ({other:?}); console ends:\n{}", tail())],
    }
}

/// After a failed boot the guest cannot report: look at the root disk image itself.
fn files_on_disk(
    files: &BTreeMap<String, crate::scenario::FileExpect>,
    root_disk: &Path,
) -> Vec<String> {
    if files.is_empty() {
        return Vec::new();
    }
    // debugfs reads raw images only: flatten an overlay into a sparse scratch copy first.
    let scratch = root_disk.with_extension("inspect.img");
    let raw = if vm::is_qcow2(root_disk) {
        let converted = host::run(
            Command::new("qemu-img")
                .args(["convert", "-O", "raw"])
                .arg(root_disk)
                .arg(&scratch),
        );
        if let Err(e) = converted {
            return vec![e];
        }
        scratch.as_path()
    } else {
        root_disk
    };
    let mut bad = Vec::new();
    for (path, want) in files {
        let out = Command::new("debugfs")
            .arg("-R")
            .arg(format!("stat {path}"))
            .arg(raw)
            .output();
        let Ok(out) = out else {
            bad.push("cannot run debugfs".into());
            continue;
        };
        let text = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
        let exists = !text.contains("File not found");
        if exists == want.absent {
            let what = if exists { "exists" } else { "is absent" };
            bad.push(format!("file {path} {what} on the root disk"));
        }
    }
    let _ = std::fs::remove_file(&scratch);
    bad
}

/// The scenario's root disk: a qcow2 overlay on the cached image, a few MiB instead of a copy
/// of its 800 MiB. A scenario with `rootLinks` gets a raw copy, which debugfs can edit.
fn root_disk(guest: &Guest, s: &Scenario, dir: &Path) -> Result<PathBuf> {
    if s.root_links.is_empty() {
        let overlay = dir.join("root.qcow2");
        host::run(
            Command::new("qemu-img")
                .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
                .arg(&guest.root_image)
                .arg(&overlay),
        )?;
        return Ok(overlay);
    }
    let copy = dir.join("root.img");
    host::run(
        Command::new("cp")
            .args(["--sparse=always", "--reflink=auto"])
            .arg(&guest.root_image)
            .arg(&copy),
    )?;
    for (link, target) in &s.root_links {
        // debugfs edits the ext4 image in place, no mount needed.
        host::run(
            Command::new("debugfs")
                .arg("-w")
                .arg("-R")
                .arg(format!("symlink {link} {target}"))
                .arg(&copy),
        )?;
    }
    Ok(copy)
}

/// A scenario's disks and servers, shared by its boots.
struct Setup<'a> {
    guest: &'a Guest,
    vcpus: usize,
    dir: PathBuf,
    root_disk: PathBuf,
    disks: Vec<PathBuf>,
    sector_sizes: BTreeMap<PathBuf, u64>,
    cdroms: Vec<PathBuf>,
    http: Option<HttpServer>,
    tang: Option<tang::TangServer>,
    tftp_dir: Option<PathBuf>,
    config: Option<PathBuf>,
    stands: Option<crate::metadata::Stands>,
}

impl<'a> Setup<'a> {
    fn new(guest: &'a Guest, s: &Scenario, dir: &Path, vcpus: usize) -> Result<Setup<'a>> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
        }
        host::mkdir(&dir.join("kargs"))?;
        let root_disk = root_disk(guest, s, dir)?;
        let mut disks = Vec::new();
        let mut sector_sizes = BTreeMap::new();
        let mut cdroms = Vec::new();
        for (i, d) in s.disks.iter().enumerate() {
            if let Some(image) = &d.image {
                let ext = match image.kind {
                    ImageKind::Iso9660 | ImageKind::Udf => "iso",
                    ImageKind::Vfat => "img",
                };
                let path = dir.join(format!("disk{}.{ext}", i + 1));
                let size = d.size_mib.unwrap_or(VFAT_DEFAULT_MIB);
                let staging = dir.join(format!("disk{}-files", i + 1));
                config_drive::build(s, image, size, &staging, &path)
                    .map_err(|e| format!("disk {}: {e}", i + 1))?;
                if d.cdrom { &mut cdroms } else { &mut disks }.push(path);
                continue;
            }
            let path = dir.join(format!("disk{}.img", i + 1));
            let file = std::fs::File::create(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            // Scenario::load refuses a blank disk without a size.
            let size_mib = d.size_mib.unwrap_or_default();
            file.set_len(size_mib * 1024 * 1024)
                .map_err(|e| format!("cannot size {}: {e}", path.display()))?;
            let sector = d.sector_size.unwrap_or(512);
            if sector != 512 {
                sector_sizes.insert(path.clone(), sector);
            }
            if let Some(layout) = &d.layout {
                let mut child = Command::new("sfdisk")
                    .args(["--quiet", "--no-reread", "--no-tell-kernel"])
                    .arg(&path)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| format!("cannot start sfdisk: {e}"))?;
                if let Some(mut stdin) = child.stdin.take() {
                    use std::io::Write as _;
                    stdin
                        .write_all(layout.as_bytes())
                        .map_err(|e| format!("cannot feed sfdisk: {e}"))?;
                }
                let status = child.wait().map_err(|e| format!("sfdisk: {e}"))?;
                if !status.success() {
                    return Err(format!(
                        "sfdisk could not apply the layout of disk {}",
                        i + 1
                    ));
                }
            }
            let scratch = dir.join(format!("disk{}-fill", i + 1));
            disk_fill::fill(&path, &d.filesystems, &scratch)
                .map_err(|e| format!("disk {}: {e}", i + 1))?;
            if d.corrupt_table {
                disk_fill::corrupt_table(&path)?;
            }
            disks.push(path);
        }
        let http = if s.serve.http.is_empty() {
            None
        } else {
            let mut files = BTreeMap::new();
            for (url_path, file) in &s.serve.http {
                files.insert(url_path.clone(), host::read(&s.file(file))?);
            }
            Some(HttpServer::start(
                files,
                Duration::from_secs(s.serve.http_delay_secs),
            )?)
        };
        let stands = if s.serve.azure {
            Some(crate::metadata::Stands::azure()?)
        } else {
            None
        };
        let tang = if s.serve.tang {
            Some(tang::TangServer::start(
                &host::repo_root().join(tang::KEY_DIR),
            )?)
        } else {
            None
        };
        let tftp_dir = if s.serve.tftp.is_empty() {
            None
        } else {
            let tftp = dir.join("tftp");
            host::mkdir(&tftp)?;
            for (name, file) in &s.serve.tftp {
                host::write(&tftp.join(name), host::read(&s.file(file))?)?;
            }
            Some(tftp)
        };
        let config = s.fw_cfg_config.as_ref().map(|c| s.file(c));
        Ok(Setup {
            guest,
            vcpus,
            dir: dir.to_path_buf(),
            root_disk,
            disks,
            sector_sizes,
            cdroms,
            http,
            tang,
            tftp_dir,
            config,
            stands,
        })
    }

    /// One boot of the scenario, following reboots the kernel-argument helper asks for.
    /// With `show`, the VM is held after its report while `show` runs.
    fn boot(
        &self,
        s: &Scenario,
        boot: &Boot,
        index: usize,
        show: Option<&Show>,
    ) -> Result<(End, String)> {
        let hold = show.is_some();
        let mut args = vec![
            "console=ttyS0,115200".to_string(),
            "root=/dev/vda".into(),
            "rw".into(),
            "panic=-1".into(),
            "loglevel=4".into(),
            format!("ignition.platform.id={}", s.platform),
        ];
        if boot.firstboot {
            args.push("ignition.firstboot".into());
        }
        args.extend(s.kargs.iter().cloned());
        args.extend(boot.kargs.iter().cloned());
        let store = self.dir.join("kargs/cmdline");
        host::write(&store, args.join(" ") + "\n")?;

        let checks = self.dir.join(format!("checks-{}.txt", index + 1));
        host::write(&checks, crate::scenario::checks(&boot.expect))?;
        let mut fw_cfg = vec![("opt/kindling/checks".to_string(), checks)];
        if let Some(config) = &self.config {
            fw_cfg.push(("opt/com.coreos/config".into(), config.clone()));
        }
        if hold {
            let flag = self.dir.join("hold");
            host::write(&flag, "1")?;
            fw_cfg.push(("opt/kindling/hold".into(), flag));
        }
        if let Some(tang) = &self.tang {
            tang.set_up(!boot.tang_down);
        }
        let mut console = String::new();
        for attempt in 0..=MAX_KARGS_REBOOTS {
            let cmdline = String::from_utf8_lossy(&host::read(&store)?)
                .trim()
                .to_string();
            let vm = vm::Boot {
                guest: self.guest,
                root_disk: self.root_disk.clone(),
                disks: self.disks.clone(),
                sector_sizes: self.sector_sizes.clone(),
                cdroms: self.cdroms.clone(),
                cmdline: cmdline.clone(),
                vcpus: self.vcpus,
                fw_cfg: fw_cfg.clone(),
                http_port: self.http.as_ref().map(|h| h.port),
                tang_port: self.tang.as_ref().map(|t| t.port),
                tftp_dir: self.tftp_dir.clone(),
                network: s.serve.azure.then_some(crate::metadata::NETWORK),
                guestfwd: self
                    .stands
                    .as_ref()
                    .map(|m| m.forwards.clone())
                    .unwrap_or_default(),
                hostfwd: s.hostfwd(),
                tpm_state: s.tpm.then(|| self.dir.join("tpm")),
                kargs_dir: self.dir.join("kargs"),
                log: self
                    .dir
                    .join(format!("console-{}.{attempt}.log", index + 1)),
            };
            let mut running = vm.spawn()?;
            let end = running.wait(Duration::from_secs(boot.timeout_secs), hold);
            console.push_str(&running.console());
            if let (End::Reported, Some(show)) = (&end, show) {
                let shown = show(&console);
                running.stop();
                shown?;
            }
            let changed = String::from_utf8_lossy(&host::read(&store)?).trim() != cmdline;
            if end == End::Exited && changed {
                eprintln!("    kernel arguments changed, booting again");
                continue;
            }
            return Ok((end, console));
        }
        Ok((End::Exited, console))
    }
}
