//! A `postgres` server of its own: `initdb` into a temporary directory, then `postgres` on a free
//! loopback port (trust authentication on loopback, the `postgres` database and user), killed and
//! removed when dropped. Its binaries come from `PATH` or from Debian's
//! `/usr/lib/postgresql/<version>/bin` (the `postgresql` package, which `scripts/setup.sh`
//! installs). PostgreSQL refuses to run as root: under root both run as the `postgres` user the
//! package creates, which then owns the directory.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `postgres`.
pub struct PostgresServer {
    child: Option<Child>,
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub url: String,
}

/// The directory holding `initdb` and `postgres`.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file())
    {
        return dir;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).filter(|b| b.join("initdb").is_file()).collect())
        .unwrap_or_default();
    versions.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    versions.pop().expect("PostgreSQL must be installed (scripts/setup.sh installs the postgresql package)")
}

/// The uid and gid of the `postgres` user, when this process runs as root.
fn run_as() -> Option<(u32, u32)> {
    let me = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
    let f: Vec<&str> = line.split(':').collect();
    Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
}

fn command(bin: &Path, program: &str, dir: &Path) -> Command {
    let mut c = Command::new(bin.join(program));
    c.current_dir(dir).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some((uid, gid)) = run_as() {
        c.uid(uid).gid(gid);
    }
    c
}

impl PostgresServer {
    /// Initializes a cluster and starts it; waits until it accepts connections.
    pub fn start() -> PostgresServer {
        let port = crate::free_port();
        let dir = crate::temp_dir("postgres", port);
        if let Some((uid, gid)) = run_as() {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown of the postgres directory");
        }
        let bin = bin_dir();
        let status = command(&bin, "initdb", &dir)
            .args(["-D", "data", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
            .status()
            .expect("initdb");
        assert!(status.success(), "initdb failed in {}", dir.display());
        let mut p = PostgresServer {
            child: None,
            dir,
            bin,
            port,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        };
        p.resume();
        p
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL: what is committed is on disk, as after a crash).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same data (recovering from its log).
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "postgres is already running");
        let child = command(&self.bin, "postgres", &self.dir)
            .args(["-D", "data", "-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="])
            .args(["-c", "shared_buffers=16MB", "-c", "max_connections=50"])
            .spawn()
            .expect("postgres");
        self.child = Some(child);
        crate::wait_for_port(self.port, "postgres");
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
