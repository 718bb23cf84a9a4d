//! The Services' data path, in the spirit of kube-proxy's old userspace mode: for every
//! (cluster IP, port) a listener in the cluster namespace; each accepted connection is piped to
//! a backend the registry picks: a ready Pod (dialled from the cluster namespace) or the host's
//! loopback (dialled from a thread that went back to the host's namespace).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::net::{self, Netns};
use super::registry::{Backend, Registry};

/// The proxies started so far.
pub struct Proxies {
    cluster_name: String,
    cluster: Arc<Netns>,
    host: Arc<Netns>,
    registry: Arc<Mutex<Registry>>,
    started: Mutex<HashSet<(Ipv4Addr, u16)>>,
}

impl Proxies {
    pub fn new(cluster_name: &str, cluster: Arc<Netns>, host: Arc<Netns>, registry: Arc<Mutex<Registry>>) -> Self {
        Proxies { cluster_name: cluster_name.into(), cluster, host, registry, started: Mutex::new(HashSet::new()) }
    }

    /// Makes `ip:port` answer in the cluster namespace (idempotent).
    pub fn ensure(&self, ip: Ipv4Addr, port: u16) -> Result<(), String> {
        if !self.started.lock().unwrap().insert((ip, port)) {
            return Ok(());
        }
        net::add_service_ip(&self.cluster_name, ip)?;
        let listener = Netns::run(&self.cluster, move || TcpListener::bind((ip, port)))?
            .map_err(|e| format!("listening on {ip}:{port} in the cluster namespace: {e}"))?;
        let (cluster, host, registry) = (self.cluster.clone(), self.host.clone(), self.registry.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let backend = registry.lock().unwrap().backend(ip, port);
                let (cluster, host) = (cluster.clone(), host.clone());
                std::thread::spawn(move || {
                    let upstream = match backend {
                        Some(Backend::Pod(addr)) => Netns::run(&cluster, move || dial(addr)),
                        Some(Backend::Host(addr)) => Netns::run(&host, move || dial(addr)),
                        None => return, // no ready backend: the connection is refused by closing it
                    };
                    if let Ok(Ok(up)) = upstream {
                        pipe(conn, up);
                    }
                });
            }
        });
        Ok(())
    }
}

fn dial(addr: SocketAddr) -> std::io::Result<TcpStream> {
    TcpStream::connect_timeout(&addr, Duration::from_secs(2))
}

/// Copies both ways until either side closes, then closes both.
fn pipe(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else { return };
    let one = std::thread::spawn(move || copy(a, b2));
    copy(b, a2);
    let _ = one.join();
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// One readiness/liveness probe from the cluster namespace: a TCP connect, or an HTTP GET of
/// `path` whose status must be 2xx or 3xx (as the kubelet's).
pub fn probe(cluster: &Arc<Netns>, addr: SocketAddr, path: Option<String>) -> bool {
    Netns::run(cluster, move || {
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else { return false };
        let Some(path) = path else { return true };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: kube-probe/1.36\r\nConnection: close\r\n\r\n");
        if s.write_all(req.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 12];
        if s.read_exact(&mut head).is_err() {
            return false;
        }
        // "HTTP/1.1 200"
        matches!(head.get(9), Some(b'2') | Some(b'3'))
    })
    .unwrap_or(false)
}
