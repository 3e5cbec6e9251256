//! IPv4 CIDR arithmetic for VPCs and subnets: parsing in EC2's strict form, containment,
//! overlap, and AWS's five reserved addresses per subnet.

use std::fmt;
use std::net::Ipv4Addr;

/// AWS reserves the network address, the next three (router, DNS, future use) and the
/// broadcast address of every subnet.
pub const RESERVED_PER_SUBNET: u64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: u32,
    prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`. The address must be the network address itself (EC2 refuses
    /// `10.0.0.1/16`).
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = s.split_once('/')?;
        if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let prefix: u8 = prefix.parse().ok()?;
        if prefix > 32 {
            return None;
        }
        let addr = parse_ipv4(addr)?;
        let cidr = Cidr {
            network: u32::from(addr),
            prefix,
        };
        (cidr.network & cidr.mask() == cidr.network).then_some(cidr)
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network)
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    /// Number of addresses in the block.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network | !self.mask())
    }

    pub fn contains_addr(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == self.network
    }

    /// Whether `other` lies entirely inside this block.
    pub fn contains(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && self.contains_addr(other.network())
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// Whether AWS keeps `ip` for itself in a subnet with this block.
    pub fn is_reserved(&self, ip: Ipv4Addr) -> bool {
        let offset = u64::from(u32::from(ip).wrapping_sub(self.network));
        offset < 4 || ip == self.broadcast()
    }

    /// Addresses a subnet of this block can hand out.
    pub fn usable(&self) -> u64 {
        self.size().saturating_sub(RESERVED_PER_SUBNET)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

/// A dotted quad without the leading zeros `Ipv4Addr`'s parser also refuses.
pub fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    s.parse().ok()
}

/// Whether `s` is an IPv6 CIDR block (rules may name them; VPCs here are IPv4-only).
pub fn is_ipv6_cidr(s: &str) -> bool {
    let Some((addr, prefix)) = s.split_once('/') else {
        return false;
    };
    addr.parse::<std::net::Ipv6Addr>().is_ok() && prefix.parse::<u8>().is_ok_and(|p| p <= 128)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        Cidr::parse(s).unwrap()
    }

    #[test]
    fn parses_strictly() {
        assert_eq!(c("10.0.0.0/16").to_string(), "10.0.0.0/16");
        assert_eq!(c("0.0.0.0/0").size(), 1 << 32);
        for bad in [
            "10.0.0.1/16",
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0/16",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "x/8",
            "256.0.0.0/8",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn containment_and_overlap() {
        let vpc = c("10.0.0.0/16");
        assert!(vpc.contains(&c("10.0.1.0/24")));
        assert!(vpc.contains(&vpc));
        assert!(!vpc.contains(&c("10.1.0.0/24")));
        assert!(!c("10.0.1.0/24").contains(&vpc));
        assert!(c("10.0.0.0/24").overlaps(&c("10.0.0.128/25")));
        assert!(c("10.0.0.128/25").overlaps(&c("10.0.0.0/24")));
        assert!(!c("10.0.0.0/25").overlaps(&c("10.0.0.128/25")));
    }

    #[test]
    fn reserved_addresses_and_counts() {
        let s = c("10.0.0.0/28");
        assert_eq!(s.usable(), 11);
        assert_eq!(c("10.0.0.0/24").usable(), 251);
        for last in [0, 1, 2, 3, 15] {
            assert!(s.is_reserved(Ipv4Addr::new(10, 0, 0, last)), "{last}");
        }
        for free in 4..15 {
            assert!(!s.is_reserved(Ipv4Addr::new(10, 0, 0, free)), "{free}");
        }
        assert_eq!(s.broadcast(), Ipv4Addr::new(10, 0, 0, 15));
    }

    #[test]
    fn ipv6_cidrs() {
        assert!(is_ipv6_cidr("::/0"));
        assert!(is_ipv6_cidr("2001:db8::/32"));
        assert!(!is_ipv6_cidr("10.0.0.0/8"));
        assert!(!is_ipv6_cidr("::/129"));
    }
}
