//! Control groups of execution environments: creating them with their limits, placing the
//! helper in them, freezing, killing every process in them, reading usage, removing them.
//! Rooted at a path (normally `/sys/fs/cgroup`) so the file logic is unit-tested on a temp
//! dir. Supports the hybrid layout: v1 memory/pids/cpu/freezer, plus a node in the cgroup2
//! tree at `unified/` when mounted (for `cgroup.kill`, `cgroup.events`, `cgroup.freeze`).
//! Must never signal a process it did not find in one of its own cgroups.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::SandboxError;

/// Lambda's per-environment process/thread limit.
pub(crate) const PIDS_MAX: u32 = 1024;
/// Lambda gives one full vCPU at this much memory; CPU scales linearly with memory.
const MB_PER_VCPU: u64 = 1769;
const CPU_PERIOD_US: u64 = 100_000;
/// The kernel refuses CFS quotas below 1 ms.
const CPU_QUOTA_MIN_US: u64 = 1_000;
const V1_CONTROLLERS: [&str; 4] = ["memory", "pids", "cpu", "freezer"];
/// How long teardown waits for killed processes to leave their cgroups.
const KILL_WAIT: Duration = Duration::from_secs(10);
/// Polls of cgroup state start this short (a freeze or an exit usually completes within
/// tens of microseconds) and double up to [`POLL_MAX`], so a waiter neither spins nor
/// oversleeps by milliseconds.
const POLL_FIRST: Duration = Duration::from_micros(20);
const POLL_MAX: Duration = Duration::from_millis(5);

/// Sleeps between polls of kernel state: short at first, doubling to [`POLL_MAX`].
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff { next: POLL_FIRST }
    }

    fn sleep(&mut self) {
        sleep(self.next);
        self.next = (self.next * 2).min(POLL_MAX);
    }
}

/// Resource limits of one environment, all derived from its memory size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limits {
    pub memory_bytes: u64,
    pub pids_max: u32,
    pub cpu_shares: u64,
    pub cpu_quota_us: u64,
}

impl Limits {
    pub(crate) fn for_memory_mb(memory_mb: u32) -> Limits {
        let mb = u64::from(memory_mb);
        Limits {
            memory_bytes: mb << 20,
            pids_max: PIDS_MAX,
            cpu_shares: (mb * 1024 / MB_PER_VCPU).max(2),
            cpu_quota_us: (mb * CPU_PERIOD_US / MB_PER_VCPU).max(CPU_QUOTA_MIN_US),
        }
    }
}

/// The cgroup hierarchies found under the root.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
    unified: bool,
}

impl Layout {
    /// Requires the four v1 controllers; the cgroup2 tree is used when mounted at `unified/`.
    pub(crate) fn detect(root: &Path) -> Result<Layout, SandboxError> {
        for c in V1_CONTROLLERS {
            if !root.join(c).join("cgroup.procs").exists() {
                return Err(SandboxError::Unsupported(format!(
                    "cgroup v1 controller {c} is not mounted at {}",
                    root.join(c).display()
                )));
            }
        }
        Ok(Layout {
            root: root.to_path_buf(),
            unified: root.join("unified").join("cgroup.controllers").exists(),
        })
    }

    fn hierarchies(&self) -> Vec<PathBuf> {
        let mut h: Vec<PathBuf> = V1_CONTROLLERS.iter().map(|c| self.root.join(c)).collect();
        if self.unified {
            h.push(self.root.join("unified"));
        }
        h
    }

    /// `vl-<instance>` in every hierarchy: the parent of all of this daemon's environments.
    pub(crate) fn instance_dirs(&self, instance: &str) -> Vec<PathBuf> {
        let dir = format!("vl-{instance}");
        self.hierarchies().iter().map(|h| h.join(&dir)).collect()
    }

    /// CPU time used by everything under this instance so far (`usage_usec` of its node
    /// in the cgroup2 tree, which keeps time whichever controllers are bound there); `None`
    /// without that tree or before the instance's node exists.
    pub(crate) fn instance_cpu_usage(&self, instance: &str) -> Option<Duration> {
        if !self.unified {
            return None;
        }
        let stat = self
            .root
            .join("unified")
            .join(format!("vl-{instance}"))
            .join("cpu.stat");
        let text = fs::read_to_string(stat).ok()?;
        keyed(&text, "usage_usec").map(Duration::from_micros)
    }

    /// Names of environment cgroups left under this instance in any hierarchy.
    pub(crate) fn leftover_envs(&self, instance: &str) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for dir in self.instance_dirs(instance) {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("vl-env-") && e.path().is_dir() && !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }

    pub(crate) fn env(&self, instance: &str, env_name: &str) -> EnvCgroups {
        let at = |h: &str| {
            self.root
                .join(h)
                .join(format!("vl-{instance}"))
                .join(env_name)
        };
        EnvCgroups {
            name: env_name.to_string(),
            memory: at("memory"),
            pids: at("pids"),
            cpu: at("cpu"),
            freezer: at("freezer"),
            unified: self.unified.then(|| at("unified")),
            max_usage: OnceLock::new(),
        }
    }
}

/// The cgroups of one environment.
#[derive(Debug)]
pub(crate) struct EnvCgroups {
    name: String,
    memory: PathBuf,
    pids: PathBuf,
    cpu: PathBuf,
    freezer: PathBuf,
    unified: Option<PathBuf>,
    /// `memory.max_usage_in_bytes`, opened at its first read: it is read after every
    /// invocation, and a read at offset 0 of an open cgroup file is current.
    max_usage: OnceLock<fs::File>,
}

fn write(path: &Path, value: &str) -> Result<(), SandboxError> {
    fs::write(path, value).map_err(SandboxError::io(format!(
        "writing {value:?} to {}",
        path.display()
    )))
}

fn read(path: &Path) -> Result<String, SandboxError> {
    fs::read_to_string(path).map_err(SandboxError::io(format!("reading {}", path.display())))
}

/// Value of `key` in a flat-keyed cgroup file (`oom_kill 3`, `populated 0`).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

impl EnvCgroups {
    fn v1_dirs(&self) -> [&Path; 4] {
        [&self.memory, &self.pids, &self.cpu, &self.freezer]
    }

    fn all_dirs(&self) -> Vec<&Path> {
        let mut d: Vec<&Path> = self.v1_dirs().to_vec();
        if let Some(u) = &self.unified {
            d.push(u);
        }
        d
    }

    /// Creates the cgroups (idempotent), without limits.
    pub(crate) fn create(&self) -> Result<(), SandboxError> {
        for d in self.all_dirs() {
            fs::create_dir_all(d).map_err(SandboxError::io(format!("creating {}", d.display())))?;
        }
        Ok(())
    }

    /// Writes the limits.
    pub(crate) fn set_limits(&self, limits: &Limits) -> Result<(), SandboxError> {
        let mem = limits.memory_bytes.to_string();
        write(&self.memory.join("memory.limit_in_bytes"), &mem)?;
        // Present only with swap accounting; equal to the limit so swap never extends memory.
        let memsw = self.memory.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            write(&memsw, &mem)?;
        }
        write(&self.pids.join("pids.max"), &limits.pids_max.to_string())?;
        write(&self.cpu.join("cpu.shares"), &limits.cpu_shares.to_string())?;
        write(
            &self.cpu.join("cpu.cfs_period_us"),
            &CPU_PERIOD_US.to_string(),
        )?;
        write(
            &self.cpu.join("cpu.cfs_quota_us"),
            &limits.cpu_quota_us.to_string(),
        )
    }

    /// Moves a process into every cgroup of the environment.
    pub(crate) fn add_process(&self, pid: u32) -> Result<(), SandboxError> {
        for d in self.all_dirs() {
            write(&d.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// `cgroup.procs` of the instance-level parents, where the helper parks itself.
    pub(crate) fn parent_procs_files(&self) -> Vec<PathBuf> {
        self.all_dirs()
            .iter()
            .filter_map(|d| d.parent().map(|p| p.join("cgroup.procs")))
            .collect()
    }

    fn procs(dir: &Path) -> Result<Vec<i32>, SandboxError> {
        match fs::read_to_string(dir.join("cgroup.procs")) {
            Ok(s) => Ok(s.lines().filter_map(|l| l.trim().parse().ok()).collect()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(SandboxError::io(format!(
                "reading {}/cgroup.procs",
                dir.display()
            ))(e)),
        }
    }

    /// True when no process is left (zombies included) in any of the environment's cgroups.
    pub(crate) fn is_empty(&self) -> Result<bool, SandboxError> {
        if let Some(u) = &self.unified {
            match fs::read_to_string(u.join("cgroup.events")) {
                Ok(ev) => {
                    if keyed(&ev, "populated") != Some(0) {
                        return Ok(false);
                    }
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(SandboxError::io(format!("reading {}", u.display()))(e)),
            }
        }
        for d in self.v1_dirs() {
            if !Self::procs(d)?.is_empty() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn wait_empty(&self, bound: Duration) -> Result<bool, SandboxError> {
        let until = Instant::now() + bound;
        let mut backoff = Backoff::new();
        loop {
            if self.is_empty()? {
                return Ok(true);
            }
            if Instant::now() >= until {
                return Ok(false);
            }
            backoff.sleep();
        }
    }

    /// Kills every process of the environment and waits until the cgroups are empty.
    /// Uses `cgroup.kill` when the kernel has it; otherwise freezes the v1 freezer cgroup
    /// (so nothing can fork or exit mid-scan), SIGKILLs each listed pid, thaws, and repeats.
    pub(crate) fn kill_all(&self) -> Result<(), SandboxError> {
        let kill_file = self.unified.as_ref().map(|u| u.join("cgroup.kill"));
        match kill_file.filter(|f| f.exists()) {
            Some(f) => {
                write(&f, "1")?;
                // Tasks frozen through the v1 freezer do not act on SIGKILL until thawed.
                self.thaw_v1()?;
                self.unfreeze_v2()?;
                if self.wait_empty(KILL_WAIT)? {
                    return Ok(());
                }
            }
            None => {
                let until = Instant::now() + KILL_WAIT;
                let mut backoff = Backoff::new();
                while Instant::now() < until {
                    if self.is_empty()? {
                        return Ok(());
                    }
                    self.kill_listed()?;
                    backoff.sleep();
                }
            }
        }
        if self.is_empty()? {
            Ok(())
        } else {
            Err(SandboxError::KillTimedOut(self.name.clone()))
        }
    }

    fn kill_listed(&self) -> Result<(), SandboxError> {
        if !self.freezer.exists() {
            return Ok(());
        }
        self.freeze_v1()?;
        for pid in Self::procs(&self.freezer)? {
            // ESRCH: it died between the listing and now; nothing else can happen to a pid
            // of a frozen cgroup.
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        self.thaw_v1()
    }

    fn freeze_v1(&self) -> Result<(), SandboxError> {
        let state = self.freezer.join("freezer.state");
        write(&state, "FROZEN")?;
        let until = Instant::now() + KILL_WAIT;
        let mut backoff = Backoff::new();
        while read(&state)?.trim() != "FROZEN" {
            if Instant::now() >= until {
                return Err(SandboxError::Io {
                    context: format!("freezing {}", self.freezer.display()),
                    source: ErrorKind::TimedOut.into(),
                });
            }
            backoff.sleep();
        }
        Ok(())
    }

    fn thaw_v1(&self) -> Result<(), SandboxError> {
        let state = self.freezer.join("freezer.state");
        if state.exists() {
            write(&state, "THAWED")?;
        }
        Ok(())
    }

    fn v2_freeze_file(&self) -> Option<PathBuf> {
        self.unified
            .as_ref()
            .map(|u| u.join("cgroup.freeze"))
            .filter(|f| f.exists())
    }

    fn unfreeze_v2(&self) -> Result<(), SandboxError> {
        match self.v2_freeze_file() {
            Some(f) => write(&f, "0"),
            None => Ok(()),
        }
    }

    /// Stops every process of the environment (cgroup2 `cgroup.freeze` when present,
    /// else the v1 freezer) and waits until the kernel reports it frozen.
    pub(crate) fn freeze(&self) -> Result<(), SandboxError> {
        let (Some(f), Some(u)) = (self.v2_freeze_file(), &self.unified) else {
            return self.freeze_v1();
        };
        write(&f, "1")?;
        let until = Instant::now() + KILL_WAIT;
        let mut backoff = Backoff::new();
        loop {
            let ev = read(&u.join("cgroup.events"))?;
            if keyed(&ev, "frozen") == Some(1) || keyed(&ev, "populated") == Some(0) {
                return Ok(());
            }
            if Instant::now() >= until {
                return Err(SandboxError::Io {
                    context: format!("freezing {}", u.display()),
                    source: ErrorKind::TimedOut.into(),
                });
            }
            backoff.sleep();
        }
    }

    pub(crate) fn thaw(&self) -> Result<(), SandboxError> {
        match self.v2_freeze_file() {
            Some(f) => write(&f, "0"),
            None => self.thaw_v1(),
        }
    }

    /// High-water mark of memory use since the cgroup was created.
    pub(crate) fn max_memory_bytes(&self) -> Result<u64, SandboxError> {
        let path = || self.memory.join("memory.max_usage_in_bytes");
        let file = match self.max_usage.get() {
            Some(f) => f,
            None => {
                let f = fs::File::open(path())
                    .map_err(SandboxError::io(format!("opening {}", path().display())))?;
                self.max_usage.get_or_init(|| f)
            }
        };
        let mut buf = [0u8; 32];
        let n = file
            .read_at(&mut buf, 0)
            .map_err(|e| SandboxError::io(format!("reading {}", path().display()))(e))?;
        std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| SandboxError::Io {
                context: format!("parsing {}", path().display()),
                source: ErrorKind::InvalidData.into(),
            })
    }

    /// How many processes the OOM killer has killed in this cgroup.
    pub(crate) fn oom_kills(&self) -> Result<u64, SandboxError> {
        Ok(keyed(&read(&self.memory.join("memory.oom_control"))?, "oom_kill").unwrap_or(0))
    }

    /// Removes every cgroup of the environment; already-gone ones are fine. The kernel
    /// answers EBUSY for a moment after the last process left, so that is retried.
    pub(crate) fn remove(&self) -> Result<(), SandboxError> {
        let mut first_err = None;
        for d in self.all_dirs() {
            if let Err(e) = rmdir_retry(d) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// Removes an empty cgroup directory, retrying while the kernel still reports it busy.
pub(crate) fn rmdir_retry(dir: &Path) -> Result<(), SandboxError> {
    let until = Instant::now() + KILL_WAIT;
    let mut backoff = Backoff::new();
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < until => {
                backoff.sleep()
            }
            Err(e) => return Err(SandboxError::io(format!("removing {}", dir.display()))(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_root(unified: bool) -> tempfile::TempDir {
        let t = tempfile::tempdir().expect("tempdir");
        for c in V1_CONTROLLERS {
            fs::create_dir_all(t.path().join(c)).expect("mkdir");
            fs::write(t.path().join(c).join("cgroup.procs"), "").expect("write");
        }
        if unified {
            fs::create_dir_all(t.path().join("unified")).expect("mkdir");
            fs::write(t.path().join("unified/cgroup.controllers"), "").expect("write");
        }
        t
    }

    #[test]
    fn limits_scale_cpu_with_memory() {
        let small = Limits::for_memory_mb(128);
        assert_eq!(small.memory_bytes, 128 << 20);
        assert_eq!(small.pids_max, 1024);
        assert_eq!(small.cpu_shares, 74);
        assert_eq!(small.cpu_quota_us, 7_235);
        let one = Limits::for_memory_mb(1769);
        assert_eq!((one.cpu_shares, one.cpu_quota_us), (1024, 100_000));
        let max = Limits::for_memory_mb(10_240);
        assert_eq!(max.cpu_quota_us, 578_858);
        let tiny = Limits::for_memory_mb(1);
        assert_eq!((tiny.cpu_shares, tiny.cpu_quota_us), (2, 1_000));
    }

    #[test]
    fn detect_requires_v1_controllers() {
        let t = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            Layout::detect(t.path()),
            Err(SandboxError::Unsupported(_))
        ));
        let t = fake_root(false);
        assert!(!Layout::detect(t.path()).expect("detect").unified);
        let t = fake_root(true);
        assert!(Layout::detect(t.path()).expect("detect").unified);
    }

    #[test]
    fn create_writes_limits_under_the_instance() {
        let t = fake_root(true);
        let layout = Layout::detect(t.path()).expect("detect");
        let cg = layout.env("i1", "vl-env-a");
        let memsw = t
            .path()
            .join("memory/vl-i1/vl-env-a/memory.memsw.limit_in_bytes");
        fs::create_dir_all(memsw.parent().expect("parent")).expect("mkdir");
        fs::write(&memsw, "").expect("write");
        cg.create().expect("create");
        cg.set_limits(&Limits::for_memory_mb(128)).expect("limits");
        let get = |p: &str| fs::read_to_string(t.path().join(p)).expect(p);
        assert_eq!(
            get("memory/vl-i1/vl-env-a/memory.limit_in_bytes"),
            "134217728"
        );
        assert_eq!(
            get("memory/vl-i1/vl-env-a/memory.memsw.limit_in_bytes"),
            "134217728"
        );
        assert_eq!(get("pids/vl-i1/vl-env-a/pids.max"), "1024");
        assert_eq!(get("cpu/vl-i1/vl-env-a/cpu.shares"), "74");
        assert_eq!(get("cpu/vl-i1/vl-env-a/cpu.cfs_period_us"), "100000");
        assert_eq!(get("cpu/vl-i1/vl-env-a/cpu.cfs_quota_us"), "7235");
        assert!(t.path().join("unified/vl-i1/vl-env-a").is_dir());
        assert!(t.path().join("freezer/vl-i1/vl-env-a").is_dir());
        assert_eq!(
            cg.parent_procs_files(),
            ["memory", "pids", "cpu", "freezer", "unified"]
                .iter()
                .map(|h| t.path().join(h).join("vl-i1/cgroup.procs"))
                .collect::<Vec<_>>()
        );
        assert_eq!(layout.leftover_envs("i1"), vec!["vl-env-a".to_string()]);
        assert!(layout.leftover_envs("other").is_empty());
    }

    #[test]
    fn instance_cpu_usage_is_read_from_the_cgroup2_node() {
        let t = fake_root(true);
        let layout = Layout::detect(t.path()).expect("detect");
        assert_eq!(layout.instance_cpu_usage("i"), None, "no node yet");
        fs::create_dir_all(t.path().join("unified/vl-i")).expect("mkdir");
        fs::write(
            t.path().join("unified/vl-i/cpu.stat"),
            "usage_usec 1500
user_usec 1000
system_usec 500
",
        )
        .expect("write");
        assert_eq!(
            layout.instance_cpu_usage("i"),
            Some(Duration::from_micros(1500))
        );
        let v1 = fake_root(false);
        let layout = Layout::detect(v1.path()).expect("detect");
        assert_eq!(layout.instance_cpu_usage("i"), None, "no cgroup2 tree");
    }

    #[test]
    fn reads_usage_and_oom_counters() {
        let t = fake_root(false);
        let cg = Layout::detect(t.path())
            .expect("detect")
            .env("i", "vl-env-b");
        cg.create().expect("create");
        cg.set_limits(&Limits::for_memory_mb(128)).expect("limits");
        let m = t.path().join("memory/vl-i/vl-env-b");
        fs::write(m.join("memory.max_usage_in_bytes"), "4096\n").expect("write");
        fs::write(
            m.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .expect("write");
        assert_eq!(cg.max_memory_bytes().expect("max"), 4096);
        assert_eq!(cg.oom_kills().expect("oom"), 2);
    }

    #[test]
    fn empty_means_populated_zero_and_no_v1_procs() {
        let t = fake_root(true);
        let cg = Layout::detect(t.path())
            .expect("detect")
            .env("i", "vl-env-c");
        cg.create().expect("create");
        cg.set_limits(&Limits::for_memory_mb(128)).expect("limits");
        let u = t.path().join("unified/vl-i/vl-env-c/cgroup.events");
        fs::write(&u, "populated 1\nfrozen 0\n").expect("write");
        assert!(!cg.is_empty().expect("empty"));
        fs::write(&u, "populated 0\nfrozen 0\n").expect("write");
        assert!(cg.is_empty().expect("empty"));
        fs::write(t.path().join("pids/vl-i/vl-env-c/cgroup.procs"), "42\n").expect("write");
        assert!(!cg.is_empty().expect("empty"));
    }

    #[test]
    fn keyed_values() {
        assert_eq!(keyed("populated 1\nfrozen 0\n", "frozen"), Some(0));
        assert_eq!(keyed("populated 1\n", "frozen"), None);
        assert_eq!(keyed("oom_kill_disable 0\noom_kill 7", "oom_kill"), Some(7));
    }
}
