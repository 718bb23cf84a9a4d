//! How the Redis password reaches the agents, owned by the operator so that nobody copies Secrets
//! by hand and no renderer (Helm, Argo CD) ever has to invent a password:
//!
//! - The **source** is one Secret in the operator's namespace (`--redis-password-secret name/key`).
//!   With `--redis-password-generate` the operator creates it once, with a random password, when it
//!   does not exist, and never touches it again: a chart render holds no password, so a GitOps
//!   diff never shows one and an upgrade never rotates it. Without the flag the Secret is the
//!   user's (`existingSecret`) and a missing one is reported, never invented.
//! - The operator itself reads the password from the source through the API (it needs no
//!   environment variable and starts before the Secret exists).
//! - Agents read it from a **copy** named [`AGENT_SECRET`] (key [`AGENT_KEY`]) in their own
//!   namespace: before a Venue or Strategy reconcile applies Deployments that reference it, the
//!   copy is applied (server-side apply, labelled as the operator's) when the source changed or
//!   the namespace was not served yet by this process. The copy has no owner (owner references
//!   cannot cross namespaces); it stays when the operator is uninstalled, as a `kubectl get secret
//!   -l app.kubernetes.io/managed-by=polyfleet-operator -A` shows.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::Mutex;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::settings::SecretKey;

/// Name of the copy in every namespace with agents.
pub const AGENT_SECRET: &str = "polyfleet-agent-redis";
/// Key of the password in the copy.
pub const AGENT_KEY: &str = "password";
/// Field manager of the copies.
const MANAGER: &str = "polyfleet-operator";

/// Why the credentials could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The API server refused or was unreachable.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The source Secret is missing and the operator may not generate it.
    #[error("Secret {namespace}/{name} (the Redis password) does not exist")]
    Missing {
        /// Operator namespace.
        namespace: String,
        /// Secret name.
        name: String,
    },
    /// The source Secret lacks the key.
    #[error("Secret {namespace}/{name} has no key {key}")]
    NoKey {
        /// Operator namespace.
        namespace: String,
        /// Secret name.
        name: String,
        /// The key.
        key: String,
    },
    /// The source would be overwritten by its own copy.
    #[error("the Redis password Secret may not be named {AGENT_SECRET} (the name of the agents' copies)")]
    Reserved,
    /// No randomness.
    #[error("reading /dev/urandom: {0}")]
    Random(String),
    /// The copy did not serialize.
    #[error("encoding the agents' copy: {0}")]
    Encode(String),
}

/// The operator's Redis credentials: the source Secret and the copies it made.
pub struct Credentials {
    client: kube::Client,
    namespace: String,
    source: SecretKey,
    generate: bool,
    /// Namespace -> resourceVersion of the source last copied there.
    copied: Mutex<HashMap<String, String>>,
    /// The source as last read, and when: reconciles within [`SOURCE_TTL`] reuse it.
    last: Mutex<Option<(std::time::Instant, Source)>>,
}

/// How long a read of the source serves reconciles (a rotated password reaches the copies within it).
pub const SOURCE_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// The password and the source's resourceVersion.
#[derive(Clone)]
struct Source {
    password: Vec<u8>,
    version: String,
}

/// A random password: 32 bytes of the kernel's CSPRNG, hex (64 characters, 256 bits).
pub fn random_password() -> Result<String, CredentialsError> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| CredentialsError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The labels of every Secret the operator makes (how to find them after an uninstall).
fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/managed-by".into(), MANAGER.into()),
        ("app.kubernetes.io/part-of".into(), "polyfleet".into()),
    ])
}

/// The copy of `password` for `namespace`.
pub fn agent_copy(namespace: &str, source_ns: &str, source: &SecretKey, password: &[u8]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(AGENT_SECRET.into()),
            namespace: Some(namespace.into()),
            labels: Some(labels()),
            annotations: Some(BTreeMap::from([(
                "polyfleet.dev/copied-from".into(),
                format!("{source_ns}/{}", source.name),
            )])),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(AGENT_KEY.into(), ByteString(password.to_vec()))])),
        ..Default::default()
    }
}

impl Credentials {
    /// Credentials from `source` in the operator's `namespace`; `generate` creates it when missing.
    pub fn new(
        client: kube::Client,
        namespace: String,
        source: SecretKey,
        generate: bool,
    ) -> Result<Credentials, CredentialsError> {
        if source.name == AGENT_SECRET {
            return Err(CredentialsError::Reserved);
        }
        Ok(Credentials { client, namespace, source, generate, copied: Mutex::default(), last: Mutex::default() })
    }

    /// What agents' pods reference.
    pub fn agent_key() -> SecretKey {
        SecretKey { name: AGENT_SECRET.into(), key: AGENT_KEY.into() }
    }

    async fn source(&self) -> Result<Source, CredentialsError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        let secret = match api.get_opt(&self.source.name).await? {
            Some(s) => s,
            None if self.generate => {
                let password = random_password()?;
                let fresh = Secret {
                    metadata: ObjectMeta {
                        name: Some(self.source.name.clone()),
                        namespace: Some(self.namespace.clone()),
                        labels: Some(labels()),
                        ..Default::default()
                    },
                    type_: Some("Opaque".into()),
                    data: Some(BTreeMap::from([(self.source.key.clone(), ByteString(password.into_bytes()))])),
                    ..Default::default()
                };
                match api.create(&PostParams::default(), &fresh).await {
                    Ok(s) => {
                        tracing::info!(secret = %self.source.name, "generated the Redis password Secret");
                        s
                    }
                    // Another replica made it first: use theirs.
                    Err(kube::Error::Api(e)) if e.code == 409 => api.get(&self.source.name).await?,
                    Err(e) => return Err(e.into()),
                }
            }
            None => {
                return Err(CredentialsError::Missing {
                    namespace: self.namespace.clone(),
                    name: self.source.name.clone(),
                });
            }
        };
        let password =
            secret.data.as_ref().and_then(|d| d.get(&self.source.key)).map(|b| b.0.clone()).ok_or_else(|| {
                CredentialsError::NoKey {
                    namespace: self.namespace.clone(),
                    name: self.source.name.clone(),
                    key: self.source.key.clone(),
                }
            })?;
        Ok(Source { password, version: secret.metadata.resource_version.unwrap_or_default() })
    }

    /// The password (for the operator's own Redis connection).
    pub async fn password(&self) -> Result<String, CredentialsError> {
        let s = self.source().await?;
        Ok(String::from_utf8_lossy(&s.password).into_owned())
    }

    /// Makes sure `namespace` holds the agents' copy of the current password. Reads the source
    /// (one GET, at most every [`SOURCE_TTL`]) and writes the copy only when the source changed since this process last copied
    /// it there.
    pub async fn ensure_copy(&self, namespace: &str) -> Result<(), CredentialsError> {
        let cached = self
            .last
            .lock()
            .ok()
            .and_then(|l| l.as_ref().filter(|(at, _)| at.elapsed() < SOURCE_TTL).map(|(_, s)| s.clone()));
        let source = match cached {
            Some(s) => s,
            None => {
                let s = self.source().await?;
                if let Ok(mut l) = self.last.lock() {
                    *l = Some((std::time::Instant::now(), s.clone()));
                }
                s
            }
        };
        if self.copied.lock().map(|m| m.get(namespace) == Some(&source.version)).unwrap_or(false) {
            return Ok(());
        }
        let copy = agent_copy(namespace, &self.namespace, &self.source, &source.password);
        let mut body = serde_json::to_value(&copy).map_err(|e| CredentialsError::Encode(e.to_string()))?;
        body["apiVersion"] = "v1".into();
        body["kind"] = "Secret".into();
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        api.patch(AGENT_SECRET, &PatchParams::apply(MANAGER).force(), &Patch::Apply(body)).await?;
        if let Ok(mut m) = self.copied.lock() {
            m.insert(namespace.to_string(), source.version);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_passwords_are_long_and_differ() {
        let (a, b) = (random_password().unwrap(), random_password().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_copy_is_labelled_and_names_its_source_but_not_the_password() {
        let source = SecretKey { name: "polyfleet-redis-password".into(), key: "pw".into() };
        let copy = agent_copy("trading", "polyfleet-system", &source, b"s3cret");
        assert_eq!(copy.metadata.name.as_deref(), Some(AGENT_SECRET));
        assert_eq!(copy.metadata.namespace.as_deref(), Some("trading"));
        assert_eq!(copy.data.as_ref().unwrap()[AGENT_KEY].0, b"s3cret");
        let labels = copy.metadata.labels.unwrap();
        assert_eq!(labels["app.kubernetes.io/managed-by"], "polyfleet-operator");
        let annotations = copy.metadata.annotations.unwrap();
        assert_eq!(annotations["polyfleet.dev/copied-from"], "polyfleet-system/polyfleet-redis-password");
        assert!(!annotations.values().any(|v| v.contains("s3cret")));
    }
}
