//! A test node: a stand-in kubelet (and kube-proxy) for the cluster suites, never part of the
//! product. It registers a Node with the API server and keeps its Lease and Ready condition
//! fresh, binds every unscheduled Pod to itself (there is no scheduler), runs each Pod's
//! container as a process of the workspace's own binaries in a network namespace of its own
//! (see `net`), reports the Pod's status, proxies the Services' cluster IPs to ready Pods (or
//! to the host's loopback for the API server, NATS and Redis), and renders `/etc/hosts` so Pods
//! reach Services by their cluster names. Pods that are deleted are stopped (SIGTERM, then
//! SIGKILL) and then removed with a zero grace period, as the kubelet does.
//!
//! Needs root (network namespaces, bind mounts) and `ip` (iproute2). Everything it makes is in
//! namespaces it created; a reaper removes them and kills the Pods' processes when the test
//! process ends, however it ends.

#![allow(dead_code, reason = "each suite uses a different part of the test node")]

pub mod kubelet;
pub mod net;
pub mod proxy;
pub mod registry;
pub mod spec;

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node as NodeObject, Pod, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use net::Netns;
use registry::{Endpoint, Registry, ServiceEntry, key};

/// The Node's name.
pub const NODE_NAME: &str = "polyfleet-testnode";

/// The node's shared state, handed to every Pod's task.
pub struct Node {
    pub client: Client,
    /// Prefix of every network namespace this node makes (`pf<pid>`).
    pub prefix: String,
    pub cluster_name: String,
    pub cluster: Arc<Netns>,
    /// Logs, hosts files, volumes; removed at the end.
    pub dir: PathBuf,
    pub binaries: PathBuf,
    pub ca_crt: PathBuf,
    registry: Arc<Mutex<Registry>>,
    proxies: proxy::Proxies,
    next_ip: Mutex<u8>,
    namespaces: Mutex<BTreeSet<String>>,
}

impl Node {
    pub fn log(&self, line: &str) {
        let _ = writeln!(std::io::stderr(), "testnode: {line}");
    }

    /// A Pod's index and address (10.244.0.2 onwards).
    pub fn allocate_ip(&self) -> (u8, Ipv4Addr) {
        let mut n = self.next_ip.lock().unwrap();
        *n = n.checked_add(1).expect("the test node ran out of Pod addresses");
        (*n, Ipv4Addr::new(10, 244, 0, *n))
    }

    /// The `kubernetes` Service's address for `KUBERNETES_SERVICE_HOST`/`_PORT`.
    pub fn kubernetes(&self) -> (String, u16) {
        let reg = self.registry.lock().unwrap();
        reg.services
            .get(&key("default", "kubernetes"))
            .map(|s| (s.ip.to_string(), s.ports.first().map_or(443, |p| p.port)))
            .unwrap_or_else(|| ("10.0.0.1".into(), 443))
    }

    pub fn set_endpoint(&self, ns: &str, name: &str, e: Endpoint) {
        self.registry.lock().unwrap().pods.insert(key(ns, name), e);
    }

    pub fn set_ready(&self, ns: &str, name: &str, ready: bool) {
        if let Some(e) = self.registry.lock().unwrap().pods.get_mut(&key(ns, name)) {
            e.ready = ready;
        }
    }

    pub fn remove_endpoint(&self, ns: &str, name: &str) {
        self.registry.lock().unwrap().pods.remove(&key(ns, name));
    }

    /// Makes sure the hosts file of `ns` exists (Pods of a namespace share it).
    pub fn ensure_hosts(&self, ns: &str) {
        let mut all = self.namespaces.lock().unwrap();
        if all.insert(ns.to_string()) {
            self.registry.lock().unwrap().write_hosts(&self.dir, &BTreeSet::from([ns.to_string()]));
        }
    }

    fn services_changed(&self) {
        let all = self.namespaces.lock().unwrap().clone();
        self.registry.lock().unwrap().write_hosts(&self.dir, &all);
    }

    fn append(&self, file: &str, line: &str) {
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join(file)) {
            let _ = writeln!(f, "{line}");
        }
    }

    /// Remembered for the reaper.
    pub fn record_pid(&self, pid: u32) {
        self.append("pids", &pid.to_string());
    }

    pub fn record_netns(&self, name: &str) {
        self.append("netns", name);
    }

    /// The log file of a Pod's container.
    pub fn pod_log(&self, ns: &str, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{ns}_{name}.log"))
    }
}

/// What the node needs to know of its host.
pub struct Options {
    /// Directory of the workspace's binaries (`polyfleet`, `polyfleet-agent`, `polyfleet-operator`).
    pub binaries: PathBuf,
    /// The API server's CA certificate.
    pub ca_crt: PathBuf,
    /// Selector-less Services (`namespace/name`) whose backend is a port of the host's loopback.
    pub host_services: HashMap<String, u16>,
}

/// A running test node; dropping it stops every Pod and removes its namespaces.
pub struct TestNode {
    pub node: Arc<Node>,
    tasks: Vec<JoinHandle<()>>,
    pods: PodTasks,
}

/// A detached reaper: when the test process is gone, kill the recorded pids and delete the
/// recorded network namespaces, then the directory.
fn spawn_reaper(dir: &Path, cluster: &str) -> Result<(), String> {
    let script = r#"
        while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
        kill -KILL $(cat "$2/pids" 2>/dev/null) 2>/dev/null
        for n in $(cat "$2/netns" 2>/dev/null) "$3"; do ip netns del "$n" 2>/dev/null; done
        rm -rf "$2"
    "#;
    std::process::Command::new("setsid")
        .args(["sh", "-c", script, "reaper", &std::process::id().to_string()])
        .arg(dir)
        .arg(cluster)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| format!("reaper: {e}"))
}

/// Whether a Pod is Running with its Ready condition True.
pub fn pod_ready(p: &Pod) -> bool {
    p.status.as_ref().is_some_and(|s| {
        s.phase.as_deref() == Some("Running")
            && s.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

impl TestNode {
    /// Whether a test node can run here (root, `ip`, network namespaces), or why not.
    pub fn available() -> Result<(), String> {
        net::available()
    }

    /// Whether `suite` (which registers a Node) can run here: only on its own envtest control
    /// plane (KUBECONFIG unset) and with a test node. Says why not on stderr; under CI (`CI` set)
    /// a missing test node fails instead, so a skipped suite never looks green.
    pub fn can_run(suite: &str) -> bool {
        if std::env::var_os("KUBECONFIG").is_some() {
            eprintln!(
                "SKIPPED: the {suite} registers a Node, so it runs only on its own envtest control plane (unset KUBECONFIG)"
            );
            return false;
        }
        if let Err(e) = TestNode::available() {
            assert!(std::env::var_os("CI").is_none(), "CI: no test node, so the {suite} cannot run: {e}");
            eprintln!("SKIPPED: no test node here (needs root and iproute2 for network namespaces): {e}");
            return false;
        }
        true
    }

    /// Registers the Node and starts watching Pods and Services of every namespace.
    pub async fn start(client: Client, opts: Options) -> Result<TestNode, String> {
        let prefix = format!("pf{}", std::process::id());
        let cluster_name = format!("{prefix}c");
        let dir = std::env::temp_dir().join(format!("polyfleet-testnode-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("logs")).map_err(|e| e.to_string())?;
        spawn_reaper(&dir, &cluster_name)?;
        net::make_cluster(&cluster_name)?;
        let cluster = Arc::new(Netns::named(&cluster_name)?);
        let host = Arc::new(Netns::current()?);
        let registry = Arc::new(Mutex::new(Registry { host: opts.host_services, ..Default::default() }));
        let node = Arc::new(Node {
            client: client.clone(),
            prefix,
            proxies: proxy::Proxies::new(&cluster_name, cluster.clone(), host, registry.clone()),
            cluster_name,
            cluster,
            dir,
            binaries: opts.binaries,
            ca_crt: opts.ca_crt,
            registry,
            next_ip: Mutex::new(1),
            namespaces: Mutex::new(BTreeSet::new()),
        });
        register(&client).await?;
        let pods = Arc::new(Mutex::new(HashMap::new()));
        let tasks = vec![
            tokio::spawn(heartbeat(client.clone())),
            tokio::spawn(watch_services(node.clone())),
            tokio::spawn(watch_pods(node.clone(), pods.clone())),
        ];
        node.log(&format!("Node {NODE_NAME} registered; state in {}", node.dir.display()));
        Ok(TestNode { node, tasks, pods })
    }

    /// The last `lines` lines of a Pod's log (for failure messages).
    pub fn tail(&self, ns: &str, name: &str, lines: usize) -> String {
        let text = std::fs::read_to_string(self.node.pod_log(ns, name)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Stops every Pod (SIGTERM, then SIGKILL) and removes the network namespaces.
    pub async fn shutdown(mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        let all: Vec<_> = self.pods.lock().unwrap().drain().collect();
        for (_, (stop, task)) in all {
            let _ = stop.send(true);
            let _ = task.await;
        }
        net::delete(&self.node.cluster_name);
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        for (_, (stop, _)) in self.pods.lock().unwrap().iter() {
            let _ = stop.send(true);
        }
    }
}

async fn register(client: &Client) -> Result<(), String> {
    let nodes: Api<NodeObject> = Api::all(client.clone());
    let node: NodeObject = serde_json::from_value(json!({
        "metadata": {"name": NODE_NAME, "labels": {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux"}},
    }))
    .unwrap();
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(format!("registering Node {NODE_NAME}: {e}")),
    }
    node_status(client).await
}

async fn node_status(client: &Client) -> Result<(), String> {
    let t = k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let resources = json!({"cpu": "8", "memory": "16Gi", "pods": "110"});
    let status = json!({"status": {
        "capacity": resources, "allocatable": resources,
        "addresses": [{"type": "InternalIP", "address": net::GATEWAY.to_string()}, {"type": "Hostname", "address": NODE_NAME}],
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "the polyfleet test node is running",
                        "lastHeartbeatTime": t, "lastTransitionTime": t}],
        "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "", "osImage": "polyfleet test node",
                     "containerRuntimeVersion": "processes://", "kubeletVersion": "v1.36.0", "kubeProxyVersion": "",
                     "operatingSystem": "linux", "architecture": std::env::consts::ARCH},
    }});
    Api::<NodeObject>::all(client.clone())
        .patch_status(NODE_NAME, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .map(|_| ())
        .map_err(|e| format!("Node status: {e}"))
}

/// The node's Lease renewed every 10 s and its Ready condition every 30 s, so the node lifecycle
/// controller never marks it unreachable.
async fn heartbeat(client: Client) {
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let mut tick = 0u64;
    loop {
        let t = k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        let lease = json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": NODE_NAME, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": NODE_NAME, "leaseDurationSeconds": 40, "renewTime": t},
        });
        let _ = leases.patch(NODE_NAME, &PatchParams::apply("polyfleet-testnode").force(), &Patch::Apply(&lease)).await;
        if tick % 3 == 2 {
            let _ = node_status(&client).await;
        }
        tick += 1;
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

async fn watch_services(node: Arc<Node>) {
    let api: Api<Service> = Api::all(node.client.clone());
    let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
    while let Some(ev) = events.next().await {
        let (svc, gone) = match ev {
            Ok(Event::Apply(s)) | Ok(Event::InitApply(s)) => (s, false),
            Ok(Event::Delete(s)) => (s, true),
            Ok(_) => continue,
            Err(e) => {
                node.log(&format!("watching Services: {e}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let k = key(&svc.namespace().unwrap_or_default(), &svc.name_any());
        if gone {
            node.registry.lock().unwrap().services.remove(&k);
        } else if let Some(entry) = ServiceEntry::of(&svc) {
            for p in &entry.ports {
                if let Err(e) = node.proxies.ensure(entry.ip, p.port) {
                    node.log(&format!("Service {k}: {e}"));
                }
            }
            node.registry.lock().unwrap().services.insert(k, entry);
        }
        node.services_changed();
    }
}

type PodTasks = Arc<Mutex<HashMap<String, (watch::Sender<bool>, JoinHandle<()>)>>>;

/// Binds unscheduled Pods, starts Pods bound here, stops Pods being deleted and then removes them.
async fn watch_pods(node: Arc<Node>, pods: PodTasks) {
    let api: Api<Pod> = Api::all(node.client.clone());
    let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
    while let Some(ev) = events.next().await {
        let (pod, gone) = match ev {
            Ok(Event::Apply(p)) | Ok(Event::InitApply(p)) => (p, false),
            Ok(Event::Delete(p)) => (p, true),
            Ok(_) => continue,
            Err(e) => {
                node.log(&format!("watching Pods: {e}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let (ns, name) = (pod.namespace().unwrap_or_default(), pod.name_any());
        let k = format!("{}/{}", key(&ns, &name), pod.uid().unwrap_or_default());
        let api: Api<Pod> = Api::namespaced(node.client.clone(), &ns);
        let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        if gone || pod.metadata.deletion_timestamp.is_some() {
            let running = pods.lock().unwrap().remove(&k);
            let (client_node, pod_name, uid) = (node.clone(), name.clone(), pod.uid());
            tokio::spawn(async move {
                if let Some((stop, task)) = running {
                    let _ = stop.send(true);
                    let _ = task.await;
                }
                if !gone {
                    // The kubelet's last word: remove the object now that nothing runs.
                    let dp = DeleteParams {
                        grace_period_seconds: Some(0),
                        preconditions: uid
                            .map(|uid| kube::api::Preconditions { uid: Some(uid), resource_version: None }),
                        ..Default::default()
                    };
                    if let Err(e) = api.delete(&pod_name, &dp).await
                        && !matches!(e, kube::Error::Api(ref r) if r.code == 404 || r.code == 409)
                    {
                        client_node.log(&format!("removing Pod {pod_name}: {e}"));
                    }
                }
            });
            continue;
        }
        match node_name.as_deref() {
            None => {
                let binding = json!({
                    "apiVersion": "v1", "kind": "Binding",
                    "metadata": {"name": name, "namespace": ns},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": NODE_NAME},
                });
                let bound: Result<serde_json::Value, _> =
                    api.create_subresource("binding", &name, &PostParams::default(), &binding).await;
                if let Err(e) = bound {
                    node.log(&format!("binding Pod {ns}/{name}: {e}"));
                }
            }
            Some(NODE_NAME) => {
                let phase = pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
                let mut all = pods.lock().unwrap();
                if !all.contains_key(&k) && phase != "Succeeded" && phase != "Failed" {
                    let (tx, rx) = watch::channel(false);
                    let task = tokio::spawn(kubelet::run_pod(node.clone(), pod.clone(), rx));
                    all.insert(k, (tx, task));
                }
            }
            Some(_) => {}
        }
    }
}
