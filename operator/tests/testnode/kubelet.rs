//! One Pod's life on the test node, as the kubelet lives it: network namespace and address,
//! container resolution (retried until its ConfigMaps, Secrets and token exist), the process
//! (`ip netns exec` into the Pod's namespace, then a private mount namespace where the volumes,
//! the token and the Pod's `/etc/hosts` are bind-mounted at their paths), readiness and liveness
//! probes, restarts by the Pod's restart policy with back-off, the status written back (phase,
//! IPs, conditions, container state, restart count), and the stop: SIGTERM, then SIGKILL after
//! the grace period.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::registry::{Endpoint, hosts_file};
use super::spec::{self, Inputs, Launch};
use super::{Node, net, proxy};

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The port a probe or Service names, against the container's ports.
fn port_of(p: &IntOrString, c: &Container) -> Option<u16> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|cp| cp.name.as_deref() == Some(name.as_str()))
            .and_then(|cp| u16::try_from(cp.container_port).ok()),
    }
}

/// A probe as the kubelet runs it: its target (address, and HTTP path or `None` for TCP), first
/// run after `initialDelaySeconds`, then every `periodSeconds` (default 10); `failureThreshold`
/// (default 3) failures in a row count as failed.
#[derive(Clone)]
struct ProbeSpec {
    addr: SocketAddr,
    path: Option<String>,
    delay: Duration,
    period: Duration,
    threshold: u32,
}

impl ProbeSpec {
    fn of(p: &Probe, c: &Container, ip: Ipv4Addr) -> Option<ProbeSpec> {
        let (port, path) = if let Some(h) = &p.http_get {
            (port_of(&h.port, c)?, Some(h.path.clone().unwrap_or_else(|| "/".into())))
        } else {
            (port_of(&p.tcp_socket.as_ref()?.port, c)?, None)
        };
        let secs = |v: Option<i32>, d: i32| Duration::from_secs(v.unwrap_or(d).max(0) as u64);
        Some(ProbeSpec {
            addr: SocketAddr::from((ip, port)),
            path,
            delay: secs(p.initial_delay_seconds, 0),
            period: secs(p.period_seconds, 10).max(Duration::from_secs(1)),
            threshold: p.failure_threshold.unwrap_or(3).max(1) as u32,
        })
    }

    async fn run(&self, node: &Node) -> bool {
        let (cluster, addr, path) = (node.cluster.clone(), self.addr, self.path.clone());
        tokio::task::spawn_blocking(move || proxy::probe(&cluster, addr, path)).await.unwrap_or(false)
    }
}

/// Where the Pod's container is in its life, for the status.
struct Life {
    started_at: String,
    pid: u32,
    ready: bool,
    restarts: i32,
    last_exit: Option<(i32, String, String)>,
    waiting: Option<(String, String)>,
}

async fn patch_status(node: &Node, pod: &Pod, ip: Option<Ipv4Addr>, life: &Life, phase: &str) {
    let c = &pod.spec.as_ref().unwrap().containers[0];
    let ready = if life.ready { "True" } else { "False" };
    let state = match &life.waiting {
        Some((reason, message)) => json!({"waiting": {"reason": reason, "message": message}}),
        None if phase == "Running" => json!({"running": {"startedAt": life.started_at}}),
        None => {
            let (code, _, at) = life.last_exit.clone().unwrap_or((0, String::new(), now()));
            json!({"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }, "finishedAt": at}})
        }
    };
    let last_state = match &life.last_exit {
        Some((code, started, finished)) => {
            json!({"terminated": {"exitCode": code, "reason": if *code == 0 { "Completed" } else { "Error" }, "startedAt": started, "finishedAt": finished}})
        }
        None => json!({}),
    };
    let t = now();
    let mut status = json!({
        "phase": phase,
        "hostIP": net::GATEWAY.to_string(),
        "hostIPs": [{"ip": net::GATEWAY.to_string()}],
        "startTime": life.started_at,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": t},
            {"type": "Initialized", "status": "True", "lastTransitionTime": t},
            {"type": "ContainersReady", "status": ready, "lastTransitionTime": t},
            {"type": "Ready", "status": ready, "lastTransitionTime": t},
        ],
        "containerStatuses": [{
            "name": c.name, "image": c.image.clone().unwrap_or_default(), "imageID": "",
            "containerID": format!("testnode://{}", life.pid),
            "ready": life.ready, "started": life.waiting.is_none(), "restartCount": life.restarts,
            "state": state, "lastState": last_state,
        }],
    });
    if let Some(ip) = ip {
        status["podIP"] = Value::String(ip.to_string());
        status["podIPs"] = json!([{"ip": ip.to_string()}]);
    }
    let api: Api<Pod> = Api::namespaced(node.client.clone(), &pod.namespace().unwrap_or_default());
    if let Err(e) =
        api.patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Merge(json!({"status": status}))).await
    {
        node.log(&format!("status of {}: {e}", pod.name_any()));
    }
}

/// Starts the container's process in the Pod's namespaces; stdout and stderr go to the Pod's log.
fn spawn(
    node: &Node,
    pod_ns: &str,
    hosts: &std::path::Path,
    launch: &Launch,
    log: &std::path::Path,
) -> std::io::Result<Child> {
    // In the mount namespace `ip netns exec` makes: bind the hosts file and every volume at its
    // path, then exec the binary. Mount points missing on the host are created (empty).
    let script = r#"mount --bind "$1" /etc/hosts || exit 90; shift
        while [ "$1" != "--" ]; do mkdir -p "$2" && mount --bind "$1" "$2" || exit 91; shift 2; done
        shift; exec "$@""#;
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", pod_ns, "sh", "-c", script, "sh"]).arg(hosts);
    for (src, dst) in &launch.mounts {
        cmd.arg(src).arg(dst);
    }
    cmd.arg("--").arg(&launch.binary).args(&launch.args);
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    cmd.env_clear()
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .kill_on_drop(true);
    let child = cmd.spawn()?;
    node.record_pid(child.id().unwrap_or(0));
    Ok(child)
}

/// SIGTERM, then SIGKILL after `grace`.
async fn stop_child(child: &mut Child, grace: Duration) {
    if let Some(pid) = child.id() {
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

/// Runs the Pod until `stop` turns true; then stops its process and frees its network.
pub async fn run_pod(node: Arc<Node>, pod: Pod, mut stop: watch::Receiver<bool>) {
    let (ns, name) = (pod.namespace().unwrap_or_default(), pod.name_any());
    let (index, ip) = node.allocate_ip();
    let pod_ns = format!("{}p{index}", node.prefix);
    let c = pod.spec.as_ref().unwrap().containers[0].clone();
    let mut life = Life { started_at: now(), pid: 0, ready: false, restarts: 0, last_exit: None, waiting: None };
    if let Err(e) = net::make_pod(&node.cluster_name, &pod_ns, index, ip) {
        node.log(&format!("network of {ns}/{name}: {e}"));
        life.waiting = Some(("NetworkNotReady".into(), e));
        patch_status(&node, &pod, None, &life, "Pending").await;
        return;
    }
    node.record_netns(&pod_ns);
    let hosts = hosts_file(&node.dir, &ns);
    node.ensure_hosts(&ns);
    let volumes_dir = node.dir.join("pods").join(format!("{ns}_{name}"));
    let log = node.dir.join("logs").join(format!("{ns}_{name}.log"));
    let policy = pod.spec.as_ref().and_then(|s| s.restart_policy.clone()).unwrap_or_else(|| "Always".into());
    let grace = Duration::from_secs(
        pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds).unwrap_or(30).clamp(0, 10) as u64,
    );
    let readiness = c.readiness_probe.as_ref().and_then(|p| ProbeSpec::of(p, &c, ip));
    let liveness = c.liveness_probe.as_ref().and_then(|p| ProbeSpec::of(p, &c, ip));
    let mut backoff = Duration::from_secs(1);
    'life: loop {
        // Resolve (retried: ConfigMaps, Secrets and the ServiceAccount may come later).
        let launch = loop {
            let inputs = Inputs {
                client: &node.client,
                binaries: &node.binaries,
                pod_ip: &ip.to_string(),
                host_ip: &net::GATEWAY.to_string(),
                kubernetes: node.kubernetes(),
                ca_crt: &node.ca_crt,
                volumes_dir: &volumes_dir,
                claims_dir: &node.dir.join("claims"),
            };
            match spec::resolve(&pod, &inputs).await {
                Ok(l) => break l,
                Err(e) => {
                    if life.waiting.as_ref().map(|w| &w.1) != Some(&e) {
                        node.log(&format!("{ns}/{name}: {e}"));
                        life.waiting = Some(("CreateContainerConfigError".into(), e));
                        patch_status(&node, &pod, Some(ip), &life, "Pending").await;
                    }
                    tokio::select! {
                        _ = stop.changed() => break 'life,
                        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    }
                }
            }
        };
        let mut child = match spawn(&node, &pod_ns, &hosts, &launch, &log) {
            Ok(c) => c,
            Err(e) => {
                life.waiting = Some(("RunContainerError".into(), e.to_string()));
                patch_status(&node, &pod, Some(ip), &life, "Pending").await;
                break 'life;
            }
        };
        life.started_at = now();
        life.pid = child.id().unwrap_or(0);
        life.waiting = None;
        life.ready = readiness.is_none();
        node.set_endpoint(
            &ns,
            &name,
            Endpoint {
                namespace: ns.clone(),
                labels: pod.labels().clone(),
                ip,
                ready: life.ready,
                ports: c
                    .ports
                    .iter()
                    .flatten()
                    .filter_map(|p| Some((p.name.clone()?, u16::try_from(p.container_port).ok()?)))
                    .collect(),
            },
        );
        patch_status(&node, &pod, Some(ip), &life, "Running").await;
        let started = tokio::time::Instant::now();
        let mut next_ready = readiness.as_ref().map(|p| started + p.delay);
        let mut next_live = liveness.as_ref().map(|p| started + p.delay);
        let (mut ready_failures, mut live_failures) = (0, 0);
        let exit = loop {
            // Readiness is checked every second until the first success, then every period.
            let wake =
                [next_ready, next_live].into_iter().flatten().min().unwrap_or(started + Duration::from_secs(3600));
            tokio::select! {
                _ = stop.changed() => {
                    stop_child(&mut child, grace).await;
                    break 'life;
                }
                status = child.wait() => break status,
                _ = tokio::time::sleep_until(wake) => {
                    let now = tokio::time::Instant::now();
                    if let (Some(p), Some(at)) = (&readiness, next_ready) && at <= now {
                        let ok = p.run(&node).await;
                        ready_failures = if ok { 0 } else { ready_failures + 1 };
                        let ready = ok || (life.ready && ready_failures < p.threshold);
                        if ready != life.ready {
                            life.ready = ready;
                            node.set_ready(&ns, &name, ready);
                            patch_status(&node, &pod, Some(ip), &life, "Running").await;
                        }
                        let step = if life.ready { p.period } else { p.period.min(Duration::from_secs(1)) };
                        next_ready = Some(now + step);
                    }
                    if let (Some(p), Some(at)) = (&liveness, next_live) && at <= now {
                        live_failures = if p.run(&node).await { 0 } else { live_failures + 1 };
                        next_live = Some(now + p.period);
                        if live_failures >= p.threshold {
                            node.log(&format!("{ns}/{name}: liveness probe failed {live_failures} times: restarting"));
                            stop_child(&mut child, grace).await;
                            break child.wait().await;
                        }
                    }
                }
            }
        };
        let code = exit.ok().and_then(|s| s.code()).unwrap_or(137);
        node.log(&format!("{ns}/{name}: container exited with {code} (log: {})", log.display()));
        life.last_exit = Some((code, life.started_at.clone(), now()));
        life.ready = false;
        node.set_ready(&ns, &name, false);
        let restart = policy == "Always" || (policy == "OnFailure" && code != 0);
        if !restart {
            patch_status(&node, &pod, Some(ip), &life, if code == 0 { "Succeeded" } else { "Failed" }).await;
            let _ = stop.changed().await;
            break 'life;
        }
        life.restarts += 1;
        life.waiting =
            Some(("CrashLoopBackOff".into(), format!("back-off {}s restarting the container", backoff.as_secs())));
        patch_status(&node, &pod, Some(ip), &life, "Running").await;
        tokio::select! {
            _ = stop.changed() => break 'life,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
    node.remove_endpoint(&ns, &name);
    net::delete(&pod_ns);
    let _ = std::fs::remove_dir_all(&volumes_dir);
}
