//! nftables text for a VPC router's table `ip vl_vpc`: security groups, the per-interface
//! dispatch, and the internet gateway's 1:1 NAT. Pure functions; applying is `plane`'s job.
//!
//! Layout, chosen so that a security-group change is one small batch whose size does not
//! depend on how many interfaces carry the group:
//! - one chain pair per group (`g_<sg>_i`, `g_<sg>_e`) holding its rules, and one set per
//!   group (`m_<sg>`) of its members' addresses, which other groups' rules reference;
//! - one chain pair per distinct set of groups that interfaces carry (`o_<hash>` egress,
//!   `i_<hash>` ingress, named by a hash of the group ids) that jumps to those groups'
//!   chains; the verdict maps `v_out`/`v_in`, keyed by each interface's address, lead there
//!   from the base chain. Interfaces add only map and set elements, never chains: the cost
//!   of every nft transaction grows with the number of chains in the namespace (libnftables
//!   reads them all into its cache first), so the chain count must not grow with interfaces;
//! - a group chain that allows a packet sets a mark bit and returns (an `accept` would end
//!   the base chain before the other side's ingress check), the interface chain drops
//!   unless the bit is set.
//!
//! Anti-spoofing is the one exception, in the router's `bridge vl_vpc` table: only the
//! bridge family sees which port a frame came in by. An interface with the source/dest
//! check on may send IPv4 and ARP from its own address only (`s_sources`, keyed by port);
//! its port is in `s_ports`. Both are updated per interface in the same batch.
//!
//! The security groups' table lives in `ip`, not `bridge`: the kernel here has no bridge conntrack, and with
//! `bridge-nf-call-iptables=1` (set per router namespace) bridged same-subnet traffic passes
//! the `ip` forward hook too, so one stateful chain covers bridged and routed traffic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::Ipv4Addr;

use net::Ipv4Cidr;

use crate::model::{
    resolver_of, DesiredEni, DesiredSecurityGroup, DesiredVpc, Peer, Protocol, SgRule,
};

/// The router's table (in the `ip` family; the `bridge` family's table of the same name
/// holds the anti-spoofing sets).
pub(crate) const TABLE: &str = "vl_vpc";
/// Where the VPC's link ranges end: nothing in the VPC may reach these (IGW link, IMDS-like).
pub(crate) const LINK_LOCAL: &str = "169.254.0.0/16";

/// The subnet bridges of a router (`vl-b…`, named by `plane`).
const BRIDGES: &str = "vl-b*";
/// Role of an interface's router-side veth end, the bridge port (`vl-e…`, as in `plane`).
pub(crate) const ENI_PORT_ROLE: &str = "e";

const EGRESS_OK: u32 = 0x1;
const INGRESS_OK: u32 = 0x2;

fn ident(id: &str) -> String {
    id.replace('-', "_")
}

fn sg_chain(id: &str, ingress: bool) -> String {
    format!("g_{}_{}", ident(id), if ingress { "i" } else { "e" })
}

fn sg_set(id: &str) -> String {
    format!("m_{}", ident(id))
}

/// One batch of `add`/`delete`/`flush` statements on the router table.
#[derive(Default)]
pub(crate) struct Batch(String);

impl Batch {
    fn line(&mut self, text: std::fmt::Arguments<'_>) {
        // Writing to a String cannot fail.
        let _ = self.0.write_fmt(text);
        self.0.push('\n');
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn text(&self) -> &str {
        &self.0
    }
}

macro_rules! line {
    ($batch:expr, $($arg:tt)*) => { $batch.line(format_args!($($arg)*)) };
}

/// The known groups of an interface, in its order.
fn groups_of<'a>(eni: &'a DesiredEni, known: &BTreeSet<&str>) -> Vec<&'a str> {
    eni.security_groups
        .iter()
        .map(String::as_str)
        .filter(|g| known.contains(g))
        .collect()
}

/// The chain of one direction shared by every interface carrying exactly `groups`.
fn dispatch_chain(groups: &[&str], ingress: bool) -> String {
    // The id is never empty, so the name always derives; the hash part is 11 hex digits.
    let name = net::names::ifname("c", &format!("groups:{}", groups.join(","))).unwrap_or_default();
    let hash = name.get(4..).unwrap_or_default();
    format!("{}_{hash}", if ingress { "i" } else { "o" })
}

fn add_dispatch(batch: &mut Batch, groups: &[&str]) {
    for ingress in [true, false] {
        let chain = dispatch_chain(groups, ingress);
        let mark = if ingress { INGRESS_OK } else { EGRESS_OK };
        line!(batch, "add chain ip {TABLE} {chain}");
        for g in groups {
            line!(
                batch,
                "add rule ip {TABLE} {chain} jump {}",
                sg_chain(g, ingress)
            );
        }
        line!(
            batch,
            "add rule ip {TABLE} {chain} meta mark and {mark:#x} == {mark:#x} return"
        );
        line!(batch, "add rule ip {TABLE} {chain} drop");
    }
}

fn delete_dispatch(batch: &mut Batch, groups: &[&str]) {
    for ingress in [true, false] {
        let chain = dispatch_chain(groups, ingress);
        line!(batch, "flush chain ip {TABLE} {chain}");
        line!(batch, "delete chain ip {TABLE} {chain}");
    }
}

/// The distinct group sets the interfaces of `vpc` carry.
fn dispatch_sets<'a>(vpc: &'a DesiredVpc, known: &BTreeSet<&str>) -> BTreeSet<Vec<&'a str>> {
    vpc.enis.iter().map(|e| groups_of(e, known)).collect()
}

/// The rule lines of one direction of a group. Rules naming a group that is not in `known`
/// are left out (AWS refuses to delete a referenced group, so this only covers races).
pub(crate) fn sg_rules(
    sg: &DesiredSecurityGroup,
    ingress: bool,
    known: &BTreeSet<&str>,
) -> Vec<String> {
    let rules = if ingress { &sg.ingress } else { &sg.egress };
    let mark = if ingress { INGRESS_OK } else { EGRESS_OK };
    let side = if ingress { "saddr" } else { "daddr" };
    let mut out = Vec::new();
    for rule in rules {
        let mut text = String::new();
        match &rule.peer {
            Peer::Cidr(c) if c.prefix() == 0 => {}
            Peer::Cidr(c) => text.push_str(&format!("ip {side} {} ", c.network())),
            Peer::Group(g) if known.contains(g.as_str()) => {
                text.push_str(&format!("ip {side} @{} ", sg_set(g)))
            }
            Peer::Group(_) => continue,
        }
        text.push_str(&protocol_match(rule));
        text.push_str(&format!("meta mark set meta mark or {mark:#x} return"));
        out.push(text);
    }
    out.sort();
    out.dedup();
    out
}

fn protocol_match(rule: &SgRule) -> String {
    let ports = |proto: &str, range: &Option<crate::model::PortRange>| match range {
        None => format!("meta l4proto {proto} "),
        Some(r) if r.from == 0 && r.to == u16::MAX => format!("meta l4proto {proto} "),
        Some(r) if r.from == r.to => format!("{proto} dport {} ", r.from),
        Some(r) => format!("{proto} dport {}-{} ", r.from, r.to),
    };
    match &rule.protocol {
        Protocol::All => String::new(),
        Protocol::Tcp(range) => ports("tcp", range),
        Protocol::Udp(range) => ports("udp", range),
        Protocol::Icmp {
            icmp_type: None, ..
        } => "meta l4proto icmp ".into(),
        Protocol::Icmp {
            icmp_type: Some(t),
            code: None,
        } => format!("icmp type {t} "),
        Protocol::Icmp {
            icmp_type: Some(t),
            code: Some(c),
        } => format!("icmp type {t} icmp code {c} "),
        Protocol::Number(n) => format!("meta l4proto {n} "),
    }
}

/// Everything an address with a public IP needs: the IGW's drop exemption and both NAT maps.
fn add_public(batch: &mut Batch, private: Ipv4Addr, public: Ipv4Addr) {
    line!(batch, "add element ip {TABLE} s_public {{ {private} }}");
    line!(
        batch,
        "add element ip {TABLE} pub_dnat {{ {public} : {private} }}"
    );
    line!(
        batch,
        "add element ip {TABLE} pub_snat {{ {private} : {public} }}"
    );
}

fn delete_public(batch: &mut Batch, private: Ipv4Addr, public: Ipv4Addr) {
    line!(batch, "delete element ip {TABLE} s_public {{ {private} }}");
    line!(batch, "delete element ip {TABLE} pub_dnat {{ {public} }}");
    line!(batch, "delete element ip {TABLE} pub_snat {{ {private} }}");
}

fn add_sg_objects(batch: &mut Batch, id: &str) {
    line!(
        batch,
        "add set ip {TABLE} {} {{ type ipv4_addr; }}",
        sg_set(id)
    );
    line!(batch, "add chain ip {TABLE} {}", sg_chain(id, true));
    line!(batch, "add chain ip {TABLE} {}", sg_chain(id, false));
}

fn fill_sg(batch: &mut Batch, sg: &DesiredSecurityGroup, known: &BTreeSet<&str>) {
    for ingress in [true, false] {
        let chain = sg_chain(&sg.id, ingress);
        for rule in sg_rules(sg, ingress, known) {
            line!(batch, "add rule ip {TABLE} {chain} {rule}");
        }
    }
}

/// An interface's elements; the chains of its group set exist already.
fn add_eni(batch: &mut Batch, eni: &DesiredEni, known: &BTreeSet<&str>) {
    let groups = groups_of(eni, known);
    let ip = eni.ip;
    line!(
        batch,
        "add element ip {TABLE} v_out {{ {ip} : jump {} }}",
        dispatch_chain(&groups, false)
    );
    line!(
        batch,
        "add element ip {TABLE} v_in {{ {ip} : jump {} }}",
        dispatch_chain(&groups, true)
    );
    for g in &groups {
        line!(batch, "add element ip {TABLE} {} {{ {ip} }}", sg_set(g));
    }
    if let Some(public) = eni.public_ip {
        add_public(batch, ip, public);
    }
    if let Some(port) = checked_port(eni) {
        line!(batch, "add element bridge {TABLE} s_ports {{ \"{port}\" }}");
        line!(
            batch,
            "add element bridge {TABLE} s_sources {{ \"{port}\" . {ip} }}"
        );
    }
}

/// The bridge port of an interface whose source addresses are checked.
fn checked_port(eni: &DesiredEni) -> Option<String> {
    // The id was checked as a kernel name before rendering, so the name always derives.
    eni.source_dest_check
        .then(|| net::names::ifname(ENI_PORT_ROLE, &eni.id).ok())
        .flatten()
}

/// Removes an interface's elements (its group set's chains stay while others use them).
fn delete_eni(batch: &mut Batch, eni: &DesiredEni, known: &BTreeSet<&str>) {
    let ip = eni.ip;
    line!(batch, "delete element ip {TABLE} v_out {{ {ip} }}");
    line!(batch, "delete element ip {TABLE} v_in {{ {ip} }}");
    for g in groups_of(eni, known) {
        line!(batch, "delete element ip {TABLE} {} {{ {ip} }}", sg_set(g));
    }
    if let Some(public) = eni.public_ip {
        delete_public(batch, ip, public);
    }
    if let Some(port) = checked_port(eni) {
        line!(
            batch,
            "delete element bridge {TABLE} s_ports {{ \"{port}\" }}"
        );
        line!(
            batch,
            "delete element bridge {TABLE} s_sources {{ \"{port}\" . {ip} }}"
        );
    }
}

/// The base chains' rules; they depend only on the VPC's block (never changes) and the
/// internet gateway's link name.
fn base_rules(batch: &mut Batch, desired: &DesiredVpc, igw_link: Option<&str>) {
    let vpc = desired.cidr;
    let f = "c_forward";
    line!(
        batch,
        "add rule ip {TABLE} {f} ct state established,related accept"
    );
    line!(batch, "add rule ip {TABLE} {f} ct state invalid drop");
    line!(batch, "add rule ip {TABLE} {f} meta mark set 0x0");
    line!(batch, "add rule ip {TABLE} {f} ip daddr {LINK_LOCAL} drop");
    line!(batch, "add rule ip {TABLE} {f} ip saddr vmap @v_out");
    line!(batch, "add rule ip {TABLE} {f} ip daddr vmap @v_in");
    // Traffic routed *through* an interface (a route whose target is an ENI: a NAT
    // instance) meets that interface's ingress rules too, as on EC2. For traffic to an
    // interface itself the next hop is its address, already checked above.
    line!(batch, "add rule ip {TABLE} {f} rt ip nexthop vmap @v_in");
    if let Some(g) = igw_link {
        // The IGW carries only addresses that have a public IP, and lets in only what its
        // 1:1 NAT translated: a private address never reaches the internet as a source.
        line!(
            batch,
            "add rule ip {TABLE} {f} oifname \"{g}\" ip saddr != @s_public drop"
        );
        line!(
            batch,
            "add rule ip {TABLE} {f} iifname \"{g}\" ct status dnat accept"
        );
        line!(batch, "add rule ip {TABLE} {f} iifname \"{g}\" drop");
        line!(
            batch,
            "add rule ip {TABLE} c_pre iifname \"{g}\" dnat to ip daddr map @pub_dnat"
        );
        line!(
            batch,
            "add rule ip {TABLE} c_post oifname \"{g}\" snat to ip saddr map @pub_snat"
        );
    }
    line!(batch, "add rule ip {TABLE} {f} accept");
    // The router's own addresses serve nothing to the VPC or the internet but the VPC
    // resolver, to the VPC's subnets. Security groups do not apply to it, as on AWS.
    line!(batch, "add rule ip {TABLE} c_input iif \"lo\" accept");
    line!(
        batch,
        "add rule ip {TABLE} c_input iifname \"{BRIDGES}\" ip saddr {} ip daddr {} udp dport 53 accept",
        vpc.network(),
        resolver_of(vpc)
    );
    line!(
        batch,
        "add rule ip {TABLE} c_input ct state established,related accept"
    );
    // What the router serves itself (gateway endpoints) is reached only by the subnets
    // whose route table delivers it here, and only as the sender's security groups allow
    // egress to it: their chains decide as in `c_forward` (a drop ends it there).
    for served in &desired.served {
        let to = format!(
            "iifname \"{BRIDGES}\" ip saddr {} ip daddr {} tcp dport {}",
            vpc.network(),
            served.ip(),
            served.port()
        );
        line!(
            batch,
            "add rule ip {TABLE} c_input {to} meta mark set 0x0 ip saddr vmap @v_out"
        );
        line!(batch, "add rule ip {TABLE} c_input {to} accept");
    }
}

fn known_groups(vpc: &DesiredVpc) -> BTreeSet<&str> {
    vpc.security_groups.iter().map(|g| g.id.as_str()).collect()
}

/// The whole table, replacing whatever is there in the same transaction (used at start-up
/// and whenever the incremental path is unsure of the kernel's state).
pub(crate) fn full(vpc: &DesiredVpc, igw_link: Option<&str>) -> Batch {
    let mut b = Batch::default();
    line!(b, "add table ip {TABLE}");
    line!(b, "delete table ip {TABLE}");
    line!(b, "add table ip {TABLE}");
    line!(b, "add set ip {TABLE} s_public {{ type ipv4_addr; }}");
    line!(
        b,
        "add map ip {TABLE} pub_dnat {{ type ipv4_addr : ipv4_addr; }}"
    );
    line!(
        b,
        "add map ip {TABLE} pub_snat {{ type ipv4_addr : ipv4_addr; }}"
    );
    line!(
        b,
        "add map ip {TABLE} v_out {{ type ipv4_addr : verdict; }}"
    );
    line!(b, "add map ip {TABLE} v_in {{ type ipv4_addr : verdict; }}");
    line!(b, "add table bridge {TABLE}");
    line!(b, "delete table bridge {TABLE}");
    line!(b, "add table bridge {TABLE}");
    line!(b, "add set bridge {TABLE} s_ports {{ type ifname; }}");
    line!(
        b,
        "add set bridge {TABLE} s_sources {{ type ifname . ipv4_addr; }}"
    );
    line!(
        b,
        "add chain bridge {TABLE} c_pre {{ type filter hook prerouting priority -200; policy accept; }}"
    );
    for check in ["ip saddr", "arp saddr ip"] {
        line!(
            b,
            "add rule bridge {TABLE} c_pre iifname @s_ports iifname . {check} != @s_sources drop"
        );
    }
    let known = known_groups(vpc);
    for sg in &vpc.security_groups {
        add_sg_objects(&mut b, &sg.id);
    }
    for sg in &vpc.security_groups {
        fill_sg(&mut b, sg, &known);
    }
    for groups in dispatch_sets(vpc, &known) {
        add_dispatch(&mut b, &groups);
    }
    for eni in &vpc.enis {
        add_eni(&mut b, eni, &known);
    }
    for nat in &vpc.nat_gateways {
        if let Some(public) = nat.public_ip {
            add_public(&mut b, nat.private_ip, public);
        }
    }
    line!(
        b,
        "add chain ip {TABLE} c_forward {{ type filter hook forward priority 0; policy drop; }}"
    );
    line!(
        b,
        "add chain ip {TABLE} c_input {{ type filter hook input priority 0; policy drop; }}"
    );
    line!(
        b,
        "add chain ip {TABLE} c_pre {{ type nat hook prerouting priority dstnat; policy accept; }}"
    );
    line!(b, "add chain ip {TABLE} c_post {{ type nat hook postrouting priority srcnat; policy accept; }}");
    base_rules(&mut b, vpc, igw_link);
    b
}

/// Rewrites the rule chains of `sg` whose rules differ from `previous`'s (all of them for a
/// new group, whose chains exist already).
fn change_rules(
    b: &mut Batch,
    previous: Option<&DesiredSecurityGroup>,
    old_known: &BTreeSet<&str>,
    sg: &DesiredSecurityGroup,
    new_known: &BTreeSet<&str>,
) {
    for ingress in [true, false] {
        let rules = sg_rules(sg, ingress, new_known);
        let before = previous.map(|p| sg_rules(p, ingress, old_known));
        if before.as_ref() == Some(&rules) {
            continue;
        }
        let chain = sg_chain(&sg.id, ingress);
        if before.is_some() {
            line!(b, "flush chain ip {TABLE} {chain}");
        }
        for rule in rules {
            line!(b, "add rule ip {TABLE} {chain} {rule}");
        }
    }
}

/// The statements that change the rules of one group of `vpc` (same id, same VPC) from
/// `previous` to `sg`, whatever the VPC's size: its chains only, as `incremental` would.
pub(crate) fn group_rules(
    vpc: &DesiredVpc,
    previous: &DesiredSecurityGroup,
    sg: &DesiredSecurityGroup,
) -> Batch {
    let mut b = Batch::default();
    let known = known_groups(vpc);
    change_rules(&mut b, Some(previous), &known, sg, &known);
    b
}

/// The statements that turn the table built for `old` into the one for `new`; empty when
/// nothing changed. Order matters within the one transaction: new groups' sets and chains
/// exist before anything references them, interfaces leave before the groups they jump to.
pub(crate) fn incremental(
    old: &DesiredVpc,
    old_igw_link: Option<&str>,
    new: &DesiredVpc,
    new_igw_link: Option<&str>,
) -> Batch {
    let mut b = Batch::default();
    let old_known = known_groups(old);
    let new_known = known_groups(new);
    let old_groups: BTreeMap<&str, &DesiredSecurityGroup> = old
        .security_groups
        .iter()
        .map(|g| (g.id.as_str(), g))
        .collect();
    for sg in &new.security_groups {
        if !old_groups.contains_key(sg.id.as_str()) {
            add_sg_objects(&mut b, &sg.id);
        }
    }
    for sg in &new.security_groups {
        let previous = old_groups.get(sg.id.as_str()).copied();
        change_rules(&mut b, previous, &old_known, sg, &new_known);
    }
    // Chains of group sets that are new, before interfaces refer to them; those no longer
    // used go at the end, after their interfaces' elements.
    let old_sets = dispatch_sets(old, &old_known);
    let new_sets = dispatch_sets(new, &new_known);
    for groups in new_sets.difference(&old_sets) {
        add_dispatch(&mut b, groups);
    }
    // An interface whose groups changed membership of the known set is rebuilt, so its
    // elements always match what `full` would render.
    let old_enis: BTreeMap<&str, &DesiredEni> =
        old.enis.iter().map(|e| (e.id.as_str(), e)).collect();
    let new_enis: BTreeMap<&str, &DesiredEni> =
        new.enis.iter().map(|e| (e.id.as_str(), e)).collect();
    let same_eni = |a: &DesiredEni, b: &DesiredEni| {
        let groups = |e: &DesiredEni, known: &BTreeSet<&str>| -> Vec<String> {
            e.security_groups
                .iter()
                .filter(|g| known.contains(g.as_str()))
                .cloned()
                .collect()
        };
        a.ip == b.ip
            && a.public_ip == b.public_ip
            && a.source_dest_check == b.source_dest_check
            && groups(a, &old_known) == groups(b, &new_known)
    };
    for (id, eni) in &old_enis {
        if new_enis.get(id).is_none_or(|n| !same_eni(eni, n)) {
            delete_eni(&mut b, eni, &old_known);
        }
    }
    let public_nats = |vpc: &DesiredVpc| -> BTreeSet<(Ipv4Addr, Ipv4Addr)> {
        vpc.nat_gateways
            .iter()
            .filter_map(|n| n.public_ip.map(|p| (n.private_ip, p)))
            .collect()
    };
    let (old_nats, new_nats) = (public_nats(old), public_nats(new));
    for (private, public) in old_nats.difference(&new_nats) {
        delete_public(&mut b, *private, *public);
    }
    for (id, eni) in &new_enis {
        if old_enis.get(id).is_none_or(|o| !same_eni(o, eni)) {
            add_eni(&mut b, eni, &new_known);
        }
    }
    for (private, public) in new_nats.difference(&old_nats) {
        add_public(&mut b, *private, *public);
    }
    if old_igw_link != new_igw_link || old.served != new.served {
        for chain in ["c_forward", "c_input", "c_pre", "c_post"] {
            line!(b, "flush chain ip {TABLE} {chain}");
        }
        base_rules(&mut b, new, new_igw_link);
    }
    for groups in old_sets.difference(&new_sets) {
        delete_dispatch(&mut b, groups);
    }
    for (id, _) in old_groups.iter().filter(|(id, _)| !new_known.contains(*id)) {
        for ingress in [true, false] {
            let chain = sg_chain(id, ingress);
            line!(b, "flush chain ip {TABLE} {chain}");
            line!(b, "delete chain ip {TABLE} {chain}");
        }
        line!(b, "delete set ip {TABLE} {}", sg_set(id));
    }
    b
}

/// The statements `incremental` renders when one interface of the VPC changes from `old`
/// to `new` (`None`: absent) and nothing else does, without looking at the other
/// interfaces: the caller says whether `new`'s group set is new to the table
/// (`new_set`) and whether `old`'s is left unused (`unused_set`). `known` is the VPC's
/// groups, which carry every group of both interfaces.
pub(crate) fn eni_change(
    old: Option<&DesiredEni>,
    new: Option<&DesiredEni>,
    known: &BTreeSet<&str>,
    new_set: bool,
    unused_set: bool,
) -> Batch {
    let mut b = Batch::default();
    let same = match (old, new) {
        (Some(o), Some(n)) => {
            o.ip == n.ip
                && o.public_ip == n.public_ip
                && o.source_dest_check == n.source_dest_check
                && groups_of(o, known) == groups_of(n, known)
        }
        _ => false,
    };
    if same {
        return b;
    }
    if let Some(n) = new.filter(|_| new_set) {
        add_dispatch(&mut b, &groups_of(n, known));
    }
    if let Some(o) = old {
        delete_eni(&mut b, o, known);
    }
    if let Some(n) = new {
        add_eni(&mut b, n, known);
    }
    if let Some(o) = old.filter(|_| unused_set) {
        delete_dispatch(&mut b, &groups_of(o, known));
    }
    b
}

/// The NAT gateway namespace's table: forward what comes from the VPC, masquerade it to the
/// gateway's private address, and accept nothing addressed to the gateway itself.
pub(crate) fn nat_gateway(vpc: Ipv4Cidr, private_ip: Ipv4Addr) -> String {
    let vpc = vpc.network();
    format!(
        "add table ip vl_nat\n\
         delete table ip vl_nat\n\
         add table ip vl_nat\n\
         add chain ip vl_nat c_forward {{ type filter hook forward priority 0; policy drop; }}\n\
         add rule ip vl_nat c_forward ct state established,related accept\n\
         add rule ip vl_nat c_forward iifname \"eth0\" oifname \"eth0\" ip saddr {vpc} accept\n\
         add chain ip vl_nat c_input {{ type filter hook input priority 0; policy drop; }}\n\
         add rule ip vl_nat c_input iif \"lo\" accept\n\
         add rule ip vl_nat c_input ct state established,related accept\n\
         add chain ip vl_nat c_post {{ type nat hook postrouting priority srcnat; policy accept; }}\n\
         add rule ip vl_nat c_post oifname \"eth0\" ip saddr != {private_ip} masquerade\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DesiredNat, DesiredSubnet, PortRange};

    fn cidr(text: &str) -> Ipv4Cidr {
        text.parse().unwrap()
    }

    fn sg(id: &str, ingress: Vec<SgRule>) -> DesiredSecurityGroup {
        DesiredSecurityGroup {
            id: id.into(),
            ingress,
            egress: vec![SgRule {
                protocol: Protocol::All,
                peer: Peer::Cidr(Ipv4Cidr::ANY),
            }],
        }
    }

    fn vpc() -> DesiredVpc {
        DesiredVpc {
            id: "vpc-1".into(),
            cidr: cidr("10.0.0.0/16"),
            subnets: vec![DesiredSubnet {
                id: "subnet-1".into(),
                cidr: cidr("10.0.1.0/24"),
                routes: vec![],
            }],
            igw: None,
            nat_gateways: vec![],
            enis: vec![DesiredEni {
                id: "eni-1".into(),
                subnet: "subnet-1".into(),
                ip: Ipv4Addr::new(10, 0, 1, 4),
                security_groups: vec!["sg-a".into()],
                public_ip: None,
                source_dest_check: true,
            }],
            security_groups: vec![sg(
                "sg-a",
                vec![
                    SgRule {
                        protocol: Protocol::Tcp(Some(PortRange { from: 80, to: 80 })),
                        peer: Peer::Cidr(cidr("10.0.0.0/16")),
                    },
                    SgRule {
                        protocol: Protocol::All,
                        peer: Peer::Group("sg-a".into()),
                    },
                    SgRule {
                        protocol: Protocol::Udp(Some(PortRange {
                            from: 1000,
                            to: 2000,
                        })),
                        peer: Peer::Group("sg-gone".into()),
                    },
                    SgRule {
                        protocol: Protocol::Icmp {
                            icmp_type: Some(8),
                            code: None,
                        },
                        peer: Peer::Cidr(Ipv4Cidr::ANY),
                    },
                ],
            )],
            names: Default::default(),
            served: Vec::new(),
        }
    }

    #[test]
    fn group_rules_render_allow_marks() {
        let v = vpc();
        let known = known_groups(&v);
        assert_eq!(
            sg_rules(&v.security_groups[0], true, &known),
            [
                "icmp type 8 meta mark set meta mark or 0x2 return",
                "ip saddr 10.0.0.0/16 tcp dport 80 meta mark set meta mark or 0x2 return",
                "ip saddr @m_sg_a meta mark set meta mark or 0x2 return",
            ]
        );
        assert_eq!(
            sg_rules(&v.security_groups[0], false, &known),
            ["meta mark set meta mark or 0x1 return"]
        );
    }

    #[test]
    fn full_table_snapshot() {
        let text = full(&vpc(), Some("vl-gabc")).text().to_owned();
        let port = net::names::ifname("e", "eni-1").unwrap();
        let expected = "\
add table ip vl_vpc
delete table ip vl_vpc
add table ip vl_vpc
add set ip vl_vpc s_public { type ipv4_addr; }
add map ip vl_vpc pub_dnat { type ipv4_addr : ipv4_addr; }
add map ip vl_vpc pub_snat { type ipv4_addr : ipv4_addr; }
add map ip vl_vpc v_out { type ipv4_addr : verdict; }
add map ip vl_vpc v_in { type ipv4_addr : verdict; }
add table bridge vl_vpc
delete table bridge vl_vpc
add table bridge vl_vpc
add set bridge vl_vpc s_ports { type ifname; }
add set bridge vl_vpc s_sources { type ifname . ipv4_addr; }
add chain bridge vl_vpc c_pre { type filter hook prerouting priority -200; policy accept; }
add rule bridge vl_vpc c_pre iifname @s_ports iifname . ip saddr != @s_sources drop
add rule bridge vl_vpc c_pre iifname @s_ports iifname . arp saddr ip != @s_sources drop
add set ip vl_vpc m_sg_a { type ipv4_addr; }
add chain ip vl_vpc g_sg_a_i
add chain ip vl_vpc g_sg_a_e
add rule ip vl_vpc g_sg_a_i icmp type 8 meta mark set meta mark or 0x2 return
add rule ip vl_vpc g_sg_a_i ip saddr 10.0.0.0/16 tcp dport 80 meta mark set meta mark or 0x2 return
add rule ip vl_vpc g_sg_a_i ip saddr @m_sg_a meta mark set meta mark or 0x2 return
add rule ip vl_vpc g_sg_a_e meta mark set meta mark or 0x1 return
add chain ip vl_vpc i_SET
add rule ip vl_vpc i_SET jump g_sg_a_i
add rule ip vl_vpc i_SET meta mark and 0x2 == 0x2 return
add rule ip vl_vpc i_SET drop
add chain ip vl_vpc o_SET
add rule ip vl_vpc o_SET jump g_sg_a_e
add rule ip vl_vpc o_SET meta mark and 0x1 == 0x1 return
add rule ip vl_vpc o_SET drop
add element ip vl_vpc v_out { 10.0.1.4 : jump o_SET }
add element ip vl_vpc v_in { 10.0.1.4 : jump i_SET }
add element ip vl_vpc m_sg_a { 10.0.1.4 }
add element bridge vl_vpc s_ports { \"PORT\" }
add element bridge vl_vpc s_sources { \"PORT\" . 10.0.1.4 }
add chain ip vl_vpc c_forward { type filter hook forward priority 0; policy drop; }
add chain ip vl_vpc c_input { type filter hook input priority 0; policy drop; }
add chain ip vl_vpc c_pre { type nat hook prerouting priority dstnat; policy accept; }
add chain ip vl_vpc c_post { type nat hook postrouting priority srcnat; policy accept; }
add rule ip vl_vpc c_forward ct state established,related accept
add rule ip vl_vpc c_forward ct state invalid drop
add rule ip vl_vpc c_forward meta mark set 0x0
add rule ip vl_vpc c_forward ip daddr 169.254.0.0/16 drop
add rule ip vl_vpc c_forward ip saddr vmap @v_out
add rule ip vl_vpc c_forward ip daddr vmap @v_in
add rule ip vl_vpc c_forward rt ip nexthop vmap @v_in
add rule ip vl_vpc c_forward oifname \"vl-gabc\" ip saddr != @s_public drop
add rule ip vl_vpc c_forward iifname \"vl-gabc\" ct status dnat accept
add rule ip vl_vpc c_forward iifname \"vl-gabc\" drop
add rule ip vl_vpc c_pre iifname \"vl-gabc\" dnat to ip daddr map @pub_dnat
add rule ip vl_vpc c_post oifname \"vl-gabc\" snat to ip saddr map @pub_snat
add rule ip vl_vpc c_forward accept
add rule ip vl_vpc c_input iif \"lo\" accept
add rule ip vl_vpc c_input iifname \"vl-b*\" ip saddr 10.0.0.0/16 ip daddr 10.0.0.2 udp dport 53 accept
add rule ip vl_vpc c_input ct state established,related accept
"
        .replace("PORT", &port)
        .replace("SET", &dispatch_chain(&["sg-a"], true)[2..]);
        assert_eq!(text, expected);
    }

    #[test]
    fn a_rule_change_touches_only_the_group_chain() {
        let old = vpc();
        let mut new = old.clone();
        for i in 2..100u8 {
            let mut eni = new.enis[0].clone();
            eni.id = format!("eni-{i}");
            eni.ip = Ipv4Addr::new(10, 0, 1, i + 3);
            new.enis.push(eni);
        }
        let grown = new.clone();
        new.security_groups[0].ingress.pop();
        let batch = incremental(&grown, None, &new, None);
        assert_eq!(
            batch.text(),
            "flush chain ip vl_vpc g_sg_a_i\n\
             add rule ip vl_vpc g_sg_a_i ip saddr 10.0.0.0/16 tcp dport 80 meta mark set meta mark or 0x2 return\n\
             add rule ip vl_vpc g_sg_a_i ip saddr @m_sg_a meta mark set meta mark or 0x2 return\n"
        );
        assert!(incremental(&new, None, &new, None).is_empty());
        assert!(!incremental(&old, None, &grown, None).is_empty());
    }

    #[test]
    fn interfaces_with_the_same_groups_share_their_chains() {
        let mut v = vpc();
        let mut second = v.enis[0].clone();
        second.id = "eni-2".into();
        second.ip = Ipv4Addr::new(10, 0, 1, 5);
        v.enis.push(second.clone());
        let text = full(&v, None).text().to_owned();
        assert_eq!(text.matches("add chain ip vl_vpc i_").count(), 1);
        let mut grown = v.clone();
        second.id = "eni-3".into();
        second.ip = Ipv4Addr::new(10, 0, 1, 6);
        grown.enis.push(second);
        let added = incremental(&v, None, &grown, None).text().to_owned();
        assert!(!added.contains("add chain"), "{added}");
        let mut shrunk = grown.clone();
        shrunk.enis.clear();
        let removed = incremental(&grown, None, &shrunk, None).text().to_owned();
        assert_eq!(removed.matches("delete chain").count(), 2, "{removed}");
    }

    #[test]
    fn a_group_change_alone_renders_what_incremental_would() {
        let old = vpc();
        let mut new = old.clone();
        new.security_groups[0].ingress.remove(0);
        new.security_groups[0].egress.clear();
        let alone = group_rules(&old, &old.security_groups[0], &new.security_groups[0]);
        assert_eq!(alone.text(), incremental(&old, None, &new, None).text());
        assert!(group_rules(&old, &old.security_groups[0], &old.security_groups[0]).is_empty());
    }

    #[test]
    fn interfaces_and_groups_come_and_go_in_dependency_order() {
        let old = vpc();
        let mut new = old.clone();
        new.security_groups = vec![sg("sg-b", vec![])];
        new.enis[0].security_groups = vec!["sg-b".into()];
        new.enis[0].public_ip = Some(Ipv4Addr::new(198, 51, 100, 9));
        new.nat_gateways.push(DesiredNat {
            id: "nat-1".into(),
            subnet: "subnet-1".into(),
            private_ip: Ipv4Addr::new(10, 0, 1, 5),
            public_ip: Some(Ipv4Addr::new(198, 51, 100, 10)),
        });
        let text = incremental(&old, None, &new, Some("vl-gx"))
            .text()
            .to_owned();
        let position = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {text}"))
        };
        let (was, now) = (
            dispatch_chain(&["sg-a"], false),
            dispatch_chain(&["sg-b"], false),
        );
        assert!(position("add set ip vl_vpc m_sg_b") < position("jump g_sg_b_e"));
        assert!(
            position(&format!("add chain ip vl_vpc {now}"))
                < position(&format!(
                    "add element ip vl_vpc v_out {{ 10.0.1.4 : jump {now} }}"
                ))
        );
        assert!(
            position("delete element ip vl_vpc v_out { 10.0.1.4 }")
                < position("add element ip vl_vpc v_out { 10.0.1.4 :")
        );
        assert!(
            position("delete element ip vl_vpc v_out { 10.0.1.4 }")
                < position(&format!("delete chain ip vl_vpc {was}"))
        );
        assert!(
            position(&format!("delete chain ip vl_vpc {was}"))
                < position("delete chain ip vl_vpc g_sg_a_e")
        );
        assert!(
            position("delete set ip vl_vpc m_sg_a") > position("delete element ip vl_vpc m_sg_a")
        );
        assert!(text.contains("add element ip vl_vpc pub_dnat { 198.51.100.10 : 10.0.1.5 }"));
        assert!(text.contains("add element ip vl_vpc pub_snat { 10.0.1.4 : 198.51.100.9 }"));
        assert!(text.contains("flush chain ip vl_vpc c_forward"));
    }

    /// `eni_change` renders, for one interface added, removed or changed, exactly what
    /// `incremental` renders for the whole VPC before and after: with a group set that is
    /// new or already used, and one left unused or still used by others.
    #[test]
    fn one_interface_renders_as_incremental_does() {
        let mut before = vpc();
        before.security_groups.push(sg("sg-b", vec![]));
        before.enis[0].public_ip = Some(Ipv4Addr::new(198, 51, 100, 9));
        let eni = |id: &str, ip: [u8; 4], groups: &[&str]| DesiredEni {
            id: id.into(),
            subnet: "subnet-1".into(),
            ip: ip.into(),
            security_groups: groups.iter().map(|g| g.to_string()).collect(),
            public_ip: None,
            source_dest_check: id != "eni-3",
        };
        before.enis.push(eni("eni-2", [10, 0, 1, 5], &["sg-a"]));
        let known = known_groups(&before);
        let count = |vpc: &DesiredVpc, e: &DesiredEni| {
            vpc.enis
                .iter()
                .filter(|o| o.security_groups == e.security_groups)
                .count()
        };
        let cases = [
            (None, Some(eni("eni-3", [10, 0, 1, 6], &["sg-a"]))),
            (None, Some(eni("eni-3", [10, 0, 1, 6], &["sg-b", "sg-a"]))),
            (Some("eni-2"), None),
            (Some("eni-1"), None),
            (Some("eni-2"), Some(eni("eni-2", [10, 0, 1, 5], &["sg-b"]))),
            (Some("eni-2"), Some(eni("eni-2", [10, 0, 1, 7], &["sg-a"]))),
            (Some("eni-2"), Some(eni("eni-2", [10, 0, 1, 5], &["sg-a"]))),
        ];
        for (i, (old_id, new)) in cases.into_iter().enumerate() {
            let old = old_id.map(|id| before.enis.iter().find(|e| e.id == id).unwrap().clone());
            let mut after = before.clone();
            after.enis.retain(|e| Some(e.id.as_str()) != old_id);
            after.enis.extend(new.clone());
            let new_set = new.as_ref().is_some_and(|n| count(&before, n) == 0);
            let unused_set = old.as_ref().is_some_and(|o| count(&after, o) == 0);
            let delta = eni_change(old.as_ref(), new.as_ref(), &known, new_set, unused_set);
            let whole = incremental(&before, None, &after, None);
            assert_eq!(delta.text(), whole.text(), "case {i}");
            assert_eq!(delta.is_empty(), i == 6, "case {i}");
        }
    }
}
