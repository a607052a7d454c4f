//! RAID arrays through mdadm, created as Ignition creates them (reference §3.2): no reuse check,
//! every configured array is created over its members.

use kindling_config::model::Raid;

/// The device node an array appears as: `/dev/md/<name>`, or the name itself when it is a path
/// under `/dev`.
pub fn array_device(raid: &Raid) -> String {
    if raid.name.starts_with("/dev") {
        raid.name.clone()
    } else {
        format!("/dev/md/{}", raid.name)
    }
}

/// `mdadm --create …` for `raid`, members as configured.
pub fn mdadm_command(raid: &Raid) -> Result<Vec<String>, String> {
    let level = raid
        .level
        .as_deref()
        .filter(|l| !l.is_empty())
        .ok_or("raid level is required")?;
    let spares = usize::try_from(raid.spares.unwrap_or(0))
        .map_err(|_| format!("invalid spares {:?}", raid.spares))?;
    let active = raid
        .devices
        .len()
        .checked_sub(spares)
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            format!(
                "array {:?} has {} devices, not enough for {spares} spares",
                raid.name,
                raid.devices.len()
            )
        })?;
    // The node path rather than the bare name, which mdadm would first look up relative to
    // its working directory: an array called `root` or `usr` would meet `/root` or `/usr`.
    let device = array_device(raid);
    let mut argv: Vec<String> = [
        "mdadm",
        "--create",
        &device,
        "--force",
        "--run",
        "--homehost",
        "any",
        "--level",
        level,
        "--raid-devices",
        &active.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if spares > 0 {
        argv.extend(["--spare-devices".to_string(), spares.to_string()]);
    }
    argv.extend(raid.options.iter().cloned());
    argv.extend(raid.devices.iter().cloned());
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raid(json: &str) -> Raid {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_level_spares_and_options() {
        for level in [
            "linear", "raid0", "0", "stripe", "raid1", "mirror", "raid4", "raid5", "raid6",
            "raid10",
        ] {
            let r = raid(&format!(
                r#"{{"name":"data","level":"{level}","devices":["/dev/vdb","/dev/vdc"]}}"#
            ));
            assert_eq!(
                mdadm_command(&r).unwrap().join(" "),
                format!(
                    "mdadm --create /dev/md/data --force --run --homehost any --level {level} --raid-devices 2 /dev/vdb /dev/vdc"
                )
            );
        }
        let r = raid(
            r#"{"name":"/dev/md/root","level":"raid5","spares":1,"options":["--metadata=1.2","--chunk=64"],
                "devices":["/dev/vdb","/dev/vdc","/dev/vdd","/dev/vde"]}"#,
        );
        assert_eq!(
            mdadm_command(&r).unwrap().join(" "),
            "mdadm --create /dev/md/root --force --run --homehost any --level raid5 --raid-devices 3 \
             --spare-devices 1 --metadata=1.2 --chunk=64 /dev/vdb /dev/vdc /dev/vdd /dev/vde"
        );
        assert_eq!(array_device(&r), "/dev/md/root");
        assert_eq!(array_device(&raid(r#"{"name":"data"}"#)), "/dev/md/data");
    }

    #[test]
    fn a_name_like_a_root_directory_is_passed_as_its_node() {
        let r = raid(r#"{"name":"usr","level":"raid1","devices":["/dev/vdb","/dev/vdc"]}"#);
        assert_eq!(mdadm_command(&r).unwrap()[2], "/dev/md/usr");
    }

    #[test]
    fn impossible_arrays_are_refused() {
        assert!(mdadm_command(&raid(r#"{"name":"d","devices":["/dev/vdb"]}"#)).is_err());
        assert!(
            mdadm_command(&raid(
                r#"{"name":"d","level":"raid1","spares":1,"devices":["/dev/vdb"]}"#
            ))
            .is_err()
        );
    }
}
