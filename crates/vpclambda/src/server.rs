//! The daemon's life: open the data dir and store, bind the port and the admin socket,
//! announce where it listens, serve until SIGTERM/SIGINT, then stop accepting, let
//! in-flight requests finish, flush the store, and exit 0.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use control::{Accounts, Store};
use nix::fcntl::{Flock, FlockArg};
use tokio::sync::watch;

use crate::config::Config;
use crate::invoke::{AdmissionSettings, InvokeSettings, Invoker};
use crate::{admin, gateway};

/// What every request handler shares.
pub struct AppState {
    pub config: Config,
    pub accounts: Accounts,
    pub store: Store,
    pub sig_policy: sigv4::Policy,
    pub invoke: Arc<Invoker>,
    /// The VPC dataplane and its EC2 change notifier.
    pub dataplane: crate::dataplane::Handle,
    /// Availability Zones the operator has impaired.
    pub zones: crate::zones::ZoneHealth,
    /// What completes Lambda's Pending/InProgress transitions (per ENI mode).
    pub provisioner: Arc<dyn control::lambda::FunctionProvisioner>,
    /// Wakes the ENI reclaimer when a function let go of ENIs.
    pub reclaim_now: tokio::sync::Notify,
    /// S3's object bytes, and the S3 service the gateway hands S3 requests to.
    pub blobs: control::s3::BlobStore,
    pub s3: s3s::service::S3Service,
    /// What environments need to reach and trust AWS's endpoints on the simulated internet,
    /// once they serve (as root, with the dataplane).
    pub endpoints: std::sync::OnceLock<crate::endpoints::Trust>,
    /// The VPC endpoints' listeners, which the reconcile loop keeps as the records say.
    pub vpc_endpoints: std::sync::OnceLock<Arc<crate::endpoints::vpc::Listeners>>,
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let _lock = lock_data_dir(&config.data_dir)?;
    let store = Store::open_sqlite(&config.data_dir)
        .context("opening the store")?
        .observing_commits(crate::telemetry::commit_observer());
    let accounts = Accounts::new(config.accounts.clone())?;
    let blobs = control::s3::BlobStore::open(&config.data_dir).context("opening S3's storage")?;
    let swept = control::s3::sweep(&store, &blobs).context("sweeping S3's storage")?;
    if swept > 0 {
        tracing::info!(
            swept,
            "removed object bytes no record names (left by a crash)"
        );
    }
    let s3 = crate::services::s3::service(store.clone(), accounts.clone(), blobs.clone());
    let invoke = Invoker::start(invoke_settings(&config), store.clone()).await;
    let state = Arc::new(AppState {
        sig_policy: sigv4::Policy {
            clock_window: config.clock_skew,
        },
        config: config.clone(),
        accounts,
        store: store.clone(),
        invoke: invoke.clone(),
        dataplane: crate::dataplane::Handle::start(config.uplink).await,
        zones: crate::zones::ZoneHealth::default(),
        provisioner: crate::eni::provisioner(&config, &store),
        reclaim_now: tokio::sync::Notify::new(),
        blobs,
        s3,
        endpoints: std::sync::OnceLock::new(),
        vpc_endpoints: std::sync::OnceLock::new(),
    });
    let endpoints = match state.dataplane.dataplane() {
        Some(dataplane) if config.aws_endpoints => {
            let running = crate::endpoints::start(
                &config.data_dir,
                &config.region,
                dataplane,
                router(state.clone()),
            )
            .await?;
            let _ = state.endpoints.set(running.trust.clone());
            let _ = state.vpc_endpoints.set(running.vpc.clone());
            Some(running)
        }
        _ => None,
    };
    let reconciler = crate::dataplane::spawn(state.clone());
    let reclaimer = crate::eni::spawn_reclaimer(state.clone());
    let roll_up = crate::invoke::spawn_metric_roll_up(store.clone());

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let admin_task = admin::spawn(&config.data_dir, stop_rx.clone(), state.clone()).await?;

    // Handlers are installed before the announcement, so a SIGTERM sent the moment the
    // daemon says it is up is already a graceful stop.
    let signals = Signals::install()?;
    announce(&state, addr)?;

    let app = router(state.clone());
    let mut stop = stop_rx.clone();
    // Without TCP_NODELAY a body written after its headers waits for the client's delayed ACK
    // (40 ms on Linux): GETs of small S3 objects ran at 50 ms each.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stop.wait_for(|s| *s).await;
    });
    let signals = tokio::spawn(async move {
        signals.wait().await;
        tracing::info!("shutting down: finishing in-flight requests");
        crate::console::stop_streams();
        let _ = stop_tx.send(true);
    });
    server.await.context("serving")?;
    signals.abort();
    let _ = admin_task.await;
    if let Some(reconciler) = reconciler {
        reconciler.abort();
    }
    reclaimer.abort();
    roll_up.stop();
    invoke.shutdown().await;
    drop(endpoints);
    // A stopped daemon leaves no kernel objects behind; the next start rebuilds them from
    // the store (as it does after a crash, when they may be stale).
    if let Some(dataplane) = state.dataplane.dataplane() {
        if let Err(e) = dataplane.remove_all().await {
            tracing::error!(error = %e, "removing the dataplane's kernel objects");
        }
    }
    store.flush().context("flushing the store")?;
    tracing::info!("stopped");
    Ok(())
}

/// What the invoke side takes from the daemon's configuration.
pub fn invoke_settings(config: &Config) -> InvokeSettings {
    InvokeSettings {
        data_dir: config.data_dir.clone(),
        idle_timeout: config.env_idle_timeout,
        async_retry_delay: config.async_retry_delay,
        concurrency_limit: config.concurrency_limit,
        runtimes_dir: config.runtimes_dir.clone(),
        cgroup_parent: config.cgroup_parent.clone(),
        admission: AdmissionSettings {
            cold_starts: config.max_cold_starts,
            max_wait: config.max_queue_wait,
        },
    }
}

/// The HTTP surface: the health probe, and every AWS service behind the gateway.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/_vpclambda/health", get(|| async { "ok\n" }))
        .route("/_vpclambda/metrics", get(crate::telemetry::metrics))
        // GetFunction's Code.Location: like an S3 presigned URL, its token is the credential.
        .route(
            "/_vpclambda/code/{token}",
            get(
                |axum::extract::State(state): axum::extract::State<Arc<AppState>>,
                 axum::extract::Path(token): axum::extract::Path<String>| async move {
                    let code = control::lambda::CodeStore::new(&state.config.data_dir);
                    tokio::task::spawn_blocking(move || {
                        code.download(&token, chrono::Utc::now().timestamp())
                    })
                    .await
                    .ok()
                    .flatten()
                    .ok_or(http::StatusCode::FORBIDDEN)
                },
            ),
        )
        .merge(crate::console::routes())
        .fallback(gateway::handle)
        .with_state(state)
}

fn announce(state: &AppState, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let endpoint = format!("http://{addr}");
    let mut out = std::io::stdout().lock();
    writeln!(out, "vpclambda listening on {endpoint}")?;
    writeln!(out, "  data dir: {}", state.config.data_dir.display())?;
    for a in state.accounts.iter() {
        if a.is_default_key() {
            writeln!(
                out,
                "  credentials: AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} (account {})",
                a.access_key_id, a.secret_access_key, a.account_id
            )?;
        } else {
            writeln!(
                out,
                "  credentials: access key {} (account {}), secret from your config file",
                a.access_key_id, a.account_id
            )?;
        }
    }
    writeln!(out, "  point the aws CLI at it:")?;
    writeln!(
        out,
        "    export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION={}",
        state.config.region
    )?;
    writeln!(
        out,
        "    aws --endpoint-url {endpoint} --region {} sts get-caller-identity",
        state.config.region
    )?;
    out.flush()?;
    Ok(())
}

/// One daemon per data dir: a second one would corrupt the kernel state the first owns.
fn lock_data_dir(dir: &Path) -> anyhow::Result<Flock<File>> {
    let path = dir.join("lock");
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
        anyhow::anyhow!(
            "another vpclambda is already serving data dir {} ({e})",
            dir.display()
        )
    })
}

/// SIGTERM and SIGINT, the two ways to ask for a graceful stop.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
