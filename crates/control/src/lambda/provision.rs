//! The function state machine's asynchronous half. A create leaves a function `Pending`, an
//! update leaves it `LastUpdateStatus: InProgress`; both commit a [`ProvisionJob`] that a
//! [`FunctionProvisioner`] carries out after the request has answered (the ENI work decides
//! between ready and failed, with Lambda's reason codes). [`Lambda::finish`] applies the
//! outcome, but only to the transition the job was made for: a function deleted, re-created
//! or changed since then is left alone.
//!
//! Jobs are owned by one daemon process (a *runner*). A process that finds a job whose runner
//! is gone (the daemon restarted mid-transition) adopts it with [`Lambda::adopt_orphan`], so
//! no function stays `Pending` forever. Must not touch the kernel itself: that is the
//! provisioner's business.

use super::error::LambdaError;
use super::functions::Lambda;
use super::model::{
    children_prefix, kind, new_revision_id, Function, FunctionVersion, Provisioning, Reason, State,
    UpdateStatus,
};
use crate::store::{Scope, TxExt};

/// Which transition a job completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// `Pending` → `Active` | `Failed`.
    Create,
    /// `InProgress` → `Successful` | `Failed`.
    Update,
}

/// One transition to carry out, with the configuration it is for.
#[derive(Clone, Debug)]
pub struct ProvisionJob {
    pub scope: Scope,
    pub job_id: String,
    pub kind: JobKind,
    /// `$LATEST` as the request committed it.
    pub version: FunctionVersion,
}

/// How a transition ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ready,
    /// `reason_code` is one of Lambda's (`SubnetOutOfIPAddresses`, `EniLimitExceeded`,
    /// `InsufficientRolePermissions`, `InternalError`, …).
    Failed {
        reason_code: String,
        reason: String,
    },
}

/// Sets up what a function's configuration needs before it can run (network interfaces
/// for VPC functions). Called on a blocking thread, once per job.
pub trait FunctionProvisioner: Send + Sync {
    fn provision(&self, job: &ProvisionJob) -> Outcome;
}

/// The provisioner for functions that need nothing set up: every job is ready at once.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImmediateProvisioner;

impl FunctionProvisioner for ImmediateProvisioner {
    fn provision(&self, _job: &ProvisionJob) -> Outcome {
        Outcome::Ready
    }
}

impl Lambda {
    /// Applies `outcome` to the transition `job` was made for. Returns whether it applied.
    pub fn finish(&self, job: &ProvisionJob, outcome: &Outcome) -> Result<bool, LambdaError> {
        let scope = &job.scope;
        let name = &job.version.function_name;
        self.store.write(|tx| {
            let Some(mut function) = tx.get_json::<Function>(kind::FUNCTION, scope, name)? else {
                return Ok(false);
            };
            if function.provisioning.as_ref().map(|p| p.job_id.as_str()) != Some(&job.job_id) {
                return Ok(false);
            }
            let status = &mut function.latest.status;
            match outcome {
                Outcome::Ready => {
                    if status.state == State::Pending {
                        status.state = State::Active;
                        status.state_reason = None;
                    }
                    status.last_update = Some(UpdateStatus::Successful);
                    status.last_update_reason = None;
                    function.serving = None;
                }
                Outcome::Failed {
                    reason_code,
                    reason,
                } => {
                    let why = Reason::new(reason.clone(), reason_code.clone());
                    if status.state == State::Pending {
                        status.state = State::Failed;
                        status.state_reason = Some(why.clone());
                    }
                    status.last_update = Some(UpdateStatus::Failed);
                    status.last_update_reason = Some(why);
                }
            }
            function.latest.revision_id = new_revision_id();
            function.provisioning = None;
            tx.put_json(kind::FUNCTION, scope, name, &function)?;

            // Versions published by the same request (`Publish: true`) wait on the same job.
            let prefix = children_prefix(name);
            for mut version in tx.list_json::<FunctionVersion>(kind::VERSION, scope, &prefix)? {
                if version.status.state != State::Pending {
                    continue;
                }
                match outcome {
                    Outcome::Ready => {
                        version.status.state = State::Active;
                        version.status.state_reason = None;
                    }
                    Outcome::Failed {
                        reason_code,
                        reason,
                    } => {
                        version.status.state = State::Failed;
                        version.status.state_reason =
                            Some(Reason::new(reason.clone(), reason_code.clone()));
                    }
                }
                let key = super::functions::version_key_of(&version)?;
                tx.put_json(kind::VERSION, scope, &key, &version)?;
            }
            Ok(true)
        })
    }

    /// Takes over the job of a function whose runner is not `runner` (a previous daemon
    /// process). Returns the job to run, or `None` if there is nothing to adopt.
    pub fn adopt_orphan(
        &self,
        scope: &Scope,
        name: &str,
        runner: &str,
    ) -> Result<Option<ProvisionJob>, LambdaError> {
        self.store.write(|tx| {
            let Some(mut function) = tx.get_json::<Function>(kind::FUNCTION, scope, name)? else {
                return Ok(None);
            };
            let Some(p) = &function.provisioning else {
                return Ok(None);
            };
            if p.runner == runner {
                return Ok(None);
            }
            let job_id = p.job_id.clone();
            function.provisioning = Some(Provisioning {
                job_id: job_id.clone(),
                runner: runner.to_string(),
            });
            tx.put_json(kind::FUNCTION, scope, name, &function)?;
            let kind = if function.latest.status.state == State::Pending {
                JobKind::Create
            } else {
                JobKind::Update
            };
            Ok(Some(ProvisionJob {
                scope: scope.clone(),
                job_id,
                kind,
                version: function.latest,
            }))
        })
    }
}
