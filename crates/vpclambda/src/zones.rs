//! Simulated Availability Zone outages (`vpclambda az impair|restore`, over the admin
//! socket): environments in an impaired zone are drained (idle ones stopped at once, busy
//! ones after their invocation), new environments of VPC functions are placed only in
//! healthy zones, and a function whose subnets are all in impaired zones cannot scale. Operator state, kept in
//! memory: a restarted daemon starts with every zone healthy.

use std::collections::BTreeSet;
use std::sync::RwLock;

#[derive(Debug, Default)]
pub struct ZoneHealth {
    impaired: RwLock<BTreeSet<String>>,
}

impl ZoneHealth {
    /// Marks `zone` impaired; whether it was healthy before.
    pub fn impair(&self, zone: &str) -> bool {
        self.impaired
            .write()
            .map(|mut z| z.insert(zone.to_string()))
            .unwrap_or(false)
    }

    /// Marks `zone` healthy again; whether it was impaired.
    pub fn restore(&self, zone: &str) -> bool {
        self.impaired
            .write()
            .map(|mut z| z.remove(zone))
            .unwrap_or(false)
    }

    /// The impaired zones, sorted.
    pub fn impaired(&self) -> Vec<String> {
        self.impaired
            .read()
            .map(|z| z.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impair_and_restore() {
        let z = ZoneHealth::default();
        assert!(z.impair("us-east-1a"));
        assert!(!z.impair("us-east-1a"));
        assert_eq!(z.impaired(), vec!["us-east-1a"]);
        assert!(z.restore("us-east-1a"));
        assert!(!z.restore("us-east-1a"));
        assert!(z.impaired().is_empty());
    }
}
