//! The provisioner of provisioned concurrency: keeps as many initialized environments per
//! function version as its configurations request, and writes their progress back to the
//! store (`Allocated…` counting up as each environment finishes its init, then `READY`, or
//! `FAILED` with a reason).
//!
//! One background task runs passes: at start-up (every configuration is provisioned again:
//! environments do not survive a restart), after every control-plane change (a Put, a
//! Delete, an alias moved, a function deleted), after every environment it started is
//! ready or failed, and every few seconds (to replace provisioned environments that died).
//! A pass reads every configuration, sets each version's wanted count in the registry
//! (which hands back idle surplus to destroy), and starts what is missing, each start in a
//! task of its own: the environment is started like an on-demand one, but with
//! `AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`, through a cold-start slot of
//! admission control taken in turn with on-demand starts, and joins its pool only once
//! its init is over, so the first invocation it serves is warm. A VPC function's
//! environment has its ENI before it starts (the start path attaches it).
//!
//! Nothing here is on the invoke path: invocations only find provisioned environments in
//! the pool ([`super::registry`]).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use control::lambda::{FunctionRef, PlannedConfig, ProvisionedReport, ProvisionedStatus};
use control::Scope;
use tokio::sync::Notify;

use super::pool::{self, StartError};
use super::registry::{FunctionEntry, Target};
use super::{check_state, Invoker};
use crate::server::AppState;

/// How often a pass runs without being woken: replaces provisioned environments that died.
const PERIOD: Duration = Duration::from_secs(5);

/// The provisioner's doorbell and its off switch.
#[derive(Default)]
pub struct Provisioning {
    wake: Notify,
    closed: AtomicBool,
}

impl Provisioning {
    /// Something changed: a pass runs soon (passes asked for meanwhile are one).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The daemon is stopping: no pass and no start from now on.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// A restarted daemon has no environments: before it serves, every configuration is
/// marked as being provisioned again.
pub async fn reset(lambda: control::lambda::Lambda) {
    match tokio::task::spawn_blocking(move || lambda.restart_provisioned()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "resetting provisioned concurrency"),
        Err(e) => tracing::warn!(error = %e, "resetting provisioned concurrency"),
    }
}

/// Runs the provisioner until the daemon goes away or stops. Started once the invoke path
/// is connected to the network, so VPC environments are attached from the first pass.
pub fn spawn(state: Weak<AppState>) {
    tokio::spawn(async move {
        let Some(invoker) = state.upgrade().map(|s| Arc::downgrade(&s.invoke)) else {
            return;
        };
        loop {
            let Some(inv) = invoker.upgrade() else { return };
            if inv.provisioning.is_closed() {
                return;
            }
            pass(&inv).await;
            let wake = async { inv.provisioning.wake.notified().await };
            let _ = tokio::time::timeout(PERIOD, wake).await;
        }
    });
}

/// The configurations that share one version's environments.
struct Group {
    scope: Scope,
    function: String,
    version: String,
    configs: Vec<PlannedConfig>,
}

impl Group {
    fn wanted(&self) -> u32 {
        self.configs.iter().map(|c| c.config.requested).sum()
    }

    /// Once a configuration failed, no more environments are started for it until its
    /// next Put.
    fn may_start(&self) -> bool {
        self.configs
            .iter()
            .all(|c| c.config.status != ProvisionedStatus::Failed)
    }

    /// Reports with `ready` environments shared out in configuration order.
    fn reports(&self, ready: u32, failure: Option<&str>) -> Vec<ProvisionedReport> {
        let mut left = ready;
        self.configs
            .iter()
            .map(|c| {
                let allocated = left.min(c.config.requested);
                left -= allocated;
                report(c, allocated, failure)
            })
            .collect()
    }
}

fn report(c: &PlannedConfig, allocated: u32, failure: Option<&str>) -> ProvisionedReport {
    ProvisionedReport {
        scope: c.scope.clone(),
        function_name: c.config.function_name.clone(),
        qualifier: c.config.qualifier.clone(),
        put_id: c.config.put_id.clone(),
        allocated,
        failure: failure.map(str::to_string),
    }
}

async fn pass(inv: &Arc<Invoker>) {
    let lambda = inv.lambda.clone();
    let plan = match tokio::task::spawn_blocking(move || lambda.provisioned_plan()).await {
        Ok(Ok(plan)) => plan,
        Ok(Err(e)) => return tracing::warn!(error = %e, "reading provisioned concurrency"),
        Err(e) => return tracing::warn!(error = %e, "reading provisioned concurrency"),
    };
    let mut groups: BTreeMap<(String, String, String, String), Group> = BTreeMap::new();
    let mut reports = Vec::new();
    for planned in plan {
        let Some(version) = planned.version.clone() else {
            reports.push(report(&planned, 0, None));
            continue;
        };
        let key = (
            planned.scope.account.clone(),
            planned.scope.region.clone(),
            planned.config.function_name.clone(),
            version.clone(),
        );
        groups
            .entry(key)
            .or_insert_with(|| Group {
                scope: planned.scope.clone(),
                function: planned.config.function_name.clone(),
                version,
                configs: Vec::new(),
            })
            .configs
            .push(planned);
    }
    let mut kept: HashSet<(usize, String)> = HashSet::new();
    for group in groups.into_values() {
        let group = Arc::new(group);
        if let Err(reason) = inv.starter() {
            reports.extend(group.reports(0, Some(&reason.to_string())));
            continue;
        }
        let fref = FunctionRef {
            name: group.function.clone(),
            qualifier: Some(group.version.clone()),
        };
        let (entry, target) = match inv.target(&group.scope, &fref).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(function = %group.function, version = %group.version, error = %e, "provisioned concurrency: the version cannot be resolved");
                continue;
            }
        };
        kept.insert((Arc::as_ptr(&entry) as usize, group.version.clone()));
        // A version still Pending (its network being set up) is provisioned once Active.
        let start = group.may_start() && check_state(&target.runnable.version.status).is_ok();
        let (to_start, surplus) =
            entry.provision(&group.version, target.fingerprint, group.wanted(), start);
        for env in surplus {
            tracing::info!(env = %env.hex, "provisioned environment stopped: no longer wanted");
            pool::destroy(env);
        }
        for _ in 0..to_start {
            tokio::spawn(start_one(
                Arc::downgrade(inv),
                entry.clone(),
                target.clone(),
                group.clone(),
            ));
        }
        reports.extend(group.reports(entry.provisioned_ready(&group.version), None));
    }
    for entry in inv.registry.all() {
        for version in entry.provisioned_versions() {
            if kept.contains(&(Arc::as_ptr(&entry) as usize, version.clone())) {
                continue;
            }
            for env in entry.unprovision(&version) {
                tracing::info!(env = %env.hex, "provisioned environment stopped: its configuration is gone");
                pool::destroy(env);
            }
        }
    }
    write_reports(inv, reports).await;
}

/// Starts one provisioned environment of `target` and waits for its init.
async fn start_one(
    inv: Weak<Invoker>,
    entry: Arc<FunctionEntry>,
    target: Arc<Target>,
    group: Arc<Group>,
) {
    let Some(inv) = inv.upgrade() else { return };
    let failure = match start_ready(&inv, &entry, &target).await {
        Ok(()) => None,
        Err(reason) => {
            entry.provisioned_failed(&group.version);
            Some(reason)
        }
    };
    if let Some(reason) = failure {
        tracing::warn!(function = %group.function, version = %group.version, %reason, "provisioned concurrency failed");
        let ready = entry.provisioned_ready(&group.version);
        write_reports(&inv, group.reports(ready, Some(&reason))).await;
    }
    // The next pass reports the progress.
    inv.provisioning.wake();
}

/// The environment started, initialized and in its pool; or the status reason why not.
async fn start_ready(inv: &Invoker, entry: &FunctionEntry, target: &Target) -> Result<(), String> {
    let starter = inv.starter().map_err(|e| e.to_string())?;
    let slot = inv
        .admission
        .provisioned_slot()
        .await
        .map_err(|_| "the daemon is stopping".to_string())?;
    let started = starter.start(target, &inv.network, &inv.logs, true).await;
    drop(slot);
    let live = match started {
        Ok(live) => live,
        Err(StartError::Entrypoint(_)) => return Err(control::lambda::INIT_FAILURE.into()),
        Err(StartError::Runtime(m) | StartError::Host(m)) => return Err(m),
        Err(StartError::Network { message, .. }) => return Err(message),
    };
    match live.env.await_init().await {
        Ok(Ok(took)) => {
            tracing::debug!(env = %live.hex, ?took, "provisioned environment initialized");
        }
        Ok(Err(outcome)) => {
            tracing::info!(env = %live.hex, ?outcome, "provisioned environment failed its init");
            pool::destroy(Arc::new(live));
            return Err(control::lambda::INIT_FAILURE.into());
        }
        Err(e) => {
            pool::destroy(Arc::new(live));
            return Err(e.to_string());
        }
    }
    if inv.provisioning.is_closed() {
        pool::destroy(Arc::new(live));
        return Ok(());
    }
    let hex = live.hex.clone();
    match entry.add_provisioned(live) {
        None => tracing::info!(env = %hex, "provisioned environment ready"),
        Some(live) => pool::destroy(Arc::new(live)),
    }
    Ok(())
}

async fn write_reports(inv: &Invoker, reports: Vec<ProvisionedReport>) {
    let lambda = inv.lambda.clone();
    match tokio::task::spawn_blocking(move || lambda.report_provisioned(&reports)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "writing provisioned concurrency progress"),
        Err(e) => tracing::warn!(error = %e, "writing provisioned concurrency progress"),
    }
}
