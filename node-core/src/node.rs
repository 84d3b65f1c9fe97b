//! The node's operations: where an instance is really started and stopped.
//!
//! Every operation on an instance holds that instance's lock, so a provision,
//! a bind and a purge of the same id never interleave. The registry is
//! written only after the server really did the work, and files are deleted
//! only for an instance being provisioned right now (which has no data yet)
//! or one being unprovisioned.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use proto::{BindingHandle, InstanceHandle, InstanceState, PurgeItemResult, PurgeOutcome};

use crate::backend::{Backend, InstanceDirs};
use crate::config::NodeConfig;
use crate::error::NodeError;
use crate::ports::PortPool;
use crate::registry::{BindingRecord, InstanceRecord, Registry};
use crate::{process, secret, unix_now};

type Result<T> = std::result::Result<T, NodeError>;

/// How long a server gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Everything a node really holds, as `ListHandles` reports it.
#[derive(Debug, Default)]
pub struct Handles {
    pub instances: Vec<InstanceHandle>,
    pub bindings: Vec<BindingHandle>,
}

pub struct Node<B: Backend> {
    cfg: NodeConfig,
    backend: B,
    registry: Registry,
    ports: Mutex<PortPool>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The server program, as `/proc` shows it: only its processes are ours.
    program: process::Program,
    /// `<base>/instances/`, absolute, with a trailing `/`.
    instances_dir: String,
    logs_dir: PathBuf,
}

/// Ids name directories, so they are held to a safe alphabet.
pub fn validate_id(what: &str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(NodeError::InvalidArgument(format!(
            "{what} must be 1-64 characters of [A-Za-z0-9._-], not starting with '.'"
        )))
    }
}

impl<B: Backend> Node<B> {
    /// Opens the node's directories and registry. Does not start anything.
    pub fn open(cfg: NodeConfig, backend: B) -> anyhow::Result<Self> {
        cfg.validate()?;
        std::fs::create_dir_all(cfg.base_dir.join("instances"))?;
        std::fs::create_dir_all(cfg.base_dir.join("logs"))?;
        let base = std::fs::canonicalize(&cfg.base_dir)?;
        // Passwords live in the registry and the servers' files: owner only.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700))?;
        let db = base.join(format!("{}_node.db", backend.service()));
        let registry = Registry::open(&db)?;
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600))?;
        let probe_dirs = InstanceDirs {
            data: base.join("instances"),
            log: base.join("logs"),
        };
        let program = process::Program::resolve(
            &backend
                .command(&InstanceRecord::default(), &probe_dirs)
                .program,
        );
        if program.exe.is_none() {
            tracing::warn!(program = %program.name, "server program not found; recognising servers by name only");
        }
        let mut ports = PortPool::new(cfg.port_range, &cfg.bind_host);
        for rec in registry.instances()? {
            ports.hold(rec.port);
        }
        Ok(Node {
            instances_dir: format!("{}/", base.join("instances").display()),
            logs_dir: base.join("logs"),
            ports: Mutex::new(ports),
            locks: Mutex::new(HashMap::new()),
            program,
            registry,
            backend,
            cfg,
        })
    }

    pub fn config(&self) -> &NodeConfig {
        &self.cfg
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The server program whose processes are this node's.
    pub fn program(&self) -> &process::Program {
        &self.program
    }

    /// `<base>/instances/`, absolute, with a trailing `/`.
    pub fn instances_dir(&self) -> &str {
        &self.instances_dir
    }

    pub fn dirs(&self, id: &str) -> InstanceDirs {
        InstanceDirs {
            data: PathBuf::from(format!("{}{id}", self.instances_dir)),
            log: self.logs_dir.join(format!("{id}.log")),
        }
    }

    fn ports(&self) -> std::sync::MutexGuard<'_, PortPool> {
        self.ports.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` holding the lock of instance `id`.
    async fn with_lock<T>(&self, id: &str, f: impl std::future::Future<Output = T>) -> T {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(id.to_string()).or_default().clone()
        };
        let out = {
            let _guard = lock.lock().await;
            f.await
        };
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map and we hold it: nobody waits, so forget it.
        if Arc::strong_count(&lock) == 2 {
            locks.remove(id);
        }
        out
    }

    /// True when the recorded pid is this instance's server and listens on
    /// the instance's port: only then may the instance's password go there.
    pub fn is_running(&self, rec: &InstanceRecord) -> bool {
        self.is_running_with(&process::Listeners::read(), rec)
    }

    fn is_running_with(&self, listeners: &process::Listeners, rec: &InstanceRecord) -> bool {
        rec.pid.is_some_and(|pid| self.serves(listeners, pid, rec))
    }

    /// True when `pid` is our server for `rec` and listens on its port.
    fn serves(&self, listeners: &process::Listeners, pid: u32, rec: &InstanceRecord) -> bool {
        let marker = self.dirs(&rec.id).marker();
        process::is_our_server(pid, &marker, &self.program) && listeners.held_by(pid, rec.port)
    }

    pub fn info(&self) -> Result<proto::NodeInfo> {
        let used = self.registry.count_instances()?;
        Ok(proto::NodeInfo {
            node_id: self.cfg.node_id.clone(),
            service: self.backend.service().to_string(),
            plans: self.cfg.plans.clone(),
            capacity: self.cfg.capacity,
            available_capacity: self.cfg.capacity.saturating_sub(used),
        })
    }

    fn instance_credentials(&self, rec: &InstanceRecord) -> proto::Credentials {
        // Provisioning hands out no secret: clients get theirs from a binding.
        self.backend
            .credentials(rec, self.cfg.public_host(), "", "")
    }

    /// Starts `rec`'s server and waits until it answers. On failure the
    /// process is killed; files are left alone (the caller decides).
    async fn start_server(&self, rec: &InstanceRecord, dirs: &InstanceDirs) -> Result<u32> {
        let cmd = self.backend.command(rec, dirs);
        let mut child = process::spawn(&cmd, &dirs.log).map_err(|e| {
            NodeError::Internal(format!("cannot start {} for {}: {e}", cmd.program, rec.id))
        })?;
        let pid = child.id().unwrap_or(0);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(self.cfg.ready_timeout);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(NodeError::Internal(format!(
                    "server for {} exited during start ({status}); log: {}",
                    rec.id,
                    self.log_tail(rec, &dirs.log)
                )));
            }
            // The probe sends the instance's password: only to our child.
            if process::listens_on(pid, rec.port) {
                if let Ok(Ok(())) =
                    tokio::time::timeout(Duration::from_secs(2), self.backend.probe(rec)).await
                {
                    break;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = child.kill().await;
                return Err(NodeError::Internal(format!(
                    "server for {} did not answer within {}s; log: {}",
                    rec.id,
                    self.cfg.ready_timeout,
                    self.log_tail(rec, &dirs.log)
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let id = rec.id.clone();
        tokio::spawn(async move {
            // Reap the server when it exits, whoever stopped it.
            if let Ok(status) = child.wait().await {
                tracing::info!(instance = %id, pid, %status, "server exited");
            }
        });
        Ok(pid)
    }

    /// The last lines of a server's log, with the instance's secrets masked.
    fn log_tail(&self, rec: &InstanceRecord, log: &Path) -> String {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(3).collect();
        let tail = lines.into_iter().rev().collect::<Vec<_>>().join(" | ");
        secret::scrub(&tail, &[&rec.password, &rec.adminpass])
    }

    /// Provision: allocate a port, lay out files, start the server, wait until
    /// it answers, then record the row. Returns `created = false` when the
    /// instance already existed with the same plan.
    pub async fn provision(&self, id: &str, plan: &str) -> Result<(proto::Credentials, bool)> {
        validate_id("instance_id", id)?;
        if !self.cfg.plans.iter().any(|p| p == plan) {
            return Err(NodeError::InvalidArgument(format!(
                "unknown plan {plan:?}; this node serves {:?}",
                self.cfg.plans
            )));
        }
        self.with_lock(id, self.provision_locked(id, plan)).await
    }

    async fn provision_locked(&self, id: &str, plan: &str) -> Result<(proto::Credentials, bool)> {
        if let Some(rec) = self.registry.instance(id)? {
            if rec.plan == plan {
                return Ok((self.instance_credentials(&rec), false));
            }
            return Err(NodeError::AlreadyExists(format!(
                "instance {id} exists with plan {}",
                rec.plan
            )));
        }
        if self.registry.count_instances()? >= self.cfg.capacity {
            return Err(NodeError::Exhausted(format!(
                "node {} holds {} instances",
                self.cfg.node_id, self.cfg.capacity
            )));
        }
        let dirs = self.dirs(id);
        // create_dir (not _all) fails if the directory exists: data without a
        // row is never reused or overwritten.
        if let Err(e) = std::fs::create_dir(&dirs.data) {
            return Err(if e.kind() == std::io::ErrorKind::AlreadyExists {
                NodeError::AlreadyExists(format!(
                    "instance {id} has a data directory but no registry row; purge it first"
                ))
            } else {
                NodeError::Internal(format!("cannot create data directory for {id}: {e}"))
            });
        }
        let port = match self.ports().take() {
            Some(p) => p,
            None => {
                let _ = std::fs::remove_dir_all(&dirs.data);
                return Err(NodeError::Exhausted("no free port in port_range".into()));
            }
        };
        let mut rec = InstanceRecord {
            id: id.to_string(),
            port,
            password: secret::generate(),
            plan: plan.to_string(),
            pid: None,
            memory_mb: self.backend.memory_mb(),
            admin: String::new(),
            adminpass: String::new(),
            db: String::new(),
            created_at: unix_now(),
        };
        let started = match self.backend.prepare(&mut rec, &dirs) {
            Ok(()) => self.start_server(&rec, &dirs).await,
            Err(e) => Err(NodeError::Internal(format!("cannot prepare {id}: {e}"))),
        };
        let result = match started {
            Ok(pid) => {
                rec.pid = Some(pid);
                match self.registry.insert_instance(&rec) {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        let _ = process::stop(pid, &dirs.marker(), &self.program, STOP_GRACE).await;
                        Err(e.into())
                    }
                }
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            // This instance never held data: undo everything.
            let _ = std::fs::remove_dir_all(&dirs.data);
            let _ = std::fs::remove_file(&dirs.log);
            self.ports().release(port);
            tracing::warn!(instance = id, error = %e, "provision failed");
            return Err(e);
        }
        tracing::info!(instance = id, port, pid = rec.pid, "provisioned");
        Ok((self.instance_credentials(&rec), true))
    }

    /// Unprovision: stop the server, delete its files, then its rows.
    pub async fn unprovision(&self, id: &str) -> Result<()> {
        validate_id("instance_id", id)?;
        self.with_lock(id, self.unprovision_locked(id)).await
    }

    async fn unprovision_locked(&self, id: &str) -> Result<()> {
        let rec = self.registry.instance(id)?;
        let dirs = self.dirs(id);
        let strays: Vec<u32> = process::find_servers(&self.instances_dir, &self.program)
            .into_iter()
            .filter(|(_, i)| i == id)
            .map(|(pid, _)| pid)
            .collect();
        if rec.is_none() && strays.is_empty() && !dirs.data.exists() {
            return Err(NodeError::NotFound(format!("no instance {id}")));
        }
        let marker = dirs.marker();
        for pid in rec.iter().filter_map(|r| r.pid).chain(strays) {
            process::stop(pid, &marker, &self.program, STOP_GRACE)
                .await
                .map_err(|e| NodeError::Internal(format!("cannot stop {id}: {e}")))?;
        }
        remove_if_present(&dirs.data, true)?;
        remove_if_present(&dirs.log, false)?;
        if let Some(rec) = rec {
            self.registry.delete_instance(id)?;
            self.ports().release(rec.port);
        }
        tracing::info!(instance = id, "unprovisioned");
        Ok(())
    }

    /// Bind: create a user with a fresh password on the running server, then
    /// record it. The user's name is the binding id.
    pub async fn bind(
        &self,
        instance_id: &str,
        binding_id: &str,
    ) -> Result<(proto::Credentials, bool)> {
        validate_id("instance_id", instance_id)?;
        validate_id("binding_id", binding_id)?;
        self.with_lock(instance_id, self.bind_locked(instance_id, binding_id))
            .await
    }

    async fn bind_locked(
        &self,
        instance_id: &str,
        binding_id: &str,
    ) -> Result<(proto::Credentials, bool)> {
        let rec = self
            .registry
            .instance(instance_id)?
            .ok_or_else(|| NodeError::NotFound(format!("no instance {instance_id}")))?;
        let host = self.cfg.public_host();
        if let Some(b) = self.registry.binding(binding_id)? {
            if b.instance_id != instance_id {
                return Err(NodeError::AlreadyExists(format!(
                    "binding {binding_id} belongs to another instance"
                )));
            }
            let creds = self
                .backend
                .credentials(&rec, host, &b.username, &b.password);
            return Ok((creds, false));
        }
        if !self.is_running(&rec) {
            return Err(NodeError::NotRunning(instance_id.to_string()));
        }
        let password = secret::generate();
        self.server_call(self.backend.create_user(&rec, binding_id, &password))
            .await?;
        let row = BindingRecord {
            id: binding_id.to_string(),
            instance_id: instance_id.to_string(),
            username: binding_id.to_string(),
            password,
            created_at: unix_now(),
        };
        if let Err(e) = self.registry.insert_binding(&row) {
            let _ = self
                .server_call(self.backend.delete_user(&rec, binding_id))
                .await;
            return Err(e.into());
        }
        tracing::info!(instance = instance_id, binding = binding_id, "bound");
        let creds = self
            .backend
            .credentials(&rec, host, &row.username, &row.password);
        Ok((creds, true))
    }

    /// Unbind: delete the user on the server, then the row. Also removes a
    /// user that is on the server without a row (an untracked binding).
    pub async fn unbind(&self, instance_id: &str, binding_id: &str) -> Result<()> {
        validate_id("instance_id", instance_id)?;
        validate_id("binding_id", binding_id)?;
        self.with_lock(instance_id, self.unbind_locked(instance_id, binding_id))
            .await
    }

    async fn unbind_locked(&self, instance_id: &str, binding_id: &str) -> Result<()> {
        let rec = self
            .registry
            .instance(instance_id)?
            .ok_or_else(|| NodeError::NotFound(format!("no instance {instance_id}")))?;
        let row = self
            .registry
            .binding(binding_id)?
            .filter(|b| b.instance_id == instance_id);
        if !self.is_running(&rec) {
            return match row {
                Some(_) => Err(NodeError::NotRunning(format!(
                    "{instance_id}: its user cannot be removed while it is down"
                ))),
                None => Err(NodeError::NotFound(format!("no binding {binding_id}"))),
            };
        }
        let username = row.as_ref().map_or(binding_id, |b| b.username.as_str());
        let existed = self
            .server_call(self.backend.delete_user(&rec, username))
            .await?;
        if row.is_some() {
            self.registry.delete_binding(binding_id)?;
        } else if !existed {
            return Err(NodeError::NotFound(format!("no binding {binding_id}")));
        }
        tracing::info!(instance = instance_id, binding = binding_id, "unbound");
        Ok(())
    }

    /// A call to a running server, bounded by `server_timeout`.
    async fn server_call<T>(
        &self,
        fut: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(Duration::from_secs(self.cfg.server_timeout), fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(NodeError::Internal(format!("server: {e}"))),
            Err(_) => Err(NodeError::Internal(format!(
                "server did not answer within {}s",
                self.cfg.server_timeout
            ))),
        }
    }

    /// Everything the node really holds: registry rows checked against running
    /// servers, servers and directories that have no row, and for each running
    /// instance the users really present on it.
    pub async fn list_handles(&self) -> Result<Handles> {
        let rows = self.registry.instances()?;
        let binding_rows = self.registry.bindings()?;
        let servers = process::find_servers(&self.instances_dir, &self.program);
        let with_server: BTreeSet<&str> = servers.iter().map(|(_, id)| id.as_str()).collect();

        let listeners = process::Listeners::read();
        let mut handles = Handles::default();
        let mut running = Vec::new();
        for rec in &rows {
            // Up: the recorded server, or another of ours for this id that
            // holds the instance's port (a server whose pid was not recorded).
            let up = self.is_running_with(&listeners, rec)
                || servers
                    .iter()
                    .any(|(pid, id)| *id == rec.id && self.serves(&listeners, *pid, rec));
            handles.instances.push(InstanceHandle {
                instance_id: rec.id.clone(),
                plan: rec.plan.clone(),
                port: rec.port as u32,
                created_at: rec.created_at,
                state: if up {
                    InstanceState::Running
                } else {
                    InstanceState::Stopped
                } as i32,
            });
            if up {
                running.push(rec.clone());
            }
        }
        // Servers and directories without a row still hold a port or disk.
        let known: BTreeSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let mut untracked: BTreeSet<String> = with_server
            .iter()
            .filter(|id| !known.contains(*id))
            .map(|id| id.to_string())
            .collect();
        if let Ok(entries) = std::fs::read_dir(&self.instances_dir) {
            for e in entries.flatten() {
                if let Some(name) = e.file_name().to_str() {
                    if !known.contains(name) && validate_id("", name).is_ok() {
                        untracked.insert(name.to_string());
                    }
                }
            }
        }
        let busy: BTreeSet<String> = {
            let locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.keys().cloned().collect()
        };
        for id in untracked {
            // An operation in flight (a provision that has not written its row
            // yet) is not an orphan; the next listing will tell.
            if busy.contains(&id) {
                continue;
            }
            // The directory's age stands in for the missing row's created_at.
            let created_at = dir_age(&self.dirs(&id).data).unwrap_or_else(unix_now);
            handles.instances.push(InstanceHandle {
                instance_id: id,
                plan: String::new(),
                port: 0,
                created_at,
                state: InstanceState::Untracked as i32,
            });
        }

        // Ask each running server for its users, a few at a time.
        let users: HashMap<String, Option<BTreeSet<String>>> = futures::stream::iter(running)
            .map(|rec: InstanceRecord| async move {
                let users = match self.server_call(self.backend.list_users(&rec)).await {
                    Ok(u) => Some(u.into_iter().collect::<BTreeSet<_>>()),
                    Err(e) => {
                        tracing::warn!(instance = %rec.id, error = %e, "cannot list users");
                        None
                    }
                };
                (rec.id, users)
            })
            .buffer_unordered(8)
            .collect()
            .await;

        let mut by_instance: BTreeMap<&str, Vec<&BindingRecord>> = BTreeMap::new();
        for b in &binding_rows {
            by_instance
                .entry(b.instance_id.as_str())
                .or_default()
                .push(b);
        }
        for rec in &rows {
            let present = users.get(&rec.id).and_then(|u| u.as_ref());
            let rows_here = by_instance
                .get(rec.id.as_str())
                .cloned()
                .unwrap_or_default();
            for b in &rows_here {
                handles.bindings.push(BindingHandle {
                    instance_id: rec.id.clone(),
                    binding_id: b.id.clone(),
                    username: b.username.clone(),
                    created_at: b.created_at,
                    present_on_server: present.is_some_and(|u| u.contains(&b.username)),
                    in_registry: true,
                });
            }
            // A bind in flight has made its user but not yet its row.
            let present = present.filter(|_| !busy.contains(&rec.id));
            if let Some(present) = present {
                let recorded: BTreeSet<&str> =
                    rows_here.iter().map(|b| b.username.as_str()).collect();
                for user in present.iter().filter(|u| !recorded.contains(u.as_str())) {
                    handles.bindings.push(BindingHandle {
                        instance_id: rec.id.clone(),
                        binding_id: user.clone(),
                        username: user.clone(),
                        created_at: 0,
                        present_on_server: true,
                        in_registry: false,
                    });
                }
            }
        }
        Ok(handles)
    }

    /// Does this node hold `id`: a row, a server of ours, or a data dir?
    pub fn lookup(&self, id: &str) -> Result<proto::LookupResponse> {
        validate_id("instance_id", id)?;
        if let Some(rec) = self.registry.instance(id)? {
            let state = if self.is_running(&rec) {
                InstanceState::Running
            } else {
                InstanceState::Stopped
            };
            return Ok(proto::LookupResponse {
                exists: true,
                state: state as i32,
                plan: rec.plan,
                node_id: self.cfg.node_id.clone(),
            });
        }
        let stray = self.dirs(id).data.exists()
            || process::find_servers(&self.instances_dir, &self.program)
                .iter()
                .any(|(_, i)| i == id);
        Ok(proto::LookupResponse {
            exists: stray,
            state: if stray {
                InstanceState::Untracked as i32
            } else {
                0
            },
            plan: String::new(),
            node_id: self.cfg.node_id.clone(),
        })
    }

    /// Purge: unbind each binding, then unprovision each instance, with a
    /// result per item. Bindings go first so an instance purged in the same
    /// call does not turn its bindings into "not found". An item younger
    /// than `min_age` seconds is left alone (checked under the instance's
    /// lock, after any operation in flight has finished).
    pub async fn purge(
        &self,
        instance_ids: &[String],
        bindings: &[proto::BindingRef],
        min_age: i64,
    ) -> Vec<PurgeItemResult> {
        let mut results = Vec::new();
        for b in bindings {
            let (iid, bid) = (b.instance_id.as_str(), b.binding_id.as_str());
            let r = match validate_id("instance_id", iid).and(validate_id("binding_id", bid)) {
                Err(e) => Err(e),
                Ok(()) => {
                    self.with_lock(iid, async {
                        let created = self.registry.binding(bid)?.map(|b| b.created_at);
                        self.old_enough(created, min_age)?;
                        self.unbind_locked(iid, bid).await
                    })
                    .await
                }
            };
            results.push(item_result(iid, bid, r));
        }
        for id in instance_ids {
            let r = match validate_id("instance_id", id) {
                Err(e) => Err(e),
                Ok(()) => {
                    self.with_lock(id, async {
                        let created = match self.registry.instance(id)? {
                            Some(rec) => Some(rec.created_at),
                            None => dir_age(&self.dirs(id).data),
                        };
                        self.old_enough(created, min_age)?;
                        self.unprovision_locked(id).await
                    })
                    .await
                }
            };
            results.push(item_result(id, "", r));
        }
        results
    }

    /// `Err` when an object created at `created_at` is younger than `min_age`.
    fn old_enough(&self, created_at: Option<i64>, min_age: i64) -> Result<()> {
        match created_at {
            Some(t) if min_age > 0 && unix_now() - t < min_age => {
                Err(NodeError::Internal(format!(
                    "created {}s ago, younger than the minimum age of {min_age}s; left alone",
                    unix_now() - t
                )))
            }
            _ => Ok(()),
        }
    }

    /// Start-up: restart every instance in the registry whose server is not
    /// running, and wait until each answers. A failed start is logged and the
    /// row and data are kept.
    pub async fn start_all(&self) {
        let rows = match self.registry.instances() {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "cannot read registry; starting nothing");
                return;
            }
        };
        let servers = process::find_servers(&self.instances_dir, &self.program);
        for listed in rows {
            let id = listed.id.clone();
            let _ = self
                .with_lock(&id, async {
                    // Read again under the lock: it may have been purged since.
                    let Ok(Some(rec)) = self.registry.instance(&id) else {
                        return;
                    };
                    if self.is_running(&rec) {
                        tracing::debug!(instance = %rec.id, pid = rec.pid, "already running");
                        return;
                    }
                    // Adopt only a server that is ours now and holds the port.
                    if let Some((pid, _)) = servers
                        .iter()
                        .find(|(pid, i)| *i == rec.id && self.serves(&process::Listeners::read(), *pid, &rec))
                    {
                        tracing::info!(instance = %rec.id, pid, "adopting running server");
                        let _ = self.registry.set_pid(&rec.id, Some(*pid));
                        return;
                    }
                    let dirs = self.dirs(&rec.id);
                    if !dirs.data.is_dir() {
                        tracing::error!(instance = %rec.id, "in registry but its data directory is missing; not starting");
                        let _ = self.registry.set_pid(&rec.id, None);
                        return;
                    }
                    match self.start_server(&rec, &dirs).await {
                        Ok(pid) => {
                            tracing::info!(instance = %rec.id, pid, "restarted");
                            let _ = self.registry.set_pid(&rec.id, Some(pid));
                        }
                        Err(e) => {
                            tracing::error!(instance = %rec.id, error = %e, "restart failed; row and data kept");
                            let _ = self.registry.set_pid(&rec.id, None);
                        }
                    }
                })
                .await;
        }
    }

    /// Stops every instance's server (SIGTERM, verified pids only). Data and
    /// rows are kept; the next start-up restarts them.
    pub async fn stop_all(&self) {
        for rec in self.registry.instances().unwrap_or_default() {
            if let Some(pid) = rec.pid {
                let marker = self.dirs(&rec.id).marker();
                if let Err(e) = process::stop(pid, &marker, &self.program, STOP_GRACE).await {
                    tracing::warn!(instance = %rec.id, error = %e, "cannot stop");
                }
            }
        }
    }
}

/// When a directory was last modified, in Unix seconds.
fn dir_age(path: &Path) -> Option<i64> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
}

fn remove_if_present(path: &Path, dir: bool) -> Result<()> {
    let r = if dir {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NodeError::Internal(format!(
            "cannot remove {}: {e}",
            path.display()
        ))),
    }
}

fn item_result(instance_id: &str, binding_id: &str, r: Result<()>) -> PurgeItemResult {
    let (outcome, reason) = match r {
        Ok(()) => (PurgeOutcome::Purged, String::new()),
        Err(NodeError::NotFound(m)) => (PurgeOutcome::NotFound, m),
        Err(e) => (PurgeOutcome::Failed, e.to_string()),
    };
    PurgeItemResult {
        instance_id: instance_id.to_string(),
        binding_id: binding_id.to_string(),
        outcome: outcome as i32,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_escape_a_directory_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            ".hidden",
            "a b",
            &"x".repeat(65),
        ] {
            assert!(validate_id("id", bad).is_err(), "{bad:?}");
        }
        for good in ["4c1f0a2e-5b6d-4e8f-9a0b-1c2d3e4f5a6b", "redis_1", "a.b"] {
            assert!(validate_id("id", good).is_ok(), "{good:?}");
        }
    }
}
