//! The capacity plan behind `vpclambda eni-plan`: how many ENIs and addresses a function
//! needs at a peak concurrency in the current ENI model, what its subnets have free per
//! subnet and Availability Zone, and plain warnings — the seed's scaling guidance as a
//! report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{enis_needed, environments_per_eni, EniMode};

/// A subnet of the function, with what the plan needs to know about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetState {
    pub subnet_id: String,
    pub availability_zone: String,
    pub free_addresses: u32,
    /// Other functions configured with this subnet.
    pub shared_with: Vec<String>,
}

/// What the plan is asked.
#[derive(Clone, Debug)]
pub struct PlanInput {
    pub mode: EniMode,
    pub memory_mb: u32,
    pub peak_concurrency: u32,
    pub subnets: Vec<SubnetState>,
    pub security_group_count: usize,
    pub account_eni_quota: u32,
    pub account_enis_in_use: u32,
    /// ENIs the function already owns (they need no new address).
    pub function_enis: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneFree {
    pub availability_zone: String,
    pub subnets: Vec<String>,
    pub free_addresses: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub mode: EniMode,
    pub environments_per_eni: Option<u32>,
    pub enis_needed: u32,
    pub new_addresses_needed: u32,
    pub free_addresses: u32,
    pub zones: Vec<ZoneFree>,
    pub warnings: Vec<String>,
}

pub fn plan(input: &PlanInput) -> Plan {
    let (per_eni, needed) = match input.mode {
        EniMode::Legacy => (
            Some(environments_per_eni(input.memory_mb)),
            enis_needed(input.peak_concurrency, input.memory_mb),
        ),
        // One shared ENI per subnet for this security-group set, whatever the concurrency.
        EniMode::Hyperplane => (None, input.subnets.len() as u32),
    };
    let new_addresses = needed.saturating_sub(input.function_enis);
    let mut by_zone: BTreeMap<&str, ZoneFree> = BTreeMap::new();
    for s in &input.subnets {
        let z = by_zone
            .entry(&s.availability_zone)
            .or_insert_with(|| ZoneFree {
                availability_zone: s.availability_zone.clone(),
                subnets: Vec::new(),
                free_addresses: 0,
            });
        z.subnets.push(s.subnet_id.clone());
        z.free_addresses += s.free_addresses;
    }
    let free: u32 = input.subnets.iter().map(|s| s.free_addresses).sum();
    let mut warnings = Vec::new();
    if input.subnets.is_empty() {
        warnings.push("The function has no VPC configuration: it needs no ENIs.".into());
    }
    if new_addresses > free {
        warnings.push(format!(
            "Too few free addresses: {new_addresses} more ENIs need addresses but the subnets have {free}; \
             invocations beyond that fail with SubnetIPAddressLimitReachedException. Add subnets or use larger ones."
        ));
    }
    if by_zone.len() == 1 {
        warnings.push(
            "All subnets are in one Availability Zone: if it goes down or runs out of addresses, \
             the function cannot scale. Specify at least one subnet in each Availability Zone."
                .into(),
        );
    }
    for s in &input.subnets {
        if !s.shared_with.is_empty() {
            warnings.push(format!(
                "Subnet {} is shared with {}: their ENIs compete for its {} free addresses.",
                s.subnet_id,
                s.shared_with.join(", "),
                s.free_addresses
            ));
        }
    }
    let quota_left = input
        .account_eni_quota
        .saturating_sub(input.account_enis_in_use);
    if new_addresses > quota_left {
        warnings.push(format!(
            "The account's ENI quota ({}) leaves room for {quota_left} more ENIs, fewer than the {new_addresses} needed; \
             scale-out beyond it fails with ENILimitReachedException.",
            input.account_eni_quota
        ));
    }
    if input.mode == EniMode::Legacy && input.security_group_count == 0 && !input.subnets.is_empty()
    {
        warnings.push("The function has subnets but no security groups.".into());
    }
    Plan {
        mode: input.mode,
        environments_per_eni: per_eni,
        enis_needed: needed,
        new_addresses_needed: new_addresses,
        free_addresses: free,
        zones: by_zone.into_values().collect(),
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(id: &str, az: &str, free: u32) -> SubnetState {
        SubnetState {
            subnet_id: id.into(),
            availability_zone: az.into(),
            free_addresses: free,
            shared_with: Vec::new(),
        }
    }

    fn input(mode: EniMode, memory_mb: u32, peak: u32, subnets: Vec<SubnetState>) -> PlanInput {
        PlanInput {
            mode,
            memory_mb,
            peak_concurrency: peak,
            subnets,
            security_group_count: 1,
            account_eni_quota: 250,
            account_enis_in_use: 0,
            function_enis: 0,
        }
    }

    #[test]
    fn legacy_plan_follows_the_formula_and_warns_about_addresses() {
        let p = plan(&input(
            EniMode::Legacy,
            3008,
            20,
            vec![subnet("subnet-a", "us-east-1a", 11)],
        ));
        assert_eq!(p.enis_needed, 20);
        assert_eq!(p.free_addresses, 11);
        assert!(p
            .warnings
            .iter()
            .any(|w| w.contains("Too few free addresses")));
        assert!(p
            .warnings
            .iter()
            .any(|w| w.contains("one Availability Zone")));
    }

    #[test]
    fn two_zones_with_room_have_no_warnings() {
        let p = plan(&input(
            EniMode::Legacy,
            1024,
            9,
            vec![
                subnet("subnet-a", "us-east-1a", 11),
                subnet("subnet-b", "us-east-1b", 11),
            ],
        ));
        assert_eq!(p.enis_needed, 3);
        assert_eq!(p.zones.len(), 2);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn hyperplane_needs_one_eni_per_subnet_and_quota_is_checked() {
        let mut i = input(
            EniMode::Hyperplane,
            1024,
            1000,
            vec![
                subnet("subnet-a", "us-east-1a", 11),
                subnet("subnet-b", "us-east-1b", 11),
            ],
        );
        assert_eq!(plan(&i).enis_needed, 2);
        i.account_enis_in_use = 249;
        assert!(plan(&i)
            .warnings
            .iter()
            .any(|w| w.contains("ENILimitReachedException")));
    }
}
