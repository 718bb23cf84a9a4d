//! The test node's network: a "cluster" network namespace holding a bridge (10.244.0.1/24) and
//! the Services' cluster IPs, and one network namespace per Pod with a veth on that bridge and
//! its own address. Everything is made with `ip` in namespaces this test creates (the host's own
//! namespace is never touched) and deleted when the node stops (or by its reaper when the test
//! process dies).

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

/// The bridge's address: the Pods' gateway and the node's InternalIP.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 244, 0, 1);

/// Runs `ip` with `args`; an error carries its stderr.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// True when this process may create network namespaces (root with `ip` available).
pub fn available() -> Result<(), String> {
    let probe = format!("pfprobe{}", std::process::id());
    ip(&["netns", "add", &probe])?;
    ip(&["netns", "del", &probe])
}

/// The path of a named network namespace.
fn ns_path(name: &str) -> PathBuf {
    PathBuf::from("/var/run/netns").join(name)
}

/// A handle on a network namespace: threads enter it with [`Netns::enter`].
pub struct Netns {
    file: File,
}

impl Netns {
    /// The named namespace made by `ip netns add`.
    pub fn named(name: &str) -> Result<Netns, String> {
        File::open(ns_path(name)).map(|file| Netns { file }).map_err(|e| format!("netns {name}: {e}"))
    }

    /// The namespace the calling thread is in now (the host's, when called at start-up).
    pub fn current() -> Result<Netns, String> {
        File::open("/proc/thread-self/ns/net").map(|file| Netns { file }).map_err(|e| e.to_string())
    }

    /// Moves the calling thread into this namespace. Threads it spawns afterwards start there too.
    pub fn enter(&self) -> Result<(), String> {
        // SAFETY: setns on a valid, open namespace fd affects only the calling thread.
        let rc = unsafe { libc::setns(self.file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc == 0 { Ok(()) } else { Err(format!("setns: {}", std::io::Error::last_os_error())) }
    }

    /// Runs `f` on a fresh thread inside `ns` and waits for it (sockets it creates stay in `ns`).
    pub fn run<T: Send + 'static>(ns: &Arc<Netns>, f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
        let ns = ns.clone();
        std::thread::spawn(move || {
            ns.enter()?;
            Ok(f())
        })
        .join()
        .map_err(|_| "a thread in the namespace panicked".to_string())?
    }
}

/// The cluster namespace with its bridge.
pub fn make_cluster(name: &str) -> Result<(), String> {
    ip(&["netns", "add", name])?;
    ip(&["-n", name, "link", "set", "lo", "up"])?;
    ip(&["-n", name, "link", "add", "br0", "type", "bridge"])?;
    ip(&["-n", name, "addr", "add", &format!("{GATEWAY}/24"), "dev", "br0"])?;
    ip(&["-n", name, "link", "set", "br0", "up"])
}

/// A Pod's namespace `pod_ns` with `addr` on eth0, wired to the cluster's bridge by the veth
/// `pfv<index>`, default route through the bridge.
pub fn make_pod(cluster: &str, pod_ns: &str, index: u8, addr: Ipv4Addr) -> Result<(), String> {
    let veth = format!("pfv{index}");
    ip(&["netns", "add", pod_ns])?;
    ip(&["-n", cluster, "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", pod_ns])?;
    ip(&["-n", cluster, "link", "set", &veth, "master", "br0", "up"])?;
    ip(&["-n", pod_ns, "link", "set", "lo", "up"])?;
    ip(&["-n", pod_ns, "addr", "add", &format!("{addr}/24"), "dev", "eth0"])?;
    ip(&["-n", pod_ns, "link", "set", "eth0", "up"])?;
    ip(&["-n", pod_ns, "route", "add", "default", "via", &GATEWAY.to_string()])
}

/// Adds a Service's cluster IP to the cluster namespace's loopback (idempotent).
pub fn add_service_ip(cluster: &str, addr: Ipv4Addr) -> Result<(), String> {
    match ip(&["-n", cluster, "addr", "add", &format!("{addr}/32"), "dev", "lo"]) {
        Err(e) if e.contains("File exists") => Ok(()),
        other => other,
    }
}

/// Deletes a namespace (its veth goes with it); errors are ignored (already gone).
pub fn delete(name: &str) {
    let _ = ip(&["netns", "del", name]);
}
