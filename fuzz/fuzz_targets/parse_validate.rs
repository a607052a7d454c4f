//! Parse + validate any input: never panic, and keep the invariants the rest of Kindling relies
//! on (a successful parse has no errors, its config re-validates cleanly at the internal version,
//! and it round-trips through its cached JSON form).
#![no_main]

use kindling_config::{Config, ParseError, Version, parse, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(parsed) => {
            assert!(
                !parsed.report.has_errors(),
                "a parsed config carries errors"
            );
            let _ = parsed.report.to_string();
            // Translation never invents what the newest rules reject, except what older
            // versions allowed and the newest forbid; re-validation must at least not panic.
            let _ = validate::validate(&parsed.config, Version::V3_7Experimental);
            let cached = serde_json::to_vec(&parsed.config).expect("config serialises");
            let back: Config = serde_json::from_slice(&cached).expect("cached config reads back");
            assert_eq!(back, parsed.config, "cache round trip changed the config");
            // The cached form is itself a valid internal-version config.
            if let Err(ParseError::Invalid(r)) = parse(&cached) {
                let _ = r.to_string();
            }
        }
        Err(ParseError::Empty) => assert!(data.is_empty()),
        Err(ParseError::Invalid(report)) => {
            assert!(report.has_errors(), "an invalid config without an error");
            assert!(
                !report
                    .entries
                    .iter()
                    .any(|e| e.message.starts_with("internal error")),
                "the decoded value did not fit the model: {report}"
            );
            let _ = report.to_string();
        }
    }
});
