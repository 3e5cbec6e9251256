//! Wiring between the EC2 records in the store and the `dataplane` crate: builds the
//! desired state from the records, applies it at start-up and after every EC2 change, and
//! moves NAT gateways through `pending → available` and `deleting → deleted` once the
//! kernel agrees. Owns no domain rules (they are `control::ec2`'s) and no kernel logic
//! (`dataplane`'s): only the translation and the reconcile loop.
//!
//! The EC2 record is the intent: it is committed before any kernel object exists, and the
//! reconcile loop is level-triggered, so a crash at any point converges at the next start.
//!
//! Two changes skip the full pass, whose cost grows with every record of every account: a
//! change of one group's rules (that group's batch alone), and interfaces created or
//! deleted. For the latter the loop keeps the records of its last full pass, replaces just
//! the changed interface's record with the store's, and applies that one interface's change
//! ([`Dataplane::apply_eni`], with the resolver names it changes, from an index of the
//! names every interface claims): nothing on that path grows with the VPC's interfaces.
//! When the dataplane declines a change as reaching beyond the interface, the VPC's
//! desired state, computed by the very function the full pass uses, is applied to that VPC
//! alone ([`Dataplane::apply_realized`]); either way the kernel ends as a full pass would
//! leave it. Anything else, or a fast path in doubt, is a full pass.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use control::ec2::endpoint;
use control::ec2::model::{
    kind, InternetGateway, NatGateway, NetworkInterface, Route, RouteTable, RouteTarget, RulePeer,
    SecurityGroup, SecurityGroupRule, Subnet, Vpc, VpcEndpoint,
};
use control::store::{StoreError, TxExt};
use control::{Scope, Store};
use dataplane::{
    Dataplane, Desired, DesiredEni, DesiredIgw, DesiredNat, DesiredRoute, DesiredSecurityGroup,
    DesiredSubnet, DesiredVpc, EniDelta, Ipv4Cidr, Names, Peer, PortRange, Protocol, SgRule,
    Uplink,
};
use serde::de::DeserializeOwned;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::endpoints;
use crate::server::AppState;
use crate::services::Call;

/// The tag that registers a host name of an ENI with its VPC's resolver (`vpc-exec
/// --hostname`); stored with the ENI record, so the name lives exactly as long as the ENI.
pub const HOSTNAME_TAG: &str = "vpclambda:hostname";

/// The dataplane as the rest of the daemon sees it: disabled (control plane only) or a
/// running [`Dataplane`], plus the change counter the reconcile loop follows.
pub struct Handle {
    dataplane: Option<Arc<Dataplane>>,
    wake: Notify,
    /// Bumped by every EC2 change; the loop reconciles up to the value it read.
    requested: AtomicU64,
    /// The latest `requested` value that needs a full pass (anything but a group's rules).
    full: AtomicU64,
    /// Groups whose rules changed since the loop last looked, for the fast path.
    groups: std::sync::Mutex<Vec<(Scope, String)>>,
    /// Interfaces created or deleted since the loop last looked, for the fast path.
    interfaces: std::sync::Mutex<Vec<(Scope, String)>>,
    /// The last `requested` value whose state the kernel reflects.
    done: watch::Sender<u64>,
}

impl Default for Handle {
    fn default() -> Self {
        Handle::with(None)
    }
}

impl Handle {
    fn with(dataplane: Option<Arc<Dataplane>>) -> Handle {
        Handle {
            dataplane,
            wake: Notify::new(),
            // 1: the start-up reconcile is owed before anything else.
            requested: AtomicU64::new(1),
            full: AtomicU64::new(1),
            groups: std::sync::Mutex::new(Vec::new()),
            interfaces: std::sync::Mutex::new(Vec::new()),
            done: watch::channel(0).0,
        }
    }

    /// Starts the dataplane when running as root, with the simulated internet's `uplink`;
    /// otherwise (or when the kernel side cannot start) logs one warning and runs the
    /// control plane alone.
    pub async fn start(uplink: Uplink) -> Handle {
        if !nix::unistd::geteuid().is_root() {
            tracing::warn!(
                "not running as root: the VPC dataplane is disabled (the EC2 API works, no kernel objects are made)"
            );
            return Handle::default();
        }
        match Dataplane::start(uplink).await {
            Ok(dataplane) => Handle::with(Some(Arc::new(dataplane))),
            Err(error) => {
                tracing::warn!(%error, "the VPC dataplane could not start and is disabled");
                Handle::default()
            }
        }
    }

    pub fn dataplane(&self) -> Option<&Arc<Dataplane>> {
        self.dataplane.as_ref()
    }

    /// Records that EC2 state changed; returns the generation to wait for with
    /// [`Handle::settled`].
    pub fn changed(&self) -> u64 {
        let generation = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.full.fetch_max(generation, Ordering::SeqCst);
        self.wake.notify_one();
        generation
    }

    /// Records that only the rules of security group `id` changed: the loop applies that
    /// group alone unless something else needs a full pass. Returns the generation.
    pub fn group_changed(&self, scope: Scope, id: String) -> u64 {
        // Queued before the generation is bumped: whoever sees the generation sees the group.
        self.pending_groups().push((scope, id));
        let generation = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.notify_one();
        generation
    }

    /// Records that the interface `id` was created or deleted (its record committed): the
    /// loop applies its VPC alone unless something else needs a full pass. Returns the
    /// generation.
    pub fn interface_changed(&self, scope: Scope, id: String) -> u64 {
        // Queued before the generation is bumped, as in `group_changed`.
        pending(&self.interfaces).push((scope, id));
        let generation = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.notify_one();
        generation
    }

    fn pending_groups(&self) -> std::sync::MutexGuard<'_, Vec<(Scope, String)>> {
        pending(&self.groups)
    }

    /// Waits until the kernel reflects the store as of `generation`.
    pub async fn settled(&self, generation: u64) {
        let mut done = self.done.subscribe();
        // An error means the loop is gone (shutdown): nothing more will settle.
        let _ = done.wait_for(|d| *d >= generation).await;
    }
}

fn pending(
    queue: &std::sync::Mutex<Vec<(Scope, String)>>,
) -> std::sync::MutexGuard<'_, Vec<(Scope, String)>> {
    // A plain Vec: a panic while holding the lock leaves nothing half-done.
    queue.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a successful EC2 call may have changed in what the dataplane realizes.
#[derive(Debug, PartialEq, Eq)]
pub enum Ec2Change {
    /// Nothing: a read-only `Describe*` call.
    None,
    /// Only the rules of the security group with this id.
    GroupRules(String),
    /// Only the interface with this id, created or deleted.
    Interface(String),
    /// Anything else.
    Other,
}

/// Set by CreateNetworkInterface on its response: the id of the interface it made, which
/// the request does not name.
#[derive(Clone, Debug)]
pub struct InterfaceCreated(pub String);

/// Classifies a successful EC2 call, given its response, for the reconcile loop.
pub fn ec2_change(call: &Call, response: &http::Response<bytes::Bytes>) -> Ec2Change {
    let Ok(params) = call.query_params() else {
        return Ec2Change::Other;
    };
    match params.get("Action") {
        None => Ec2Change::Other,
        Some(action) if action.starts_with("Describe") => Ec2Change::None,
        Some(
            "AuthorizeSecurityGroupIngress"
            | "AuthorizeSecurityGroupEgress"
            | "RevokeSecurityGroupIngress"
            | "RevokeSecurityGroupEgress"
            | "ModifySecurityGroupRules",
        ) => match params.get("GroupId") {
            Some(id) => Ec2Change::GroupRules(id.to_owned()),
            // By name (default VPC): the id is not at hand here.
            None => Ec2Change::Other,
        },
        Some("DeleteNetworkInterface") => match params.get("NetworkInterfaceId") {
            Some(id) => Ec2Change::Interface(id.to_owned()),
            None => Ec2Change::Other,
        },
        Some("CreateNetworkInterface") => match response.extensions().get::<InterfaceCreated>() {
            Some(created) => Ec2Change::Interface(created.0.clone()),
            None => Ec2Change::Other,
        },
        Some(_) => Ec2Change::Other,
    }
}

/// Connects the invoke path to the dataplane (environments of functions are attached to
/// the network from now on) and runs the reconcile loop until the daemon exits; `None`
/// when the dataplane is disabled.
pub fn spawn(state: Arc<AppState>) -> Option<JoinHandle<()>> {
    state.invoke.connect(Arc::downgrade(&state));
    let dataplane = state.dataplane.dataplane()?.clone();
    Some(tokio::spawn(async move {
        let mut full_done = 0;
        // The records the last full pass applied, with the fast paths' changes since.
        let mut cache: Option<Records> = None;
        // A full pass changed records the dataplane reads: the next pass must be full too.
        let mut again = false;
        loop {
            let handle = &state.dataplane;
            let target = handle.requested.load(Ordering::SeqCst);
            let full = handle.full.load(Ordering::SeqCst);
            let groups = std::mem::take(&mut *handle.pending_groups());
            let interfaces = std::mem::take(&mut *pending(&handle.interfaces));
            let fast = !again
                && full <= full_done
                && match reconcile_groups(&state.store, &dataplane, &mut cache, groups).await {
                    Ok(done) => done,
                    Err(error) => {
                        tracing::warn!(%error, "group change not applied alone; reconciling all");
                        false
                    }
                }
                && match reconcile_interfaces(&state.store, &dataplane, &mut cache, interfaces)
                    .await
                {
                    Ok(done) => done,
                    Err(error) => {
                        tracing::warn!(%error, "interface change not applied alone; reconciling all");
                        false
                    }
                };
            if !fast {
                full_done = full;
                again = match reconcile(&state.store, &dataplane, state.vpc_endpoints.get()).await {
                    Ok((records, again)) => {
                        cache = Some(records);
                        again
                    }
                    Err(error) => {
                        tracing::error!(%error, "dataplane reconcile failed");
                        cache = None;
                        false
                    }
                };
                if again {
                    cache = None;
                }
            }
            state.dataplane.done.send_replace(target);
            if !again {
                state.dataplane.wake.notified().await;
            }
        }
    }))
}

/// The fast path for changes of security-group rules only: reads just those groups and
/// applies each alone. Returns `false` when one of them is gone or not realized, so a full
/// pass is due.
async fn reconcile_groups(
    store: &Store,
    dataplane: &Dataplane,
    cache: &mut Option<Records>,
    groups: Vec<(Scope, String)>,
) -> anyhow::Result<bool> {
    if groups.is_empty() {
        return Ok(true);
    }
    let started = std::time::Instant::now();
    let count = groups.len();
    let records = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            store.read(|tx| {
                groups
                    .iter()
                    .map(|(scope, id)| {
                        tx.get_json::<SecurityGroup>(kind::SECURITY_GROUP, scope, id)
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            })
        })
        .await??
    };
    for record in records {
        let Some(group) = record else {
            return Ok(false);
        };
        if !dataplane
            .apply_group(&group.vpc_id, &desired_group(&group))
            .await?
        {
            return Ok(false);
        }
        if let Some(cached) = cache
            .as_mut()
            .and_then(|r| r.groups.iter_mut().find(|g| g.id == group.id))
        {
            *cached = group;
        }
    }
    crate::telemetry::global().dataplane_applied("groups", started.elapsed());
    tracing::debug!(
        groups = count,
        micros = started.elapsed().as_micros(),
        "security-group rules applied alone"
    );
    Ok(true)
}

/// The fast path for interfaces created or deleted: replaces their records in `cache` with
/// the store's and applies each change alone, or, when the dataplane declines it, the
/// interface's VPC alone, from the same desired state a full pass would compute. Returns
/// `false` when a full pass is due instead: no records cached, a NAT gateway in transition
/// (only the full pass moves it on), an interface whose VPC, subnet or groups the cached
/// records do not know, or a VPC not realized.
async fn reconcile_interfaces(
    store: &Store,
    dataplane: &Dataplane,
    cache: &mut Option<Records>,
    interfaces: Vec<(Scope, String)>,
) -> anyhow::Result<bool> {
    if interfaces.is_empty() {
        return Ok(true);
    }
    let Some(records) = cache.as_mut() else {
        return Ok(false);
    };
    let in_transition = records
        .nat_gateways
        .values()
        .any(|(_, n)| matches!(n.state.as_str(), "pending" | "deleting"));
    if in_transition {
        return Ok(false);
    }
    let started = std::time::Instant::now();
    let count = interfaces.len();
    let fresh = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            store.read(|tx| {
                interfaces
                    .iter()
                    .map(|(scope, id)| {
                        let record =
                            tx.get_json::<NetworkInterface>(kind::NETWORK_INTERFACE, scope, id)?;
                        Ok((id.clone(), record))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            })
        })
        .await??
    };
    let mut whole_vpcs = 0;
    for (id, record) in fresh {
        let Some(deltas) = records.replace_interface(&id, record) else {
            return Ok(false);
        };
        for delta in deltas {
            if dataplane.apply_eni(&delta).await?.is_some() {
                continue;
            }
            let Some((_, vpc)) = records.vpcs.get(&delta.vpc) else {
                return Ok(false);
            };
            let Some(desired) = records.desired_vpc(vpc) else {
                return Ok(false);
            };
            if dataplane.apply_realized(&desired).await?.is_none() {
                return Ok(false);
            }
            whole_vpcs += 1;
        }
    }
    crate::telemetry::global().dataplane_applied("interfaces", started.elapsed());
    tracing::debug!(
        interfaces = count,
        whole_vpcs,
        micros = started.elapsed().as_micros(),
        "interface changes applied alone"
    );
    Ok(true)
}

fn desired_group(group: &SecurityGroup) -> DesiredSecurityGroup {
    // The region is in the group's ARN (`arn:aws:ec2:<region>:…`): prefix lists are per region.
    let region = group.arn.split(':').nth(3).unwrap_or_default();
    let rules =
        |rules: &[SecurityGroupRule]| rules.iter().flat_map(|r| sg_rule(region, r)).collect();
    DesiredSecurityGroup {
        id: group.id.clone(),
        ingress: rules(&group.ingress),
        egress: rules(&group.egress),
    }
}

/// One pass: desired state from the store, apply, then the NAT gateway transitions the
/// kernel now allows. Returns the records applied, and whether those transitions changed
/// records the dataplane reads (routes to a NAT gateway become active), so another pass is
/// due.
async fn reconcile(
    store: &Store,
    dataplane: &Dataplane,
    listeners: Option<&Arc<endpoints::vpc::Listeners>>,
) -> anyhow::Result<(Records, bool)> {
    let records = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || Records::load(&store)).await??
    };
    let desired = records.desired();
    let started = std::time::Instant::now();
    let report = dataplane.apply(&desired).await?;
    crate::telemetry::global().dataplane_applied("full", started.elapsed());
    for (vpc, error) in &report.failures {
        tracing::warn!(vpc = %vpc, %error, "VPC not realized");
    }
    let served = match listeners {
        Some(listeners) => listeners.sync(dataplane, &records.wanted_endpoints()).await,
        None => BTreeSet::new(),
    };
    let mut transitions = Vec::new();
    for (scope, nat) in records.nat_gateways.values() {
        if nat.state == "pending" && report.nat_gateways_ready.contains(&nat.id) {
            transitions.push((scope.clone(), nat.id.clone(), Transition::NatAvailable));
        } else if nat.state == "deleting" {
            transitions.push((scope.clone(), nat.id.clone(), Transition::NatDeleted));
        }
    }
    for (scope, e) in records.endpoints.values() {
        // An endpoint without a listener of its own (a gateway endpoint in no route table)
        // is there as soon as it is recorded.
        let ready = served.contains(&e.id)
            || (e.endpoint_type == "Gateway" && e.route_table_ids.is_empty());
        if e.state == "pending" && ready {
            transitions.push((scope.clone(), e.id.clone(), Transition::EndpointAvailable));
        }
    }
    if transitions.is_empty() {
        return Ok((records, false));
    }
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        store.write(|tx| {
            for (scope, id, transition) in &transitions {
                match transition {
                    Transition::NatAvailable => {
                        control::ec2::gateway::nat_gateway_available(tx, scope, id)?;
                    }
                    Transition::NatDeleted => {
                        control::ec2::gateway::nat_gateway_deleted(tx, scope, id)?;
                    }
                    Transition::EndpointAvailable => {
                        endpoint::endpoint_available(tx, scope, id)?;
                    }
                }
            }
            Ok::<_, control::ec2::Ec2Error>(())
        })
    })
    .await??;
    Ok((records, true))
}

/// A state change a pass found the kernel ready for.
enum Transition {
    NatAvailable,
    NatDeleted,
    EndpointAvailable,
}

/// The EC2 records of every account and region, by id.
struct Records {
    vpcs: BTreeMap<String, (Scope, Vpc)>,
    subnets: Vec<Subnet>,
    groups: Vec<SecurityGroup>,
    interfaces: BTreeMap<String, NetworkInterface>,
    igws: Vec<InternetGateway>,
    nat_gateways: BTreeMap<String, (Scope, NatGateway)>,
    route_tables: Vec<RouteTable>,
    endpoints: BTreeMap<String, (Scope, VpcEndpoint)>,
    /// The names each interface claims in its VPC's resolver, by VPC and name: interface →
    /// address. The resolver answers the claim of the lowest interface id.
    claims: BTreeMap<String, BTreeMap<String, BTreeMap<String, Ipv4Addr>>>,
}

fn all<T: DeserializeOwned>(
    tx: &mut dyn control::Tx,
    kind: &str,
) -> Result<Vec<(Scope, T)>, StoreError> {
    let mut out = Vec::new();
    for (scope, id, body) in tx.list_all(kind)? {
        match serde_json::from_slice(&body) {
            Ok(record) => out.push((scope, record)),
            Err(error) => tracing::warn!(kind, id, %error, "unreadable record skipped"),
        }
    }
    Ok(out)
}

fn values<T>(records: Vec<(Scope, T)>) -> Vec<T> {
    records.into_iter().map(|(_, r)| r).collect()
}

impl Records {
    fn load(store: &Store) -> Result<Records, StoreError> {
        let mut records = store.read(|tx| {
            Ok::<_, StoreError>(Records {
                vpcs: all::<Vpc>(tx, kind::VPC)?
                    .into_iter()
                    .map(|(s, v)| (v.id.clone(), (s, v)))
                    .collect(),
                subnets: values(all(tx, kind::SUBNET)?),
                groups: values(all(tx, kind::SECURITY_GROUP)?),
                interfaces: values(all::<NetworkInterface>(tx, kind::NETWORK_INTERFACE)?)
                    .into_iter()
                    .map(|e| (e.id.clone(), e))
                    .collect(),
                igws: values(all(tx, kind::INTERNET_GATEWAY)?),
                nat_gateways: all::<NatGateway>(tx, kind::NAT_GATEWAY)?
                    .into_iter()
                    .map(|(s, n)| (n.id.clone(), (s, n)))
                    .collect(),
                route_tables: values(all(tx, kind::ROUTE_TABLE)?),
                endpoints: all::<VpcEndpoint>(tx, kind::VPC_ENDPOINT)?
                    .into_iter()
                    .map(|(s, e)| (e.id.clone(), (s, e)))
                    .collect(),
                claims: BTreeMap::new(),
            })
        })?;
        let mut claims: BTreeMap<String, BTreeMap<String, BTreeMap<String, Ipv4Addr>>> =
            BTreeMap::new();
        for eni in records.interfaces.values() {
            for (name, ip) in records.claims_of(eni) {
                claims
                    .entry(eni.vpc_id.clone())
                    .or_default()
                    .entry(name)
                    .or_default()
                    .insert(eni.id.clone(), ip);
            }
        }
        records.claims = claims;
        Ok(records)
    }

    /// The names `eni` claims in its VPC's resolver, each with its first address: the
    /// names registered with [`HOSTNAME_TAG`] (its primary address), then the AWS private
    /// DNS name of each of its addresses.
    fn claims_of(&self, eni: &NetworkInterface) -> BTreeMap<String, Ipv4Addr> {
        let mut claims = BTreeMap::new();
        let (Some((scope, _)), Ok(primary)) = (
            self.vpcs.get(&eni.vpc_id),
            eni.private_ip_address.parse::<Ipv4Addr>(),
        ) else {
            return claims;
        };
        for tag in eni.tags.iter().filter(|t| t.key == HOSTNAME_TAG) {
            let name = tag.value.to_ascii_lowercase();
            if dataplane::valid_name(&name) {
                claims.entry(name).or_insert(primary);
            }
        }
        let secondary = eni
            .secondary_private_ip_addresses
            .iter()
            .filter_map(|a| a.parse::<Ipv4Addr>().ok());
        for ip in std::iter::once(primary).chain(secondary) {
            claims
                .entry(control::ec2::ids::private_dns_name(&scope.region, ip))
                .or_insert(ip);
        }
        claims
    }

    /// Replaces the record of interface `id` with the store's (`None`: deleted) and returns
    /// the change for the dataplane of each VPC it was or is in; `None` when it names a
    /// VPC, subnet or group these records do not know (a full load is due).
    fn replace_interface(
        &mut self,
        id: &str,
        record: Option<NetworkInterface>,
    ) -> Option<Vec<EniDelta>> {
        if record
            .as_ref()
            .is_some_and(|eni| !self.knows_placement(eni))
        {
            return None;
        }
        let old = self.interfaces.remove(id);
        let mut deltas = Vec::new();
        let vpcs: BTreeSet<&str> = old
            .iter()
            .chain(&record)
            .map(|e| e.vpc_id.as_str())
            .collect();
        for vpc in vpcs {
            let before = old
                .as_ref()
                .filter(|e| e.vpc_id == vpc)
                .map(|e| self.claims_of(e))
                .unwrap_or_default();
            let now = record
                .as_ref()
                .filter(|e| e.vpc_id == vpc)
                .map(|e| self.claims_of(e))
                .unwrap_or_default();
            let names = self.change_claims(vpc, id, &before, &now);
            deltas.push(EniDelta {
                vpc: vpc.to_owned(),
                id: id.to_owned(),
                eni: record
                    .as_ref()
                    .filter(|e| e.vpc_id == vpc)
                    .and_then(desired_eni),
                names,
            });
        }
        if let Some(eni) = record {
            self.interfaces.insert(id.to_owned(), eni);
        }
        Some(deltas)
    }

    /// Replaces the names interface `id` claims in `vpc` (`before`) with `now`, and returns
    /// the names whose answer changes with it.
    fn change_claims(
        &mut self,
        vpc: &str,
        id: &str,
        before: &BTreeMap<String, Ipv4Addr>,
        now: &BTreeMap<String, Ipv4Addr>,
    ) -> Vec<(String, Option<Ipv4Addr>)> {
        let claims = self.claims.entry(vpc.to_owned()).or_default();
        let winner = |claims: &BTreeMap<String, BTreeMap<String, Ipv4Addr>>, name: &str| {
            claims
                .get(name)
                .and_then(|c| c.first_key_value())
                .map(|(_, ip)| *ip)
        };
        let mut changes = Vec::new();
        for name in before.keys().chain(now.keys()).collect::<BTreeSet<_>>() {
            let was = winner(claims, name);
            match now.get(name) {
                Some(ip) => {
                    claims
                        .entry(name.clone())
                        .or_default()
                        .insert(id.to_owned(), *ip);
                }
                None => {
                    if let Some(c) = claims.get_mut(name) {
                        c.remove(id);
                        if c.is_empty() {
                            claims.remove(name);
                        }
                    }
                }
            }
            let answer = winner(claims, name);
            if answer != was {
                changes.push((name.clone(), answer));
            }
        }
        changes
    }

    /// Whether the VPC, subnet and groups `eni` names are among these records, so its VPC's
    /// desired state computed from them is what the store holds.
    fn knows_placement(&self, eni: &NetworkInterface) -> bool {
        self.vpcs.contains_key(&eni.vpc_id)
            && self
                .subnets
                .iter()
                .any(|s| s.id == eni.subnet_id && s.vpc_id == eni.vpc_id)
            && eni.groups.iter().all(|g| {
                self.groups
                    .iter()
                    .any(|known| known.id == g.id && known.vpc_id == eni.vpc_id)
            })
    }

    fn desired(&self) -> Desired {
        Desired {
            vpcs: self
                .vpcs
                .values()
                .filter_map(|(_, vpc)| self.desired_vpc(vpc))
                .collect(),
        }
    }

    fn desired_vpc(&self, vpc: &Vpc) -> Option<DesiredVpc> {
        let region = self
            .vpcs
            .get(&vpc.id)
            .map_or("", |(s, _)| s.region.as_str());
        let cidr: Ipv4Cidr = match vpc.cidr_block.parse() {
            Ok(cidr) => cidr,
            Err(error) => {
                tracing::warn!(vpc = %vpc.id, %error, "VPC CIDR unreadable; not realized");
                return None;
            }
        };
        let igw = self
            .igws
            .iter()
            .find(|g| {
                g.attachments
                    .iter()
                    .any(|a| a.vpc_id == vpc.id && a.state == "available")
            })
            .map(|g| DesiredIgw { id: g.id.clone() });
        let nat_gateways: Vec<DesiredNat> = self
            .nat_gateways
            .values()
            .map(|(_, n)| n)
            .filter(|n| n.vpc_id == vpc.id && matches!(n.state.as_str(), "pending" | "available"))
            .filter_map(|n| {
                let primary = n
                    .addresses
                    .iter()
                    .find(|a| a.is_primary)
                    .or(n.addresses.first())?;
                Some(DesiredNat {
                    id: n.id.clone(),
                    subnet: n.subnet_id.clone(),
                    private_ip: primary.private_ip.parse().ok()?,
                    public_ip: primary.public_ip.as_deref().and_then(|p| p.parse().ok()),
                })
            })
            .collect();
        let groups: Vec<DesiredSecurityGroup> = self
            .groups
            .iter()
            .filter(|g| g.vpc_id == vpc.id)
            .map(desired_group)
            .collect();
        let enis: Vec<DesiredEni> = self
            .interfaces
            .values()
            .filter(|e| e.vpc_id == vpc.id)
            .filter_map(desired_eni)
            .collect();
        let subnets = self
            .subnets
            .iter()
            .filter(|s| s.vpc_id == vpc.id)
            .filter_map(|s| {
                let route = |r: &Route| -> Vec<DesiredRoute> {
                    let target = match &r.target {
                        RouteTarget::VpcEndpoint(id) => {
                            return self.endpoint_routes(region, r, id);
                        }
                        RouteTarget::Local => Some(dataplane::RouteTarget::Local),
                        RouteTarget::Gateway(id) => igw
                            .as_ref()
                            .filter(|g| g.id == *id)
                            .map(|_| dataplane::RouteTarget::Igw),
                        RouteTarget::NatGateway(id) => nat_gateways
                            .iter()
                            .find(|n| n.id == *id)
                            .map(|_| dataplane::RouteTarget::Nat(id.clone())),
                        RouteTarget::NetworkInterface(id) => enis
                            .iter()
                            .find(|e| e.id == *id)
                            .map(|_| dataplane::RouteTarget::Eni(id.clone())),
                    };
                    let destination = r
                        .destination_cidr_block
                        .as_deref()
                        .and_then(|d| d.parse().ok());
                    match (destination, target) {
                        (Some(destination), Some(target)) => vec![DesiredRoute {
                            destination,
                            target,
                        }],
                        _ => Vec::new(),
                    }
                };
                let routes = self
                    .table_of(s)
                    .map(|t| {
                        t.routes
                            .iter()
                            .filter(|r| r.state == "active")
                            .flat_map(route)
                            .collect()
                    })
                    .unwrap_or_default();
                Some(DesiredSubnet {
                    id: s.id.clone(),
                    cidr: s.cidr_block.parse().ok()?,
                    routes,
                })
            })
            .collect();
        Some(DesiredVpc {
            id: vpc.id.clone(),
            cidr,
            subnets,
            igw,
            nat_gateways,
            enis,
            security_groups: groups,
            names: self.names(vpc),
            served: crate::endpoints::served(),
        })
    }

    /// The route table of subnet `s`: its own association, or its VPC's main table.
    fn table_of(&self, s: &Subnet) -> Option<&RouteTable> {
        let in_vpc = || self.route_tables.iter().filter(|t| t.vpc_id == s.vpc_id);
        in_vpc()
            .find(|t| {
                t.associations
                    .iter()
                    .any(|a| a.subnet_id.as_deref() == Some(s.id.as_str()))
            })
            .or_else(|| in_vpc().find(|t| t.is_main()))
    }

    /// What the VPC endpoints' listeners should serve: for each VPC, the subnets whose route
    /// table holds a gateway endpoint's route, with that endpoint; every interface of an
    /// interface endpoint.
    fn wanted_endpoints(&self) -> endpoints::vpc::Wanted {
        let via = |e: &VpcEndpoint| {
            Arc::new(endpoints::vpc::Via {
                endpoint: e.id.clone(),
                vpc: e.vpc_id.clone(),
                policy: e.policy_document.clone(),
            })
        };
        let live = |e: &VpcEndpoint| matches!(e.state.as_str(), "pending" | "available");
        let mut wanted = endpoints::vpc::Wanted::default();
        for s in &self.subnets {
            let Some(table) = self.table_of(s) else {
                continue;
            };
            let Ok(cidr) = s.cidr_block.parse::<Ipv4Cidr>() else {
                continue;
            };
            for r in &table.routes {
                let RouteTarget::VpcEndpoint(id) = &r.target else {
                    continue;
                };
                if let Some((_, e)) = self.endpoints.get(id).filter(|(_, e)| live(e)) {
                    wanted
                        .gateways
                        .entry(s.vpc_id.clone())
                        .or_default()
                        .push((cidr, via(e)));
                }
            }
        }
        for (_, e) in self.endpoints.values() {
            if e.endpoint_type != "Interface" || !live(e) {
                continue;
            }
            for id in &e.network_interface_ids {
                if let Some(ip) = self
                    .interfaces
                    .get(id)
                    .and_then(|eni| eni.private_ip_address.parse().ok())
                {
                    wanted.interfaces.insert(id.clone(), (ip, via(e)));
                }
            }
        }
        wanted
    }

    /// A gateway endpoint's route: one route to the endpoint per address block of its
    /// prefix list, while the endpoint is there.
    fn endpoint_routes(&self, region: &str, route: &Route, id: &str) -> Vec<DesiredRoute> {
        let live = self
            .endpoints
            .get(id)
            .is_some_and(|(_, e)| matches!(e.state.as_str(), "pending" | "available"));
        let list = route
            .destination_prefix_list_id
            .as_deref()
            .and_then(|pl| endpoint::prefix_list(region, pl));
        match (live, list) {
            (true, Some(list)) => list
                .cidrs
                .iter()
                .filter_map(|c| c.parse().ok())
                .map(|destination| DesiredRoute {
                    destination,
                    target: dataplane::RouteTarget::Endpoint(id.to_owned()),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// What the VPC's resolver answers: the AWS private DNS name of every address of every
    /// interface of the VPC (NAT gateways' included), and the names registered with
    /// [`HOSTNAME_TAG`]; the first interface by id wins a name two of them claim.
    fn names(&self, vpc: &Vpc) -> Names {
        let mut names: Names = self
            .claims
            .get(&vpc.id)
            .into_iter()
            .flatten()
            .filter_map(|(name, claims)| Some((name.clone(), *claims.values().next()?)))
            .collect();
        for (_, e) in self.endpoints.values() {
            if e.vpc_id == vpc.id && e.endpoint_type == "Interface" {
                names.extend(self.endpoint_names(e));
            }
        }
        names
    }

    /// An interface endpoint's DNS entries and the addresses they answer: a zonal name its
    /// zone's interface, every other name (regional, and the service's own with private
    /// DNS) the first interface.
    fn endpoint_names(&self, e: &VpcEndpoint) -> Vec<(String, Ipv4Addr)> {
        let interfaces: Vec<(&str, Ipv4Addr)> = e
            .network_interface_ids
            .iter()
            .filter_map(|id| self.interfaces.get(id))
            .filter_map(|eni| {
                Some((
                    eni.availability_zone.as_str(),
                    eni.private_ip_address.parse().ok()?,
                ))
            })
            .collect();
        let Some((_, first)) = interfaces.first() else {
            return Vec::new();
        };
        e.dns_entries
            .iter()
            .map(|entry| {
                let name = entry.dns_name.to_ascii_lowercase();
                let zonal = interfaces.iter().find(|(az, _)| {
                    name.split('.')
                        .next()
                        .is_some_and(|label| label.ends_with(&format!("-{az}")))
                });
                (name, zonal.map_or(*first, |(_, ip)| *ip))
            })
            .collect()
    }
}

/// An interface as the dataplane realizes it; `None` for one it does not give a namespace of
/// its own (a NAT gateway's: the gateway's namespace holds that address).
fn desired_eni(e: &NetworkInterface) -> Option<DesiredEni> {
    if e.interface_type == "nat_gateway" {
        return None;
    }
    Some(DesiredEni {
        id: e.id.clone(),
        subnet: e.subnet_id.clone(),
        ip: e.private_ip_address.parse::<Ipv4Addr>().ok()?,
        security_groups: e.groups.iter().map(|g| g.id.clone()).collect(),
        public_ip: e
            .association
            .as_ref()
            .and_then(|a| a.public_ip.parse().ok()),
        source_dest_check: e.source_dest_check,
    })
}

/// A security-group rule as the dataplane enforces it: a prefix-list peer becomes one rule
/// per address block of the list; IPv6 peers have nothing to match in an IPv4-only
/// dataplane and are left out.
fn sg_rule(region: &str, rule: &SecurityGroupRule) -> Vec<SgRule> {
    let range = || {
        let from = u16::try_from(rule.from_port).ok()?;
        let to = u16::try_from(rule.to_port).ok()?;
        Some(PortRange { from, to })
    };
    let code = |n: i32| u8::try_from(n).ok();
    let protocol = match rule.protocol.as_str() {
        "-1" => Some(Protocol::All),
        "tcp" => Some(Protocol::Tcp(range())),
        "udp" => Some(Protocol::Udp(range())),
        "icmp" => Some(Protocol::Icmp {
            icmp_type: code(rule.from_port),
            code: code(rule.to_port),
        }),
        "icmpv6" => None,
        other => other.parse().ok().map(Protocol::Number),
    };
    let Some(protocol) = protocol else {
        return Vec::new();
    };
    let peers = match &rule.peer {
        RulePeer::Ipv4(cidr) => cidr.parse().ok().map(Peer::Cidr).into_iter().collect(),
        RulePeer::Group { group_id, .. } => vec![Peer::Group(group_id.clone())],
        RulePeer::PrefixList(id) => endpoint::prefix_list(region, id)
            .map(|list| list.cidrs)
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.parse().ok().map(Peer::Cidr))
            .collect(),
        RulePeer::Ipv6(_) => Vec::new(),
    };
    peers
        .into_iter()
        .map(|peer| SgRule { protocol, peer })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ec2_call(body: &str) -> Call {
        Call {
            method: http::Method::POST,
            uri: "/".parse().unwrap(),
            headers: http::HeaderMap::new(),
            body: bytes::Bytes::from(body.to_owned()),
            request_id: "r".into(),
            account: control::Account::default_test(),
            session: None,
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn group_rule_changes_take_the_fast_path_and_the_rest_a_full_pass() {
        let response = http::Response::new(bytes::Bytes::new());
        let change = |body: &str| ec2_change(&ec2_call(body), &response);
        assert_eq!(change("Action=DescribeVpcs"), Ec2Change::None);
        for action in [
            "AuthorizeSecurityGroupIngress",
            "RevokeSecurityGroupEgress",
            "ModifySecurityGroupRules",
        ] {
            assert_eq!(
                change(&format!("Action={action}&GroupId=sg-1")),
                Ec2Change::GroupRules("sg-1".into())
            );
        }
        assert_eq!(
            change("Action=AuthorizeSecurityGroupIngress&GroupName=web"),
            Ec2Change::Other,
            "by name: no id at hand"
        );
        assert_eq!(
            change("Action=CreateNetworkInterface&SubnetId=subnet-1"),
            Ec2Change::Other,
            "no interface made"
        );
        let mut created = http::Response::new(bytes::Bytes::new());
        created
            .extensions_mut()
            .insert(InterfaceCreated("eni-2".into()));
        assert_eq!(
            ec2_change(
                &ec2_call("Action=CreateNetworkInterface&SubnetId=subnet-1"),
                &created
            ),
            Ec2Change::Interface("eni-2".into())
        );
        assert_eq!(
            change("Action=DeleteSecurityGroup&GroupId=sg-1"),
            Ec2Change::Other
        );
        assert_eq!(
            change("Action=DeleteNetworkInterface&NetworkInterfaceId=eni-1"),
            Ec2Change::Interface("eni-1".into())
        );
    }

    /// The fast path's records (a full load, then only the changed interfaces replaced)
    /// give the VPC the same desired state as a full load after the same changes, and so do
    /// the interface deltas they return applied to the desired state before: creates with
    /// groups, a fixed address and a hostname, a hostname claimed twice, and deletes.
    #[test]
    fn interfaces_replaced_in_cached_records_desire_what_a_full_load_does() {
        use control::ec2::network_interface::{self, NewNetworkInterface};
        use control::ec2::security_group::{self, NewSecurityGroup};
        use control::ec2::subnet::{self, NewSubnet};
        use control::ec2::tags::TagSpec;
        use control::ec2::vpc::{self, NewVpc};
        use control::ec2::Ec2Error;

        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).unwrap();
        let scope = Scope::new("000000000000", "us-east-1");
        let eni = |subnet: &str, groups: &[&str], ip: Option<&str>, hostname: Option<&str>| {
            NewNetworkInterface {
                subnet_id: Some(subnet.to_owned()),
                security_groups: Some(groups.iter().map(|g| g.to_string()).collect()),
                private_ip_address: ip.map(str::to_owned),
                tag_specs: hostname
                    .map(|name| TagSpec {
                        resource_type: "network-interface".into(),
                        tags: vec![control::ec2::model::Tag {
                            key: HOSTNAME_TAG.into(),
                            value: name.into(),
                        }],
                    })
                    .into_iter()
                    .collect(),
                ..NewNetworkInterface::default()
            }
        };
        let (vpc_id, subnet_id, groups, old) = store
            .write(|tx| -> Result<_, Ec2Error> {
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
                        cidr_block: Some("10.0.1.0/24".into()),
                        availability_zone: Some("us-east-1a".into()),
                        ..NewSubnet::default()
                    },
                )?;
                let mut groups = Vec::new();
                for name in ["web", "client"] {
                    let g = security_group::create(
                        tx,
                        &scope,
                        &NewSecurityGroup {
                            name: Some(name.into()),
                            description: Some(name.into()),
                            vpc_id: Some(v.id.clone()),
                            ..NewSecurityGroup::default()
                        },
                    )?;
                    groups.push(g.id);
                }
                let mut old = Vec::new();
                for i in 0..5 {
                    let new = eni(&s.id, &[&groups[i % 2]], None, None);
                    old.push(network_interface::create(tx, &scope, &new, None)?.id);
                }
                Ok((v.id, s.id, groups, old))
            })
            .unwrap();
        let mut cached = Records::load(&store).unwrap();
        let desired = |records: &Records| {
            let (_, vpc) = &records.vpcs[&vpc_id];
            let mut desired = records.desired_vpc(vpc).unwrap();
            desired.enis.sort_by(|a, b| a.id.cmp(&b.id));
            desired
        };
        // What the dataplane holds: the deltas are applied to it as `apply_eni` does.
        let mut applied = desired(&cached);
        let (web, client) = (groups[0].as_str(), groups[1].as_str());
        let changed = store
            .write(|tx| -> Result<_, Ec2Error> {
                let a = network_interface::create(
                    tx,
                    &scope,
                    &eni(&subnet_id, &[web, client], Some("10.0.1.200"), Some("db")),
                    None,
                )?;
                let b = network_interface::create(
                    tx,
                    &scope,
                    &eni(&subnet_id, &[client], None, None),
                    None,
                )?;
                // Two claims of one name: the lower id answers, the other takes over after.
                let c = network_interface::create(
                    tx,
                    &scope,
                    &eni(&subnet_id, &[web], None, Some("dup")),
                    None,
                )?;
                let d = network_interface::create(
                    tx,
                    &scope,
                    &eni(&subnet_id, &[web], None, Some("dup")),
                    None,
                )?;
                network_interface::delete(tx, &scope, &old[2])?;
                Ok(vec![a.id, b.id, c.id, d.id, old[2].clone()])
            })
            .unwrap();
        let first_dup = changed[2].clone().min(changed[3].clone());
        store
            .write(|tx| network_interface::delete(tx, &scope, &first_dup))
            .unwrap();
        let fresh = store
            .read(|tx| {
                changed
                    .iter()
                    .chain([&first_dup])
                    .map(|id| {
                        let record =
                            tx.get_json::<NetworkInterface>(kind::NETWORK_INTERFACE, &scope, id)?;
                        Ok((id.clone(), record))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .unwrap();
        for (id, record) in fresh {
            for delta in cached.replace_interface(&id, record).unwrap() {
                assert_eq!(delta.vpc, vpc_id);
                applied.enis.retain(|e| e.id != delta.id);
                applied.enis.extend(delta.eni);
                for (name, ip) in delta.names {
                    match ip {
                        Some(ip) => applied.names.insert(name, ip),
                        None => applied.names.remove(&name),
                    };
                }
            }
        }
        applied.enis.sort_by(|a, b| a.id.cmp(&b.id));
        let loaded = Records::load(&store).unwrap();
        let (fast, full) = (desired(&cached), desired(&loaded));
        assert_eq!(fast.enis.len(), 7);
        assert_eq!(fast.names.get("db"), Some(&"10.0.1.200".parse().unwrap()));
        let second_dup = changed[2].clone().max(changed[3].clone());
        let second_ip = &loaded.interfaces[&second_dup].private_ip_address;
        assert_eq!(fast.names.get("dup"), Some(&second_ip.parse().unwrap()));
        assert_eq!(fast, full);
        assert_eq!(applied, full);

        // An interface in a subnet made after the records were loaded: a full load is due.
        let elsewhere = store
            .write(|tx| -> Result<_, Ec2Error> {
                let s = subnet::create(
                    tx,
                    &scope,
                    &NewSubnet {
                        vpc_id: Some(vpc_id.clone()),
                        cidr_block: Some("10.0.2.0/24".into()),
                        availability_zone: Some("us-east-1a".into()),
                        ..NewSubnet::default()
                    },
                )?;
                network_interface::create(tx, &scope, &eni(&s.id, &[web], None, None), None)
            })
            .unwrap();
        assert!(cached
            .replace_interface(&elsewhere.id.clone(), Some(elsewhere))
            .is_none());
    }

    fn rule(protocol: &str, from: i32, to: i32, peer: RulePeer) -> SecurityGroupRule {
        SecurityGroupRule {
            id: "sgr-1".into(),
            protocol: protocol.into(),
            from_port: from,
            to_port: to,
            peer,
            description: None,
        }
    }

    #[test]
    fn rules_map_to_the_dataplane() {
        let any = RulePeer::Ipv4("0.0.0.0/0".into());
        let map = |r: SecurityGroupRule| sg_rule("us-east-1", &r);
        assert_eq!(
            map(rule("tcp", 80, 81, any.clone())),
            vec![SgRule {
                protocol: Protocol::Tcp(Some(PortRange { from: 80, to: 81 })),
                peer: Peer::Cidr(Ipv4Cidr::ANY),
            }]
        );
        assert_eq!(
            map(rule("icmp", 8, -1, any.clone()))[0].protocol,
            Protocol::Icmp {
                icmp_type: Some(8),
                code: None
            }
        );
        let group = RulePeer::Group {
            group_id: "sg-1".into(),
            user_id: "000000000000".into(),
        };
        assert_eq!(
            map(rule("-1", -1, -1, group))[0].peer,
            Peer::Group("sg-1".into())
        );
        assert_eq!(
            map(rule("47", -1, -1, any))[0].protocol,
            Protocol::Number(47)
        );
        assert_eq!(
            map(rule("tcp", 80, 80, RulePeer::Ipv6("::/0".into()))),
            vec![]
        );
        // S3's prefix list is its address block; an unknown list matches nothing.
        let s3 = endpoint::prefix_lists("us-east-1").remove(0);
        assert_eq!(
            map(rule("tcp", 443, 443, RulePeer::PrefixList(s3.id)))[0].peer,
            Peer::Cidr(s3.cidrs[0].parse().unwrap())
        );
        assert_eq!(
            map(rule(
                "tcp",
                443,
                443,
                RulePeer::PrefixList("pl-00000000".into())
            )),
            vec![]
        );
    }
}
