//! The kargs stage: hand `kernelArguments` to the distro's helper, as upstream does:
//! `ignition-kargs-helper --should-exist A … --should-not-exist B …` (every `shouldExist`
//! first, in config order). The helper edits the bootloader config, must be idempotent, must
//! not fail on absent arguments, and reboots the machine itself when it changed something.

use super::StageError;
use kindling_config::Config;
use kindling_report::Recorder;
use std::process::Command;

pub fn run(config: &Config, helper: &str, recorder: &mut Recorder) -> Result<(), StageError> {
    let args = helper_args(config);
    if args.is_empty() {
        return Ok(());
    }
    recorder
        .op(
            "updating kernel arguments",
            Some("$.kernelArguments"),
            |_| run_helper(helper, &args),
        )
        .map_err(|e| {
            StageError::new(format!("failed adding kernel arguments: {e}"))
                .at("$.kernelArguments")
                .hint(format!(
                    "this image's `{helper}` must handle these kernel arguments; \
                     remove kernelArguments from the config if the distribution cannot"
                ))
        })
}

fn helper_args(config: &Config) -> Vec<String> {
    let kargs = &config.kernel_arguments;
    let exist = kargs.should_exist.iter().map(|a| ("--should-exist", a));
    let not_exist = kargs
        .should_not_exist
        .iter()
        .map(|a| ("--should-not-exist", a));
    exist
        .chain(not_exist)
        .flat_map(|(flag, arg)| [flag.to_string(), arg.clone()])
        .collect()
}

fn run_helper(helper: &str, args: &[String]) -> Result<(), String> {
    log::info!("executing: {helper:?} {args:?}");
    let output = Command::new(helper)
        .args(args)
        .output()
        .map_err(|e| format!("running {helper}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stdout.lines().chain(stderr.lines()) {
        log::info!("{helper}: {line}");
    }
    if output.status.success() {
        return Ok(());
    }
    let last = stderr
        .lines()
        .last()
        .or_else(|| stdout.lines().last())
        .unwrap_or("");
    Err(format!("{helper} {}: {last}", output.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(exist: &[&str], not_exist: &[&str]) -> Config {
        let mut c = Config::default();
        c.kernel_arguments.should_exist = exist.iter().map(|s| s.to_string()).collect();
        c.kernel_arguments.should_not_exist = not_exist.iter().map(|s| s.to_string()).collect();
        c
    }

    #[test]
    fn should_exist_first_in_config_order() {
        assert_eq!(
            helper_args(&config(&["b=1", "a"], &["quiet"])),
            [
                "--should-exist",
                "b=1",
                "--should-exist",
                "a",
                "--should-not-exist",
                "quiet"
            ]
        );
    }

    #[test]
    fn no_kernel_arguments_runs_nothing() {
        let mut rec = Recorder::new("kargs");
        run(&config(&[], &[]), "/nonexistent/helper", &mut rec).unwrap();
        assert!(rec.operations().is_empty());
    }

    #[test]
    fn helper_gets_the_arguments_and_its_failure_fails_the_stage() {
        let dir = std::env::temp_dir().join(format!("kindling-kargs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("args");
        let helper = dir.join("helper");
        std::fs::write(
            &helper,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\n[ \"$2\" != fail ] || {{ echo nope >&2; exit 3; }}\n",
                out.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let helper = helper.to_str().unwrap();
        let mut rec = Recorder::new("kargs");
        run(&config(&["x=1"], &["y"]), helper, &mut rec).unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "--should-exist\nx=1\n--should-not-exist\ny\n"
        );
        let err = run(&config(&["fail"], &[]), helper, &mut rec).unwrap_err();
        assert!(err.message.contains("nope"), "{err:?}");
        assert_eq!(err.config_path.as_deref(), Some("$.kernelArguments"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
