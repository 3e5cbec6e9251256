//! Runs provisioning jobs after the request that made them has answered: the provisioner on
//! a blocking thread, then the outcome applied with [`Lambda::finish`]. A provisioner that
//! panics fails the transition with `InternalError` rather than leaving it pending.

use std::sync::{Arc, OnceLock};

use control::lambda::{FunctionProvisioner, Lambda, Outcome, ProvisionJob};

use crate::invoke::Invoker;

/// This process's identity as the runner of provisioning jobs. Jobs recorded under another
/// runner belong to a daemon process that is gone, and are adopted.
pub fn runner_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        format!(
            "{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        )
    })
}

/// Runs `job` with `provisioner`; `invoker` learns of the state change it makes.
pub fn spawn(
    lambda: Lambda,
    job: ProvisionJob,
    invoker: Arc<Invoker>,
    provisioner: Arc<dyn FunctionProvisioner>,
) {
    tokio::spawn(async move {
        let for_provisioner = job.clone();
        let outcome = match tokio::task::spawn_blocking(move || {
            provisioner.provision(&for_provisioner)
        })
        .await
        {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(function = %job.version.function_name, error = %e, "provisioner failed");
                Outcome::Failed {
                    reason_code: "InternalError".into(),
                    reason: "An internal error occurred while setting up the function.".into(),
                }
            }
        };
        let name = job.version.function_name.clone();
        let finished = tokio::task::spawn_blocking(move || lambda.finish(&job, &outcome)).await;
        invoker.control_plane_changed();
        match finished {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(function = %name, error = %e, "could not record provisioning outcome")
            }
            Err(e) => {
                tracing::error!(function = %name, error = %e, "recording provisioning outcome panicked")
            }
        }
    });
}
