//! Starting, recognising and stopping the servers a node runs.
//!
//! A pid alone proves nothing: pids are reused after a crash or a reboot. A
//! process counts as one of ours only if it runs the configured server
//! program (its executable, or its `argv[0]`, matches) and its command line
//! contains the instance's own directory (`<base>/instances/<id>/`), which
//! every server's arguments name. Nothing is ever signalled without that
//! check, so a `tail -f` of an instance's log, or a reused pid, is left alone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::{Child, Command};

use crate::backend::ServerCommand;

/// Starts a server in its own process group (so a terminal's Ctrl-C aimed at
/// the node does not reach it), with stdout and stderr appended to `log`.
pub fn spawn(cmd: &ServerCommand, log: &Path) -> std::io::Result<Child> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let err = out.try_clone()?;
    let mut command = Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    command.spawn()
}

/// The command line of `pid` with NULs as spaces, or `None` when there is no
/// such process or it is a zombie.
pub fn cmdline(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the parenthesised command name.
    let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
    if state == 'Z' || state == 'X' {
        return None;
    }
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        String::from_utf8_lossy(&raw)
            .replace('\0', " ")
            .trim()
            .to_string(),
    )
}

/// The server program a node starts, as it shows in `/proc`.
#[derive(Debug, Clone)]
pub struct Program {
    /// The resolved, canonical executable, when it could be found.
    pub exe: Option<PathBuf>,
    /// The program's file name, e.g. `redis-server`.
    pub name: String,
}

impl Program {
    /// Resolves `program` (a path, or a name looked up in `PATH`).
    pub fn resolve(program: &str) -> Program {
        let name = Path::new(program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| program.to_string());
        let exe = if program.contains('/') {
            std::fs::canonicalize(program).ok()
        } else {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(program))
                    .find(|p| p.is_file())
                    .and_then(|p| std::fs::canonicalize(p).ok())
            })
        };
        Program { exe, name }
    }

    /// True when process `pid`, whose command line is `cmdline`, runs this
    /// program as this node's own user. When the executable is known it must
    /// match; only when it could not be resolved does `argv[0]` decide.
    fn runs(&self, pid: u32, cmdline: &str) -> bool {
        if owner(pid) != Some(euid()) {
            return false;
        }
        match &self.exe {
            Some(exe) => std::fs::read_link(format!("/proc/{pid}/exe"))
                // A replaced binary shows as "<path> (deleted)".
                .map(|p| PathBuf::from(p.to_string_lossy().trim_end_matches(" (deleted)")))
                .is_ok_and(|p| p == *exe),
            None => {
                let argv0 = cmdline.split(' ').next().unwrap_or_default();
                Path::new(argv0)
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy() == self.name)
            }
        }
    }
}

fn euid() -> u32 {
    // SAFETY: geteuid(2) cannot fail and has no preconditions.
    unsafe { libc::geteuid() }
}

/// The real uid of `pid`, from `/proc/<pid>/status`.
fn owner(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// True when `pid` is alive, runs `program`, and its command line names
/// `marker`.
pub fn is_our_server(pid: u32, marker: &str, program: &Program) -> bool {
    cmdline(pid).is_some_and(|c| c.contains(marker) && program.runs(pid, &c))
}

/// Every live process that runs `program` with a command line naming a
/// directory under `instances_dir` (which must end in `/`): `(pid, id)`.
pub fn find_servers(instances_dir: &str, program: &Program) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Some(line) = cmdline(pid) else { continue };
        if let Some(id) = instance_id_in(&line, instances_dir) {
            if program.runs(pid, &line) {
                found.push((pid, id));
            }
        }
    }
    found.sort();
    found
}

/// The instance id in `<instances_dir><id>/...` within a command line.
fn instance_id_in(cmdline: &str, instances_dir: &str) -> Option<String> {
    let rest = &cmdline[cmdline.find(instances_dir)? + instances_dir.len()..];
    let id = &rest[..rest.find('/')?];
    (!id.is_empty()).then(|| id.to_string())
}

#[derive(Debug, thiserror::Error)]
pub enum StopError {
    #[error("pid {0} did not exit after SIGKILL")]
    StillAlive(u32),
    #[error("cannot signal pid {0}: {1}")]
    Signal(u32, std::io::Error),
}

fn signal(pid: u32, sig: libc::c_int) -> std::io::Result<()> {
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    if rc == 0 {
        Ok(())
    } else {
        let e = std::io::Error::last_os_error();
        // Gone between our check and the signal: that is what we wanted.
        if e.raw_os_error() == Some(libc::ESRCH) {
            Ok(())
        } else {
            Err(e)
        }
    }
}

async fn wait_gone(pid: u32, marker: &str, program: &Program, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if !is_our_server(pid, marker, program) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops our server `pid`: SIGTERM, then SIGKILL after `grace`. Does nothing
/// (and returns `Ok(false)`) when `pid` is not our server for `marker`, so a
/// reused pid is never signalled.
pub async fn stop(
    pid: u32,
    marker: &str,
    program: &Program,
    grace: Duration,
) -> Result<bool, StopError> {
    if !is_our_server(pid, marker, program) {
        return Ok(false);
    }
    signal(pid, libc::SIGTERM).map_err(|e| StopError::Signal(pid, e))?;
    if wait_gone(pid, marker, program, grace).await {
        return Ok(true);
    }
    if is_our_server(pid, marker, program) {
        signal(pid, libc::SIGKILL).map_err(|e| StopError::Signal(pid, e))?;
    }
    if wait_gone(pid, marker, program, Duration::from_secs(5)).await {
        Ok(true)
    } else {
        Err(StopError::StillAlive(pid))
    }
}

/// SIGKILLs every server of `program` under `instances_dir` at once. For
/// test harnesses that must not leave servers behind even when a test panics.
pub fn kill_servers_now(instances_dir: &str, program: &Program) {
    for (pid, _) in find_servers(instances_dir, program) {
        let _ = signal(pid, libc::SIGKILL);
    }
}

/// The machine's listening TCP sockets (IPv4 and IPv6): port → socket
/// inodes. Reading `/proc/net/tcp` walks the kernel's whole socket table and
/// takes milliseconds, so a caller checking many instances reads it once.
pub struct Listeners(HashMap<u16, Vec<String>>);

impl Listeners {
    pub fn read() -> Listeners {
        let mut by_port: HashMap<u16, Vec<String>> = HashMap::new();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let Ok(text) = std::fs::read_to_string(table) else {
                continue;
            };
            for line in text.lines().skip(1) {
                let f: Vec<&str> = line.split_whitespace().collect();
                // local_address is "ADDR:PORT" in hex; state 0A is LISTEN.
                if f.get(3) != Some(&"0A") {
                    continue;
                }
                let port = f
                    .get(1)
                    .and_then(|l| l.rsplit(':').next())
                    .and_then(|h| u16::from_str_radix(h, 16).ok());
                if let (Some(port), Some(inode)) = (port, f.get(9)) {
                    by_port
                        .entry(port)
                        .or_default()
                        .push(format!("socket:[{inode}]"));
                }
            }
        }
        Listeners(by_port)
    }

    /// True when process `pid` holds a listening socket on `port`.
    pub fn held_by(&self, pid: u32, port: u16) -> bool {
        let Some(inodes) = self.0.get(&port) else {
            return false;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            return false;
        };
        fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|l| inodes.iter().any(|i| l.to_string_lossy() == *i))
        })
    }
}

/// True when process `pid` has a listening TCP socket on `port` (IPv4 or
/// IPv6). Used before sending a server its password: a stranger that took
/// the port must not receive it.
pub fn listens_on(pid: u32, port: u16) -> bool {
    Listeners::read().held_by(pid, port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_instance_id_in_a_command_line() {
        let dir = "/srv/node/instances/";
        assert_eq!(
            instance_id_in(
                "redis-server 127.0.0.1:7000 /srv/node/instances/abc-1/redis.conf",
                dir
            ),
            Some("abc-1".into())
        );
        assert_eq!(
            instance_id_in("redis-server /other/instances/abc/x", dir),
            None
        );
        assert_eq!(instance_id_in("x /srv/node/instances/", dir), None);
        assert_eq!(instance_id_in("x /srv/node/instances//y", dir), None);
    }

    #[tokio::test]
    async fn stops_only_processes_that_carry_the_marker() {
        let dir = tempfile::tempdir().unwrap();
        let marker = format!("{}/instances/i1/", dir.path().display());
        let cmd = ServerCommand {
            program: "sleep".into(),
            args: vec!["30".into()],
            env: vec![],
        };
        let log = dir.path().join("log");
        let sh = Program::resolve("sh");
        let mut stranger = spawn(&cmd, &log).unwrap();
        let pid = stranger.id().unwrap();
        // A process without our marker (a reused pid, say) is left alone.
        assert!(!stop(pid, &marker, &sh, Duration::from_millis(200))
            .await
            .unwrap());
        assert!(cmdline(pid).is_some());
        stranger.kill().await.unwrap();

        // Another program that merely names the marker (a `tail -f` of an
        // instance's file) is left alone too.
        let reader = ServerCommand {
            program: "sleep".into(),
            args: vec!["30".into(), format!("{marker}x")],
            env: vec![],
        };
        let mut reader = spawn(&reader, &log).unwrap();
        let pid = reader.id().unwrap();
        assert!(!is_our_server(pid, &marker, &sh));
        assert!(!stop(pid, &marker, &sh, Duration::from_millis(200))
            .await
            .unwrap());
        assert!(find_servers(&format!("{}/instances/", dir.path().display()), &sh).is_empty());
        reader.kill().await.unwrap();

        // `sh -c '...' <marker>` carries the marker in its command line.
        let ours = ServerCommand {
            program: "sh".into(),
            args: vec![
                "-c".into(),
                "sleep 30".into(),
                format!("{marker}server.conf"),
            ],
            env: vec![],
        };
        let mut child = spawn(&ours, &log).unwrap();
        let pid = child.id().unwrap();
        // Right after fork the child is still the test binary; wait for exec.
        for _ in 0..100 {
            if is_our_server(pid, &marker, &sh) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(is_our_server(pid, &marker, &sh));
        // A child the shell forks is, until it execs, a copy of the server
        // (as a Redis BGSAVE child is): it may be listed too, for the same id.
        let found = find_servers(&format!("{}/instances/", dir.path().display()), &sh);
        assert!(found.contains(&(pid, "i1".to_string())), "{found:?}");
        assert!(found.iter().all(|(_, id)| id == "i1"), "{found:?}");
        let reaper = tokio::spawn(async move { child.wait().await });
        assert!(stop(pid, &marker, &sh, Duration::from_secs(5))
            .await
            .unwrap());
        assert!(!reaper.await.unwrap().unwrap().success());
        assert!(!is_our_server(pid, &marker, &sh));
    }

    #[tokio::test]
    async fn a_process_of_another_user_is_never_ours() {
        // Needs root to start a process as another user (CI runs as root).
        if euid() != 0 || Program::resolve("setpriv").exe.is_none() {
            eprintln!("skipped: needs root and setpriv");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let marker = format!("{}/instances/i1/", dir.path().display());
        let sh = Program::resolve("sh");
        let other = ServerCommand {
            program: "setpriv".into(),
            args: [
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "sh",
                "-c",
                "sleep 30",
            ]
            .iter()
            .map(|a| a.to_string())
            .chain([format!("{marker}server.conf")])
            .collect(),
            env: vec![],
        };
        let mut child = spawn(&other, &dir.path().join("log")).unwrap();
        let pid = child.id().unwrap();
        for _ in 0..100 {
            if owner(pid) == Some(65534) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(owner(pid), Some(65534));
        assert!(cmdline(pid).unwrap().contains(&marker));
        assert!(!is_our_server(pid, &marker, &sh));
        assert!(!stop(pid, &marker, &sh, Duration::from_millis(100))
            .await
            .unwrap());
        child.kill().await.unwrap();
    }

    #[tokio::test]
    async fn listens_on_names_the_process_holding_the_port() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(listens_on(std::process::id(), port));
        let mut other = tokio::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        assert!(!listens_on(other.id().unwrap(), port));
        other.kill().await.unwrap();
        drop(l);
        assert!(!listens_on(std::process::id(), port));
    }
}
