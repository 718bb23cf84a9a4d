//! A `redis-server` process with an append-only file, so a test can stop it (the store becomes
//! unreachable) and start it again on the same port with its data. The file is synced on every
//! write unless started with [`Fsync::EverySec`], the chart's setting.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A `redis-server` that can be stopped and restarted.
pub struct RedisServer {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    /// `redis://127.0.0.1:<port>`.
    pub url: String,
    /// The password it requires, if any.
    password: Option<String>,
    /// When the append-only file is synced.
    fsync: Fsync,
}

/// When the append-only file reaches the disk (`appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// After every write (`always`): what the tests and `polyfleet up` run.
    Always,
    /// Once a second (`everysec`): what the Helm chart runs; a crash of the machine (not of the
    /// process) can lose the last second.
    EverySec,
}

impl RedisServer {
    /// Starts one and waits until it accepts connections.
    pub fn start() -> RedisServer {
        RedisServer::start_with_fsync(Fsync::Always)
    }

    /// Starts one whose append-only file is synced as `fsync` says.
    pub fn start_with_fsync(fsync: Fsync) -> RedisServer {
        let port = crate::free_port();
        let dir = crate::temp_dir("redis", port);
        let mut r =
            RedisServer { child: None, dir, port, url: format!("redis://127.0.0.1:{port}"), password: None, fsync };
        r.resume();
        r
    }

    /// Starts one that requires `password` (`requirepass`); `url` carries no password.
    pub fn start_with_password(password: &str) -> RedisServer {
        let port = crate::free_port();
        let dir = crate::temp_dir("redis", port);
        let mut r = RedisServer {
            child: None,
            dir,
            port,
            url: format!("redis://127.0.0.1:{port}"),
            password: Some(password.to_string()),
            fsync: Fsync::Always,
        };
        r.resume();
        r
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The running server's process id (a benchmark reads its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the server (SIGKILL); its data is in the append-only file.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same data.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync"])
            .arg(match self.fsync {
                Fsync::Always => "always",
                Fsync::EverySec => "everysec",
            })
            .arg("--dir")
            .arg(&self.dir)
            .args(self.password.iter().flat_map(|p| ["--requirepass", p.as_str()]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/setup.sh installs it)");
        self.child = Some(child);
        crate::wait_for_port(self.port, "redis-server");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
