//! What a failed stage shows: a short summary on the console (in the initramfs; the kernel log
//! if the console cannot be opened), on stderr
//! (the journal) and in `kindling-failure.txt` beside the state file for the emergency shell.
//! Never the config itself: it may hold secrets (upstream prints the whole config).

use super::flags::Flags;
use super::{Env, StageError};
use kindling_report::{Operation, Outcome};
use std::io::Write;

const DEFAULT_HINT: &str =
    "fix the config and provision the machine again (the log explains the failure)";

/// Show the summary everywhere it may be seen.
pub fn report(flags: &Flags, env: &Env, error: &StageError, operations: &[Operation]) {
    let text = summary(flags, error, operations);
    eprint!("{text}");
    if let Some(console) = &env.console {
        let open = |path| std::fs::OpenOptions::new().write(true).open(path);
        match open(console.as_path()) {
            Ok(mut tty) => {
                let _ = tty.write_all(text.as_bytes());
            }
            // No console device: the kernel log reaches the console too (one record per line).
            Err(_) => {
                if let Ok(mut kmsg) = open(std::path::Path::new("/dev/kmsg")) {
                    for line in text.lines().filter(|l| !l.is_empty()) {
                        let _ = kmsg.write_all(format!("<2>{line}\n").as_bytes());
                    }
                }
            }
        }
    }
    let saved = flags.state_file.with_file_name("kindling-failure.txt");
    if let Err(e) = super::state::write_private(&saved, text.as_bytes()) {
        log::warn!("writing {}: {e}", saved.display());
    }
}

/// The summary: which stage, what failed, where in the config, what to do.
pub fn summary(flags: &Flags, error: &StageError, operations: &[Operation]) -> String {
    // Operations finish innermost first, so the first failed one with a config path is the
    // most precise.
    let failed_op = operations
        .iter()
        .find(|op| matches!(op.outcome, Outcome::Failed(_)) && op.config_path.is_some());
    let config_path = error
        .config_path
        .as_deref()
        .or(failed_op.and_then(|op| op.config_path.as_deref()));
    let mut text = format!(
        "\nkindling: the {} stage failed; the boot stops here in emergency mode.\n",
        flags.stage
    );
    text += &format!("  error:      {}\n", one_line(&error.message));
    if let Some(op) = failed_op {
        text += &format!("  while:      {}\n", one_line(&op.name));
    }
    if let Some(path) = config_path {
        text += &format!("  config:     {path}\n");
    }
    text += &format!(
        "  what to do: {}\n",
        error.hint.as_deref().unwrap_or(DEFAULT_HINT)
    );
    text += &format!(
        "  details:    journalctl -b -t ignition; {}\n\n",
        flags
            .state_file
            .with_file_name("kindling-ops.json")
            .display()
    );
    text
}

/// Keep the summary short: one line per item, cut long messages.
fn one_line(text: &str) -> String {
    let line = text.replace('\n', " ");
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kindling_report::Recorder;

    #[test]
    fn names_stage_error_config_path_and_what_to_do() {
        let flags = match super::super::flags::parse(&[
            "--platform=file".into(),
            "--stage=files".into(),
            "--state-file=/run/ignition/state".into(),
        ]) {
            Ok(super::super::flags::Parsed::Run(f)) => f,
            _ => panic!("flags"),
        };
        let mut rec = Recorder::new("files");
        let _ = rec.op("writing file \"/etc/x\"", Some("$.storage.files.2"), |_| {
            Err::<(), _>("hash verification failed")
        });
        let error = StageError::new("failed to create files:\nhash verification failed");
        let text = summary(&flags, &error, rec.operations());
        assert!(text.contains("the files stage failed"), "{text}");
        assert!(
            text.contains("error:      failed to create files: hash"),
            "{text}"
        );
        assert!(text.contains("config:     $.storage.files.2"), "{text}");
        assert!(
            text.contains("while:      writing file \"/etc/x\""),
            "{text}"
        );
        assert!(text.contains(DEFAULT_HINT), "{text}");
        assert!(text.contains("/run/ignition/kindling-ops.json"), "{text}");
        let hinted = StageError::new("x").at("$.a").hint("do this");
        let text = summary(&flags, &hinted, &[]);
        assert!(text.contains("config:     $.a") && text.contains("what to do: do this"));
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(one_line(&"x".repeat(400)).chars().count(), 301);
    }
}
