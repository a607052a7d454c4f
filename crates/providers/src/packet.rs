//! `packet` (Equinix Metal): user data from `https://metadata.packet.net/userdata` (404 fails
//! the boot), and a status event per stage posted to the `phone_home_url` the metadata names
//! (Equinix Metal docs "Metadata" and "User state": `POST …/events` with `state` and
//! `message`). Status failures are logged, never fatal.

use crate::metadata::{self, Encoding, NotFound, UserData};
use crate::{Fetched, Host, Provider, ProviderError};
use kindling_fetch::Fetcher;
use std::time::Duration;

const METADATA: &str = "https://metadata.packet.net";
/// Status reports must not hold a stage: a short, bounded exchange.
const STATUS_WAIT: Duration = Duration::from_secs(10);

static USER_DATA: UserData = UserData {
    id: "packet",
    base: METADATA,
    path: "/userdata",
    headers: &[("Accept", "*/*")],
    retry: &[],
    not_found: NotFound::Fail,
    encoding: Encoding::Raw,
};

pub struct Packet;

impl Provider for Packet {
    fn id(&self) -> &'static str {
        "packet"
    }

    fn fetch(&self, fetcher: &Fetcher, host: &Host) -> Result<Fetched, ProviderError> {
        USER_DATA.fetch(fetcher, host)
    }

    fn status(
        &self,
        stage: &str,
        fetcher: &Fetcher,
        error: Option<&str>,
    ) -> Result<(), ProviderError> {
        // The fetch-offline stage has no network to report over; the fetch stage reports.
        if fetcher.is_offline() {
            return Ok(());
        }
        let host = Host::from_env();
        post_status(fetcher, host.metadata(METADATA), stage, error)
    }
}

/// The event for one stage, posted where the metadata's `phone_home_url` says.
fn post_status(
    fetcher: &Fetcher,
    base: &str,
    stage: &str,
    error: Option<&str>,
) -> Result<(), ProviderError> {
    let mut fetcher = fetcher.clone();
    fetcher.set_total_timeout(Some(STATUS_WAIT));
    let url = format!("{base}/metadata");
    let response = metadata::request(&fetcher, "GET", &url, &[("Accept", "*/*")], None, &[])?;
    let body = metadata::user_data(response, &url, NotFound::Fail)?;
    let json: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ProviderError::Invalid(format!("{url} is not JSON: {e}")))?;
    let phone_home = json
        .get("phone_home_url")
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ProviderError::Invalid(format!("{url} has no phone_home_url")))?;
    let events = format!("{}/events", phone_home.trim_end_matches("/phone-home"));
    let event = match error {
        None => serde_json::json!({
            "state": "running",
            "message": format!("[{stage}] Ignition status: finished successfully"),
        }),
        Some(error) => serde_json::json!({
            "state": "failed",
            "message": format!("[{stage}] Ignition error: {error}"),
        }),
    };
    let response = metadata::request(
        &fetcher,
        "POST",
        &events,
        &[("Content-Type", "application/json")],
        Some(event.to_string().into_bytes()),
        &[],
    )?;
    match response.status {
        200..=299 => Ok(()),
        status => Err(ProviderError::Status {
            url: events,
            status,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::{Expect, conformance, fetcher, raw};
    use crate::testserver::{Response, Server};

    #[test]
    fn speaks_the_documented_protocol() {
        conformance(
            &Packet,
            &Expect {
                path: "/userdata",
                headers: &[("Accept", "*/*")],
                encode: raw,
                not_found: NotFound::Fail,
            },
        );
    }

    #[test]
    fn status_events_go_to_the_phone_home_url() {
        let server = Server::start(|_| Response::new(202, ""));
        let phone_home = format!("{}/phone-home", server.url);
        let metadata = Server::start(move |r| match r.path.as_str() {
            "/metadata" => Response::new(
                200,
                format!(r#"{{"id":"x","phone_home_url":"{phone_home}"}}"#),
            ),
            _ => Response::new(404, ""),
        });
        post_status(&fetcher(), &metadata.url, "files", None).unwrap();
        post_status(&fetcher(), &metadata.url, "disks", Some("no such disk")).unwrap();
        let events = server.requests();
        assert_eq!(events.len(), 2);
        assert!(
            events
                .iter()
                .all(|e| e.method == "POST" && e.path == "/events")
        );
        assert_eq!(events[0].header("Content-Type"), Some("application/json"));
        let first: serde_json::Value = serde_json::from_slice(&events[0].body).unwrap();
        assert_eq!(first["state"], "running");
        assert_eq!(
            first["message"],
            "[files] Ignition status: finished successfully"
        );
        let second: serde_json::Value = serde_json::from_slice(&events[1].body).unwrap();
        assert_eq!(second["state"], "failed");
        assert_eq!(second["message"], "[disks] Ignition error: no such disk");
    }

    #[test]
    fn status_errors_are_reported_not_hidden() {
        let metadata = Server::start(|_| Response::new(200, "{}"));
        let err = post_status(&fetcher(), &metadata.url, "files", None).unwrap_err();
        assert!(err.to_string().contains("phone_home_url"), "{err}");
    }
}
