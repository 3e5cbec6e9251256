//! [`Dataplane`]: reconciles the kernel with a [`Desired`] state, and attaches execution
//! environments and simulated-internet hosts.
//!
//! Owns every namespace, link, route, rule and nft table of the VPC topology (DESIGN.md):
//! `vl-pub` (the simulated internet), one router namespace `vl-vpc-…` per VPC, `vl-eni-…`,
//! `vl-nat-…`, `vl-env-…` and `vl-host-…`. Every name derives from a store id. Must not
//! create anything in the caller's own namespace, and must not touch objects without the
//! `vl-` prefix.
//!
//! Reconciliation is level-triggered: [`Dataplane::apply`] compares the desired state with
//! what this process last applied and changes only the difference; a VPC this process has
//! not applied yet (start-up, or after a failure) is rebuilt idempotently from scratch and
//! its leftovers removed, so a restart converges whatever a crash left behind.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

use net::names::{ifname, netns_name, validate_netns_name};
use net::{Ipv4Cidr, Netlink, Netns, Nft, NftSession, Route, Rule, MAIN_TABLE};
use tokio::sync::Mutex;

use crate::dns::Resolver;
use crate::dns::{valid_name, PublicNames};
use crate::model::{
    check_id, contains, gateway_of, resolver_of, usable, DesiredEni, DesiredNat,
    DesiredSecurityGroup, DesiredVpc, EniDelta, RouteTarget,
};
use crate::render;
use crate::uplink::{self, HostUplink, Uplink};
use crate::Names;
use crate::{Desired, Error, Result};

/// The simulated internet's namespace.
pub const PUBLIC_NETNS: &str = "vl-pub";
/// The address `vl-pub` has on every link (hosts and IGWs route to it).
const PUBLIC_GATEWAY: Ipv4Addr = Ipv4Addr::new(169, 254, 0, 1);
/// The test ranges hosts of the simulated internet may use (RFC 5737).
const PUBLIC_RANGES: [(Ipv4Addr, u8); 2] = [
    (Ipv4Addr::new(203, 0, 113, 0), 24),
    (Ipv4Addr::new(198, 51, 100, 0), 24),
];
/// Priority of the per-subnet policy rules in a router namespace.
const RULE_PRIORITY: u32 = 100;
/// Environments of one ENI live in 100.64.0.0/10 behind the ENI namespace's 100.64.0.1;
/// the ENI masquerades them, so the range never appears outside. Environments of functions
/// without a VPC use the same range behind `vl-pub`, which masquerades them likewise.
const ENV_GATEWAY: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
/// Role of the `vl-pub` end of a public environment's veth (`vl-q…`).
const PUBLIC_ENV_ROLE: &str = "q";

/// What one [`Dataplane::apply`] achieved.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// NAT gateways whose kernel objects exist and forward traffic.
    pub nat_gateways_ready: Vec<String>,
    /// VPCs that could not be reconciled, with why; the others were.
    pub failures: Vec<(String, Error)>,
    /// nft statements committed (0 when the firewalls already matched).
    pub nft_statements: usize,
}

struct Public {
    netns: Netns,
    nl: Netlink,
}

struct VpcState {
    router: Netns,
    nl: Netlink,
    /// The router's nft session: every batch of its tables goes through it.
    firewall: NftSession,
    /// What the router's table, links and namespaces currently hold.
    applied: DesiredVpc,
    /// Lookups into `applied`; set with it (`set_applied`, `replace_eni`).
    index: Index,
    /// The internet gateway's link and its router-side address.
    igw: Option<(String, Ipv4Addr)>,
    /// Routes of each subnet's table as last written, and its `local` routes (gateway
    /// endpoints' destinations, delivered to the router).
    tables: BTreeMap<String, (Vec<Route>, BTreeSet<Ipv4Cidr>)>,
    /// Public addresses routed from `vl-pub` to this VPC's IGW.
    published: BTreeSet<Ipv4Addr>,
}

/// What the one-interface path ([`Dataplane::apply_eni`]) looks up in a VPC's applied
/// state without going through every interface.
#[derive(Default)]
struct Index {
    /// Where each interface is in `applied.enis`.
    enis: HashMap<String, usize>,
    /// How many interfaces carry each group set: the set's dispatch chains exist while
    /// one does.
    group_sets: HashMap<Vec<String>, usize>,
    /// The private addresses of the interfaces and NAT gateways.
    addresses: HashSet<Ipv4Addr>,
}

impl Index {
    fn of(vpc: &DesiredVpc) -> Index {
        let mut index = Index {
            enis: HashMap::with_capacity(vpc.enis.len()),
            group_sets: HashMap::new(),
            addresses: vpc.nat_gateways.iter().map(|n| n.private_ip).collect(),
        };
        for (at, eni) in vpc.enis.iter().enumerate() {
            index.enis.insert(eni.id.clone(), at);
            index.count(eni, true);
        }
        index
    }

    /// Counts `eni` in (or, with `add` false, out of) its group set and addresses.
    fn count(&mut self, eni: &DesiredEni, add: bool) {
        if add {
            *self
                .group_sets
                .entry(eni.security_groups.clone())
                .or_default() += 1;
            self.addresses.insert(eni.ip);
        } else {
            if let Some(n) = self.group_sets.get_mut(&eni.security_groups) {
                *n -= 1;
                if *n == 0 {
                    self.group_sets.remove(&eni.security_groups);
                }
            }
            self.addresses.remove(&eni.ip);
        }
    }

    fn users(&self, groups: &[String]) -> usize {
        self.group_sets.get(groups).copied().unwrap_or(0)
    }
}

impl VpcState {
    fn set_applied(&mut self, vpc: DesiredVpc) {
        self.index = Index::of(&vpc);
        self.applied = vpc;
    }

    fn eni(&self, id: &str) -> Option<&DesiredEni> {
        self.index
            .enis
            .get(id)
            .and_then(|&at| self.applied.enis.get(at))
    }

    /// Replaces interface `id` of `applied` with `eni` (`None`: removes it), keeping the
    /// index; the other interfaces may change places.
    fn replace_eni(&mut self, id: &str, eni: Option<DesiredEni>) {
        if let Some(at) = self.index.enis.remove(id) {
            let old = self.applied.enis.swap_remove(at);
            self.index.count(&old, false);
            if let Some(moved) = self.applied.enis.get(at) {
                self.index.enis.insert(moved.id.clone(), at);
            }
        }
        if let Some(eni) = eni {
            self.index.count(&eni, true);
            self.index
                .enis
                .insert(eni.id.clone(), self.applied.enis.len());
            self.applied.enis.push(eni);
        }
    }

    /// Whether `delta` is a change [`Dataplane::apply_eni`] can apply alone, with the
    /// outcome a whole-VPC pass would have: an interface without a public address that no
    /// route leads through, and a VPC that [`DesiredVpc::check`] would still accept.
    fn accepts(&self, delta: &EniDelta) -> bool {
        let applied = &self.applied;
        if check_id(&delta.id).is_err() || !delta.id.starts_with("eni-") {
            return false;
        }
        if self.eni(&delta.id).is_some_and(|o| o.public_ip.is_some()) {
            return false;
        }
        let routed = applied
            .subnets
            .iter()
            .flat_map(|s| &s.routes)
            .any(|r| matches!(&r.target, RouteTarget::Eni(id) if *id == delta.id));
        if routed {
            return false;
        }
        if let Some(new) = &delta.eni {
            if new.id != delta.id || new.public_ip.is_some() {
                return false;
            }
            let Some(subnet) = applied.subnets.iter().find(|s| s.id == new.subnet) else {
                return false;
            };
            let taken = self.index.addresses.contains(&new.ip)
                && self.eni(&delta.id).map(|o| o.ip) != Some(new.ip);
            let groups_known = new
                .security_groups
                .iter()
                .all(|g| applied.security_groups.iter().any(|k| k.id == *g));
            if !usable(subnet.cidr, new.ip) || taken || !groups_known {
                return false;
            }
        }
        delta
            .names
            .iter()
            .all(|(name, ip)| ip.is_none_or(|ip| valid_name(name) && contains(applied.cidr, ip)))
    }
}

/// Where an environment is attached: an ENI's namespace, or `vl-pub` (`eni` is `None`).
struct Attachment {
    eni: Option<String>,
    ip: Ipv4Addr,
}

#[derive(Default)]
struct State {
    public: Option<Public>,
    vpcs: BTreeMap<String, VpcState>,
    envs: BTreeMap<String, Attachment>,
    /// ENIs whose namespace forwards and masquerades for environments.
    env_ready: BTreeSet<String>,
    hosts: BTreeMap<Ipv4Addr, String>,
    /// The resolver of each VPC. Kept apart from `vpcs`, whose entry a failed pass drops:
    /// the socket stays bound in the router namespace, which a rebuild reuses.
    resolvers: BTreeMap<String, Resolver>,
    /// What `--uplink host` changed in the caller's namespace.
    host_uplink: Option<HostUplink>,
    /// The resolver of the simulated internet, in the host of the first public service.
    public_resolver: Option<(Ipv4Addr, Resolver)>,
}

/// The VPC dataplane of one daemon. All changes are serialised through one lock: the
/// kernel state has one writer (reliability rule 8).
pub struct Dataplane {
    nft: Nft,
    uplink: Uplink,
    state: Mutex<State>,
    /// The public services' names, answered by every resolver after its own.
    public_names: PublicNames,
}

/// The namespace of the object `id` (`vpc-…`, `eni-…`, `nat-…`): `vl-<id>`.
pub fn namespace_of(id: &str) -> Result<String> {
    crate::model::check_id(id)?;
    let name = format!("vl-{id}");
    validate_netns_name(&name)?;
    Ok(name)
}

/// Whether the kernel has IPv6, looked up once: a path under `/proc/sys/net` costs a
/// lookup that grows with the number of namespaces.
fn ipv6_present() -> bool {
    static PRESENT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PRESENT.get_or_init(|| Path::new("/proc/sys/net/ipv6").exists())
}

fn path_of(name: &str) -> PathBuf {
    Path::new(net::NETNS_RUN_DIR).join(name)
}

fn bridge_of(subnet: &str) -> Result<String> {
    Ok(ifname("b", subnet)?)
}

/// A routing table id per subnet, derived from its id (stable across restarts).
fn table_of(subnet: &str) -> Result<u32> {
    let name = ifname("t", subnet)?;
    let hash = u64::from_str_radix(&name[4..], 16).map_err(|_| Error::BadId(subnet.to_owned()))?;
    // Above the kernel's reserved 253-255 and below 2^31.
    Ok(1000 + (hash % 1_000_000_000) as u32)
}

fn igw_ends(igw: &str) -> Result<(String, String)> {
    Ok((ifname("g", igw)?, ifname("i", igw)?))
}

fn host32(ip: Ipv4Addr) -> Ipv4Cidr {
    Ipv4Cidr::new(ip, 32).unwrap_or(Ipv4Cidr::ANY)
}

fn in_range(ip: Ipv4Addr, (base, prefix): (Ipv4Addr, u8)) -> bool {
    let mask = u32::MAX << (32 - u32::from(prefix));
    u32::from(ip) & mask == u32::from(base)
}

async fn open_if_present(name: &str) -> Result<Option<Netns>> {
    match Netns::open(name) {
        Ok(netns) => Ok(Some(netns)),
        Err(net::Error::NetnsNotFound(_) | net::Error::NotANetns(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A namespace with `lo` up, and a netlink connection into it.
async fn namespace(name: &str) -> Result<(Netns, Netlink)> {
    let netns = Netns::create(name)?;
    let nl = Netlink::connect(&netns).await?;
    nl.set_up("lo").await?;
    Ok((netns, nl))
}

impl Dataplane {
    /// Loads nftables and builds `vl-pub`, connected to the caller's network as `uplink`
    /// says. Neither execution environments nor simulated-internet hosts survive a restart
    /// (their processes held them), so leftover `vl-env-*` and `vl-host-*` namespaces are
    /// removed here: call this before the execution layer creates any environment.
    pub async fn start(uplink: Uplink) -> Result<Dataplane> {
        let dataplane = Dataplane {
            nft: Nft::load()?,
            uplink,
            state: Mutex::new(State::default()),
            public_names: PublicNames::default(),
        };
        for prefix in ["vl-host-", "vl-env-"] {
            for name in Netns::list_with_prefix(prefix)? {
                Netns::delete(&name)?;
            }
        }
        let mut state = dataplane.state.lock().await;
        dataplane.ensure_public(&mut state).await?;
        drop(state);
        Ok(dataplane)
    }

    async fn ensure_public<'a>(&self, state: &'a mut State) -> Result<&'a Public> {
        if state.public.is_none() {
            let (netns, nl) = namespace(PUBLIC_NETNS).await?;
            netns.sysctl_set("net.ipv4.ip_forward", "1")?;
            netns.sysctl_set("net.ipv4.conf.all.send_redirects", "0")?;
            netns.sysctl_set("net.ipv4.conf.default.send_redirects", "0")?;
            let ranges = PUBLIC_RANGES
                .iter()
                .map(|(base, prefix)| format!("{base}/{prefix}"))
                .collect::<Vec<_>>()
                .join(", ");
            // Defence in depth: whatever a bug adds, vl-pub forwards only to public test
            // ranges (never toward a VPC CIDR) and serves nothing itself. Environments of
            // functions without a VPC (links `vl-q…`) get replies and nothing else: no
            // connection into them, none between them; they leave masqueraded behind the
            // address of the link they leave by, so their range never appears outside.
            let envs = format!("vl-{PUBLIC_ENV_ROLE}*");
            let range = env_range();
            let (uplink_forward, uplink_post) = uplink::public_rules(self.uplink, &ranges);
            let batch = format!(
                "add table ip vl_pub\n\
                 delete table ip vl_pub\n\
                 add table ip vl_pub\n\
                 add chain ip vl_pub c_forward {{ type filter hook forward priority 0; policy accept; }}\n\
                 add rule ip vl_pub c_forward oifname \"{envs}\" ct state established,related accept\n\
                 add rule ip vl_pub c_forward oifname \"{envs}\" drop\n\
                 {uplink_forward}\
                 add rule ip vl_pub c_forward ip daddr != {{ {ranges} }} drop\n\
                 add chain ip vl_pub c_input {{ type filter hook input priority 0; policy drop; }}\n\
                 add rule ip vl_pub c_input iif \"lo\" accept\n\
                 add rule ip vl_pub c_input ct state established,related accept\n\
                 add chain ip vl_pub c_post {{ type nat hook postrouting priority srcnat; policy accept; }}\n\
                 add rule ip vl_pub c_post ip saddr {range} oifname != \"{envs}\" masquerade\n\
                 {uplink_post}"
            );
            self.nft.apply(&netns, &batch).await?;
            // Hosts and public environments do not survive a restart; their links go.
            for prefix in ["vl-p", "vl-q"] {
                for link in nl.links_with_prefix(prefix).await? {
                    nl.delete_link(&link.name).await?;
                }
            }
            state.host_uplink = uplink::realize(self.uplink, &self.nft, &nl).await?;
            state.public = Some(Public { netns, nl });
        }
        match &state.public {
            Some(public) => Ok(public),
            None => Err(Error::Net(net::Error::NetnsNotFound(PUBLIC_NETNS.into()))),
        }
    }

    /// Makes the kernel match `desired`: creates what is missing, fixes what differs, and
    /// removes every VPC, ENI and NAT gateway namespace no desired item owns. Safe to call
    /// repeatedly; a call with nothing changed touches nothing. A VPC that fails is
    /// reported and left to be rebuilt from scratch by the next call; the others proceed.
    pub async fn apply(&self, desired: &Desired) -> Result<ApplyReport> {
        let mut state = self.state.lock().await;
        self.ensure_public(&mut state).await?;
        let mut report = ApplyReport::default();
        let wanted: BTreeSet<&str> = desired.vpcs.iter().map(|v| v.id.as_str()).collect();
        let gone: Vec<String> = state
            .vpcs
            .keys()
            .filter(|id| !wanted.contains(id.as_str()))
            .cloned()
            .collect();
        for id in gone {
            self.remove_vpc(&mut state, &id).await?;
        }
        // Also those of VPCs that failed and were then deleted: a socket holds its namespace.
        state.resolvers.retain(|id, _| wanted.contains(id.as_str()));
        for vpc in &desired.vpcs {
            let outcome = match vpc.check() {
                Ok(()) => self.apply_vpc(&mut state, vpc, &mut report).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) => report
                    .nat_gateways_ready
                    .extend(vpc.nat_gateways.iter().map(|n| n.id.clone())),
                Err(error) => {
                    tracing::warn!(vpc = %vpc.id, %error, "VPC not reconciled");
                    state.vpcs.remove(&vpc.id);
                    report.failures.push((vpc.id.clone(), error));
                }
            }
        }
        self.collect_garbage(&mut state, desired).await?;
        Ok(report)
    }

    /// Removes namespaces of ours that no desired item owns: interfaces and NAT gateways
    /// first, routers last (reverse order of creation).
    async fn collect_garbage(&self, state: &mut State, desired: &Desired) -> Result<()> {
        let mut owned = BTreeSet::new();
        for vpc in &desired.vpcs {
            owned.insert(format!("vl-{}", vpc.id));
            owned.extend(vpc.enis.iter().map(|e| format!("vl-{}", e.id)));
            owned.extend(vpc.nat_gateways.iter().map(|n| format!("vl-{}", n.id)));
        }
        for prefix in ["vl-eni-", "vl-nat-", "vl-vpc-"] {
            for name in Netns::list_with_prefix(prefix)? {
                if !owned.contains(&name) {
                    tracing::info!(netns = %name, "removing namespace no record owns");
                    if prefix == "vl-eni-" {
                        let eni = name.trim_start_matches("vl-").to_owned();
                        self.forget_environments(state, &eni)?;
                    }
                    Netns::delete(&name)?;
                }
            }
        }
        Ok(())
    }

    async fn remove_vpc(&self, state: &mut State, id: &str) -> Result<()> {
        state.resolvers.remove(id);
        if let Some(vpc) = state.vpcs.remove(id) {
            for eni in &vpc.applied.enis {
                self.forget_environments(state, &eni.id)?;
                delete_attached(&vpc.nl, &ifname("e", &eni.id)?, &eni.id).await?;
            }
            for nat in &vpc.applied.nat_gateways {
                delete_attached(&vpc.nl, &ifname("n", &nat.id)?, &nat.id).await?;
            }
            drop(vpc);
        }
        Netns::delete(&namespace_of(id)?)?;
        tracing::info!(vpc = id, "VPC removed from the kernel");
        Ok(())
    }

    /// Drops the environments attached to `eni` (their links die with the ENI namespace).
    fn forget_environments(&self, state: &mut State, eni: &str) -> Result<()> {
        let envs: Vec<String> = state
            .envs
            .iter()
            .filter(|(_, a)| a.eni.as_deref() == Some(eni))
            .map(|(env, _)| env.clone())
            .collect();
        for env in envs {
            state.envs.remove(&env);
            Netns::delete(&netns_name("env", &env)?)?;
        }
        state.env_ready.remove(eni);
        Ok(())
    }

    async fn apply_vpc(
        &self,
        state: &mut State,
        vpc: &DesiredVpc,
        report: &mut ApplyReport,
    ) -> Result<()> {
        let fresh = !state.vpcs.contains_key(&vpc.id);
        if fresh {
            let (router, nl) = namespace(&namespace_of(&vpc.id)?).await?;
            router.sysctl_set("net.ipv4.ip_forward", "1")?;
            // Bridged (same-subnet) traffic must pass the ip hooks where the security
            // groups are; the default differs between hosts, so it is set explicitly.
            router.sysctl_set("net.bridge.bridge-nf-call-iptables", "1")?;
            router.sysctl_set("net.ipv4.conf.all.send_redirects", "0")?;
            router.sysctl_set("net.ipv4.conf.default.send_redirects", "0")?;
            // VPCs are IPv4 only, and nothing but the daemon runs in a router. Without IPv6
            // on its links (`all` covers those of an earlier run), removing a port does not
            // walk an IPv6 routing table that grows with every ENI (`fib6_clean_all`, the
            // largest kernel cost of a detach at 1,000 ENIs).
            if ipv6_present() {
                router.sysctl_set("net.ipv6.conf.all.disable_ipv6", "1")?;
                router.sysctl_set("net.ipv6.conf.default.disable_ipv6", "1")?;
            }
            // The resolver's address is the router's own, reachable from every subnet.
            nl.add_address("lo", host32(resolver_of(vpc.cidr))).await?;
            // What no subnet's route table sends anywhere falls through to the main table
            // and is dropped there without an ICMP error: as on AWS, a connection from a
            // private subnet to the internet times out rather than being refused.
            nl.add_blackhole(Ipv4Cidr::ANY, MAIN_TABLE).await?;
            let empty = DesiredVpc {
                subnets: Vec::new(),
                igw: None,
                nat_gateways: Vec::new(),
                enis: Vec::new(),
                security_groups: Vec::new(),
                names: Default::default(),
                served: Vec::new(),
                ..vpc.clone()
            };
            let firewall = self.nft.session(&router).await?;
            state.vpcs.insert(
                vpc.id.clone(),
                VpcState {
                    router,
                    nl,
                    firewall,
                    applied: empty,
                    index: Index::default(),
                    igw: None,
                    tables: BTreeMap::new(),
                    published: BTreeSet::new(),
                },
            );
        }
        let Some(public) = state.public.as_ref() else {
            return Err(Error::Net(net::Error::NetnsNotFound(PUBLIC_NETNS.into())));
        };
        let igw_taken: BTreeSet<Ipv4Addr> = state
            .vpcs
            .iter()
            .filter(|(id, _)| **id != vpc.id)
            .filter_map(|(_, v)| v.igw.as_ref().map(|(_, ip)| *ip))
            .collect();
        let Some(vs) = state.vpcs.get_mut(&vpc.id) else {
            return Err(Error::invalid(&vpc.id, "router state vanished"));
        };
        let old = vs.applied.clone();
        let subnet_cidr: BTreeMap<&str, Ipv4Cidr> = vpc
            .subnets
            .iter()
            .map(|s| (s.id.as_str(), s.cidr))
            .collect();

        for s in &vpc.subnets {
            if fresh || !old.subnets.iter().any(|o| o.id == s.id && o.cidr == s.cidr) {
                let bridge = bridge_of(&s.id)?;
                vs.nl
                    .add_bridge(&bridge, net::names::mac("b", &s.id))
                    .await?;
                vs.nl
                    .add_address(&bridge, Ipv4Cidr::new(gateway_of(s.cidr), s.cidr.prefix())?)
                    .await?;
                vs.nl.set_up(&bridge).await?;
            }
        }

        let old_igw = vs.igw.clone();
        let wanted_igw = vpc.igw.as_ref().map(|i| i.id.clone());
        if fresh || old.igw.as_ref().map(|i| &i.id) != wanted_igw.as_ref() {
            vs.igw = match &wanted_igw {
                Some(id) => Some(ensure_igw(vs, public, id, &igw_taken).await?),
                None => None,
            };
        }

        // Interfaces and NAT gateways whose placement changed are rebuilt.
        let placed = |e: &DesiredEni| (e.subnet.clone(), e.ip);
        let old_enis: BTreeMap<&str, &DesiredEni> =
            old.enis.iter().map(|e| (e.id.as_str(), e)).collect();
        let old_nats: BTreeMap<&str, &DesiredNat> = old
            .nat_gateways
            .iter()
            .map(|n| (n.id.as_str(), n))
            .collect();
        for nat in &vpc.nat_gateways {
            if fresh || old_nats.get(nat.id.as_str()) != Some(&nat) {
                if old_nats.contains_key(nat.id.as_str()) {
                    delete_attached(&vs.nl, &ifname("n", &nat.id)?, &nat.id).await?;
                }
                let cidr = subnet_cidr[nat.subnet.as_str()];
                realize_nat(&self.nft, &vs.nl, vpc.cidr, cidr, &nat.subnet, nat).await?;
            }
        }
        for eni in &vpc.enis {
            let before = old_enis.get(eni.id.as_str());
            if fresh || before.map(|b| placed(b)) != Some(placed(eni)) {
                if before.is_some() {
                    delete_attached(&vs.nl, &ifname("e", &eni.id)?, &eni.id).await?;
                }
                let cidr = subnet_cidr[eni.subnet.as_str()];
                realize_eni(
                    &vs.nl,
                    render::ENI_PORT_ROLE,
                    cidr,
                    &eni.subnet,
                    &eni.id,
                    eni.ip,
                )
                .await?;
            }
        }

        let igw_link = vs.igw.as_ref().map(|(link, _)| link.as_str());
        let old_igw_link = old_igw.as_ref().map(|(link, _)| link.as_str());
        let batch = if fresh {
            render::full(vpc, igw_link)
        } else {
            render::incremental(&old, old_igw_link, vpc, igw_link)
        };
        if !batch.is_empty() {
            report.nft_statements += batch.text().lines().count();
            if let Err(error) = vs.firewall.apply(batch.text()).await {
                if fresh {
                    return Err(error.into());
                }
                tracing::warn!(vpc = %vpc.id, %error, "incremental nft batch refused; rebuilding the table");
                vs.firewall
                    .apply(render::full(vpc, igw_link).text())
                    .await?;
            }
        }

        reconcile_routes(vs, vpc, fresh).await?;

        match state.resolvers.get(&vpc.id) {
            Some(resolver) => resolver.set_names(vpc.names.clone()),
            None => {
                let resolver = Resolver::start(
                    &vs.router,
                    resolver_of(vpc.cidr),
                    vpc.names.clone(),
                    self.public_names.clone(),
                )
                .await?;
                state.resolvers.insert(vpc.id.clone(), resolver);
            }
        }

        // Removals, after the firewall and routes stopped referring to them.
        let new_enis: BTreeMap<&str, &DesiredEni> =
            vpc.enis.iter().map(|e| (e.id.as_str(), e)).collect();
        let new_nats: BTreeSet<&str> = vpc.nat_gateways.iter().map(|n| n.id.as_str()).collect();
        let mut removed_enis = Vec::new();
        for eni in &old.enis {
            match new_enis.get(eni.id.as_str()) {
                Some(now) if placed(now) == placed(eni) => {}
                Some(_) => {}
                None => {
                    delete_attached(&vs.nl, &ifname("e", &eni.id)?, &eni.id).await?;
                    removed_enis.push(eni.id.clone());
                }
            }
        }
        for nat in &old.nat_gateways {
            if !new_nats.contains(nat.id.as_str()) {
                delete_attached(&vs.nl, &ifname("n", &nat.id)?, &nat.id).await?;
            }
        }
        let mut keep_links: BTreeSet<String> = BTreeSet::new();
        for s in &vpc.subnets {
            keep_links.insert(bridge_of(&s.id)?);
        }
        for e in &vpc.enis {
            keep_links.insert(ifname("e", &e.id)?);
        }
        for n in &vpc.nat_gateways {
            keep_links.insert(ifname("n", &n.id)?);
        }
        if let Some((link, _)) = &vs.igw {
            keep_links.insert(link.clone());
        }
        if fresh {
            for link in vs.nl.links_with_prefix(net::names::PREFIX).await? {
                if !keep_links.contains(&link.name) {
                    vs.nl.delete_link(&link.name).await?;
                }
            }
        } else {
            for s in &old.subnets {
                let bridge = bridge_of(&s.id)?;
                if !keep_links.contains(&bridge) {
                    vs.nl.delete_link(&bridge).await?;
                }
            }
            if let Some((link, _)) = &old_igw {
                if !keep_links.contains(link) {
                    vs.nl.delete_link(link).await?;
                }
            }
        }

        publish(vs, public, vpc, fresh).await?;
        vs.set_applied(vpc.clone());
        for eni in removed_enis {
            self.forget_environments(state, &eni)?;
        }
        Ok(())
    }

    /// Brings one VPC that this process has realized already to `vpc`, exactly as
    /// [`Dataplane::apply`] would (the same difference against what was applied), without
    /// looking at any other VPC or listing namespaces: the fast path for a change confined
    /// to one VPC, such as interfaces coming and going. Returns `None`, changing nothing,
    /// when the VPC is not realized here; then only [`Dataplane::apply`] can bring it in.
    /// On failure the VPC is left for the next [`Dataplane::apply`] to rebuild from scratch.
    pub async fn apply_realized(&self, vpc: &DesiredVpc) -> Result<Option<ApplyReport>> {
        let mut state = self.state.lock().await;
        if state.public.is_none() || !state.vpcs.contains_key(&vpc.id) {
            return Ok(None);
        }
        let mut report = ApplyReport::default();
        let outcome = match vpc.check() {
            Ok(()) => self.apply_vpc(&mut state, vpc, &mut report).await,
            Err(e) => Err(e),
        };
        if let Err(error) = outcome {
            state.vpcs.remove(&vpc.id);
            return Err(error);
        }
        report
            .nat_gateways_ready
            .extend(vpc.nat_gateways.iter().map(|n| n.id.clone()));
        Ok(Some(report))
    }

    /// Applies one interface's change to a realized VPC as [`Dataplane::apply_realized`]
    /// would apply the whole VPC with that change, at a cost that does not grow with the
    /// VPC's other interfaces: the interface's namespace and veth, its firewall elements
    /// (and its group set's chains when it is the first or last to carry it), the names
    /// that change. Returns `None`, changing nothing, when the change is more than that
    /// (the VPC not realized here; a public address or a route through the interface, which
    /// reach beyond it; anything [`DesiredVpc::check`] would refuse): then the caller
    /// applies the whole VPC. On failure the VPC is left for the next [`Dataplane::apply`]
    /// to rebuild from scratch.
    pub async fn apply_eni(&self, delta: &EniDelta) -> Result<Option<ApplyReport>> {
        let mut state = self.state.lock().await;
        let State {
            public,
            vpcs,
            resolvers,
            ..
        } = &mut *state;
        let (Some(_), Some(vs), Some(resolver)) = (
            public.as_ref(),
            vpcs.get_mut(&delta.vpc),
            resolvers.get(&delta.vpc),
        ) else {
            return Ok(None);
        };
        if !vs.accepts(delta) {
            return Ok(None);
        }
        match apply_one_eni(vs, resolver, delta).await {
            Ok(removed) => {
                let report = ApplyReport {
                    nat_gateways_ready: vs
                        .applied
                        .nat_gateways
                        .iter()
                        .map(|n| n.id.clone())
                        .collect(),
                    failures: Vec::new(),
                    nft_statements: removed.nft_statements,
                };
                if removed.namespace {
                    self.forget_environments(&mut state, &delta.id)?;
                }
                Ok(Some(report))
            }
            Err(error) => {
                state.vpcs.remove(&delta.vpc);
                Err(error)
            }
        }
    }

    /// Applies new rules of one security group of a realized VPC as one small batch of that
    /// group's chains, without looking at anything else: its cost does not grow with the
    /// VPC's interfaces. Returns `false`, changing nothing, when the VPC or the group is not
    /// (yet) realized here; then only [`Dataplane::apply`] can bring it in. The rules'
    /// references to other groups resolve against the groups realized now.
    pub async fn apply_group(&self, vpc_id: &str, group: &DesiredSecurityGroup) -> Result<bool> {
        let mut state = self.state.lock().await;
        let Some(vs) = state.vpcs.get_mut(vpc_id) else {
            return Ok(false);
        };
        let Some(index) = vs
            .applied
            .security_groups
            .iter()
            .position(|g| g.id == group.id)
        else {
            return Ok(false);
        };
        let batch = render::group_rules(&vs.applied, &vs.applied.security_groups[index], group);
        if !batch.is_empty() {
            if let Err(error) = vs.firewall.apply(batch.text()).await {
                // The next full pass rebuilds this VPC from scratch.
                state.vpcs.remove(vpc_id);
                return Err(error.into());
            }
        }
        vs.applied.security_groups[index] = group.clone();
        Ok(true)
    }

    /// Attaches a new execution environment to a realized ENI: a namespace `vl-env-<env>`
    /// with one veth into the ENI's namespace, which masquerades it to the ENI's address.
    /// Returns the namespace's path for the sandbox (`NetnsChoice::Existing`). Attaching
    /// the same environment to the same ENI again returns the same path.
    pub async fn attach_environment(&self, eni_id: &str, env_id: &str) -> Result<PathBuf> {
        let mut state = self.state.lock().await;
        let env_name = netns_name("env", env_id)?;
        if let Some(existing) = state.envs.get(env_id) {
            if existing.eni.as_deref() == Some(eni_id) {
                return Ok(path_of(&env_name));
            }
            return Err(already_attached(env_id, existing));
        }
        if !state.vpcs.values().any(|v| v.eni(eni_id).is_some()) {
            return Err(Error::UnknownInterface(eni_id.to_owned()));
        }
        let eni_ns = Netns::open(&namespace_of(eni_id)?)?;
        let eni_nl = Netlink::connect(&eni_ns).await?;
        if !state.env_ready.contains(eni_id) {
            eni_ns.sysctl_set("net.ipv4.ip_forward", "1")?;
            self.nft.apply(&eni_ns, &environment_table()).await?;
            state.env_ready.insert(eni_id.to_owned());
        }
        let eni = Some(eni_id.to_owned());
        let ip = free_env_address(&state, &eni)
            .ok_or_else(|| Error::EnvironmentAddressesExhausted(eni_id.to_owned()))?;
        wire_environment(&eni_nl, &env_name, &ifname("v", env_id)?, ip).await?;
        state.envs.insert(env_id.to_owned(), Attachment { eni, ip });
        tracing::debug!(eni = eni_id, env = env_id, %ip, "environment attached");
        Ok(path_of(&env_name))
    }

    /// Attaches a new execution environment of a function without a VPC to the simulated
    /// internet: a namespace `vl-env-<env>` with one veth into `vl-pub`, which masquerades
    /// it and lets nothing in. It reaches the hosts of `vl-pub` and nothing else (no VPC,
    /// not the daemon's namespace). Returns the namespace's path; attaching the same
    /// environment again returns the same path.
    pub async fn attach_public_environment(&self, env_id: &str) -> Result<PathBuf> {
        let mut state = self.state.lock().await;
        let env_name = netns_name("env", env_id)?;
        if let Some(existing) = state.envs.get(env_id) {
            if existing.eni.is_none() {
                return Ok(path_of(&env_name));
            }
            return Err(already_attached(env_id, existing));
        }
        let ip = free_env_address(&state, &None)
            .ok_or_else(|| Error::EnvironmentAddressesExhausted(PUBLIC_NETNS.to_owned()))?;
        let public = self.ensure_public(&mut state).await?;
        wire_environment(&public.nl, &env_name, &ifname(PUBLIC_ENV_ROLE, env_id)?, ip).await?;
        state
            .envs
            .insert(env_id.to_owned(), Attachment { eni: None, ip });
        tracing::debug!(env = env_id, %ip, "environment attached to the simulated internet");
        Ok(path_of(&env_name))
    }

    /// Detaches an environment from its ENI or from `vl-pub`: its link and namespace name
    /// go (the namespace itself lives on while a process still holds it, without any
    /// link). Detaching an unknown or already-detached environment succeeds.
    pub async fn detach_environment(&self, env_id: &str) -> Result<()> {
        let mut state = self.state.lock().await;
        let env_name = netns_name("env", env_id)?;
        if let Some(attachment) = state.envs.remove(env_id) {
            match &attachment.eni {
                Some(eni) => {
                    if let Some(eni_ns) = open_if_present(&namespace_of(eni)?).await? {
                        let eni_nl = Netlink::connect(&eni_ns).await?;
                        eni_nl.delete_link(&ifname("v", env_id)?).await?;
                    }
                }
                None => {
                    if let Some(public) = &state.public {
                        public
                            .nl
                            .delete_link(&ifname(PUBLIC_ENV_ROLE, env_id)?)
                            .await?;
                    }
                }
            }
        }
        Netns::delete(&env_name)?;
        Ok(())
    }

    /// Adds a host to the simulated internet at `ip` (in 203.0.113.0/24 or
    /// 198.51.100.0/24, not an address in use as a public IP) and returns its namespace.
    pub async fn add_public_host(&self, ip: Ipv4Addr) -> Result<PathBuf> {
        let mut state = self.state.lock().await;
        let bad = |reason: &str| Error::PublicAddress {
            address: ip.to_string(),
            reason: reason.to_owned(),
        };
        if !PUBLIC_RANGES.iter().any(|r| in_range(ip, *r)) {
            return Err(bad("not in 203.0.113.0/24 or 198.51.100.0/24"));
        }
        if state.hosts.contains_key(&ip) {
            return Err(bad("a host has it already"));
        }
        if state.vpcs.values().any(|v| v.published.contains(&ip)) {
            return Err(bad("it is a public IP of a VPC"));
        }
        let name = host_name(ip)?;
        let public = self.ensure_public(&mut state).await?;
        let (host_ns, host_nl) = namespace(&name).await?;
        let link = ifname("p", &name)?;
        public.nl.add_veth(&link, &host_ns, "eth0").await?;
        public.nl.add_address(&link, host32(PUBLIC_GATEWAY)).await?;
        public.nl.set_up(&link).await?;
        public
            .nl
            .add_route(&Route::on_link(host32(ip), &link))
            .await?;
        host_nl.add_address("eth0", host32(ip)).await?;
        host_nl.set_up("eth0").await?;
        host_nl
            .add_route(&Route::on_link(host32(PUBLIC_GATEWAY), "eth0"))
            .await?;
        host_nl
            .add_route(&Route::default_via(PUBLIC_GATEWAY))
            .await?;
        state.hosts.insert(ip, name.clone());
        Ok(path_of(&name))
    }

    /// Adds a service to the simulated internet: a host at `ip` (as [`Self::add_public_host`])
    /// whose names are `names` (wildcards allowed, see [`crate::lookup`]) in every resolver —
    /// each VPC's, after the VPC's own names, and the simulated internet's own, which the
    /// first service's host runs on its port 53 for environments without a VPC. Returns
    /// the host's namespace, where the caller binds the service's sockets.
    pub async fn add_public_service(&self, ip: Ipv4Addr, names: Names) -> Result<Netns> {
        self.add_public_host(ip).await?;
        let host = Netns::open(&host_name(ip)?)?;
        {
            let mut public = self.public_names.write().unwrap_or_else(|p| p.into_inner());
            public.extend(names);
        }
        let mut state = self.state.lock().await;
        if state.public_resolver.is_none() {
            let resolver =
                Resolver::start(&host, ip, Names::new(), self.public_names.clone()).await?;
            state.public_resolver = Some((ip, resolver));
        }
        Ok(host)
    }

    /// The simulated internet's resolver, once a public service runs one.
    pub async fn public_resolver(&self) -> Option<Ipv4Addr> {
        self.state
            .lock()
            .await
            .public_resolver
            .as_ref()
            .map(|(ip, _)| *ip)
    }

    /// A listener in VPC `vpc`'s router for one of its [`DesiredVpc::served`] addresses:
    /// connections from the subnets whose routes deliver it there (gateway endpoints),
    /// with the interface's own address as their source. Non-blocking.
    pub async fn serve_in_router(
        &self,
        vpc: &str,
        address: SocketAddrV4,
    ) -> Result<std::net::TcpListener> {
        let router = Netns::open(&namespace_of(vpc)?)?;
        router
            .spawn(move || net::transparent_listener(address))
            .await?
            .map_err(|e| Error::invalid(vpc, format!("listening on {address}: {e}")))
    }

    /// A listener on `address` (the interface's own) inside interface `eni`'s namespace:
    /// what reaches it has passed the interface's security groups. Non-blocking.
    pub async fn serve_in_interface(
        &self,
        eni: &str,
        address: SocketAddrV4,
    ) -> Result<std::net::TcpListener> {
        let netns = Netns::open(&namespace_of(eni)?)?;
        netns
            .spawn(move || {
                let listener = std::net::TcpListener::bind(address)?;
                listener.set_nonblocking(true)?;
                Ok::<_, std::io::Error>(listener)
            })
            .await?
            .map_err(|e| Error::invalid(eni, format!("listening on {address}: {e}")))
    }

    /// Removes a simulated-internet host; removing an absent one succeeds.
    pub async fn remove_public_host(&self, ip: Ipv4Addr) -> Result<()> {
        let mut state = self.state.lock().await;
        let name = host_name(ip)?;
        state.hosts.remove(&ip);
        if let Some(public) = &state.public {
            public.nl.delete_link(&ifname("p", &name)?).await?;
        }
        Netns::delete(&name)?;
        Ok(())
    }

    /// Removes everything this dataplane owns, `vl-pub` included: every VPC, ENI, NAT
    /// gateway, environment and host namespace. The daemon calls it when it stops
    /// gracefully; after a crash, start-up reconciles whatever was left.
    pub async fn remove_all(&self) -> Result<()> {
        self.apply(&Desired::default()).await?;
        let mut state = self.state.lock().await;
        state.public_resolver = None;
        for (_, name) in std::mem::take(&mut state.hosts) {
            Netns::delete(&name)?;
        }
        for env in std::mem::take(&mut state.envs).into_keys() {
            Netns::delete(&netns_name("env", &env)?)?;
        }
        for name in Netns::list_with_prefix("vl-host-")? {
            Netns::delete(&name)?;
        }
        if let Some(public) = state.public.take() {
            if let Some(host) = state.host_uplink.take() {
                uplink::remove(&self.nft, &public.nl, host).await?;
            }
            drop(public);
            Netns::delete(PUBLIC_NETNS)?;
        }
        Ok(())
    }
}

/// What [`apply_one_eni`] did.
struct EniApplied {
    nft_statements: usize,
    /// The interface's namespace was removed.
    namespace: bool,
}

/// The kernel side of [`Dataplane::apply_eni`] for a change `vs` accepts, in the order
/// `apply_vpc` follows: the interface's links first, then the firewall, the names, and a
/// removed interface's links last, once nothing refers to it.
async fn apply_one_eni(
    vs: &mut VpcState,
    resolver: &Resolver,
    delta: &EniDelta,
) -> Result<EniApplied> {
    let old = vs.eni(&delta.id).cloned();
    let new = delta.eni.as_ref();
    let link = ifname(render::ENI_PORT_ROLE, &delta.id)?;
    if let Some(n) = new {
        let placed = old
            .as_ref()
            .is_some_and(|o| o.subnet == n.subnet && o.ip == n.ip);
        if !placed {
            if old.is_some() {
                delete_attached(&vs.nl, &link, &n.id).await?;
            }
            let cidr = vs
                .applied
                .subnets
                .iter()
                .find(|s| s.id == n.subnet)
                .map(|s| s.cidr)
                .ok_or_else(|| Error::invalid(&vs.applied.id, "subnet vanished"))?;
            realize_eni(&vs.nl, render::ENI_PORT_ROLE, cidr, &n.subnet, &n.id, n.ip).await?;
        }
    }
    let batch = {
        let known: BTreeSet<&str> = vs
            .applied
            .security_groups
            .iter()
            .map(|g| g.id.as_str())
            .collect();
        let new_set = new.is_some_and(|n| vs.index.users(&n.security_groups) == 0);
        let unused_set = old.as_ref().is_some_and(|o| {
            vs.index.users(&o.security_groups) == 1
                && new.is_none_or(|n| n.security_groups != o.security_groups)
        });
        render::eni_change(old.as_ref(), new, &known, new_set, unused_set)
    };
    vs.replace_eni(&delta.id, new.cloned());
    for (name, ip) in &delta.names {
        match ip {
            Some(ip) => vs.applied.names.insert(name.clone(), *ip),
            None => vs.applied.names.remove(name),
        };
    }
    if !batch.is_empty() {
        if let Err(error) = vs.firewall.apply(batch.text()).await {
            tracing::warn!(vpc = %vs.applied.id, %error, "interface's nft batch refused; rebuilding the table");
            let igw_link = vs.igw.as_ref().map(|(link, _)| link.as_str());
            vs.firewall
                .apply(render::full(&vs.applied, igw_link).text())
                .await?;
        }
    }
    resolver.update_names(&delta.names);
    let removed = old.is_some() && new.is_none();
    if removed {
        delete_attached(&vs.nl, &link, &delta.id).await?;
    }
    Ok(EniApplied {
        nft_statements: batch.text().lines().count(),
        namespace: removed,
    })
}

fn already_attached(env: &str, existing: &Attachment) -> Error {
    Error::AlreadyAttached {
        env: env.to_owned(),
        eni: existing
            .eni
            .clone()
            .unwrap_or_else(|| PUBLIC_NETNS.to_owned()),
    }
}

/// The lowest environment address not in use behind the same gateway (`eni`, or `vl-pub`
/// for `None`).
fn free_env_address(state: &State, eni: &Option<String>) -> Option<Ipv4Addr> {
    let taken: BTreeSet<Ipv4Addr> = state
        .envs
        .values()
        .filter(|a| a.eni == *eni)
        .map(|a| a.ip)
        .collect();
    (u32::from(ENV_GATEWAY) + 1..u32::from(Ipv4Addr::new(100, 127, 255, 255)))
        .map(Ipv4Addr::from)
        .find(|ip| !taken.contains(ip))
}

/// Builds an environment's namespace `env_name` with `eth0` at `ip`, the other end `link`
/// in the gateway's namespace (`gateway`) at [`ENV_GATEWAY`], and a default route through
/// it. On failure nothing of it is left behind.
async fn wire_environment(
    gateway: &Netlink,
    env_name: &str,
    link: &str,
    ip: Ipv4Addr,
) -> Result<()> {
    let (env_ns, env_nl) = namespace(env_name).await?;
    let built: Result<()> = async {
        gateway.add_veth(link, &env_ns, "eth0").await?;
        gateway.add_address(link, host32(ENV_GATEWAY)).await?;
        gateway.set_up(link).await?;
        gateway.add_route(&Route::on_link(host32(ip), link)).await?;
        env_nl.add_address("eth0", host32(ip)).await?;
        env_nl.set_up("eth0").await?;
        env_nl
            .add_route(&Route::on_link(host32(ENV_GATEWAY), "eth0"))
            .await?;
        env_nl.add_route(&Route::default_via(ENV_GATEWAY)).await?;
        Ok(())
    }
    .await;
    if let Err(error) = built {
        drop((env_nl, env_ns));
        // Best effort: the failure being reported matters more than a cleanup error,
        // and a leftover is removed by the next attach or detach of this id.
        let _ = gateway.delete_link(link).await;
        let _ = Netns::delete(env_name);
        return Err(error);
    }
    Ok(())
}

fn host_name(ip: Ipv4Addr) -> Result<String> {
    Ok(netns_name("host", &ip.to_string().replace('.', "-"))?)
}

/// The ENI namespace's table once environments use it: they may go out through the ENI
/// (masqueraded to its address) and receive replies, nothing else; in particular no
/// environment reaches another or the ENI namespace itself.
fn environment_table() -> String {
    format!(
        "add table ip vl_eni\n\
         delete table ip vl_eni\n\
         add table ip vl_eni\n\
         add chain ip vl_eni c_forward {{ type filter hook forward priority 0; policy drop; }}\n\
         add rule ip vl_eni c_forward ct state established,related accept\n\
         add rule ip vl_eni c_forward iifname \"vl-v*\" oifname \"eth0\" accept\n\
         add chain ip vl_eni c_input {{ type filter hook input priority 0; policy accept; }}\n\
         add rule ip vl_eni c_input iifname \"vl-v*\" ct state established,related accept\n\
         add rule ip vl_eni c_input iifname \"vl-v*\" drop\n\
         add chain ip vl_eni c_output {{ type filter hook output priority 0; policy accept; }}\n\
         add rule ip vl_eni c_output oifname \"vl-v*\" ct state established,related accept\n\
         add rule ip vl_eni c_output oifname \"vl-v*\" drop\n\
         add chain ip vl_eni c_post {{ type nat hook postrouting priority srcnat; policy accept; }}\n\
         add rule ip vl_eni c_post oifname \"eth0\" ip saddr {} masquerade\n",
        env_range()
    )
}

fn env_range() -> Ipv4Cidr {
    Ipv4Cidr::new(Ipv4Addr::new(100, 64, 0, 0), 10).unwrap_or(Ipv4Cidr::ANY)
}

/// Deletes the router-side end of an attached namespace's veth (cutting it off at once,
/// even while a process keeps the namespace alive), then the namespace's name.
async fn delete_attached(router: &Netlink, link: &str, id: &str) -> Result<()> {
    router.delete_link(link).await?;
    Netns::delete(&namespace_of(id)?)?;
    Ok(())
}

/// An ENI's (or NAT gateway's, `role` "n") namespace: `eth0` with the private address on a
/// veth into the subnet bridge, default route via the subnet router.
async fn realize_eni(
    router: &Netlink,
    role: &str,
    subnet: Ipv4Cidr,
    subnet_id: &str,
    id: &str,
    ip: Ipv4Addr,
) -> Result<()> {
    let (netns, nl) = namespace(&namespace_of(id)?).await?;
    let link = ifname(role, id)?;
    router.add_veth(&link, &netns, "eth0").await?;
    router.set_master(&link, &bridge_of(subnet_id)?).await?;
    router.set_up(&link).await?;
    // The hardware address follows the IP address, not the interface: lowest-free
    // allocation hands a deleted interface's address straight to the next one, and the
    // router and the subnet's hosts keep the old holder's entry in their ARP caches for
    // tens of seconds. With the same hardware address those entries stay right.
    nl.set_mac(
        "eth0",
        net::names::mac("host", &format!("{subnet_id}/{ip}")),
    )
    .await?;
    nl.add_address("eth0", Ipv4Cidr::new(ip, subnet.prefix())?)
        .await?;
    // VPCs are IPv4 only. An `eth0` with IPv6 addresses sends duplicate address detection
    // and router solicitations as it comes up, which the subnet bridge floods to every
    // other port and namespace: a cost per attach that grows with the subnet's interfaces.
    if ipv6_present() {
        nl.no_ipv6_addresses("eth0").await?;
    }
    nl.set_up("eth0").await?;
    nl.add_route(&Route::default_via(gateway_of(subnet)))
        .await?;
    Ok(())
}

async fn realize_nat(
    nft: &Nft,
    router: &Netlink,
    vpc: Ipv4Cidr,
    subnet: Ipv4Cidr,
    subnet_id: &str,
    nat: &DesiredNat,
) -> Result<()> {
    realize_eni(router, "n", subnet, subnet_id, &nat.id, nat.private_ip).await?;
    let netns = Netns::open(&namespace_of(&nat.id)?)?;
    netns.sysctl_set("net.ipv4.ip_forward", "1")?;
    netns.sysctl_set("net.ipv4.conf.all.send_redirects", "0")?;
    netns.sysctl_set("net.ipv4.conf.eth0.send_redirects", "0")?;
    nft.apply(&netns, &render::nat_gateway(vpc, nat.private_ip))
        .await?;
    Ok(())
}

/// Creates the internet gateway's veth between the router and `vl-pub`, with a router-side
/// address unique in `vl-pub` (derived from the id, probing past collisions).
async fn ensure_igw(
    vs: &mut VpcState,
    public: &Public,
    igw: &str,
    taken: &BTreeSet<Ipv4Addr>,
) -> Result<(String, Ipv4Addr)> {
    let (router_end, public_end) = igw_ends(igw)?;
    let hash = u64::from_str_radix(&ifname("a", igw)?[4..], 16)
        .map_err(|_| Error::BadId(igw.to_owned()))?;
    // 169.254.1.0 – 169.254.255.254: vl-pub's own 169.254.0.1 stays out of the way.
    let span = 255 * 256 - 2;
    let address = (0..span)
        .map(|i| {
            Ipv4Addr::from(u32::from(Ipv4Addr::new(169, 254, 1, 1)) + ((hash + i) % span) as u32)
        })
        .find(|ip| !taken.contains(ip))
        .ok_or_else(|| Error::invalid(&vs.applied.id, "no free internet gateway link address"))?;
    if let Some(existing) = vs.nl.link(&router_end).await? {
        let addresses = vs.nl.addresses(&existing.name).await?;
        if addresses != [host32(address)] {
            vs.nl.delete_link(&router_end).await?;
        }
    }
    vs.nl
        .add_veth(&router_end, &public.netns, &public_end)
        .await?;
    vs.nl.add_address(&router_end, host32(address)).await?;
    vs.nl.set_up(&router_end).await?;
    vs.nl
        .add_route(&Route::on_link(host32(PUBLIC_GATEWAY), &router_end))
        .await?;
    public
        .nl
        .add_address(&public_end, host32(PUBLIC_GATEWAY))
        .await?;
    public.nl.set_up(&public_end).await?;
    public
        .nl
        .add_route(&Route::on_link(host32(address), &public_end))
        .await?;
    Ok((router_end, address))
}

/// The routes of each subnet's table: every subnet of the VPC (the local route), then the
/// table's other routes; plus the policy rule sending the subnet's traffic there.
async fn reconcile_routes(vs: &mut VpcState, vpc: &DesiredVpc, fresh: bool) -> Result<()> {
    let enis: BTreeMap<&str, Ipv4Addr> = vpc.enis.iter().map(|e| (e.id.as_str(), e.ip)).collect();
    let nats: BTreeMap<&str, Ipv4Addr> = vpc
        .nat_gateways
        .iter()
        .map(|n| (n.id.as_str(), n.private_ip))
        .collect();
    let mut wanted_rules = Vec::new();
    for s in &vpc.subnets {
        let table = table_of(&s.id)?;
        let mut routes = Vec::new();
        let mut locals = BTreeSet::new();
        for other in &vpc.subnets {
            routes.push(Route::on_link(other.cidr, &bridge_of(&other.id)?).in_table(table));
        }
        for r in &s.routes {
            let route = match &r.target {
                RouteTarget::Local => continue,
                RouteTarget::Endpoint(_) => {
                    if !contains(vpc.cidr, r.destination.addr()) {
                        locals.insert(r.destination.network());
                    }
                    continue;
                }
                RouteTarget::Igw => match &vs.igw {
                    Some((link, _)) => Route {
                        destination: r.destination.network(),
                        gateway: Some(PUBLIC_GATEWAY),
                        device: Some(link.clone()),
                        table,
                    },
                    None => continue,
                },
                RouteTarget::Nat(id) => match nats.get(id.as_str()) {
                    Some(ip) => Route::via(r.destination, *ip).in_table(table),
                    None => continue,
                },
                RouteTarget::Eni(id) => match enis.get(id.as_str()) {
                    Some(ip) => Route::via(r.destination, *ip).in_table(table),
                    None => continue,
                },
            };
            // The local route wins over anything more specific inside the VPC.
            if routes.iter().any(|l| l.destination == route.destination) {
                continue;
            }
            routes.push(route);
        }
        let rule = Rule {
            from: s.cidr.network(),
            table,
            priority: RULE_PRIORITY,
        };
        wanted_rules.push(rule);
        let written = (routes, locals);
        if !fresh && vs.tables.get(&s.id) == Some(&written) {
            continue;
        }
        let (routes, locals) = &written;
        let keep: BTreeSet<Ipv4Cidr> = routes.iter().map(|r| r.destination).collect();
        for existing in vs.nl.routes(table).await? {
            if !keep.contains(&existing.destination.network()) {
                vs.nl.delete_route(&existing).await?;
            }
        }
        for existing in vs.nl.local_routes(table).await? {
            if !locals.contains(&existing.network()) {
                vs.nl.delete_local_route(existing, table).await?;
            }
        }
        for route in routes {
            vs.nl.add_route(route).await?;
        }
        for local in locals {
            vs.nl.add_local_route(*local, table).await?;
        }
        vs.nl.add_rule(&rule).await?;
        vs.tables.insert(s.id.clone(), written);
    }
    let subnets: BTreeSet<&str> = vpc.subnets.iter().map(|s| s.id.as_str()).collect();
    let stale_tables = vs.tables.keys().any(|id| !subnets.contains(id.as_str()));
    if fresh || stale_tables {
        for rule in vs.nl.rules().await? {
            if rule.priority == RULE_PRIORITY && !wanted_rules.contains(&rule) {
                vs.nl.delete_rule(&rule).await?;
                for route in vs.nl.routes(rule.table).await? {
                    vs.nl.delete_route(&route).await?;
                }
                for local in vs.nl.local_routes(rule.table).await? {
                    vs.nl.delete_local_route(local, rule.table).await?;
                }
            }
        }
        vs.tables.retain(|id, _| subnets.contains(id.as_str()));
    }
    Ok(())
}

/// Routes the VPC's public addresses from `vl-pub` to its internet gateway.
async fn publish(vs: &mut VpcState, public: &Public, vpc: &DesiredVpc, fresh: bool) -> Result<()> {
    let wanted: BTreeSet<Ipv4Addr> = match &vs.igw {
        Some(_) => vpc
            .enis
            .iter()
            .filter_map(|e| e.public_ip)
            .chain(vpc.nat_gateways.iter().filter_map(|n| n.public_ip))
            .collect(),
        None => BTreeSet::new(),
    };
    if !fresh && wanted == vs.published {
        return Ok(());
    }
    if let (Some((_, router_address)), Some(igw)) = (&vs.igw, &vpc.igw) {
        let (_, public_end) = igw_ends(&igw.id)?;
        for existing in public.nl.routes(MAIN_TABLE).await? {
            let stale = existing.device.as_deref() == Some(public_end.as_str())
                && existing.gateway.is_some()
                && !wanted.contains(&existing.destination.addr());
            if stale {
                public.nl.delete_route(&existing).await?;
            }
        }
        for ip in &wanted {
            public
                .nl
                .add_route(&Route {
                    destination: host32(*ip),
                    gateway: Some(*router_address),
                    device: Some(public_end.clone()),
                    table: MAIN_TABLE,
                })
                .await?;
        }
    }
    vs.published = wanted;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_ids() {
        assert_eq!(namespace_of("vpc-0abc").unwrap(), "vl-vpc-0abc");
        assert!(namespace_of("vpc/../x").is_err());
        assert_eq!(table_of("subnet-1").unwrap(), table_of("subnet-1").unwrap());
        assert_ne!(table_of("subnet-1").unwrap(), table_of("subnet-2").unwrap());
        assert!(table_of("subnet-1").unwrap() >= 1000);
        assert_eq!(
            host_name(Ipv4Addr::new(203, 0, 113, 10)).unwrap(),
            "vl-host-203-0-113-10"
        );
        assert_eq!(env_range().to_string(), "100.64.0.0/10");
        assert!(in_range(Ipv4Addr::new(203, 0, 113, 200), PUBLIC_RANGES[0]));
        assert!(!in_range(Ipv4Addr::new(203, 0, 114, 1), PUBLIC_RANGES[0]));
    }
}
