//! AWS region names the daemon serves. Every commercial region is accepted, so scripts
//! written for any of them run unchanged.

/// Commercial AWS regions.
pub const REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

pub fn is_known(region: &str) -> bool {
    REGIONS.contains(&region)
}

#[cfg(test)]
mod tests {
    #[test]
    fn knows_common_regions_only() {
        assert!(super::is_known("us-east-1"));
        assert!(super::is_known("eu-west-1"));
        assert!(!super::is_known("moon-1"));
        assert!(!super::is_known(""));
    }
}
