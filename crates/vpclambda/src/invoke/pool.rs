//! Execution environments as the invoke path holds them: starting one for a function
//! version (code, runtime, variables, network namespace, log stream), claiming one for an
//! invocation, freezing one that stayed idle, destroying it. Owns the choice of namespace,
//! uid and names; the sandbox owns the isolation itself.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sandbox::{EnvSpec, Environment, Sandbox, SandboxError};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::code::CodeCache;
use super::logs::{self, EnvLog, LogWriter};
use super::network::{Attachment, Network};
use super::registry::{Slot, Target};

/// Function processes run as uids from this range, one per environment, so two
/// environments never share a uid's process count, files or signals.
const UID_BASE: u32 = 200_000;
const UID_COUNT: u32 = 60_000;

/// A started environment.
pub struct LiveEnv {
    pub env: Environment,
    /// The 32 hex digits in its id and log stream.
    pub hex: String,
    pub version: String,
    pub fingerprint: u64,
    pub memory_mb: u32,
    pub timeout: Duration,
    pub log: EnvLog,
    /// Set once it is initialized for its version's provisioned concurrency.
    pub provisioned: Option<Slot>,
    /// Held by the invocation running on it and by a freeze in progress, so a freeze never
    /// stops a running invocation and an invocation waits for a freeze to finish (then
    /// thaws).
    gate: Arc<Mutex<()>>,
    /// Its place in the network; declared after `env`, so it is let go of (detached, its
    /// ENI slot freed) only once the processes are gone.
    net: Attachment,
}

/// Why an environment could not be started.
pub enum StartError {
    /// The package has no entry point for its runtime (the invocation's function error).
    Entrypoint(String),
    /// The runtime is not available on this host.
    Runtime(String),
    /// The network could not take another environment: one of Lambda's 502 errors.
    Network { code: &'static str, message: String },
    /// A fault of the host.
    Host(String),
}

/// How long an environment's execution-role credentials last (Lambda's last 12 hours at
/// most; environments rarely live that long).
const SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;

/// What starting environments needs from the daemon.
pub struct Starter {
    pub sandbox: Arc<Sandbox>,
    store: control::Store,
    pub code: CodeCache,
    pub runtimes_dir: std::path::PathBuf,
    next_uid: AtomicU32,
}

impl Starter {
    pub fn new(
        sandbox: Sandbox,
        store: control::Store,
        data_dir: &Path,
        runtimes_dir: std::path::PathBuf,
    ) -> Starter {
        Starter {
            sandbox: Arc::new(sandbox),
            store,
            code: CodeCache::new(data_dir),
            runtimes_dir,
            next_uid: AtomicU32::new(0),
        }
    }

    /// Temporary credentials of the execution role for one environment, as Lambda puts them
    /// in its environment variables; none (and a warning) when the role is gone.
    async fn execution_role_session(
        &self,
        scope: &control::Scope,
        role_arn: &str,
        function: &str,
    ) -> Option<control::sts::Session> {
        let (store, account, role_arn, session_name) = (
            self.store.clone(),
            scope.account.clone(),
            role_arn.to_string(),
            function.to_string(),
        );
        let issued = tokio::task::spawn_blocking(move || {
            store.write(|tx| -> Result<_, control::StoreError> {
                let Some(role) = control::iam::lookup::role_by_arn(tx, &account, &role_arn)? else {
                    return Ok(None);
                };
                let now = chrono::Utc::now().timestamp_millis();
                control::sts::assume_role(tx, &account, &role, &session_name, now, SESSION_TTL_MS)
                    .map(Some)
            })
        })
        .await;
        match issued {
            Ok(Ok(session)) => session,
            Ok(Err(e)) => {
                tracing::warn!(%function, error = %e, "no execution role credentials");
                None
            }
            Err(e) => {
                tracing::warn!(%function, error = %e, "no execution role credentials");
                None
            }
        }
    }

    /// A cold start: the environment is running its runtime's init when this returns.
    /// Its network is settled (or refused) before any of its code runs. `provisioned`:
    /// started for provisioned concurrency rather than by an invocation.
    pub async fn start(
        &self,
        target: &Target,
        network: &Network,
        logs: &LogWriter,
        provisioned: bool,
    ) -> Result<LiveEnv, StartError> {
        let v = &target.runnable.version;
        let s = &v.settings;
        let code_dir = self
            .code
            .extracted(&v.code.sha256_hex, &target.runnable.code_path)
            .await
            .map_err(StartError::Host)?;
        let layers: Vec<(String, PathBuf)> = (s.layers.iter())
            .map(|l| l.code.sha256_hex.clone())
            .zip(target.runnable.layer_paths.iter().cloned())
            .collect();
        let opt_dir = self.code.layers(&layers).await.map_err(StartError::Host)?;
        let launch = {
            let (runtime, handler, dir, opt, root) = (
                s.runtime.clone(),
                s.handler.clone(),
                code_dir.clone(),
                opt_dir.clone(),
                self.runtimes_dir.clone(),
            );
            tokio::task::spawn_blocking(move || {
                runtimes::resolve(&runtime, &handler, &dir, opt.as_deref(), &root)
            })
            .await
            .map_err(|e| StartError::Host(format!("resolving the runtime: {e}")))?
            .map_err(|e| match e {
                runtimes::RuntimeError::InvalidEntrypoint(m) => StartError::Entrypoint(m),
                other => StartError::Runtime(other.to_string()),
            })?
        };
        // The id names the environment's kernel objects, its namespace included, so it is
        // chosen before the network is attached.
        let reservation = self.sandbox.reserve().map_err(host)?;
        let hex = reservation.id().to_owned();
        // Independent of each other: the credentials are a store commit, the attachment
        // netlink work in the dataplane.
        let (session, net) = tokio::join!(
            self.execution_role_session(&target.scope, &s.role, &v.function_name),
            network.attach(&target.scope, v, &hex),
        );
        let net = net?;
        let group = s.logging.group(&v.function_name);
        let stream = logs::stream_in(&s.logging, &v.function_name, &v.version, &hex);
        let style = logs::Style::of(&s.logging);
        let mut env = runtimes::lambda_env(&runtimes::FunctionEnv {
            name: &v.function_name,
            version: &v.version,
            memory_mb: s.memory_size,
            region: &target.scope.region,
            log_group: &group,
            log_stream: &stream,
            handler: &s.handler,
            runtime: &s.runtime,
            credentials: session.as_ref().map(|c| runtimes::Credentials {
                access_key_id: &c.access_key_id,
                secret_access_key: &c.secret_access_key,
                session_token: Some(&c.session_token),
            }),
            runtime_env: &launch.env,
            user: s.environment.as_ref(),
            provisioned,
            json_log_level: s
                .logging
                .application_level
                .as_deref()
                .filter(|_| style.json),
        });
        if net.ca_bundle.is_some() {
            trust_bundle(&mut env);
        }
        let uid = UID_BASE + self.next_uid.fetch_add(1, Ordering::Relaxed) % UID_COUNT;
        let timeout = Duration::from_secs(u64::from(s.timeout));
        let spec = EnvSpec {
            id: hex.clone(),
            code_dir,
            opt_dir,
            runtime_dir: launch.runtime_dir,
            command: launch.command,
            env,
            memory_mb: s.memory_size,
            ephemeral_mb: s.ephemeral_storage,
            timeout,
            netns: net.netns.clone(),
            uid,
            gid: uid,
            resolv_conf: net.resolv_conf.clone(),
            hosts: None,
            ca_bundle: net.ca_bundle.clone(),
        };
        let mut env = self
            .sandbox
            .start_reserved(reservation, spec)
            .await
            .map_err(host)?;
        let log = logs.attach(target.scope.clone(), group, stream, style, env.take_logs());
        if let Some(note) = launch.note {
            log.lines(vec![logs::Platform::Line(note)]);
        }
        Ok(LiveEnv {
            env,
            hex,
            version: v.version.clone(),
            fingerprint: target.fingerprint,
            memory_mb: s.memory_size,
            timeout,
            log,
            provisioned: None,
            gate: Arc::new(Mutex::new(())),
            net,
        })
    }
}

fn host(e: SandboxError) -> StartError {
    StartError::Host(e.to_string())
}

/// The right to run on an environment: one invocation or one freeze at a time.
pub type Claim = OwnedMutexGuard<()>;

impl LiveEnv {
    /// The Availability Zone of a VPC environment's ENI.
    pub fn zone(&self) -> Option<&str> {
        self.net.zone.as_deref()
    }

    /// The ENI a VPC environment's traffic leaves through.
    pub fn eni(&self) -> Option<&str> {
        self.net.eni()
    }

    /// Waits until a freeze in progress is over; the invocation holding the claim thaws a
    /// frozen environment before it dispatches.
    pub async fn claim(&self) -> Claim {
        self.gate.clone().lock_owned().await
    }

    /// The claim, unless an invocation or a freeze holds it.
    pub fn try_claim(&self) -> Option<Claim> {
        self.gate.clone().try_lock_owned().ok()
    }

    /// Frozen since its last invocation.
    pub fn is_frozen(&self) -> bool {
        self.env.is_frozen()
    }
}

/// Freezes `env`, idle in its pool, in the background; `claim` keeps invocations off it
/// until the kernel reports it frozen.
pub fn freeze(env: Arc<LiveEnv>, claim: Claim) {
    tokio::spawn(async move {
        if let Err(e) = env.env.freeze().await {
            tracing::warn!(env = %env.hex, error = %e, "freezing an idle environment failed");
        }
        drop(env);
        drop(claim);
    });
}

/// Kills and removes `env` in the background.
pub fn destroy(env: Arc<LiveEnv>) {
    tokio::spawn(teardown(env));
}

/// Kills and removes `env` once a freeze in progress is over.
pub async fn teardown(env: Arc<LiveEnv>) {
    drop(env.claim().await);
    let hex = env.hex.clone();
    match Arc::try_unwrap(env) {
        Ok(live) => match live.env.destroy().await {
            Ok(()) => tracing::debug!(env = %hex, "environment destroyed"),
            Err(e) => tracing::warn!(env = %hex, error = %e, "destroying an environment failed"),
        },
        // Someone still holds it; the last holder's drop tears it down.
        Err(shared) => drop(shared),
    }
}

/// Points the variables SDKs and TLS libraries read for their trust store at the
/// environment's, which holds the daemon's CA; the function's own settings win.
fn trust_bundle(env: &mut Vec<(String, String)>) {
    for var in crate::endpoints::BUNDLE_VARS {
        if !env.iter().any(|(k, _)| k == var) {
            env.push((var.to_owned(), crate::endpoints::ENV_BUNDLE.to_owned()));
        }
    }
}
