//! [`Backend`] for MongoDB: data directory, readiness (and the first
//! administrator), database users.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use mongodb::bson::{bson, doc, Bson, Document};
use mongodb::error::{Error as MongoError, ErrorKind};
use mongodb::{Client, Database};
use node_core::backend::{Backend, InstanceDirs, ServerCommand};
use node_core::config::ServerConfig;
use node_core::{secret, InstanceRecord};

use crate::client::{self, is_auth_error, Login};

const DEFAULT_MEMORY_MB: u32 = 256;
/// The instance's administrator: its name, and the database it lives in.
const ADMIN_USER: &str = "admin";
const ADMIN_DB: &str = "admin";
/// The database clients of an instance get, and their users live in.
const INSTANCE_DB: &str = "db";

// Server error codes.
const USER_NOT_FOUND: i32 = 11;
const NOT_IMPLEMENTED: i32 = 238;
const USER_ALREADY_EXISTS: i32 = 51003;

pub struct MongoBackend {
    host: String,
    server: ServerConfig,
    /// Set once a server refused roles: from then on users are created
    /// without them straight away (see [`MongoBackend::with_roles`]).
    no_roles: AtomicBool,
}

/// The server template for FerretDB (v1.24, SQLite backend, "new
/// authentication" with SCRAM users). FerretDB creates the instance's
/// administrator in the `admin` database on its first start, from the
/// `--setup-*` flags; the password comes from the environment, never the
/// command line.
pub fn ferretdb_server_config(binary: &str) -> ServerConfig {
    let args = [
        "--handler=sqlite",
        // FerretDB wants a directory URI with a trailing slash; the
        // directory must exist (`prepare` creates it).
        "--sqlite-url=file:{dir}/data/",
        "--state-dir={dir}",
        "--listen-addr={bind_host}:{port}",
        // No debug/metrics HTTP listener: it would take a fixed port.
        "--debug-addr=-",
        "--telemetry=disable",
        "--test-enable-new-auth",
        "--setup-database=admin",
        "--setup-username={admin}",
        "--log-level=info",
        "--log-format=text",
    ];
    let env = BTreeMap::from([(
        "FERRETDB_SETUP_PASSWORD".to_string(),
        "{adminpass}".to_string(),
    )]);
    ServerConfig {
        binary: Some(binary.to_string()),
        args: Some(args.iter().map(|a| a.to_string()).collect()),
        env,
        memory_mb: None,
    }
}

/// The default arguments for a real `mongod`: access control on, data in
/// `<dir>/data`, a WiredTiger cache of half the instance's memory limit
/// (at least the minimum of 0.25 GB), no Unix socket in `/tmp`. Logs go to
/// stdout, which the node appends to the instance's log.
fn mongod_args(memory_mb: u32) -> Vec<String> {
    let cache_gb = (f64::from(memory_mb) / 2.0 / 1024.0).max(0.25);
    [
        "--port",
        "{port}",
        "--bind_ip",
        "{bind_host}",
        "--dbpath",
        "{dir}/data",
        "--nounixsocket",
        "--auth",
        "--wiredTigerCacheSizeGB",
        &format!("{cache_gb:.2}"),
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

impl MongoBackend {
    /// `host` is the address instances bind to (and the node connects to).
    pub fn new(host: &str, server: ServerConfig) -> Self {
        MongoBackend {
            host: host.to_string(),
            server,
            no_roles: AtomicBool::new(false),
        }
    }

    /// Runs a `createUser` or `updateUser` command with `roles`. FerretDB has
    /// no authorization and refuses any role with NotImplemented; there users
    /// are created without roles (and can do what every FerretDB user can).
    async fn with_roles(
        &self,
        db: &Database,
        mut cmd: Document,
        roles: Bson,
    ) -> Result<Document, MongoError> {
        if self.no_roles.load(Ordering::Relaxed) {
            cmd.insert("roles", Bson::Array(Vec::new()));
            return db.run_command(cmd).await;
        }
        cmd.insert("roles", roles);
        match db.run_command(cmd.clone()).await {
            Err(e) if code(&e) == Some(NOT_IMPLEMENTED) => {
                tracing::warn!(
                    "the server does not implement roles (FerretDB): \
                     binding users get no role restrictions"
                );
                self.no_roles.store(true, Ordering::Relaxed);
                cmd.insert("roles", Bson::Array(Vec::new()));
                db.run_command(cmd).await
            }
            other => other,
        }
    }

    /// A client logged in as the instance's administrator.
    async fn admin_client(&self, rec: &InstanceRecord) -> Result<Client, MongoError> {
        let admin = Login {
            user: &rec.admin,
            password: &rec.adminpass,
            source: ADMIN_DB,
        };
        client::login(&self.host, rec.port, &admin).await
    }

    /// The instance's database, as its administrator.
    async fn admin_db(&self, rec: &InstanceRecord) -> anyhow::Result<Database> {
        let client = self
            .admin_client(rec)
            .await
            .map_err(|e| fail(rec, "administrator login", &e, &[]))?;
        Ok(client.database(&rec.db))
    }
}

/// An error for the caller, with every secret of the instance (and
/// `extra`) masked.
fn fail(rec: &InstanceRecord, what: &str, e: &MongoError, extra: &[&str]) -> anyhow::Error {
    let mut secrets = vec![rec.adminpass.as_str(), rec.password.as_str()];
    secrets.extend_from_slice(extra);
    anyhow::anyhow!("{what}: {}", secret::scrub(&e.to_string(), &secrets))
}

/// The server's error code, for errors that are a command's reply.
fn code(e: &MongoError) -> Option<i32> {
    match e.kind.as_ref() {
        ErrorKind::Command(c) => Some(c.code),
        _ => None,
    }
}

/// Percent-encodes the user-info part of a URI.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Backend for MongoBackend {
    fn service(&self) -> &'static str {
        "mongodb"
    }

    fn memory_mb(&self) -> u32 {
        self.server.memory_mb.unwrap_or(DEFAULT_MEMORY_MB)
    }

    fn prepare(&self, rec: &mut InstanceRecord, dirs: &InstanceDirs) -> anyhow::Result<()> {
        rec.admin = ADMIN_USER.into();
        rec.adminpass = secret::generate();
        rec.db = INSTANCE_DB.into();
        let data = dirs.data.join("data");
        std::fs::create_dir(&data).context("create data directory")?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700))?;
        Ok(())
    }

    fn command(&self, rec: &InstanceRecord, dirs: &InstanceDirs) -> ServerCommand {
        let default_args = mongod_args(rec.memory_mb);
        ServerCommand::for_instance(&self.server, "mongod", &default_args, rec, dirs, &self.host)
    }

    async fn probe(&self, rec: &InstanceRecord) -> anyhow::Result<()> {
        // Logging in pings.
        let refused = match self.admin_client(rec).await {
            Ok(_) => return Ok(()),
            Err(e) if is_auth_error(&e) => e,
            Err(e) => return Err(fail(rec, "ping", &e, &[])),
        };
        // No administrator yet: a fresh `mongod --auth` lets a client on
        // localhost create the first user without authenticating.
        let anonymous =
            client::anonymous(&self.host, rec.port).map_err(|e| fail(rec, "client", &e, &[]))?;
        let created = anonymous
            .database(ADMIN_DB)
            .run_command(doc! {
                "createUser": rec.admin.as_str(),
                "pwd": rec.adminpass.as_str(),
                "roles": [{ "role": "root", "db": ADMIN_DB }],
            })
            .await;
        match created {
            Ok(_) => tracing::info!(instance = %rec.id, "created the instance's administrator"),
            Err(e) if code(&e) == Some(USER_ALREADY_EXISTS) => {}
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "{}; nor can it be created without authentication: {}",
                    fail(rec, "administrator login", &refused, &[]),
                    fail(rec, "createUser", &e, &[])
                ))
            }
        }
        self.admin_client(rec)
            .await
            .map(|_| ())
            .map_err(|e| fail(rec, "administrator login", &e, &[]))
    }

    async fn create_user(
        &self,
        rec: &InstanceRecord,
        username: &str,
        password: &str,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(username != rec.admin, "refusing to reset the administrator");
        let db = self.admin_db(rec).await?;
        let roles = bson!([
            { "role": "readWrite", "db": rec.db.as_str() },
            { "role": "dbAdmin", "db": rec.db.as_str() },
        ]);
        let created = self
            .with_roles(
                &db,
                doc! { "createUser": username, "pwd": password },
                roles.clone(),
            )
            .await;
        let result = match created {
            Err(e) if code(&e) == Some(USER_ALREADY_EXISTS) => {
                self.with_roles(&db, doc! { "updateUser": username, "pwd": password }, roles)
                    .await
            }
            other => other,
        };
        result
            .map(|_| ())
            .map_err(|e| fail(rec, "createUser", &e, &[password]))
    }

    async fn delete_user(&self, rec: &InstanceRecord, username: &str) -> anyhow::Result<bool> {
        anyhow::ensure!(
            username != rec.admin,
            "refusing to delete the administrator"
        );
        let db = self.admin_db(rec).await?;
        match db.run_command(doc! { "dropUser": username }).await {
            Ok(_) => Ok(true),
            Err(e) if code(&e) == Some(USER_NOT_FOUND) => Ok(false),
            Err(e) => Err(fail(rec, "dropUser", &e, &[])),
        }
    }

    async fn list_users(&self, rec: &InstanceRecord) -> anyhow::Result<Vec<String>> {
        let db = self.admin_db(rec).await?;
        let reply = db
            .run_command(doc! { "usersInfo": 1 })
            .await
            .map_err(|e| fail(rec, "usersInfo", &e, &[]))?;
        let users = reply
            .get_array("users")
            .context("usersInfo: reply without users")?;
        Ok(users
            .iter()
            .filter_map(Bson::as_document)
            .filter(|u| u.get_str("db").is_ok_and(|d| d == rec.db))
            .filter_map(|u| u.get_str("user").ok())
            // The administrator is the instance's own login, never a binding.
            .filter(|u| *u != rec.admin)
            .map(str::to_string)
            .collect())
    }

    fn credentials(
        &self,
        rec: &InstanceRecord,
        host: &str,
        username: &str,
        password: &str,
    ) -> proto::Credentials {
        let auth = if username.is_empty() {
            String::new()
        } else {
            format!("{}:{}@", encode(username), encode(password))
        };
        let uri_host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        proto::Credentials {
            host: host.to_string(),
            port: rec.port as u32,
            username: username.to_string(),
            password: password.to_string(),
            name: rec.db.clone(),
            uri: format!("mongodb://{auth}{uri_host}:{}/{}", rec.port, rec.db),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn record() -> InstanceRecord {
        InstanceRecord {
            id: "i1".into(),
            port: 27100,
            password: "unused".into(),
            plan: "dedicated".into(),
            pid: None,
            memory_mb: 1024,
            admin: "admin".into(),
            adminpass: "s3cret".into(),
            db: "db".into(),
            created_at: 0,
        }
    }

    fn dirs() -> InstanceDirs {
        InstanceDirs {
            data: PathBuf::from("/base/instances/i1"),
            log: PathBuf::from("/base/logs/i1.log"),
        }
    }

    #[test]
    fn default_command_is_mongod_with_the_marker_and_no_secret() {
        let b = MongoBackend::new("127.0.0.1", ServerConfig::default());
        let cmd = b.command(&record(), &dirs());
        assert_eq!(cmd.program, "mongod");
        let line = cmd.args.join(" ");
        assert!(line.contains(&dirs().marker()), "{line}");
        assert!(line.contains("--port 27100 --bind_ip 127.0.0.1"), "{line}");
        assert!(line.contains("--auth"));
        assert!(line.contains("--wiredTigerCacheSizeGB 0.50"), "{line}");
        assert!(!line.contains("s3cret"));
    }

    #[test]
    fn ferretdb_command_keeps_the_password_in_the_environment() {
        let b = MongoBackend::new("127.0.0.1", ferretdb_server_config("/bin/ferretdb"));
        let cmd = b.command(&record(), &dirs());
        assert_eq!(cmd.program, "/bin/ferretdb");
        let line = cmd.args.join(" ");
        assert!(
            line.contains("--sqlite-url=file:/base/instances/i1/data/"),
            "{line}"
        );
        assert!(line.contains("--listen-addr=127.0.0.1:27100"), "{line}");
        assert!(line.contains("--setup-username=admin"), "{line}");
        assert!(!line.contains("s3cret"));
        assert_eq!(
            cmd.env,
            vec![("FERRETDB_SETUP_PASSWORD".to_string(), "s3cret".to_string())]
        );
    }

    #[test]
    fn credentials_name_the_database_and_encode_the_uri() {
        let b = MongoBackend::new("127.0.0.1", ServerConfig::default());
        let c = b.credentials(&record(), "10.0.0.5", "bind-1", "p@ss");
        assert_eq!(c.name, "db");
        assert_eq!(c.uri, "mongodb://bind-1:p%40ss@10.0.0.5:27100/db");
        let c = b.credentials(&record(), "::1", "", "");
        assert_eq!(c.uri, "mongodb://[::1]:27100/db");
    }
}
