//! What a Pod's container runs, resolved as the kubelet resolves it: the binary (the image is
//! ignored: `command[0]`'s file name is looked up among the workspace's binaries, then among
//! [`HOST_TOOLS`], the programs of the images the chart bundles that this host has from its
//! Debian packages), the
//! environment (values with `$(VAR)` expansion, ConfigMap and Secret key references, `envFrom`,
//! the downward API, the `KUBERNETES_SERVICE_*` variables), and the volumes materialised in a
//! directory of the node (ConfigMap, Secret, emptyDir, a PersistentVolumeClaim as a directory
//! of the node that outlives the Pod, as a local-path provisioner gives, and the ServiceAccount token the kubelet
//! mounts at `/var/run/secrets/kubernetes.io/serviceaccount`, from a TokenRequest).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::ByteString;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

/// Where the kubelet mounts the ServiceAccount token.
pub const SA_MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Programs of the bundled NATS and Redis images (and the shell of their Alpine base) that the
/// test node runs from the host's PATH.
pub const HOST_TOOLS: &[&str] = &["sh", "nats-server", "redis-server"];

/// A container ready to start.
#[derive(Debug)]
pub struct Launch {
    pub binary: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// (directory on the node, path inside the container).
    pub mounts: Vec<(PathBuf, String)>,
}

/// The inputs of resolution that are not in the Pod.
pub struct Inputs<'a> {
    pub client: &'a Client,
    pub binaries: &'a Path,
    pub pod_ip: &'a str,
    pub host_ip: &'a str,
    /// The `kubernetes` Service's cluster IP and port.
    pub kubernetes: (String, u16),
    /// The API server's CA certificate (`ca.crt` of the token mount).
    pub ca_crt: &'a Path,
    /// A directory of this Pod for its volumes.
    pub volumes_dir: &'a Path,
    /// The node's directory of PersistentVolumeClaims (one directory per claim, kept across Pods).
    pub claims_dir: &'a Path,
}

/// Expands `$(VAR)` references to `vars` as the kubelet does (`$$` escapes; unknown references
/// stay as they are).
pub fn expand(s: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("$$") {
            out.push('$');
            rest = t;
        } else if let Some(end) = tail.strip_prefix("$(").and_then(|t| t.find(')')) {
            let name = &tail[2..2 + end];
            match vars.get(name) {
                Some(v) => out.push_str(v),
                None => out.push_str(&tail[..3 + end]),
            }
            rest = &tail[3 + end..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

fn field(pod: &Pod, path: &str, inputs: &Inputs) -> Result<String, String> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref().ok_or("a Pod without spec")?;
    let from_map = |m: &Option<BTreeMap<String, String>>, p: &str, prefix: &str| {
        let k = p.strip_prefix(prefix)?.strip_suffix("']")?;
        m.as_ref().and_then(|m| m.get(k)).cloned()
    };
    Ok(match path {
        "metadata.name" => pod.name_any(),
        "metadata.namespace" => pod.namespace().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.node_name.clone().unwrap_or_default(),
        "spec.serviceAccountName" => spec.service_account_name.clone().unwrap_or_else(|| "default".into()),
        "status.podIP" => inputs.pod_ip.into(),
        "status.hostIP" => inputs.host_ip.into(),
        p if p.starts_with("metadata.labels['") => from_map(&meta.labels, p, "metadata.labels['").unwrap_or_default(),
        p if p.starts_with("metadata.annotations['") => {
            from_map(&meta.annotations, p, "metadata.annotations['").unwrap_or_default()
        }
        other => return Err(format!("fieldRef {other} is not supported by the test node")),
    })
}

async fn config_map(client: &Client, ns: &str, name: &str) -> Result<Option<BTreeMap<String, String>>, String> {
    let cm = Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.map_err(|e| e.to_string())?;
    Ok(cm.map(|c| c.data.unwrap_or_default()))
}

async fn secret(client: &Client, ns: &str, name: &str) -> Result<Option<BTreeMap<String, String>>, String> {
    let s = Api::<Secret>::namespaced(client.clone(), ns).get_opt(name).await.map_err(|e| e.to_string())?;
    Ok(s.map(|s| {
        let mut out: BTreeMap<String, String> = s.string_data.unwrap_or_default();
        for (k, ByteString(v)) in s.data.unwrap_or_default() {
            out.insert(k, String::from_utf8_lossy(&v).into_owned());
        }
        out
    }))
}

fn required<T>(v: Option<T>, optional: Option<bool>, what: &str) -> Result<Option<T>, String> {
    match v {
        Some(v) => Ok(Some(v)),
        None if optional == Some(true) => Ok(None),
        None => Err(format!("{what} not found")),
    }
}

/// The container's environment, in order, after expansion.
async fn environment(pod: &Pod, c: &Container, inputs: &Inputs<'_>) -> Result<Vec<(String, String)>, String> {
    let ns = pod.namespace().unwrap_or_default();
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut order: Vec<String> = vec![];
    let mut set = |vars: &mut BTreeMap<String, String>, k: String, v: String| {
        if !vars.contains_key(&k) {
            order.push(k.clone());
        }
        vars.insert(k, v);
    };
    let (k8s_host, k8s_port) = &inputs.kubernetes;
    set(&mut vars, "KUBERNETES_SERVICE_HOST".into(), k8s_host.clone());
    set(&mut vars, "KUBERNETES_SERVICE_PORT".into(), k8s_port.to_string());
    set(&mut vars, "HOSTNAME".into(), pod.name_any());
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        let data = if let Some(r) = &from.config_map_ref {
            required(config_map(inputs.client, &ns, &r.name).await?, r.optional, &format!("ConfigMap {}", r.name))?
        } else if let Some(r) = &from.secret_ref {
            required(secret(inputs.client, &ns, &r.name).await?, r.optional, &format!("Secret {}", r.name))?
        } else {
            None
        };
        for (k, v) in data.unwrap_or_default() {
            set(&mut vars, format!("{prefix}{k}"), v);
        }
    }
    for e in c.env.iter().flatten() {
        let value = match &e.value_from {
            None => Some(expand(e.value.as_deref().unwrap_or(""), &vars)),
            Some(src) => {
                if let Some(f) = &src.field_ref {
                    Some(field(pod, &f.field_path, inputs)?)
                } else if let Some(r) = &src.config_map_key_ref {
                    let data = config_map(inputs.client, &ns, &r.name).await?;
                    required(
                        data.and_then(|d| d.get(&r.key).cloned()),
                        r.optional,
                        &format!("ConfigMap key {}/{}", r.name, r.key),
                    )?
                } else if let Some(r) = &src.secret_key_ref {
                    let data = secret(inputs.client, &ns, &r.name).await?;
                    required(
                        data.and_then(|d| d.get(&r.key).cloned()),
                        r.optional,
                        &format!("Secret key {}/{}", r.name, r.key),
                    )?
                } else {
                    return Err(format!(
                        "env {}: only fieldRef, configMapKeyRef and secretKeyRef are supported",
                        e.name
                    ));
                }
            }
        };
        if let Some(v) = value {
            set(&mut vars, e.name.clone(), v);
        }
    }
    Ok(order
        .into_iter()
        .map(|k| {
            let v = vars[&k].clone();
            (k, v)
        })
        .collect())
}

fn write_files(dir: &Path, files: &BTreeMap<String, String>) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for (k, v) in files {
        std::fs::write(dir.join(k), v).map_err(|e| format!("{}: {e}", dir.join(k).display()))?;
    }
    Ok(())
}

/// Keeps only the `items` (key -> path) of a projection, or everything without items.
fn project(
    data: BTreeMap<String, String>,
    items: &Option<Vec<k8s_openapi::api::core::v1::KeyToPath>>,
) -> BTreeMap<String, String> {
    match items {
        None => data,
        Some(items) => items.iter().filter_map(|i| data.get(&i.key).map(|v| (i.path.clone(), v.clone()))).collect(),
    }
}

/// The volumes the container mounts, materialised; plus the ServiceAccount token mount.
async fn volumes(pod: &Pod, c: &Container, inputs: &Inputs<'_>) -> Result<Vec<(PathBuf, String)>, String> {
    let ns = pod.namespace().unwrap_or_default();
    let spec = pod.spec.as_ref().ok_or("a Pod without spec")?;
    let mut mounts = vec![];
    for m in c.volume_mounts.iter().flatten() {
        let v = spec
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == m.name)
            .ok_or_else(|| format!("volume {} is not defined", m.name))?;
        let dir = inputs.volumes_dir.join(&v.name);
        if let Some(src) = &v.config_map {
            let data = required(
                config_map(inputs.client, &ns, &src.name).await?,
                src.optional,
                &format!("ConfigMap {}", src.name),
            )?;
            write_files(&dir, &project(data.unwrap_or_default(), &src.items))?;
        } else if let Some(src) = &v.secret {
            let name = src.secret_name.clone().unwrap_or_default();
            let data = required(secret(inputs.client, &ns, &name).await?, src.optional, &format!("Secret {name}"))?;
            write_files(&dir, &project(data.unwrap_or_default(), &src.items))?;
        } else if v.empty_dir.is_some() {
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        } else if let Some(claim) = &v.persistent_volume_claim {
            let dir = inputs.claims_dir.join(format!("{ns}_{}", claim.claim_name));
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            mounts.push((dir, m.mount_path.clone()));
            continue;
        } else {
            return Err(format!(
                "volume {}: only configMap, secret, emptyDir and persistentVolumeClaim are supported by the test node",
                v.name
            ));
        }
        let src = match &m.sub_path {
            Some(p) if !p.is_empty() => dir.join(p),
            _ => dir,
        };
        mounts.push((src, m.mount_path.clone()));
    }
    if spec.automount_service_account_token != Some(false)
        && c.volume_mounts.iter().flatten().all(|m| m.mount_path != SA_MOUNT)
    {
        let sa = spec.service_account_name.clone().unwrap_or_else(|| "default".into());
        let token = token(inputs.client, &ns, &sa, pod).await?;
        let dir = inputs.volumes_dir.join("kube-api-access");
        let ca = std::fs::read_to_string(inputs.ca_crt).map_err(|e| e.to_string())?;
        let files =
            BTreeMap::from([("token".to_string(), token), ("ca.crt".to_string(), ca), ("namespace".to_string(), ns)]);
        write_files(&dir, &files)?;
        mounts.push((dir, SA_MOUNT.into()));
    }
    Ok(mounts)
}

/// A bound ServiceAccount token for the Pod (TokenRequest, one hour).
async fn token(client: &Client, ns: &str, sa: &str, pod: &Pod) -> Result<String, String> {
    let req = json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {
            "audiences": [],
            "expirationSeconds": 3600,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": pod.name_any(), "uid": pod.metadata.uid},
        },
    });
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let tr: TokenRequest = api
        .create_subresource("token", sa, &PostParams::default(), &req)
        .await
        .map_err(|e| format!("a token for ServiceAccount {ns}/{sa}: {e}"))?;
    tr.status.map(|s| s.token).ok_or_else(|| "a TokenRequest without token".into())
}

/// `name` on the host's PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Resolves the Pod's single container (the test node runs one container per Pod).
pub async fn resolve(pod: &Pod, inputs: &Inputs<'_>) -> Result<Launch, String> {
    let spec = pod.spec.as_ref().ok_or("a Pod without spec")?;
    if spec.containers.len() != 1 || spec.init_containers.as_ref().is_some_and(|i| !i.is_empty()) {
        return Err("the test node runs Pods of exactly one container and no init containers".into());
    }
    let c = &spec.containers[0];
    let env = environment(pod, c, inputs).await?;
    let vars: BTreeMap<String, String> = env.iter().cloned().collect();
    let mut argv: Vec<String> = c.command.clone().unwrap_or_default();
    argv.extend(c.args.clone().unwrap_or_default());
    let argv: Vec<String> = argv.iter().map(|a| expand(a, &vars)).collect();
    let first = argv.first().ok_or("a container without command (the test node has no image entrypoints)")?;
    let file = Path::new(first).file_name().ok_or("an empty command")?;
    let mut binary = inputs.binaries.join(file);
    if !binary.is_file() {
        match file.to_str().filter(|f| HOST_TOOLS.contains(f)).and_then(on_path) {
            Some(host) => binary = host,
            None => return Err(format!("no workspace binary {} for command {first}", binary.display())),
        }
    }
    let mounts = volumes(pod, c, inputs).await?;
    Ok(Launch { binary, args: argv[1..].to_vec(), env, mounts })
}

#[cfg(test)]
mod tests {
    use super::expand;
    use std::collections::BTreeMap;

    #[test]
    fn expansion_follows_the_kubelet() {
        let vars = BTreeMap::from([("A".to_string(), "x".to_string())]);
        assert_eq!(expand("$(A)-$(B)-$$(A)-$", &vars), "x-$(B)-$(A)-$");
    }
}
