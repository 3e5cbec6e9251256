//! rtnetlink from Rust: links (veth, bridge), IPv4 addresses, routes and policy rules inside
//! one network namespace, over a socket opened in that namespace and then driven by tokio.
//!
//! Creates are idempotent and deletes of missing objects succeed. Must not switch namespaces
//! itself (a worker from [`Netns::spawn`] opens the socket) and must not shell out to `ip`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd};

use futures::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoBridge, InfoData, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteScope, RouteType,
};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::sys::protocols::NETLINK_ROUTE;
use rtnetlink::sys::{Socket, TokioSocket};
use rtnetlink::{
    Handle, IpVersion, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

use crate::error::netlink_errno;
use crate::names::validate_ifname;
use crate::{Error, Ipv4Cidr, Netns, Result};

/// The kernel's main routing table (`ip route` without `table`).
pub const MAIN_TABLE: u32 = 254;

/// A link as seen by a dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `"veth"`, `"bridge"`, …; `None` for links without a kind, such as `lo`.
    pub kind: Option<String>,
    /// Administratively up.
    pub up: bool,
    pub mtu: Option<u32>,
    /// Index of the bridge this link is a port of.
    pub master: Option<u32>,
    /// Hardware address, for links that have an Ethernet one.
    pub mac: Option<[u8; 6]>,
}

/// An IPv4 unicast route. The destination's host bits are ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub destination: Ipv4Cidr,
    pub gateway: Option<Ipv4Addr>,
    pub device: Option<String>,
    pub table: u32,
}

impl Route {
    /// `default via <gateway>` in the main table.
    pub fn default_via(gateway: Ipv4Addr) -> Route {
        Route::via(Ipv4Cidr::ANY, gateway)
    }

    /// `<destination> via <gateway>` in the main table.
    pub fn via(destination: Ipv4Cidr, gateway: Ipv4Addr) -> Route {
        Route {
            destination: destination.network(),
            gateway: Some(gateway),
            device: None,
            table: MAIN_TABLE,
        }
    }

    /// `<destination> dev <device>` (directly connected, scope link) in the main table.
    pub fn on_link(destination: Ipv4Cidr, device: &str) -> Route {
        Route {
            destination: destination.network(),
            gateway: None,
            device: Some(device.to_owned()),
            table: MAIN_TABLE,
        }
    }

    /// The same route in routing table `table`.
    pub fn in_table(self, table: u32) -> Route {
        Route { table, ..self }
    }
}

/// A policy rule `priority <priority>: from <from> lookup <table>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub from: Ipv4Cidr,
    pub table: u32,
    pub priority: u32,
}

/// An rtnetlink connection bound to one namespace. Dropping it closes the socket (which also
/// releases its hold on the namespace).
pub struct Netlink {
    handle: Handle,
    connection: tokio::task::JoinHandle<()>,
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl Netlink {
    /// Opens a route netlink socket inside `netns` and drives it on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime with IO enabled, as tokio's own IO types do.
    pub async fn connect(netns: &Netns) -> Result<Netlink> {
        let socket = netns
            .spawn(|| Socket::new(NETLINK_ROUTE))
            .await?
            .map_err(|e| Error::io("open netlink socket", e))?;
        // SAFETY: the fd is the netlink socket just opened above; into_raw_fd gives up the
        // only owner, so TokioSocket becomes its sole owner and closes it on drop.
        let socket = unsafe { TokioSocket::from_raw_fd(socket.into_raw_fd()) };
        let (connection, handle, _unsolicited) = rtnetlink::from_socket(socket);
        let connection = tokio::spawn(connection);
        Ok(Netlink { handle, connection })
    }

    /// All links of the namespace.
    pub async fn links(&self) -> Result<Vec<Link>> {
        let messages: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| Error::netlink("dump links", e))?;
        Ok(messages.iter().map(link_from_message).collect())
    }

    /// Links whose name starts with `prefix`.
    pub async fn links_with_prefix(&self, prefix: &str) -> Result<Vec<Link>> {
        let mut links = self.links().await?;
        links.retain(|link| link.name.starts_with(prefix));
        Ok(links)
    }

    /// The link named `name`, if it exists.
    pub async fn link(&self, name: &str) -> Result<Option<Link>> {
        Ok(self.find_link(name).await?.as_ref().map(link_from_message))
    }

    /// Creates a bridge with the hardware address `mac`, which it keeps whatever its ports
    /// (see [`crate::names::mac`]); an existing bridge of that name is success, and is given
    /// that address if it has another. Without multicast snooping: when a port leaves, the
    /// kernel re-enables snooping on every other port, one timer each, a cost that grows
    /// with the ports (and nothing here uses multicast).
    pub async fn add_bridge(&self, name: &str, mac: [u8; 6]) -> Result<()> {
        validate_ifname(name)?;
        let message = LinkBridge::new(name)
            .append_info_data(InfoBridge::MulticastSnooping(false))
            .address(mac.to_vec())
            .build();
        self.create_link(name, message, "bridge").await?;
        self.set_mac(name, mac).await
    }

    /// Gives the link the hardware address `mac`, unless it has it already.
    pub async fn set_mac(&self, name: &str, mac: [u8; 6]) -> Result<()> {
        let Some(existing) = self.link(name).await? else {
            return Err(Error::LinkNotFound(name.to_owned()));
        };
        if existing.mac == Some(mac) {
            return Ok(());
        }
        let message = LinkUnspec::new_with_index(existing.index)
            .address(mac.to_vec())
            .build();
        self.set_link(message, name).await
    }

    /// Creates a veth pair with `name` in this connection's namespace and `peer_name` created
    /// directly in `peer_netns`, so no end ever exists anywhere else (in particular not in the
    /// daemon's namespace). An existing veth named `name` here is success; where its peer
    /// lives is not re-checked.
    pub async fn add_veth(&self, name: &str, peer_netns: &Netns, peer_name: &str) -> Result<()> {
        validate_ifname(name)?;
        validate_ifname(peer_name)?;
        let peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name(peer_name)
            .setns_by_fd(peer_netns.as_fd().as_raw_fd())
            .build();
        let message = LinkVeth::new(name, peer_name)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
            .build();
        self.create_link(name, message, "veth").await
    }

    /// Sets the link administratively up.
    pub async fn set_up(&self, name: &str) -> Result<()> {
        let index = self.index(name).await?;
        self.set_link(LinkUnspec::new_with_index(index).up().build(), name)
            .await
    }

    /// Gives the link no IPv6 address of its own, not even a link-local one, so that coming
    /// up it sends nothing of IPv6 (duplicate address detection, router solicitations):
    /// `addr_gen_mode` none, through netlink rather than `/proc/sys`, whose lookups grow
    /// with the number of namespaces. Takes effect when the link next comes up. Fails where
    /// the kernel has no IPv6.
    pub async fn no_ipv6_addresses(&self, name: &str) -> Result<()> {
        let index = self.index(name).await?;
        let ipv6 = AfSpecUnspec::Inet6(vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)]);
        let message = LinkUnspec::new_with_index(index)
            .append_extra_attribute(LinkAttribute::AfSpecUnspec(vec![ipv6]))
            .build();
        self.set_link(message, name).await
    }

    /// Sets the link administratively down.
    pub async fn set_down(&self, name: &str) -> Result<()> {
        let index = self.index(name).await?;
        self.set_link(LinkUnspec::new_with_index(index).down().build(), name)
            .await
    }

    /// Makes `name` a port of the bridge `master`.
    pub async fn set_master(&self, name: &str, master: &str) -> Result<()> {
        let index = self.index(name).await?;
        let master_index = self.index(master).await?;
        let message = LinkUnspec::new_with_index(index)
            .controller(master_index)
            .build();
        self.set_link(message, name).await
    }

    /// Sets the MTU.
    pub async fn set_mtu(&self, name: &str, mtu: u32) -> Result<()> {
        let index = self.index(name).await?;
        self.set_link(LinkUnspec::new_with_index(index).mtu(mtu).build(), name)
            .await
    }

    /// Deletes the link (for a veth, both ends); a missing link is success.
    pub async fn delete_link(&self, name: &str) -> Result<()> {
        let Some(link) = self.find_link(name).await? else {
            return Ok(());
        };
        match self.handle.link().del(link.header.index).execute().await {
            Ok(()) => Ok(()),
            Err(e) if netlink_errno(&e) == Some(libc::ENODEV) => Ok(()),
            Err(e) => Err(Error::netlink(format!("delete link {name}"), e)),
        }
    }

    /// Adds an IPv4 address to a link; an identical address already there is success.
    pub async fn add_address(&self, name: &str, address: Ipv4Cidr) -> Result<()> {
        let index = self.index(name).await?;
        let request =
            self.handle
                .address()
                .add(index, IpAddr::V4(address.addr()), address.prefix());
        match request.execute().await {
            Ok(()) => Ok(()),
            Err(e) if netlink_errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(Error::netlink(format!("add {address} to {name}"), e)),
        }
    }

    /// The IPv4 addresses of a link.
    pub async fn addresses(&self, name: &str) -> Result<Vec<Ipv4Cidr>> {
        let index = self.index(name).await?;
        let messages = self.address_messages(index).await?;
        Ok(messages
            .iter()
            .filter_map(|(cidr, _)| *cidr)
            .collect::<Vec<_>>())
    }

    /// Removes an IPv4 address; a missing address or link is success.
    pub async fn delete_address(&self, name: &str, address: Ipv4Cidr) -> Result<()> {
        let Some(link) = self.find_link(name).await? else {
            return Ok(());
        };
        let messages = self.address_messages(link.header.index).await?;
        let Some((_, message)) = messages
            .into_iter()
            .find(|(cidr, _)| *cidr == Some(address))
        else {
            return Ok(());
        };
        match self.handle.address().del(message).execute().await {
            Ok(()) => Ok(()),
            Err(e) if netlink_errno(&e) == Some(libc::EADDRNOTAVAIL) => Ok(()),
            Err(e) => Err(Error::netlink(format!("delete {address} from {name}"), e)),
        }
    }

    /// Adds or replaces the route to `route.destination` in `route.table` (converges: a
    /// second call with the same route is a no-op, one with a new gateway moves it).
    pub async fn add_route(&self, route: &Route) -> Result<()> {
        let message = match self.route_message(route, false).await? {
            Some(message) => message,
            None => {
                return Err(Error::LinkNotFound(
                    route.device.clone().unwrap_or_default(),
                ))
            }
        };
        self.handle
            .route()
            .add(message)
            .replace()
            .execute()
            .await
            .map_err(|e| Error::netlink(format!("add route {}", describe(route)), e))
    }

    /// `blackhole <destination>` in `table`: what matches is dropped without an ICMP error
    /// to its sender, as a VPC's router drops traffic no route table entry matches (the
    /// sender's connect times out). Replaces a route to the same destination.
    pub async fn add_blackhole(&self, destination: Ipv4Cidr, table: u32) -> Result<()> {
        let destination = destination.network();
        let message = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(destination.addr(), destination.prefix())
            .table_id(table)
            .kind(RouteType::BlackHole)
            .build();
        self.handle
            .route()
            .add(message)
            .replace()
            .execute()
            .await
            .map_err(|e| Error::netlink(format!("add blackhole {destination} table {table}"), e))
    }

    /// `local <destination> dev lo` in `table`: what the table routes there is delivered to
    /// this namespace's own sockets (bound with `IP_FREEBIND`, as the address is on no
    /// interface), though other tables still route it elsewhere. Replaces a route to the
    /// same destination.
    pub async fn add_local_route(&self, destination: Ipv4Cidr, table: u32) -> Result<()> {
        let destination = destination.network();
        let lo = self
            .find_link("lo")
            .await?
            .ok_or_else(|| Error::LinkNotFound("lo".into()))?;
        let message = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(destination.addr(), destination.prefix())
            .table_id(table)
            .kind(RouteType::Local)
            .scope(RouteScope::Host)
            .output_interface(lo.header.index)
            .build();
        self.handle
            .route()
            .add(message)
            .replace()
            .execute()
            .await
            .map_err(|e| Error::netlink(format!("add local {destination} table {table}"), e))
    }

    /// The destinations of the `local` routes in `table` (see [`Self::add_local_route`]).
    pub async fn local_routes(&self, table: u32) -> Result<Vec<Ipv4Cidr>> {
        Ok(self
            .dump_routes()
            .await?
            .iter()
            .filter(|m| m.header.kind == RouteType::Local)
            .filter_map(|m| route_from_message(m, &HashMap::new()))
            .filter(|route| route.table == table)
            .map(|route| route.destination)
            .collect())
    }

    /// Deletes the `local` route to `destination` in `table`; a missing one is success.
    pub async fn delete_local_route(&self, destination: Ipv4Cidr, table: u32) -> Result<()> {
        let destination = destination.network();
        let message = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(destination.addr(), destination.prefix())
            .table_id(table)
            .kind(RouteType::Local)
            .scope(RouteScope::NoWhere)
            .build();
        match self.handle.route().del(message).execute().await {
            Ok(()) => Ok(()),
            Err(e) if netlink_errno(&e) == Some(libc::ESRCH) => Ok(()),
            Err(e) => Err(Error::netlink(
                format!("delete local {destination} table {table}"),
                e,
            )),
        }
    }

    /// Deletes the route; a missing route, or a missing device it went through, is success.
    pub async fn delete_route(&self, route: &Route) -> Result<()> {
        let Some(message) = self.route_message(route, true).await? else {
            return Ok(());
        };
        match self.handle.route().del(message).execute().await {
            Ok(()) => Ok(()),
            Err(e) if netlink_errno(&e) == Some(libc::ESRCH) => Ok(()),
            Err(e) => Err(Error::netlink(
                format!("delete route {}", describe(route)),
                e,
            )),
        }
    }

    /// IPv4 unicast routes of routing table `table`.
    pub async fn routes(&self, table: u32) -> Result<Vec<Route>> {
        let names: HashMap<u32, String> = self
            .links()
            .await?
            .into_iter()
            .map(|link| (link.index, link.name))
            .collect();
        Ok(self
            .dump_routes()
            .await?
            .iter()
            .filter(|m| m.header.kind == RouteType::Unicast)
            .filter_map(|m| route_from_message(m, &names))
            .filter(|route| route.table == table)
            .collect())
    }

    /// Every IPv4 route of the namespace, of every table and type.
    async fn dump_routes(&self) -> Result<Vec<RouteMessage>> {
        self.handle
            .route()
            .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
            .execute()
            .try_collect()
            .await
            .map_err(|e| Error::netlink("dump routes", e))
    }

    /// Adds the policy rule; an identical rule is success.
    pub async fn add_rule(&self, rule: &Rule) -> Result<()> {
        let from = rule.from.network();
        let mut request = self
            .handle
            .rule()
            .add()
            .action(RuleAction::ToTable)
            .table_id(rule.table)
            .priority(rule.priority)
            .v4();
        if from.prefix() > 0 {
            request = request.source_prefix(from.addr(), from.prefix());
        }
        match request.execute().await {
            Ok(()) => Ok(()),
            Err(e) if netlink_errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(Error::netlink(
                format!("add rule {}", describe_rule(rule)),
                e,
            )),
        }
    }

    /// Deletes the policy rule; a missing rule is success.
    pub async fn delete_rule(&self, rule: &Rule) -> Result<()> {
        let from = rule.from.network();
        let mut message = RuleMessage::default();
        message.header.family = AddressFamily::Inet;
        message.header.action = RuleAction::ToTable;
        match u8::try_from(rule.table) {
            Ok(table) => message.header.table = table,
            Err(_) => message.attributes.push(RuleAttribute::Table(rule.table)),
        }
        if from.prefix() > 0 {
            message.header.src_len = from.prefix();
            message
                .attributes
                .push(RuleAttribute::Source(IpAddr::V4(from.addr())));
        }
        message
            .attributes
            .push(RuleAttribute::Priority(rule.priority));
        match self.handle.rule().del(message).execute().await {
            Ok(()) => Ok(()),
            Err(e) if netlink_errno(&e) == Some(libc::ENOENT) => Ok(()),
            Err(e) => Err(Error::netlink(
                format!("delete rule {}", describe_rule(rule)),
                e,
            )),
        }
    }

    /// The IPv4 `lookup` rules of the namespace, including the kernel's defaults.
    pub async fn rules(&self) -> Result<Vec<Rule>> {
        let messages: Vec<RuleMessage> = self
            .handle
            .rule()
            .get(IpVersion::V4)
            .execute()
            .try_collect()
            .await
            .map_err(|e| Error::netlink("dump rules", e))?;
        Ok(messages
            .iter()
            .filter(|m| m.header.action == RuleAction::ToTable)
            .map(rule_from_message)
            .collect())
    }

    async fn find_link(&self, name: &str) -> Result<Option<LinkMessage>> {
        validate_ifname(name)?;
        let mut replies = self.handle.link().get().match_name(name).execute();
        match replies.try_next().await {
            Ok(found) => Ok(found),
            Err(e) if netlink_errno(&e) == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(Error::netlink(format!("get link {name}"), e)),
        }
    }

    async fn index(&self, name: &str) -> Result<u32> {
        match self.find_link(name).await? {
            Some(link) => Ok(link.header.index),
            None => Err(Error::LinkNotFound(name.to_owned())),
        }
    }

    async fn create_link(
        &self,
        name: &str,
        message: LinkMessage,
        kind: &'static str,
    ) -> Result<()> {
        let error = match self.handle.link().add(message).execute().await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if netlink_errno(&error) == Some(libc::EEXIST) {
            if let Some(existing) = self.link(name).await? {
                return match existing.kind {
                    Some(found) if found == kind => Ok(()),
                    found => Err(Error::LinkKindMismatch {
                        name: name.to_owned(),
                        found: found.unwrap_or_else(|| "a link without kind".to_owned()),
                        wanted: kind,
                    }),
                };
            }
        }
        Err(Error::netlink(format!("add {kind} {name}"), error))
    }

    async fn set_link(&self, message: LinkMessage, name: &str) -> Result<()> {
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .map_err(|e| Error::netlink(format!("set link {name}"), e))
    }

    async fn address_messages(
        &self,
        index: u32,
    ) -> Result<Vec<(Option<Ipv4Cidr>, AddressMessage)>> {
        let messages: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .map_err(|e| Error::netlink("dump addresses", e))?;
        Ok(messages
            .into_iter()
            .filter(|m| m.header.family == AddressFamily::Inet && m.header.index == index)
            .map(|m| (ipv4_of_address(&m), m))
            .collect())
    }

    async fn route_message(&self, route: &Route, for_delete: bool) -> Result<Option<RouteMessage>> {
        let destination = route.destination.network();
        let mut builder = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(destination.addr(), destination.prefix())
            .table_id(route.table);
        if let Some(gateway) = route.gateway {
            builder = builder.gateway(gateway);
        }
        if let Some(device) = &route.device {
            match self.find_link(device).await? {
                Some(link) => builder = builder.output_interface(link.header.index),
                None => return Ok(None),
            }
        }
        if for_delete {
            // NOWHERE makes the kernel match any scope, as `ip route del` does.
            builder = builder.scope(RouteScope::NoWhere);
        } else if route.gateway.is_none() {
            builder = builder.scope(RouteScope::Link);
        }
        Ok(Some(builder.build()))
    }
}

fn link_from_message(message: &LinkMessage) -> Link {
    let mut link = Link {
        index: message.header.index,
        name: String::new(),
        kind: None,
        up: message.header.flags.contains(LinkFlags::Up),
        mtu: None,
        master: None,
        mac: None,
    };
    for attribute in &message.attributes {
        match attribute {
            LinkAttribute::IfName(name) => link.name = name.clone(),
            LinkAttribute::Mtu(mtu) => link.mtu = Some(*mtu),
            LinkAttribute::Controller(index) => link.master = Some(*index),
            LinkAttribute::Address(address) => link.mac = address.as_slice().try_into().ok(),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(kind) = info {
                        link.kind = Some(kind.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}

fn ipv4_of_address(message: &AddressMessage) -> Option<Ipv4Cidr> {
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on point-to-point links.
    let mut local = None;
    let mut address = None;
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(IpAddr::V4(ip)) => local = Some(*ip),
            AddressAttribute::Address(IpAddr::V4(ip)) => address = Some(*ip),
            _ => {}
        }
    }
    let ip = local.or(address)?;
    Ipv4Cidr::new(ip, message.header.prefix_len).ok()
}

fn route_from_message(message: &RouteMessage, names: &HashMap<u32, String>) -> Option<Route> {
    let mut destination = Ipv4Addr::UNSPECIFIED;
    let mut gateway = None;
    let mut device = None;
    let mut table = u32::from(message.header.table);
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Destination(RouteAddress::Inet(ip)) => destination = *ip,
            RouteAttribute::Gateway(RouteAddress::Inet(ip)) => gateway = Some(*ip),
            RouteAttribute::Oif(index) => device = names.get(index).cloned(),
            RouteAttribute::Table(id) => table = *id,
            _ => {}
        }
    }
    let destination = Ipv4Cidr::new(destination, message.header.destination_prefix_length).ok()?;
    Some(Route {
        destination,
        gateway,
        device,
        table,
    })
}

fn rule_from_message(message: &RuleMessage) -> Rule {
    let mut from = Ipv4Cidr::ANY;
    let mut table = u32::from(message.header.table);
    let mut priority = 0;
    for attribute in &message.attributes {
        match attribute {
            RuleAttribute::Source(IpAddr::V4(ip)) => {
                from = Ipv4Cidr::new(*ip, message.header.src_len).unwrap_or(Ipv4Cidr::ANY)
            }
            RuleAttribute::Table(id) => table = *id,
            RuleAttribute::Priority(p) => priority = *p,
            _ => {}
        }
    }
    Rule {
        from,
        table,
        priority,
    }
}

fn describe(route: &Route) -> String {
    let mut text = route.destination.to_string();
    if let Some(gateway) = route.gateway {
        text.push_str(&format!(" via {gateway}"));
    }
    if let Some(device) = &route.device {
        text.push_str(&format!(" dev {device}"));
    }
    text.push_str(&format!(" table {}", route.table));
    text
}

fn describe_rule(rule: &Rule) -> String {
    format!(
        "{}: from {} lookup {}",
        rule.priority, rule.from, rule.table
    )
}
