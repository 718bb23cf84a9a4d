//! A `nats-server -js` process.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running `nats-server -js`.
pub struct NatsServer {
    child: Child,
    store: PathBuf,
    /// `nats://127.0.0.1:<port>`.
    pub url: String,
}

impl NatsServer {
    /// Starts one and waits until it accepts connections.
    pub fn start() -> NatsServer {
        let port = crate::free_port();
        let store = crate::temp_dir("nats", port);
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server must be installed (scripts/setup.sh installs it)");
        crate::wait_for_port(port, "nats-server");
        NatsServer { child, store, url: format!("nats://127.0.0.1:{port}") }
    }

    /// The server's process id (a benchmark reads its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
