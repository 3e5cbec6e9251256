//! The daemon's side of Lambda's ENIs: which provisioner the ENI mode asks for, and the
//! reclaimer that deletes ENIs no function uses any more once the reclaim delay has passed
//! (or leaves them `available` when the execution role can no longer delete them).

use std::sync::Arc;
use std::time::Duration;

use control::eni::hyperplane::{self, HyperplaneProvisioner, Reclaimed};
use control::eni::EniMode;
use control::lambda::{FunctionProvisioner, ImmediateProvisioner};
use control::Store;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::server::AppState;

/// The knobs of ENI setup and reclaim, from the configuration.
pub fn settings(config: &Config) -> hyperplane::Settings {
    hyperplane::Settings {
        account_eni_quota: config.eni_quota as usize,
        reclaim_delay: config.eni_reclaim_delay,
        create_delay: config.eni_attach_delay,
    }
}

/// Hyperplane functions get their shared ENIs while `Pending`; legacy functions get theirs
/// as they scale out (at invoke time), so their transitions complete at once.
pub fn provisioner(config: &Config, store: &Store) -> Arc<dyn FunctionProvisioner> {
    match config.eni_mode {
        EniMode::Hyperplane => {
            Arc::new(HyperplaneProvisioner::new(store.clone(), settings(config)))
        }
        EniMode::Legacy => Arc::new(ImmediateProvisioner),
    }
}

/// Runs a reclaim pass every so often (a quarter of the delay, between 100 ms and 10 s),
/// and at once when Lambda's control plane changed (`AppState::reclaim_now`): the pass that
/// notices a function let go of an ENI stores when the ENI is due, so the delay counts from
/// then and a daemon stopped meanwhile, even by SIGKILL, reclaims it when due after restart.
pub fn spawn_reclaimer(state: Arc<AppState>) -> JoinHandle<()> {
    let settings = settings(&state.config);
    let period =
        (settings.reclaim_delay / 4).clamp(Duration::from_millis(100), Duration::from_secs(10));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = state.reclaim_now.notified() => {}
            }
            let store = state.store.clone();
            let now = chrono::Utc::now().timestamp_millis();
            let pass =
                tokio::task::spawn_blocking(move || hyperplane::reclaim(&store, &settings, now))
                    .await;
            match pass {
                Ok(Ok(done)) if !done.is_empty() => {
                    for r in &done {
                        match r {
                            Reclaimed::Deleted { eni_id, .. } => {
                                tracing::info!(eni = %eni_id, "reclaimed Lambda ENI")
                            }
                            Reclaimed::LeftAvailable { eni_id, .. } => tracing::warn!(
                                eni = %eni_id,
                                "the execution role can no longer delete this Lambda ENI; left available for the user"
                            ),
                        }
                    }
                    state.dataplane.changed();
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "ENI reclaim pass failed"),
                Err(e) => tracing::error!(error = %e, "ENI reclaim pass panicked"),
            }
        }
    })
}
