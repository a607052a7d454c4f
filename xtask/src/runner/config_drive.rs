//! Filesystem images built from a scenario's files when it starts: ISO 9660 with `xorriso`,
//! FAT with `mkfs.vfat` and `mcopy` (mtools), UDF with `genisoimage -udf`, so the host needs
//! no kernel support for any of them.

use crate::host::{self, Result};
use crate::scenario::{DiskImage, ImageKind, Scenario};
use std::path::Path;
use std::process::Command;

/// Builds `image` (with the scenario's files) at `out`; `size_mib` sizes a FAT image.
/// `staging` is an empty scratch directory for the files.
pub fn build(
    s: &Scenario,
    image: &DiskImage,
    size_mib: u64,
    staging: &Path,
    out: &Path,
) -> Result<()> {
    host::mkdir(staging)?;
    for (inside, file) in &image.files {
        let relative = inside.trim_start_matches('/');
        if relative.is_empty() || relative.split('/').any(|c| c == "..") {
            return Err(format!(
                "image path {inside:?} must name a file inside the image"
            ));
        }
        let dest = staging.join(relative);
        if let Some(parent) = dest.parent() {
            host::mkdir(parent)?;
        }
        host::write(&dest, host::read(&s.file(file))?)?;
    }
    match image.kind {
        ImageKind::Iso9660 => host::run(
            Command::new("xorriso")
                .args([
                    "-as",
                    "mkisofs",
                    "-quiet",
                    "-J",
                    "-R",
                    "-V",
                    &image.label,
                    "-o",
                ])
                .arg(out)
                .arg(staging),
        ),
        // genisoimage writes UDF 1.02 next to an ISO 9660 bridge (what Azure's provisioning
        // media looks like); blkid reports such a disc as udf, so the guest mounts it as UDF.
        ImageKind::Udf => host::run(
            Command::new("genisoimage")
                .args(["-quiet", "-udf", "-J", "-R", "-V", &image.label, "-o"])
                .arg(out)
                .arg(staging),
        ),
        ImageKind::Vfat => {
            host::run(
                Command::new("mkfs.vfat")
                    .args(["-n", &image.label, "-C"])
                    .arg(out)
                    .arg((size_mib * 1024).to_string())
                    .stdout(std::process::Stdio::null()),
            )?;
            super::disk_fill::mcopy(out, staging)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::VFAT_DEFAULT_MIB;

    fn scenario(dir: &Path, disk: &str) -> Scenario {
        let path = dir.join("s.json");
        let json = format!(
            r#"{{"description": "d", "disks": [{disk}], "boots": [{{"firstboot": true, "expect": {{}}}}]}}"#
        );
        host::write(&path, json).unwrap();
        host::write(&dir.join("c.ign"), "{\"ignition\": {}}\n").unwrap();
        Scenario::load(&path).unwrap()
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-drive-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        host::mkdir(&dir).unwrap();
        dir
    }

    #[test]
    fn an_iso_carries_its_label_and_files() {
        let dir = scratch("iso");
        let s = scenario(
            &dir,
            r#"{"image": {"kind": "iso9660", "label": "config-2", "files": {"openstack/latest/user_data": "c.ign"}}, "cdrom": true}"#,
        );
        let Some(image) = &s.disks[0].image else {
            panic!("no image parsed");
        };
        let out = dir.join("x.iso");
        build(&s, image, 0, &dir.join("staging"), &out).unwrap();
        let bytes = host::read(&out).unwrap();
        // The primary volume descriptor (sector 16) holds the volume id at offset 40.
        let pvd = &bytes[16 * 2048..17 * 2048];
        assert_eq!(&pvd[1..6], b"CD001");
        assert!(pvd[40..72].starts_with(b"config-2 "));
        let listing = host::output(
            Command::new("xorriso")
                .args(["-indev"])
                .arg(&out)
                .args(["-find", "/", "-type", "f"]),
        )
        .unwrap();
        assert!(listing.contains("/openstack/latest/user_data"), "{listing}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_udf_image_is_udf_to_blkid_and_carries_its_files() {
        let dir = scratch("udf");
        let s = scenario(
            &dir,
            r#"{"image": {"kind": "udf", "label": "rd_rdfe_stable", "files": {"ovf-env.xml": "c.ign", "CustomData.bin": "c.ign"}}, "cdrom": true}"#,
        );
        let Some(image) = &s.disks[0].image else {
            panic!("no image parsed");
        };
        let out = dir.join("x.iso");
        build(&s, image, 0, &dir.join("staging"), &out).unwrap();
        let probe = host::output(Command::new("blkid").arg("-p").arg(&out)).unwrap();
        assert!(probe.contains("TYPE=\"udf\""), "{probe}");
        assert!(probe.contains("LABEL=\"rd_rdfe_stable\""), "{probe}");
        // The UDF file identifier descriptors carry the names (OSTA CS0: 8-bit here).
        let bytes = host::read(&out).unwrap();
        for name in [&b"CustomData.bin"[..], b"ovf-env.xml"] {
            assert!(
                bytes
                    .windows(name.len() + 1)
                    .any(|w| w[0] == 8 && &w[1..] == name),
                "{} not in the UDF directory",
                String::from_utf8_lossy(name)
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_fat_image_carries_its_label_and_files() {
        let dir = scratch("vfat");
        let s = scenario(
            &dir,
            r#"{"image": {"kind": "vfat", "label": "cidata", "files": {"user-data": "c.ign", "/a/b/meta-data": "c.ign"}}}"#,
        );
        let Some(image) = &s.disks[0].image else {
            panic!("no image parsed");
        };
        let out = dir.join("x.img");
        build(&s, image, VFAT_DEFAULT_MIB, &dir.join("staging"), &out).unwrap();
        let len = std::fs::metadata(&out).unwrap().len();
        assert_eq!(len, VFAT_DEFAULT_MIB * 1024 * 1024);
        let label = host::output(
            Command::new("mlabel")
                .env("MTOOLS_SKIP_CHECK", "1")
                .args(["-s", "-i"])
                .arg(&out)
                .arg("::"),
        )
        .unwrap();
        assert!(
            label.contains("cidata") || label.contains("CIDATA"),
            "{label}"
        );
        for inside in ["::/user-data", "::/a/b/meta-data"] {
            let text = host::output(
                Command::new("mtype")
                    .env("MTOOLS_SKIP_CHECK", "1")
                    .arg("-i")
                    .arg(&out)
                    .arg(inside),
            )
            .unwrap();
            assert_eq!(text, "{\"ignition\": {}}\n", "{inside}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn image_paths_stay_inside_the_image() {
        let dir = scratch("escape");
        let s = scenario(
            &dir,
            r#"{"image": {"kind": "vfat", "label": "cidata", "files": {"../x": "c.ign"}}}"#,
        );
        let Some(image) = &s.disks[0].image else {
            panic!("no image parsed");
        };
        let err = build(&s, image, 4, &dir.join("staging"), &dir.join("x.img")).unwrap_err();
        assert!(err.contains("inside the image"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
