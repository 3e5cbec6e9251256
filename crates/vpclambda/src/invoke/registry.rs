//! The in-memory side of functions that have been invoked: per account the unreserved
//! concurrency pool, per function its in-flight count, its resolved versions (cached until
//! the control plane changes something) and its pools of warm environments, on-demand ones
//! and provisioned ones (initialized ahead, never frozen or expired, served first), and the
//! invocations waiting for one of them to come back (see `admission`).
//!
//! The maps are copy-on-write (`ArcSwap`): a lookup is lock-free, only the first invoke of
//! a function copies the map. Everything else is behind per-function locks held for a few
//! instructions, never across an await.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use control::lambda::Runnable;
use control::Scope;
use tokio::sync::oneshot;

use super::pool::{Claim, LiveEnv};

/// A resolved function version, as cached between control-plane changes.
pub struct Target {
    pub scope: Scope,
    pub runnable: Runnable,
    pub reserved: Option<u32>,
    /// Changes when anything an environment is built from changes (settings, code).
    pub fingerprint: u64,
    /// `Lambda-Runtime-Invoked-Function-Arn`: the ARN with the qualifier invoked.
    pub invoked_arn: String,
}

impl Target {
    pub fn version(&self) -> &str {
        &self.runnable.version.version
    }
}

/// A count of invocations in flight against a limit.
#[derive(Default)]
pub struct Counter(AtomicU32);

impl Counter {
    /// One more, unless that would pass `limit`.
    fn try_acquire(self: &Arc<Self>, limit: u32) -> Option<Permit> {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Permit(self.clone()))
    }
}

/// One slot of concurrency; given back when dropped.
pub struct Permit(Arc<Counter>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One invocation running function code; counted out of its function's and account's
/// executions when dropped.
pub struct Executing {
    function: Arc<AtomicU32>,
    account: Arc<AtomicU32>,
}

impl Drop for Executing {
    fn drop(&mut self) {
        self.function.fetch_sub(1, Ordering::AcqRel);
        self.account.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An idle environment as operators see it (the console, `/metrics`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvironmentView {
    pub id: String,
    pub version: String,
    /// `idle`, `frozen` or `provisioned`.
    pub state: &'static str,
    pub zone: Option<String>,
    pub eni: Option<String>,
}

/// Which limit refused an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// The function's reserved concurrency.
    Reserved,
    /// The account's unreserved concurrency.
    Account,
    /// The host: no environment of the function free in time, none to be created.
    Host,
}

pub struct AccountEntry {
    unreserved: Arc<Counter>,
    /// Invocations of the account's functions running code now.
    executing: Arc<AtomicU32>,
    /// The account limit less every function's reservation.
    pub unreserved_limit: AtomicU32,
}

pub struct FunctionEntry {
    account: Arc<AccountEntry>,
    in_flight: Arc<Counter>,
    /// Invocations of this function running code now (reserved or not).
    executing: Arc<AtomicU32>,
    /// How long an invocation recently kept its environment, on average (ns; 0: unknown).
    occupancy_ns: AtomicU64,
    targets: Mutex<HashMap<Option<String>, Cached>>,
    pools: Mutex<HashMap<String, VersionPool>>,
}

/// A resolution by qualifier, with the control-plane generation it was read at.
struct Cached {
    generation: u64,
    target: Arc<Target>,
}

/// The idle environments of one version, all built from the `current` fingerprint.
#[derive(Default)]
struct VersionPool {
    current: u64,
    idle: Vec<Idle>,
    provisioned: Provisioned,
    /// Invocations waiting for an environment to come back, oldest first.
    waiters: VecDeque<oneshot::Sender<Arc<LiveEnv>>>,
}

/// A version's provisioned concurrency: how many environments it wants, how many are
/// initialized (idle or running) and being started, the idle ones, and the invocations
/// admitted on its capacity.
#[derive(Default)]
struct Provisioned {
    wanted: u32,
    ready: Arc<AtomicU32>,
    starting: u32,
    idle: Vec<Arc<LiveEnv>>,
    busy: Arc<Counter>,
}

/// Counts one initialized provisioned environment in its version's `ready` until released
/// (explicitly when it leaves the pool, or when the environment goes away).
pub struct Slot {
    ready: Arc<AtomicU32>,
    held: AtomicBool,
}

impl Slot {
    fn new(ready: &Arc<AtomicU32>) -> Slot {
        ready.fetch_add(1, Ordering::AcqRel);
        Slot {
            ready: ready.clone(),
            held: AtomicBool::new(true),
        }
    }

    fn release(&self) {
        if self.held.swap(false, Ordering::AcqRel) {
            self.ready.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.release();
    }
}

/// How busy a version's provisioned concurrency is, as an invocation starts.
pub struct ProvisionedLoad {
    pub busy: u32,
    pub ready: u32,
}

struct Idle {
    env: Arc<LiveEnv>,
    since: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data under these locks stays consistent at every step, so a panic elsewhere
    // while one was held leaves nothing to repair.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FunctionEntry {
    /// A concurrency slot for an invocation of `target`. A function with a reservation
    /// runs its provisioned concurrency out of it; one without takes a slot of its version's
    /// provisioned capacity first (which the unreserved pool does not include), and of the
    /// unreserved pool only once that is all busy (spillover).
    pub fn admit(&self, target: &Target) -> Result<Permit, Throttle> {
        match target.reserved {
            Some(r) => self.in_flight.try_acquire(r).ok_or(Throttle::Reserved),
            None => {
                if let Some(permit) = self.provisioned_permit(target.version()) {
                    return Ok(permit);
                }
                let limit = self.account.unreserved_limit.load(Ordering::Acquire);
                self.account
                    .unreserved
                    .try_acquire(limit)
                    .ok_or(Throttle::Account)
            }
        }
    }

    /// Counts an invocation as running code until the guard drops; with the function's and
    /// the account's executions counting it (ConcurrentExecutions).
    pub fn start_executing(&self) -> (Executing, u32, u32) {
        let function = self.executing.fetch_add(1, Ordering::AcqRel) + 1;
        let account = self.account.executing.fetch_add(1, Ordering::AcqRel) + 1;
        let guard = Executing {
            function: self.executing.clone(),
            account: self.account.executing.clone(),
        };
        (guard, function, account)
    }

    /// Invocations of this function running code now.
    pub fn executing(&self) -> u32 {
        self.executing.load(Ordering::Acquire)
    }

    /// Counts one invocation's time on its environment into the recent average.
    pub fn observe_occupancy(&self, took: Duration) {
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1);
        let _ = self
            .occupancy_ns
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                Some(if old == 0 {
                    took
                } else {
                    old - old / 8 + took / 8
                })
            });
    }

    /// How long an invocation recently kept its environment, on average.
    pub fn occupancy(&self) -> Option<Duration> {
        match self.occupancy_ns.load(Ordering::Acquire) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// Invocations waiting for an environment of `version` now.
    pub fn waiting_for(&self, version: &str) -> usize {
        let mut pools = lock(&self.pools);
        pools.get_mut(version).map_or(0, |pool| {
            pool.waiters.retain(|w| !w.is_closed());
            pool.waiters.len()
        })
    }

    /// A place in line for the next environment of `version` that comes back.
    pub fn wait_for_env(&self, version: &str) -> oneshot::Receiver<Arc<LiveEnv>> {
        let (tx, rx) = oneshot::channel();
        let mut pools = lock(&self.pools);
        let pool = pools.entry(version.to_string()).or_default();
        pool.waiters.retain(|w| !w.is_closed());
        pool.waiters.push_back(tx);
        rx
    }

    fn provisioned_permit(&self, version: &str) -> Option<Permit> {
        let pools = lock(&self.pools);
        let p = &pools.get(version)?.provisioned;
        let ready = p.ready.load(Ordering::Acquire);
        (ready > 0).then(|| p.busy.try_acquire(ready)).flatten()
    }

    /// The version's provisioned capacity in use; `None` without provisioned concurrency.
    pub fn provisioned_load(&self, version: &str) -> Option<ProvisionedLoad> {
        let pools = lock(&self.pools);
        let p = &pools.get(version)?.provisioned;
        (p.wanted > 0).then(|| ProvisionedLoad {
            busy: p.busy.0.load(Ordering::Acquire),
            ready: p.ready.load(Ordering::Acquire),
        })
    }

    /// The environments in this function's pools (running ones are not in a pool).
    pub fn environments(&self) -> Vec<EnvironmentView> {
        let pools = lock(&self.pools);
        let view = |env: &LiveEnv, state: &'static str| EnvironmentView {
            id: env.hex.clone(),
            version: env.version.clone(),
            state,
            zone: env.zone().map(str::to_string),
            eni: env.eni().map(str::to_string),
        };
        let mut out = Vec::new();
        for pool in pools.values() {
            for idle in &pool.idle {
                let state = if idle.env.is_frozen() {
                    "frozen"
                } else {
                    "idle"
                };
                out.push(view(&idle.env, state));
            }
            for env in &pool.provisioned.idle {
                out.push(view(env, "provisioned"));
            }
        }
        out
    }

    /// Sets how many provisioned environments `version` (built from `fingerprint`) wants.
    /// Returns how many to start now (counted as starting until [`Self::add_provisioned`]
    /// or [`Self::provisioned_failed`]; none unless `start`) and the environments to
    /// destroy: idle surplus, dead ones, and any of an older build.
    pub fn provision(
        &self,
        version: &str,
        fingerprint: u64,
        wanted: u32,
        start: bool,
    ) -> (u32, Vec<Arc<LiveEnv>>) {
        let mut pools = lock(&self.pools);
        let pool = pools.entry(version.to_string()).or_default();
        let mut gone = Vec::new();
        if pool.current != fingerprint {
            pool.current = fingerprint;
            gone.extend(pool.idle.drain(..).map(|i| i.env));
            gone.append(&mut pool.provisioned.idle);
        }
        let p = &mut pool.provisioned;
        p.wanted = wanted;
        let (dead, alive): (Vec<_>, Vec<_>) = p.idle.drain(..).partition(|e| !e.env.is_alive());
        p.idle = alive;
        gone.extend(dead);
        while p.ready.load(Ordering::Acquire) > wanted {
            let Some(env) = p.idle.pop() else { break };
            gone.push(env);
        }
        for env in &gone {
            if let Some(slot) = &env.provisioned {
                slot.release();
            }
        }
        let have = p.ready.load(Ordering::Acquire) + p.starting;
        let to_start = if start {
            wanted.saturating_sub(have)
        } else {
            0
        };
        p.starting += to_start;
        (to_start, gone)
    }

    /// A provisioned environment finished its init: it joins the pool, unless the version
    /// no longer wants it (or changed meanwhile), when it is handed back to be destroyed.
    pub fn add_provisioned(&self, mut live: LiveEnv) -> Option<LiveEnv> {
        let mut pools = lock(&self.pools);
        let pool = pools.entry(live.version.clone()).or_default();
        let p = &mut pool.provisioned;
        p.starting = p.starting.saturating_sub(1);
        if pool.current != live.fingerprint || p.ready.load(Ordering::Acquire) >= p.wanted {
            return Some(live);
        }
        live.provisioned = Some(Slot::new(&p.ready));
        p.idle.push(Arc::new(live));
        None
    }

    /// `version` no longer has provisioned concurrency: its idle provisioned environments
    /// are returned to be destroyed; running ones are when they finish.
    pub fn unprovision(&self, version: &str) -> Vec<Arc<LiveEnv>> {
        let mut pools = lock(&self.pools);
        let Some(pool) = pools.get_mut(version) else {
            return Vec::new();
        };
        pool.provisioned.wanted = 0;
        release_all(pool.provisioned.idle.drain(..).collect())
    }

    /// A provisioned environment of `version` could not be started.
    pub fn provisioned_failed(&self, version: &str) {
        let mut pools = lock(&self.pools);
        if let Some(pool) = pools.get_mut(version) {
            pool.provisioned.starting = pool.provisioned.starting.saturating_sub(1);
        }
    }

    /// Initialized provisioned environments of `version`.
    pub fn provisioned_ready(&self, version: &str) -> u32 {
        lock(&self.pools)
            .get(version)
            .map_or(0, |pool| pool.provisioned.ready.load(Ordering::Acquire))
    }

    /// Versions that want provisioned environments or still have some.
    pub fn provisioned_versions(&self) -> Vec<String> {
        lock(&self.pools)
            .iter()
            .filter(|(_, pool)| {
                let p = &pool.provisioned;
                p.wanted > 0 || !p.idle.is_empty() || p.ready.load(Ordering::Acquire) > 0
            })
            .map(|(v, _)| v.clone())
            .collect()
    }

    pub fn cached(&self, qualifier: &Option<String>, generation: u64) -> Option<Arc<Target>> {
        lock(&self.targets)
            .get(qualifier)
            .filter(|c| c.generation == generation)
            .map(|c| c.target.clone())
    }

    pub fn remember(&self, qualifier: Option<String>, generation: u64, target: Arc<Target>) {
        lock(&self.targets).insert(qualifier, Cached { generation, target });
    }

    pub fn set_unreserved_limit(&self, limit: u32) {
        self.account
            .unreserved_limit
            .store(limit, Ordering::Release);
    }

    /// A warm environment of `version` built from `fingerprint`, if one is idle; and the
    /// environments that must go because the version changed since they were built.
    pub fn take_idle(
        &self,
        version: &str,
        fingerprint: u64,
    ) -> (Option<Arc<LiveEnv>>, Vec<Arc<LiveEnv>>) {
        let mut pools = lock(&self.pools);
        let pool = pools.entry(version.to_string()).or_default();
        let mut stale = Vec::new();
        if pool.current != fingerprint {
            pool.current = fingerprint;
            stale.extend(pool.idle.drain(..).map(|i| i.env));
            stale.append(&mut pool.provisioned.idle);
        }
        // Provisioned environments first: they are kept for this.
        while let Some(env) = pool.provisioned.idle.pop() {
            if env.env.is_alive() {
                return (Some(env), release_all(stale));
            }
            stale.push(env);
        }
        // The most recently used first: it is the likeliest to be warm in every cache.
        while let Some(idle) = pool.idle.pop() {
            if idle.env.env.is_alive() {
                return (Some(idle.env), release_all(stale));
            }
            stale.push(idle.env);
        }
        (None, release_all(stale))
    }

    /// Returns an environment to its pool; gives it back when it is stale (built from an
    /// older configuration) so the caller destroys it.
    pub fn put_back(&self, env: Arc<LiveEnv>) -> Option<Arc<LiveEnv>> {
        let mut pools = lock(&self.pools);
        let pool = pools.entry(env.version.clone()).or_default();
        if pool.current != env.fingerprint {
            return release_all(vec![env]).pop();
        }
        if let Some(slot) = &env.provisioned {
            let p = &mut pool.provisioned;
            // Surplus after the configuration was reduced or deleted.
            if p.ready.load(Ordering::Acquire) > p.wanted {
                slot.release();
                return Some(env);
            }
            let env = hand_over(&mut pool.waiters, env)?;
            pool.provisioned.idle.push(env);
            return None;
        }
        let env = hand_over(&mut pool.waiters, env)?;
        pool.idle.push(Idle {
            env,
            since: Instant::now(),
        });
        None
    }

    /// Removes the idle environments in Availability Zone `zone`.
    pub fn drain_zone(&self, zone: &str) -> Vec<Arc<LiveEnv>> {
        let mut pools = lock(&self.pools);
        let mut out = Vec::new();
        for pool in pools.values_mut() {
            let (gone, keep): (Vec<Idle>, Vec<Idle>) = pool
                .idle
                .drain(..)
                .partition(|i| i.env.zone() == Some(zone));
            pool.idle = keep;
            out.extend(gone.into_iter().map(|i| i.env));
            // Provisioned ones too; the provisioner replaces them elsewhere.
            let (gone, keep): (Vec<_>, Vec<_>) = pool
                .provisioned
                .idle
                .drain(..)
                .partition(|e| e.zone() == Some(zone));
            pool.provisioned.idle = keep;
            out.extend(gone);
        }
        release_all(out)
    }

    /// Idle environments that have not run for `grace` and are not frozen yet, each with
    /// its claim, so no invocation starts on one before the freeze is over.
    pub fn freezable(&self, grace: Duration) -> Vec<(Arc<LiveEnv>, Claim)> {
        let pools = lock(&self.pools);
        let mut out = Vec::new();
        for idle in pools.values().flat_map(|p| &p.idle) {
            if idle.since.elapsed() < grace || idle.env.is_frozen() || !idle.env.env.is_alive() {
                continue;
            }
            if let Some(claim) = idle.env.try_claim() {
                out.push((idle.env.clone(), claim));
            }
        }
        out
    }

    /// Removes on-demand environments idle for longer than `idle_timeout`; with `None`,
    /// every idle one, provisioned ones included (shutdown).
    pub fn expire(&self, idle_timeout: Option<Duration>) -> Vec<Arc<LiveEnv>> {
        let mut pools = lock(&self.pools);
        let mut out = Vec::new();
        for pool in pools.values_mut() {
            if idle_timeout.is_none() {
                pool.provisioned.wanted = 0;
                out.extend(release_all(pool.provisioned.idle.drain(..).collect()));
            }
            let (keep, gone): (Vec<Idle>, Vec<Idle>) = pool.idle.drain(..).partition(|i| {
                idle_timeout.is_some_and(|t| i.since.elapsed() < t) && i.env.env.is_alive()
            });
            pool.idle = keep;
            out.extend(gone.into_iter().map(|i| i.env));
        }
        out
    }
}

/// Gives `env` to the oldest invocation still waiting; back when none is.
fn hand_over(
    waiters: &mut VecDeque<oneshot::Sender<Arc<LiveEnv>>>,
    mut env: Arc<LiveEnv>,
) -> Option<Arc<LiveEnv>> {
    while let Some(waiter) = waiters.pop_front() {
        match waiter.send(env) {
            Ok(()) => return None,
            Err(back) => env = back,
        }
    }
    Some(env)
}

/// Lets go of the provisioned slots of environments leaving their pool.
fn release_all(envs: Vec<Arc<LiveEnv>>) -> Vec<Arc<LiveEnv>> {
    for env in &envs {
        if let Some(slot) = &env.provisioned {
            slot.release();
        }
    }
    envs
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct FunctionKey {
    scope: Scope,
    name: String,
}

/// Every account and function seen by this daemon.
#[derive(Default)]
pub struct Registry {
    accounts: ArcSwap<HashMap<Scope, Arc<AccountEntry>>>,
    functions: ArcSwap<HashMap<FunctionKey, Arc<FunctionEntry>>>,
    /// Bumped by every control-plane change; cached resolutions older than it are stale.
    generation: AtomicU64,
}

impl Registry {
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn function(&self, scope: &Scope, name: &str, account_limit: u32) -> Arc<FunctionEntry> {
        let key = FunctionKey {
            scope: scope.clone(),
            name: name.to_string(),
        };
        if let Some(f) = self.functions.load().get(&key) {
            return f.clone();
        }
        let account = self.account(scope, account_limit);
        let fresh = Arc::new(FunctionEntry {
            account,
            in_flight: Arc::default(),
            executing: Arc::default(),
            occupancy_ns: AtomicU64::new(0),
            targets: Mutex::default(),
            pools: Mutex::default(),
        });
        self.functions.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.entry(key.clone()).or_insert_with(|| fresh.clone());
            map
        });
        self.functions.load().get(&key).cloned().unwrap_or(fresh)
    }

    fn account(&self, scope: &Scope, account_limit: u32) -> Arc<AccountEntry> {
        if let Some(a) = self.accounts.load().get(scope) {
            return a.clone();
        }
        let fresh = Arc::new(AccountEntry {
            unreserved: Arc::default(),
            executing: Arc::default(),
            unreserved_limit: AtomicU32::new(account_limit),
        });
        self.accounts.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.entry(scope.clone()).or_insert_with(|| fresh.clone());
            map
        });
        self.accounts.load().get(scope).cloned().unwrap_or(fresh)
    }

    /// Every function entry with its scope and name.
    pub fn named(&self) -> Vec<(Scope, String, Arc<FunctionEntry>)> {
        self.functions
            .load()
            .iter()
            .map(|(k, e)| (k.scope.clone(), k.name.clone(), e.clone()))
            .collect()
    }

    /// Every function entry (for the reaper and shutdown).
    pub fn all(&self) -> Vec<Arc<FunctionEntry>> {
        self.functions.load().values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_count_against_their_limit_and_come_back() {
        let c = Arc::new(Counter::default());
        let a = c.try_acquire(2).unwrap();
        let _b = c.try_acquire(2).unwrap();
        assert!(c.try_acquire(2).is_none());
        drop(a);
        assert!(c.try_acquire(2).is_some());
        assert!(Arc::new(Counter::default()).try_acquire(0).is_none());
    }

    #[test]
    fn one_entry_per_function() {
        let r = Registry::default();
        let s = Scope::new("000000000000", "us-east-1");
        let a = r.function(&s, "f", 10);
        let b = r.function(&s, "f", 10);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &r.function(&s, "g", 10)));
        assert!(Arc::ptr_eq(&a.account, &r.function(&s, "g", 10).account));
        assert_eq!(r.all().len(), 2);
    }

    #[test]
    fn provisioned_slots_count_once() {
        let ready = Arc::new(AtomicU32::new(0));
        let a = Slot::new(&ready);
        let b = Slot::new(&ready);
        assert_eq!(ready.load(Ordering::Acquire), 2);
        a.release();
        a.release();
        assert_eq!(ready.load(Ordering::Acquire), 1, "released once");
        drop(a);
        assert_eq!(ready.load(Ordering::Acquire), 1);
        drop(b);
        assert_eq!(
            ready.load(Ordering::Acquire),
            0,
            "released when it goes away"
        );
    }

    #[test]
    fn provisioning_starts_what_is_missing_once() {
        let r = Registry::default();
        let f = r.function(&Scope::new("000000000000", "us-east-1"), "f", 10);
        assert!(f.provisioned_versions().is_empty());
        let (n, gone) = f.provision("1", 7, 3, true);
        assert_eq!((n, gone.len()), (3, 0));
        assert_eq!(f.provision("1", 7, 3, true).0, 0, "already starting");
        f.provisioned_failed("1");
        assert_eq!(
            f.provision("1", 7, 3, false).0,
            0,
            "a failed one is not retried"
        );
        assert_eq!(f.provision("1", 7, 3, true).0, 1);
        assert_eq!(f.provisioned_versions(), vec!["1".to_string()]);
        assert!(f
            .provisioned_load("1")
            .is_some_and(|l| l.busy == 0 && l.ready == 0));
        assert!(
            f.provisioned_permit("1").is_none(),
            "nothing ready: no provisioned slot"
        );
        assert!(f.unprovision("1").is_empty());
        assert!(f.provisioned_load("1").is_none());
    }

    #[test]
    fn executions_count_per_function_and_account() {
        let r = Registry::default();
        let s = Scope::new("000000000000", "us-east-1");
        let (f, g) = (r.function(&s, "f", 10), r.function(&s, "g", 10));
        let (a, 1, 1) = f.start_executing() else {
            panic!()
        };
        let (_b, 1, 2) = g.start_executing() else {
            panic!()
        };
        drop(a);
        let (_c, 1, 2) = f.start_executing() else {
            panic!()
        };
    }
}
