//! What a service type must provide for a node to run it.
//!
//! The node core owns the registry, ports, processes and the gRPC surface; a
//! backend knows one server: how to lay out a new instance's files, which
//! command starts it, how to tell that it answers, and how to manage the
//! users that are its bindings. A backend never deletes files or signals
//! processes: the core does that, after checking a process is really ours.

use std::future::Future;
use std::path::PathBuf;

use crate::registry::InstanceRecord;

/// Where one instance lives on disk. All paths are absolute.
#[derive(Debug, Clone)]
pub struct InstanceDirs {
    /// `<base>/instances/<id>`: data, config, anything the server keeps.
    pub data: PathBuf,
    /// `<base>/logs/<id>.log`: the server's stdout and stderr.
    pub log: PathBuf,
}

impl InstanceDirs {
    /// The string that appears in the command line of this instance's server
    /// and nowhere else: its data directory with a trailing `/`.
    pub fn marker(&self) -> String {
        format!("{}/", self.data.display())
    }
}

/// A command that starts one server.
#[derive(Clone)]
pub struct ServerCommand {
    pub program: String,
    pub args: Vec<String>,
    /// Extra environment. Values may be secrets and are never logged.
    pub env: Vec<(String, String)>,
}

// Environment values may be secrets: show only the names.
impl std::fmt::Debug for ServerCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCommand")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .finish()
    }
}

impl ServerCommand {
    /// Builds a command from a template, replacing `{name}` placeholders
    /// with `vars`. Unknown placeholders are left as they are.
    pub fn render(
        program: &str,
        args: &[String],
        env: &std::collections::BTreeMap<String, String>,
        vars: &[(&str, &str)],
    ) -> ServerCommand {
        let fill = |s: &str| {
            vars.iter().fold(s.to_string(), |acc, (k, v)| {
                acc.replace(&format!("{{{k}}}"), v)
            })
        };
        ServerCommand {
            program: fill(program),
            args: args.iter().map(|a| fill(a)).collect(),
            env: env.iter().map(|(k, v)| (k.clone(), fill(v))).collect(),
        }
    }
}

impl ServerCommand {
    /// The command for one instance from a node's `server:` config (or the
    /// service's defaults), with every placeholder filled in from the
    /// instance's record and directories.
    pub fn for_instance(
        server: &crate::config::ServerConfig,
        default_program: &str,
        default_args: &[String],
        rec: &InstanceRecord,
        dirs: &InstanceDirs,
        bind_host: &str,
    ) -> ServerCommand {
        let dir = dirs.data.display().to_string();
        let log = dirs.log.display().to_string();
        let port = rec.port.to_string();
        ServerCommand::render(
            server.binary.as_deref().unwrap_or(default_program),
            server.args.as_deref().unwrap_or(default_args),
            &server.env,
            &[
                ("port", &port),
                ("bind_host", bind_host),
                ("dir", &dir),
                ("log", &log),
                ("id", &rec.id),
                ("admin", &rec.admin),
                ("adminpass", &rec.adminpass),
                ("db", &rec.db),
            ],
        )
    }
}

pub trait Backend: Send + Sync + 'static {
    /// The service type, e.g. `redis`.
    fn service(&self) -> &'static str;

    /// Memory limit recorded for new instances, in MiB.
    fn memory_mb(&self) -> u32;

    /// Fills in the service-specific fields of a new record (`admin`,
    /// `adminpass`, `db`) and writes the files the server needs before its
    /// first start. `dirs.data` exists and is empty.
    fn prepare(&self, rec: &mut InstanceRecord, dirs: &InstanceDirs) -> anyhow::Result<()>;

    /// The command that starts (or restarts) this instance's server. Its
    /// arguments must contain `dirs.marker()`.
    fn command(&self, rec: &InstanceRecord, dirs: &InstanceDirs) -> ServerCommand;

    /// One readiness probe: `Ok` once the server answers and the instance's
    /// own credentials work.
    fn probe(&self, rec: &InstanceRecord) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Creates (or resets) a binding's user on the running server.
    fn create_user(
        &self,
        rec: &InstanceRecord,
        username: &str,
        password: &str,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Deletes a binding's user; `Ok(false)` when there was no such user.
    fn delete_user(
        &self,
        rec: &InstanceRecord,
        username: &str,
    ) -> impl Future<Output = anyhow::Result<bool>> + Send;

    /// The binding users really present on the running server. The
    /// instance's own users (its admin, its default user) are never listed.
    fn list_users(
        &self,
        rec: &InstanceRecord,
    ) -> impl Future<Output = anyhow::Result<Vec<String>>> + Send;

    /// What a client of a binding needs to connect.
    fn credentials(
        &self,
        rec: &InstanceRecord,
        host: &str,
        username: &str,
        password: &str,
    ) -> proto::Credentials;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_fills_placeholders_in_program_args_and_env() {
        let env = [("PASS".to_string(), "{adminpass}".to_string())].into();
        let cmd = ServerCommand::render(
            "/opt/{id}/bin",
            &[
                "--port={port}".into(),
                "--dbpath={dir}/db".into(),
                "{unknown}".into(),
            ],
            &env,
            &[
                ("port", "7001"),
                ("dir", "/d/i1"),
                ("id", "i1"),
                ("adminpass", "pw"),
            ],
        );
        assert_eq!(cmd.program, "/opt/i1/bin");
        assert_eq!(
            cmd.args,
            vec!["--port=7001", "--dbpath=/d/i1/db", "{unknown}"]
        );
        assert_eq!(cmd.env, vec![("PASS".to_string(), "pw".to_string())]);
    }
}
