//! `cargo xtask demo`: one VM provisions itself from `qemu/demo/config.ign`; while it runs, show
//! what it became: the user and its key, the web service and its page (fetched from the host
//! over a forwarded port), the data disk, the result file.

use crate::check::{State, base64_decode};
use crate::host::{self, Result};
use crate::image::Guest;
use crate::runner;
use crate::scenario::Scenario;
use std::path::Path;
use std::process::Command;

/// The demo scenario; its `hostfwd` maps this host port to the guest's web server.
pub const SCENARIO: &str = "qemu/demo/demo.json";
const PAGE_PORT: u16 = 18080;

pub fn run(guest: &Guest, work: &Path) -> Result<bool> {
    let root = host::repo_root();
    let scenario = Scenario::load(&root.join(SCENARIO))?;
    println!("Booting the demo VM (TCG emulation: about a minute)…");
    println!("  config: {}", root.join("qemu/demo/config.ign").display());
    let show = |console: &str| -> Result<()> { show(console) };
    let problems = runner::run_held(
        guest,
        &scenario,
        &work.join("demo"),
        Some(&show),
        runner::vcpus_for(1),
    )?;
    if problems.is_empty() {
        println!("\nThe demo VM provisioned itself as its config asked.");
        Ok(true)
    } else {
        println!("\nThe demo VM did not end up as its config asked:");
        for p in problems {
            println!("  {}", p.replace('\n', "\n  "));
        }
        Ok(false)
    }
}

/// Prints the provisioned system's state while the VM is still up.
fn show(console: &str) -> Result<()> {
    let state = State::parse(console).ok_or("the VM did not report its state")?;
    println!("\n=== The provisioned system (reported from inside the VM) ===");
    for (kind, arg, fields) in state.iter() {
        match (kind, fields) {
            ("user", [passwd, groups, ..]) => {
                println!("user {arg}: {passwd} (groups {groups})")
            }
            ("unit", [active, enabled, ..]) => println!("unit {arg}: {active}, {enabled}"),
            ("mount", [source, fstype, ..]) => {
                println!("mount {arg}: {source} ({fstype})")
            }
            ("file", [mode, uid, gid, _kind, content @ ..]) => {
                println!("file {arg} (mode {mode}, owner {uid}:{gid}):");
                let text = content
                    .first()
                    .and_then(|c| base64_decode(c))
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                for line in text.lines().take(12) {
                    println!("    {line}");
                }
            }
            ("disk", [table, ..]) => {
                let json = base64_decode(table)
                    .and_then(|j| serde_json::from_slice::<serde_json::Value>(&j).ok());
                let parts = json
                    .as_ref()
                    .and_then(|j| j["partitiontable"]["partitions"].as_array().cloned())
                    .unwrap_or_default();
                println!("disk {arg}: {} partition(s)", parts.len());
                for p in parts {
                    println!(
                        "    {} label {} size {} sectors",
                        p["node"].as_str().unwrap_or("?"),
                        p["name"].as_str().unwrap_or("-"),
                        p["size"]
                    );
                }
            }
            _ => {}
        }
    }
    println!("\n=== The web page, fetched from the host: curl http://127.0.0.1:{PAGE_PORT}/ ===");
    let page = host::output(
        Command::new("curl")
            .args([
                "--silent",
                "--show-error",
                "--max-time",
                "10",
                "--retry",
                "6",
            ])
            .args(["--retry-connrefused", "--retry-delay", "2"])
            .arg(format!("http://127.0.0.1:{PAGE_PORT}/")),
    )?;
    println!("{}", page.trim_end());
    Ok(())
}
