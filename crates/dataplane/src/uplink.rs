//! The simulated internet's way out (`serve --uplink`): sealed (`none`, the default:
//! nothing is created in the caller's namespace, and a leftover of an earlier `host` run is
//! removed), or masqueraded to the caller's network (`host`, opt-in).
//!
//! With `host`, a veth links `vl-pub` (`vl-uplink-pub`, 169.254.0.1, default route) to the
//! caller's namespace (`vl-uplink`, 169.254.0.2); `vl-pub` masquerades what leaves by it to
//! 169.254.0.1, and the caller's namespace forwards that (IPv4 forwarding is turned on
//! there) and masquerades it again behind its own address, the way a container runtime
//! does. Nothing comes in that is not a reply: the caller's own services (the daemon's
//! port) and link-local addresses (an instance metadata service) stay out of reach.
//! This module owns those objects and must not touch anything else in the caller's
//! namespace.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use net::{Ipv4Cidr, Netlink, Netns, Nft, NftFamily, Route};

use crate::Result;

/// The end of the uplink in `vl-pub`.
pub(crate) const PUBLIC_END: &str = "vl-uplink-pub";
/// The end of the uplink in the caller's namespace.
const HOST_END: &str = "vl-uplink";
/// `vl-pub`'s address on the uplink (as on its other links).
const PUBLIC_ADDRESS: Ipv4Addr = Ipv4Addr::new(169, 254, 0, 1);
const HOST_ADDRESS: Ipv4Addr = Ipv4Addr::new(169, 254, 0, 2);
/// The caller's namespace's table.
const TABLE: &str = "vl_uplink";
/// Never forwarded out of the simulated internet: link-local (instance metadata) and
/// loopback addresses of the host.
const NEVER_OUT: &str = "169.254.0.0/16, 127.0.0.0/8";

/// Where the simulated internet leads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Uplink {
    /// Nowhere: `vl-pub` is sealed.
    #[default]
    None,
    /// To the daemon's own network, masqueraded.
    Host,
}

impl FromStr for Uplink {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        match text {
            "none" => Ok(Uplink::None),
            "host" => Ok(Uplink::Host),
            other => Err(format!("unknown uplink {other:?}: none or host")),
        }
    }
}

impl fmt::Display for Uplink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Uplink::None => "none",
            Uplink::Host => "host",
        })
    }
}

/// The statements `vl-pub`'s forward chain needs before its catch-all drop, and its
/// postrouting chain after the environments' masquerade, for `uplink`.
pub(crate) fn public_rules(uplink: Uplink, public_ranges: &str) -> (String, String) {
    match uplink {
        Uplink::None => (String::new(), String::new()),
        Uplink::Host => (
            format!(
                "add rule ip vl_pub c_forward iifname \"{PUBLIC_END}\" ct state established,related accept\n\
                 add rule ip vl_pub c_forward iifname \"{PUBLIC_END}\" drop\n\
                 add rule ip vl_pub c_forward oifname \"{PUBLIC_END}\" ip daddr {{ {NEVER_OUT}, {public_ranges} }} drop\n\
                 add rule ip vl_pub c_forward oifname \"{PUBLIC_END}\" accept\n"
            ),
            format!("add rule ip vl_pub c_post oifname \"{PUBLIC_END}\" masquerade\n"),
        ),
    }
}

fn host_table() -> String {
    format!(
        "add table ip {TABLE}\n\
         delete table ip {TABLE}\n\
         add table ip {TABLE}\n\
         add chain ip {TABLE} c_input {{ type filter hook input priority 0; policy accept; }}\n\
         add rule ip {TABLE} c_input iifname \"{HOST_END}\" ct state established,related accept\n\
         add rule ip {TABLE} c_input iifname \"{HOST_END}\" drop\n\
         add chain ip {TABLE} c_forward {{ type filter hook forward priority 0; policy accept; }}\n\
         add rule ip {TABLE} c_forward oifname \"{HOST_END}\" ct state established,related accept\n\
         add rule ip {TABLE} c_forward oifname \"{HOST_END}\" drop\n\
         add rule ip {TABLE} c_forward iifname \"{HOST_END}\" ip daddr {{ {NEVER_OUT} }} drop\n\
         add chain ip {TABLE} c_post {{ type nat hook postrouting priority srcnat; policy accept; }}\n\
         add rule ip {TABLE} c_post ip saddr {PUBLIC_ADDRESS} oifname != \"{HOST_END}\" masquerade\n"
    )
}

fn host32(ip: Ipv4Addr) -> Ipv4Cidr {
    Ipv4Cidr::new(ip, 32).unwrap_or(Ipv4Cidr::ANY)
}

/// What `host` mode changed in the caller's namespace beyond its own objects.
#[derive(Debug, Default)]
pub(crate) struct HostUplink {
    /// IPv4 forwarding was off and this process turned it on (turned off again on removal).
    enabled_forwarding: bool,
}

/// Connects `vl-pub` to the caller's namespace (`host`), or removes a leftover uplink of an
/// earlier run (`none`). Idempotent.
pub(crate) async fn realize(
    uplink: Uplink,
    nft: &Nft,
    public_nl: &Netlink,
) -> Result<Option<HostUplink>> {
    let host = Netns::current()?;
    if uplink == Uplink::None {
        // Deleting the veth's end in vl-pub takes its peer in the caller's namespace along.
        public_nl.delete_link(PUBLIC_END).await?;
        let stale = nft
            .tables(&host)
            .await?
            .into_iter()
            .any(|t| t.family == NftFamily::Ip && t.name == TABLE);
        if stale {
            nft.delete_table(&host, NftFamily::Ip, TABLE).await?;
        }
        return Ok(None);
    }
    let host_nl = Netlink::connect(&host).await?;
    public_nl.add_veth(PUBLIC_END, &host, HOST_END).await?;
    public_nl
        .add_address(PUBLIC_END, host32(PUBLIC_ADDRESS))
        .await?;
    public_nl.set_up(PUBLIC_END).await?;
    public_nl
        .add_route(&Route::on_link(host32(HOST_ADDRESS), PUBLIC_END))
        .await?;
    public_nl
        .add_route(&Route::default_via(HOST_ADDRESS))
        .await?;
    // The table goes in before the link is up on the caller's side, so nothing passes
    // unfiltered.
    nft.apply(&host, &host_table()).await?;
    host_nl.add_address(HOST_END, host32(HOST_ADDRESS)).await?;
    host_nl.set_up(HOST_END).await?;
    host_nl
        .add_route(&Route::on_link(host32(PUBLIC_ADDRESS), HOST_END))
        .await?;
    let enabled_forwarding = host.sysctl_get("net.ipv4.ip_forward")? != "1";
    if enabled_forwarding {
        host.sysctl_set("net.ipv4.ip_forward", "1")?;
    }
    tracing::info!(
        enabled_forwarding,
        "the simulated internet is masqueraded to this host's network (--uplink host)"
    );
    Ok(Some(HostUplink { enabled_forwarding }))
}

/// Removes the uplink from the caller's namespace, and turns forwarding off again if
/// this process turned it on.
pub(crate) async fn remove(nft: &Nft, public_nl: &Netlink, uplink: HostUplink) -> Result<()> {
    let host = Netns::current()?;
    public_nl.delete_link(PUBLIC_END).await?;
    nft.delete_table(&host, NftFamily::Ip, TABLE).await?;
    if uplink.enabled_forwarding {
        host.sysctl_set("net.ipv4.ip_forward", "0")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print() {
        assert_eq!("none".parse::<Uplink>(), Ok(Uplink::None));
        assert_eq!("host".parse::<Uplink>(), Ok(Uplink::Host));
        assert!("internet".parse::<Uplink>().is_err());
        assert_eq!(Uplink::Host.to_string(), "host");
        assert_eq!(Uplink::default(), Uplink::None);
    }

    #[test]
    fn sealed_adds_no_rules_and_host_never_forwards_link_local() {
        assert_eq!(
            public_rules(Uplink::None, "203.0.113.0/24"),
            (String::new(), String::new())
        );
        let (forward, post) = public_rules(Uplink::Host, "203.0.113.0/24");
        assert!(forward.contains(
            "oifname \"vl-uplink-pub\" ip daddr { 169.254.0.0/16, 127.0.0.0/8, 203.0.113.0/24 } drop"
        ));
        assert!(post.contains("oifname \"vl-uplink-pub\" masquerade"));
        let table = host_table();
        assert!(table.contains("c_input iifname \"vl-uplink\" drop"));
        assert!(table.contains("ip daddr { 169.254.0.0/16, 127.0.0.0/8 } drop"));
    }
}
