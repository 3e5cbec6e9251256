//! How Lambda sizes and places ENIs, as the seed describes it: the capacity formula
//! (peak concurrency × memory / 3 GB), spreading across subnets and Availability Zones,
//! the addresses that takes, EC2's rate limit on ENI creation, and the capacity plan an
//! operator can ask for. Pure decisions over plain inputs: creating the ENIs is the EC2
//! domain's job and making them real is the dataplane's.

pub mod hyperplane;
pub mod plan;
pub mod rate;

use serde::{Deserialize, Serialize};

/// Store kind of a legacy (per-function) ENI record, id = the ENI id; the same shape as a
/// hyperplane one ([`hyperplane::SharedEni`]) so one reclaimer serves both.
pub const LEGACY_ENI: &str = "eni.legacy";

/// How much concurrently running environment memory one legacy ENI carries (3 GB).
pub const ENI_CAPACITY_MB: u32 = 3 * 1024;

/// Which of AWS's two ENI models the daemon follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EniMode {
    /// The seed's model (2016–2019): ENIs belong to a function and are created as it
    /// scales out, each carrying up to 3 GB of environments.
    Legacy,
    /// AWS since 2019: one ENI per (subnet, security-group set), shared, made at
    /// create/update time.
    Hyperplane,
}

impl std::str::FromStr for EniMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "legacy" => Ok(EniMode::Legacy),
            "hyperplane" => Ok(EniMode::Hyperplane),
            other => Err(format!(
                "unknown ENI mode '{other}': use legacy or hyperplane"
            )),
        }
    }
}

/// Environments of `memory_mb` that share one legacy ENI (at least one: a function
/// larger than 3 GB still needs an ENI per environment).
pub fn environments_per_eni(memory_mb: u32) -> u32 {
    (ENI_CAPACITY_MB / memory_mb.max(1)).max(1)
}

/// ENIs a legacy function needs at `concurrency`: ⌈concurrency / environments per ENI⌉,
/// which is the seed's "projected peak concurrent executions × (memory in GB / 3 GB)"
/// rounded up to whole environments per ENI.
pub fn enis_needed(concurrency: u32, memory_mb: u32) -> u32 {
    concurrency.div_ceil(environments_per_eni(memory_mb))
}

/// The key of a hyperplane ENI: the subnet and the sorted, de-duplicated security groups.
pub fn hyperplane_key(subnet_id: &str, security_groups: &[String]) -> String {
    let mut groups: Vec<&str> = security_groups.iter().map(String::as_str).collect();
    groups.sort_unstable();
    groups.dedup();
    format!("{subnet_id}|{}", groups.join(","))
}

/// One subnet a function may place an ENI in, as placement sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub subnet_id: String,
    pub availability_zone: String,
    pub free_addresses: u32,
    /// ENIs of this function already in this subnet's AZ.
    pub function_enis_in_az: u32,
}

/// Why no subnet can take a new ENI.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("every configured subnet is out of free IP addresses")]
    SubnetsFull,
    #[error("every configured subnet is in an impaired Availability Zone")]
    AllZonesImpaired,
}

/// Picks the subnet for a new ENI: skip impaired AZs and full subnets; prefer the AZ
/// where the function has the fewest ENIs (spreading, as the seed recommends), then the
/// subnet with the most free addresses, then the lowest subnet id (deterministic).
pub fn place<'a>(
    candidates: &'a [Candidate],
    impaired_zones: &[String],
) -> Result<&'a Candidate, PlacementError> {
    let healthy: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| !impaired_zones.contains(&c.availability_zone))
        .collect();
    if healthy.is_empty() && !candidates.is_empty() {
        return Err(PlacementError::AllZonesImpaired);
    }
    healthy
        .into_iter()
        .filter(|c| c.free_addresses > 0)
        .min_by(|a, b| {
            a.function_enis_in_az
                .cmp(&b.function_enis_in_az)
                .then(b.free_addresses.cmp(&a.free_addresses))
                .then(a.subnet_id.cmp(&b.subnet_id))
        })
        .ok_or(PlacementError::SubnetsFull)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_formula() {
        assert_eq!(environments_per_eni(1024), 3);
        assert_eq!(
            enis_needed(9, 1024),
            3,
            "1024 MB: three environments per ENI"
        );
        assert_eq!(enis_needed(9, 3008), 9, "3008 MB: one environment per ENI");
        assert_eq!(enis_needed(9, 10240), 9, "over 3 GB still one ENI each");
        assert_eq!(enis_needed(10, 1536), 5);
        assert_eq!(enis_needed(1, 128), 1);
        assert_eq!(enis_needed(0, 1024), 0);
        assert_eq!(enis_needed(24, 128), 1);
        assert_eq!(enis_needed(25, 128), 2);
    }

    #[test]
    fn hyperplane_keys_ignore_group_order_and_duplicates() {
        let a = hyperplane_key("subnet-1", &["sg-b".into(), "sg-a".into()]);
        let b = hyperplane_key("subnet-1", &["sg-a".into(), "sg-b".into(), "sg-a".into()]);
        assert_eq!(a, b);
        assert_ne!(
            a,
            hyperplane_key("subnet-2", &["sg-a".into(), "sg-b".into()])
        );
    }

    fn cand(id: &str, az: &str, free: u32, enis: u32) -> Candidate {
        Candidate {
            subnet_id: id.into(),
            availability_zone: az.into(),
            free_addresses: free,
            function_enis_in_az: enis,
        }
    }

    #[test]
    fn placement_spreads_by_zone_then_free_addresses() {
        let c = [
            cand("subnet-a", "us-east-1a", 100, 2),
            cand("subnet-b", "us-east-1b", 5, 1),
        ];
        assert_eq!(place(&c, &[]).unwrap().subnet_id, "subnet-b");
        let c = [
            cand("subnet-a", "us-east-1a", 100, 1),
            cand("subnet-b", "us-east-1b", 5, 1),
        ];
        assert_eq!(place(&c, &[]).unwrap().subnet_id, "subnet-a");
    }

    #[test]
    fn placement_skips_full_subnets_and_impaired_zones() {
        let c = [
            cand("subnet-a", "us-east-1a", 0, 0),
            cand("subnet-b", "us-east-1b", 3, 4),
        ];
        assert_eq!(place(&c, &[]).unwrap().subnet_id, "subnet-b");
        assert_eq!(
            place(&c, &["us-east-1b".into()]),
            Err(PlacementError::SubnetsFull)
        );
        let only_a = [cand("subnet-a", "us-east-1a", 10, 0)];
        assert_eq!(
            place(&only_a, &["us-east-1a".into()]),
            Err(PlacementError::AllZonesImpaired)
        );
        assert_eq!(place(&[], &[]), Err(PlacementError::SubnetsFull));
    }
}
