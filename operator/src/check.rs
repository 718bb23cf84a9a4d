//! `polyfleet-operator check`: what `helm test` runs in the operator's own image (no kubectl
//! image needed): every polyfleet CRD is Established, the operator's Deployment has rolled out
//! (observed generation current, every replica updated and available), and the operator answers
//! `/readyz` through its metrics Service. Each failure is reported with its reason and a
//! non-zero exit; it retries until `--timeout-seconds`.

use std::time::Duration;

use anyhow::{Context as _, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Arguments of `check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Namespace of the operator's Deployment.
    #[arg(long, env = "POD_NAMESPACE")]
    pub namespace: String,
    /// The operator's Deployment.
    #[arg(long)]
    pub deployment: String,
    /// `host:port` of the operator's metrics Service, whose `/readyz` must answer 200.
    #[arg(long)]
    pub ready_addr: Option<String>,
    /// How long to keep trying.
    #[arg(long, default_value_t = 120)]
    pub timeout_seconds: u64,
}

/// Why the installation is not there yet, or `None` when it is.
async fn problem(client: &kube::Client, a: &CheckArgs) -> anyhow::Result<Option<String>> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for file in polyfleet_crds::all_crds() {
        let name = file.crd.metadata.name.clone().unwrap_or_default();
        let Some(crd) = crds.get_opt(&name).await? else {
            return Ok(Some(format!("CRD {name} is not installed")));
        };
        let established = crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if !established {
            return Ok(Some(format!("CRD {name} is not Established")));
        }
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &a.namespace);
    let Some(d) = deployments.get_opt(&a.deployment).await? else {
        return Ok(Some(format!("Deployment {}/{} does not exist", a.namespace, a.deployment)));
    };
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let status = d.status.clone().unwrap_or_default();
    if status.observed_generation.unwrap_or(0) < d.metadata.generation.unwrap_or(0) {
        return Ok(Some(format!("Deployment {} has not observed its latest generation", a.deployment)));
    }
    let (updated, available) = (status.updated_replicas.unwrap_or(0), status.available_replicas.unwrap_or(0));
    if updated < want || available < want || status.replicas.unwrap_or(0) > want {
        return Ok(Some(format!(
            "Deployment {}: {updated} of {want} replicas updated, {available} available",
            a.deployment
        )));
    }
    if let Some(addr) = &a.ready_addr {
        match readyz(addr).await {
            Ok(200) => {}
            Ok(code) => return Ok(Some(format!("http://{addr}/readyz answered {code}"))),
            Err(e) => return Ok(Some(format!("http://{addr}/readyz: {e}"))),
        }
    }
    Ok(None)
}

/// The status code of `GET /readyz` at `addr` (HTTP/1.0, the probe endpoint needs no more).
async fn readyz(addr: &str) -> anyhow::Result<u16> {
    let mut s = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr)).await??;
    s.write_all(format!("GET /readyz HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).await?;
    let mut head = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut head)).await??;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).context("an HTTP status line")
}

/// Runs the check until it passes or the timeout.
pub async fn run(a: CheckArgs) -> anyhow::Result<()> {
    let client = kube::Client::try_default().await.context("connecting to the Kubernetes API")?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(a.timeout_seconds);
    loop {
        let last = match problem(&client, &a).await {
            Ok(None) => {
                println!("polyfleet check: CRDs Established, Deployment {} rolled out, operator ready", a.deployment);
                return Ok(());
            }
            Ok(Some(p)) => p,
            Err(e) => format!("{e:#}"),
        };
        if tokio::time::Instant::now() >= deadline {
            bail!("polyfleet check failed: {last}");
        }
        eprintln!("polyfleet check: waiting: {last}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
