//! Lambda layers: versions published under a layer name, each an immutable package in the
//! shared [`CodeStore`](super::CodeStore) with its compatible runtimes and architectures,
//! its license, and a resource policy that lets other accounts use it; and the layers a
//! function configuration references.
//!
//! A layer record outlives its versions and keeps the highest number ever published, so
//! numbers are never reused. A function keeps each of its layers' packages (digest and
//! sizes) in its own settings: deleting a layer version changes no function, and the blob
//! stays as long as any record names it (see `referenced_blobs` in [`super::functions`]).
//! Knows nothing of HTTP or JSON wire shapes; the statements it renders are the policy
//! documents Lambda returns as strings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::account::CODE_SIZE_UNZIPPED;
use super::error::LambdaError;
use super::functions::{check_code_quota, paginate, zip_of, CodeSource, Lambda, Page};
use super::model::{kind, new_revision_id, timestamp_now, Code};
use super::validate::Violations;
use crate::store::{Scope, Tx, TxExt};

/// Layers a function may reference.
const MAX_FUNCTION_LAYERS: usize = 5;
const MAX_LIST_ITEMS: i64 = 50;
/// Bytes a layer version's policy document may have, as for Lambda's resource policies.
const MAX_POLICY_BYTES: usize = 20_480;
const LAYER_NAME_PATTERN: &str =
    "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+";
const LAYER_VERSION_ARN_PATTERN: &str =
    "arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+";
const PRINCIPAL_PATTERN: &str = "\\d{12}|\\*|arn:(aws[a-zA-Z-]*):iam::\\d{12}:root";
/// The one action a layer version permission can grant.
const GET_LAYER_VERSION: &str = "lambda:GetLayerVersion";
const ARCHITECTURES: [&str; 2] = ["x86_64", "arm64"];

/// The model's `Runtime` enum, in its order: what `CompatibleRuntimes` may list (retired
/// runtimes included, as layers built for them still exist).
const LAYER_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "java8",
    "java8.al2",
    "java11",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet8",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "provided",
    "provided.al2",
    "nodejs18.x",
    "python3.10",
    "java17",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "python3.11",
    "nodejs20.x",
    "provided.al2023",
    "python3.12",
    "java21",
    "python3.13",
    "nodejs22.x",
    "nodejs24.x",
    "python3.14",
    "java25",
    "dotnet10",
    "ruby4.0",
];

/// One layer of a function configuration: the version's ARN and its package, kept with
/// the configuration so the function runs the same content whatever happens to the layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionLayer {
    pub arn: String,
    pub code: Code,
}

/// A layer: what outlives its versions.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Layer {
    name: String,
    /// The highest version number ever published.
    last_version: u64,
}

/// One published, immutable layer version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerVersion {
    /// The owner's account and region, for the ARNs.
    pub account: String,
    pub region: String,
    pub layer_name: String,
    pub version: u64,
    pub description: String,
    /// `2018-11-14T23:03:52.894+0000`.
    pub created_date: String,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    pub license_info: Option<String>,
    pub code: Code,
    /// The resource policy's statements, in the order they were added.
    pub policy: Vec<LayerStatement>,
    /// Changes with every policy change.
    pub policy_revision: String,
}

impl LayerVersion {
    pub fn layer_arn(&self) -> String {
        layer_arn(&self.account, &self.region, &self.layer_name)
    }

    pub fn arn(&self) -> String {
        format!("{}:{}", self.layer_arn(), self.version)
    }

    fn matches(&self, runtime: Option<&str>, architecture: Option<&str>) -> bool {
        runtime.is_none_or(|r| self.compatible_runtimes.iter().any(|c| c == r))
            && architecture.is_none_or(|a| self.compatible_architectures.iter().any(|c| c == a))
    }

    /// Whether the policy lets `account` use this version. Statements limited to an
    /// organization grant nothing here: accounts of this Lambda belong to none.
    fn grants(&self, account: &str) -> bool {
        self.policy.iter().any(|s| {
            s.organization_id.is_none() && s.principal_account().is_none_or(|a| a == account)
        })
    }

    /// The policy document GetLayerVersionPolicy returns.
    pub fn policy_document(&self) -> String {
        let arn = self.arn();
        let statements: Vec<String> = self.policy.iter().map(|s| s.render(&arn)).collect();
        format!(
            "{{\"Version\":\"2012-10-17\",\"Id\":\"default\",\"Statement\":[{}]}}",
            statements.join(",")
        )
    }
}

/// One statement of a layer version's policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerStatement {
    pub sid: String,
    pub action: String,
    /// `*`, an account id, or `arn:aws:iam::<account>:root`, as given.
    pub principal: String,
    pub organization_id: Option<String>,
}

impl LayerStatement {
    /// `None` for `*` (every account).
    fn principal_account(&self) -> Option<&str> {
        if self.principal == "*" {
            return None;
        }
        Some(
            self.principal
                .strip_prefix("arn:")
                .and_then(|r| r.split(':').nth(3))
                .unwrap_or(&self.principal),
        )
    }

    /// The statement as Lambda renders it, members in its order.
    pub fn render(&self, resource: &str) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let principal = match self.principal_account() {
            None => q("*"),
            Some(account) => format!("{{\"AWS\":{}}}", q(&format!("arn:aws:iam::{account}:root"))),
        };
        let condition = match &self.organization_id {
            Some(org) => format!(
                ",\"Condition\":{{\"StringEquals\":{{\"aws:PrincipalOrgID\":{}}}}}",
                q(org)
            ),
            None => String::new(),
        };
        format!(
            "{{\"Sid\":{},\"Effect\":\"Allow\",\"Principal\":{principal},\"Action\":{},\"Resource\":{}{condition}}}",
            q(&self.sid),
            q(&self.action),
            q(resource)
        )
    }
}

/// PublishLayerVersion's input.
#[derive(Clone, Debug, Default)]
pub struct LayerSpec {
    pub layer_name: String,
    pub description: Option<String>,
    /// `None` when the request has no `Content` member.
    pub content: Option<CodeSource>,
    pub compatible_runtimes: Option<Vec<String>>,
    pub compatible_architectures: Option<Vec<String>>,
    pub license_info: Option<String>,
}

/// AddLayerVersionPermission's input.
#[derive(Clone, Debug, Default)]
pub struct LayerPermission {
    pub statement_id: Option<String>,
    pub action: Option<String>,
    pub principal: Option<String>,
    pub organization_id: Option<String>,
    pub revision_id: Option<String>,
}

/// A layer of ListLayers: its name and ARN, and its latest version matching the filters.
#[derive(Clone, Debug)]
pub struct LayerSummary {
    pub layer_name: String,
    pub layer_arn: String,
    pub latest: LayerVersion,
}

/// A layer name or ARN resolved to the owner's scope.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LayerRef {
    owner: Scope,
    name: String,
}

impl LayerRef {
    fn version_arn(&self, version: u64) -> String {
        format!(
            "{}:{version}",
            layer_arn(&self.owner.account, &self.owner.region, &self.name)
        )
    }
}

fn layer_arn(account: &str, region: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:layer:{name}")
}

fn layer_version_key(name: &str, version: u64) -> String {
    format!("{name}:{version:010}")
}

fn is_layer_word(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_arn_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// Parses the `LayerName` member (a name or a layer ARN).
fn parse_layer_name(input: &str, scope: &Scope) -> Result<LayerRef, LambdaError> {
    let violation = |rule: &str| {
        LambdaError::Validation(vec![LambdaError::violation(input, "layerName", rule)])
    };
    if input.is_empty() {
        return Err(violation(
            "Member must have length greater than or equal to 1",
        ));
    }
    if input.len() > 140 {
        return Err(violation(
            "Member must have length less than or equal to 140",
        ));
    }
    if is_layer_word(input) {
        return Ok(LayerRef {
            owner: scope.clone(),
            name: input.to_string(),
        });
    }
    match input.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", partition, "lambda", region, account, "layer", name]
            if is_arn_word(partition)
                && is_arn_word(region)
                && is_account(account)
                && is_layer_word(name) =>
        {
            Ok(LayerRef {
                owner: Scope::new(*account, *region),
                name: (*name).to_string(),
            })
        }
        _ => Err(violation(&format!(
            "Member must satisfy regular expression pattern: {LAYER_NAME_PATTERN}"
        ))),
    }
}

/// Parses a layer version ARN (`Arn` of GetLayerVersionByArn, each of a function's
/// `Layers`) into the layer and the version number.
fn parse_version_arn(arn: &str) -> Option<(LayerRef, u64)> {
    if arn.is_empty() || arn.len() > 140 {
        return None;
    }
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", partition, "lambda", region, account, "layer", name, version]
            if is_arn_word(partition)
                && is_arn_word(region)
                && is_account(account)
                && is_layer_word(name)
                && !version.is_empty()
                && version.chars().all(|c| c.is_ascii_digit()) =>
        {
            Some((
                LayerRef {
                    owner: Scope::new(*account, *region),
                    name: (*name).to_string(),
                },
                // Numbers beyond u64 name no version that can exist.
                version.parse().unwrap_or(u64::MAX),
            ))
        }
        _ => None,
    }
}

/// The `VersionNumber` of a path: Lambda refuses numbers below 1 on its own terms.
pub fn parse_version_number(raw: &str) -> Result<u64, LambdaError> {
    let n: i64 = raw.parse().map_err(|_| {
        LambdaError::InvalidRequestContent(format!("VersionNumber is not an integer: {raw}"))
    })?;
    if n < 1 {
        return Err(LambdaError::invalid("Layer Version Cannot be less than 1"));
    }
    Ok(n as u64)
}

fn not_found() -> LambdaError {
    LambdaError::ResourceNotFound("The resource you requested does not exist.".into())
}

fn version_not_found(arn: &str) -> LambdaError {
    LambdaError::ResourceNotFound(format!("Layer version {arn} does not exist."))
}

fn denied(scope: &Scope, action: &str, resource: String) -> LambdaError {
    LambdaError::AccessDenied {
        caller: format!("arn:aws:iam::{}:root", scope.account),
        action: action.to_string(),
        resource,
    }
}

fn check_filters(v: &mut Violations, runtime: Option<&str>, architecture: Option<&str>) {
    if let Some(r) = runtime.filter(|r| !LAYER_RUNTIMES.contains(r)) {
        v.push(
            r,
            "compatibleRuntime",
            &format!(
                "Member must satisfy enum value set: [{}]",
                LAYER_RUNTIMES.join(", ")
            ),
        );
    }
    if let Some(a) = architecture.filter(|a| !ARCHITECTURES.contains(a)) {
        v.push(
            a,
            "compatibleArchitecture",
            "Member must satisfy enum value set: [x86_64, arm64]",
        );
    }
}

fn page_size(v: &mut Violations, max_items: Option<i64>) -> usize {
    match max_items {
        None => MAX_LIST_ITEMS as usize,
        Some(n) => v
            .range(n, "maxItems", 1, Some(MAX_LIST_ITEMS))
            .map_or(MAX_LIST_ITEMS as usize, |n| n as usize),
    }
}

/// The version `layer`/`version` names, for a caller in `scope`: another account's only
/// when its policy grants the caller `lambda:GetLayerVersion`.
fn load_usable(
    tx: &mut dyn Tx,
    scope: &Scope,
    layer: &LayerRef,
    version: u64,
) -> Result<Option<LayerVersion>, LambdaError> {
    if layer.owner.region != scope.region {
        return Ok(None);
    }
    let found: Option<LayerVersion> = tx.get_json(
        kind::LAYER_VERSION,
        &layer.owner,
        &layer_version_key(&layer.name, version),
    )?;
    if layer.owner.account == scope.account {
        return Ok(found);
    }
    match found {
        Some(v) if v.grants(&scope.account) => Ok(Some(v)),
        // Another account's version that does not exist looks like one the caller may not use.
        _ => Err(denied(scope, "GetLayerVersion", layer.version_arn(version))),
    }
}

/// The caller's own layer: mutations and listings never reach another account's.
fn own(scope: &Scope, layer: &LayerRef, action: &str, resource: String) -> Result<(), LambdaError> {
    if layer.owner.account != scope.account {
        return Err(denied(scope, action, resource));
    }
    Ok(())
}

/// Checks a function's `Layers` member against the model: each a layer version ARN.
pub(crate) fn check_layer_arns(v: &mut Violations, arns: &[String]) {
    if arns.iter().any(|a| parse_version_arn(a).is_none()) {
        v.push(
            format!("[{}]", arns.join(", ")),
            "layers",
            &format!("Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}, Member must not be null]"),
        );
    }
}

/// Resolves a function's `Layers` (already pattern-checked) to their packages, in order,
/// with Lambda's refusals: more than five, a version that does not exist, another
/// region's, another account's that its policy does not share, two versions of one layer.
pub(crate) fn resolve_function_layers(
    tx: &mut dyn Tx,
    scope: &Scope,
    arns: &[String],
) -> Result<Vec<FunctionLayer>, LambdaError> {
    if arns.len() > MAX_FUNCTION_LAYERS {
        return Err(LambdaError::invalid("Cannot reference more than 5 layers."));
    }
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut out = Vec::with_capacity(arns.len());
    for arn in arns {
        let Some((layer, version)) = parse_version_arn(arn) else {
            return Err(LambdaError::invalid(format!(
                "Layer version {arn} does not exist."
            )));
        };
        if layer.owner.region != scope.region {
            if layer.owner.account == scope.account {
                return Err(LambdaError::invalid(format!(
                    "Layers are not in the same region as the function. Layers are expected to be in region {}.",
                    scope.region
                )));
            }
            return Err(denied(scope, "GetLayerVersion", arn.clone()));
        }
        let found = load_usable(tx, scope, &layer, version)?
            .ok_or_else(|| LambdaError::invalid(format!("Layer version {arn} does not exist.")))?;
        let layer_arn = found.layer_arn();
        if let Some(first) = seen.get(&layer_arn) {
            return Err(LambdaError::invalid(format!(
                "Two different versions of the same layer are not allowed to be referenced in the same function. {first} and {arn} are versions of the same layer."
            )));
        }
        seen.insert(layer_arn, arn);
        out.push(FunctionLayer {
            arn: arn.clone(),
            code: found.code,
        });
    }
    Ok(out)
}

/// Function code and layers together stay within what an environment may unpack.
pub(crate) fn check_total_size(code: &Code, layers: &[FunctionLayer]) -> Result<(), LambdaError> {
    let total = layers.iter().fold(code.unzipped_size, |t, l| {
        t.saturating_add(l.code.unzipped_size)
    });
    if total > CODE_SIZE_UNZIPPED {
        return Err(LambdaError::invalid(format!(
            "Function code combined with layers exceeds the maximum allowed size of {CODE_SIZE_UNZIPPED} bytes. The actual size is {total} bytes."
        )));
    }
    Ok(())
}

impl Lambda {
    /// PublishLayerVersion: the next version number of the layer, created on first use.
    pub fn publish_layer_version(
        &self,
        scope: &Scope,
        spec: LayerSpec,
    ) -> Result<LayerVersion, LambdaError> {
        let layer = parse_layer_name(&spec.layer_name, scope)?;
        let mut v = Violations::default();
        if spec.content.is_none() {
            v.null("content");
        }
        if let Some(d) = &spec.description {
            v.description(d, "description");
        }
        let runtimes = spec.compatible_runtimes.unwrap_or_default();
        if runtimes.len() > 15 {
            v.push(
                format!("[{}]", runtimes.join(", ")),
                "compatibleRuntimes",
                "Member must have length less than or equal to 15",
            );
        } else if runtimes
            .iter()
            .any(|r| !LAYER_RUNTIMES.contains(&r.as_str()))
        {
            v.push(
                format!("[{}]", runtimes.join(", ")),
                "compatibleRuntimes",
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    LAYER_RUNTIMES.join(", ")
                ),
            );
        }
        let architectures = spec.compatible_architectures.unwrap_or_default();
        if architectures.len() > 2 {
            v.push(
                format!("[{}]", architectures.join(", ")),
                "compatibleArchitectures",
                "Member must have length less than or equal to 2",
            );
        } else if architectures
            .iter()
            .any(|a| !ARCHITECTURES.contains(&a.as_str()))
        {
            v.push(
                format!("[{}]", architectures.join(", ")),
                "compatibleArchitectures",
                "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]",
            );
        }
        if let Some(l) = spec
            .license_info
            .as_ref()
            .filter(|l| l.chars().count() > 512)
        {
            v.push(
                l,
                "licenseInfo",
                "Member must have length less than or equal to 512",
            );
        }
        v.finish()?;
        own(
            scope,
            &layer,
            "PublishLayerVersion",
            layer_arn(&layer.owner.account, &layer.owner.region, &layer.name),
        )?;
        if layer.owner.region != scope.region {
            return Err(not_found());
        }
        let zip = zip_of(spec.content.unwrap_or_default())?;
        let code = self.accept_package(&zip)?;
        let result = self.store.write(|tx| {
            check_code_quota(tx, scope, code.code_size)?;
            self.ensure_blob(&code, &zip)?;
            let mut record: Layer =
                tx.get_json(kind::LAYER, scope, &layer.name)?
                    .unwrap_or(Layer {
                        name: layer.name.clone(),
                        last_version: 0,
                    });
            record.last_version += 1;
            let version = LayerVersion {
                account: scope.account.clone(),
                region: scope.region.clone(),
                layer_name: layer.name.clone(),
                version: record.last_version,
                description: spec.description.clone().unwrap_or_default(),
                created_date: timestamp_now(),
                compatible_runtimes: runtimes.clone(),
                compatible_architectures: architectures.clone(),
                license_info: spec.license_info.clone(),
                code: code.clone(),
                policy: Vec::new(),
                policy_revision: new_revision_id(),
            };
            tx.put_json(kind::LAYER, scope, &layer.name, &record)?;
            tx.put_json(
                kind::LAYER_VERSION,
                scope,
                &layer_version_key(&layer.name, version.version),
                &version,
            )?;
            Ok(version)
        });
        if result.is_err() {
            self.collect_garbage(vec![code.sha256_hex]);
        }
        result
    }

    /// GetLayerVersion: the caller's own, or another account's that its policy shares.
    pub fn get_layer_version(
        &self,
        scope: &Scope,
        layer_name: &str,
        version: &str,
    ) -> Result<LayerVersion, LambdaError> {
        let layer = parse_layer_name(layer_name, scope)?;
        let version = parse_version_number(version)?;
        self.store
            .read(|tx| load_usable(tx, scope, &layer, version))?
            .ok_or_else(not_found)
    }

    /// GetLayerVersionByArn.
    pub fn get_layer_version_by_arn(
        &self,
        scope: &Scope,
        arn: Option<&str>,
    ) -> Result<LayerVersion, LambdaError> {
        let Some(arn) = arn else {
            return Err(LambdaError::Validation(vec![
                "Value null at 'arn' failed to satisfy constraint: Member must not be null".into(),
            ]));
        };
        let Some((layer, version)) = parse_version_arn(arn) else {
            let rule = if arn.is_empty() {
                "Member must have length greater than or equal to 1".to_string()
            } else if arn.len() > 140 {
                "Member must have length less than or equal to 140".to_string()
            } else {
                format!(
                    "Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}"
                )
            };
            return Err(LambdaError::Validation(vec![LambdaError::violation(
                arn, "arn", &rule,
            )]));
        };
        self.store
            .read(|tx| load_usable(tx, scope, &layer, version))?
            .ok_or_else(not_found)
    }

    /// ListLayers: every layer with a version matching the filters, by name, each with
    /// its latest matching version.
    pub fn list_layers(
        &self,
        scope: &Scope,
        runtime: Option<&str>,
        architecture: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<LayerSummary>, LambdaError> {
        let mut v = Violations::default();
        check_filters(&mut v, runtime, architecture);
        let max = page_size(&mut v, max_items);
        v.finish()?;
        let versions = self
            .store
            .read(|tx| tx.list_json::<LayerVersion>(kind::LAYER_VERSION, scope, ""))?;
        let mut latest: BTreeMap<String, LayerVersion> = BTreeMap::new();
        for version in versions
            .into_iter()
            .filter(|lv| lv.matches(runtime, architecture))
        {
            match latest.get(&version.layer_name) {
                Some(have) if have.version >= version.version => {}
                _ => {
                    latest.insert(version.layer_name.clone(), version);
                }
            }
        }
        let items = latest
            .into_iter()
            .map(|(name, latest)| {
                (
                    (name.clone(), 0),
                    LayerSummary {
                        layer_arn: latest.layer_arn(),
                        layer_name: name,
                        latest,
                    },
                )
            })
            .collect();
        paginate(items, marker, max)
    }

    /// ListLayerVersions: the layer's versions matching the filters, newest first; none
    /// for a layer that does not exist.
    pub fn list_layer_versions(
        &self,
        scope: &Scope,
        layer_name: &str,
        runtime: Option<&str>,
        architecture: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<LayerVersion>, LambdaError> {
        let layer = parse_layer_name(layer_name, scope)?;
        let mut v = Violations::default();
        check_filters(&mut v, runtime, architecture);
        let max = page_size(&mut v, max_items);
        v.finish()?;
        own(
            scope,
            &layer,
            "ListLayerVersions",
            layer_arn(&layer.owner.account, &layer.owner.region, &layer.name),
        )?;
        if layer.owner.region != scope.region {
            return Ok(Page {
                items: Vec::new(),
                next_marker: None,
            });
        }
        let versions = self.store.read(|tx| {
            tx.list_json::<LayerVersion>(kind::LAYER_VERSION, scope, &format!("{}:", layer.name))
        })?;
        // Keys grow as versions shrink, so the page order is newest first.
        let items = versions
            .into_iter()
            .filter(|lv| lv.matches(runtime, architecture))
            .map(|lv| ((layer.name.clone(), u64::MAX - lv.version), lv))
            .rev()
            .collect();
        paginate(items, marker, max)
    }

    /// DeleteLayerVersion: succeeds whether or not the version exists; its number is
    /// never used again, and functions that use it keep its content.
    pub fn delete_layer_version(
        &self,
        scope: &Scope,
        layer_name: &str,
        version: &str,
    ) -> Result<(), LambdaError> {
        let layer = parse_layer_name(layer_name, scope)?;
        let version = parse_version_number(version)?;
        own(
            scope,
            &layer,
            "DeleteLayerVersion",
            layer.version_arn(version),
        )?;
        if layer.owner.region != scope.region {
            return Ok(());
        }
        let key = layer_version_key(&layer.name, version);
        let released = self.store.write(|tx| {
            let found: Option<LayerVersion> = tx.get_json(kind::LAYER_VERSION, scope, &key)?;
            match found {
                Some(lv) => {
                    tx.delete(kind::LAYER_VERSION, scope, &key)?;
                    Ok::<_, LambdaError>(vec![lv.code.sha256_hex])
                }
                None => Ok(Vec::new()),
            }
        })?;
        self.collect_garbage(released);
        Ok(())
    }

    /// AddLayerVersionPermission: returns the statement as rendered and the policy's new
    /// revision id.
    pub fn add_layer_version_permission(
        &self,
        scope: &Scope,
        layer_name: &str,
        version: &str,
        permission: LayerPermission,
    ) -> Result<(String, String), LambdaError> {
        let layer = parse_layer_name(layer_name, scope)?;
        let version = parse_version_number(version)?;
        let mut v = Violations::default();
        match &permission.statement_id {
            None => v.null("statementId"),
            Some(sid) => check_statement_id(&mut v, sid),
        }
        match &permission.action {
            None => v.null("action"),
            Some(action) => {
                if action.chars().count() > 22 {
                    v.push(
                        action,
                        "action",
                        "Member must have length less than or equal to 22",
                    );
                }
                if action != GET_LAYER_VERSION {
                    v.push(
                        action,
                        "action",
                        &format!(
                            "Member must satisfy regular expression pattern: {GET_LAYER_VERSION}"
                        ),
                    );
                }
            }
        }
        match &permission.principal {
            None => v.null("principal"),
            Some(p) if !is_principal(p) => v.push(
                p,
                "principal",
                &format!("Member must satisfy regular expression pattern: {PRINCIPAL_PATTERN}"),
            ),
            Some(_) => {}
        }
        if let Some(org) = &permission.organization_id {
            if org.chars().count() > 34 {
                v.push(
                    org,
                    "organizationId",
                    "Member must have length less than or equal to 34",
                );
            } else if !is_organization_id(org) {
                v.push(
                    org,
                    "organizationId",
                    "Member must satisfy regular expression pattern: o-[a-z0-9]{10,32}",
                );
            }
        }
        v.finish()?;
        let arn = layer.version_arn(version);
        own(scope, &layer, "AddLayerVersionPermission", arn.clone())?;
        let statement = LayerStatement {
            sid: permission.statement_id.unwrap_or_default(),
            action: permission.action.unwrap_or_default(),
            principal: permission.principal.unwrap_or_default(),
            organization_id: permission.organization_id,
        };
        let key = layer_version_key(&layer.name, version);
        self.store.write(|tx| {
            let mut lv: LayerVersion = tx
                .get_json(kind::LAYER_VERSION, scope, &key)?
                .filter(|_| layer.owner.region == scope.region)
                .ok_or_else(|| version_not_found(&arn))?;
            if lv.policy.iter().any(|s| s.sid == statement.sid) {
                return Err(LambdaError::conflict(format!(
                    "The statement id ({}) provided already exists. Please provide a new statement id, or remove the existing statement.",
                    statement.sid
                )));
            }
            check_policy_revision(&lv, permission.revision_id.as_deref())?;
            let rendered = statement.render(&lv.arn());
            lv.policy.push(statement.clone());
            let size = lv.policy_document().len();
            if size > MAX_POLICY_BYTES {
                return Err(LambdaError::PolicyLengthExceeded {
                    size,
                    limit: MAX_POLICY_BYTES,
                });
            }
            lv.policy_revision = new_revision_id();
            tx.put_json(kind::LAYER_VERSION, scope, &key, &lv)?;
            Ok((rendered, lv.policy_revision))
        })
    }

    /// RemoveLayerVersionPermission.
    pub fn remove_layer_version_permission(
        &self,
        scope: &Scope,
        layer_name: &str,
        version: &str,
        statement_id: &str,
        revision_id: Option<&str>,
    ) -> Result<(), LambdaError> {
        let layer = parse_layer_name(layer_name, scope)?;
        let version = parse_version_number(version)?;
        let mut v = Violations::default();
        check_statement_id(&mut v, statement_id);
        v.finish()?;
        let arn = layer.version_arn(version);
        own(scope, &layer, "RemoveLayerVersionPermission", arn.clone())?;
        let key = layer_version_key(&layer.name, version);
        self.store.write(|tx| {
            let mut lv: LayerVersion = tx
                .get_json(kind::LAYER_VERSION, scope, &key)?
                .filter(|_| layer.owner.region == scope.region)
                .ok_or_else(|| version_not_found(&arn))?;
            check_policy_revision(&lv, revision_id)?;
            let before = lv.policy.len();
            lv.policy.retain(|s| s.sid != statement_id);
            if lv.policy.len() == before {
                return Err(LambdaError::ResourceNotFound(format!(
                    "Statement {statement_id} is not found in resource policy."
                )));
            }
            lv.policy_revision = new_revision_id();
            tx.put_json(kind::LAYER_VERSION, scope, &key, &lv)?;
            Ok(())
        })
    }

    /// GetLayerVersionPolicy: the policy document and its revision id.
    pub fn get_layer_version_policy(
        &self,
        scope: &Scope,
        layer_name: &str,
        version: &str,
    ) -> Result<(String, String), LambdaError> {
        let layer = parse_layer_name(layer_name, scope)?;
        let version = parse_version_number(version)?;
        let arn = layer.version_arn(version);
        own(scope, &layer, "GetLayerVersionPolicy", arn.clone())?;
        let lv: LayerVersion = self
            .store
            .read(|tx| {
                tx.get_json(
                    kind::LAYER_VERSION,
                    scope,
                    &layer_version_key(&layer.name, version),
                )
            })?
            .filter(|_| layer.owner.region == scope.region)
            .ok_or_else(|| version_not_found(&arn))?;
        if lv.policy.is_empty() {
            return Err(LambdaError::ResourceNotFound(
                "No policy is associated with the given resource.".into(),
            ));
        }
        Ok((lv.policy_document(), lv.policy_revision))
    }
}

fn check_statement_id(v: &mut Violations, sid: &str) {
    if sid.is_empty() {
        v.push(
            sid,
            "statementId",
            "Member must have length greater than or equal to 1",
        );
    } else if sid.chars().count() > 100 {
        v.push(
            sid,
            "statementId",
            "Member must have length less than or equal to 100",
        );
    } else if !is_layer_word(sid) {
        v.push(
            sid,
            "statementId",
            "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
        );
    }
}

fn check_policy_revision(lv: &LayerVersion, given: Option<&str>) -> Result<(), LambdaError> {
    match given {
        Some(id) if id != lv.policy_revision => Err(LambdaError::Precondition(
            "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id".into(),
        )),
        _ => Ok(()),
    }
}

/// `\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root`
fn is_principal(p: &str) -> bool {
    if p == "*" || is_account(p) {
        return true;
    }
    match p.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", partition, "iam", "", account, "root"] => {
            partition.starts_with("aws")
                && partition
                    .chars()
                    .all(|c| c.is_ascii_alphabetic() || c == '-')
                && is_account(account)
        }
        _ => false,
    }
}

/// `o-[a-z0-9]{10,32}`
fn is_organization_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope::new("123456789012", "us-east-1")
    }

    #[test]
    fn layer_names_and_arns() {
        assert_eq!(
            parse_layer_name("my-layer_1", &scope()).unwrap().name,
            "my-layer_1"
        );
        let r = parse_layer_name(
            "arn:aws:lambda:us-east-1:210987654321:layer:shared",
            &scope(),
        )
        .unwrap();
        assert_eq!(r.owner, Scope::new("210987654321", "us-east-1"));
        assert_eq!(r.name, "shared");
        let e = parse_layer_name("bad name", &scope())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "1 validation error detected: Value 'bad name' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
        );
        let (l, v) = parse_version_arn("arn:aws:lambda:us-east-1:123456789012:layer:x:7").unwrap();
        assert_eq!((l.name.as_str(), v), ("x", 7));
        assert!(parse_version_arn("arn:aws:lambda:us-east-1:123456789012:layer:x").is_none());
        assert!(parse_version_arn("arn:aws:lambda:us-east-1:1234:layer:x:1").is_none());
    }

    #[test]
    fn version_numbers_below_one_are_refused() {
        assert_eq!(parse_version_number("3").unwrap(), 3);
        assert_eq!(
            parse_version_number("0").unwrap_err().to_string(),
            "Layer Version Cannot be less than 1"
        );
        assert!(parse_version_number("x").is_err());
    }

    #[test]
    fn principals_and_statements() {
        assert!(is_principal("*"));
        assert!(is_principal("210987654321"));
        assert!(is_principal("arn:aws:iam::210987654321:root"));
        assert!(!is_principal("arn:aws:iam::210987654321:user/x"));
        assert!(!is_principal("21098765432"));
        assert!(is_organization_id("o-abcdef1234"));
        assert!(!is_organization_id("o-short"));
        let s = LayerStatement {
            sid: "xaccount".into(),
            action: GET_LAYER_VERSION.into(),
            principal: "210987654321".into(),
            organization_id: None,
        };
        assert_eq!(
            s.render("arn:aws:lambda:us-east-1:123456789012:layer:l:1"),
            r#"{"Sid":"xaccount","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":"lambda:GetLayerVersion","Resource":"arn:aws:lambda:us-east-1:123456789012:layer:l:1"}"#
        );
        let everyone = LayerStatement {
            principal: "*".into(),
            organization_id: Some("o-abcdef1234".into()),
            ..s.clone()
        };
        assert!(everyone
            .render("r")
            .ends_with(r#""Principal":"*","Action":"lambda:GetLayerVersion","Resource":"r","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abcdef1234"}}}"#));
    }

    #[test]
    fn combined_size_limit() {
        let code = |n: u64| Code {
            sha256_hex: String::new(),
            code_sha256: String::new(),
            code_size: 1,
            unzipped_size: n,
        };
        let layer = FunctionLayer {
            arn: "a".into(),
            code: code(100_000_000),
        };
        assert!(check_total_size(&code(162_144_000), std::slice::from_ref(&layer)).is_ok());
        assert_eq!(
            check_total_size(&code(162_144_001), &[layer]).unwrap_err().to_string(),
            "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is 262144001 bytes."
        );
    }
}
