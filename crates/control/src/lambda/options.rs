//! The function options beyond code, handler and limits: `TracingConfig`, `KMSKeyArn`,
//! `SnapStart` and `LoggingConfig` — their member checks in Lambda's words, and how a
//! request changes the stored settings. Pure functions of the request and the settings.

use serde::{Deserialize, Serialize};

use super::error::LambdaError;
use super::model::Settings;
use super::validate::Violations;
use crate::iam::lookup as iam;
use crate::store::{Scope, Tx};

const KMS_KEY_PATTERN: &str = "(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()";
const LOG_GROUP_PATTERN: &str = r"[\.\-_/#A-Za-z0-9]+";
const APPLICATION_LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const SYSTEM_LEVELS: &[&str] = &["DEBUG", "INFO", "WARN"];

/// Runtimes Lambda takes SnapStart for (Java 11 and later, Python 3.12 and later, .NET 8
/// and later) among the ones functions may use here.
const SNAP_START_RUNTIMES: &[&str] = &[
    "java11",
    "java17",
    "java21",
    "java25",
    "python3.12",
    "python3.13",
    "python3.14",
    "dotnet8",
    "dotnet10",
];

/// `TracingConfig.Mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TracingMode {
    #[default]
    PassThrough,
    Active,
}

impl TracingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TracingMode::PassThrough => "PassThrough",
            TracingMode::Active => "Active",
        }
    }
}

/// `LoggingConfig.LogFormat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "Text",
            LogFormat::Json => "JSON",
        }
    }
}

/// Where and how a function's logs go. Levels are set with the JSON format only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logging {
    pub format: LogFormat,
    /// `ApplicationLogLevel` (JSON only).
    pub application_level: Option<String>,
    /// `SystemLogLevel` (JSON only).
    pub system_level: Option<String>,
    /// A log group other than `/aws/lambda/<function>`.
    pub log_group: Option<String>,
}

impl Logging {
    /// The log group the function's logs go to.
    pub fn group(&self, function: &str) -> String {
        self.log_group
            .clone()
            .unwrap_or_else(|| format!("/aws/lambda/{function}"))
    }
}

/// `LoggingConfig` as the request gave it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoggingRequest {
    pub log_format: Option<String>,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    pub log_group: Option<String>,
}

/// The options a CreateFunction or UpdateFunctionConfiguration sets; `None` leaves one as
/// it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptionsRequest {
    /// `TracingConfig.Mode` (`Some("PassThrough")` for a `TracingConfig` without a mode).
    pub tracing_mode: Option<String>,
    /// `KMSKeyArn`; `""` removes the key.
    pub kms_key_arn: Option<String>,
    /// `SnapStart.ApplyOn` (`Some("None")` for a `SnapStart` without it).
    pub snap_start: Option<String>,
    /// Replaces the whole logging configuration.
    pub logging: Option<LoggingRequest>,
}

impl OptionsRequest {
    /// Range, enum and pattern checks, reported with the request's other violations.
    pub(crate) fn check(&self, v: &mut Violations) {
        if let Some(mode) = &self.tracing_mode {
            if !["Active", "PassThrough"].contains(&mode.as_str()) {
                v.push(
                    mode,
                    "tracingConfig.mode",
                    "Member must satisfy enum value set: [Active, PassThrough]",
                );
            }
        }
        if let Some(arn) = &self.kms_key_arn {
            if !is_kms_key_arn(arn) {
                v.push(
                    arn,
                    "kMSKeyArn",
                    &format!("Member must satisfy regular expression pattern: {KMS_KEY_PATTERN}"),
                );
            }
        }
        if let Some(apply_on) = &self.snap_start {
            if !["PublishedVersions", "None"].contains(&apply_on.as_str()) {
                v.push(
                    apply_on,
                    "snapStart.applyOn",
                    "Member must satisfy enum value set: [PublishedVersions, None]",
                );
            }
        }
        if let Some(l) = &self.logging {
            if let Some(f) = &l.log_format {
                if !["JSON", "Text"].contains(&f.as_str()) {
                    v.push(
                        f,
                        "loggingConfig.logFormat",
                        "Member must satisfy enum value set: [JSON, Text]",
                    );
                }
            }
            let levels = [
                (
                    &l.application_log_level,
                    "loggingConfig.applicationLogLevel",
                    APPLICATION_LEVELS,
                ),
                (
                    &l.system_log_level,
                    "loggingConfig.systemLogLevel",
                    SYSTEM_LEVELS,
                ),
            ];
            for (level, member, allowed) in levels {
                if let Some(level) = level {
                    if !allowed.contains(&level.as_str()) {
                        v.push(
                            level,
                            member,
                            &format!(
                                "Member must satisfy enum value set: [{}]",
                                allowed.join(", ")
                            ),
                        );
                    }
                }
            }
            if let Some(g) = &l.log_group {
                if g.is_empty() {
                    v.push(
                        g,
                        "loggingConfig.logGroup",
                        "Member must have length greater than or equal to 1",
                    );
                } else if g.len() > 512 {
                    v.push(
                        g,
                        "loggingConfig.logGroup",
                        "Member must have length less than or equal to 512",
                    );
                } else if !g
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-_/#".contains(c))
                {
                    v.push(
                        g,
                        "loggingConfig.logGroup",
                        &format!(
                            "Member must satisfy regular expression pattern: {LOG_GROUP_PATTERN}"
                        ),
                    );
                }
            }
        }
    }

    /// Applies the options to `s` (whose runtime is already the new one), then the rules
    /// between members and settings. Call after [`check`](Self::check) passed.
    pub(crate) fn apply(&self, s: &mut Settings, function: &str) -> Result<(), LambdaError> {
        if let Some(mode) = &self.tracing_mode {
            s.tracing = if mode == "Active" {
                TracingMode::Active
            } else {
                TracingMode::PassThrough
            };
        }
        if let Some(arn) = &self.kms_key_arn {
            s.kms_key_arn = Some(arn.clone()).filter(|a| !a.is_empty());
        }
        if let Some(apply_on) = &self.snap_start {
            s.snap_start = apply_on == "PublishedVersions";
        }
        if let Some(l) = &self.logging {
            s.logging = logging(l, function)?;
        }
        if s.snap_start && !SNAP_START_RUNTIMES.contains(&s.runtime.as_str()) {
            return Err(LambdaError::invalid(format!(
                "{} is not supported for SnapStart enabled functions.",
                s.runtime
            )));
        }
        Ok(())
    }
}

/// The X-Ray actions an execution role needs for `Active` tracing, in the order Lambda
/// checks them.
const XRAY_ACTIONS: &[&str] = &["PutTraceSegments", "PutTelemetryRecords"];

/// With `Active` tracing the execution role must be allowed to write traces (X-Ray actions
/// take no resource but `*`), as Lambda checks when the setting or the role changes.
pub(crate) fn check_tracing_role(
    tx: &mut dyn Tx,
    scope: &Scope,
    s: &Settings,
) -> Result<(), LambdaError> {
    if s.tracing != TracingMode::Active {
        return Ok(());
    }
    let role = super::vpc::assumable_role(tx, scope, &s.role)?;
    for action in XRAY_ACTIONS {
        if !iam::is_allowed(tx, &scope.account, &role, &format!("xray:{action}"), "*")? {
            return Err(LambdaError::invalid(format!(
                "The provided execution role does not have permissions to call {action} on XRAY"
            )));
        }
    }
    Ok(())
}

/// A `LoggingConfig` replaces the whole configuration (members it leaves out take their
/// defaults), as Lambda does.
fn logging(l: &LoggingRequest, function: &str) -> Result<Logging, LambdaError> {
    let format = match l.log_format.as_deref() {
        Some("JSON") => LogFormat::Json,
        _ => LogFormat::Text,
    };
    let levels_given = l.application_log_level.is_some() || l.system_log_level.is_some();
    if format == LogFormat::Text && levels_given {
        return Err(LambdaError::invalid(
            "LogLevel is not supported when LogFormat is set to \"Text\". Remove LogLevel from your request or change the LogFormat to \"JSON\" and try again.",
        ));
    }
    let json = format == LogFormat::Json;
    let level =
        |given: &Option<String>| json.then(|| given.clone().unwrap_or_else(|| "INFO".to_string()));
    let default_group = format!("/aws/lambda/{function}");
    Ok(Logging {
        format,
        application_level: level(&l.application_log_level),
        system_level: level(&l.system_log_level),
        log_group: l.log_group.clone().filter(|g| *g != default_group),
    })
}

fn is_kms_key_arn(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
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
    let Some((service, _)) = rest.split_once(':') else {
        return false;
    };
    partition_ok
        && !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(runtime: &str) -> Settings {
        Settings {
            runtime: runtime.into(),
            role: String::new(),
            handler: "h".into(),
            description: String::new(),
            timeout: 3,
            memory_size: 128,
            environment: None,
            ephemeral_storage: 512,
            architecture: "x86_64".into(),
            vpc: None,
            layers: Vec::new(),
            tracing: TracingMode::PassThrough,
            kms_key_arn: None,
            snap_start: false,
            logging: Logging::default(),
        }
    }

    fn violations(req: &OptionsRequest) -> String {
        let mut v = Violations::default();
        req.check(&mut v);
        v.finish()
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn kms_key_arns() {
        assert!(is_kms_key_arn(""));
        assert!(is_kms_key_arn(
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab"
        ));
        assert!(!is_kms_key_arn("key/1234"));
        assert!(!is_kms_key_arn("arn:aws:KMS:x"));
        let e = violations(&OptionsRequest {
            kms_key_arn: Some("nope".into()),
            ..Default::default()
        });
        assert_eq!(e, "1 validation error detected: Value 'nope' at 'kMSKeyArn' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()");
    }

    #[test]
    fn enums_read_like_aws() {
        let e = violations(&OptionsRequest {
            tracing_mode: Some("On".into()),
            snap_start: Some("Always".into()),
            logging: Some(LoggingRequest {
                log_format: Some("XML".into()),
                system_log_level: Some("ERROR".into()),
                log_group: Some("bad group".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert!(e.starts_with("5 validation errors detected: "), "{e}");
        assert!(e.contains("Value 'On' at 'tracingConfig.mode' failed to satisfy constraint: Member must satisfy enum value set: [Active, PassThrough]"), "{e}");
        assert!(e.contains("at 'loggingConfig.systemLogLevel' failed to satisfy constraint: Member must satisfy enum value set: [DEBUG, INFO, WARN]"), "{e}");
        assert!(e.contains(r"at 'loggingConfig.logGroup' failed to satisfy constraint: Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+"), "{e}");
    }

    #[test]
    fn snap_start_follows_the_runtime() {
        let on = OptionsRequest {
            snap_start: Some("PublishedVersions".into()),
            ..Default::default()
        };
        let mut s = settings("python3.12");
        on.apply(&mut s, "f").unwrap();
        assert!(s.snap_start);
        let mut s = settings("nodejs22.x");
        assert_eq!(
            on.apply(&mut s, "f").unwrap_err().to_string(),
            "nodejs22.x is not supported for SnapStart enabled functions."
        );
        let mut s = settings("provided.al2023");
        let off = OptionsRequest {
            snap_start: Some("None".into()),
            ..Default::default()
        };
        off.apply(&mut s, "f").unwrap();
        assert!(!s.snap_start);
    }

    #[test]
    fn logging_levels_need_json() {
        let mut s = settings("python3.12");
        let text_with_level = OptionsRequest {
            logging: Some(LoggingRequest {
                application_log_level: Some("DEBUG".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = text_with_level.apply(&mut s, "f").unwrap_err().to_string();
        assert!(
            e.starts_with("LogLevel is not supported when LogFormat is set to \"Text\"."),
            "{e}"
        );
        let json = OptionsRequest {
            logging: Some(LoggingRequest {
                log_format: Some("JSON".into()),
                system_log_level: Some("WARN".into()),
                log_group: Some("/custom/g".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        json.apply(&mut s, "f").unwrap();
        assert_eq!(
            s.logging,
            Logging {
                format: LogFormat::Json,
                application_level: Some("INFO".into()),
                system_level: Some("WARN".into()),
                log_group: Some("/custom/g".into()),
            }
        );
        assert_eq!(s.logging.group("f"), "/custom/g");
        let back = OptionsRequest {
            logging: Some(LoggingRequest {
                log_group: Some("/aws/lambda/f".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        back.apply(&mut s, "f").unwrap();
        assert_eq!(s.logging, Logging::default());
    }
}
