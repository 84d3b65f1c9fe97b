//! The node's SQLite registry: one row per instance, one per binding.
//!
//! The registry is what the node *believes* it holds; `node::list_handles`
//! checks it against what really runs. Rows keep the original's columns
//! (`name` is the instance id; `admin`, `adminpass`, `db` are used by
//! services that have them) plus `created_at`, which the gateway uses to
//! leave young objects alone.

use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;
use std::sync::Mutex;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct InstanceRecord {
    pub id: String,
    pub port: u16,
    pub password: String,
    pub plan: String,
    pub pid: Option<u32>,
    pub memory_mb: u32,
    pub admin: String,
    pub adminpass: String,
    pub db: String,
    pub created_at: i64,
}

#[derive(Clone, PartialEq, Eq)]
pub struct BindingRecord {
    pub id: String,
    pub instance_id: String,
    pub username: String,
    pub password: String,
    pub created_at: i64,
}

// Hand-written so a password can never reach a log through `{:?}`.
impl std::fmt::Debug for InstanceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceRecord")
            .field("id", &self.id)
            .field("port", &self.port)
            .field("plan", &self.plan)
            .field("pid", &self.pid)
            .field("memory_mb", &self.memory_mb)
            .field("admin", &self.admin)
            .field("db", &self.db)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for BindingRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BindingRecord")
            .field("id", &self.id)
            .field("instance_id", &self.instance_id)
            .field("username", &self.username)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS provisioned_services (
    name       TEXT PRIMARY KEY,
    port       INTEGER NOT NULL UNIQUE,
    password   TEXT NOT NULL,
    plan       TEXT NOT NULL,
    pid        INTEGER,
    memory     INTEGER NOT NULL,
    admin      TEXT NOT NULL DEFAULT '',
    adminpass  TEXT NOT NULL DEFAULT '',
    db         TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS bindings (
    id          TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL REFERENCES provisioned_services(name),
    username    TEXT NOT NULL,
    password    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (instance_id, username)
);
";

/// The registry. Queries are small and local, so a blocking connection
/// behind a mutex is enough; the lock is never held across an `.await`.
pub struct Registry {
    conn: Mutex<Connection>,
}

fn instance_from_row(r: &Row<'_>) -> rusqlite::Result<InstanceRecord> {
    Ok(InstanceRecord {
        id: r.get(0)?,
        port: r.get(1)?,
        password: r.get(2)?,
        plan: r.get(3)?,
        pid: r.get(4)?,
        memory_mb: r.get(5)?,
        admin: r.get(6)?,
        adminpass: r.get(7)?,
        db: r.get(8)?,
        created_at: r.get(9)?,
    })
}

fn binding_from_row(r: &Row<'_>) -> rusqlite::Result<BindingRecord> {
    Ok(BindingRecord {
        id: r.get(0)?,
        instance_id: r.get(1)?,
        username: r.get(2)?,
        password: r.get(3)?,
        created_at: r.get(4)?,
    })
}

const INSTANCE_COLUMNS: &str =
    "name, port, password, plan, pid, memory, admin, adminpass, db, created_at";
const BINDING_COLUMNS: &str = "id, instance_id, username, password, created_at";

impl Registry {
    pub fn open(path: &Path) -> rusqlite::Result<Registry> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Registry {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn instances(&self) -> rusqlite::Result<Vec<InstanceRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM provisioned_services ORDER BY created_at, name"
        ))?;
        let rows = stmt.query_map([], instance_from_row)?;
        rows.collect()
    }

    pub fn instance(&self, id: &str) -> rusqlite::Result<Option<InstanceRecord>> {
        self.conn()
            .query_row(
                &format!("SELECT {INSTANCE_COLUMNS} FROM provisioned_services WHERE name = ?1"),
                [id],
                instance_from_row,
            )
            .optional()
    }

    pub fn count_instances(&self) -> rusqlite::Result<u32> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM provisioned_services", [], |r| {
                r.get(0)
            })
    }

    pub fn insert_instance(&self, rec: &InstanceRecord) -> rusqlite::Result<()> {
        self.conn().execute(
            &format!("INSERT INTO provisioned_services ({INSTANCE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
            params![rec.id, rec.port, rec.password, rec.plan, rec.pid, rec.memory_mb, rec.admin, rec.adminpass, rec.db, rec.created_at],
        )?;
        Ok(())
    }

    pub fn set_pid(&self, id: &str, pid: Option<u32>) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE provisioned_services SET pid = ?2 WHERE name = ?1",
            params![id, pid],
        )?;
        Ok(())
    }

    /// Deletes an instance row and its bindings' rows in one transaction.
    pub fn delete_instance(&self, id: &str) -> rusqlite::Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM bindings WHERE instance_id = ?1", [id])?;
        let n = tx.execute("DELETE FROM provisioned_services WHERE name = ?1", [id])?;
        tx.commit()?;
        Ok(n > 0)
    }

    pub fn bindings(&self) -> rusqlite::Result<Vec<BindingRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {BINDING_COLUMNS} FROM bindings ORDER BY instance_id, created_at, id"
        ))?;
        let rows = stmt.query_map([], binding_from_row)?;
        rows.collect()
    }

    pub fn binding(&self, id: &str) -> rusqlite::Result<Option<BindingRecord>> {
        self.conn()
            .query_row(
                &format!("SELECT {BINDING_COLUMNS} FROM bindings WHERE id = ?1"),
                [id],
                binding_from_row,
            )
            .optional()
    }

    pub fn insert_binding(&self, rec: &BindingRecord) -> rusqlite::Result<()> {
        self.conn().execute(
            &format!("INSERT INTO bindings ({BINDING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
            params![
                rec.id,
                rec.instance_id,
                rec.username,
                rec.password,
                rec.created_at
            ],
        )?;
        Ok(())
    }

    pub fn delete_binding(&self, id: &str) -> rusqlite::Result<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM bindings WHERE id = ?1", [id])?
            > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(id: &str, port: u16) -> InstanceRecord {
        InstanceRecord {
            id: id.into(),
            port,
            password: "secret-pw".into(),
            plan: "dedicated".into(),
            pid: Some(42),
            memory_mb: 64,
            admin: String::new(),
            adminpass: String::new(),
            db: String::new(),
            created_at: 1000,
        }
    }

    fn binding(id: &str, instance_id: &str) -> BindingRecord {
        BindingRecord {
            id: id.into(),
            instance_id: instance_id.into(),
            username: id.into(),
            password: "bind-pw".into(),
            created_at: 1001,
        }
    }

    #[test]
    fn instances_and_bindings_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("node.db")).unwrap();
        reg.insert_instance(&instance("i1", 7000)).unwrap();
        reg.insert_binding(&binding("b1", "i1")).unwrap();
        assert_eq!(reg.instance("i1").unwrap(), Some(instance("i1", 7000)));
        assert_eq!(reg.binding("b1").unwrap(), Some(binding("b1", "i1")));
        assert_eq!(reg.count_instances().unwrap(), 1);
        reg.set_pid("i1", None).unwrap();
        assert_eq!(reg.instance("i1").unwrap().unwrap().pid, None);
    }

    #[test]
    fn ports_are_unique_and_bindings_need_their_instance() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("node.db")).unwrap();
        reg.insert_instance(&instance("i1", 7000)).unwrap();
        assert!(reg.insert_instance(&instance("i2", 7000)).is_err());
        assert!(reg.insert_binding(&binding("b1", "nope")).is_err());
    }

    #[test]
    fn deleting_an_instance_deletes_its_bindings() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("node.db")).unwrap();
        reg.insert_instance(&instance("i1", 7000)).unwrap();
        reg.insert_instance(&instance("i2", 7001)).unwrap();
        reg.insert_binding(&binding("b1", "i1")).unwrap();
        reg.insert_binding(&binding("b2", "i2")).unwrap();
        assert!(reg.delete_instance("i1").unwrap());
        assert!(!reg.delete_instance("i1").unwrap());
        let left: Vec<_> = reg.bindings().unwrap().into_iter().map(|b| b.id).collect();
        assert_eq!(left, vec!["b2".to_string()]);
    }

    #[test]
    fn debug_never_shows_passwords() {
        let text = format!("{:?} {:?}", instance("i1", 1), binding("b1", "i1"));
        assert!(
            !text.contains("secret-pw") && !text.contains("bind-pw"),
            "{text}"
        );
    }
}
