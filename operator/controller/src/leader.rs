//! Leader election through a `coordination.k8s.io/v1` Lease, so two operator replicas never
//! reconcile at once. kube-runtime has no elector, so this is the client-go algorithm in small:
//! take the Lease when it is free, ours, or expired; renew it well before it expires; writes use
//! the Lease's resourceVersion, so two candidates can never both win. A leader that fails to
//! renew in time stops (the process exits and restarts as a candidate).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};
use kube::Client;

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("failed to read Lease {name:?}")]
    Read {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("failed to write Lease {name:?}")]
    Write {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("lost the Lease {name:?} to {holder:?}")]
    Lost { name: String, holder: String },
    #[error("could not renew Lease {name:?} within its duration")]
    RenewDeadline { name: String },
}

/// Campaigns for and holds one Lease.
#[derive(Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    lease_duration: Duration,
    retry_period: Duration,
}

/// May `identity` take or keep a Lease with this spec at `now`?
pub fn may_acquire(spec: &LeaseSpec, identity: &str, now: Timestamp) -> bool {
    let holder = spec.holder_identity.as_deref().unwrap_or_default();
    if holder.is_empty() || holder == identity {
        return true;
    }
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(15)));
    match &spec.renew_time {
        Some(MicroTime(renewed)) => renewed.checked_add(duration).is_ok_and(|expiry| expiry < now),
        None => true,
    }
}

impl LeaderElector {
    pub fn new(client: Client, namespace: &str, name: &str, identity: &str, lease_duration: Duration) -> Self {
        LeaderElector {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
            lease_duration,
            retry_period: lease_duration / 5,
        }
    }

    fn spec(&self, previous: Option<&LeaseSpec>, now: Timestamp) -> LeaseSpec {
        let ours = previous.is_some_and(|spec| spec.holder_identity.as_deref() == Some(self.identity.as_str()));
        let transitions = previous.and_then(|spec| spec.lease_transitions).unwrap_or(0);
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(i32::try_from(self.lease_duration.as_secs()).unwrap_or(15)),
            acquire_time: if ours { previous.and_then(|spec| spec.acquire_time.clone()) } else { Some(MicroTime(now)) },
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(if ours || previous.is_none() { transitions } else { transitions + 1 }),
            ..LeaseSpec::default()
        }
    }

    /// One attempt to take or renew the Lease. `Ok(false)` means someone else holds it.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, LeaderError> {
        let now = Timestamp::now();
        let current = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|source| LeaderError::Read { name: self.name.clone(), source })?;
        let result = match current {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta { name: Some(self.name.clone()), ..ObjectMeta::default() },
                    spec: Some(self.spec(None, now)),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                let spec = lease.spec.clone().unwrap_or_default();
                if !may_acquire(&spec, &self.identity, now) {
                    return Ok(false);
                }
                lease.spec = Some(self.spec(Some(&spec), now));
                // replace carries the resourceVersion: a concurrent writer makes this fail
                // with 409 instead of both believing they lead.
                self.api.replace(&self.name, &PostParams::default(), &lease).await
            }
        };
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(source) => Err(LeaderError::Write { name: self.name.clone(), source }),
        }
    }

    /// Waits until this process holds the Lease.
    pub async fn acquire(&self) -> Result<(), LeaderError> {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(lease = %self.name, identity = %self.identity, "acquired leadership");
                    return Ok(());
                }
                Ok(false) => tracing::debug!(lease = %self.name, "another replica leads; waiting"),
                Err(error) => tracing::warn!(error = %error, "leader election attempt failed"),
            }
            tokio::time::sleep(self.retry_period).await;
        }
    }

    /// Renews until leadership is lost, then returns why.
    pub async fn hold(&self) -> LeaderError {
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.retry_period).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewal = tokio::time::Instant::now(),
                Ok(false) => {
                    let holder = self
                        .api
                        .get_opt(&self.name)
                        .await
                        .ok()
                        .flatten()
                        .and_then(|lease| lease.spec)
                        .and_then(|spec| spec.holder_identity)
                        .unwrap_or_default();
                    return LeaderError::Lost { name: self.name.clone(), holder };
                }
                Err(error) => tracing::warn!(error = %error, "failed to renew the Lease"),
            }
            // Stop before the Lease could expire and another replica take over.
            if last_renewal.elapsed() > self.lease_duration * 2 / 3 {
                return LeaderError::RenewDeadline { name: self.name.clone() };
            }
        }
    }

    /// Gives the Lease up on shutdown so a successor need not wait for it to expire.
    pub async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await else { return };
        let Some(spec) = lease.spec.as_mut() else { return };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        spec.acquire_time = None;
        match self.api.replace(&self.name, &PostParams::default(), &lease).await {
            Ok(_) => tracing::info!(lease = %self.name, "released leadership"),
            Err(error) => tracing::warn!(error = %error, "failed to release the Lease"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: Option<&str>, renewed_at: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_owned),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed_at).unwrap_or(Timestamp::UNIX_EPOCH))),
            ..LeaseSpec::default()
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn lease_rules() {
        assert!(may_acquire(&lease(None, 100), "me", at(101)), "free lease");
        assert!(may_acquire(&lease(Some("me"), 100), "me", at(101)), "our own lease");
        assert!(!may_acquire(&lease(Some("other"), 100), "me", at(110)), "held and fresh");
        assert!(may_acquire(&lease(Some("other"), 100), "me", at(116)), "expired");
        assert!(may_acquire(&lease(Some(""), 100), "me", at(101)), "released");
    }
}
