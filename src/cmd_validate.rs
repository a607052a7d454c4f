//! `kindling validate`: a drop-in for `ignition-validate`.
//!
//! `kindling validate [--strict] [--json] FILE|-`. Like upstream, the report goes to stdout in
//! Ignition's line format, problems that come without a report (empty input, bad version) go to
//! stderr as `couldn't parse config: …`, and the exit status is 0 for a valid config and 1
//! otherwise. Kindling adds a hint line per finding on stderr, `--strict` (warnings fail) and
//! `--json` (a machine-readable report on stdout).

use kindling_config::{ParseError, Report, Severity, parse};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::ExitCode;

const USAGE: &str = "Usage:\n  kindling validate [--strict] [--json] config.ign|-\n\n  \
--strict   treat warnings as errors\n  --json     print the report as JSON\n  \
--version  print the version of kindling validate\n";

#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    strict: bool,
    json: bool,
    version: bool,
    file: Option<OsString>,
}

/// Go `flag` style: `-x` and `--x` both work, flags come before the file, `-` is stdin.
fn parse_args(args: &[OsString]) -> Result<Options, String> {
    let mut opts = Options::default();
    let mut rest = args.iter();
    for arg in rest.by_ref() {
        let Some(s) = arg.to_str() else {
            opts.file = Some(arg.clone());
            break;
        };
        if s == "-" || !s.starts_with('-') {
            opts.file = Some(arg.clone());
            break;
        }
        if s == "--" {
            opts.file = rest.next().cloned();
            break;
        }
        match s.trim_start_matches('-') {
            "strict" | "strict=true" => opts.strict = true,
            "strict=false" => opts.strict = false,
            "json" | "json=true" => opts.json = true,
            "json=false" => opts.json = false,
            "version" => opts.version = true,
            "h" | "help" => return Err(String::new()),
            other => return Err(format!("flag provided but not defined: -{other}")),
        }
    }
    if rest.next().is_some() || (opts.file.is_none() && !opts.version) {
        return Err(String::new());
    }
    Ok(opts)
}

pub fn run(args: &[OsString]) -> ExitCode {
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("{message}");
            }
            eprint!("{USAGE}");
            return ExitCode::from(1);
        }
    };
    if opts.version {
        println!("kindling validate {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let input = match read_input(opts.file.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("couldn't read config: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = validate(&input, opts.strict, opts.json);
    // Nothing useful can be done when the terminal is gone.
    let _ = std::io::stdout().write_all(outcome.stdout.as_bytes());
    let _ = std::io::stderr().write_all(outcome.stderr.as_bytes());
    ExitCode::from(outcome.code)
}

fn read_input(file: Option<&std::ffi::OsStr>) -> std::io::Result<Vec<u8>> {
    match file {
        Some(f) if f == "-" => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf)?;
            Ok(buf)
        }
        Some(f) => std::fs::read(f),
        None => Ok(Vec::new()),
    }
}

/// What the command prints and returns for one input.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    code: u8,
    stdout: String,
    stderr: String,
}

fn validate(input: &[u8], strict: bool, json: bool) -> Outcome {
    let (mut report, version, fatal) = match parse(input) {
        Ok(p) => (p.report, Some(p.version), None),
        Err(ParseError::Empty) => (Report::default(), None, Some("not a config (empty)".into())),
        Err(ParseError::Invalid(r)) => {
            // An entry with neither path nor position is upstream's bare error (version).
            let bare = r.entries.len() == 1
                && r.entries[0].path.is_none()
                && r.entries[0].position.is_none();
            if bare {
                let message = r.entries[0].message.clone();
                (r, None, Some(message))
            } else {
                (r, None, Some("config is not valid".to_owned()))
            }
        }
    };
    if strict {
        for e in &mut report.entries {
            e.severity = Severity::Error;
        }
    }
    let valid = fatal.is_none() && !report.has_errors();
    let code = if valid { 0 } else { 1 };
    if json {
        return Outcome {
            code,
            stdout: json_report(&report, version, valid, fatal.as_deref()),
            stderr: String::new(),
        };
    }
    let bare_only = report
        .entries
        .iter()
        .all(|e| e.path.is_none() && e.position.is_none());
    let mut stdout = String::new();
    let mut stderr = String::new();
    if !report.entries.is_empty() && !bare_only {
        // Upstream prints the trimmed report through Printf as the format string.
        stdout = go_printf_without_args(&format!("{}\n", report.to_string().trim()));
    }
    for e in &report.entries {
        if let Some(h) = &e.hint {
            // One line per hint, even for keys with line breaks in them.
            let at = one_line(e.path.as_deref().unwrap_or("config"));
            stderr.push_str(&format!("  hint for {at}: {}\n", one_line(h)));
        }
    }
    if bare_only && let Some(f) = &fatal {
        stderr.push_str(&format!("couldn't parse config: {f}\n"));
    }
    Outcome {
        code,
        stdout,
        stderr,
    }
}

/// What Go's `fmt.Printf(format)` prints with no arguments: `%%` is `%`, every other verb
/// becomes `%!v(MISSING)` (with Go's `BADINDEX`/`BADWIDTH`/`BADPREC`/`NOVERB` variants).
/// `ignition-validate` passes its report as the format string, so a `%` in a key name or unit
/// name comes out this way; reproduced so output matches byte for byte.
fn go_printf_without_args(format: &str) -> String {
    let b = format.as_bytes();
    let end = b.len();
    let mut out = String::with_capacity(end);
    let mut i = 0;
    // Go's parsenum: digits, giving up (and jumping to the end) past a million.
    let parsenum = |mut i: usize| -> (bool, usize) {
        let mut num: i64 = 0;
        let mut isnum = false;
        while i < end && b[i].is_ascii_digit() {
            if num > 1_000_000 {
                return (false, end);
            }
            num = num * 10 + i64::from(b[i] - b'0');
            isnum = true;
            i += 1;
        }
        (isnum, i)
    };
    // Go's argNumber with no arguments: `[n]` is always a bad index.
    let arg_number = |i: usize, good: &mut bool| -> (usize, bool) {
        if i >= end || b[i] != b'[' {
            return (i, false);
        }
        *good = false;
        let rest = &b[i..];
        if rest.len() < 3 {
            return (i + 1, false);
        }
        match rest.iter().skip(1).position(|&c| c == b']') {
            Some(p) => {
                let close = p + 1;
                let digits = &rest[1..close];
                let ok = !digits.is_empty() && digits.iter().all(u8::is_ascii_digit);
                (i + close + 1, ok)
            }
            None => (i + 1, false),
        }
    };
    while i < end {
        let start = i;
        while i < end && b[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[start..i]);
        if i >= end {
            break;
        }
        i += 1;
        while i < end && matches!(b[i], b'#' | b'0' | b'+' | b'-' | b' ') {
            i += 1;
        }
        let mut good = true;
        let (ni, mut after_index) = arg_number(i, &mut good);
        i = ni;
        if i < end && b[i] == b'*' {
            i += 1;
            out.push_str("%!(BADWIDTH)");
            after_index = false;
        } else {
            let (present, ni) = parsenum(i);
            i = ni;
            if after_index && present {
                good = false;
            }
        }
        if i + 1 < end && b[i] == b'.' {
            i += 1;
            if after_index {
                good = false;
            }
            let (ni, ai) = arg_number(i, &mut good);
            i = ni;
            after_index = ai;
            if i < end && b[i] == b'*' {
                i += 1;
                out.push_str("%!(BADPREC)");
                after_index = false;
            } else {
                i = parsenum(i).1;
            }
        }
        if !after_index {
            i = arg_number(i, &mut good).0;
        }
        if i >= end {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('?');
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%');
        } else if !good {
            out.push_str(&format!("%!{verb}(BADINDEX)"));
        } else {
            out.push_str(&format!("%!{verb}(MISSING)"));
        }
    }
    out
}

/// Control characters escaped, so a hint stays on one line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn json_report(
    report: &Report,
    version: Option<kindling_config::Version>,
    valid: bool,
    fatal: Option<&str>,
) -> String {
    let entries: Vec<serde_json::Value> = report
        .entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "severity": e.severity.to_string(),
                "path": e.path,
                "line": e.position.map(|p| p.0),
                "column": e.position.map(|p| p.1),
                "message": e.message,
                "hint": e.hint,
                "text": e.to_string(),
            })
        })
        .collect();
    let out = serde_json::json!({
        "valid": valid,
        "version": version.map(|v| v.to_string()),
        "error": if valid { None } else { fatal },
        "entries": entries,
    });
    format!("{out:#}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn arguments_like_go_flag() {
        let o = parse_args(&os(&["--strict", "-json", "x.ign"])).unwrap_or_default();
        assert!(o.strict && o.json);
        assert_eq!(o.file, Some("x.ign".into()));
        assert_eq!(
            parse_args(&os(&["-"])).map(|o| o.file),
            Ok(Some("-".into()))
        );
        assert!(parse_args(&os(&[])).is_err());
        assert!(parse_args(&os(&["a", "b"])).is_err());
        assert!(parse_args(&os(&["--bogus", "a"])).is_err());
        assert_eq!(parse_args(&os(&["-version"])).map(|o| o.version), Ok(true));
    }

    #[test]
    fn valid_config_prints_nothing() {
        let out = validate(br#"{"ignition":{"version":"3.4.0"}}"#, false, false);
        assert_eq!(
            out,
            Outcome {
                code: 0,
                stdout: String::new(),
                stderr: String::new()
            }
        );
    }

    #[test]
    fn invalid_config_prints_ignition_lines() {
        let input = br#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"a"}]}}"#;
        let out = validate(input, false, false);
        assert_eq!(out.code, 1);
        assert_eq!(
            out.stdout,
            "error at $.storage.files.0.path, line 1 col 61: path not absolute\n"
        );
        assert!(out.stderr.contains("hint for $.storage.files.0.path"));
    }

    #[test]
    fn warnings_pass_unless_strict() {
        let input = br#"{"ignition":{"version":"3.4.0"},"foo":1}"#;
        let lax = validate(input, false, false);
        assert_eq!(lax.code, 0);
        assert_eq!(
            lax.stdout,
            "warning at $.foo, line 1 col 33: unused key foo\n"
        );
        let strict = validate(input, true, false);
        assert_eq!(strict.code, 1);
        assert_eq!(
            strict.stdout,
            "error at $.foo, line 1 col 33: unused key foo\n"
        );
    }

    #[test]
    fn errors_without_a_report_go_to_stderr() {
        let out = validate(
            br#"{"ignition":{"version":"3.6.0-experimental"}}"#,
            false,
            false,
        );
        assert_eq!(out.code, 1);
        assert_eq!(out.stdout, "");
        assert!(
            out.stderr
                .ends_with("couldn't parse config: unsupported config version\n")
        );
        let empty = validate(b"", false, false);
        assert_eq!(empty.code, 1);
        assert!(
            empty
                .stderr
                .ends_with("couldn't parse config: not a config (empty)\n")
        );
    }

    #[test]
    fn syntax_errors_are_reported_with_position() {
        let out = validate(b"{\"ignition\": x}", false, false);
        assert_eq!(out.code, 1);
        assert_eq!(
            out.stdout,
            "error at line 1 col 15: invalid character 'x' looking for beginning of value\n"
        );
    }

    #[test]
    fn percent_signs_come_out_as_go_printf_prints_them() {
        let cases = [
            ("plain", "plain"),
            ("a%qb", "a%!q(MISSING)b"),
            ("100%%", "100%"),
            ("x%", "x%!(NOVERB)"),
            ("%-5.2f", "%!f(MISSING)"),
            ("%*d", "%!(BADWIDTH)%!d(MISSING)"),
            ("%[1]d", "%!d(BADINDEX)"),
            ("%é", "%!é(MISSING)"),
        ];
        for (input, want) in cases {
            assert_eq!(go_printf_without_args(input), want, "{input}");
        }
    }

    #[test]
    fn hints_stay_on_one_line() {
        assert_eq!(one_line("a\nb\"c"), "a\\nb\"c");
    }

    #[test]
    fn json_report() {
        let input = br#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"a"}]}}"#;
        let out = validate(input, false, true);
        assert_eq!(out.code, 1);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        assert_eq!(v["valid"], false);
        assert_eq!(v["entries"][0]["path"], "$.storage.files.0.path");
        assert_eq!(v["entries"][0]["line"], 1);
        assert_eq!(v["entries"][0]["column"], 61);
        let ok = validate(br#"{"ignition":{"version":"3.0.0"}}"#, false, true);
        let v: serde_json::Value = serde_json::from_str(&ok.stdout).unwrap_or_default();
        assert_eq!(
            (v["valid"].clone(), v["version"].clone()),
            (true.into(), "3.0.0".into())
        );
    }
}
