//! Wiring between the EC2 records in the store and the `dataplane` crate: builds the
//! desired state from the records, applies it at start-up and after every EC2 change, and
//! moves NAT gateways through `pending → available` and `deleting → deleted` once the
//! kernel agrees. Owns no domain rules (they are `control::ec2`'s) and no kernel logic
//! (`dataplane`'s): only the translation and the reconcile loop.
//!
//! The EC2 record is the intent: it is committed before any kernel object exists, and the
//! reconcile loop is level-triggered, so a crash at any point converges at the next start.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use control::ec2::model::{
    kind, InternetGateway, NatGateway, NetworkInterface, RouteTable, RouteTarget, RulePeer,
    SecurityGroup, SecurityGroupRule, Subnet, Vpc,
};
use control::store::StoreError;
use control::{Scope, Store};
use dataplane::{
    Dataplane, Desired, DesiredEni, DesiredIgw, DesiredNat, DesiredRoute, DesiredSecurityGroup,
    DesiredSubnet, DesiredVpc, Ipv4Cidr, Names, Peer, PortRange, Protocol, SgRule, Uplink,
};
use serde::de::DeserializeOwned;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

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
        self.wake.notify_one();
        generation
    }

    /// Waits until the kernel reflects the store as of `generation`.
    pub async fn settled(&self, generation: u64) {
        let mut done = self.done.subscribe();
        // An error means the loop is gone (shutdown): nothing more will settle.
        let _ = done.wait_for(|d| *d >= generation).await;
    }
}

/// Whether a successful EC2 call may have changed what the dataplane realizes: everything
/// but the read-only `Describe*` calls.
pub fn is_ec2_change(call: &Call) -> bool {
    call.query_params()
        .ok()
        .and_then(|p| p.get("Action").map(|a| !a.starts_with("Describe")))
        .unwrap_or(false)
}

/// Connects the invoke path to the dataplane (environments of functions are attached to
/// the network from now on) and runs the reconcile loop until the daemon exits; `None`
/// when the dataplane is disabled.
pub fn spawn(state: Arc<AppState>) -> Option<JoinHandle<()>> {
    state.invoke.connect(Arc::downgrade(&state));
    let dataplane = state.dataplane.dataplane()?.clone();
    Some(tokio::spawn(async move {
        loop {
            let target = state.dataplane.requested.load(Ordering::SeqCst);
            let again = match reconcile(&state.store, &dataplane).await {
                Ok(again) => again,
                Err(error) => {
                    tracing::error!(%error, "dataplane reconcile failed");
                    false
                }
            };
            state.dataplane.done.send_replace(target);
            if !again {
                state.dataplane.wake.notified().await;
            }
        }
    }))
}

/// One pass: desired state from the store, apply, then the NAT gateway transitions the
/// kernel now allows. Returns whether those transitions changed records the dataplane reads
/// (routes to a NAT gateway become active), so another pass is due.
async fn reconcile(store: &Store, dataplane: &Dataplane) -> anyhow::Result<bool> {
    let records = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || Records::load(&store)).await??
    };
    let desired = records.desired();
    let report = dataplane.apply(&desired).await?;
    for (vpc, error) in &report.failures {
        tracing::warn!(vpc = %vpc, %error, "VPC not realized");
    }
    let mut transitions = Vec::new();
    for (scope, nat) in records.nat_gateways.values() {
        if nat.state == "pending" && report.nat_gateways_ready.contains(&nat.id) {
            transitions.push((scope.clone(), nat.id.clone(), true));
        } else if nat.state == "deleting" {
            transitions.push((scope.clone(), nat.id.clone(), false));
        }
    }
    if transitions.is_empty() {
        return Ok(false);
    }
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        store.write(|tx| {
            for (scope, id, available) in &transitions {
                if *available {
                    control::ec2::gateway::nat_gateway_available(tx, scope, id)?;
                } else {
                    control::ec2::gateway::nat_gateway_deleted(tx, scope, id)?;
                }
            }
            Ok::<_, control::ec2::Ec2Error>(())
        })
    })
    .await??;
    Ok(true)
}

/// The EC2 records of every account and region, by id.
struct Records {
    vpcs: BTreeMap<String, (Scope, Vpc)>,
    subnets: Vec<Subnet>,
    groups: Vec<SecurityGroup>,
    interfaces: Vec<NetworkInterface>,
    igws: Vec<InternetGateway>,
    nat_gateways: BTreeMap<String, (Scope, NatGateway)>,
    route_tables: Vec<RouteTable>,
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
        store.read(|tx| {
            Ok(Records {
                vpcs: all::<Vpc>(tx, kind::VPC)?
                    .into_iter()
                    .map(|(s, v)| (v.id.clone(), (s, v)))
                    .collect(),
                subnets: values(all(tx, kind::SUBNET)?),
                groups: values(all(tx, kind::SECURITY_GROUP)?),
                interfaces: values(all(tx, kind::NETWORK_INTERFACE)?),
                igws: values(all(tx, kind::INTERNET_GATEWAY)?),
                nat_gateways: all::<NatGateway>(tx, kind::NAT_GATEWAY)?
                    .into_iter()
                    .map(|(s, n)| (n.id.clone(), (s, n)))
                    .collect(),
                route_tables: values(all(tx, kind::ROUTE_TABLE)?),
            })
        })
    }

    fn desired(&self) -> Desired {
        Desired {
            vpcs: self
                .vpcs
                .values()
                .filter_map(|(scope, vpc)| self.desired_vpc(scope, vpc))
                .collect(),
        }
    }

    fn desired_vpc(&self, scope: &Scope, vpc: &Vpc) -> Option<DesiredVpc> {
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
            .map(|g| DesiredSecurityGroup {
                id: g.id.clone(),
                ingress: g.ingress.iter().filter_map(sg_rule).collect(),
                egress: g.egress.iter().filter_map(sg_rule).collect(),
            })
            .collect();
        let enis: Vec<DesiredEni> = self
            .interfaces
            .iter()
            .filter(|e| e.vpc_id == vpc.id && e.interface_type != "nat_gateway")
            .filter_map(|e| {
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
            })
            .collect();
        let main = self
            .route_tables
            .iter()
            .find(|t| t.vpc_id == vpc.id && t.is_main());
        let subnets = self
            .subnets
            .iter()
            .filter(|s| s.vpc_id == vpc.id)
            .filter_map(|s| {
                let table = self
                    .route_tables
                    .iter()
                    .find(|t| {
                        t.vpc_id == vpc.id
                            && t.associations
                                .iter()
                                .any(|a| a.subnet_id.as_deref() == Some(s.id.as_str()))
                    })
                    .or(main);
                let routes = table
                    .map(|t| {
                        t.routes
                            .iter()
                            .filter(|r| r.state == "active")
                            .filter_map(|r| {
                                let destination =
                                    r.destination_cidr_block.as_deref()?.parse().ok()?;
                                let target = match &r.target {
                                    RouteTarget::Local => dataplane::RouteTarget::Local,
                                    RouteTarget::Gateway(id) => match &igw {
                                        Some(g) if g.id == *id => dataplane::RouteTarget::Igw,
                                        _ => return None,
                                    },
                                    RouteTarget::NatGateway(id) => {
                                        nat_gateways.iter().find(|n| n.id == *id)?;
                                        dataplane::RouteTarget::Nat(id.clone())
                                    }
                                    RouteTarget::NetworkInterface(id) => {
                                        enis.iter().find(|e| e.id == *id)?;
                                        dataplane::RouteTarget::Eni(id.clone())
                                    }
                                };
                                Some(DesiredRoute {
                                    destination,
                                    target,
                                })
                            })
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
            names: self.names(scope, vpc),
        })
    }

    /// What the VPC's resolver answers: the AWS private DNS name of every address of every
    /// interface of the VPC (NAT gateways' included), and the names registered with
    /// [`HOSTNAME_TAG`]; the first interface by id wins a name two of them claim.
    fn names(&self, scope: &Scope, vpc: &Vpc) -> Names {
        let mut names = Names::new();
        let mut interfaces: Vec<&NetworkInterface> = self
            .interfaces
            .iter()
            .filter(|e| e.vpc_id == vpc.id)
            .collect();
        interfaces.sort_by(|a, b| a.id.cmp(&b.id));
        for eni in interfaces {
            let Ok(primary) = eni.private_ip_address.parse::<Ipv4Addr>() else {
                continue;
            };
            for tag in eni.tags.iter().filter(|t| t.key == HOSTNAME_TAG) {
                let name = tag.value.to_ascii_lowercase();
                if dataplane::valid_name(&name) {
                    names.entry(name).or_insert(primary);
                }
            }
            let secondary = eni
                .secondary_private_ip_addresses
                .iter()
                .filter_map(|a| a.parse::<Ipv4Addr>().ok());
            for ip in std::iter::once(primary).chain(secondary) {
                names
                    .entry(control::ec2::ids::private_dns_name(&scope.region, ip))
                    .or_insert(ip);
            }
        }
        names
    }
}

/// A security-group rule as the dataplane enforces it; IPv6 and prefix-list peers have
/// nothing to match in an IPv4-only dataplane and are left out.
fn sg_rule(rule: &SecurityGroupRule) -> Option<SgRule> {
    let range = || {
        let from = u16::try_from(rule.from_port).ok()?;
        let to = u16::try_from(rule.to_port).ok()?;
        Some(PortRange { from, to })
    };
    let code = |n: i32| u8::try_from(n).ok();
    let protocol = match rule.protocol.as_str() {
        "-1" => Protocol::All,
        "tcp" => Protocol::Tcp(range()),
        "udp" => Protocol::Udp(range()),
        "icmp" => Protocol::Icmp {
            icmp_type: code(rule.from_port),
            code: code(rule.to_port),
        },
        "icmpv6" => return None,
        other => Protocol::Number(other.parse().ok()?),
    };
    let peer = match &rule.peer {
        RulePeer::Ipv4(cidr) => Peer::Cidr(cidr.parse().ok()?),
        RulePeer::Group { group_id, .. } => Peer::Group(group_id.clone()),
        RulePeer::Ipv6(_) | RulePeer::PrefixList(_) => return None,
    };
    Some(SgRule { protocol, peer })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            sg_rule(&rule("tcp", 80, 81, any.clone())),
            Some(SgRule {
                protocol: Protocol::Tcp(Some(PortRange { from: 80, to: 81 })),
                peer: Peer::Cidr(Ipv4Cidr::ANY),
            })
        );
        assert_eq!(
            sg_rule(&rule("icmp", 8, -1, any.clone())).map(|r| r.protocol),
            Some(Protocol::Icmp {
                icmp_type: Some(8),
                code: None
            })
        );
        assert_eq!(
            sg_rule(&rule(
                "-1",
                -1,
                -1,
                RulePeer::Group {
                    group_id: "sg-1".into(),
                    user_id: "000000000000".into()
                }
            ))
            .map(|r| r.peer),
            Some(Peer::Group("sg-1".into()))
        );
        assert_eq!(
            sg_rule(&rule("47", -1, -1, any)).map(|r| r.protocol),
            Some(Protocol::Number(47))
        );
        assert_eq!(
            sg_rule(&rule("tcp", 80, 80, RulePeer::Ipv6("::/0".into()))),
            None
        );
    }
}
