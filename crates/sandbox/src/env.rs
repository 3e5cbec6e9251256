//! The daemon side of execution environments: [`Sandbox`] starts them (scratch dir, `/tmp`
//! image, network namespace and Runtime API listener, cgroups, the helper process) and
//! [`Environment`] drives one through invocations, freezing and destruction. Owns the
//! meaning of Runtime API events and process exits (outcomes, timeouts, OOM). Must not run
//! isolation steps in the daemon process itself (that is the helper's job), and must kill
//! only through cgroups.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedReadHalf;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch, Mutex};
use tokio::task::JoinHandle;

use crate::cgroup::{rmdir_retry, EnvCgroups, Layout, Limits};
use crate::logs::{pump, LogLine, LogStream, LOG_BUFFER_LINES};
use crate::protocol::{Report, SetupRequest, TmpMount};
use crate::runtime_api::{ApiEvent, Dispatch, RuntimeApi};
use crate::tmpimage::{self, Ext4Templates};
use crate::{
    netns, EnvSpec, HostConfig, Invocation, InvokeStats, NetnsChoice, Outcome, SandboxError,
    TmpBacking,
};

/// Lambda's init phase limit: the runtime must reach `/next` within this.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the helper may take to build the isolation before start fails.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
const RUNTIME_API_ADDR: &str = "127.0.0.1:9001";
/// Lambda's file descriptor limit.
const NOFILE: u64 = 1024;
const MAX_SHM_MB: u32 = 64;
const ENV_PREFIX: &str = "vl-env-";
/// Marker in an environment's scratch dir naming the namespace file the sandbox created.
const NETNS_MARKER: &str = "netns";
/// Helpers kept spawned, in their cgroups and waiting for a setup request (see [`Spare`]).
const SPARES: usize = 1;

fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Starts execution environments for one daemon instance.
#[derive(Debug)]
pub struct Sandbox {
    cfg: HostConfig,
    /// The `/tmp` image templates; `None` when `/tmp` is a tmpfs.
    templates: Option<Ext4Templates>,
    spares: Arc<Spares>,
}

/// An environment whose helper is spawned, in the environment's cgroups (without limits yet)
/// and waiting for its setup request. A cold start that finds one skips the helper's exec
/// and, above all, the move into the cgroups: the first write to a `cgroup.procs` after a
/// quiet spell waits for an RCU grace period (the kernel's `cgroup_threadgroup_rwsem`), which
/// took 8–14 ms here. The helper trusts nothing but its setup request, so a spare holds no
/// function's data, and it exits when the daemon's end of its socket closes.
struct Spare {
    teardown: Teardown,
    child: Child,
    sock: tokio::net::UnixStream,
}

/// What making a helper needs, shared with the tasks that make spares.
#[derive(Debug)]
struct HelperMaker {
    init_exe: PathBuf,
    init_args: Vec<String>,
    instance: String,
    layout: Layout,
}

/// The ready spares, and how many are being made; once closed (shutdown), none are made.
struct Spares {
    maker: HelperMaker,
    ready: std::sync::Mutex<(Vec<Spare>, usize)>,
    /// Signalled whenever a spare being made is done.
    made: std::sync::Condvar,
    closed: AtomicBool,
}

impl std::fmt::Debug for Spares {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (ready, making) = &*lock(&self.ready);
        f.debug_struct("Spares")
            .field("ready", &ready.len())
            .field("making", making)
            .finish()
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update under the lock is a push, a pop or a counter change.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// An environment id for [`Sandbox::start_reserved`], with a spare helper when one was
/// ready. Dropping it unused destroys the spare (its id may already name kernel objects
/// the caller made, such as a namespace, so it is never handed out again).
pub struct Reservation {
    id: String,
    spare: Option<Spare>,
}

impl Reservation {
    /// 32 lowercase hex digits, random.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("id", &self.id)
            .field("spare", &self.spare.is_some())
            .finish()
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some(spare) = self.spare.take() else {
            return;
        };
        // Its teardown waits for the helper to die: not on an async worker.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || drop(spare))),
            Err(_) => drop(spare),
        }
    }
}

fn random_id() -> Result<String, SandboxError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| SandboxError::Setup(format!("no random environment id: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl HelperMaker {
    /// Creates the cgroups of environment `id`, spawns the helper and moves it into them
    /// before it can fork. Blocks (the move may wait for an RCU grace period).
    fn make(&self, id: &str) -> Result<Spare, SandboxError> {
        let name = format!("{ENV_PREFIX}{id}");
        let teardown = Teardown {
            cgroups: self.layout.env(&self.instance, &name),
            name,
            netns: None,
            env_dir: None,
            done: AtomicBool::new(false),
        };
        teardown.cgroups.create()?;
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()
            .map_err(SandboxError::io("creating the helper socket"))?;
        let child = Command::new(&self.init_exe)
            .args(&self.init_args)
            .env_clear()
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(SandboxError::io(format!(
                "spawning {}",
                self.init_exe.display()
            )))?;
        // Without a pid the helper is already gone; dropping the socket makes a live one
        // exit before it does anything.
        let pid = child
            .id()
            .ok_or_else(|| SandboxError::Setup("the helper exited at once".into()))?;
        teardown.cgroups.add_process(pid)?;
        ours.set_nonblocking(true)
            .map_err(SandboxError::io("helper socket non-blocking"))?;
        let sock = tokio::net::UnixStream::from_std(ours)
            .map_err(SandboxError::io("registering the helper socket"))?;
        Ok(Spare {
            teardown,
            child,
            sock,
        })
    }
}

impl Spares {
    /// Makes spares in the background until [`SPARES`] are ready or being made.
    fn refill(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        loop {
            {
                let mut guard = lock(&self.ready);
                let (ready, making) = &mut *guard;
                if self.closed.load(Ordering::Acquire) || ready.len() + *making >= SPARES {
                    return;
                }
                *making += 1;
            }
            let spares = self.clone();
            runtime.spawn_blocking(move || {
                let made = random_id().and_then(|id| spares.maker.make(&id));
                let unwanted = {
                    let mut guard = lock(&spares.ready);
                    guard.1 -= 1;
                    spares.made.notify_all();
                    match made {
                        Ok(spare) if spares.closed.load(Ordering::Acquire) => Some(spare),
                        Ok(spare) => {
                            guard.0.push(spare);
                            None
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "making a spare environment helper failed");
                            None
                        }
                    }
                };
                // Made while the sandbox closed: its teardown runs as it drops, unlocked.
                drop(unwanted);
            });
        }
    }

    /// Takes every ready spare (their teardown is the caller's).
    fn take_all(&self) -> Vec<Spare> {
        std::mem::take(&mut lock(&self.ready).0)
    }

    /// Makes no more spares, waits for those being made (each takes milliseconds) and
    /// takes every ready one (their teardown is the caller's).
    fn close(&self) -> Vec<Spare> {
        self.closed.store(true, Ordering::Release);
        let mut guard = lock(&self.ready);
        while guard.1 > 0 {
            guard = self.made.wait(guard).unwrap_or_else(|p| p.into_inner());
        }
        std::mem::take(&mut guard.0)
    }
}

impl Sandbox {
    /// Checks the host (cgroup v1 controllers) and creates the state dir.
    pub fn new(cfg: HostConfig) -> Result<Sandbox, SandboxError> {
        if !valid_name(&cfg.instance, 32) {
            return Err(SandboxError::InvalidConfig(format!(
                "instance {:?} must be 1-32 characters of [A-Za-z0-9-]",
                cfg.instance
            )));
        }
        if !cfg.init_exe.is_absolute() {
            return Err(SandboxError::InvalidConfig(
                "init_exe must be an absolute path".into(),
            ));
        }
        let layout = Layout::detect(&cfg.cgroup_root)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&cfg.state_dir)
            .map_err(SandboxError::io(format!(
                "creating {}",
                cfg.state_dir.display()
            )))?;
        let templates = match &cfg.tmp_backing {
            TmpBacking::Ext4Image { mkfs } => {
                Some(Ext4Templates::new(mkfs.clone(), &cfg.state_dir))
            }
            TmpBacking::Tmpfs => None,
        };
        let spares = Arc::new(Spares {
            maker: HelperMaker {
                init_exe: cfg.init_exe.clone(),
                init_args: cfg.init_args.clone(),
                instance: cfg.instance.clone(),
                layout,
            },
            ready: std::sync::Mutex::new((Vec::new(), 0)),
            made: std::sync::Condvar::new(),
            closed: AtomicBool::new(false),
        });
        Ok(Sandbox {
            cfg,
            templates,
            spares,
        })
    }

    fn layout(&self) -> &Layout {
        &self.spares.maker.layout
    }

    /// CPU time every environment of this instance (helpers included) used so far, as
    /// the cgroup2 tree counts it; `None` on a host without that tree.
    pub fn cpu_usage(&self) -> Option<Duration> {
        self.layout().instance_cpu_usage(&self.cfg.instance)
    }

    /// An id for the next environment, with a helper already waiting in its cgroups when
    /// one is ready. Spares are made in the background once the first invocation of an
    /// environment started from a reservation is over, not during a cold start, which
    /// they would slow down: the first reservation of a sandbox finds none.
    pub fn reserve(&self) -> Result<Reservation, SandboxError> {
        let spare = lock(&self.spares.ready).0.pop();
        match spare {
            Some(spare) => Ok(Reservation {
                id: spare.teardown.name[ENV_PREFIX.len()..].to_string(),
                spare: Some(spare),
            }),
            None => Ok(Reservation {
                id: random_id()?,
                spare: None,
            }),
        }
    }

    /// Kills and removes what a previous run of this instance left behind: environment
    /// cgroups (and every process in them), namespaces the sandbox created, scratch dirs,
    /// the `/tmp` image templates (built again when next needed), then the instance's own
    /// cgroup dirs. Other instances' objects are never touched.
    /// Returns how many environments were cleaned; the first failure after trying all.
    pub fn cleanup_leftovers(&self) -> Result<usize, SandboxError> {
        self.cleanup(self.spares.take_all())
    }

    /// [`Sandbox::cleanup_leftovers`] for a daemon that stops: no spare is made from now on,
    /// and one being made is waited for and removed too, so nothing of this instance is left.
    pub fn shutdown(&self) -> Result<usize, SandboxError> {
        self.cleanup(self.spares.close())
    }

    fn cleanup(&self, spares: Vec<Spare>) -> Result<usize, SandboxError> {
        let mut first_err = None;
        for spare in spares {
            if let Err(e) = spare.teardown.run() {
                first_err.get_or_insert(e);
            }
        }
        let mut names = self.layout().leftover_envs(&self.cfg.instance);
        if let Ok(entries) = fs::read_dir(&self.cfg.state_dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(ENV_PREFIX) && !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        for name in &names {
            let td = Teardown {
                name: name.clone(),
                cgroups: self.layout().env(&self.cfg.instance, name),
                netns: read_netns_marker(&self.cfg.state_dir.join(name)),
                env_dir: Some(self.cfg.state_dir.join(name)),
                done: AtomicBool::new(false),
            };
            if let Err(e) = td.run() {
                first_err.get_or_insert(e);
            }
        }
        if let Some(templates) = &self.templates {
            templates.forget();
        }
        if let Err(e) = tmpimage::remove_templates(&self.cfg.state_dir) {
            first_err.get_or_insert(e);
        }
        for dir in self.layout().instance_dirs(&self.cfg.instance) {
            // Busy for a moment while helpers of just-killed environments exit.
            if let Err(e) = rmdir_retry(&dir) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(names.len()), Err)
    }

    /// Starts an environment: everything is isolated and the command has been exec'd when
    /// this returns; the runtime's init is still running (the first invoke waits for it).
    pub async fn start(&self, spec: EnvSpec) -> Result<Environment, SandboxError> {
        self.launch(spec, None, None).await
    }

    /// [`Sandbox::start`] with the id (and the spare helper, if any) of `reservation`;
    /// `spec.id` must be the reservation's.
    pub async fn start_reserved(
        &self,
        mut reservation: Reservation,
        spec: EnvSpec,
    ) -> Result<Environment, SandboxError> {
        if spec.id != reservation.id {
            return Err(SandboxError::InvalidConfig(format!(
                "id {:?} is not the reserved {:?}",
                spec.id, reservation.id
            )));
        }
        let refill = self.spares.clone();
        self.launch(spec, reservation.spare.take(), Some(refill))
            .await
    }

    /// Starts an environment on `spare`, or on a helper made now; `refill` is made spares of
    /// once the environment's first invocation is over.
    async fn launch(
        &self,
        spec: EnvSpec,
        spare: Option<Spare>,
        refill: Option<Arc<Spares>>,
    ) -> Result<Environment, SandboxError> {
        validate(&spec)?;
        let name = format!("{ENV_PREFIX}{}", spec.id);
        let env_dir = self.cfg.state_dir.join(&name);
        // The exclusive create is what makes the id this environment's alone.
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&env_dir)
            .map_err(SandboxError::io(format!("creating {}", env_dir.display())))?;
        let spare = match spare {
            Some(spare) => spare,
            None => {
                let (spares, id) = (self.spares.clone(), spec.id.clone());
                match blocking(move || spares.maker.make(&id)).await {
                    Ok(spare) => spare,
                    Err(e) => {
                        let _ = fs::remove_dir_all(&env_dir);
                        return Err(e);
                    }
                }
            }
        };
        // From here on every early return tears down whatever exists.
        let Spare {
            teardown: mut td,
            child,
            sock,
        } = spare;
        td.env_dir = Some(env_dir.clone());
        let root = env_dir.join("root");
        fs::create_dir(&root).map_err(SandboxError::io(format!("creating {}", root.display())))?;
        let resolv_conf = write_etc_file(&env_dir, "resolv.conf", spec.resolv_conf.as_deref())?;
        let hosts = write_etc_file(&env_dir, "hosts", spec.hosts.as_deref())?;
        let tmp = match &self.templates {
            None => TmpMount::Tmpfs {
                size_mb: spec.ephemeral_mb,
            },
            Some(templates) => {
                let image = env_dir.join("tmp.ext4");
                templates.create(&image, spec.ephemeral_mb).await?;
                TmpMount::Ext4Image { image }
            }
        };
        let (netns_path, listener) = match &spec.netns {
            NetnsChoice::Isolated => {
                let dir = self.cfg.netns_dir.clone();
                fs::write(
                    env_dir.join(NETNS_MARKER),
                    dir.join(&name).as_os_str().as_encoded_bytes(),
                )
                .map_err(SandboxError::io("writing the netns marker"))?;
                td.netns = Some(dir.join(&name));
                let n = name.clone();
                blocking(move || netns::create_isolated(&dir, &n)).await?
            }
            NetnsChoice::Existing(path) => {
                let p = path.clone();
                (path.clone(), blocking(move || netns::listen_in(&p)).await?)
            }
        };
        td.cgroups
            .set_limits(&Limits::for_memory_mb(spec.memory_mb))?;
        let mut env: Vec<(String, String)> = spec
            .env
            .iter()
            .filter(|(k, _)| k != "AWS_LAMBDA_RUNTIME_API")
            .cloned()
            .collect();
        env.push(("AWS_LAMBDA_RUNTIME_API".into(), RUNTIME_API_ADDR.into()));
        let request = SetupRequest {
            netns: netns_path,
            root,
            host_ro_dirs: self.cfg.host_ro_dirs.clone(),
            code_dir: spec.code_dir.clone(),
            opt_dir: spec.opt_dir.clone(),
            runtime_dir: spec.runtime_dir.clone(),
            tmp,
            shm_mb: spec.memory_mb.min(MAX_SHM_MB),
            resolv_conf,
            hosts,
            ca_bundle: spec.ca_bundle.clone(),
            hostname: "localhost".into(),
            leave_cgroups: td.cgroups.parent_procs_files(),
            uid: spec.uid,
            gid: spec.gid,
            argv: spec.command.clone(),
            env,
            nofile: NOFILE,
        };
        let started = Instant::now();
        let (child, status) = set_up(child, sock, &request).await?;
        let td = Arc::new(td);
        let mut env = Environment::assemble(spec, td, child, status, listener, started)?;
        env.refill = refill;
        Ok(env)
    }
}

/// Sends the helper its request and waits until it reports the command is about to be
/// exec'd.
async fn set_up(
    mut child: Child,
    sock: tokio::net::UnixStream,
    request: &SetupRequest,
) -> Result<(Child, BufReader<OwnedReadHalf>), SandboxError> {
    let (rd, mut wr) = sock.into_split();
    let json = serde_json::to_vec(request)
        .map_err(|e| SandboxError::Setup(format!("encoding the setup request: {e}")))?;
    wr.write_all(&json)
        .await
        .map_err(SandboxError::io("sending the setup request"))?;
    wr.shutdown()
        .await
        .map_err(SandboxError::io("closing the setup request"))?;
    let mut rd = BufReader::new(rd);
    let mut line = String::new();
    let report = tokio::time::timeout(SETUP_TIMEOUT, rd.read_line(&mut line))
        .await
        .map_err(|_| SandboxError::Setup("the helper did not finish setup in time".into()))?
        .map_err(SandboxError::io("reading the helper's report"))?;
    match (report, Report::parse(&line)) {
        (_, Some(Report::Ready)) => Ok((child, rd)),
        (_, Some(Report::SetupFailed(msg))) => Err(SandboxError::Setup(msg)),
        (0, _) => {
            let status = child.wait().await.ok();
            Err(SandboxError::Setup(format!(
                "the helper exited without a report ({status:?})"
            )))
        }
        _ => Err(SandboxError::Setup(format!(
            "unexpected helper report {line:?}"
        ))),
    }
}

fn validate(spec: &EnvSpec) -> Result<(), SandboxError> {
    let bad = |m: String| Err(SandboxError::InvalidConfig(m));
    if !valid_name(&spec.id, 40) {
        return bad(format!(
            "id {:?} must be 1-40 characters of [A-Za-z0-9-]",
            spec.id
        ));
    }
    match spec.command.first() {
        Some(c) if c.starts_with('/') => {}
        _ => return bad("command[0] must be an absolute path".into()),
    }
    if spec.uid == 0 || spec.gid == 0 {
        return bad("uid and gid must not be 0".into());
    }
    if spec.memory_mb < 16 || spec.ephemeral_mb == 0 || spec.timeout.is_zero() {
        return bad("memory_mb >= 16, ephemeral_mb > 0 and timeout > 0 are required".into());
    }
    let nul = |s: &str| s.contains('\0');
    if spec.command.iter().any(|a| nul(a))
        || spec
            .env
            .iter()
            .any(|(k, v)| k.is_empty() || k.contains('=') || nul(k) || nul(v))
    {
        return bad("command and env must not contain NUL; env names not '=' or empty".into());
    }
    if !spec.code_dir.is_dir() {
        return bad(format!(
            "code_dir {} is not a directory",
            spec.code_dir.display()
        ));
    }
    if let NetnsChoice::Existing(p) = &spec.netns {
        if !p.exists() {
            return bad(format!("netns {} does not exist", p.display()));
        }
    }
    Ok(())
}

fn write_etc_file(
    env_dir: &Path,
    name: &str,
    content: Option<&str>,
) -> Result<Option<PathBuf>, SandboxError> {
    let Some(content) = content else {
        return Ok(None);
    };
    let path = env_dir.join(name);
    fs::write(&path, content).map_err(SandboxError::io(format!("writing {}", path.display())))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644))
        .map_err(SandboxError::io(format!("chmod {}", path.display())))?;
    Ok(Some(path))
}

fn read_netns_marker(env_dir: &Path) -> Option<PathBuf> {
    let raw = fs::read_to_string(env_dir.join(NETNS_MARKER)).ok()?;
    Some(PathBuf::from(raw.trim()))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SandboxError> + Send + 'static,
) -> Result<T, SandboxError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SandboxError::Setup(format!("blocking task failed: {e}")))?
}

/// Every kernel object and file of one environment, removed in reverse order of creation.
/// Each step is idempotent, so this runs again safely from `Drop` or a later cleanup.
struct Teardown {
    name: String,
    cgroups: EnvCgroups,
    netns: Option<PathBuf>,
    /// The scratch dir, once this environment created it.
    env_dir: Option<PathBuf>,
    done: AtomicBool,
}

impl Teardown {
    fn run(&self) -> Result<(), SandboxError> {
        if self.done.load(Ordering::Acquire) {
            return Ok(());
        }
        self.cgroups.kill_all()?;
        let mut first_err = self.cgroups.remove().err();
        if let Some(ns) = &self.netns {
            if let Err(e) = netns::delete(ns) {
                first_err.get_or_insert(e);
            }
        }
        if let Some(dir) = &self.env_dir {
            match fs::remove_dir_all(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    first_err
                        .get_or_insert(SandboxError::io(format!("removing {}", dir.display()))(e));
                }
            }
        }
        match first_err {
            None => {
                self.done.store(true, Ordering::Release);
                Ok(())
            }
            Some(e) => Err(e),
        }
    }
}

impl Drop for Teardown {
    fn drop(&mut self) {
        if let Err(e) = self.run() {
            tracing::warn!(env = %self.name, error = %e, "environment teardown failed");
        }
    }
}

/// Aborts a background task when the environment goes away.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Debug, Clone, Copy)]
struct ExitInfo {
    code: Option<i32>,
    signal: Option<i32>,
}

/// State only the invocation in progress touches.
struct InvokeSide {
    events: mpsc::UnboundedReceiver<ApiEvent>,
    ready_at: Option<Instant>,
    init_reported: bool,
    /// Whether the first invocation has topped up the spares.
    refilled: bool,
}

/// A running execution environment. Dropping it kills and removes everything (blocking
/// briefly); [`Environment::destroy`] does the same without blocking the runtime.
pub struct Environment {
    id: String,
    timeout: Duration,
    started: Instant,
    api: RuntimeApi,
    side: Mutex<InvokeSide>,
    exit: watch::Receiver<Option<ExitInfo>>,
    logs: Option<mpsc::Receiver<LogLine>>,
    lost_log_lines: Arc<AtomicU64>,
    dead: AtomicBool,
    frozen: AtomicBool,
    teardown: Arc<Teardown>,
    /// Spares to top up after the first invocation (environments from a reservation).
    refill: Option<Arc<Spares>>,
    _tasks: Vec<AbortOnDrop>,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("id", &self.id)
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl Environment {
    fn assemble(
        spec: EnvSpec,
        teardown: Arc<Teardown>,
        mut child: Child,
        status: BufReader<OwnedReadHalf>,
        listener: std::net::TcpListener,
        started: Instant,
    ) -> Result<Environment, SandboxError> {
        let (api, events) = RuntimeApi::new();
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(SandboxError::io("registering the Runtime API listener"))?;
        let (log_tx, log_rx) = mpsc::channel(LOG_BUFFER_LINES);
        let lost = Arc::new(AtomicU64::new(0));
        // Log pumps are not aborted with the environment: they end at end of file, once
        // every process is gone, so the last lines before a kill still arrive.
        if let Some(out) = child.stdout.take() {
            tokio::spawn(pump(out, LogStream::Stdout, log_tx.clone(), lost.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(pump(err, LogStream::Stderr, log_tx, lost.clone()));
        }
        let (exit_tx, exit_rx) = watch::channel(None);
        let _tasks = vec![
            AbortOnDrop(tokio::spawn(api.clone().serve(listener))),
            AbortOnDrop(tokio::spawn(watch_exit(child, status, exit_tx))),
        ];
        Ok(Environment {
            id: spec.id,
            timeout: spec.timeout,
            started,
            api,
            side: Mutex::new(InvokeSide {
                events,
                ready_at: None,
                init_reported: false,
                refilled: false,
            }),
            exit: exit_rx,
            logs: Some(log_rx),
            lost_log_lines: lost,
            dead: AtomicBool::new(false),
            frozen: AtomicBool::new(false),
            teardown,
            refill: None,
            _tasks,
        })
    }

    /// The environment's id as given in its spec.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// False once the runtime's process exited or the environment was killed.
    pub fn is_alive(&self) -> bool {
        !self.dead.load(Ordering::Acquire) && self.exit.borrow().is_none()
    }

    /// True from a completed [`Environment::freeze`] until the next thaw.
    pub fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Acquire)
    }

    /// The function's stdout/stderr lines; `None` after the first call.
    pub fn take_logs(&mut self) -> Option<mpsc::Receiver<LogLine>> {
        self.logs.take()
    }

    /// Lines dropped because the log receiver fell behind (or was never taken).
    pub fn lost_log_lines(&self) -> u64 {
        self.lost_log_lines.load(Ordering::Relaxed)
    }

    /// Runs one invocation to its outcome. Invocations on one environment are serialized.
    /// After `Timeout`, `Exited` or `InitError` the environment is dead (already killed);
    /// it still needs [`Environment::destroy`] to remove its kernel objects. Dropping the
    /// returned future does not stop the function.
    pub async fn invoke(&self, inv: Invocation) -> Result<(Outcome, InvokeStats), SandboxError> {
        let headers = invocation_headers(&inv)?;
        let mut side = self.side.lock().await;
        if !self.is_alive() {
            self.dead.store(true, Ordering::Release);
            return Err(SandboxError::Dead(self.id.clone()));
        }
        if self.frozen.load(Ordering::Acquire) {
            self.thaw().await?;
        }
        let mut exit = self.exit.clone();
        let request_id = inv.request_id;
        self.api.queue(Dispatch {
            request_id: request_id.clone(),
            payload: inv.payload,
            headers,
            timeout: self.timeout,
        });
        let mut pickup_deadline = match side.ready_at {
            Some(_) => Instant::now() + self.timeout,
            None => self.started + INIT_TIMEOUT,
        };
        let mut dispatched_at: Option<Instant> = None;
        let outcome = loop {
            if let Some(info) = *exit.borrow_and_update() {
                break self.exited(info);
            }
            let deadline = dispatched_at.map_or(pickup_deadline, |at| at + self.timeout);
            tokio::select! {
                biased;
                ev = side.events.recv() => {
                    let ours = |id: &str| id == request_id && dispatched_at.is_some();
                    match ev {
                        Some(ApiEvent::Ready { at }) => {
                            // Init is over (perhaps long ago, for a pre-warmed
                            // environment): from now on the runtime has `timeout` to pick
                            // the event up.
                            side.ready_at = Some(at);
                            pickup_deadline = Instant::now() + self.timeout;
                        }
                        Some(ApiEvent::Dispatched { request_id: id, at }) if id == request_id => {
                            dispatched_at = Some(at);
                        }
                        Some(ApiEvent::Response { request_id: id, body }) if ours(&id) => {
                            break Outcome::Response(body);
                        }
                        Some(ApiEvent::FunctionError { request_id: id, body, error_type })
                            if ours(&id) =>
                        {
                            break Outcome::FunctionError { body, error_type };
                        }
                        Some(ApiEvent::ResponseTooLarge { request_id: id }) if ours(&id) => {
                            break Outcome::ResponseTooLarge;
                        }
                        Some(ApiEvent::InitError { body, error_type }) => {
                            break Outcome::InitError { body, error_type };
                        }
                        // Answers to an invocation whose caller gave up.
                        Some(_) => {}
                        None => break self.exited(ExitInfo { code: None, signal: None }),
                    }
                }
                changed = exit.changed() => {
                    if changed.is_err() {
                        break self.exited(ExitInfo { code: None, signal: None });
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()) => break Outcome::Timeout,
            }
        };
        let stats = InvokeStats {
            duration: dispatched_at.map(|at| at.elapsed()).unwrap_or_default(),
            max_memory_bytes: self.teardown.cgroups.max_memory_bytes().unwrap_or(0),
            init_duration: match (side.init_reported, side.ready_at) {
                (false, Some(ready)) => {
                    side.init_reported = true;
                    Some(ready.saturating_duration_since(self.started))
                }
                _ => None,
            },
        };
        if let Some(spares) = &self.refill {
            if !std::mem::replace(&mut side.refilled, true) {
                spares.refill();
            }
        }
        if matches!(
            outcome,
            Outcome::Timeout | Outcome::Exited { .. } | Outcome::InitError { .. }
        ) {
            self.dead.store(true, Ordering::Release);
            let td = self.teardown.clone();
            blocking(move || td.cgroups.kill_all()).await?;
        }
        Ok((outcome, stats))
    }

    /// Waits for the runtime's init to finish (its first `/next`) without an invocation:
    /// provisioned concurrency initializes environments ahead of their first event, whose
    /// REPORT then carries no `Init Duration`. Returns how long init took; an init that
    /// fails, exits or passes the init limit leaves the environment dead (killed) and is
    /// returned as the [`Outcome`] an invocation would have seen.
    pub async fn await_init(&self) -> Result<Result<Duration, Outcome>, SandboxError> {
        let mut side = self.side.lock().await;
        if let Some(ready) = side.ready_at {
            return Ok(Ok(ready.saturating_duration_since(self.started)));
        }
        let mut exit = self.exit.clone();
        let deadline = self.started + INIT_TIMEOUT;
        let failed = loop {
            if let Some(info) = *exit.borrow_and_update() {
                break self.exited(info);
            }
            tokio::select! {
                biased;
                ev = side.events.recv() => match ev {
                    Some(ApiEvent::Ready { at }) => {
                        side.ready_at = Some(at);
                        side.init_reported = true;
                        if let Some(spares) = &self.refill {
                            if !std::mem::replace(&mut side.refilled, true) {
                                spares.refill();
                            }
                        }
                        return Ok(Ok(at.saturating_duration_since(self.started)));
                    }
                    Some(ApiEvent::InitError { body, error_type }) => {
                        break Outcome::InitError { body, error_type };
                    }
                    Some(_) => {}
                    None => break self.exited(ExitInfo { code: None, signal: None }),
                },
                changed = exit.changed() => {
                    if changed.is_err() {
                        break self.exited(ExitInfo { code: None, signal: None });
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()) => break Outcome::Timeout,
            }
        };
        self.dead.store(true, Ordering::Release);
        let td = self.teardown.clone();
        blocking(move || td.cgroups.kill_all()).await?;
        Ok(Err(failed))
    }

    fn exited(&self, info: ExitInfo) -> Outcome {
        Outcome::Exited {
            code: info.code,
            signal: info.signal,
            oom_killed: self.teardown.cgroups.oom_kills().unwrap_or(0) > 0,
        }
    }

    /// Stops every process of the environment until [`Environment::thaw`] (or the next
    /// invoke, which thaws first).
    pub async fn freeze(&self) -> Result<(), SandboxError> {
        let td = self.teardown.clone();
        blocking(move || td.cgroups.freeze()).await?;
        self.frozen.store(true, Ordering::Release);
        Ok(())
    }

    pub async fn thaw(&self) -> Result<(), SandboxError> {
        let td = self.teardown.clone();
        blocking(move || td.cgroups.thaw()).await?;
        self.frozen.store(false, Ordering::Release);
        Ok(())
    }

    /// Kills everything through the cgroups, removes the cgroups, the namespace (when the
    /// sandbox made it), `/tmp` and the scratch dir. Safe on an environment that already
    /// died. What fails here (a process that would not die) is retried when the last
    /// reference goes away and by [`Sandbox::cleanup_leftovers`].
    pub async fn destroy(self) -> Result<(), SandboxError> {
        self.dead.store(true, Ordering::Release);
        let td = self.teardown.clone();
        blocking(move || td.run()).await
    }
}

/// Reads the helper's reports until every helper process is gone, then publishes how the
/// runtime's process ended (the first report wins; the helper's own status otherwise).
async fn watch_exit(
    mut child: Child,
    mut status: BufReader<OwnedReadHalf>,
    tx: watch::Sender<Option<ExitInfo>>,
) {
    let mut first: Option<ExitInfo> = None;
    let mut line = String::new();
    loop {
        line.clear();
        match status.read_line(&mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let info = match Report::parse(&line) {
            Some(Report::Exited(code)) => ExitInfo {
                code: Some(code),
                signal: None,
            },
            Some(Report::Signaled(sig)) => ExitInfo {
                code: None,
                signal: Some(sig),
            },
            Some(Report::SetupFailed(msg)) => {
                tracing::warn!(%msg, "environment helper failed");
                continue;
            }
            _ => continue,
        };
        first.get_or_insert(info);
    }
    let helper = child.wait().await.ok();
    let info = first.unwrap_or(ExitInfo {
        code: helper.and_then(|s| s.code()),
        signal: helper.and_then(|s| s.signal()),
    });
    let _ = tx.send(Some(info));
}

fn invocation_headers(inv: &Invocation) -> Result<HeaderMap, SandboxError> {
    if inv.request_id.is_empty() || inv.request_id.contains('/') {
        return Err(SandboxError::InvalidInvocation(
            "request id must be non-empty and contain no '/'".into(),
        ));
    }
    let mut h = HeaderMap::new();
    let fields: [(&'static str, Option<&str>); 5] = [
        ("lambda-runtime-aws-request-id", Some(&inv.request_id)),
        (
            "lambda-runtime-invoked-function-arn",
            Some(&inv.invoked_function_arn),
        ),
        ("lambda-runtime-trace-id", Some(&inv.trace_id)),
        (
            "lambda-runtime-client-context",
            inv.client_context.as_deref(),
        ),
        (
            "lambda-runtime-cognito-identity",
            inv.cognito_identity.as_deref(),
        ),
    ];
    for (name, value) in fields {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            continue;
        };
        let v = HeaderValue::from_str(value).map_err(|_| {
            SandboxError::InvalidInvocation(format!("{name} is not a valid header value"))
        })?;
        h.insert(HeaderName::from_static(name), v);
    }
    Ok(h)
}
