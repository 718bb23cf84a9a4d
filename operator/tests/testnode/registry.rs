//! What the test node knows of the cluster's addresses: its running Pods (address, labels,
//! named ports, readiness), the Services (cluster IP, selector, ports) and the Services that
//! stand for something on the host's loopback (the API server, NATS, Redis). The proxies pick
//! their backends here and the Pods' `/etc/hosts` files are rendered from it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

/// A running Pod as the Services see it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub ip: Ipv4Addr,
    pub ready: bool,
    /// Named container ports.
    pub ports: HashMap<String, u16>,
}

/// One port of a Service.
#[derive(Clone, Debug)]
pub struct ServicePort {
    pub port: u16,
    pub target: IntOrString,
}

/// A Service with a cluster IP.
#[derive(Clone, Debug)]
pub struct ServiceEntry {
    pub namespace: String,
    pub name: String,
    pub ip: Ipv4Addr,
    /// `None`: a Service without selector (its backend is on the host, see [`Registry::host`]).
    pub selector: Option<BTreeMap<String, String>>,
    pub ports: Vec<ServicePort>,
}

impl ServiceEntry {
    /// The entry of a Service object, if it has an IPv4 cluster IP.
    pub fn of(svc: &Service) -> Option<ServiceEntry> {
        let spec = svc.spec.as_ref()?;
        let ip: Ipv4Addr = spec.cluster_ip.as_deref()?.parse().ok()?;
        let ports = spec
            .ports
            .iter()
            .flatten()
            .map(|p| ServicePort {
                port: u16::try_from(p.port).unwrap(),
                target: p.target_port.clone().unwrap_or(IntOrString::Int(p.port)),
            })
            .collect();
        Some(ServiceEntry {
            namespace: svc.namespace().unwrap_or_default(),
            name: svc.name_any(),
            ip,
            selector: spec.selector.clone().filter(|s| !s.is_empty()),
            ports,
        })
    }
}

/// Where a connection to a Service goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A Pod's address, dialled from the cluster namespace.
    Pod(SocketAddr),
    /// The host's loopback, dialled from the host's namespace.
    Host(SocketAddr),
}

/// Pods, Services and host-backed Services, keyed `namespace/name`.
#[derive(Default)]
pub struct Registry {
    pub pods: HashMap<String, Endpoint>,
    pub services: HashMap<String, ServiceEntry>,
    /// Selector-less Services whose backend is a port on the host's loopback.
    pub host: HashMap<String, u16>,
    /// Round-robin counter over ready endpoints.
    pub next: usize,
}

pub fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl Registry {
    /// The backend of a connection to `ip:port`, or `None` (no such Service, or no ready Pod).
    pub fn backend(&mut self, ip: Ipv4Addr, port: u16) -> Option<Backend> {
        let svc = self.services.values().find(|s| s.ip == ip)?;
        let sp = svc.ports.iter().find(|p| p.port == port)?;
        if let Some(host_port) = self.host.get(&key(&svc.namespace, &svc.name)) {
            return Some(Backend::Host(SocketAddr::from(([127, 0, 0, 1], *host_port))));
        }
        let selector = svc.selector.as_ref()?;
        let mut ready: Vec<&Endpoint> = self
            .pods
            .values()
            .filter(|e| e.ready && e.namespace == svc.namespace)
            .filter(|e| selector.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
            .collect();
        ready.sort_by_key(|e| e.ip);
        if ready.is_empty() {
            return None;
        }
        self.next = self.next.wrapping_add(1);
        let e = ready[self.next % ready.len()];
        let target = match &sp.target {
            IntOrString::Int(p) => u16::try_from(*p).unwrap(),
            IntOrString::String(name) => *e.ports.get(name)?,
        };
        Some(Backend::Pod(SocketAddr::from((e.ip, target))))
    }

    /// `/etc/hosts` for a Pod of `namespace`: every Service by `name.ns`, `name.ns.svc` and
    /// `name.ns.svc.cluster.local`, and the namespace's own Services by their short name.
    pub fn hosts(&self, namespace: &str) -> String {
        let mut lines = vec!["127.0.0.1 localhost".to_string()];
        let mut services: Vec<&ServiceEntry> = self.services.values().collect();
        services.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        for s in services {
            let (n, ns) = (&s.name, &s.namespace);
            let short = if ns == namespace { format!(" {n}") } else { String::new() };
            lines.push(format!("{} {n}.{ns}.svc.cluster.local {n}.{ns}.svc {n}.{ns}{short}", s.ip));
        }
        lines.join("\n") + "\n"
    }

    /// Rewrites the hosts file of every namespace in `namespaces` under `dir` in place (the
    /// Pods bind-mount them over `/etc/hosts`, so the inode must stay).
    pub fn write_hosts(&self, dir: &Path, namespaces: &BTreeSet<String>) {
        for ns in namespaces {
            let _ = std::fs::write(hosts_file(dir, ns), self.hosts(ns));
        }
    }
}

/// The hosts file of Pods of `namespace`.
pub fn hosts_file(dir: &Path, namespace: &str) -> PathBuf {
    dir.join(format!("hosts-{namespace}"))
}
