//! Command-line arguments, kept compatible with the original
//! `purge_orphan.rb [-c CONFIG] [-k] ORPHAN_FILE`, and the choice of mode.
//!
//! Checking and purging are separate, explicit steps: `-k` with a file is a
//! usage error rather than "check, then purge".

use std::path::PathBuf;

use clap::Parser;

/// Ask a service gateway to look for orphans, or purge the orphans listed in a saved /varz.
#[derive(Debug, Parser)]
#[command(
    name = "purge-orphan",
    version,
    after_help = "Steps: run `purge-orphan -k`, wait double_check_orphan_interval, save the \
gateway's /varz, review it, then run `purge-orphan VARZ_FILE`.\n\
Exit codes: 0 all purged or already gone (check: outcome ok); 1 an item failed or was \
refused, or the gateway failed; 2 usage, config or orphan-file error (nothing sent)."
)]
pub struct Cli {
    /// YAML config with gateway_uri, token and timeout [default: $PURGE_ORPHAN_CONFIG, else config/purge-orphan.yml]
    #[arg(short, long, value_name = "CONFIG")]
    pub config: Option<PathBuf>,

    /// Start an orphan check on the gateway instead of purging
    #[arg(short = 'k', long)]
    pub check: bool,

    /// With -k: wait for the check to end and print its report
    #[arg(long)]
    pub wait: bool,

    /// Saved gateway /varz JSON whose orphan_instances and orphan_bindings are purged
    #[arg(value_name = "ORPHAN_FILE")]
    pub orphan_file: Option<PathBuf>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Start a check; with `wait`, wait for its report.
    Check { wait: bool },
    /// Purge the orphans listed in this file.
    Purge { orphan_file: PathBuf },
}

impl Cli {
    /// The mode, or a usage error for combinations that make no sense.
    pub fn mode(&self) -> Result<Mode, String> {
        match (self.check, &self.orphan_file) {
            (true, Some(_)) => Err(
                "-k/--check does not take an ORPHAN_FILE: checking and purging are \
                 separate steps (check, save /varz, review it, then purge with the file)"
                    .into(),
            ),
            (true, None) => Ok(Mode::Check { wait: self.wait }),
            (false, _) if self.wait => Err("--wait only goes with -k/--check".into()),
            (false, Some(file)) => Ok(Mode::Purge {
                orphan_file: file.clone(),
            }),
            (false, None) => {
                Err("give an ORPHAN_FILE (a saved /varz) to purge, or -k to start a check".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(args: &[&str]) -> Result<Mode, String> {
        Cli::try_parse_from(args).unwrap().mode()
    }

    #[test]
    fn a_file_selects_purge_mode() {
        assert_eq!(
            mode(&["purge-orphan", "-c", "gw.yml", "varz.json"]),
            Ok(Mode::Purge {
                orphan_file: "varz.json".into()
            })
        );
    }

    #[test]
    fn check_mode_with_and_without_wait() {
        assert_eq!(
            mode(&["purge-orphan", "-k"]),
            Ok(Mode::Check { wait: false })
        );
        assert_eq!(
            mode(&["purge-orphan", "--check", "--wait"]),
            Ok(Mode::Check { wait: true })
        );
    }

    #[test]
    fn check_with_a_file_is_rejected() {
        let err = mode(&["purge-orphan", "-k", "varz.json"]).unwrap_err();
        assert!(
            err.contains("-k/--check does not take an ORPHAN_FILE"),
            "{err}"
        );
    }

    #[test]
    fn wait_without_check_and_no_arguments_are_rejected() {
        assert!(mode(&["purge-orphan", "--wait", "varz.json"])
            .unwrap_err()
            .contains("--wait"));
        assert!(mode(&["purge-orphan"]).unwrap_err().contains("ORPHAN_FILE"));
    }

    #[test]
    fn the_config_flag_has_a_short_and_a_long_form() {
        let cli = Cli::try_parse_from(["purge-orphan", "--config", "a.yml", "-k"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("a.yml")));
        let cli = Cli::try_parse_from(["purge-orphan", "-c", "b.yml", "-k"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("b.yml")));
    }
}
