//! Regions and availability zones as EC2 reports them. Every region has three zones,
//! `<region>a/b/c`, with AWS-style zone ids (`use1-az1`) built from the region's short code.
//! Lambda's placement and the ENI code use the same data.

use crate::regions::REGIONS;

/// Zones per region.
pub const ZONES_PER_REGION: usize = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub id: String,
    pub region: String,
}

/// AWS's short region code used in zone ids: `us-east-1` → `use1`, `ap-southeast-2` → `apse2`.
pub fn region_code(region: &str) -> String {
    let mut parts = region.split('-');
    let (Some(area), Some(direction), Some(number)) = (parts.next(), parts.next(), parts.next())
    else {
        return region.replace('-', "");
    };
    let dir = match direction {
        "east" => "e",
        "west" => "w",
        "north" => "n",
        "south" => "s",
        "central" => "c",
        "northeast" => "ne",
        "northwest" => "nw",
        "southeast" => "se",
        "southwest" => "sw",
        other => other,
    };
    format!("{area}{dir}{number}")
}

/// The zones of `region`, in name order.
pub fn zones(region: &str) -> Vec<Zone> {
    let code = region_code(region);
    ['a', 'b', 'c']
        .iter()
        .take(ZONES_PER_REGION)
        .enumerate()
        .map(|(i, letter)| Zone {
            name: format!("{region}{letter}"),
            id: format!("{code}-az{}", i + 1),
            region: region.to_string(),
        })
        .collect()
}

/// The zone a name (`us-east-1a`) or zone id (`use1-az1`) denotes in `region`.
pub fn resolve(region: &str, name_or_id: &str) -> Option<Zone> {
    zones(region)
        .into_iter()
        .find(|z| z.name == name_or_id || z.id == name_or_id)
}

/// Every region the daemon serves.
pub fn regions() -> &'static [&'static str] {
    REGIONS
}

/// The EC2 endpoint host AWS lists for a region.
pub fn endpoint(region: &str) -> String {
    format!("ec2.{region}.amazonaws.com")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes_match_aws() {
        for (region, code) in [
            ("us-east-1", "use1"),
            ("us-west-2", "usw2"),
            ("eu-west-1", "euw1"),
            ("eu-central-1", "euc1"),
            ("ap-southeast-2", "apse2"),
            ("ap-northeast-1", "apne1"),
            ("ca-central-1", "cac1"),
            ("sa-east-1", "sae1"),
            ("me-south-1", "mes1"),
        ] {
            assert_eq!(region_code(region), code, "{region}");
        }
    }

    #[test]
    fn three_zones_per_region_with_ids() {
        let z = zones("eu-west-1");
        assert_eq!(z.len(), 3);
        assert_eq!(z[0].name, "eu-west-1a");
        assert_eq!(z[2].id, "euw1-az3");
        assert_eq!(resolve("us-east-1", "use1-az2").unwrap().name, "us-east-1b");
        assert_eq!(resolve("us-east-1", "us-east-1c").unwrap().id, "use1-az3");
        assert_eq!(resolve("us-east-1", "us-west-2a"), None);
        assert!(regions().iter().all(|r| zones(r).len() == 3));
    }
}
