//! purge-orphan: the operator's tool for a gateway's orphans.
//!
//! `purge-orphan -k` asks the gateway to start an orphan check;
//! `purge-orphan VARZ_FILE` asks it to purge the orphans listed in a saved
//! /varz and prints what happened to each one. Everything is validated before
//! a request is sent, and the exit code tells a script whether the orphans
//! are gone (0), something went wrong at the gateway (1), or the tool was
//! used wrongly (2). The logic lives here, not in `main`, so that tests can
//! run the whole tool in-process.

pub mod cli;
pub mod config;
pub mod gateway;
pub mod orphan_file;
pub mod report;

use std::io::Write;
use std::time::Duration;

use clap::Parser;

use crate::cli::{Cli, Mode};
use crate::config::Config;
use crate::gateway::{CheckReply, Gateway};
use crate::report::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

/// The shortest timeout used with `-k --wait`: a check waits out
/// `double_check_orphan_interval` on the gateway before it answers.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(3600);

type Out<'a> = &'a mut (dyn Write + Send);

/// Runs purge-orphan with `args` (args[0] is the program name), writing to `out`/`err`; returns the exit code.
pub async fn run(
    args: Vec<String>,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let text = e.render().to_string();
            return if e.use_stderr() {
                let _ = err.write_all(text.as_bytes());
                EXIT_USAGE
            } else {
                // --help or --version.
                let _ = out.write_all(text.as_bytes());
                EXIT_OK
            };
        }
    };
    let mode = match cli.mode() {
        Ok(mode) => mode,
        Err(msg) => {
            return fail(
                err,
                EXIT_USAGE,
                &format!("{msg}\n(see purge-orphan --help)"),
            )
        }
    };
    let config_path = config::resolve_path(cli.config, std::env::var_os(config::CONFIG_ENV));
    let config = match Config::load(&config_path) {
        Ok(config) => config,
        Err(e) => return fail(err, EXIT_USAGE, &e.to_string()),
    };
    match mode {
        Mode::Check { wait } => check(&config, wait, out, err).await,
        Mode::Purge { orphan_file } => purge(&config, &orphan_file, out, err).await,
    }
}

/// `-k`: start a check, and with `wait` print its report.
async fn check(config: &Config, wait: bool, out: Out<'_>, err: Out<'_>) -> i32 {
    let timeout = if wait {
        config.timeout.max(WAIT_TIMEOUT)
    } else {
        config.timeout
    };
    let gateway = match Gateway::new(config, timeout) {
        Ok(gateway) => gateway,
        Err(e) => return fail(err, EXIT_FAILED, &e.to_string()),
    };
    match gateway.check_orphan(wait).await {
        Ok(CheckReply::Started { check_id }) => {
            say(out, &format!("check started (check_id {check_id}); orphans appear in /varz after double_check_orphan_interval\n"));
            EXIT_OK
        }
        Ok(CheckReply::AlreadyRunning { check_id }) => {
            say(out, &format!("a check is already running (check_id {check_id}); its orphans appear in /varz when it ends\n"));
            EXIT_OK
        }
        Ok(CheckReply::Finished(report)) => {
            let rendered = report::render_check(&report);
            say(out, &rendered.text);
            rendered.exit_code
        }
        Err(e) => fail(err, EXIT_FAILED, &e.to_string()),
    }
}

/// Purge mode: validate the file, then send one purge request.
async fn purge(config: &Config, orphan_file: &std::path::Path, out: Out<'_>, err: Out<'_>) -> i32 {
    let orphans = match orphan_file::load(orphan_file) {
        Ok(orphans) => orphans,
        Err(e) => return fail(err, EXIT_USAGE, &e.to_string()),
    };
    if orphans.is_empty() {
        say(out, "nothing to purge\n");
        return EXIT_OK;
    }
    let gateway = match Gateway::new(config, config.timeout) {
        Ok(gateway) => gateway,
        Err(e) => return fail(err, EXIT_FAILED, &e.to_string()),
    };
    match gateway.purge_orphan(&orphans).await {
        Ok(report) => {
            let rendered = report::render_purge(&orphans, &report);
            say(out, &rendered.text);
            rendered.exit_code
        }
        Err(e) => fail(err, EXIT_FAILED, &e.to_string()),
    }
}

fn say(out: Out<'_>, text: &str) {
    // A closed stdout (e.g. `| head`) must not turn into a panic.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn fail(err: Out<'_>, code: i32, msg: &str) -> i32 {
    let _ = writeln!(err, "purge-orphan: error: {msg}");
    code
}
