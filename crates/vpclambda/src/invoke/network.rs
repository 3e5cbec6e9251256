//! The network an execution environment runs in, decided before any function code runs.
//!
//! - Without a running dataplane (not root, or it failed to start): an isolated namespace
//!   with only `lo`.
//! - A function without a VPC: a namespace on the simulated internet `vl-pub`, and nothing
//!   else.
//! - A VPC function: a namespace behind one ENI of the function's VPC, with the VPC
//!   resolver in `/etc/resolv.conf`. Which ENI follows the ENI mode: `legacy` (the seed)
//!   gives each function its own ENIs, created as it scales out, each carrying up to
//!   [`environments_per_eni`] environments, and refuses a scale-out that needs an ENI it
//!   cannot create with Lambda's 502 errors; `hyperplane` attaches to the function's shared
//!   ENI, made when the function was created or updated.
//!
//! Counts of live environments per ENI are held here, in memory (environments do not
//! survive a restart); which ENIs a function owns is in the store, as
//! [`SharedEni`] records of kind [`LEGACY_ENI`], so the reclaimer deletes them once the
//! function no longer uses them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use control::ec2::model::kind as ec2_kind;
use control::ec2::network_interface::{self, NewAttachment, NewNetworkInterface};
use control::ec2::{lookup, Ec2Error};
use control::eni::hyperplane::{SharedEni, SHARED_ENI};
use control::eni::rate::TokenBucket;
use control::eni::PlacementError;
use control::eni::{environments_per_eni, hyperplane_key, place, Candidate, EniMode, LEGACY_ENI};
use control::iam::lookup as roles;
use control::lambda::{FunctionVersion, VpcConfig};
use control::{Scope, StoreError, Tx, TxExt};
use dataplane::Dataplane;
use sandbox::NetnsChoice;

use super::pool::StartError;
use crate::server::AppState;

/// How long an environment waits for the dataplane to build its ENI's namespace.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Lambda's answer when EC2 fails in a way none of the specific errors describes (every
/// configured subnet is in an impaired Availability Zone).
const EC2_UNEXPECTED: (&str, &str) = (
    "EC2UnexpectedException",
    "Lambda received an unexpected Amazon EC2 client exception while setting up for the Lambda function.",
);

/// The network side of the invoke path; one per daemon.
pub struct Network {
    /// The daemon, once it is assembled (the invoker exists before it).
    state: OnceLock<Weak<AppState>>,
    /// Serialises ENI decisions per (scope, function), so concurrent cold starts of one
    /// function fill an ENI before another is made.
    deciding: Mutex<HashMap<(Scope, String), Decision>>,
    uses: Arc<Uses>,
    /// EC2's rate limit on ENI creation, per account and region.
    buckets: Arc<Mutex<HashMap<Scope, TokenBucket>>>,
    /// The origin of the buckets' clock.
    epoch: Instant,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            state: OnceLock::new(),
            deciding: Mutex::default(),
            uses: Arc::default(),
            buckets: Arc::default(),
            epoch: Instant::now(),
        }
    }
}

/// Held while one function's environment picks (or creates) its ENI.
type Decision = Arc<tokio::sync::Mutex<()>>;

/// Live environments per ENI id, and the dataplane generation that realizes the ENI.
#[derive(Default)]
struct Uses(Mutex<HashMap<String, EniUse>>);

#[derive(Clone, Copy)]
struct EniUse {
    environments: u32,
    generation: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is a single insert or counter change, so a panic
    // elsewhere cannot leave them half-done.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Uses {
    fn environments(&self, eni: &str) -> u32 {
        lock(&self.0).get(eni).map_or(0, |u| u.environments)
    }

    /// One more environment on `eni`; returns the generation to wait for.
    fn take(&self, eni: &str, generation: u64) -> u64 {
        let mut uses = lock(&self.0);
        let entry = uses.entry(eni.to_owned()).or_insert(EniUse {
            environments: 0,
            generation,
        });
        entry.environments += 1;
        entry.generation = entry.generation.max(generation);
        entry.generation
    }

    fn give_back(&self, eni: &str) {
        let mut uses = lock(&self.0);
        if let Some(entry) = uses.get_mut(eni) {
            entry.environments = entry.environments.saturating_sub(1);
            if entry.environments == 0 {
                uses.remove(eni);
            }
        }
    }
}

/// An environment's place in the network, held as long as the environment lives: dropping
/// it frees the ENI slot and detaches the namespace.
pub struct Attachment {
    pub netns: NetnsChoice,
    /// The Availability Zone of a VPC environment's ENI (drained when it is impaired).
    pub zone: Option<String>,
    /// `/etc/resolv.conf` inside the environment (the VPC resolver for VPC functions, the
    /// simulated internet's for the others).
    pub resolv_conf: Option<String>,
    /// The trust store bound into the environment, with the daemon's CA: AWS's endpoints
    /// on the simulated internet are served with its certificates.
    pub ca_bundle: Option<std::path::PathBuf>,
    held: Option<Held>,
}

struct Held {
    dataplane: Arc<Dataplane>,
    env_id: String,
    /// The ENI slot taken, if any.
    slot: Option<(String, Arc<Uses>)>,
}

impl Attachment {
    /// The ENI whose slot a VPC environment holds.
    pub fn eni(&self) -> Option<&str> {
        self.held
            .as_ref()
            .and_then(|h| h.slot.as_ref())
            .map(|(eni, _)| eni.as_str())
    }

    fn isolated() -> Attachment {
        Attachment {
            netns: NetnsChoice::Isolated,
            zone: None,
            resolv_conf: None,
            ca_bundle: None,
            held: None,
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        if let Some((eni, uses)) = &held.slot {
            uses.give_back(eni);
        }
        // Outside a runtime (the daemon is exiting) nothing can be awaited; the next
        // `Dataplane::start` removes leftover environment namespaces.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = held.dataplane.detach_environment(&held.env_id).await {
                    tracing::warn!(env = %held.env_id, %error, "detaching an environment failed");
                }
            });
        }
    }
}

/// What a VPC function's environment needs from the store, read in one snapshot.
struct VpcView {
    cidr: dataplane::Ipv4Cidr,
    /// The Availability Zone of the ENI's subnet.
    zone: String,
    /// The ENI chosen, with the dataplane generation that realizes it (0: already there).
    eni: String,
    generation: u64,
}

/// Why no ENI could be had: one of Lambda's 502 errors, or a fault of ours.
enum Refusal {
    Lambda(&'static str, String),
    Host(String),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Host(e.to_string())
    }
}

impl From<Refusal> for StartError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Lambda(code, message) => StartError::Network { code, message },
            Refusal::Host(m) => StartError::Host(m),
        }
    }
}

/// One of Lambda's 502 errors by the function state reason code that names the same cause.
fn refused(reason_code: &str) -> Refusal {
    match super::network_failure(reason_code) {
        Some((code, message)) => Refusal::Lambda(code, message.to_owned()),
        None => Refusal::Host(format!("no Lambda error for {reason_code}")),
    }
}

/// What the ENI decisions take from the daemon's configuration.
struct Knobs {
    mode: EniMode,
    quota: usize,
    burst: u32,
    rate: f64,
    attach_delay: Duration,
}

fn knobs(state: &AppState) -> Knobs {
    let c = &state.config;
    Knobs {
        mode: c.eni_mode,
        quota: usize::try_from(c.eni_quota).unwrap_or(usize::MAX),
        burst: c.eni_create_burst,
        rate: c.eni_create_rate,
        attach_delay: c.eni_attach_delay,
    }
}

impl Network {
    /// Connects the invoke path to the assembled daemon (its dataplane, store and
    /// settings). Until then, and whenever the dataplane is not running, environments
    /// are isolated.
    pub fn connect(&self, state: Weak<AppState>) {
        // A second call changes nothing: there is one daemon per process.
        let _ = self.state.set(state);
    }

    /// Puts environment `env_id` of `version` on the network; refuses with Lambda's 502
    /// errors when a VPC function's scale-out cannot get an ENI.
    pub async fn attach(
        &self,
        scope: &Scope,
        version: &FunctionVersion,
        env_id: &str,
    ) -> Result<Attachment, StartError> {
        let Some(state) = self.state.get().and_then(Weak::upgrade) else {
            return Ok(Attachment::isolated());
        };
        let Some(dataplane) = state.dataplane.dataplane().cloned() else {
            return Ok(Attachment::isolated());
        };
        let Some(vpc) = version.settings.attached_vpc() else {
            let path = dataplane
                .attach_public_environment(env_id)
                .await
                .map_err(|e| StartError::Host(format!("attaching to the internet: {e}")))?;
            let trust = state.endpoints.get();
            return Ok(Attachment {
                netns: NetnsChoice::Existing(path),
                zone: None,
                resolv_conf: trust.map(|t| format!("nameserver {}\n", t.public_resolver)),
                ca_bundle: trust.map(|t| t.bundle.clone()),
                held: Some(Held {
                    dataplane,
                    env_id: env_id.to_owned(),
                    slot: None,
                }),
            });
        };
        let knobs = knobs(&state);
        let decision = self.deciding(scope, &version.function_name);
        let deciding = decision.lock().await;
        let view = match knobs.mode {
            EniMode::Legacy => self.legacy_eni(&state, &knobs, scope, version, vpc).await,
            EniMode::Hyperplane => self.hyperplane_eni(&state, scope, vpc).await,
        }?;
        // The slot is taken before the decision is released, so the next cold start of
        // this function counts this environment; the guard gives it back on any failure.
        let generation = self.uses.take(&view.eni, view.generation);
        drop(deciding);
        let mut attachment = Attachment {
            netns: NetnsChoice::Isolated,
            zone: Some(view.zone.clone()),
            resolv_conf: Some(dataplane::resolv_conf(view.cidr)),
            ca_bundle: state.endpoints.get().map(|t| t.bundle.clone()),
            held: Some(Held {
                dataplane: dataplane.clone(),
                env_id: env_id.to_owned(),
                slot: Some((view.eni.clone(), self.uses.clone())),
            }),
        };
        settle(&state, generation).await;
        // The seed's penalty is per cold start in the legacy model; the hyperplane model pays
        // it once per shared ENI, while the function is Pending (see `eni::settings`).
        if knobs.mode == EniMode::Legacy && !knobs.attach_delay.is_zero() {
            tokio::time::sleep(knobs.attach_delay).await;
        }
        let path = match dataplane.attach_environment(&view.eni, env_id).await {
            Err(dataplane::Error::UnknownInterface(_)) => {
                // Made by someone else since this process last reconciled: once more.
                settle(&state, state.dataplane.changed()).await;
                dataplane.attach_environment(&view.eni, env_id).await
            }
            other => other,
        }
        .map_err(|e| StartError::Host(format!("attaching to {}: {e}", view.eni)))?;
        attachment.netns = NetnsChoice::Existing(path);
        Ok(attachment)
    }

    /// Whether `zone` is impaired now (an environment there is not kept once it is done).
    pub fn is_impaired(&self, zone: &str) -> bool {
        self.state
            .get()
            .and_then(Weak::upgrade)
            .is_some_and(|state| state.zones.impaired().iter().any(|z| z == zone))
    }

    fn deciding(&self, scope: &Scope, function: &str) -> Decision {
        lock(&self.deciding)
            .entry((scope.clone(), function.to_owned()))
            .or_default()
            .clone()
    }

    /// A legacy ENI of this function with room for one more environment, or a new one.
    async fn legacy_eni(
        &self,
        state: &Arc<AppState>,
        knobs: &Knobs,
        scope: &Scope,
        version: &FunctionVersion,
        vpc: &VpcConfig,
    ) -> Result<VpcView, Refusal> {
        let per_eni = environments_per_eni(version.settings.memory_size);
        let impaired = state.zones.impaired();
        let owner = scope.clone();
        let (scope, version, vpc) = (scope.clone(), version.clone(), vpc.clone());
        let (store, uses) = (state.store.clone(), self.uses.clone());
        let quota = knobs.quota;
        let take_token = {
            let (buckets, scope) = (self.buckets.clone(), scope.clone());
            let (burst, rate, now) = (knobs.burst, knobs.rate, self.epoch.elapsed());
            move || {
                lock(&buckets)
                    .entry(scope)
                    .or_insert_with(|| TokenBucket::new(burst, rate, now))
                    .try_take(now)
            }
        };
        let chosen = tokio::task::spawn_blocking(move || {
            store.write(|tx| -> Result<(VpcView, bool), Refusal> {
                let cidr = vpc_cidr(tx, &scope, &vpc)?;
                let owned = legacy_enis(tx, &scope, &version.function_name, &vpc)?;
                let mut healthy = Vec::new();
                for e in &owned {
                    let zone = subnet_zone(tx, &scope, &e.subnet_id)?;
                    if !impaired.contains(&zone) {
                        healthy.push((e, zone));
                    }
                }
                // The fullest ENI with room in a healthy zone: environments pack onto as
                // few ENIs as the formula says, and emptier ones can be reclaimed.
                let reuse = healthy
                    .into_iter()
                    .map(|(e, zone)| (uses.environments(&e.eni_id), &e.eni_id, zone))
                    .filter(|(n, _, _)| *n < per_eni)
                    .max();
                let ((eni, zone), created) = match reuse {
                    Some((_, eni, zone)) => ((eni.clone(), zone), false),
                    None => {
                        let placed = PlacedEnis::of(tx, &scope, &owned)?;
                        let new = NewLegacyEni {
                            function: &version.function_name,
                            role_arn: &version.settings.role,
                            vpc: &vpc,
                            impaired: &impaired,
                            quota,
                        };
                        (new.create(tx, &scope, &placed, take_token)?, true)
                    }
                };
                Ok((
                    VpcView {
                        cidr,
                        zone,
                        eni,
                        generation: 0,
                    },
                    created,
                ))
            })
        })
        .await
        .map_err(|e| Refusal::Host(format!("choosing an ENI: {e}")))?;
        let (mut view, created) = chosen?;
        if created {
            view.generation = state.dataplane.interface_changed(owner, view.eni.clone());
        }
        Ok(view)
    }

    /// The function's shared ENI in a healthy subnet, spreading environments over them.
    async fn hyperplane_eni(
        &self,
        state: &Arc<AppState>,
        scope: &Scope,
        vpc: &VpcConfig,
    ) -> Result<VpcView, Refusal> {
        let impaired = state.zones.impaired();
        let (scope, vpc) = (scope.clone(), vpc.clone());
        let (store, uses) = (state.store.clone(), self.uses.clone());
        tokio::task::spawn_blocking(move || {
            store.read(|tx| -> Result<VpcView, Refusal> {
                let cidr = vpc_cidr(tx, &scope, &vpc)?;
                let mut enis = BTreeMap::new();
                let mut candidates = Vec::new();
                for subnet_id in &vpc.subnet_ids {
                    let Some(subnet) = lookup::subnet(tx, &scope, subnet_id)? else {
                        continue;
                    };
                    let key = hyperplane_key(subnet_id, &vpc.security_group_ids);
                    let shared = tx.get_json::<SharedEni>(SHARED_ENI, &scope, &key)?;
                    let live = shared.as_ref().map_or(0, |s| uses.environments(&s.eni_id));
                    candidates.push(Candidate {
                        subnet_id: subnet_id.clone(),
                        availability_zone: subnet.availability_zone,
                        // Placement only asks whether the subnet can take the environment:
                        // it can when its shared ENI is there.
                        free_addresses: u32::from(shared.is_some()),
                        function_enis_in_az: live,
                    });
                    if let Some(shared) = shared {
                        enis.insert(subnet_id.clone(), shared.eni_id);
                    }
                }
                let chosen = place(&candidates, &impaired).map_err(|e| match e {
                    PlacementError::AllZonesImpaired => {
                        Refusal::Lambda(EC2_UNEXPECTED.0, EC2_UNEXPECTED.1.to_owned())
                    }
                    PlacementError::SubnetsFull => Refusal::Lambda(
                        "ResourceNotReadyException",
                        super::InvokeError::Inactive.to_string(),
                    ),
                })?;
                let eni = enis.get(&chosen.subnet_id).cloned().ok_or_else(|| {
                    Refusal::Host("placement chose a subnet without an ENI".into())
                })?;
                Ok(VpcView {
                    cidr,
                    zone: chosen.availability_zone.clone(),
                    eni,
                    generation: 0,
                })
            })
        })
        .await
        .map_err(|e| Refusal::Host(format!("choosing an ENI: {e}")))?
    }
}

/// Waits (bounded) until the dataplane reflects the store as of `generation`.
async fn settle(state: &AppState, generation: u64) {
    // The daemon's first reconcile is generation 1: nothing is realized before it.
    let generation = generation.max(1);
    if tokio::time::timeout(SETTLE_TIMEOUT, state.dataplane.settled(generation))
        .await
        .is_err()
    {
        tracing::warn!(generation, "the dataplane did not settle in time");
    }
}

/// The CIDR of the function's VPC, for its resolver.
fn vpc_cidr(
    tx: &mut dyn Tx,
    scope: &Scope,
    vpc: &VpcConfig,
) -> Result<dataplane::Ipv4Cidr, Refusal> {
    let record = lookup::vpc(tx, scope, &vpc.vpc_id)?.ok_or_else(|| refused("InvalidSubnet"))?;
    record
        .cidr_block
        .parse()
        .map_err(|e| Refusal::Host(format!("VPC {} CIDR: {e}", record.id)))
}

/// The legacy ENIs `function` owns for its current subnets and security groups that
/// still exist.
fn legacy_enis(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
    vpc: &VpcConfig,
) -> Result<Vec<SharedEni>, Refusal> {
    let mut out = Vec::new();
    for eni in tx.list_json::<SharedEni>(LEGACY_ENI, scope, "")? {
        let current = vpc.subnet_ids.contains(&eni.subnet_id)
            && eni.key == hyperplane_key(&eni.subnet_id, &vpc.security_group_ids);
        if !current || !eni.users.contains(function) {
            continue;
        }
        if tx
            .get(ec2_kind::NETWORK_INTERFACE, scope, &eni.eni_id)?
            .is_some()
        {
            out.push(eni);
        }
    }
    Ok(out)
}

/// The Availability Zone of a subnet.
fn subnet_zone(tx: &mut dyn Tx, scope: &Scope, subnet_id: &str) -> Result<String, Refusal> {
    lookup::subnet(tx, scope, subnet_id)?
        .map(|s| s.availability_zone)
        .ok_or_else(|| refused("InvalidSubnet"))
}

/// How many of a function's ENIs each Availability Zone holds (placement balances them).
struct PlacedEnis(BTreeMap<String, u32>);

impl PlacedEnis {
    fn of(tx: &mut dyn Tx, scope: &Scope, owned: &[SharedEni]) -> Result<PlacedEnis, Refusal> {
        let mut zones = BTreeMap::new();
        for eni in owned {
            if let Some(subnet) = lookup::subnet(tx, scope, &eni.subnet_id)? {
                *zones.entry(subnet.availability_zone).or_insert(0) += 1;
            }
        }
        Ok(PlacedEnis(zones))
    }
}

/// A legacy ENI to create for a function's scale-out.
struct NewLegacyEni<'a> {
    function: &'a str,
    role_arn: &'a str,
    vpc: &'a VpcConfig,
    impaired: &'a [String],
    quota: usize,
}

impl NewLegacyEni<'_> {
    /// Creates the ENI as Lambda did before 2019, with the execution role's permissions,
    /// within the account's ENI quota and EC2's rate limit, in the subnet placement picks;
    /// records it as the function's. Returns its id and Availability Zone.
    fn create(
        &self,
        tx: &mut dyn Tx,
        scope: &Scope,
        placed: &PlacedEnis,
        take_token: impl FnOnce() -> bool,
    ) -> Result<(String, String), Refusal> {
        let function = self.function;
        let role = roles::role_by_arn(tx, &scope.account, self.role_arn)?
            .ok_or_else(|| refused("InsufficientRolePermissions"))?;
        if !roles::is_allowed(tx, &scope.account, &role, "ec2:CreateNetworkInterface", "*")? {
            return Err(refused("InsufficientRolePermissions"));
        }
        if !take_token() {
            return Err(refused("EC2RequestLimitExceeded"));
        }
        if tx.list(ec2_kind::NETWORK_INTERFACE, scope, "")?.len() >= self.quota {
            return Err(refused("EniLimitExceeded"));
        }
        let mut candidates = Vec::new();
        for subnet_id in &self.vpc.subnet_ids {
            if let Some(subnet) = lookup::subnet(tx, scope, subnet_id)? {
                candidates.push(Candidate {
                    function_enis_in_az: placed
                        .0
                        .get(&subnet.availability_zone)
                        .copied()
                        .unwrap_or(0),
                    subnet_id: subnet.id,
                    availability_zone: subnet.availability_zone,
                    free_addresses: subnet.available_ip_address_count,
                });
            }
        }
        if candidates.is_empty() {
            return Err(refused("InvalidSubnet"));
        }
        let (subnet_id, zone) = match place(&candidates, self.impaired) {
            Ok(c) => (c.subnet_id.clone(), c.availability_zone.clone()),
            Err(PlacementError::SubnetsFull) => return Err(refused("SubnetOutOfIPAddresses")),
            Err(PlacementError::AllZonesImpaired) => {
                return Err(Refusal::Lambda(
                    EC2_UNEXPECTED.0,
                    EC2_UNEXPECTED.1.to_owned(),
                ))
            }
        };
        let groups = self.vpc.security_group_ids.clone();
        let eni = network_interface::create(
            tx,
            scope,
            &NewNetworkInterface {
                subnet_id: Some(subnet_id.clone()),
                security_groups: Some(groups.clone()),
                description: Some(format!("AWS Lambda VPC ENI: {}", wire::new_request_id())),
                interface_type: Some("interface".into()),
                requester_id: Some(format!("{}:{function}", role.role_id)),
                requester_managed: true,
                attachment: Some(NewAttachment {
                    id_prefix: "eni-attach".into(),
                    instance_owner_id: "aws-lambda".into(),
                    instance_id: None,
                    device_index: 1,
                }),
                ..NewNetworkInterface::default()
            },
            None,
        )
        .map_err(|e| match e {
            Ec2Error::InsufficientFreeAddresses(_) => refused("SubnetOutOfIPAddresses"),
            Ec2Error::Store(e) => e.into(),
            other => match other.code() {
                "InvalidGroup.NotFound" => refused("InvalidSecurityGroup"),
                "InvalidSubnetID.NotFound" => refused("InvalidSubnet"),
                _ => Refusal::Host(format!("creating an ENI: {other}")),
            },
        })?;
        let record = SharedEni {
            key: hyperplane_key(&subnet_id, &groups),
            eni_id: eni.id.clone(),
            subnet_id,
            security_group_ids: groups,
            users: [function.to_owned()].into_iter().collect(),
            role_arn: role.arn,
            release_at: None,
        };
        tx.put_json(LEGACY_ENI, scope, &eni.id, &record)?;
        tracing::info!(function = %function, eni = %eni.id, subnet = %record.subnet_id, "legacy ENI created");
        Ok((eni.id, zone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use control::ec2::security_group::{self, NewSecurityGroup};
    use control::ec2::subnet::{self, NewSubnet};
    use control::ec2::vpc::{self, NewVpc};
    use control::iam::{attach_role_policy, create_role, IamError, NewRole};
    use control::Store;

    const ACCOUNT: &str = "000000000000";
    const VPC_ACCESS: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole";
    const BASIC: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

    struct World {
        _dir: tempfile::TempDir,
        store: Store,
        scope: Scope,
        vpc: VpcConfig,
    }

    /// A VPC with one /28 subnet (11 usable addresses) in us-east-1a, a group, and the
    /// roles `vpc` (may create ENIs) and `basic` (may not).
    fn world() -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).unwrap();
        let scope = Scope::new(ACCOUNT, "us-east-1");
        let vpc = store
            .write(|tx| -> Result<VpcConfig, Ec2Error> {
                let v = vpc::create(
                    tx,
                    &scope,
                    &NewVpc {
                        cidr_block: Some("10.0.0.0/16".into()),
                        ..NewVpc::default()
                    },
                )?;
                let s = subnet::create(
                    tx,
                    &scope,
                    &NewSubnet {
                        vpc_id: Some(v.id.clone()),
                        cidr_block: Some("10.0.1.0/28".into()),
                        availability_zone: Some("us-east-1a".into()),
                        ..NewSubnet::default()
                    },
                )?;
                let g = security_group::create(
                    tx,
                    &scope,
                    &NewSecurityGroup {
                        name: Some("fn".into()),
                        description: Some("fn".into()),
                        vpc_id: Some(v.id.clone()),
                        ..NewSecurityGroup::default()
                    },
                )?;
                Ok(VpcConfig {
                    subnet_ids: vec![s.id],
                    security_group_ids: vec![g.id],
                    vpc_id: v.id,
                    ipv6_allowed_for_dual_stack: false,
                })
            })
            .unwrap();
        for (name, policy) in [("vpc", VPC_ACCESS), ("basic", BASIC)] {
            store
                .write(|tx| -> Result<(), IamError> {
                    create_role(
                        tx,
                        ACCOUNT,
                        NewRole {
                            name: name.into(),
                            trust_policy: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.into(),
                            ..Default::default()
                        },
                    )?;
                    attach_role_policy(tx, ACCOUNT, name, policy)
                })
                .unwrap();
        }
        World {
            _dir: dir,
            store,
            scope,
            vpc,
        }
    }

    fn role(name: &str) -> String {
        format!("arn:aws:iam::{ACCOUNT}:role/{name}")
    }

    /// Creates one legacy ENI for function `f`; the refusal's Lambda error code otherwise.
    fn create(
        w: &World,
        role_arn: &str,
        impaired: &[String],
        quota: usize,
        token: bool,
    ) -> Result<String, &'static str> {
        let new = NewLegacyEni {
            function: "f",
            role_arn,
            vpc: &w.vpc,
            impaired,
            quota,
        };
        w.store
            .write(|tx| new.create(tx, &w.scope, &PlacedEnis(BTreeMap::new()), || token))
            .map(|(id, _zone)| id)
            .map_err(|r| match r {
                Refusal::Lambda(code, _) => code,
                Refusal::Host(m) => panic!("host fault: {m}"),
            })
    }

    #[test]
    fn a_legacy_eni_has_the_seeds_shape_and_belongs_to_its_function() {
        let w = world();
        let id = create(&w, &role("vpc"), &[], 100, true).unwrap();
        let (eni, record) = w
            .store
            .read(|tx| -> Result<_, Ec2Error> {
                let eni = network_interface::get(tx, &w.scope, &id)?;
                let record = tx.get_json::<SharedEni>(LEGACY_ENI, &w.scope, &id)?;
                Ok((eni, record))
            })
            .unwrap();
        assert!(
            eni.description.starts_with("AWS Lambda VPC ENI: "),
            "{}",
            eni.description
        );
        assert_eq!(eni.interface_type, "interface");
        assert!(eni.requester_managed);
        let requester = eni.requester_id.unwrap_or_default();
        assert!(
            requester.starts_with("AROA") && requester.ends_with(":f"),
            "{requester}"
        );
        let attachment = eni.attachment.unwrap();
        assert_eq!(attachment.instance_owner_id, "aws-lambda");
        let record = record.unwrap();
        assert_eq!(record.users.iter().collect::<Vec<_>>(), ["f"]);
        assert_eq!(
            record.key,
            hyperplane_key(&w.vpc.subnet_ids[0], &w.vpc.security_group_ids)
        );
        assert_eq!(record.role_arn, role("vpc"));
        let owned = w
            .store
            .read(|tx| legacy_enis(tx, &w.scope, "f", &w.vpc))
            .map_err(|_| ())
            .unwrap();
        assert_eq!(owned.len(), 1);
    }

    #[test]
    fn refusals_are_lambdas_502_errors() {
        let w = world();
        let zone = ["us-east-1a".to_owned()];
        assert_eq!(
            create(&w, &role("basic"), &[], 100, true),
            Err("EC2AccessDeniedException")
        );
        assert_eq!(
            create(&w, &role("gone"), &[], 100, true),
            Err("EC2AccessDeniedException")
        );
        assert_eq!(
            create(&w, &role("vpc"), &[], 100, false),
            Err("EC2ThrottledException")
        );
        assert_eq!(
            create(&w, &role("vpc"), &zone, 100, true),
            Err("EC2UnexpectedException")
        );
        for _ in 0..2 {
            create(&w, &role("vpc"), &[], 100, true).unwrap();
        }
        assert_eq!(
            create(&w, &role("vpc"), &[], 2, true),
            Err("ENILimitReachedException")
        );
        for _ in 2..11 {
            create(&w, &role("vpc"), &[], 100, true).unwrap();
        }
        assert_eq!(
            create(&w, &role("vpc"), &[], 100, true),
            Err("SubnetIPAddressLimitReachedException")
        );
    }

    #[test]
    fn slots_count_live_environments_per_eni() {
        let uses = Uses::default();
        assert_eq!(uses.take("eni-1", 7), 7);
        assert_eq!(uses.take("eni-1", 0), 7, "the realizing generation is kept");
        assert_eq!(uses.environments("eni-1"), 2);
        uses.give_back("eni-1");
        uses.give_back("eni-1");
        uses.give_back("eni-1");
        assert_eq!(uses.environments("eni-1"), 0);
        assert_eq!(uses.take("eni-1", 0), 0);
    }
}
