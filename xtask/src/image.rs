//! The guest: a Debian 12 tree made by debootstrap, its root disk image, Debian's kernel and an
//! initramfs made by Debian's dracut with our module. Each piece is cached under
//! `/var/cache/kindling`, keyed by a digest of its inputs, so that CI and reruns reuse it.

use crate::host::{self, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub const CACHE: &str = "/var/cache/kindling";

/// What the stages and the harness need in the guest (besides debootstrap's minbase).
const GUEST_PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "udev",
    "dbus",
    "dracut",
    "dracut-network",
    "kmod",
    "passwd",
    "e2fsprogs",
    "xfsprogs",
    "btrfs-progs",
    "dosfstools",
    "mdadm",
    "cryptsetup-bin",
    // LUKS (crates/luks): the TPM2 libraries kindling links (the device TCTI is dlopened),
    // tpm2-tools for scenario checks, clevis with its LUKS, TPM2 and boot-time (askpass) parts.
    "libtss2-esys-3.0.2-0",
    "libtss2-tctildr0",
    "libtss2-mu0",
    "libtss2-tcti-device0",
    "tpm2-tools",
    "clevis",
    "clevis-luks",
    "clevis-tpm2",
    "clevis-systemd",
    "libpwquality-tools",
    "gdisk",
    "fdisk",
    "util-linux",
    "iproute2",
    "busybox",
    "curl",
    "procps",
];

/// Bump when the way the tree is made changes in a way its inputs do not show.
const TREE_RECIPE: &str = "tree-v1";
/// Bump when `configure_tree` changes.
const HARNESS_RECIPE: &str = "harness-v7";
const ROOT_SIZE: &str = "2G";
/// dracut modules a generic initramfs would pull in that provisioning never uses.
const OMIT: &str = "plymouth i18n network-legacy network-manager connman nfs iscsi nbd fcoe \
                    fcoe-uefi cifs ssh-client biosdevname lvm dmraid multipath nvdimm \
                    lunmask resume overlay-root virtiofs ifcfg kernel-modules-extra";

/// A built guest: boot files and a root disk image to copy per VM.
pub struct Guest {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub root_image: PathBuf,
}

/// Host packages the build needs.
pub fn host_packages() -> Vec<String> {
    [
        "qemu-system-x86",
        "ipxe-qemu",
        "seabios",
        "debootstrap",
        "socat",
        "swtpm",
        "swtpm-tools",
        "e2fsprogs",
        "fdisk",
        "cpio",
        "curl",
        "binutils",
        "kmod",
        // qemu-img: each scenario's root disk is a qcow2 overlay on the cached image.
        "qemu-utils",
        // Config drive images (qemu/scenarios: disks with an `image`).
        "xorriso",
        // UDF images (Azure's provisioning CD-ROM).
        "genisoimage",
        "mtools",
        "dosfstools",
        // The tang server for clevis scenarios (tangd; jose prints key thumbprints).
        "tang",
        "jose",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Builds (or finds in the cache) the guest for the given `kindling` binary.
pub fn build(binary: &Path) -> Result<Guest> {
    // Several checkouts may share the cache; the tree is also a build area (dracut runs in it).
    let _lock = host::lock_dir(Path::new(CACHE))?;
    let root = host::repo_root();
    let guest_dir = root.join("qemu/guest");
    let (tree, tree_key, kver) = tree()?;
    // The harness pieces are cheap to (re)install; their digest keys the images built next.
    configure_tree(&tree, &guest_dir)?;
    let root_key = host::digest(&[
        tree_key.as_bytes(),
        HARNESS_RECIPE.as_bytes(),
        &host::dir_contents(&guest_dir)?,
        &host::dir_contents(&root.join("systemd"))?,
    ])?;

    let root_image = Path::new(CACHE).join(format!("root-{root_key}.img"));
    if !root_image.exists() {
        let started = Instant::now();
        make_root_image(&tree, &root_image)?;
        eprintln!(
            "root image built in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }

    let initrd_key = host::digest(&[
        root_key.as_bytes(),
        &host::read(binary)?,
        &host::dir_contents(&root.join("dracut/30kindling"))?,
    ])?;
    let initrd = Path::new(CACHE).join(format!("initrd-{initrd_key}.img"));
    if !initrd.exists() {
        let started = Instant::now();
        make_initrd(
            &tree,
            &kver,
            binary,
            &root.join("dracut/30kindling"),
            &initrd,
        )?;
        eprintln!(
            "initramfs built in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    prune("root-", &root_image);
    prune("initrd-", &initrd);
    Ok(Guest {
        kernel: tree.join(format!("boot/vmlinuz-{kver}")),
        initrd,
        root_image,
    })
}

/// The debootstrapped tree with the kernel (slowest to build, cached longest): its path, its
/// cache key and the kernel version.
pub fn tree() -> Result<(PathBuf, String, String)> {
    let kernel_pkg = kernel_package()?;
    let tree_key = host::digest(&[
        TREE_RECIPE.as_bytes(),
        GUEST_PACKAGES.join(" ").as_bytes(),
        kernel_pkg.as_bytes(),
    ])?;
    let tree = Path::new(CACHE).join(format!("tree-{tree_key}"));
    if !tree.join(".complete").exists() {
        let started = Instant::now();
        make_tree(&tree, &kernel_pkg)?;
        eprintln!(
            "guest tree built in {:.0} s: {}",
            started.elapsed().as_secs_f64(),
            tree.display()
        );
    }
    let kver = kernel_version(&tree)?;
    prune("tree-", &tree);
    Ok((tree, tree_key, kver))
}

/// Removes a guest tree, unless the host's /proc, /sys or /dev is still bound into it (an
/// interrupted initramfs build): deleting through those would delete the host's files.
fn remove_tree(tree: &Path) -> std::io::Result<()> {
    for dir in ["proc", "sys", "dev"] {
        let inner = tree.join(dir);
        let mounted = Command::new("mountpoint")
            .arg("-q")
            .arg(&inner)
            .status()
            .map(|s| s.success())
            .unwrap_or(true);
        if mounted {
            return Err(std::io::Error::other(format!(
                "{} is still mounted; unmount it first",
                inner.display()
            )));
        }
    }
    std::fs::remove_dir_all(tree)
}

/// Cached pieces unused for this long are removed (other checkouts or helpers may share the
/// cache and still use an older piece, so nothing recent is touched).
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Marks `keep` as used now and removes pieces of the same kind left unused for a long time.
fn prune(prefix: &str, keep: &Path) {
    let now = std::time::SystemTime::now();
    if let Err(e) = std::fs::File::open(keep).and_then(|f| f.set_modified(now)) {
        eprintln!("cannot mark {} as used: {e}", keep.display());
    }
    let Ok(entries) = std::fs::read_dir(CACHE) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let unused_for = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or_default();
        let stale = e.file_name().to_string_lossy().starts_with(prefix)
            && path != keep
            && unused_for > STALE_AFTER;
        if stale {
            let removed = if path.is_dir() {
                remove_tree(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if let Err(err) = removed {
                eprintln!("cannot remove stale {}: {err}", path.display());
            }
        }
    }
}

/// The versioned kernel package that `linux-image-amd64` currently points to.
fn kernel_package() -> Result<String> {
    let text = host::output(Command::new("apt-cache").args(["depends", "linux-image-amd64"]))?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_string)
        .ok_or_else(|| {
            "apt-cache knows no kernel behind linux-image-amd64; run apt-get update".into()
        })
}

fn kernel_version(tree: &Path) -> Result<String> {
    let modules = tree.join("usr/lib/modules");
    let entries = std::fs::read_dir(&modules)
        .map_err(|e| format!("cannot list {}: {e}", modules.display()))?;
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .next()
        .ok_or_else(|| format!("no kernel modules in {}", modules.display()))
}

/// The Debian mirror this host's apt uses, so the guest comes from the same place.
fn mirror() -> String {
    let mut texts = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        for e in entries.flatten() {
            texts.push(std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    texts.push(std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default());
    for text in &texts {
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let uri = match words.as_slice() {
                ["URIs:", uri, ..] => *uri,
                ["deb", uri, "bookworm", ..] => *uri,
                _ => continue,
            };
            if uri.ends_with("/debian") {
                return uri.to_string();
            }
        }
    }
    "http://deb.debian.org/debian".into()
}

fn make_tree(tree: &Path, kernel_pkg: &str) -> Result<()> {
    if tree.exists() {
        remove_tree(tree).map_err(|e| format!("cannot remove stale {}: {e}", tree.display()))?;
    }
    let debs = Path::new(CACHE).join("debs");
    host::mkdir(&debs)?;
    host::run(
        Command::new("debootstrap")
            .arg("--variant=minbase")
            .arg(format!("--include={}", GUEST_PACKAGES.join(",")))
            .arg(format!("--cache-dir={}", debs.display()))
            .arg("bookworm")
            .arg(tree)
            .arg(mirror()),
    )?;

    // The kernel comes as a plain package extraction: installing it in the tree would make
    // dracut build a host-only initramfs there for nothing.
    let scratch = Path::new(CACHE).join("kernel-extract");
    let _ = std::fs::remove_dir_all(&scratch);
    host::mkdir(&scratch)?;
    host::run(
        Command::new("apt-get")
            .args(["download", kernel_pkg])
            .current_dir(&scratch),
    )?;
    let deb = std::fs::read_dir(&scratch)
        .map_err(|e| format!("cannot list {}: {e}", scratch.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or("apt-get download left no kernel package")?;
    let unpacked = scratch.join("root");
    host::run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked))?;
    // bookworm's kernel package still ships /lib/modules; the tree has a merged /usr.
    copy_into(&unpacked.join("boot"), &tree.join("boot"))?;
    copy_into(&unpacked.join("lib"), &tree.join("usr/lib"))?;
    let kver = kernel_version(tree)?;
    host::run(Command::new("depmod").arg("-b").arg(tree).arg(&kver))?;
    let _ = std::fs::remove_dir_all(&scratch);
    let _ = std::fs::remove_dir_all(tree.join("var/cache/apt/archives"));
    host::write(&tree.join(".complete"), b"")
}

fn copy_into(from: &Path, to: &Path) -> Result<()> {
    host::mkdir(to)?;
    host::run(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", from.display()))
            .arg(to),
    )
}

/// Harness pieces and small settings that keep the guest quick to boot.
fn configure_tree(tree: &Path, guest_dir: &Path) -> Result<()> {
    let install = |src: &str, dst: &str, mode: &str| -> Result<()> {
        host::run(
            Command::new("install")
                .args(["-D", "-m", mode])
                .arg(guest_dir.join(src))
                .arg(tree.join(dst)),
        )
    };
    install("kindling-collect", "usr/libexec/kindling-collect", "0755")?;
    install(
        "kindling-collect.service",
        "usr/lib/systemd/system/kindling-collect.service",
        "0644",
    )?;
    install(
        "10-kindling-harness.preset",
        "usr/lib/systemd/system-preset/10-kindling-harness.preset",
        "0644",
    )?;
    install_distro_units(tree)?;
    // Picked up by the dracut module instead of its refusing fallback.
    install(
        "ignition-kargs-helper",
        "usr/sbin/ignition-kargs-helper",
        "0755",
    )?;
    // The test distro's dracut module (root made by the disks stage, unlocked at later boots).
    let testroot = tree.join("usr/lib/dracut/modules.d/50kindling-testroot");
    let _ = std::fs::remove_dir_all(&testroot);
    copy_into(&guest_dir.join("dracut/50kindling-testroot"), &testroot)?;
    let wants = tree.join("etc/systemd/system/multi-user.target.wants");
    host::mkdir(&wants)?;
    let link = wants.join("kindling-collect.service");
    if !link.is_symlink() {
        std::os::unix::fs::symlink("/usr/lib/systemd/system/kindling-collect.service", &link)
            .map_err(|e| format!("cannot enable the collector: {e}"))?;
    }
    // mdadm rebuilds a shutdown initramfs with dracut on every power-off: minutes under TCG.
    // A login prompt on the serial console would hang up the collector's writes to it.
    // e2scrub_reap looks for LVM snapshots the guest never has; multi-user.target waits for it.
    for unit in [
        "mdadm-shutdown.service",
        "serial-getty@ttyS0.service",
        "e2scrub_reap.service",
    ] {
        let mask = tree.join("etc/systemd/system").join(unit);
        if !mask.is_symlink() {
            std::os::unix::fs::symlink("/dev/null", &mask)
                .map_err(|e| format!("cannot mask {unit}: {e}"))?;
        }
    }
    // networkd asks for the nl80211 family at start; loading cfg80211 for it stalled the
    // single-vCPU guest for about 10 s. The guest has no wireless.
    host::write(
        &tree.join("etc/modprobe.d/kindling-harness.conf"),
        "blacklist cfg80211\nblacklist kvm_amd\nblacklist kvm_intel\n",
    )?;
    host::write(&tree.join("etc/hostname"), "kindling-guest\n")?;
    host::write(&tree.join("etc/fstab"), "/dev/vda / ext4 rw,relatime 0 1\n")?;
    // An unset machine id makes the first boot a systemd first boot: presets (which is how
    // configs enable units) are applied then.
    host::write(&tree.join("etc/machine-id"), "uninitialized\n")?;
    // pwmake (clevis luks bind) needs cracklib's dictionary, which debootstrap leaves unbuilt.
    host::run(Command::new("chroot").arg(tree).arg("update-cracklib"))?;
    // Root can log in on the console without a password (test image only).
    host::run(
        Command::new("chroot")
            .arg(tree)
            .args(["passwd", "-d", "root"]),
    )
}

/// Kindling's units for the real root (`systemd/`), installed and enabled as a distro
/// package would (`systemctl enable`: a link in the `WantedBy=` target's `.wants`).
fn install_distro_units(tree: &Path) -> Result<()> {
    const UNIT: &str = "kindling-delete-config.service";
    host::run(
        Command::new("install")
            .args(["-D", "-m", "0644"])
            .arg(host::repo_root().join("systemd").join(UNIT))
            .arg(tree.join("usr/lib/systemd/system").join(UNIT)),
    )?;
    let wants = tree.join("etc/systemd/system/sysinit.target.wants");
    host::mkdir(&wants)?;
    let link = wants.join(UNIT);
    if !link.is_symlink() {
        std::os::unix::fs::symlink(format!("/usr/lib/systemd/system/{UNIT}"), &link)
            .map_err(|e| format!("cannot enable {UNIT}: {e}"))?;
    }
    Ok(())
}

fn make_root_image(tree: &Path, image: &Path) -> Result<()> {
    let partial = image.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    host::run(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "root", "-E", "root_owner=0:0", "-d"])
            .arg(tree)
            .arg(&partial)
            .arg(ROOT_SIZE),
    )?;
    std::fs::rename(&partial, image).map_err(|e| format!("cannot store root image: {e}"))
}

/// Mounts the host's /proc, /sys and /dev into the tree for as long as it lives.
struct ChrootMounts(Vec<PathBuf>);

impl ChrootMounts {
    fn new(tree: &Path) -> Result<Self> {
        let mut mounts = ChrootMounts(Vec::new());
        for dir in ["proc", "sys", "dev"] {
            let target = tree.join(dir);
            host::run(
                Command::new("mount")
                    .arg("--bind")
                    .arg(format!("/{dir}"))
                    .arg(&target),
            )?;
            mounts.0.push(target);
        }
        Ok(mounts)
    }
}

impl Drop for ChrootMounts {
    fn drop(&mut self) {
        for target in self.0.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(target).status();
        }
    }
}

fn make_initrd(tree: &Path, kver: &str, binary: &Path, module: &Path, out: &Path) -> Result<()> {
    let module_dst = tree.join("usr/lib/dracut/modules.d/30kindling");
    let _ = std::fs::remove_dir_all(&module_dst);
    copy_into(module, &module_dst)?;
    let binary_dst = tree.join("usr/bin/kindling");
    host::run(
        Command::new("install")
            .args(["-m", "0755"])
            .arg(binary)
            .arg(&binary_dst),
    )?;
    let partial = "/var/tmp/kindling-initrd.img";
    let result = {
        let _mounts = ChrootMounts::new(tree)?;
        host::run(
            Command::new("chroot")
                .arg(tree)
                .args([
                    "dracut",
                    "--quiet",
                    "--force",
                    "--no-hostonly",
                    "--reproducible",
                ])
                // Uncompressed: faster to build, and faster to unpack on an emulated CPU.
                .arg("--no-compress")
                .args(["--add", "kindling kindling-testroot", "--omit", OMIT])
                .args(["--kver", kver, partial]),
        )
    };
    // The tree also makes root images: leave nothing of this build in it.
    let _ = std::fs::remove_dir_all(&module_dst);
    let _ = std::fs::remove_file(&binary_dst);
    result?;
    let built = tree.join(partial.trim_start_matches('/'));
    host::run(Command::new("mv").arg(&built).arg(out))
}
