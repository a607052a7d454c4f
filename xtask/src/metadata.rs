//! Stand-ins for a cloud's link-local services, reached by the guest at their real addresses
//! through QEMU's guestfwd (each to its own loopback server) and recording every request, so a
//! scenario can expect what reached the "cloud" (`expect.requests`).
//!
//! Azure (`"serve": {"azure": true}`): IMDS at 169.254.169.254 answers the user-data query with
//! an empty 200, which is what sends upstream's provider (and ours) to the provisioning
//! CD-ROM; the wireserver at 168.63.129.16 hands out a goal state and accepts health reports
//! (Azure docs "Create generalized images without a provisioning agent").
//!
//! QEMU only forwards guest addresses inside its virtual network, so these scenarios run on
//! `NETWORK`, which holds both addresses; the guest still reaches nothing else (`restrict=on`).

use crate::host::Result;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The user network of a scenario with stand-ins: 168.0.0.0-169.255.255.255, the guest at
/// 168.0.0.15 by DHCP.
pub const NETWORK: &str = "168.0.0.0/7";
pub const AZURE_IMDS: &str = "169.254.169.254";
pub const AZURE_WIRESERVER: &str = "168.63.129.16";
/// What the wireserver's goal state names; a health report must name the same.
pub const GOAL_INCARNATION: &str = "7";
pub const GOAL_CONTAINER: &str = "8c6d4e2a-5b1f-4c3e-9a7d-0f1e2d3c4b5a";
pub const GOAL_INSTANCE: &str = "kindling-vm.0";

/// One request a stand-in saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The guest address it was sent to.
    pub host: String,
    pub method: String,
    /// Path and query as sent.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A request that must have reached a stand-in during a boot (`expect.requests`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequestExpect {
    /// Guest address, e.g. "168.63.129.16".
    pub host: String,
    pub method: String,
    /// Path and query, exactly as sent.
    pub path: String,
    /// Headers it must carry (names case-insensitive, values exact).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Texts its body must contain.
    #[serde(default)]
    pub body_contains: Vec<String>,
}

impl RequestExpect {
    fn matches(&self, seen: &Seen) -> bool {
        seen.host == self.host
            && seen.method == self.method
            && seen.path == self.path
            && self
                .headers
                .iter()
                .all(|(n, v)| seen.header(n) == Some(v.as_str()))
            && {
                let body = String::from_utf8_lossy(&seen.body);
                self.body_contains.iter().all(|t| body.contains(t.as_str()))
            }
    }
}

/// Each expected request that no seen request matches, as a readable line.
pub fn check(expected: &[RequestExpect], seen: &[Seen]) -> Vec<String> {
    let mut bad = Vec::new();
    for want in expected {
        if !seen.iter().any(|s| want.matches(s)) {
            let list: Vec<String> = seen
                .iter()
                .map(|s| format!("{} http://{}{}", s.method, s.host, s.path))
                .collect();
            bad.push(format!(
                "no {} http://{}{} with headers {:?} and a body containing {:?}; seen: [{}]",
                want.method,
                want.host,
                want.path,
                want.headers,
                want.body_contains,
                list.join(", ")
            ));
        }
    }
    bad
}

type Handler = fn(&Seen) -> (u16, Vec<u8>);

/// The running stand-ins of one scenario.
pub struct Stands {
    /// (guest address, loopback port) for each guestfwd on port 80.
    pub forwards: Vec<(String, u16)>,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Stands {
    /// Azure's IMDS and wireserver.
    pub fn azure() -> Result<Stands> {
        let mut stands = Stands {
            forwards: Vec::new(),
            seen: Arc::default(),
            stop: Arc::default(),
        };
        stands.start(AZURE_IMDS, azure_imds)?;
        stands.start(AZURE_WIRESERVER, azure_wireserver)?;
        Ok(stands)
    }

    /// What the stand-ins saw since the last call.
    pub fn take(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }

    fn start(&mut self, host: &str, handler: Handler) -> Result<()> {
        let (listener, port) = crate::serve::loopback_listener(&format!("{host} stand-in"))?;
        let (seen, stop, name) = (self.seen.clone(), self.stop.clone(), host.to_string());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Err(e) = exchange(stream, &name, handler, &seen) {
                            eprintln!("{name} stand-in: {e}");
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        self.forwards.push((host.to_string(), port));
        Ok(())
    }
}

impl Drop for Stands {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one request (line, headers, `Content-Length` body), records it and answers it.
fn exchange(
    stream: TcpStream,
    host: &str,
    handler: Handler,
    seen: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let mut request = Seen {
        host: host.to_string(),
        method: method.to_string(),
        path: path.to_string(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            request
                .headers
                .push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let length = request
        .header("Content-Length")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    request.body = vec![0; length];
    reader.read_exact(&mut request.body)?;
    let (status, body) = handler(&request);
    if let Ok(mut seen) = seen.lock() {
        seen.push(request);
    }
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    )?;
    stream.write_all(&body)?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    }
}

/// IMDS: no user data (an empty 200), so the provider turns to the CD-ROM. IMDS refuses
/// requests without `Metadata: true`.
fn azure_imds(r: &Seen) -> (u16, Vec<u8>) {
    if r.header("Metadata") != Some("true") {
        return (
            400,
            b"Bad request. Required metadata header not specified".to_vec(),
        );
    }
    match r.path.split('?').next() {
        Some("/metadata/instance/compute/userData") => (200, Vec::new()),
        _ => (404, Vec::new()),
    }
}

/// The wireserver: a goal state for `x-ms-version` callers, and 200 to health reports (the
/// scenario checks what they said).
fn azure_wireserver(r: &Seen) -> (u16, Vec<u8>) {
    if r.header("x-ms-version").is_none() {
        return (400, Vec::new());
    }
    match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/machine/?comp=goalstate" | "/machine?comp=goalstate") => {
            (200, goal_state().into_bytes())
        }
        ("POST", "/machine/?comp=health" | "/machine?comp=health") => (200, Vec::new()),
        _ => (404, Vec::new()),
    }
}

fn goal_state() -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<GoalState>\n  <Version>2012-11-30</Version>\n  \
         <Incarnation>{GOAL_INCARNATION}</Incarnation>\n  <Machine><ExpectedState>Started</ExpectedState></Machine>\n  \
         <Container>\n    <ContainerId>{GOAL_CONTAINER}</ContainerId>\n    <RoleInstanceList>\n      \
         <RoleInstance><InstanceId>{GOAL_INSTANCE}</InstanceId><State>Started</State></RoleInstance>\n    \
         </RoleInstanceList>\n  </Container>\n</GoalState>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(port: u16, request: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    fn port(stands: &Stands, host: &str) -> u16 {
        stands.forwards.iter().find(|(h, _)| h == host).unwrap().1
    }

    #[test]
    fn azure_stand_ins_answer_and_record() {
        let stands = Stands::azure().unwrap();
        let imds = port(&stands, AZURE_IMDS);
        let wire = port(&stands, AZURE_WIRESERVER);
        let user_data = "GET /metadata/instance/compute/userData?api-version=2021-01-01&format=text HTTP/1.1\r\nMetadata: true\r\n\r\n";
        let answer = send(imds, user_data);
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        assert!(answer.contains("Content-Length: 0\r\n"), "{answer}");
        let answer = send(
            imds,
            "GET /metadata/instance/compute/userData HTTP/1.1\r\n\r\n",
        );
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
        let answer = send(
            wire,
            "GET /machine/?comp=goalstate HTTP/1.1\r\nx-ms-version: 2012-11-30\r\n\r\n",
        );
        assert!(
            answer.contains(&format!("<InstanceId>{GOAL_INSTANCE}</InstanceId>")),
            "{answer}"
        );
        let body = "<Health><State>Ready</State></Health>";
        let answer = send(
            wire,
            &format!(
                "POST /machine/?comp=health HTTP/1.1\r\nx-ms-version: 2012-11-30\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        );
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");

        let seen = stands.take();
        assert_eq!(seen.len(), 4);
        let want: RequestExpect = serde_json::from_str(
            r#"{"host": "168.63.129.16", "method": "POST", "path": "/machine/?comp=health",
                "headers": {"X-MS-Version": "2012-11-30"}, "bodyContains": ["<State>Ready</State>"]}"#,
        )
        .unwrap();
        assert!(check(&[want], &seen).is_empty());
        let wrong_host = RequestExpect {
            host: AZURE_IMDS.into(),
            method: "POST".into(),
            path: "/machine/?comp=health".into(),
            ..Default::default()
        };
        let bad = check(&[wrong_host], &seen);
        assert_eq!(bad.len(), 1);
        assert!(
            bad[0].contains("seen: [GET http://169.254.169.254/"),
            "{}",
            bad[0]
        );
        assert!(stands.take().is_empty());
    }

    #[test]
    fn a_body_that_lacks_a_text_does_not_match() {
        let seen = Seen {
            host: AZURE_WIRESERVER.into(),
            method: "POST".into(),
            path: "/machine/?comp=health".into(),
            headers: vec![("x-ms-version".into(), "2012-11-30".into())],
            body: b"<State>NotReady</State>".to_vec(),
        };
        let want = RequestExpect {
            host: AZURE_WIRESERVER.into(),
            method: "POST".into(),
            path: "/machine/?comp=health".into(),
            headers: BTreeMap::from([("x-ms-version".into(), "2012-11-30".into())]),
            body_contains: vec!["<State>Ready</State>".into()],
        };
        assert_eq!(check(&[want], &[seen]).len(), 1);
    }
}
