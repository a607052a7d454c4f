//! `azure`: user data from the Azure Instance Metadata Service (Azure docs "Azure Instance
//! Metadata Service": `GET /metadata/instance/compute/userData?api-version=2021-01-01&format=text`
//! with `Metadata: true`, base64; IMDS asks callers to retry 404, 410 and 429), falling back to
//! the custom data on the provisioning CD-ROM (`ovf-env.xml` + `CustomData.bin`, UDF). After
//! the files stage the VM reports itself ready to the wireserver, and not ready with the error
//! when a stage fails (Azure docs "Create generalized images without a provisioning agent":
//! `GET /machine?comp=goalstate`, `POST /machine?comp=health`).

use crate::drive;
use crate::metadata::{self, NotFound};
use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::{Cloud, Fetcher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const IMDS: &str = "http://169.254.169.254";
const USER_DATA: &str = "/metadata/instance/compute/userData?api-version=2021-01-01&format=text";
/// IMDS asks for these to be retried (service not ready, gone for now, throttled).
const IMDS_RETRY: &[u16] = &[404, 410, 429];
const WIRESERVER: &str = "http://168.63.129.16";
const WIRE_VERSION: &str = "2012-11-30";
const REPORT_WAIT: Duration = Duration::from_secs(30);

pub struct Azure;

impl Provider for Azure {
    fn id(&self) -> &'static str {
        "azure"
    }

    fn init(&self, fetcher: &mut Fetcher, host: &Host) -> Result<(), ProviderError> {
        fetcher.set_cloud(Cloud {
            azure_imds: Some(host.metadata(IMDS).to_string()),
            ..fetcher.cloud().clone()
        });
        Ok(())
    }

    fn fetch(&self, fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        let url = format!("{}{USER_DATA}", host.metadata(IMDS));
        // As upstream: even the CD-ROM fallback waits for the fetch stage.
        if fetcher.is_offline() {
            return Err(metadata::need_net(&url));
        }
        let response = metadata::request(
            fetcher,
            "GET",
            &url,
            &[("Metadata", "true")],
            None,
            IMDS_RETRY,
        )?;
        let body = metadata::user_data(response, &url, NotFound::Fail)?;
        if !body.iter().all(u8::is_ascii_whitespace) {
            return metadata::decode_base64(&body, &url).map(Some);
        }
        log::info!("IMDS has no user data: looking for custom data on the provisioning CD-ROM");
        custom_data(&["udf"]).map(Some)
    }

    fn status(
        &self,
        stage: &str,
        fetcher: &Fetcher,
        error: Option<&str>,
    ) -> Result<(), ProviderError> {
        if fetcher.is_offline() {
            return Ok(());
        }
        let health = match error {
            Some(error) => Health::NotReady(format!("[{stage}] {error}")),
            None if stage == "files" => Health::Ready,
            None => return Ok(()),
        };
        let host = Host::from_env();
        report_health(fetcher, host.metadata(WIRESERVER), &health)
    }
}

/// The custom data of the Azure provisioning media: waits (forever, as upstream) for a
/// CD-ROM with a disc whose filesystem is one of `types` and which carries `ovf-env.xml`.
/// No `CustomData.bin` is an empty config.
pub(crate) fn custom_data(types: &[&str]) -> Result<Vec<u8>, ProviderError> {
    let start = Instant::now();
    let mut nagged = start;
    // As upstream, each device is looked at once: the provisioning media is there at boot.
    let mut checked = std::collections::HashSet::new();
    loop {
        for (device, fstype) in cdroms(types) {
            if !checked.insert(device.clone()) || !disc_ready(&device) {
                continue;
            }
            let read = drive::with_mounted(&device, &fstype, provisioning_media);
            match read {
                Ok(Some(data)) => return Ok(data),
                Ok(None) => log::debug!("{} is not the provisioning media", device.display()),
                Err(e) => log::warn!("reading {}: {e}", device.display()),
            }
        }
        if nagged.elapsed() >= Duration::from_secs(30) {
            log::warn!(
                "still waiting for the Azure provisioning CD-ROM after {} s",
                start.elapsed().as_secs()
            );
            nagged = Instant::now();
        }
        std::thread::sleep(drive::POLL);
    }
}

/// The custom data of a mounted disc, or `None` when it is not the provisioning media (no
/// `ovf-env.xml`). No `CustomData.bin` is an empty config.
fn provisioning_media(dir: &Path) -> Result<Option<Vec<u8>>, ProviderError> {
    if !dir.join("ovf-env.xml").exists() {
        return Ok(None);
    }
    drive::read_optional(dir, "CustomData.bin").map(|d| Some(d.unwrap_or_default()))
}

/// Block devices whose filesystem type (`blkid`) is one of `types`.
fn cdroms(types: &[&str]) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for fstype in types {
        let output = std::process::Command::new("blkid")
            .args(["-t", &format!("TYPE={fstype}"), "-o", "device"])
            .output();
        match output {
            Ok(output) => found.extend(
                String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(|l| (PathBuf::from(l), fstype.to_string())),
            ),
            Err(e) => log::warn!("running blkid: {e}"),
        }
    }
    found
}

/// `CDROM_DRIVE_STATUS` says a disc is in the drive (`CDS_DISC_OK`).
fn disc_ready(device: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    const CDROM_DRIVE_STATUS: libc::c_ulong = 0x5326;
    const CDS_DISC_OK: libc::c_int = 4;
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(device)
    else {
        return false;
    };
    // SAFETY: the ioctl takes no pointer (CDSL_CURRENT = INT_MAX slot argument) on an fd we own.
    let status = unsafe { libc::ioctl(file.as_raw_fd(), CDROM_DRIVE_STATUS, libc::c_int::MAX) };
    status == CDS_DISC_OK
}

/// What the VM tells the fabric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Health {
    Ready,
    /// Provisioning failed, with why.
    NotReady(String),
}

/// The goal state's incarnation, container and role instance, which a health report names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GoalState {
    incarnation: String,
    container_id: String,
    instance_id: String,
}

fn report_health(
    fetcher: &Fetcher,
    wireserver: &str,
    health: &Health,
) -> Result<(), ProviderError> {
    let mut fetcher = fetcher.clone();
    fetcher.set_total_timeout(Some(REPORT_WAIT));
    let headers = [
        ("x-ms-version", WIRE_VERSION),
        ("x-ms-agent-name", "kindling"),
    ];
    let url = format!("{wireserver}/machine/?comp=goalstate");
    let response = metadata::request(&fetcher, "GET", &url, &headers, None, &[])?;
    let body = metadata::user_data(response, &url, NotFound::Fail)?;
    let goal = parse_goal_state(&String::from_utf8_lossy(&body)).ok_or_else(|| {
        ProviderError::Invalid(format!(
            "{url}: goal state without incarnation, container or instance id"
        ))
    })?;
    let url = format!("{wireserver}/machine/?comp=health");
    let response = metadata::request(
        &fetcher,
        "POST",
        &url,
        &[
            ("x-ms-version", WIRE_VERSION),
            ("x-ms-agent-name", "kindling"),
            ("Content-Type", "text/xml;charset=utf-8"),
        ],
        Some(health_report(&goal, health).into_bytes()),
        &[],
    )?;
    match response.status {
        200..=299 => {
            log::info!("reported {health:?} to the Azure fabric");
            Ok(())
        }
        status => Err(ProviderError::Status { url, status }),
    }
}

/// The text of the first `<name>` element.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].trim())
}

fn parse_goal_state(xml: &str) -> Option<GoalState> {
    let role = element(xml, "RoleInstance")?;
    Some(GoalState {
        incarnation: element(xml, "Incarnation")?.to_string(),
        container_id: element(xml, "ContainerId")?.to_string(),
        instance_id: element(role, "InstanceId")?.to_string(),
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn health_report(goal: &GoalState, health: &Health) -> String {
    let state = match health {
        Health::Ready => "<State>Ready</State>".to_string(),
        Health::NotReady(why) => format!(
            "<State>NotReady</State><Details><SubStatus>ProvisioningFailed</SubStatus>\
             <Description>{}</Description></Details>",
            escape(why)
        ),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <Health xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\
         <GoalStateIncarnation>{}</GoalStateIncarnation><Container><ContainerId>{}</ContainerId>\
         <RoleInstanceList><Role><InstanceId>{}</InstanceId><Health>{state}</Health></Role>\
         </RoleInstanceList></Container></Health>",
        escape(&goal.incarnation),
        escape(&goal.container_id),
        escape(&goal.instance_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::{CONFIG, base64, fetcher, host_for};
    use crate::testserver::{Response, Server};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const GOAL_STATE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<GoalState xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="goalstate10.xsd">
  <Version>2012-11-30</Version>
  <Incarnation>3</Incarnation>
  <Machine><ExpectedState>Started</ExpectedState></Machine>
  <Container>
    <ContainerId>a1b2c3d4-0000-1111-2222-333344445555</ContainerId>
    <RoleInstanceList>
      <RoleInstance>
        <InstanceId>896b2d0a.vm0</InstanceId>
        <State>Started</State>
      </RoleInstance>
    </RoleInstanceList>
  </Container>
</GoalState>"#;

    #[test]
    fn user_data_is_base64_and_imds_retries_404_410_429() {
        let count = AtomicUsize::new(0);
        let server = Server::start(move |r| {
            if r.path != USER_DATA || r.header("Metadata") != Some("true") {
                return Response::new(400, "");
            }
            match count.fetch_add(1, Ordering::SeqCst) {
                0 => Response::new(404, ""),
                1 => Response::new(410, ""),
                2 => Response::new(429, ""),
                _ => Response::new(200, base64(CONFIG)),
            }
        });
        let (dir, host) = host_for("azure", &server);
        let mut fetcher = fetcher();
        fetcher.set_total_timeout(Some(Duration::from_secs(5)));
        assert_eq!(
            Azure.fetch(&fetcher, &host).unwrap().as_deref(),
            Some(CONFIG)
        );
        assert_eq!(server.requests().len(), 4);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn failures_fail_and_init_sets_the_managed_identity() {
        let server = Server::start(|_| Response::new(403, ""));
        let (dir, host) = host_for("azure-403", &server);
        let err = Azure.fetch(&fetcher(), &host).unwrap_err();
        assert!(err.to_string().contains("403"), "{err}");
        let server = Server::start(|_| Response::new(500, ""));
        let (dir2, host2) = host_for("azure-500", &server);
        let err = Azure.fetch(&fetcher(), &host2).unwrap_err();
        assert!(err.to_string().contains("in time"), "{err}");
        let mut offline = fetcher();
        offline.set_offline(true);
        assert!(Azure.fetch(&offline, &host).unwrap_err().needs_network());
        let mut f = Fetcher::new();
        Azure.init(&mut f, &host).unwrap();
        assert_eq!(f.cloud().azure_imds, host.metadata_url);
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::remove_dir_all(dir2).unwrap();
    }

    #[test]
    fn ready_report_names_the_goal_state() {
        let server = Server::start(|r| match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/machine/?comp=goalstate")
                if r.header("x-ms-version") == Some(WIRE_VERSION) =>
            {
                Response::new(200, GOAL_STATE)
            }
            ("POST", "/machine/?comp=health") => Response::new(200, ""),
            _ => Response::new(400, ""),
        });
        report_health(&fetcher(), &server.url, &Health::Ready).unwrap();
        report_health(
            &fetcher(),
            &server.url,
            &Health::NotReady("[disks] a <b> & c".into()),
        )
        .unwrap();
        let posts: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect();
        assert_eq!(posts.len(), 2);
        let ready = String::from_utf8_lossy(&posts[0].body).into_owned();
        for part in [
            "<GoalStateIncarnation>3</GoalStateIncarnation>",
            "<ContainerId>a1b2c3d4-0000-1111-2222-333344445555</ContainerId>",
            "<InstanceId>896b2d0a.vm0</InstanceId>",
            "<State>Ready</State>",
        ] {
            assert!(ready.contains(part), "{part} in {ready}");
        }
        assert_eq!(
            posts[0].header("Content-Type"),
            Some("text/xml;charset=utf-8")
        );
        let failed = String::from_utf8_lossy(&posts[1].body).into_owned();
        assert!(failed.contains("<State>NotReady</State>"), "{failed}");
        assert!(
            failed.contains("<SubStatus>ProvisioningFailed</SubStatus>"),
            "{failed}"
        );
        assert!(failed.contains("[disks] a &lt;b&gt; &amp; c"), "{failed}");
    }

    #[test]
    fn provisioning_media_needs_ovf_env_and_custom_data_is_optional() {
        let (dir, _) = crate::host::tests::temp_host("azure-media");
        assert_eq!(provisioning_media(&dir).unwrap(), None);
        std::fs::write(dir.join("ovf-env.xml"), "<Environment/>").unwrap();
        assert_eq!(provisioning_media(&dir).unwrap(), Some(Vec::new()));
        std::fs::write(dir.join("CustomData.bin"), CONFIG).unwrap();
        assert_eq!(provisioning_media(&dir).unwrap().as_deref(), Some(CONFIG));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn goal_state_without_a_role_is_an_error() {
        assert_eq!(parse_goal_state("<Incarnation>1</Incarnation>"), None);
        let goal = parse_goal_state(GOAL_STATE).unwrap();
        assert_eq!(goal.incarnation, "3");
    }
}
