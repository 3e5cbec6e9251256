//! Member constraints of the Lambda operations, in Lambda's words: range, length and pattern
//! violations are collected and reported together (`ValidationException`), while values
//! Lambda refuses on its own terms (unknown runtime, oversized environment, reserved keys)
//! are `InvalidParameterValueException`s. Pure functions of the request; no store access.

use std::collections::BTreeMap;

use super::error::LambdaError;

pub const DEFAULT_TIMEOUT: u32 = 3;
pub const MAX_TIMEOUT: i64 = 900;
pub const DEFAULT_MEMORY: u32 = 128;
pub const MIN_MEMORY: i64 = 128;
pub const MAX_MEMORY: i64 = 10240;
pub const DEFAULT_EPHEMERAL: u32 = 512;
pub const MIN_EPHEMERAL: i64 = 512;
pub const MAX_EPHEMERAL: i64 = 10240;
pub const DEFAULT_ARCHITECTURE: &str = "x86_64";
/// Bytes of the environment map serialised as compact JSON.
pub const MAX_ENVIRONMENT_BYTES: usize = 4096;
pub const MAX_SUBNETS: usize = 16;
pub const MAX_SECURITY_GROUPS: usize = 5;

/// Runtimes a function may be created with or updated to. `go1.x` and `provided` are kept
/// although AWS retired them, because the spec's own example uses `go1.x`.
pub const RUNTIMES: &[&str] = &[
    "provided.al2023",
    "provided.al2",
    "provided",
    "go1.x",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "dotnet6",
    "dotnet8",
    "dotnet10",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "ruby4.0",
];

/// Runtimes in Lambda's enum that it no longer lets functions be created or updated with,
/// and what it recommends instead.
const RETIRED_RUNTIMES: &[(&str, &str)] = &[
    ("nodejs", "nodejs22.x"),
    ("nodejs4.3", "nodejs22.x"),
    ("nodejs4.3-edge", "nodejs22.x"),
    ("nodejs6.10", "nodejs22.x"),
    ("nodejs8.10", "nodejs22.x"),
    ("nodejs10.x", "nodejs22.x"),
    ("nodejs12.x", "nodejs22.x"),
    ("nodejs14.x", "nodejs22.x"),
    ("java8", "java21"),
    ("python2.7", "python3.13"),
    ("python3.6", "python3.13"),
    ("python3.7", "python3.13"),
    ("dotnetcore1.0", "dotnet8"),
    ("dotnetcore2.0", "dotnet8"),
    ("dotnetcore2.1", "dotnet8"),
    ("dotnetcore3.1", "dotnet8"),
    ("ruby2.5", "ruby3.3"),
    ("ruby2.7", "ruby3.3"),
];

/// Variables the platform sets; a function may not override them.
const RESERVED_VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_REGION",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
];

const ROLE_PATTERN: &str = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+";
const ENV_NAME_PATTERN: &str = "[a-zA-Z]([a-zA-Z0-9_])+";

/// Collects member-constraint violations, then fails once with all of them.
#[derive(Default)]
pub(crate) struct Violations(Vec<String>);

impl Violations {
    pub fn push(&mut self, value: impl std::fmt::Display, member: &str, rule: &str) {
        self.0.push(LambdaError::violation(value, member, rule));
    }

    pub fn null(&mut self, member: &str) {
        self.0.push(format!(
            "Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ));
    }

    pub fn finish(self) -> Result<(), LambdaError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(LambdaError::Validation(self.0))
        }
    }

    pub fn role(&mut self, role: &str) {
        if !is_role_arn(role) {
            self.push(
                role,
                "role",
                &format!("Member must satisfy regular expression pattern: {ROLE_PATTERN}"),
            );
        }
    }

    pub fn handler(&mut self, handler: &str) {
        if handler.len() > 128 {
            self.push(
                handler,
                "handler",
                "Member must have length less than or equal to 128",
            );
        } else if handler.is_empty() || handler.chars().any(char::is_whitespace) {
            self.push(
                handler,
                "handler",
                r"Member must satisfy regular expression pattern: [^\s]+",
            );
        }
    }

    pub fn description(&mut self, description: &str, member: &str) {
        if description.chars().count() > 256 {
            self.push(
                description,
                member,
                "Member must have length less than or equal to 256",
            );
        }
    }

    /// An integer member within `[min, max]`; returns it when it fits.
    pub fn range(&mut self, value: i64, member: &str, min: i64, max: Option<i64>) -> Option<u32> {
        if value < min {
            self.push(
                value,
                member,
                &format!("Member must have value greater than or equal to {min}"),
            );
            return None;
        }
        if let Some(max) = max {
            if value > max {
                self.push(
                    value,
                    member,
                    &format!("Member must have value less than or equal to {max}"),
                );
                return None;
            }
        }
        u32::try_from(value).ok()
    }

    /// `Architectures`: exactly one of `x86_64`, `arm64`.
    pub fn architectures(&mut self, list: &[String]) -> Option<String> {
        let shown = format!("[{}]", list.join(", "));
        if list.len() != 1 {
            let rule = if list.is_empty() {
                "Member must have length greater than or equal to 1"
            } else {
                "Member must have length less than or equal to 1"
            };
            self.push(&shown, "architectures", rule);
            return None;
        }
        let arch = &list[0];
        if arch != "x86_64" && arch != "arm64" {
            self.push(
                &shown,
                "architectures",
                "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]",
            );
            return None;
        }
        Some(arch.clone())
    }

    pub fn environment_names(&mut self, vars: &BTreeMap<String, String>) {
        if vars.keys().any(|k| !is_env_name(k)) {
            // The member is sensitive: AWS leaves its value out of the message.
            self.0.push(format!(
                "Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: {ENV_NAME_PATTERN}]"
            ));
        }
    }

    /// `vpcConfig.subnetIds` / `vpcConfig.securityGroupIds`: counts and id patterns.
    pub fn vpc_lists(&mut self, subnets: &[String], groups: &[String]) {
        let shown = |l: &[String]| format!("[{}]", l.join(", "));
        if subnets.len() > MAX_SUBNETS {
            self.push(
                shown(subnets),
                "vpcConfig.subnetIds",
                &format!("Member must have length less than or equal to {MAX_SUBNETS}"),
            );
        } else if !subnets.iter().all(|s| is_resource_id(s, "subnet-", false)) {
            self.push(
                shown(subnets),
                "vpcConfig.subnetIds",
                "Member must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: ^subnet-[0-9a-z]*$]",
            );
        }
        if groups.len() > MAX_SECURITY_GROUPS {
            self.push(
                shown(groups),
                "vpcConfig.securityGroupIds",
                &format!("Member must have length less than or equal to {MAX_SECURITY_GROUPS}"),
            );
        } else if !groups.iter().all(|g| is_resource_id(g, "sg-", true)) {
            self.push(
                shown(groups),
                "vpcConfig.securityGroupIds",
                "Member must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: ^sg-[0-9a-zA-Z]*$]",
            );
        }
    }
}

/// A runtime a function may use now.
pub(crate) fn runtime(runtime: &str) -> Result<(), LambdaError> {
    if RUNTIMES.contains(&runtime) {
        return Ok(());
    }
    if let Some((_, instead)) = RETIRED_RUNTIMES.iter().find(|(r, _)| *r == runtime) {
        return Err(LambdaError::invalid(format!(
            "The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda functions. We recommend you use the new runtime ({instead}) while creating or updating functions."
        )));
    }
    Err(LambdaError::invalid(format!(
        "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}] or be a valid ARN",
        RUNTIMES.join(", ")
    )))
}

/// Reserved keys and the 4 KB limit, checked once the names have the right shape.
pub(crate) fn environment(vars: &BTreeMap<String, String>) -> Result<(), LambdaError> {
    let reserved: Vec<&str> = vars
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_VARIABLES.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(LambdaError::invalid(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    let measured = serde_json::to_string(vars).unwrap_or_default();
    if measured.len() > MAX_ENVIRONMENT_BYTES {
        return Err(LambdaError::invalid(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(())
}

/// `PackageType`: only `Zip` packages can run here.
pub(crate) fn package_type(package_type: &str, v: &mut Violations) -> Result<(), LambdaError> {
    match package_type {
        "Zip" => Ok(()),
        "Image" => Err(LambdaError::invalid(
            "PackageType Image is not supported: this Lambda runs .zip file archives only. Use PackageType Zip with Code.ZipFile.",
        )),
        other => {
            v.push(
                other,
                "packageType",
                "Member must satisfy enum value set: [Image, Zip]",
            );
            Ok(())
        }
    }
}

fn is_role_arn(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(':') else {
        return false;
    };
    let partition_ok = partition.is_empty()
        || (partition.starts_with("aws")
            && partition
                .chars()
                .all(|c| c.is_ascii_alphabetic() || c == '-'));
    let Some(rest) = rest.strip_prefix("iam::") else {
        return false;
    };
    let Some((account, rest)) = rest.split_once(':') else {
        return false;
    };
    let Some(path) = rest.strip_prefix("role") else {
        return false;
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    partition_ok
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-/".contains(c))
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_resource_id(s: &str, prefix: &str, upper_ok: bool) -> bool {
    s.len() <= 1024
        && s.strip_prefix(prefix).is_some_and(|rest| {
            rest.chars().all(|c| {
                c.is_ascii_digit() || c.is_ascii_lowercase() || (upper_ok && c.is_ascii_uppercase())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/lambda-role"));
        assert!(is_role_arn("arn:aws:iam::123456789012:role/service-role/x"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/x"));
        assert!(!is_role_arn("arn:aws:iam::1234:role/x"));
        assert!(!is_role_arn("role/x"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:role/"));
    }

    #[test]
    fn memory_out_of_range_reads_like_aws() {
        let mut v = Violations::default();
        assert_eq!(
            v.range(99999, "memorySize", MIN_MEMORY, Some(MAX_MEMORY)),
            None
        );
        assert_eq!(
            v.finish().unwrap_err().to_string(),
            "1 validation error detected: Value '99999' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to 10240"
        );
    }

    #[test]
    fn runtimes() {
        assert!(runtime("go1.x").is_ok());
        assert!(runtime("provided.al2023").is_ok());
        let e = runtime("cobol").unwrap_err().to_string();
        assert!(e.starts_with("Value cobol at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [provided.al2023, "), "{e}");
        let e = runtime("python2.7").unwrap_err().to_string();
        assert!(
            e.starts_with("The runtime parameter of python2.7 is no longer supported"),
            "{e}"
        );
    }

    #[test]
    fn environment_limits() {
        let mut vars = BTreeMap::new();
        vars.insert("K".repeat(10), "v".repeat(4100));
        let e = environment(&vars).unwrap_err().to_string();
        assert!(e.starts_with("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {\"KKKKKKKKKK\":\"vvv"), "{e}");
        let mut vars = BTreeMap::new();
        vars.insert("AWS_REGION".to_string(), "x".to_string());
        assert!(environment(&vars)
            .unwrap_err()
            .to_string()
            .ends_with("Reserved keys used in this request: AWS_REGION"));
        let mut v = Violations::default();
        let mut bad = BTreeMap::new();
        bad.insert("1X".to_string(), String::new());
        v.environment_names(&bad);
        assert!(v.finish().is_err());
    }

    #[test]
    fn vpc_lists() {
        let mut v = Violations::default();
        let subnets: Vec<String> = (0..17).map(|i| format!("subnet-{i}")).collect();
        v.vpc_lists(&subnets, &["sg-1".into()]);
        let e = v.finish().unwrap_err().to_string();
        assert!(e.contains("at 'vpcConfig.subnetIds' failed to satisfy constraint: Member must have length less than or equal to 16"), "{e}");
        let mut v = Violations::default();
        v.vpc_lists(&["subnet-1".into()], &["subnet-2".into()]);
        let e = v.finish().unwrap_err().to_string();
        assert!(e.contains("^sg-[0-9a-zA-Z]*$"), "{e}");
    }

    #[test]
    fn architectures() {
        let mut v = Violations::default();
        assert_eq!(v.architectures(&["arm64".into()]).as_deref(), Some("arm64"));
        assert!(v
            .architectures(&["x86_64".into(), "arm64".into()])
            .is_none());
        assert!(v.architectures(&["sparc".into()]).is_none());
        assert!(v
            .finish()
            .unwrap_err()
            .to_string()
            .starts_with("2 validation errors"));
    }
}
