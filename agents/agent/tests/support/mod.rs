//! Real servers for tests: a `nats-server` with JetStream on a free loopback port, stopped (and
//! its store removed) when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

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
        let port = free_port();
        let store = std::env::temp_dir().join(format!("polyfleet-nats-{}-{port}", std::process::id()));
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server must be installed (scripts/setup.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        NatsServer { child, store, url: format!("nats://127.0.0.1:{port}") }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
