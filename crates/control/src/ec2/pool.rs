//! A subnet's address pool: which usable addresses are handed out, kept as what is *free*
//! below a high-water mark, so its size grows with the holes that releases leave, not with
//! the addresses handed out. Taking the lowest free address, a given one, or giving one
//! back is O(log holes); the record a subnet stores stays a few bytes while its addresses
//! are handed out from the bottom up, as lowest-free allocation does.
//!
//! Addresses are offsets from the subnet's first usable address (base + 4), so a pool
//! means nothing without its block: every call takes the [`Cidr`].

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::cidr::Cidr;

/// The addresses handed out in a subnet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPool {
    /// Offsets from `top` up are free.
    top: u32,
    /// Free offsets below `top`, first → last (inclusive): disjoint, not adjacent to each
    /// other, and the last one ends below `top - 1` (an address at `top - 1` is taken).
    holes: BTreeMap<u32, u32>,
}

/// Why an address cannot be taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Outside the block, or one AWS reserves.
    Unusable,
    InUse,
}

impl AddressPool {
    /// How many addresses are handed out.
    pub fn taken(&self) -> u64 {
        let free: u64 = self
            .holes
            .iter()
            .map(|(first, last)| u64::from(last - first) + 1)
            .sum();
        u64::from(self.top) - free
    }

    /// Whether `ip` is handed out.
    pub fn is_taken(&self, cidr: &Cidr, ip: Ipv4Addr) -> bool {
        offset(cidr, ip).is_some_and(|at| self.is_taken_at(at))
    }

    fn is_taken_at(&self, at: u32) -> bool {
        at < self.top
            && self
                .holes
                .range(..=at)
                .next_back()
                .is_none_or(|(_, last)| at > *last)
    }

    /// Takes the lowest free address, if any is left.
    pub fn take_lowest(&mut self, cidr: &Cidr) -> Option<Ipv4Addr> {
        let at = match self.holes.pop_first() {
            Some((first, last)) => {
                if first < last {
                    self.holes.insert(first + 1, last);
                }
                first
            }
            None if u64::from(self.top) < cidr.usable() => {
                self.top += 1;
                self.top - 1
            }
            None => return None,
        };
        Some(address(cidr, at))
    }

    /// Takes `ip`.
    pub fn take(&mut self, cidr: &Cidr, ip: Ipv4Addr) -> Result<(), Refused> {
        let at = offset(cidr, ip).ok_or(Refused::Unusable)?;
        if at >= self.top {
            if at > self.top {
                self.holes.insert(self.top, at - 1);
            }
            self.top = at + 1;
            return Ok(());
        }
        let (first, last) = self
            .holes
            .range(..=at)
            .next_back()
            .map(|(f, l)| (*f, *l))
            .filter(|(_, last)| at <= *last)
            .ok_or(Refused::InUse)?;
        self.holes.remove(&first);
        if first < at {
            self.holes.insert(first, at - 1);
        }
        if at < last {
            self.holes.insert(at + 1, last);
        }
        Ok(())
    }

    /// Gives `ip` back; giving back a free or unusable address changes nothing.
    pub fn release(&mut self, cidr: &Cidr, ip: Ipv4Addr) {
        let Some(at) = offset(cidr, ip).filter(|at| self.is_taken_at(*at)) else {
            return;
        };
        if at + 1 == self.top {
            self.top = at;
            // The hole just below, if any, now reaches the top: it joins the free top.
            if let Some((&first, &last)) = self.holes.last_key_value() {
                if last + 1 == self.top {
                    self.holes.remove(&first);
                    self.top = first;
                }
            }
            return;
        }
        let mut first = at;
        let mut last = at;
        if let Some((&before, &end)) = self.holes.range(..at).next_back() {
            if end + 1 == at {
                self.holes.remove(&before);
                first = before;
            }
        }
        if let Some(end) = self.holes.remove(&(at + 1)) {
            last = end;
        }
        self.holes.insert(first, last);
    }
}

/// The offset of a usable address of `cidr`.
fn offset(cidr: &Cidr, ip: Ipv4Addr) -> Option<u32> {
    if !cidr.contains_addr(ip) || cidr.is_reserved(ip) {
        return None;
    }
    Some(u32::from(ip) - u32::from(cidr.network()) - 4)
}

fn address(cidr: &Cidr, at: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(cidr.network()) + 4 + at)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, last)
    }

    /// The pool against a plain set of taken addresses, over a sequence of takes and
    /// releases that fragments it: same lowest free address, same count, same answers.
    #[test]
    fn behaves_as_a_set_of_taken_addresses() {
        let cidr = Cidr::parse("10.0.0.0/26").unwrap();
        let usable: Vec<Ipv4Addr> = (4..63).map(ip).collect();
        let mut pool = AddressPool::default();
        let mut set = BTreeSet::new();
        // A deterministic mix: lowest takes, given takes, releases scattered over the block.
        let mut seed = 7u32;
        for step in 0..2_000 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let pick = usable[(seed >> 8) as usize % usable.len()];
            match (seed >> 4) % 3 {
                0 => {
                    let want = usable.iter().find(|a| !set.contains(*a)).copied();
                    assert_eq!(pool.take_lowest(&cidr), want, "step {step}");
                    set.extend(want);
                }
                1 => {
                    let got = pool.take(&cidr, pick);
                    if set.insert(pick) {
                        assert_eq!(got, Ok(()), "step {step}");
                    } else {
                        assert_eq!(got, Err(Refused::InUse), "step {step}");
                    }
                }
                _ => {
                    pool.release(&cidr, pick);
                    set.remove(&pick);
                }
            }
            assert_eq!(pool.taken(), set.len() as u64, "step {step}");
            for a in &usable {
                assert_eq!(pool.is_taken(&cidr, *a), set.contains(a), "step {step} {a}");
            }
        }
    }

    #[test]
    fn reserved_and_outside_addresses_are_refused() {
        let cidr = Cidr::parse("10.0.0.0/28").unwrap();
        let mut pool = AddressPool::default();
        for bad in [ip(0), ip(3), ip(15), Ipv4Addr::new(10, 0, 1, 5)] {
            assert_eq!(pool.take(&cidr, bad), Err(Refused::Unusable));
        }
        for n in 4..15 {
            assert_eq!(pool.take_lowest(&cidr), Some(ip(n)));
        }
        assert_eq!(pool.take_lowest(&cidr), None);
        assert_eq!(pool.taken(), 11);
    }

    /// Handed out from the bottom up and given back from the top down, the pool holds no
    /// hole at all: what it stores does not grow with the addresses handed out.
    #[test]
    fn stays_small_while_handed_out_lowest_first() {
        let cidr = Cidr::parse("10.0.0.0/16").unwrap();
        let mut pool = AddressPool::default();
        let taken: Vec<Ipv4Addr> = (0..1_000)
            .map(|_| pool.take_lowest(&cidr).unwrap())
            .collect();
        assert!(pool.holes.is_empty());
        pool.release(&cidr, taken[10]);
        assert_eq!(pool.holes.len(), 1);
        assert_eq!(pool.take_lowest(&cidr), Some(taken[10]));
        for a in taken.iter().rev() {
            pool.release(&cidr, *a);
        }
        assert_eq!(pool, AddressPool::default());
    }
}
