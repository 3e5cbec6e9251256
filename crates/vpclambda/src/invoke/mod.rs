//! Invoke: runs function versions in execution environments and answers like Lambda.
//!
//! [`Invoker`] owns everything between a parsed Invoke request and its answer: resolving
//! the function (cached until the control plane changes), the function states that refuse
//! invocations, concurrency (the account limit, reservations, the unreserved pool), pools of
//! warm environments per (account, function, version) — frozen once idle for a moment
//! ([`FREEZE_GRACE`]), thawed by the next invocation, destroyed after a timeout, crash or
//! idle period, drained when the version's settings or code change —, the asynchronous queue (durable in the store, retried), and the function
//! logs. It knows nothing of HTTP; `services/lambda` maps requests and [`InvokeError`]s.
//!
//! A warm invocation spawns no process, touches no disk and takes no lock shared beyond its
//! function: the maps are copy-on-write, logs go to a background writer.
//!
//! Code map: `registry` (functions, cached resolutions, concurrency, idle pools),
//! `admission` (what an invocation without an idle environment may do on a busy host), `pool`
//! (starting, freezing, destroying environments), `outcome` (the platform's error
//! answers), `logs` (streams, START/END/REPORT, the writer), `metrics` (Lambda's CloudWatch
//! metrics, the writer, the roll-up of every metric's old data), `queue` (Event
//! invocations), `destination` (their invocation records and destinations), `code`
//! (extracted packages), `provisioned` (provisioned concurrency: environments initialized
//! ahead).

mod admission;
mod code;
mod destination;
mod logs;
mod metrics;
mod network;
mod outcome;
mod pool;
mod provisioned;
mod queue;
mod registry;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use control::lambda::{
    FunctionRef, Lambda, LambdaError, State, Status, TracingMode, CONCURRENT_EXECUTIONS,
};
use control::{Scope, Store};
use destination::AttemptResponse;
use sandbox::{HostConfig, Invocation, Sandbox, SandboxError, TmpBacking};
use tracing::Instrument;

pub use admission::{cpus, AdmissionSettings};
use admission::{Admission, HostLoad, ScaleOut};
pub use metrics::spawn_roll_up as spawn_metric_roll_up;
use metrics::{Metric, MetricWriter, Subject};
use network::Network;
pub use outcome::Answer;
use pool::{Claim, LiveEnv, StartError, Starter};
use queue::Queue;
pub use registry::{EnvironmentView, Throttle};
use registry::{FunctionEntry, Registry, Target};

/// How the invoke side runs, from the daemon's configuration.
#[derive(Debug, Clone)]
pub struct InvokeSettings {
    pub data_dir: PathBuf,
    /// Idle environments older than this are destroyed.
    pub idle_timeout: Duration,
    /// The delay before an Event invocation's first retry; the second waits twice as long.
    pub async_retry_delay: Duration,
    /// Concurrent executions per account and region.
    pub concurrency_limit: u32,
    /// Where the managed runtimes (Python's awslambdaric, the Node runtime) are installed.
    pub runtimes_dir: PathBuf,
    /// The sandbox instance (cgroup parent `vl-<name>`); derived from the data dir if unset.
    pub cgroup_parent: Option<String>,
    /// Cold starts at once and the bound on waiting for a busy environment.
    pub admission: AdmissionSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// One Invoke call, parsed.
pub struct InvokeRequest {
    pub scope: Scope,
    pub function: FunctionRef,
    pub kind: InvocationType,
    /// `X-Amz-Log-Type: Tail`.
    pub tail: bool,
    pub payload: Bytes,
    /// `X-Amz-Client-Context`, base64-decoded.
    pub client_context: Option<String>,
    pub request_id: String,
    /// The caller's `X-Amzn-Trace-Id`, if it sent one.
    pub trace_header: Option<String>,
}

/// How long an environment stays thawed after an invocation. Lambda freezes an environment
/// between invocations; so do we once it has been idle this long, so an environment that
/// gets its next invocation soon (a busy function) never pays a freeze and a thaw, while
/// an idle one's processes are stopped as in Lambda. A function's work after its response
/// may run on for this long.
const FREEZE_GRACE: Duration = Duration::from_millis(100);

/// How an Invoke call was answered.
pub enum Invoked {
    /// RequestResponse: the function ran.
    Ran {
        executed_version: String,
        answer: Answer,
        /// base64 of the log's last 4 KB, when asked for.
        log_tail: Option<String>,
    },
    /// Event: queued durably.
    Queued,
    /// DryRun: the call would have been allowed.
    Checked,
}

/// Why an invocation was refused.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error(transparent)]
    Lambda(#[from] LambdaError),
    #[error("Rate Exceeded.")]
    Throttled(Throttle),
    /// The function is Pending (or otherwise not invocable) — `ResourceConflictException`.
    #[error("The operation cannot be performed at this time. The function is currently in the following state: {0}")]
    NotInvocable(&'static str),
    /// Inactive: the VPC connection is gone — `ResourceNotReadyException`.
    #[error("The function is inactive and its VPC connection is no longer available. Wait for the VPC connection to reestablish and try again.")]
    Inactive,
    /// Failed because of its network setup: one of Lambda's 502 VPC errors.
    #[error("{message}")]
    NetworkFailed { code: &'static str, message: String },
    /// This daemon cannot run functions (not root, no cgroups).
    #[error("{0}")]
    ExecutionUnavailable(String),
    #[error("{0}")]
    InvalidRuntime(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("Request must be smaller than {0} bytes for the InvokeFunction operation")]
    PayloadTooLarge(usize),
    /// A fault of the host; logged, the client gets Lambda's generic text.
    #[error("{0}")]
    Host(String),
}

/// The invoke side of the daemon.
pub struct Invoker {
    lambda: Lambda,
    settings: InvokeSettings,
    starter: Result<Starter, String>,
    registry: Registry,
    logs: logs::LogWriter,
    metrics: MetricWriter,
    queue: Queue,
    network: Network,
    provisioning: provisioned::Provisioning,
    admission: Admission,
}

impl Invoker {
    /// Sets up execution (when this daemon can), removes what a previous run left behind,
    /// and starts the background work: log writer, idle reaper, Event queue.
    pub async fn start(settings: InvokeSettings, store: Store) -> Arc<Invoker> {
        let starter = match set_up_sandbox(&settings).await {
            Ok(sandbox) => Ok(Starter::new(
                sandbox,
                store.clone(),
                &settings.data_dir,
                settings.runtimes_dir.clone(),
            )),
            Err(reason) => {
                tracing::warn!("{reason}; the control plane works, Invoke is refused");
                Err(reason)
            }
        };
        let invoker = Arc::new(Invoker::assemble(settings, store, starter));
        if let Ok(starter) = &invoker.starter {
            let sandbox = starter.sandbox.clone();
            admission::spawn_sampler(Arc::downgrade(&invoker.admission.load), move || {
                sandbox.cpu_usage()
            });
        }
        provisioned::reset(invoker.lambda.clone()).await;
        tokio::spawn(reap(Arc::downgrade(&invoker)));
        tokio::spawn(freeze_idle(Arc::downgrade(&invoker)));
        queue::spawn_worker(invoker.clone());
        invoker
    }

    /// An invoker that refuses to run functions (in-process tests).
    #[cfg(test)]
    pub fn without_execution(settings: InvokeSettings, store: Store) -> Arc<Invoker> {
        Arc::new(Invoker::assemble(
            settings,
            store,
            Err("execution is disabled in this test".into()),
        ))
    }

    fn assemble(
        settings: InvokeSettings,
        store: Store,
        starter: Result<Starter, String>,
    ) -> Invoker {
        Invoker {
            lambda: Lambda::new(store.clone(), &settings.data_dir),
            admission: Admission::new(&settings.admission, Arc::new(HostLoad::default())),
            logs: logs::LogWriter::spawn(store.clone()),
            metrics: MetricWriter::spawn(store.clone()),
            queue: Queue::new(store),
            settings,
            starter,
            registry: Registry::default(),
            network: Network::default(),
            provisioning: provisioned::Provisioning::default(),
        }
    }

    /// Gives the invoke path the assembled daemon: from then on environments are attached
    /// to the network through its dataplane (isolated before, or without a dataplane).
    /// Provisioned concurrency starts then, so its environments are attached too.
    pub fn connect(&self, state: Weak<crate::server::AppState>) {
        self.network.connect(state.clone());
        provisioned::spawn(state);
    }

    /// The control plane changed a function, alias or concurrency setting: cached
    /// resolutions are stale, environments of changed versions drain, and provisioned
    /// concurrency follows its configurations.
    pub fn control_plane_changed(&self) {
        self.registry.changed();
        self.provisioning.wake();
    }

    /// Resolves once every Lambda metric recorded so far is in the store.
    pub async fn flush_metrics(&self) {
        self.metrics.flush().await;
    }

    /// Invoke.
    pub async fn invoke(&self, req: InvokeRequest) -> Result<Invoked, InvokeError> {
        let (entry, target) = self.target(&req.scope, &req.function).await?;
        check_state(&target.runnable.version.status)?;
        let subject = subject(&req.scope, &req.function);
        match req.kind {
            InvocationType::DryRun => Ok(Invoked::Checked),
            InvocationType::Event => {
                self.starter()?;
                self.queue
                    .enqueue(&req.scope, &req.function, &req.request_id, &req.payload)
                    .await?;
                self.metrics
                    .record(&subject, Metric::AsyncEventsReceived, 1.0);
                Ok(Invoked::Queued)
            }
            InvocationType::RequestResponse => {
                let starter = self.starter()?;
                let _permit = entry.admit(&target).map_err(|t| {
                    self.metrics.record(&subject, Metric::Throttles, 1.0);
                    InvokeError::Throttled(t)
                })?;
                let call = Call {
                    request_id: req.request_id,
                    payload: req.payload,
                    client_context: req.client_context,
                    tail: req.tail,
                    trace_header: req.trace_header,
                    event: false,
                };
                let ran = self
                    .run_measured(&subject, &entry, &target, starter, call)
                    .await?;
                Ok(Invoked::Ran {
                    executed_version: target.version().to_string(),
                    answer: ran.answer,
                    log_tail: ran.tail,
                })
            }
        }
    }

    /// The environments of every function of `scope` (every scope when `None`), with how
    /// many invocations of each function run now.
    pub fn environments(&self, scope: Option<&Scope>) -> Vec<FunctionEnvironments> {
        self.registry
            .named()
            .into_iter()
            .filter(|(s, _, _)| scope.is_none_or(|want| want == s))
            .map(|(scope, function, entry)| FunctionEnvironments {
                scope,
                function,
                executing: entry.executing(),
                environments: entry.environments(),
            })
            .collect()
    }

    /// Drains Availability Zone `zone` (just impaired): its idle environments are destroyed
    /// now; busy ones finish their invocation and are destroyed instead of kept (see
    /// [`run_on`](Self::run_on)). Returns how many were destroyed now.
    pub fn drain_zone(&self, zone: &str) -> usize {
        let mut drained = 0;
        for entry in self.registry.all() {
            for env in entry.drain_zone(zone) {
                tracing::info!(env = %env.hex, %zone, "environment drained: its zone is impaired");
                pool::destroy(env);
                drained += 1;
            }
        }
        drained
    }

    /// Destroys every idle environment and the instance's own cgroups (graceful shutdown);
    /// no queued Event attempt starts from now on.
    pub async fn shutdown(&self) {
        self.queue.close();
        self.provisioning.close();
        for entry in self.registry.all() {
            for env in entry.expire(None) {
                pool::teardown(env).await;
            }
        }
        let Ok(starter) = &self.starter else { return };
        let sandbox = starter.sandbox.clone();
        match tokio::task::spawn_blocking(move || sandbox.shutdown()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "removing environments at shutdown failed"),
            Err(e) => tracing::warn!(error = %e, "removing environments at shutdown panicked"),
        }
    }

    fn starter(&self) -> Result<&Starter, InvokeError> {
        self.starter.as_ref().map_err(|reason| {
            InvokeError::ExecutionUnavailable(format!(
                "Function execution is unavailable on this host: {reason}."
            ))
        })
    }

    /// The function version `fref` names, from the cache while the control plane has not
    /// changed since it was read.
    async fn target(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
    ) -> Result<(Arc<FunctionEntry>, Arc<Target>), InvokeError> {
        let entry = self
            .registry
            .function(scope, &fref.name, self.settings.concurrency_limit);
        // Read before the store, so a change committed meanwhile makes this entry stale.
        let generation = self.registry.generation();
        if let Some(t) = entry.cached(&fref.qualifier, generation) {
            return Ok((entry, t));
        }
        let lambda = self.lambda.clone();
        let (scope2, fref2) = (scope.clone(), fref.clone());
        let (runnable, reserved, weighted, reserved_total) =
            tokio::task::spawn_blocking(move || -> Result<_, LambdaError> {
                let resolved = lambda.get(&scope2, &fref2)?;
                let weighted = match &resolved.alias {
                    Some(alias) => {
                        let unqualified = FunctionRef {
                            name: fref2.name.clone(),
                            qualifier: None,
                        };
                        !lambda
                            .get_alias(&scope2, &unqualified, alias)?
                            .routing
                            .is_empty()
                    }
                    None => false,
                };
                let runnable = lambda.runnable(&scope2, &fref2)?;
                let account = lambda.account_settings(&scope2)?;
                let reserved_total =
                    CONCURRENT_EXECUTIONS.saturating_sub(account.unreserved_concurrent_executions);
                Ok((
                    runnable,
                    resolved.function.reserved_concurrency,
                    weighted,
                    reserved_total,
                ))
            })
            .await
            .map_err(|e| InvokeError::Host(format!("resolving the function: {e}")))??;
        entry.set_unreserved_limit(
            self.settings
                .concurrency_limit
                .saturating_sub(reserved_total),
        );
        let v = &runnable.version;
        let fingerprint = {
            let settings = serde_json::to_string(&v.settings).unwrap_or_default();
            fnv1a(&[
                settings.as_bytes(),
                v.code.sha256_hex.as_bytes(),
                v.version.as_bytes(),
            ])
        };
        let target = Arc::new(Target {
            scope: scope.clone(),
            invoked_arn: control::lambda::function_arn(
                scope,
                &fref.name,
                fref.qualifier.as_deref(),
            ),
            runnable,
            reserved,
            fingerprint,
        });
        // A weighted alias picks a version per invocation, so its pick is never kept.
        if !weighted {
            entry.remember(fref.qualifier.clone(), generation, target.clone());
        }
        Ok((entry, target))
    }

    /// [`run`](Self::run), counted in the function's metrics: its concurrency while it
    /// runs, and once code ran, an invocation with its duration and whether it failed.
    async fn run_measured(
        &self,
        subject: &Arc<Subject>,
        entry: &FunctionEntry,
        target: &Target,
        starter: &Starter,
        call: Call,
    ) -> Result<Ran, InvokeError> {
        let (_executing, in_function, in_account) = entry.start_executing();
        self.metrics
            .record_concurrency(subject, in_function, in_account);
        let load = entry.provisioned_load(target.version());
        if let Some(load) = &load {
            let (busy, ready) = (f64::from(load.busy), f64::from(load.ready));
            self.metrics
                .record(subject, Metric::ProvisionedConcurrentExecutions, busy);
            if ready > 0.0 {
                let utilization = (busy / ready).min(1.0);
                self.metrics.record(
                    subject,
                    Metric::ProvisionedConcurrencyUtilization,
                    utilization,
                );
            }
        }
        let ran = self.run(entry, target, starter, call).await;
        if let Err(InvokeError::Throttled(_)) = &ran {
            self.metrics.record(subject, Metric::Throttles, 1.0);
        }
        if let Ok(r) = &ran {
            if r.provisioned {
                self.metrics
                    .record(subject, Metric::ProvisionedConcurrencyInvocations, 1.0);
            } else if load.is_some() {
                self.metrics.record(
                    subject,
                    Metric::ProvisionedConcurrencySpilloverInvocations,
                    1.0,
                );
            }
            // Through a qualifier, the version that ran is a dimension of its own.
            let subject = if subject.qualifier.is_some() {
                Arc::new(Subject {
                    executed_version: Some(target.version().to_string()),
                    ..Subject::clone(subject)
                })
            } else {
                subject.clone()
            };
            self.metrics.record(&subject, Metric::Invocations, 1.0);
            if r.answer.function_error {
                self.metrics.record(&subject, Metric::Errors, 1.0);
            }
            let ms = r.duration.as_secs_f64() * 1000.0;
            self.metrics.record(&subject, Metric::Duration, ms);
            crate::telemetry::global().invoked(
                &subject.scope,
                &subject.function,
                target.version(),
                r.duration,
                r.answer.function_error,
            );
        }
        ran
    }

    /// Runs one invocation on a warm environment, or a new one.
    async fn run(
        &self,
        entry: &FunctionEntry,
        target: &Target,
        starter: &Starter,
        call: Call,
    ) -> Result<Ran, InvokeError> {
        let v = &target.runnable.version;
        // A warm environment that died while idle is replaced once.
        let mut warm_retry = true;
        loop {
            let (found, stale) = entry.take_idle(&v.version, target.fingerprint);
            stale.into_iter().for_each(pool::destroy);
            let (env, warm) = match found {
                Some(env) => (env, true),
                None => match self
                    .admission
                    .scale_out(entry, &v.version, call.event)
                    .await
                {
                    Ok(ScaleOut::Reused(env)) => (env, true),
                    Ok(ScaleOut::Start(slot)) => {
                        let started = starter
                            .start(target, &self.network, &self.logs, false)
                            .await;
                        drop(slot);
                        match started {
                            Ok(live) => (Arc::new(live), false),
                            Err(StartError::Entrypoint(detail)) => {
                                return Ok(Ran {
                                    answer: Answer::invalid_entrypoint(&call.request_id, &detail),
                                    tail: None,
                                    duration: Duration::ZERO,
                                    provisioned: false,
                                })
                            }
                            Err(StartError::Runtime(m)) => {
                                return Err(InvokeError::InvalidRuntime(m))
                            }
                            Err(StartError::Network { code, message }) => {
                                return Err(InvokeError::NetworkFailed { code, message })
                            }
                            Err(StartError::Host(m)) => return Err(InvokeError::Host(m)),
                        }
                    }
                    Err(admission::Refused) => return Err(InvokeError::Throttled(Throttle::Host)),
                },
            };
            let claim = env.claim().await;
            let span = tracing::info_span!(
                "invoke",
                request_id = %call.request_id,
                function = %v.function_name,
                version = %v.version,
                env = %env.hex,
                warm,
            );
            match self
                .run_on(entry, &env, claim, target, &call)
                .instrument(span)
                .await
            {
                Err(SandboxError::Dead(_)) if warm && warm_retry => {
                    warm_retry = false;
                    pool::destroy(env);
                }
                Err(e) => {
                    pool::destroy(env);
                    return Err(InvokeError::Host(e.to_string()));
                }
                Ok(ran) => return Ok(ran),
            }
        }
    }

    async fn run_on(
        &self,
        entry: &FunctionEntry,
        env: &Arc<LiveEnv>,
        claim: Claim,
        target: &Target,
        call: &Call,
    ) -> Result<Ran, SandboxError> {
        let began = Instant::now();
        let id = &call.request_id;
        let trace = trace_id(
            id,
            target.runnable.version.settings.tracing,
            call.trace_header.as_deref(),
        );
        env.log.begin(
            logs::Platform::Start {
                request_id: id.clone(),
                version: env.version.clone(),
            },
            call.tail,
        );
        let (outcome, stats) = env
            .env
            .invoke(Invocation {
                request_id: id.clone(),
                payload: call.payload.clone(),
                invoked_function_arn: target.invoked_arn.clone(),
                trace_id: trace.clone(),
                client_context: call.client_context.clone(),
                cognito_identity: None,
            })
            .await?;
        if let Some(init) = stats.init_duration {
            let function = &target.runnable.version.function_name;
            crate::telemetry::global().cold_start(&target.scope, function, init);
        }
        let (answer, lines) = outcome::answer(&outcome, id, env.timeout);
        let timed_out = matches!(outcome, sandbox::Outcome::Timeout).then_some(env.timeout);
        let status = match &outcome {
            sandbox::Outcome::Response(_) => "success",
            sandbox::Outcome::FunctionError { .. } => "error",
            sandbox::Outcome::Timeout => "timeout",
            _ => "failure",
        };
        let mut records: Vec<logs::Platform> =
            lines.into_iter().map(logs::Platform::Line).collect();
        records.push(logs::Platform::End {
            request_id: id.clone(),
            status,
        });
        records.push(logs::Platform::Report {
            request_id: id.clone(),
            stats: stats.clone(),
            memory_mb: env.memory_mb,
            timed_out_at: timed_out,
            status,
            trace: trace.ends_with(";Sampled=1").then_some(trace),
        });
        let tail = env.log.end(records, call.tail);
        let drained = env.zone().is_some_and(|z| self.network.is_impaired(z));
        if drained {
            tracing::info!(env = %env.hex, "environment drained after its invocation: its zone is impaired");
            drop(claim);
            pool::destroy(env.clone());
        } else if outcome::survives(&outcome) {
            entry.observe_occupancy(began.elapsed());
            // Back in the pool (or to an invocation waiting for it) while still claimed:
            // the next invocation may take it at once and waits only for this claim to go.
            let stale = entry.put_back(env.clone());
            drop(claim);
            if let Some(stale) = stale {
                pool::destroy(stale);
            }
        } else {
            drop(claim);
            tracing::info!(?outcome, "environment ended by its invocation");
            pool::destroy(env.clone());
        }
        let tail = match tail {
            Some(rx) => rx.await.ok().map(|lines| logs::tail(&lines)),
            None => None,
        };
        Ok(Ran {
            answer,
            tail,
            duration: stats.duration,
            provisioned: env.provisioned.is_some(),
        })
    }

    /// One attempt at a queued Event invocation. Failures before code ran (an ENI that
    /// cannot be had) are failed attempts too, counted in the function's Errors.
    async fn run_event(&self, scope: &Scope, event: &queue::QueuedEvent) -> EventRun {
        let fref = event.function_ref();
        let subject = subject(scope, &fref);
        let (entry, target) = match self.target(scope, &fref).await {
            Ok(found) => found,
            Err(InvokeError::Lambda(LambdaError::FunctionNotFound { .. })) => {
                return EventRun::Gone
            }
            Err(e) => return EventRun::Failed(AttemptResponse::refused(&e)),
        };
        if check_state(&target.runnable.version.status).is_err() {
            return EventRun::Wait;
        }
        let Ok(starter) = self.starter() else {
            return EventRun::Wait;
        };
        let Ok(_permit) = entry.admit(&target) else {
            self.metrics.record(&subject, Metric::Throttles, 1.0);
            return EventRun::Wait;
        };
        if let Some(received) = event.received_ms() {
            let age = (logs::now_ms() - received).max(0) as f64;
            self.metrics.record(&subject, Metric::AsyncEventAge, age);
        }
        let call = Call {
            request_id: event.request_id.clone(),
            payload: event.payload(),
            client_context: None,
            tail: false,
            trace_header: None,
            event: true,
        };
        match self
            .run_measured(&subject, &entry, &target, starter, call)
            .await
        {
            Ok(ran) => {
                let response = AttemptResponse::ran(
                    target.version(),
                    ran.answer.function_error,
                    &ran.answer.payload,
                );
                if ran.answer.function_error {
                    EventRun::Failed(response)
                } else {
                    EventRun::Done(response)
                }
            }
            // The host is saturated: the event waits in the queue, no attempt used.
            Err(InvokeError::Throttled(_)) => EventRun::Wait,
            Err(e) => {
                self.metrics.record(&subject, Metric::Errors, 1.0);
                EventRun::Failed(AttemptResponse::refused(&e))
            }
        }
    }
}

/// One function's environments, for operators (see [`Invoker::environments`]).
pub struct FunctionEnvironments {
    pub scope: Scope,
    pub function: String,
    pub executing: u32,
    pub environments: Vec<EnvironmentView>,
}

/// What one Event attempt came to.
enum EventRun {
    /// The function answered.
    Done(AttemptResponse),
    /// The function failed, or could not be run (counts as an attempt).
    Failed(AttemptResponse),
    /// Throttled or not invocable yet: try again later without counting an attempt.
    Wait,
    /// The function no longer exists.
    Gone,
}

struct Call {
    request_id: String,
    payload: Bytes,
    client_context: Option<String>,
    tail: bool,
    trace_header: Option<String>,
    /// An Event attempt: refused rather than kept waiting on a saturated host.
    event: bool,
}

struct Ran {
    answer: Answer,
    tail: Option<String>,
    /// How long the function code ran.
    duration: Duration,
    /// It ran on a provisioned environment.
    provisioned: bool,
}

/// Whom an invocation's metrics are about.
fn subject(scope: &Scope, fref: &FunctionRef) -> Arc<Subject> {
    Arc::new(Subject {
        scope: scope.clone(),
        function: fref.name.clone(),
        qualifier: fref.qualifier.clone(),
        executed_version: None,
    })
}

/// The states that refuse invocations, with Lambda's errors for them.
fn check_state(status: &Status) -> Result<(), InvokeError> {
    match status.state {
        State::Active => Ok(()),
        State::Pending => Err(InvokeError::NotInvocable("Pending")),
        State::Inactive => Err(InvokeError::Inactive),
        State::Failed => {
            let reason = status.state_reason.as_ref().map(|r| r.code.as_str());
            Err(match network_failure(reason.unwrap_or("")) {
                Some((code, message)) => InvokeError::NetworkFailed {
                    code,
                    message: message.into(),
                },
                None => InvokeError::NotInvocable("Failed"),
            })
        }
    }
}

/// Lambda's 502 error for a function whose network setup failed with `reason_code`.
fn network_failure(reason_code: &str) -> Option<(&'static str, &'static str)> {
    Some(match reason_code {
        "SubnetOutOfIPAddresses" => ("SubnetIPAddressLimitReachedException", "Lambda couldn't set up VPC access for the Lambda function because one or more configured subnets has no available IP addresses."),
        "EniLimitExceeded" => ("ENILimitReachedException", "Lambda couldn't create an elastic network interface in the VPC, specified as part of Lambda function configuration, because the limit for network interfaces has been reached."),
        "InsufficientRolePermissions" => ("EC2AccessDeniedException", "Need additional permissions to configure VPC settings."),
        "InvalidSubnet" => ("InvalidSubnetIDException", "The subnet ID provided in the Lambda function VPC configuration is not valid."),
        "InvalidSecurityGroup" => ("InvalidSecurityGroupIDException", "The security group ID provided in the Lambda function VPC configuration is not valid."),
        "EC2RequestLimitExceeded" => ("EC2ThrottledException", "Amazon EC2 throttled Lambda during Lambda function initialization using the execution role provided for the function."),
        _ => return None,
    })
}

/// The invocation's X-Ray trace header. `Active` tracing samples every invocation;
/// `PassThrough` keeps the caller's decision (not sampled when the caller made none). A
/// caller's `X-Amzn-Trace-Id` with a well-formed `Root` keeps its trace; the function's
/// segment is a new `Parent`, derived from the request id.
fn trace_id(request_id: &str, mode: TracingMode, caller: Option<&str>) -> String {
    let hex: String = request_id.chars().filter(char::is_ascii_hexdigit).collect();
    let parent = hex.get(16..32).unwrap_or("0000000000000000");
    let field = |name: &str| {
        caller.and_then(|h| {
            h.split(';')
                .map(str::trim)
                .find_map(|p| p.strip_prefix(name))
        })
    };
    let root = field("Root=")
        .filter(|r| is_trace_root(r))
        .map(str::to_string)
        .unwrap_or_else(|| {
            let secs = chrono::Utc::now().timestamp();
            let id = hex.get(..24).unwrap_or("000000000000000000000000");
            format!("1-{secs:08x}-{id}")
        });
    let sampled = match (mode, field("Sampled=")) {
        (TracingMode::Active, Some("0")) | (TracingMode::PassThrough, None | Some("0" | "?")) => {
            "0"
        }
        _ => "1",
    };
    format!("Root={root};Parent={parent};Sampled={sampled}")
}

/// `1-<8 hex>-<24 hex>`.
fn is_trace_root(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit());
    parts.len() == 3 && parts[0] == "1" && hex(parts[1], 8) && hex(parts[2], 24)
}

/// FNV-1a: stable across builds, unlike the standard library's hasher, so names derived
/// from it (the sandbox instance) survive an upgrade of the daemon.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The sandbox instance name of the daemon serving `data_dir`: cgroups of daemons with
/// other data dirs (parallel tests) never collide, and a restarted daemon finds its own.
fn instance_name(data_dir: &Path) -> String {
    let dir = data_dir
        .canonicalize()
        .unwrap_or_else(|_| data_dir.to_path_buf());
    format!("d{:016x}", fnv1a(&[dir.as_os_str().as_encoded_bytes()]))
}

async fn set_up_sandbox(settings: &InvokeSettings) -> Result<Sandbox, String> {
    if !nix::unistd::geteuid().is_root() {
        return Err(
            "vpclambda is not running as root, and creating execution environments (namespaces, cgroups, mounts) needs root".into(),
        );
    }
    let mut host = HostConfig::new(
        settings
            .cgroup_parent
            .clone()
            .unwrap_or_else(|| instance_name(&settings.data_dir)),
        "/proc/self/exe",
        vec!["sandbox-init".into()],
        settings.data_dir.join("environments"),
    );
    let mkfs = Path::new("/usr/sbin/mkfs.ext4");
    if !mkfs.exists() {
        host.tmp_backing = TmpBacking::Tmpfs;
    }
    let sandbox =
        Sandbox::new(host).map_err(|e| format!("execution environments are unavailable: {e}"))?;
    let (sandbox, cleaned) = tokio::task::spawn_blocking(move || {
        let cleaned = sandbox.cleanup_leftovers();
        (sandbox, cleaned)
    })
    .await
    .map_err(|e| format!("cleaning up environments failed: {e}"))?;
    match cleaned {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            environments = n,
            "removed environments a previous run left behind"
        ),
        Err(e) => tracing::warn!(error = %e, "some leftover environments could not be removed"),
    }
    Ok(sandbox)
}

/// Destroys environments idle for longer than the idle timeout.
async fn reap(invoker: Weak<Invoker>) {
    let period = match invoker.upgrade() {
        Some(i) => {
            (i.settings.idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(30))
        }
        None => return,
    };
    loop {
        tokio::time::sleep(period).await;
        let Some(invoker) = invoker.upgrade() else {
            return;
        };
        for entry in invoker.registry.all() {
            for env in entry.expire(Some(invoker.settings.idle_timeout)) {
                tracing::debug!(env = %env.hex, "idle environment expired");
                pool::destroy(env);
            }
        }
    }
}

/// Freezes environments idle for [`FREEZE_GRACE`]; looks a few times per grace period, so
/// an idle environment is frozen within 1.25 of it.
async fn freeze_idle(invoker: Weak<Invoker>) {
    loop {
        tokio::time::sleep(FREEZE_GRACE / 4).await;
        let Some(invoker) = invoker.upgrade() else {
            return;
        };
        for entry in invoker.registry.all() {
            for (env, claim) in entry.freezable(FREEZE_GRACE) {
                pool::freeze(env, claim);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_are_stable_and_distinct() {
        let a = instance_name(Path::new("/nonexistent/a"));
        assert_eq!(a, instance_name(Path::new("/nonexistent/a")));
        assert_ne!(a, instance_name(Path::new("/nonexistent/b")));
        assert_eq!(a.len(), 17);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn trace_ids_look_like_xrays() {
        let id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
        let t = trace_id(id, TracingMode::PassThrough, None);
        assert!(t.starts_with("Root=1-"), "{t}");
        assert!(t.contains(";Parent=") && t.ends_with(";Sampled=0"), "{t}");
        let root = t
            .strip_prefix("Root=")
            .and_then(|r| r.split(';').next())
            .unwrap();
        assert!(is_trace_root(root), "{root}");
        let active = trace_id(id, TracingMode::Active, None);
        assert!(active.ends_with(";Sampled=1"), "{active}");
        let caller = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let passed = trace_id(id, TracingMode::PassThrough, Some(caller));
        assert!(
            passed.starts_with("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=")
                && passed.ends_with(";Sampled=1"),
            "{passed}"
        );
        let bad = trace_id(
            id,
            TracingMode::PassThrough,
            Some("Root=nonsense;Sampled=1"),
        );
        assert!(
            !bad.contains("nonsense") && bad.ends_with(";Sampled=1"),
            "{bad}"
        );
    }

    #[test]
    fn states_refuse_with_lambdas_errors() {
        let mut s = Status::creating();
        assert!(matches!(
            check_state(&s),
            Err(InvokeError::NotInvocable("Pending"))
        ));
        s.state = State::Active;
        assert!(check_state(&s).is_ok());
        s.state = State::Failed;
        s.state_reason = Some(control::lambda::Reason::new("x", "SubnetOutOfIPAddresses"));
        assert!(matches!(
            check_state(&s),
            Err(InvokeError::NetworkFailed {
                code: "SubnetIPAddressLimitReachedException",
                ..
            })
        ));
        s.state_reason = None;
        assert!(matches!(
            check_state(&s),
            Err(InvokeError::NotInvocable("Failed"))
        ));
        s.state = State::Inactive;
        assert!(matches!(check_state(&s), Err(InvokeError::Inactive)));
    }
}
