//! `Ipv4Cidr`, an IPv4 address with a prefix length, as used for interface addresses, route
//! destinations and rule selectors. Only parsing and masking: allocation and subnet math for
//! VPCs belong to the control plane, not here.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::{Error, Result};

/// An IPv4 address and prefix length, e.g. `10.0.1.4/28`. Host bits are kept (an interface
/// address needs them); [`Ipv4Cidr::network`] masks them off for routes and rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Cidr {
    /// `0.0.0.0/0`, the destination of a default route and the selector `from all`.
    pub const ANY: Ipv4Cidr = Ipv4Cidr {
        addr: Ipv4Addr::UNSPECIFIED,
        prefix: 0,
    };

    /// Builds a CIDR; fails when `prefix` exceeds 32.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self> {
        if prefix > 32 {
            return Err(Error::InvalidCidr(format!("{addr}/{prefix}")));
        }
        Ok(Ipv4Cidr { addr, prefix })
    }

    /// The address as given, host bits included.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The same prefix with host bits cleared (`10.0.1.4/28` → `10.0.1.0/28`).
    pub fn network(&self) -> Ipv4Cidr {
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        };
        Ipv4Cidr {
            addr: Ipv4Addr::from(u32::from(self.addr) & mask),
            prefix: self.prefix,
        }
    }
}

impl FromStr for Ipv4Cidr {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidCidr(s.to_owned());
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        Ipv4Cidr::new(addr, prefix).map_err(|_| bad())
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        let c: Ipv4Cidr = "10.0.1.4/28".parse().unwrap();
        assert_eq!(c.addr(), Ipv4Addr::new(10, 0, 1, 4));
        assert_eq!(c.prefix(), 28);
        assert_eq!(c.to_string(), "10.0.1.4/28");
        assert_eq!(c.network().to_string(), "10.0.1.0/28");
        assert_eq!("0.0.0.0/0".parse::<Ipv4Cidr>().unwrap(), Ipv4Cidr::ANY);
        assert_eq!(
            "203.0.113.7/32"
                .parse::<Ipv4Cidr>()
                .unwrap()
                .network()
                .to_string(),
            "203.0.113.7/32"
        );
        assert_eq!(
            "10.255.255.255/0".parse::<Ipv4Cidr>().unwrap().network(),
            Ipv4Cidr::ANY
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "10.0.0.1",
            "10.0.0.1/",
            "10.0.0.1/33",
            "10.0.0/8",
            "a/8",
            "1.2.3.4/+8",
            "1.2.3.4/08x",
        ] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad:?}");
        }
        assert!(Ipv4Cidr::new(Ipv4Addr::LOCALHOST, 33).is_err());
    }
}
