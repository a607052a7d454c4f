//! Fetch one URL to stdout through the fetcher, as a stage would: handy for trying a config
//! server by hand, and the smallest program that links the whole fetcher (its release size
//! is what the fetcher costs the binary, see docs/fetch.md).
//!
//! `cargo run --release -p kindling-fetch --example fetch -- URL [sha512-<hex>] [gzip]`

use kindling_config::model::{Resource, Verification};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(url) = args.first() else {
        eprintln!("usage: fetch URL [sha256-<hex>|sha512-<hex>] [gzip]");
        std::process::exit(2);
    };
    let resource = Resource {
        source: Some(url.clone()),
        compression: args.iter().any(|a| a == "gzip").then(|| "gzip".to_string()),
        verification: Verification {
            hash: args.iter().find(|a| a.starts_with("sha")).cloned(),
        },
        ..Default::default()
    };
    match kindling_fetch::Fetcher::new().fetch(&resource) {
        Ok(bytes) => {
            if let Err(e) = std::io::stdout().write_all(&bytes) {
                eprintln!("writing stdout: {e}");
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
