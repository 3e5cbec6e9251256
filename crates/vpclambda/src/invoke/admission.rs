//! Admission control: what an invocation that finds no idle environment of its function may
//! do, so that arrivals beyond what the host can run are refused fast instead of slowing
//! every invocation down (the collapse of an unbounded queue).
//!
//! Such an invocation either starts a new environment or waits for a busy one to come back.
//! A new environment needs a cold-start slot: at most [`AdmissionSettings::cold_starts`]
//! environments are created at once host-wide (sized from the host's CPUs), which is what
//! bounds the rate of environment creation to what the machine sustains. While the daemon
//! and its environments keep the CPUs it may run on saturated ([`HostLoad`]) a function
//! that has environments running gets no new ones: another environment
//! adds no CPU, only more work sharing it. The invocation then waits for one of its
//! function's environments to come back, first in first served; the wait is bounded in
//! length ([`WAITERS_PER_CPU`]) and in time ([`AdmissionSettings::max_wait`]), and an
//! invocation whose predicted wait (the waiters ahead of it times the function's recent
//! occupancy per environment) is longer than the bound is refused at once. Refusals are
//! Lambda's 429 (`FunctionInvocationRateLimitExceeded`).
//!
//! Event invocations never wait here: their attempt is refused at once and stays in the
//! durable queue, which tries it again later without counting an attempt.
//!
//! Owns no environments and knows nothing of HTTP; the registry hands environments over.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::pool::LiveEnv;
use super::registry::FunctionEntry;

/// Invocations that may wait in admission per CPU, host-wide.
pub const WAITERS_PER_CPU: usize = 64;
/// The longest an invocation waits for a cold-start slot.
const COLD_START_WAIT: Duration = Duration::from_secs(10);
/// How often the host's CPU use is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The daemon's admission settings.
#[derive(Debug, Clone)]
pub struct AdmissionSettings {
    /// Environments created at once, host-wide.
    pub cold_starts: usize,
    /// The longest a synchronous invocation waits for a busy environment of its function.
    pub max_wait: Duration,
}

/// The CPUs this process may run on (its affinity and cgroup quota), at least 1.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How an invocation without an idle environment proceeds.
pub enum ScaleOut {
    /// A busy environment came back: run on it.
    Reused(Arc<LiveEnv>),
    /// Create an environment, holding the slot until it is started.
    Start(OwnedSemaphorePermit),
}

/// The invocation is refused: the host cannot run it now.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused;

pub struct Admission {
    cold_starts: Arc<Semaphore>,
    max_wait: Duration,
    /// Invocations waiting here now, and how many may.
    waiting: AtomicUsize,
    max_waiting: usize,
    pub load: Arc<HostLoad>,
}

/// What the decision for one invocation looks at.
struct Situation {
    /// The host's CPUs are saturated.
    saturated: bool,
    /// The function's invocations running now.
    busy: u32,
    /// Invocations already waiting for this version's environments.
    ahead: usize,
    /// The function's recent occupancy of an environment per invocation, if known.
    occupancy: Option<Duration>,
}

#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// Start an environment (once a cold-start slot is free).
    Create,
    /// Wait for a busy environment to come back.
    Wait,
    Refuse,
}

/// The predicted wait for a busy environment: `ahead + 1` invocations served by `busy`
/// environments, each occupied for `occupancy` on average.
fn predicted_wait(ahead: usize, busy: u32, occupancy: Duration) -> Duration {
    let turns = u32::try_from(ahead + 1).unwrap_or(u32::MAX);
    occupancy.saturating_mul(turns) / busy.max(1)
}

/// The decision: a new environment unless the host is saturated and the function has
/// environments that will come back; then a bounded wait for one of them, or a refusal.
fn plan(s: &Situation, max_wait: Duration, room: bool, event: bool) -> Plan {
    if !s.saturated || s.busy == 0 {
        return Plan::Create;
    }
    if event || !room {
        return Plan::Refuse;
    }
    match s.occupancy {
        Some(o) if predicted_wait(s.ahead, s.busy, o) > max_wait => Plan::Refuse,
        _ => Plan::Wait,
    }
}

/// Counts an invocation as waiting in admission while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    pub fn new(settings: &AdmissionSettings, load: Arc<HostLoad>) -> Admission {
        Admission {
            cold_starts: Arc::new(Semaphore::new(settings.cold_starts.max(1))),
            max_wait: settings.max_wait,
            waiting: AtomicUsize::new(0),
            max_waiting: WAITERS_PER_CPU * cpus(),
            load,
        }
    }

    /// A place in the wait, unless the wait is full.
    fn enter(&self) -> Option<Waiting<'_>> {
        self.waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_waiting).then_some(n + 1)
            })
            .ok()
            .map(|_| Waiting(&self.waiting))
    }

    /// How an invocation of `version` that found no idle environment goes on. `event`:
    /// an Event attempt, which never waits.
    pub async fn scale_out(
        &self,
        entry: &FunctionEntry,
        version: &str,
        event: bool,
    ) -> Result<ScaleOut, Refused> {
        let situation = || {
            let ahead = entry.waiting_for(version);
            // The function's invocations less this one and those waiting like it.
            let others = u32::try_from(ahead + 1).unwrap_or(u32::MAX);
            Situation {
                saturated: self.load.saturated(),
                busy: entry.executing().saturating_sub(others),
                ahead,
                occupancy: entry.occupancy(),
            }
        };
        let room = self.waiting.load(Ordering::Acquire) < self.max_waiting;
        match plan(&situation(), self.max_wait, room, event) {
            Plan::Refuse => return Err(Refused),
            Plan::Wait => return self.wait_for_env(entry, version).await,
            Plan::Create => {}
        }
        let permit = match self.cold_starts.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) if event => return Err(Refused),
            Err(_) => {
                let _waiting = self.enter().ok_or(Refused)?;
                let acquire = self.cold_starts.clone().acquire_owned();
                match tokio::time::timeout(COLD_START_WAIT, acquire).await {
                    Ok(Ok(permit)) => permit,
                    _ => return Err(Refused),
                }
            }
        };
        // The host may have become saturated while this waited for the slot.
        let room = self.waiting.load(Ordering::Acquire) < self.max_waiting;
        match plan(&situation(), self.max_wait, room, event) {
            Plan::Create => Ok(ScaleOut::Start(permit)),
            Plan::Wait => {
                drop(permit);
                self.wait_for_env(entry, version).await
            }
            Plan::Refuse => Err(Refused),
        }
    }

    /// A cold-start slot for a provisioned environment: waited for in turn with on-demand
    /// starts and without a bound (the provisioner is in no hurry), so provisioned
    /// concurrency never creates environments faster than the host-wide limit either.
    pub async fn provisioned_slot(&self) -> Result<OwnedSemaphorePermit, Refused> {
        self.cold_starts
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Refused)
    }

    /// Waits at most `max_wait` for an environment of `version` to come back.
    async fn wait_for_env(
        &self,
        entry: &FunctionEntry,
        version: &str,
    ) -> Result<ScaleOut, Refused> {
        let _waiting = self.enter().ok_or(Refused)?;
        let mut handed = entry.wait_for_env(version);
        match tokio::time::timeout(self.max_wait, &mut handed).await {
            Ok(Ok(env)) => Ok(ScaleOut::Reused(env)),
            Ok(Err(_)) => Err(Refused),
            Err(_) => {
                // One may have been handed over just as the wait ran out.
                handed.close();
                handed.try_recv().map(ScaleOut::Reused).map_err(|_| Refused)
            }
        }
    }
}

/// How busy the CPUs the daemon may use are, sampled in the background: by anything (the
/// host's busy time there, `/proc/stat`) and by the daemon itself (its threads' CPU time
/// plus its environments', from their cgroups). Saturated means both: the CPUs are busy
/// *and* mostly with our work, so another environment would only share the same CPUs,
/// while load that is not ours (a build beside the daemon) does not stop functions from
/// scaling out. Where the environments' time is not known, the host's alone decides.
#[derive(Default)]
pub struct HostLoad {
    host_permille: AtomicU32,
    /// `None` (`u32::MAX`) when unknown.
    own_permille: AtomicU32,
}

/// The CPUs busy at or above this share (per mille) for saturation…
const HOST_BUSY_PERMILLE: u32 = 900;
/// …and at least this share of them busy with the daemon's own work.
const OWN_BUSY_PERMILLE: u32 = 500;

impl HostLoad {
    pub fn saturated(&self) -> bool {
        let own = self.own_permille.load(Ordering::Acquire);
        self.host_permille.load(Ordering::Acquire) >= HOST_BUSY_PERMILLE
            && (own == u32::MAX || own >= OWN_BUSY_PERMILLE)
    }

    fn set(&self, host: u32, own: Option<u32>) {
        self.host_permille.store(host, Ordering::Release);
        self.own_permille
            .store(own.unwrap_or(u32::MAX), Ordering::Release);
    }
}

/// Samples the load of the CPUs this process may use into `load` until it is dropped;
/// `environments` gives the CPU time every environment used so far, if known.
pub fn spawn_sampler(
    load: Weak<HostLoad>,
    environments: impl Fn() -> Option<Duration> + Send + 'static,
) {
    let cpus = cpus();
    let mine = affinity();
    tokio::spawn(async move {
        let mut last: Option<Reading> = None;
        loop {
            tokio::time::sleep(SAMPLE_EVERY).await;
            let Some(load) = load.upgrade() else { return };
            let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
                return;
            };
            let now = Reading {
                host: cpu_times(&stat, |cpu| mine.as_ref().is_none_or(|c| c.contains(&cpu))),
                own: environments().map(|envs| (envs + daemon_cpu(), Instant::now())),
            };
            if let Some(before) = &last {
                let own = match (before.own, now.own) {
                    (Some((u0, t0)), Some((u1, t1))) => Some(own_permille(
                        u1.saturating_sub(u0),
                        t1.duration_since(t0),
                        cpus,
                    )),
                    _ => None,
                };
                load.set(busy_permille(&before.host, &now.host), own);
            }
            last = Some(now);
        }
    });
}

/// How much CPU has been used so far: by anything on the daemon's CPUs, and by the daemon
/// and its environments (with when it was read).
struct Reading {
    host: CpuTimes,
    own: Option<(Duration, Instant)>,
}

/// The daemon's own CPU time, all threads.
fn daemon_cpu() -> Duration {
    use nix::sys::resource::{getrusage, UsageWho};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else {
        return Duration::ZERO;
    };
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
    };
    tv(usage.user_time()) + tv(usage.system_time())
}

/// CPU time `used` over `wall` on `cpus` CPUs, per mille of what they could give.
fn own_permille(used: Duration, wall: Duration, cpus: usize) -> u32 {
    let capacity = wall.as_secs_f64() * cpus.max(1) as f64;
    if capacity <= 0.0 {
        return 0;
    }
    (used.as_secs_f64() / capacity * 1000.0).min(1000.0) as u32
}

/// The CPUs in this process's affinity mask; `None` if it cannot be read (all count).
fn affinity() -> Option<Vec<usize>> {
    let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok()?;
    Some(
        (0..nix::sched::CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .collect(),
    )
}

/// Jiffies summed over some CPUs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct CpuTimes {
    total: u64,
    idle: u64,
}

/// The `cpuN` lines of `/proc/stat` for which `wanted(N)`, summed; idle includes iowait.
fn cpu_times(stat: &str, wanted: impl Fn(usize) -> bool) -> CpuTimes {
    let mut sum = CpuTimes::default();
    for line in stat.lines() {
        let mut fields = line.split_ascii_whitespace();
        let Some(cpu) = fields.next().and_then(|f| f.strip_prefix("cpu")) else {
            continue;
        };
        let Ok(n) = cpu.parse::<usize>() else {
            continue;
        };
        if !wanted(n) {
            continue;
        }
        // user nice system idle iowait irq softirq steal (guest time is within user).
        let values: Vec<u64> = fields.take(8).filter_map(|f| f.parse().ok()).collect();
        sum.total += values.iter().sum::<u64>();
        sum.idle += values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    }
    sum
}

/// The busy share between two samples, per mille (0 when no time passed).
fn busy_permille(before: &CpuTimes, after: &CpuTimes) -> u32 {
    let total = after.total.saturating_sub(before.total);
    let idle = after.idle.saturating_sub(before.idle).min(total);
    if total == 0 {
        return 0;
    }
    u32::try_from((total - idle) * 1000 / total).unwrap_or(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(saturated: bool, busy: u32, ahead: usize, occupancy_ms: Option<u64>) -> Situation {
        Situation {
            saturated,
            busy,
            ahead,
            occupancy: occupancy_ms.map(Duration::from_millis),
        }
    }

    const BOUND: Duration = Duration::from_millis(20);

    #[test]
    fn a_host_with_room_creates_environments() {
        assert_eq!(
            plan(&at(false, 5, 100, Some(1000)), BOUND, true, false),
            Plan::Create
        );
        assert_eq!(
            plan(&at(false, 5, 0, None), BOUND, false, true),
            Plan::Create
        );
    }

    #[test]
    fn a_saturated_host_creates_only_a_functions_first_environment() {
        assert_eq!(
            plan(&at(true, 0, 0, None), BOUND, true, false),
            Plan::Create
        );
        assert_eq!(plan(&at(true, 1, 0, None), BOUND, true, false), Plan::Wait);
    }

    #[test]
    fn the_wait_is_bounded_in_time_and_length() {
        // 4 environments busy 10 ms each: the 8th waiter ahead means 9 turns over 4, 22.5 ms.
        assert_eq!(
            plan(&at(true, 4, 6, Some(10)), BOUND, true, false),
            Plan::Wait
        );
        assert_eq!(
            plan(&at(true, 4, 8, Some(10)), BOUND, true, false),
            Plan::Refuse
        );
        assert_eq!(
            plan(&at(true, 4, 0, Some(10)), BOUND, false, false),
            Plan::Refuse,
            "full"
        );
    }

    #[test]
    fn events_never_wait() {
        assert_eq!(
            plan(&at(true, 1, 0, Some(1)), BOUND, true, true),
            Plan::Refuse
        );
    }

    #[test]
    fn predicted_waits_share_the_turns_among_environments() {
        let ms = Duration::from_millis;
        assert_eq!(predicted_wait(0, 1, ms(10)), ms(10));
        assert_eq!(predicted_wait(3, 2, ms(10)), ms(20));
        assert_eq!(predicted_wait(0, 0, ms(10)), ms(10), "no division by zero");
    }

    const STAT: &str = "cpu  30 0 10 50 10 0 0 0 0 0\n\
                        cpu0 20 0 5 20 5 0 0 0 0 0\n\
                        cpu1 10 0 5 30 5 0 0 0 0 0\n\
                        intr 12345\nctxt 99\n";

    #[test]
    fn cpu_times_sum_the_wanted_cpus_only() {
        assert_eq!(
            cpu_times(STAT, |_| true),
            CpuTimes {
                total: 100,
                idle: 60
            }
        );
        assert_eq!(
            cpu_times(STAT, |c| c == 0),
            CpuTimes {
                total: 50,
                idle: 25
            }
        );
        assert_eq!(cpu_times(STAT, |_| false), CpuTimes::default());
    }

    #[test]
    fn busy_share_between_samples() {
        let a = CpuTimes {
            total: 100,
            idle: 60,
        };
        assert_eq!(
            busy_permille(
                &a,
                &CpuTimes {
                    total: 200,
                    idle: 65
                }
            ),
            950
        );
        assert_eq!(
            busy_permille(
                &a,
                &CpuTimes {
                    total: 200,
                    idle: 160
                }
            ),
            0
        );
        assert_eq!(busy_permille(&a, &a), 0, "no time passed");
        let ms = Duration::from_millis;
        assert_eq!(own_permille(ms(95), ms(100), 1), 950);
        assert_eq!(own_permille(ms(95), ms(100), 2), 475);
        assert_eq!(
            own_permille(ms(300), ms(100), 2),
            1000,
            "at most all of them"
        );
        assert_eq!(own_permille(ms(1), Duration::ZERO, 1), 0, "no time passed");
    }

    #[test]
    fn saturation_is_busy_cpus_mostly_with_our_work() {
        let load = HostLoad::default();
        load.set(950, Some(800));
        assert!(load.saturated());
        load.set(899, Some(800));
        assert!(!load.saturated(), "CPUs not busy enough");
        load.set(1000, Some(300));
        assert!(!load.saturated(), "busy with other work");
        load.set(950, None);
        assert!(
            load.saturated(),
            "our share unknown: the host's busy time decides"
        );
    }

    fn admission(cold_starts: usize, saturated: bool) -> Admission {
        let load = Arc::new(HostLoad::default());
        load.set(if saturated { 1000 } else { 0 }, Some(1000));
        let settings = AdmissionSettings {
            cold_starts,
            max_wait: BOUND,
        };
        Admission::new(&settings, load)
    }

    fn function() -> Arc<FunctionEntry> {
        let registry = super::super::registry::Registry::default();
        registry.function(&control::Scope::new("000000000000", "us-east-1"), "f", 10)
    }

    #[tokio::test(start_paused = true)]
    async fn cold_starts_are_limited_and_waited_for_in_turn() {
        let a = admission(1, false);
        let f = function();
        let (_me, _, _) = f.start_executing();
        let Ok(ScaleOut::Start(first)) = a.scale_out(&f, "1", false).await else {
            panic!("the first cold start gets the slot");
        };
        assert_eq!(
            a.scale_out(&f, "1", true).await.err(),
            Some(Refused),
            "an Event attempt does not wait for a slot"
        );
        let waiting = a.scale_out(&f, "1", false);
        tokio::pin!(waiting);
        assert!(futures::poll!(&mut waiting).is_pending());
        drop(first);
        assert!(matches!(waiting.await, Ok(ScaleOut::Start(_))));
    }

    #[tokio::test]
    async fn provisioned_starts_take_cold_start_slots_in_turn() {
        let a = admission(1, false);
        let f = function();
        let Ok(ScaleOut::Start(held)) = a.scale_out(&f, "1", false).await else {
            panic!("the slot");
        };
        let provisioned = a.provisioned_slot();
        tokio::pin!(provisioned);
        assert!(futures::poll!(&mut provisioned).is_pending());
        drop(held);
        let slot = provisioned.await.unwrap();
        assert_eq!(
            a.scale_out(&f, "1", true).await.err(),
            Some(Refused),
            "the provisioned start holds the one slot"
        );
        drop(slot);
        assert!(matches!(
            a.scale_out(&f, "1", true).await,
            Ok(ScaleOut::Start(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cold_start_slot_is_waited_for_a_bounded_time() {
        let a = admission(1, false);
        let f = function();
        let Ok(ScaleOut::Start(_held)) = a.scale_out(&f, "1", false).await else {
            panic!("the slot");
        };
        assert_eq!(a.scale_out(&f, "1", false).await.err(), Some(Refused));
        assert_eq!(a.waiting.load(Ordering::Acquire), 0, "nobody left waiting");
    }

    #[tokio::test(start_paused = true)]
    async fn a_saturated_host_refuses_after_the_bounded_wait() {
        let a = admission(4, true);
        let f = function();
        let (_other, _, _) = f.start_executing();
        let (_me, _, _) = f.start_executing();
        let waiting = a.scale_out(&f, "1", false);
        tokio::pin!(waiting);
        assert!(futures::poll!(&mut waiting).is_pending());
        assert_eq!(f.waiting_for("1"), 1, "in line for an environment");
        assert_eq!(waiting.await.err(), Some(Refused), "none came back in time");
        assert_eq!(f.waiting_for("1"), 0);
        assert_eq!(
            a.scale_out(&f, "1", true).await.err(),
            Some(Refused),
            "events never wait"
        );
        assert_eq!(a.waiting.load(Ordering::Acquire), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_saturated_host_refuses_at_once_what_would_wait_too_long() {
        let a = admission(4, true);
        let f = function();
        let (_other, _, _) = f.start_executing();
        let (_me, _, _) = f.start_executing();
        f.observe_occupancy(Duration::from_millis(50));
        let mut refused = Box::pin(a.scale_out(&f, "1", false));
        assert!(
            matches!(
                futures::poll!(&mut refused),
                std::task::Poll::Ready(Err(Refused))
            ),
            "refused on the first poll, without waiting"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_saturated_host_still_creates_a_functions_first_environment() {
        let a = admission(1, true);
        let f = function();
        let (_me, _, _) = f.start_executing();
        assert!(matches!(
            a.scale_out(&f, "1", false).await,
            Ok(ScaleOut::Start(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_is_bounded_in_length() {
        let a = admission(1, false);
        let f = function();
        let Ok(ScaleOut::Start(_held)) = a.scale_out(&f, "1", false).await else {
            panic!("the slot");
        };
        let mut waiting = Vec::new();
        for _ in 0..a.max_waiting {
            let mut w = Box::pin(a.scale_out(&f, "1", false));
            assert!(futures::poll!(&mut w).is_pending());
            waiting.push(w);
        }
        assert_eq!(
            a.scale_out(&f, "1", false).await.err(),
            Some(Refused),
            "full"
        );
    }
}
