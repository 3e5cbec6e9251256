//! The operator's socket: `admin.sock` in the data dir, mode 0600, so only the daemon's
//! user can reach it. Operator commands are served here, never on the AWS port: hosts on
//! the simulated internet and ENIs for `vpc-exec` (both sides: the daemon's router and the
//! small client the `internet-exec`/`vpc-exec` subcommands use).

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use control::ec2::model::{kind, NetworkInterface, Tag};
use control::ec2::network_interface::{self, NewNetworkInterface};
use control::ec2::tags::TagSpec;
use control::ec2::Ec2Error;
use control::store::TxExt;
use control::Scope;
use serde::{Deserialize, Serialize};
use tokio::net::UnixListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::dataplane::HOSTNAME_TAG;
use crate::server::AppState;

pub const SOCKET_NAME: &str = "admin.sock";

/// Binds the socket (replacing a stale one) and serves it until `stop` turns true.
pub async fn spawn(
    data_dir: &Path,
    mut stop: watch::Receiver<bool>,
    state: Arc<AppState>,
) -> anyhow::Result<JoinHandle<()>> {
    let path = data_dir.join(SOCKET_NAME);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing stale {}", path.display())),
    }
    let listener =
        UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let app = Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/dataplane/hosts", post(add_host))
        .route("/dataplane/hosts/{ip}", delete(remove_host))
        .route("/dataplane/interfaces", post(add_interface))
        .route("/dataplane/interfaces/{id}", delete(remove_interface))
        .route("/az", get(crate::operator::impaired))
        .route("/az/{zone}/impair", post(crate::operator::impair))
        .route("/az/{zone}/restore", post(crate::operator::restore))
        .route("/eni-plan", get(crate::operator::eni_plan))
        .with_state(state);
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "admin socket failed");
        }
        let _ = std::fs::remove_file(&path);
    }))
}

type Reply<T> = Result<Json<T>, (StatusCode, String)>;

fn unavailable() -> (StatusCode, String) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the VPC dataplane is disabled (the daemon is not root)\n".into(),
    )
}

fn bad_request(error: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, format!("{error}\n"))
}

fn internal(error: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n"))
}

#[derive(Serialize, Deserialize)]
struct HostRequest {
    ip: std::net::Ipv4Addr,
}

#[derive(Serialize, Deserialize)]
struct NetnsReply {
    netns: PathBuf,
    #[serde(flatten)]
    view: Surroundings,
}

/// What a command run on the network sees besides the namespace, as an environment there
/// would: the resolver, and the trust store with the daemon's CA (AWS's endpoints).
#[derive(Serialize, Deserialize, Default)]
struct Surroundings {
    resolv_conf: Option<String>,
    ca_bundle: Option<PathBuf>,
}

async fn add_host(
    State(state): State<Arc<AppState>>,
    Json(req): Json<HostRequest>,
) -> Reply<NetnsReply> {
    let dataplane = state.dataplane.dataplane().ok_or_else(unavailable)?;
    let netns = dataplane
        .add_public_host(req.ip)
        .await
        .map_err(bad_request)?;
    let trust = state.endpoints.get();
    Ok(Json(NetnsReply {
        netns,
        view: Surroundings {
            resolv_conf: trust.map(|t| format!("nameserver {}\n", t.public_resolver)),
            ca_bundle: trust.map(|t| t.bundle.clone()),
        },
    }))
}

async fn remove_host(
    State(state): State<Arc<AppState>>,
    UrlPath(ip): UrlPath<std::net::Ipv4Addr>,
) -> Reply<()> {
    let dataplane = state.dataplane.dataplane().ok_or_else(unavailable)?;
    dataplane.remove_public_host(ip).await.map_err(internal)?;
    Ok(Json(()))
}

#[derive(Serialize, Deserialize)]
struct InterfaceRequest {
    subnet_id: String,
    security_group_ids: Vec<String>,
    private_ip: Option<String>,
    description: Option<String>,
    /// A name the VPC resolver answers with the ENI's address while the ENI exists.
    hostname: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct InterfaceReply {
    network_interface_id: String,
    private_ip: String,
    netns: PathBuf,
    #[serde(flatten)]
    view: Surroundings,
}

/// The scope (account, region) holding record `id` of `kind`.
async fn scope_of(
    state: &AppState,
    kind: &'static str,
    id: String,
) -> Result<Scope, (StatusCode, String)> {
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.read(|tx| tx.scope_of(kind, &id)))
        .await
        .map_err(internal)?
        .map_err(internal)?;
    found.ok_or_else(|| (StatusCode::NOT_FOUND, format!("no {kind} with that id\n")))
}

/// Creates an ENI through the EC2 domain (so DescribeNetworkInterfaces shows it) and
/// answers once the dataplane has built its namespace.
async fn add_interface(
    State(state): State<Arc<AppState>>,
    Json(req): Json<InterfaceRequest>,
) -> Reply<InterfaceReply> {
    if state.dataplane.dataplane().is_none() {
        return Err(unavailable());
    }
    let scope = scope_of(&state, kind::SUBNET, req.subnet_id.clone()).await?;
    let hostname = req.hostname.map(|h| h.to_ascii_lowercase());
    if let Some(name) = &hostname {
        if !dataplane::valid_name(name) {
            return Err(bad_request(format!(
                "hostname {name:?} is not a DNS name (letters, digits, hyphens; dot-separated labels)"
            )));
        }
    }
    let new = NewNetworkInterface {
        subnet_id: Some(req.subnet_id),
        security_groups: (!req.security_group_ids.is_empty()).then_some(req.security_group_ids),
        description: req.description,
        private_ip_address: req.private_ip,
        tag_specs: hostname
            .iter()
            .map(|name| TagSpec {
                resource_type: "network-interface".into(),
                tags: vec![Tag {
                    key: HOSTNAME_TAG.into(),
                    value: name.clone(),
                }],
            })
            .collect(),
        ..NewNetworkInterface::default()
    };
    let store = state.store.clone();
    let owner = scope.clone();
    let (eni, vpc_cidr) = tokio::task::spawn_blocking(move || {
        store.write(|tx| {
            let eni = network_interface::create(tx, &scope, &new, None)?;
            let vpc_cidr = tx
                .get_json::<control::ec2::model::Vpc>(kind::VPC, &scope, &eni.vpc_id)?
                .map(|v| v.cidr_block);
            if let Some(name) = &hostname {
                let taken = tx
                    .list_json::<NetworkInterface>(kind::NETWORK_INTERFACE, &scope, "")?
                    .into_iter()
                    .any(|other| {
                        other.id != eni.id
                            && other.vpc_id == eni.vpc_id
                            && other
                                .tags
                                .iter()
                                .any(|t| t.key == HOSTNAME_TAG && t.value == *name)
                    });
                if taken {
                    return Err(Ec2Error::InvalidParameterValue(format!(
                        "hostname {name} is registered in {} already",
                        eni.vpc_id
                    )));
                }
            }
            Ok((eni, vpc_cidr))
        })
    })
    .await
    .map_err(internal)?
    .map_err(bad_request)?;
    let generation = state.dataplane.interface_changed(owner, eni.id.clone());
    state.dataplane.settled(generation).await;
    let name = dataplane::namespace_of(&eni.id).map_err(internal)?;
    let netns = Path::new(dataplane::NETNS_RUN_DIR).join(&name);
    if !netns.exists() {
        return Err(internal(format!(
            "{} was created but its VPC could not be realized; see the daemon's log",
            eni.id
        )));
    }
    let resolv_conf = vpc_cidr
        .as_deref()
        .and_then(|c| c.parse::<dataplane::Ipv4Cidr>().ok())
        .map(dataplane::resolv_conf);
    Ok(Json(InterfaceReply {
        network_interface_id: eni.id,
        private_ip: eni.private_ip_address,
        netns,
        view: Surroundings {
            resolv_conf,
            ca_bundle: state.endpoints.get().map(|t| t.bundle.clone()),
        },
    }))
}

async fn remove_interface(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> Reply<()> {
    let scope = scope_of(&state, kind::NETWORK_INTERFACE, id.clone()).await?;
    let store = state.store.clone();
    let (owner, eni) = (scope.clone(), id.clone());
    tokio::task::spawn_blocking(move || {
        store.write(|tx| network_interface::delete(tx, &scope, &id))
    })
    .await
    .map_err(internal)?
    .map_err(bad_request)?;
    let generation = state.dataplane.interface_changed(owner, eni);
    state.dataplane.settled(generation).await;
    Ok(Json(()))
}

/// One request to the admin socket, `Connection: close`; the JSON reply body.
pub fn call(
    data_dir: &Path,
    method: &str,
    path: &str,
    body: Option<String>,
) -> anyhow::Result<serde_json::Value> {
    let socket = data_dir.join(SOCKET_NAME);
    let mut stream = UnixStream::connect(&socket).with_context(|| {
        format!(
            "connecting to {} (is `vpclambda serve` running?)",
            socket.display()
        )
    })?;
    let body = body.unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    let reply = String::from_utf8_lossy(&reply);
    let (head, payload) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        bail!("{method} {path}: {status}: {}", payload.trim());
    }
    Ok(serde_json::from_str(payload).unwrap_or(serde_json::Value::Null))
}

fn text(value: &serde_json::Value, key: &str) -> anyhow::Result<String> {
    value
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .with_context(|| format!("the daemon's reply has no {key}"))
}

#[derive(clap::Args, Debug)]
pub struct InternetExecArgs {
    /// The host's address on the simulated internet (203.0.113.0/24 or 198.51.100.0/24).
    #[arg(long)]
    ip: std::net::Ipv4Addr,
    /// The running daemon's data dir (where `admin.sock` is).
    #[arg(long, env = "VPCLAMBDA_DATA_DIR", default_value = crate::config::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// The command to run as that host.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct VpcExecArgs {
    /// The subnet the ENI is created in.
    #[arg(long)]
    subnet_id: String,
    /// Security groups of the ENI (comma-separated); the VPC's default group when absent.
    #[arg(long, value_delimiter = ',')]
    security_group_ids: Vec<String>,
    /// The ENI's private address; the lowest free one when absent.
    #[arg(long)]
    private_ip: Option<String>,
    /// A name the VPC's resolver (base + 2) answers with the ENI's address while the
    /// command runs (stored as the ENI's `vpclambda:hostname` tag).
    #[arg(long)]
    hostname: Option<String>,
    /// The running daemon's data dir (where `admin.sock` is).
    #[arg(long, env = "VPCLAMBDA_DATA_DIR", default_value = crate::config::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// The command to run on the ENI.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// `vpclambda internet-exec`: runs a command as a host of the simulated internet; the host
/// is removed when the command ends. Returns the command's exit code.
pub fn internet_exec(args: InternetExecArgs) -> anyhow::Result<i32> {
    let body = serde_json::to_string(&HostRequest { ip: args.ip })?;
    let reply = call(&args.data_dir, "POST", "/dataplane/hosts", Some(body))?;
    let code = run_in(
        Path::new(&text(&reply, "netns")?),
        &surroundings(&reply),
        &args.command,
    );
    call(
        &args.data_dir,
        "DELETE",
        &format!("/dataplane/hosts/{}", args.ip),
        None,
    )?;
    code
}

/// `vpclambda vpc-exec`: creates an ENI in a subnet (visible to DescribeNetworkInterfaces),
/// runs a command on it, and deletes the ENI when the command ends.
pub fn vpc_exec(args: VpcExecArgs) -> anyhow::Result<i32> {
    let body = serde_json::to_string(&InterfaceRequest {
        subnet_id: args.subnet_id,
        security_group_ids: args.security_group_ids,
        private_ip: args.private_ip,
        description: Some("vpclambda vpc-exec".into()),
        hostname: args.hostname,
    })?;
    let reply = call(&args.data_dir, "POST", "/dataplane/interfaces", Some(body))?;
    let id = text(&reply, "network_interface_id")?;
    eprintln!("vpc-exec: {id} {}", text(&reply, "private_ip")?);
    let code = run_in(
        Path::new(&text(&reply, "netns")?),
        &surroundings(&reply),
        &args.command,
    );
    call(
        &args.data_dir,
        "DELETE",
        &format!("/dataplane/interfaces/{id}"),
        None,
    )?;
    code
}

/// Binds the resolver's configuration and the trust store over the host's, in a private
/// mount namespace (nothing of it is seen outside this process and its child).
fn see_surroundings(view: &Surroundings) -> anyhow::Result<()> {
    use nix::mount::{mount, MsFlags};
    if view.resolv_conf.is_none() && view.ca_bundle.is_none() {
        return Ok(());
    }
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .context("a mount namespace of its own")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making / private")?;
    let bind = |source: &Path, target: &str| -> anyhow::Result<()> {
        mount(
            Some(source),
            target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("binding {} over {target}", source.display()))
    };
    if let Some(content) = &view.resolv_conf {
        let path = std::env::temp_dir().join(format!("vl-resolv-{}.conf", std::process::id()));
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        let bound = bind(&path, "/etc/resolv.conf");
        let _ = std::fs::remove_file(&path);
        bound?;
    }
    if let Some(bundle) = &view.ca_bundle {
        bind(bundle, crate::endpoints::ENV_BUNDLE)?;
    }
    Ok(())
}

/// The child's pid once started, for the signal handler.
static CHILD: AtomicI32 = AtomicI32::new(0);
/// A signal that arrived before the child existed.
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(signal: i32) {
    // Only async-signal-safe work here: atomics and kill(2).
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        if let Ok(signal) = nix::sys::signal::Signal::try_from(signal) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
    } else {
        PENDING.store(signal, Ordering::SeqCst);
    }
}

fn surroundings(reply: &serde_json::Value) -> Surroundings {
    serde_json::from_value(reply.clone()).unwrap_or_default()
}

/// Joins the network namespace at `netns` and runs `command` there, passing SIGINT,
/// SIGTERM and SIGHUP on to it, so the caller gets to clean up after it ends. In a mount
/// namespace of its own, `/etc/resolv.conf` and the system trust store are the ones an
/// environment there gets, and the trust variables point at the latter.
fn run_in(netns: &Path, view: &Surroundings, command: &[String]) -> anyhow::Result<i32> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let file =
        std::fs::File::open(netns).with_context(|| format!("opening {}", netns.display()))?;
    // This process is single-threaded (no runtime was started), so the whole process moves.
    nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
        .context("joining the network namespace (needs root)")?;
    see_surroundings(view)?;
    let action = SigAction::new(
        SigHandler::Handler(forward),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: `forward` only touches atomics and calls kill(2), both async-signal-safe;
        // exec resets a caught signal's handler, so the child starts with the default.
        unsafe { sigaction(signal, &action) }.context("installing signal handlers")?;
    }
    let mut child = std::process::Command::new(&command[0]);
    child.args(&command[1..]);
    if view.ca_bundle.is_some() {
        for var in crate::endpoints::BUNDLE_VARS {
            if std::env::var_os(var).is_none() {
                child.env(var, crate::endpoints::ENV_BUNDLE);
            }
        }
    }
    let mut child = child
        .spawn()
        .with_context(|| format!("starting {}", command[0]))?;
    let pid = i32::try_from(child.id()).context("child pid")?;
    CHILD.store(pid, Ordering::SeqCst);
    let pending = PENDING.swap(0, Ordering::SeqCst);
    if pending != 0 {
        forward(pending);
    }
    let status = child.wait()?;
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}
