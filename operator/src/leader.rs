//! Leader election on a `coordination.k8s.io` Lease (kube-lease-manager): of several operator
//! replicas exactly one runs the controllers; the others wait as ready standbys and take over
//! within the lease duration when the leader dies. A leader that loses the lease stops its
//! controllers and exits (its pod restarts and competes again), as client-go's leader election
//! does; a leader that stops on SIGTERM releases the lease so a standby takes over at once.

use std::time::Duration;

use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The Lease's name.
pub const LEASE_NAME: &str = "polyfleet-operator";
/// Seconds a lease stays valid after its last renewal.
pub const LEASE_SECONDS: u64 = 15;
/// Seconds before expiry the holder renews: every 5 s, with 10 s for a renewal to get through
/// a slow API server before the lease lapses (client-go's renew deadline is 10 s too); 5 s of
/// grace gave a renewal 5 s.
pub const GRACE_SECONDS: u64 = 10;

/// This replica's part in the election.
pub struct Leadership {
    rx: watch::Receiver<bool>,
    task: JoinHandle<Result<kube_lease_manager::LeaseManager, LeaseManagerError>>,
}

impl Leadership {
    /// Joins the election for the Lease in `namespace` as `identity`.
    pub async fn join(client: kube::Client, namespace: &str, identity: &str) -> Result<Leadership, LeaseManagerError> {
        let manager = LeaseManagerBuilder::new(client, LEASE_NAME)
            .with_namespace(namespace)
            .with_identity(identity)
            .with_duration(LEASE_SECONDS)
            .with_grace(GRACE_SECONDS)
            .build()
            .await?;
        let (rx, task) = manager.watch().await;
        Ok(Leadership { rx, task })
    }

    /// Waits until this replica holds the lease (false if the election ended).
    pub async fn acquired(&mut self) -> bool {
        self.rx.wait_for(|leader| *leader).await.is_ok()
    }

    /// Resolves when this replica no longer holds the lease.
    pub fn lost(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.rx.clone();
        async move {
            let _ = rx.wait_for(|leader| !*leader).await;
        }
    }

    /// Leaves the election, releasing the lease if held.
    pub async fn release(self) {
        drop(self.rx);
        match tokio::time::timeout(Duration::from_secs(5), self.task).await {
            Ok(Ok(Ok(_))) => tracing::info!("leader lease released"),
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "releasing the leader lease"),
            Ok(Err(e)) => tracing::warn!(error = %e, "leader election task"),
            Err(_) => tracing::warn!("releasing the leader lease timed out; it expires by itself"),
        }
    }
}
