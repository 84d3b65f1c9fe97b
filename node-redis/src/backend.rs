//! [`Backend`] for Redis: config files, readiness, ACL users.

use std::time::Duration;

use anyhow::Context;
use node_core::backend::{Backend, InstanceDirs, ServerCommand};
use node_core::config::ServerConfig;
use node_core::InstanceRecord;
use redis::aio::MultiplexedConnection;
use redis::IntoConnectionInfo;
use sha2::{Digest, Sha256};

const DEFAULT_MEMORY_MB: u32 = 64;

pub struct RedisBackend {
    host: String,
    server: ServerConfig,
}

impl RedisBackend {
    /// `host` is the address instances bind to (and the node connects to).
    pub fn new(host: &str, server: ServerConfig) -> Self {
        RedisBackend {
            host: host.to_string(),
            server,
        }
    }

    async fn connect(
        &self,
        rec: &InstanceRecord,
        user: Option<&str>,
        password: &str,
    ) -> anyhow::Result<MultiplexedConnection> {
        let mut settings = redis::RedisConnectionInfo::default().set_password(password);
        if let Some(u) = user {
            settings = settings.set_username(u);
        }
        let info = redis::ConnectionAddr::Tcp(self.host.clone(), rec.port)
            .into_connection_info()?
            .set_redis_settings(settings);
        let client = redis::Client::open(info)?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        Ok(client
            .get_multiplexed_async_connection_with_config(&config)
            .await?)
    }

    /// A connection as the instance's `default` user.
    async fn admin(&self, rec: &InstanceRecord) -> anyhow::Result<MultiplexedConnection> {
        self.connect(rec, None, &rec.password).await
    }
}

/// The `redis.conf` of one instance.
pub fn redis_conf(rec: &InstanceRecord, dirs: &InstanceDirs, host: &str) -> String {
    let dir = dirs.data.display();
    format!(
        "# Written by node-redis for instance {id}. Do not edit.\n\
         bind {host}\n\
         port {port}\n\
         protected-mode yes\n\
         daemonize no\n\
         dir {dir}\n\
         dbfilename dump.rdb\n\
         appendonly yes\n\
         logfile \"\"\n\
         maxmemory {mem}mb\n\
         maxmemory-policy noeviction\n\
         aclfile {dir}/users.acl\n\
         proc-title-template \"{{title}} {{listen-addr}} {{config-file}}\"\n",
        id = rec.id,
        port = rec.port,
        mem = rec.memory_mb,
    )
}

/// The initial ACL file: the instance's `default` user with its password
/// stored as a SHA-256 hash.
pub fn initial_acl(password: &str) -> String {
    let hash = hex::encode(Sha256::digest(password.as_bytes()));
    format!("user default on #{hash} ~* &* +@all\n")
}

impl Backend for RedisBackend {
    fn service(&self) -> &'static str {
        "redis"
    }

    fn memory_mb(&self) -> u32 {
        self.server.memory_mb.unwrap_or(DEFAULT_MEMORY_MB)
    }

    fn prepare(&self, rec: &mut InstanceRecord, dirs: &InstanceDirs) -> anyhow::Result<()> {
        // The instance's own login is Redis's `default` user.
        rec.admin = "default".into();
        rec.adminpass = rec.password.clone();
        let conf = dirs.data.join("redis.conf");
        std::fs::write(&conf, redis_conf(rec, dirs, &self.host)).context("write redis.conf")?;
        let acl = dirs.data.join("users.acl");
        std::fs::write(&acl, initial_acl(&rec.password)).context("write users.acl")?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&acl, std::fs::Permissions::from_mode(0o600))?;
        Ok(())
    }

    fn command(&self, rec: &InstanceRecord, dirs: &InstanceDirs) -> ServerCommand {
        let default_args = vec!["{dir}/redis.conf".to_string()];
        ServerCommand::for_instance(
            &self.server,
            "redis-server",
            &default_args,
            rec,
            dirs,
            &self.host,
        )
    }

    async fn probe(&self, rec: &InstanceRecord) -> anyhow::Result<()> {
        let mut con = self.admin(rec).await?;
        let pong: String = redis::cmd("PING").query_async(&mut con).await?;
        anyhow::ensure!(pong == "PONG", "unexpected PING reply");
        Ok(())
    }

    async fn create_user(
        &self,
        rec: &InstanceRecord,
        username: &str,
        password: &str,
    ) -> anyhow::Result<()> {
        let mut con = self.admin(rec).await?;
        // Full data access on this instance; no ACL, CONFIG, SHUTDOWN & co.
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(username)
            .arg("reset")
            .arg("on")
            .arg(format!(">{password}"))
            .arg("~*")
            .arg("&*")
            .arg("+@all")
            .arg("-@admin")
            .arg("-@dangerous")
            .query_async(&mut con)
            .await?;
        let _: () = redis::cmd("ACL").arg("SAVE").query_async(&mut con).await?;
        Ok(())
    }

    async fn delete_user(&self, rec: &InstanceRecord, username: &str) -> anyhow::Result<bool> {
        anyhow::ensure!(username != "default", "refusing to delete the default user");
        let mut con = self.admin(rec).await?;
        let n: i64 = redis::cmd("ACL")
            .arg("DELUSER")
            .arg(username)
            .query_async(&mut con)
            .await?;
        let _: () = redis::cmd("ACL").arg("SAVE").query_async(&mut con).await?;
        Ok(n > 0)
    }

    async fn list_users(&self, rec: &InstanceRecord) -> anyhow::Result<Vec<String>> {
        let mut con = self.admin(rec).await?;
        let users: Vec<String> = redis::cmd("ACL").arg("USERS").query_async(&mut con).await?;
        Ok(users.into_iter().filter(|u| u != "default").collect())
    }

    fn credentials(
        &self,
        rec: &InstanceRecord,
        host: &str,
        username: &str,
        password: &str,
    ) -> proto::Credentials {
        let uri = if username.is_empty() {
            format!("redis://{host}:{}", rec.port)
        } else {
            format!("redis://{username}:{password}@{host}:{}", rec.port)
        };
        proto::Credentials {
            host: host.to_string(),
            port: rec.port as u32,
            username: username.to_string(),
            password: password.to_string(),
            name: rec.id.clone(),
            uri,
        }
    }
}
