//! The SQLite store: service instance and credential binding records.
//!
//! One `rusqlite::Connection` behind a `std::sync::Mutex`. Every method locks,
//! does its SQL and unlocks; callers never hold the lock across an `.await`
//! (broker calls happen before or after, never inside). Lists are ordered by
//! `created_at` then `guid`, so pages are stable.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS service_instances (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    plan_guid TEXT NOT NULL,
    service_id TEXT NOT NULL,
    broker TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS service_credential_bindings (
    guid TEXT PRIMARY KEY,
    name TEXT,
    type TEXT NOT NULL,
    instance_guid TEXT NOT NULL,
    app_guid TEXT,
    credentials_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bindings_by_instance ON service_credential_bindings (instance_guid);
";

/// A service instance as the CC records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    pub guid: String,
    pub name: String,
    /// The broker's plan `id`.
    pub plan_guid: String,
    /// The broker's service `id`.
    pub service_id: String,
    /// The configured broker name.
    pub broker: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A credential binding (`type` `app` or `key`) as the CC records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRecord {
    pub guid: String,
    pub name: Option<String>,
    pub kind: BindingKind,
    pub instance_guid: String,
    pub app_guid: Option<String>,
    /// The broker's `credentials` object, as JSON text.
    pub credentials_json: String,
    pub created_at: String,
    pub updated_at: String,
}

/// The two kinds of credential binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingKind {
    App,
    Key,
}

impl BindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BindingKind::App => "app",
            BindingKind::Key => "key",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "app" => Some(BindingKind::App),
            "key" => Some(BindingKind::Key),
            _ => None,
        }
    }
}

/// One page of a list, with the count of all matching rows.
#[derive(Debug)]
pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}

/// The cc-sim database.
pub struct Store {
    conn: Mutex<Connection>,
}

const INSTANCE_COLUMNS: &str = "guid, name, plan_guid, service_id, broker, created_at, updated_at";
const BINDING_COLUMNS: &str =
    "guid, name, type, instance_guid, app_guid, credentials_json, created_at, updated_at";

impl Store {
    /// Open (creating if missing) the database file and its tables.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path)?;
        Self::with_connection(conn)
    }

    /// An in-memory database, for tests.
    #[cfg(test)]
    pub fn in_memory() -> anyhow::Result<Store> {
        Self::with_connection(Connection::open_in_memory()?)
    }

    fn with_connection(conn: Connection) -> anyhow::Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-statement leaves no open transaction (rusqlite rolls
        // back on drop), so the connection is still good.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn insert_instance(&self, r: &InstanceRecord) -> rusqlite::Result<()> {
        self.lock().execute(
            &format!("INSERT INTO service_instances ({INSTANCE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
            params![r.guid, r.name, r.plan_guid, r.service_id, r.broker, r.created_at, r.updated_at],
        )?;
        Ok(())
    }

    pub fn instance(&self, guid: &str) -> rusqlite::Result<Option<InstanceRecord>> {
        self.lock()
            .query_row(
                &format!("SELECT {INSTANCE_COLUMNS} FROM service_instances WHERE guid = ?1"),
                [guid],
                instance_from_row,
            )
            .optional()
    }

    /// A page of instances, optionally only those whose guid is in `guids`.
    pub fn list_instances(
        &self,
        guids: Option<&[String]>,
        limit: u64,
        offset: u64,
    ) -> rusqlite::Result<Page<InstanceRecord>> {
        list(
            &self.lock(),
            "service_instances",
            INSTANCE_COLUMNS,
            "guid",
            guids,
            limit,
            offset,
            instance_from_row,
        )
    }

    /// Delete an instance record and its bindings' records, in one
    /// transaction. Returns whether the instance existed.
    pub fn delete_instance_and_bindings(&self, guid: &str) -> rusqlite::Result<bool> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM service_credential_bindings WHERE instance_guid = ?1",
            [guid],
        )?;
        let deleted = tx.execute("DELETE FROM service_instances WHERE guid = ?1", [guid])?;
        tx.commit()?;
        Ok(deleted > 0)
    }

    pub fn insert_binding(&self, r: &BindingRecord) -> rusqlite::Result<()> {
        self.lock().execute(
            &format!("INSERT INTO service_credential_bindings ({BINDING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                r.guid,
                r.name,
                r.kind.as_str(),
                r.instance_guid,
                r.app_guid,
                r.credentials_json,
                r.created_at,
                r.updated_at
            ],
        )?;
        Ok(())
    }

    pub fn binding(&self, guid: &str) -> rusqlite::Result<Option<BindingRecord>> {
        self.lock()
            .query_row(
                &format!(
                    "SELECT {BINDING_COLUMNS} FROM service_credential_bindings WHERE guid = ?1"
                ),
                [guid],
                binding_from_row,
            )
            .optional()
    }

    /// A page of bindings, optionally only those of the instances in `instance_guids`.
    pub fn list_bindings(
        &self,
        instance_guids: Option<&[String]>,
        limit: u64,
        offset: u64,
    ) -> rusqlite::Result<Page<BindingRecord>> {
        list(
            &self.lock(),
            "service_credential_bindings",
            BINDING_COLUMNS,
            "instance_guid",
            instance_guids,
            limit,
            offset,
            binding_from_row,
        )
    }

    /// Every binding of one instance, in list order.
    pub fn bindings_of(&self, instance_guid: &str) -> rusqlite::Result<Vec<BindingRecord>> {
        let guids = [instance_guid.to_string()];
        Ok(self.list_bindings(Some(&guids), u64::MAX, 0)?.items)
    }

    /// Delete one binding record. Returns whether it existed.
    pub fn delete_binding(&self, guid: &str) -> rusqlite::Result<bool> {
        Ok(self.lock().execute(
            "DELETE FROM service_credential_bindings WHERE guid = ?1",
            [guid],
        )? > 0)
    }
}

/// Count and fetch one page of `table`, filtered by `column IN (values)`.
#[allow(clippy::too_many_arguments)]
fn list<T>(
    conn: &Connection,
    table: &str,
    columns: &str,
    column: &str,
    values: Option<&[String]>,
    limit: u64,
    offset: u64,
    from_row: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Page<T>> {
    let filter = match values {
        Some(values) => format!("WHERE {column} IN ({})", vec!["?"; values.len()].join(", ")),
        None => String::new(),
    };
    let values = values.unwrap_or(&[]);
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM {table} {filter}"),
        params_from_iter(values),
        |row| row.get(0),
    )?;
    // SQLite takes signed 64-bit limits; anything larger means "all".
    let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {columns} FROM {table} {filter} ORDER BY created_at, guid LIMIT {} OFFSET {}",
        clamp(limit),
        clamp(offset)
    );
    let mut stmt = conn.prepare(&sql)?;
    let items = stmt
        .query_map(params_from_iter(values), from_row)?
        .collect::<rusqlite::Result<Vec<T>>>()?;
    Ok(Page {
        total: total as u64,
        items,
    })
}

fn instance_from_row(row: &Row<'_>) -> rusqlite::Result<InstanceRecord> {
    Ok(InstanceRecord {
        guid: row.get(0)?,
        name: row.get(1)?,
        plan_guid: row.get(2)?,
        service_id: row.get(3)?,
        broker: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

fn binding_from_row(row: &Row<'_>) -> rusqlite::Result<BindingRecord> {
    let kind: String = row.get(2)?;
    let kind = BindingKind::parse(&kind).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            2,
            rusqlite::types::Type::Text,
            format!("binding type {kind:?}").into(),
        )
    })?;
    Ok(BindingRecord {
        guid: row.get(0)?,
        name: row.get(1)?,
        kind,
        instance_guid: row.get(3)?,
        app_guid: row.get(4)?,
        credentials_json: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(guid: &str, created_at: &str) -> InstanceRecord {
        InstanceRecord {
            guid: guid.into(),
            name: format!("name-{guid}"),
            plan_guid: "plan-1".into(),
            service_id: "svc-1".into(),
            broker: "redis".into(),
            created_at: created_at.into(),
            updated_at: created_at.into(),
        }
    }

    fn binding(guid: &str, instance_guid: &str, kind: BindingKind) -> BindingRecord {
        BindingRecord {
            guid: guid.into(),
            name: (kind == BindingKind::Key).then(|| format!("key-{guid}")),
            kind,
            instance_guid: instance_guid.into(),
            app_guid: (kind == BindingKind::App).then(|| "app-1".to_string()),
            credentials_json: r#"{"password":"pw"}"#.into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn guids<T>(page: &Page<T>, guid: fn(&T) -> &str) -> Vec<String> {
        page.items.iter().map(|i| guid(i).to_string()).collect()
    }

    #[test]
    fn insert_then_read_back() {
        let store = Store::in_memory().unwrap();
        let i = instance("i1", "2026-01-01T00:00:00Z");
        store.insert_instance(&i).unwrap();
        assert_eq!(store.instance("i1").unwrap(), Some(i));
        assert_eq!(store.instance("nope").unwrap(), None);

        let b = binding("b1", "i1", BindingKind::App);
        store.insert_binding(&b).unwrap();
        assert_eq!(store.binding("b1").unwrap(), Some(b));
        let k = binding("k1", "i1", BindingKind::Key);
        store.insert_binding(&k).unwrap();
        assert_eq!(store.binding("k1").unwrap(), Some(k));
        assert_eq!(store.binding("nope").unwrap(), None);
    }

    #[test]
    fn duplicate_guid_is_refused() {
        let store = Store::in_memory().unwrap();
        store
            .insert_instance(&instance("i1", "2026-01-01T00:00:00Z"))
            .unwrap();
        assert!(store
            .insert_instance(&instance("i1", "2026-01-01T00:00:01Z"))
            .is_err());
    }

    #[test]
    fn lists_in_created_at_then_guid_order_with_limit_and_offset() {
        let store = Store::in_memory().unwrap();
        store
            .insert_instance(&instance("c", "2026-01-01T00:00:00Z"))
            .unwrap();
        store
            .insert_instance(&instance("a", "2026-01-01T00:00:02Z"))
            .unwrap();
        store
            .insert_instance(&instance("b", "2026-01-01T00:00:00Z"))
            .unwrap();
        store
            .insert_instance(&instance("d", "2026-01-01T00:00:01Z"))
            .unwrap();

        let all = store.list_instances(None, 50, 0).unwrap();
        assert_eq!(all.total, 4);
        assert_eq!(guids(&all, |i| &i.guid), ["b", "c", "d", "a"]);

        let page2 = store.list_instances(None, 3, 3).unwrap();
        assert_eq!(page2.total, 4);
        assert_eq!(guids(&page2, |i| &i.guid), ["a"]);

        let past = store.list_instances(None, 3, u64::MAX).unwrap();
        assert_eq!((past.total, past.items.len()), (4, 0));
    }

    #[test]
    fn lists_filter_by_guid() {
        let store = Store::in_memory().unwrap();
        for g in ["a", "b", "c"] {
            store
                .insert_instance(&instance(g, "2026-01-01T00:00:00Z"))
                .unwrap();
        }
        let some = store
            .list_instances(Some(&["c".into(), "a".into(), "zz".into()]), 50, 0)
            .unwrap();
        assert_eq!(some.total, 2);
        assert_eq!(guids(&some, |i| &i.guid), ["a", "c"]);
        let none = store.list_instances(Some(&[]), 50, 0).unwrap();
        assert_eq!((none.total, none.items.len()), (0, 0));

        store
            .insert_binding(&binding("b1", "a", BindingKind::App))
            .unwrap();
        store
            .insert_binding(&binding("b2", "b", BindingKind::Key))
            .unwrap();
        store
            .insert_binding(&binding("b3", "a", BindingKind::Key))
            .unwrap();
        let of_a = store.list_bindings(Some(&["a".into()]), 50, 0).unwrap();
        assert_eq!(of_a.total, 2);
        assert_eq!(guids(&of_a, |b| &b.guid), ["b1", "b3"]);
        assert_eq!(store.list_bindings(None, 50, 0).unwrap().total, 3);
        assert_eq!(store.bindings_of("b").unwrap().len(), 1);
    }

    #[test]
    fn deleting_an_instance_takes_its_bindings_only() {
        let store = Store::in_memory().unwrap();
        store
            .insert_instance(&instance("i1", "2026-01-01T00:00:00Z"))
            .unwrap();
        store
            .insert_instance(&instance("i2", "2026-01-01T00:00:00Z"))
            .unwrap();
        store
            .insert_binding(&binding("b1", "i1", BindingKind::App))
            .unwrap();
        store
            .insert_binding(&binding("b2", "i1", BindingKind::Key))
            .unwrap();
        store
            .insert_binding(&binding("b3", "i2", BindingKind::App))
            .unwrap();

        assert!(store.delete_instance_and_bindings("i1").unwrap());
        assert_eq!(store.instance("i1").unwrap(), None);
        assert_eq!(store.binding("b1").unwrap(), None);
        assert_eq!(store.binding("b2").unwrap(), None);
        assert!(store.instance("i2").unwrap().is_some());
        assert!(store.binding("b3").unwrap().is_some());
        assert!(
            !store.delete_instance_and_bindings("i1").unwrap(),
            "already gone"
        );
    }

    #[test]
    fn deleting_a_binding_leaves_its_instance() {
        let store = Store::in_memory().unwrap();
        store
            .insert_instance(&instance("i1", "2026-01-01T00:00:00Z"))
            .unwrap();
        store
            .insert_binding(&binding("b1", "i1", BindingKind::App))
            .unwrap();
        assert!(store.delete_binding("b1").unwrap());
        assert!(!store.delete_binding("b1").unwrap());
        assert!(store.instance("i1").unwrap().is_some());
    }

    #[test]
    fn records_survive_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/cc.db");
        {
            let store = Store::open(&path).unwrap();
            store
                .insert_instance(&instance("i1", "2026-01-01T00:00:00Z"))
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.instance("i1").unwrap().unwrap().name, "name-i1");
    }
}
