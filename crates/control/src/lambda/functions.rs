//! Functions and their versions: create, read, list, update code and configuration, publish,
//! delete. Every change is one write transaction that re-checks what it depends on (state,
//! revision id, role, VPC) before it commits, so concurrent requests on one function either
//! apply in some order or are refused with Lambda's conflict errors — never interleave.
//!
//! Code packages are validated and written to the [`CodeStore`] before the record that names
//! them commits; blobs no record names any more are removed afterwards by
//! [`Lambda::collect_garbage`], inside a write transaction, so the two never disagree.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::Deserialize;

use super::code::CodeStore;
use super::error::LambdaError;
use super::layers;
use super::model::{
    children_prefix, kind, new_revision_id, timestamp_now, version_key, Alias, Code, Function,
    FunctionVersion, Provisioning, Settings, State, Status, UpdateStatus, VpcConfig,
};
use super::names::{function_arn, is_version_number, FunctionRef, LATEST};
use super::options::OptionsRequest;
use super::provision::{JobKind, ProvisionJob};
use super::settings;
use super::signing::{self, Deploy};
use super::validate::{self, Violations};
use super::vpc::{self, VpcRequest};
use crate::store::{Scope, Store, StoreError, Tx, TxExt};

/// Lambda's account-wide code storage quota, in bytes.
pub const TOTAL_CODE_SIZE_LIMIT: u64 = 80_530_636_800;
/// Items per page when the request sets no `MaxItems`.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: i64 = 10_000;

/// Where a request's code package comes from.
#[derive(Clone, Debug, Default)]
pub enum CodeSource {
    /// The request has no code member at all.
    #[default]
    Absent,
    /// A code member without any source in it.
    Empty,
    /// The package bytes (`ZipFile`, base64-decoded, or read from S3 by the adapter).
    Zip(Vec<u8>),
    /// `ImageUri`: container images cannot run here.
    Image,
}

/// CreateFunction's input.
#[derive(Clone, Debug, Default)]
pub struct FunctionSpec {
    pub function_name: Option<String>,
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<BTreeMap<String, String>>,
    pub ephemeral_storage: Option<i64>,
    pub architectures: Option<Vec<String>>,
    pub vpc: Option<VpcRequest>,
    pub package_type: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub publish: bool,
    pub code: CodeSource,
    /// `CodeSigningConfigArn`: checked at this deployment and every later one.
    pub code_signing_config_arn: Option<String>,
    /// Layer version ARNs, in order.
    pub layers: Option<Vec<String>>,
    /// Tracing, KMS key, SnapStart, logging.
    pub options: OptionsRequest,
}

/// UpdateFunctionConfiguration's input: `None` leaves a setting as it is.
#[derive(Clone, Debug, Default)]
pub struct ConfigChange {
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    /// Replaces the whole map; an empty map removes every variable.
    pub environment: Option<BTreeMap<String, String>>,
    pub runtime: Option<String>,
    pub ephemeral_storage: Option<i64>,
    pub vpc: Option<VpcRequest>,
    pub revision_id: Option<String>,
    /// Replaces the whole list; an empty list removes every layer.
    pub layers: Option<Vec<String>>,
    /// Tracing, KMS key, SnapStart, logging.
    pub options: OptionsRequest,
}

/// UpdateFunctionCode's input.
#[derive(Clone, Debug, Default)]
pub struct CodeChange {
    pub code: CodeSource,
    pub architectures: Option<Vec<String>>,
    pub publish: bool,
    pub dry_run: bool,
    pub revision_id: Option<String>,
}

/// PublishVersion's input.
#[derive(Clone, Debug, Default)]
pub struct PublishRequest {
    pub code_sha256: Option<String>,
    pub description: Option<String>,
    pub revision_id: Option<String>,
}

/// The result of a change: the configuration to show, and the transition to carry out once
/// the caller has answered (none for dry runs and for changes that start none).
#[derive(Clone, Debug)]
pub struct Changed {
    pub version: FunctionVersion,
    pub job: Option<ProvisionJob>,
}

/// A function version found by name and qualifier.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub function: Function,
    pub version: FunctionVersion,
    /// The alias the qualifier named, if it named one.
    pub alias: Option<String>,
}

/// What Invoke needs to run a function: the version's configuration and its package.
#[derive(Clone, Debug)]
pub struct Runnable {
    pub version: FunctionVersion,
    /// The zip in the code store (`<data_dir>/code/<sha256>.zip`).
    pub code_path: PathBuf,
    /// The zips of the version's layers, in the order of its settings' `layers`.
    pub layer_paths: Vec<PathBuf>,
}

/// One page of a listing.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

/// The Lambda control plane of one daemon: records in the store, packages in the code store.
#[derive(Clone)]
pub struct Lambda {
    pub(crate) store: Store,
    pub(crate) code: CodeStore,
}

impl Lambda {
    pub fn new(store: Store, data_dir: &Path) -> Self {
        Lambda {
            store,
            code: CodeStore::new(data_dir),
        }
    }

    pub fn code_store(&self) -> &CodeStore {
        &self.code
    }

    /// CreateFunction. The new function is `Pending` until its job finishes.
    pub fn create(
        &self,
        scope: &Scope,
        spec: FunctionSpec,
        runner: &str,
    ) -> Result<Changed, LambdaError> {
        let mut v = Violations::default();
        let name = match &spec.function_name {
            Some(raw) => {
                let parsed = FunctionRef::parse(
                    raw,
                    super::names::NameShape::Function,
                    scope,
                    "CreateFunction",
                )?;
                parsed.for_create(raw)?.to_string()
            }
            None => {
                v.null("functionName");
                String::new()
            }
        };
        match &spec.role {
            Some(role) => v.role(role),
            None => v.null("role"),
        }
        if matches!(spec.code, CodeSource::Absent) {
            v.null("code");
        }
        let fields = check_fields(
            &mut v,
            FieldInput {
                handler: spec.handler.as_deref(),
                description: spec.description.as_deref(),
                timeout: spec.timeout,
                memory_size: spec.memory_size,
                ephemeral_storage: spec.ephemeral_storage,
                environment: spec.environment.as_ref(),
                vpc: spec.vpc.as_ref(),
            },
        );
        let architecture = spec
            .architectures
            .as_ref()
            .map(|a| v.architectures(a))
            .unwrap_or_else(|| Some(validate::DEFAULT_ARCHITECTURE.to_string()));
        if let Some(pt) = &spec.package_type {
            validate::package_type(pt, &mut v)?;
        }
        if let Some(arns) = &spec.layers {
            layers::check_layer_arns(&mut v, arns);
        }
        spec.options.check(&mut v);
        v.finish()?;
        let (Some(runtime), Some(handler)) = (&spec.runtime, &spec.handler) else {
            return Err(LambdaError::invalid(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
            ));
        };
        validate::runtime(runtime)?;
        if let Some(env) = &spec.environment {
            validate::environment(env)?;
        }
        super::account::check_tags(&spec.tags)?;
        let csc_arn = spec.code_signing_config_arn.as_deref();
        let csc = csc_arn
            .map(|arn| signing::parse_arn(arn, "codeSigningConfigArn"))
            .transpose()?;
        let zip = zip_of(spec.code)?;
        let role = spec.role.unwrap_or_default();
        let mut settings = Settings {
            runtime: runtime.clone(),
            role: role.clone(),
            handler: handler.clone(),
            description: spec.description.unwrap_or_default(),
            timeout: fields.timeout.unwrap_or(validate::DEFAULT_TIMEOUT),
            memory_size: fields.memory_size.unwrap_or(validate::DEFAULT_MEMORY),
            environment: spec.environment.filter(|e| !e.is_empty()),
            ephemeral_storage: fields
                .ephemeral_storage
                .unwrap_or(validate::DEFAULT_EPHEMERAL),
            architecture: architecture.unwrap_or_default(),
            vpc: None,
            layers: Vec::new(),
            tracing: Default::default(),
            kms_key_arn: None,
            snap_start: false,
            logging: Default::default(),
        };
        let layer_arns = spec.layers.unwrap_or_default();
        spec.options.apply(&mut settings, &name)?;

        // Refuse what can be refused before inflating and storing the package.
        self.store.read(|tx| {
            if tx.get(kind::FUNCTION, scope, &name)?.is_some() {
                return Err(already_exists(&name));
            }
            check_placement(tx, scope, &role, spec.vpc.as_ref())?;
            signing::check_deploy(tx, scope, &name, Deploy::Create(csc.as_ref(), csc_arn))?;
            layers::resolve_function_layers(tx, scope, &layer_arns)?;
            super::options::check_tracing_role(tx, scope, &settings)?;
            Ok(())
        })?;
        let code = self.accept_package(&zip)?;

        let result = self.store.write(|tx| {
            if tx.get(kind::FUNCTION, scope, &name)?.is_some() {
                return Err(already_exists(&name));
            }
            let vpc = check_placement(tx, scope, &role, spec.vpc.as_ref())?;
            if let Some(config) =
                signing::check_deploy(tx, scope, &name, Deploy::Create(csc.as_ref(), csc_arn))?
            {
                signing::record_deploy(tx, scope, &name, &config, true)?;
            }
            let layers = layers::resolve_function_layers(tx, scope, &layer_arns)?;
            layers::check_total_size(&code, &layers)?;
            super::options::check_tracing_role(tx, scope, &settings)?;
            check_code_quota(tx, scope, code.code_size)?;
            self.ensure_blob(&code, &zip)?;
            let job_id = new_revision_id();
            let latest = FunctionVersion {
                function_name: name.clone(),
                version: LATEST.to_string(),
                settings: Settings {
                    vpc,
                    layers,
                    ..settings
                },
                code: code.clone(),
                last_modified: timestamp_now(),
                revision_id: new_revision_id(),
                status: Status::creating(),
            };
            let mut function = Function {
                latest,
                tags: spec.tags,
                reserved_concurrency: None,
                last_published: 0,
                serving: None,
                provisioning: Some(Provisioning {
                    job_id: job_id.clone(),
                    runner: runner.to_string(),
                }),
            };
            let shown = if spec.publish {
                publish_in(tx, scope, &mut function, None, Status::creating())?
            } else {
                function.latest.clone()
            };
            tx.put_json(kind::FUNCTION, scope, &name, &function)?;
            Ok(Changed {
                version: shown,
                job: Some(ProvisionJob {
                    scope: scope.clone(),
                    job_id,
                    kind: JobKind::Create,
                    version: function.latest,
                }),
            })
        });
        if result.is_err() {
            self.collect_garbage(vec![code.sha256_hex]);
        }
        result
    }

    /// GetFunction / GetFunctionConfiguration: the version a name and qualifier resolve to.
    pub fn get(&self, scope: &Scope, fref: &FunctionRef) -> Result<Resolved, LambdaError> {
        self.store.read(|tx| resolve(tx, scope, fref))
    }

    /// What Invoke runs for a name and qualifier; an alias with additional version weights
    /// picks one of its versions at random by weight. `$LATEST` under a configuration update
    /// that is in progress (or failed) runs the configuration that served before it.
    pub fn runnable(&self, scope: &Scope, fref: &FunctionRef) -> Result<Runnable, LambdaError> {
        self.store.read(|tx| {
            let mut resolved = resolve(tx, scope, fref)?;
            if resolved.version.version == LATEST {
                if let Some(serving) = &resolved.function.serving {
                    resolved.version = serving.clone();
                }
            }
            if let Some(alias) = &resolved.alias {
                let alias: Option<Alias> = tx.get_json(
                    kind::ALIAS,
                    scope,
                    &format!("{}{alias}", children_prefix(&fref.name)),
                )?;
                if let Some(pick) = alias.as_ref().and_then(pick_weighted) {
                    resolved.version = load_version(tx, scope, &fref.name, &pick)?
                        .ok_or_else(|| not_found(scope, &fref.name, Some(&pick)))?;
                }
            }
            Ok(Runnable {
                code_path: self.code.blob_path(&resolved.version.code.sha256_hex),
                layer_paths: (resolved.version.settings.layers.iter())
                    .map(|l| self.code.blob_path(&l.code.sha256_hex))
                    .collect(),
                version: resolved.version,
            })
        })
    }

    /// ListFunctions: `$LATEST` of every function, or every version with `all_versions`.
    pub fn list(
        &self,
        scope: &Scope,
        all_versions: bool,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<FunctionVersion>, LambdaError> {
        let max = page_size(max_items)?;
        let items = self.store.read(|tx| {
            let mut items = Vec::new();
            for function in tx.list_json::<Function>(kind::FUNCTION, scope, "")? {
                let name = function.latest.function_name.clone();
                items.push(((name.clone(), 0), function.latest));
                if all_versions {
                    for version in tx.list_json::<FunctionVersion>(
                        kind::VERSION,
                        scope,
                        &children_prefix(&name),
                    )? {
                        items.push(((name.clone(), version_number(&version)), version));
                    }
                }
            }
            Ok::<_, LambdaError>(items)
        })?;
        paginate(items, marker, max)
    }

    /// ListVersionsByFunction: `$LATEST`, then the published versions in order.
    pub fn versions(
        &self,
        scope: &Scope,
        name: &str,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<FunctionVersion>, LambdaError> {
        let max = page_size(max_items)?;
        let items = self.store.read(|tx| {
            let function = load_function(tx, scope, name)?;
            let mut items = vec![((name.to_string(), 0), function.latest)];
            for version in
                tx.list_json::<FunctionVersion>(kind::VERSION, scope, &children_prefix(name))?
            {
                items.push(((name.to_string(), version_number(&version)), version));
            }
            Ok::<_, LambdaError>(items)
        })?;
        paginate(items, marker, max)
    }

    /// DeleteFunction: the whole function, or with a version qualifier that one version.
    pub fn delete(&self, scope: &Scope, fref: &FunctionRef) -> Result<(), LambdaError> {
        if fref.qualifier.as_deref() == Some(LATEST) {
            return Err(LambdaError::invalid(
                "$LATEST version cannot be deleted without deleting the function.",
            ));
        }
        let name = &fref.name;
        let released = self.store.write(|tx| {
            let function = load_function(tx, scope, name)?;
            let prefix = children_prefix(name);
            match fref.qualifier.as_deref() {
                Some(q) if is_version_number(q) => {
                    let referencing: Vec<String> = tx
                        .list_json::<Alias>(kind::ALIAS, scope, &prefix)?
                        .into_iter()
                        .filter(|a| a.references(q))
                        .map(|a| a.name)
                        .collect();
                    if !referencing.is_empty() {
                        return Err(LambdaError::conflict(format!(
                            "Unable to delete version because the following aliases reference it: [{}]",
                            referencing.join(", ")
                        )));
                    }
                    let Some(version) = load_version(tx, scope, name, q)? else {
                        return Ok(Vec::new());
                    };
                    tx.delete(kind::VERSION, scope, &version_key_of(&version)?)?;
                    settings::forget_version(tx, scope, name, q)?;
                    super::event_config::remove(tx, scope, name, Some(q))?;
                    super::permissions::delete_policies(tx, scope, name, Some(q))?;
                    super::provisioned::delete_configs(tx, scope, name, Some(q))?;
                    Ok(blobs_of_version(&version))
                }
                // Lambda answers a qualifier that names no version with success and does
                // nothing; aliases are removed with DeleteAlias.
                Some(_) => Ok(Vec::new()),
                None => {
                    let mut shas = blobs_of_version(&function.latest);
                    for (id, body) in tx.list(kind::VERSION, scope, &prefix)? {
                        shas.extend(blobs_named(kind::VERSION, &body).unwrap_or_default());
                        tx.delete(kind::VERSION, scope, &id)?;
                    }
                    for (id, _) in tx.list(kind::ALIAS, scope, &prefix)? {
                        tx.delete(kind::ALIAS, scope, &id)?;
                    }
                    super::event_config::remove(tx, scope, name, None)?;
                    tx.delete(kind::FUNCTION, scope, name)?;
                    super::permissions::delete_policies(tx, scope, name, None)?;
                    super::provisioned::delete_configs(tx, scope, name, None)?;
                    settings::forget_function(tx, scope, name)?;
                    Ok(shas)
                }
            }
        })?;
        self.collect_garbage(released);
        Ok(())
    }

    /// UpdateFunctionCode. `$LATEST` gets the new package with `LastUpdateStatus:
    /// InProgress`; with `dry_run` nothing is stored and no transition starts.
    pub fn update_code(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        change: CodeChange,
        runner: &str,
    ) -> Result<Changed, LambdaError> {
        let name = fref.unqualified()?.to_string();
        let mut v = Violations::default();
        let architecture = change.architectures.as_ref().map(|a| v.architectures(a));
        v.finish()?;
        let zip =
            match change.code {
                CodeSource::Image => return Err(LambdaError::invalid(
                    "Please don't provide ImageUri when updating a function with packageType Zip.",
                )),
                other => zip_of(other)?,
            };
        self.store.read(|tx| {
            let function = load_function(tx, scope, &name)?;
            check_revision(&function.latest, change.revision_id.as_deref())?;
            check_mutable(scope, &function)?;
            signing::check_deploy(tx, scope, &name, Deploy::Update).map(|_| ())
        })?;
        if change.dry_run {
            let summary = codepkg::inspect(&zip, &codepkg::Limits::default())?;
            let code = code_of(&summary)?;
            let mut latest = self
                .get(
                    scope,
                    &FunctionRef {
                        name,
                        qualifier: None,
                    },
                )?
                .version;
            layers::check_total_size(&code, &latest.settings.layers)?;
            latest.code = code;
            return Ok(Changed {
                version: latest,
                job: None,
            });
        }
        let code = self.accept_package(&zip)?;
        let result = self.store.write(|tx| {
            let mut function = load_function(tx, scope, &name)?;
            check_revision(&function.latest, change.revision_id.as_deref())?;
            check_mutable(scope, &function)?;
            if let Some(config) = signing::check_deploy(tx, scope, &name, Deploy::Update)? {
                signing::record_deploy(tx, scope, &name, &config, false)?;
            }
            layers::check_total_size(&code, &function.latest.settings.layers)?;
            check_code_quota(tx, scope, code.code_size)?;
            self.ensure_blob(&code, &zip)?;
            let old = std::mem::replace(&mut function.latest.code, code.clone());
            if let Some(Some(arch)) = &architecture {
                function.latest.settings.architecture = arch.clone();
            }
            let job = start_update(scope, &mut function, runner);
            // New code runs once the update is done; what served before had the old code.
            function.serving = None;
            let shown = if change.publish {
                publish_in(tx, scope, &mut function, None, Status::creating())?
            } else {
                function.latest.clone()
            };
            tx.put_json(kind::FUNCTION, scope, &name, &function)?;
            Ok((
                Changed {
                    version: shown,
                    job: Some(job),
                },
                old.sha256_hex,
            ))
        });
        match result {
            Ok((changed, old)) => {
                self.collect_garbage(vec![old]);
                Ok(changed)
            }
            Err(e) => {
                self.collect_garbage(vec![code.sha256_hex]);
                Err(e)
            }
        }
    }

    /// UpdateFunctionConfiguration. Settings the change leaves out stay as they are.
    pub fn update_configuration(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        change: ConfigChange,
        runner: &str,
    ) -> Result<Changed, LambdaError> {
        let name = fref.unqualified()?.to_string();
        let mut v = Violations::default();
        if let Some(role) = &change.role {
            v.role(role);
        }
        let fields = check_fields(
            &mut v,
            FieldInput {
                handler: change.handler.as_deref(),
                description: change.description.as_deref(),
                timeout: change.timeout,
                memory_size: change.memory_size,
                ephemeral_storage: change.ephemeral_storage,
                environment: change.environment.as_ref(),
                vpc: change.vpc.as_ref(),
            },
        );
        change.options.check(&mut v);
        if let Some(arns) = &change.layers {
            layers::check_layer_arns(&mut v, arns);
        }
        v.finish()?;
        if let Some(runtime) = &change.runtime {
            validate::runtime(runtime)?;
        }
        if let Some(env) = &change.environment {
            validate::environment(env)?;
        }
        let result: Result<_, LambdaError> = self.store.write(|tx| {
            let mut function = load_function(tx, scope, &name)?;
            check_revision(&function.latest, change.revision_id.as_deref())?;
            check_mutable(scope, &function)?;
            let before = function.latest.clone();
            let new_layers = match &change.layers {
                Some(arns) => {
                    let resolved = layers::resolve_function_layers(tx, scope, arns)?;
                    layers::check_total_size(&function.latest.code, &resolved)?;
                    Some(resolved)
                }
                None => None,
            };
            let settings = &function.latest.settings;
            let role = change.role.clone().unwrap_or_else(|| settings.role.clone());
            let role_changed = change.role.is_some();
            let vpc = match (&change.vpc, role_changed) {
                (Some(req), _) => check_placement(tx, scope, &role, Some(req))?,
                (None, true) => {
                    // A new role must be able to manage the interfaces of the VPC the
                    // function already uses.
                    let current = settings.vpc.clone();
                    let info = vpc::assumable_role(tx, scope, &role)?;
                    if let Some(attached) = settings.attached_vpc() {
                        vpc::check_eni_permissions(tx, scope, &info, attached)?;
                    }
                    current
                }
                (None, false) => settings.vpc.clone(),
            };
            let s = &mut function.latest.settings;
            s.role = role;
            s.vpc = vpc;
            if let Some(h) = &change.handler {
                s.handler = h.clone();
            }
            if let Some(d) = &change.description {
                s.description = d.clone();
            }
            if let Some(t) = fields.timeout {
                s.timeout = t;
            }
            if let Some(m) = fields.memory_size {
                s.memory_size = m;
            }
            if let Some(e) = fields.ephemeral_storage {
                s.ephemeral_storage = e;
            }
            if let Some(r) = &change.runtime {
                s.runtime = r.clone();
            }
            if let Some(env) = &change.environment {
                s.environment = Some(env.clone()).filter(|e| !e.is_empty());
            }
            let mut released = Vec::new();
            if let Some(new_layers) = new_layers {
                let old = std::mem::replace(&mut s.layers, new_layers);
                released.extend(old.into_iter().map(|l| l.code.sha256_hex));
            }
            change.options.apply(s, &name)?;
            if change.options.tracing_mode.is_some() || role_changed {
                super::options::check_tracing_role(tx, scope, s)?;
            }
            let job = start_update(scope, &mut function, runner);
            if function.serving.is_none() {
                function.serving = Some(before);
            }
            tx.put_json(kind::FUNCTION, scope, &name, &function)?;
            Ok((
                Changed {
                    version: function.latest,
                    job: Some(job),
                },
                released,
            ))
        });
        let (changed, released) = result?;
        self.collect_garbage(released);
        Ok(changed)
    }

    /// PublishVersion. Publishing an unchanged `$LATEST` again returns the last version.
    pub fn publish(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        req: PublishRequest,
    ) -> Result<FunctionVersion, LambdaError> {
        let name = fref.unqualified()?.to_string();
        let mut v = Violations::default();
        if let Some(d) = &req.description {
            v.description(d, "description");
        }
        v.finish()?;
        self.store.write(|tx| {
            let mut function = load_function(tx, scope, &name)?;
            check_revision(&function.latest, req.revision_id.as_deref())?;
            check_mutable(scope, &function)?;
            if let Some(sha) = &req.code_sha256 {
                let current = &function.latest.code.code_sha256;
                if sha != current {
                    return Err(LambdaError::invalid(format!(
                        "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({current}). Please try again with the CodeSHA256 in $LATEST."
                    )));
                }
            }
            if function.last_published > 0 {
                let last = load_version(tx, scope, &name, &function.last_published.to_string())?;
                if let Some(last) = last.filter(|l| same_as_latest(l, &function.latest)) {
                    return Ok(last);
                }
            }
            check_code_quota(tx, scope, function.latest.code.code_size)?;
            let status = Status {
                state: State::Active,
                state_reason: None,
                last_update: None,
                last_update_reason: None,
            };
            let version = publish_in(tx, scope, &mut function, req.description.clone(), status)?;
            function.latest.revision_id = new_revision_id();
            tx.put_json(kind::FUNCTION, scope, &name, &function)?;
            Ok(version)
        })
    }

    /// Validates and measures a package, and stores it under its digest.
    pub(crate) fn accept_package(&self, zip: &[u8]) -> Result<Code, LambdaError> {
        let summary = codepkg::inspect(zip, &codepkg::Limits::default())?;
        let code = code_of(&summary)?;
        self.code.put(&code.sha256_hex, zip)?;
        Ok(code)
    }

    /// Inside a write transaction: the blob is there. Garbage collection runs in write
    /// transactions too, so once this returned the blob stays until this one commits.
    pub(crate) fn ensure_blob(&self, code: &Code, zip: &[u8]) -> Result<(), LambdaError> {
        if !self.code.has(&code.sha256_hex, code.code_size) {
            self.code.put(&code.sha256_hex, zip)?;
        }
        Ok(())
    }

    /// Removes the blobs among `candidates` that no function or version in any account
    /// names. Failures are logged, not returned: an orphaned blob only costs disk.
    pub fn collect_garbage(&self, candidates: Vec<String>) {
        let candidates: HashSet<String> = candidates.into_iter().collect();
        if candidates.is_empty() {
            return;
        }
        let result = self.store.write(|tx| {
            let used = referenced_blobs(tx)?;
            for sha in candidates.difference(&used) {
                self.code.remove(sha)?;
            }
            Ok::<_, LambdaError>(())
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not remove unused code packages");
        }
    }
}

/// The members create and update share, checked the same way.
struct FieldInput<'a> {
    handler: Option<&'a str>,
    description: Option<&'a str>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    ephemeral_storage: Option<i64>,
    environment: Option<&'a BTreeMap<String, String>>,
    vpc: Option<&'a VpcRequest>,
}

struct Fields {
    timeout: Option<u32>,
    memory_size: Option<u32>,
    ephemeral_storage: Option<u32>,
}

fn check_fields(v: &mut Violations, input: FieldInput<'_>) -> Fields {
    if let Some(h) = input.handler {
        v.handler(h);
    }
    if let Some(d) = input.description {
        v.description(d, "description");
    }
    let timeout = input
        .timeout
        .and_then(|t| v.range(t, "timeout", 1, Some(validate::MAX_TIMEOUT)));
    let memory_size = input.memory_size.and_then(|m| {
        v.range(
            m,
            "memorySize",
            validate::MIN_MEMORY,
            Some(validate::MAX_MEMORY),
        )
    });
    let ephemeral_storage = input.ephemeral_storage.and_then(|e| {
        v.range(
            e,
            "ephemeralStorage.size",
            validate::MIN_EPHEMERAL,
            Some(validate::MAX_EPHEMERAL),
        )
    });
    if let Some(env) = input.environment {
        v.environment_names(env);
    }
    if let Some(vpc) = input.vpc {
        v.vpc_lists(&vpc.subnet_ids, &vpc.security_group_ids);
    }
    Fields {
        timeout,
        memory_size,
        ephemeral_storage,
    }
}

/// The role and VPC checks in Lambda's order; returns the VPC configuration to store.
fn check_placement(
    tx: &mut dyn Tx,
    scope: &Scope,
    role: &str,
    vpc_req: Option<&VpcRequest>,
) -> Result<Option<VpcConfig>, LambdaError> {
    if let Some(req) = vpc_req {
        vpc::check_pairing(req)?;
    }
    let info = vpc::assumable_role(tx, scope, role)?;
    let Some(req) = vpc_req else {
        return Ok(None);
    };
    let config = vpc::resolve(tx, scope, req)?;
    vpc::check_eni_permissions(tx, scope, &info, &config)?;
    Ok(Some(config))
}

pub(crate) fn zip_of(source: CodeSource) -> Result<Vec<u8>, LambdaError> {
    match source {
        CodeSource::Zip(zip) => Ok(zip),
        CodeSource::Image => Err(LambdaError::invalid(
            "PackageType Image is not supported: this Lambda runs .zip file archives only. Use PackageType Zip with Code.ZipFile.",
        )),
        CodeSource::Absent | CodeSource::Empty => Err(LambdaError::invalid(
            "Please provide a source for function code.",
        )),
    }
}

fn code_of(summary: &codepkg::Summary) -> Result<Code, LambdaError> {
    let digest = STANDARD
        .decode(&summary.code_sha256)
        .map_err(|e| LambdaError::code_store("<digest>", std::io::Error::other(e)))?;
    Ok(Code {
        sha256_hex: hex::encode(digest),
        code_sha256: summary.code_sha256.clone(),
        code_size: summary.code_size,
        unzipped_size: summary.unzipped_size,
    })
}

fn already_exists(name: &str) -> LambdaError {
    LambdaError::conflict(format!("Function already exist: {name}"))
}

pub(crate) fn not_found(scope: &Scope, name: &str, qualifier: Option<&str>) -> LambdaError {
    LambdaError::FunctionNotFound {
        arn: function_arn(scope, name, qualifier),
    }
}

pub(crate) fn load_function(
    tx: &mut dyn Tx,
    scope: &Scope,
    name: &str,
) -> Result<Function, LambdaError> {
    tx.get_json(kind::FUNCTION, scope, name)?
        .ok_or_else(|| not_found(scope, name, None))
}

pub(crate) fn load_version(
    tx: &mut dyn Tx,
    scope: &Scope,
    name: &str,
    number: &str,
) -> Result<Option<FunctionVersion>, LambdaError> {
    let Ok(n) = number.parse::<u64>() else {
        return Ok(None);
    };
    Ok(tx.get_json(kind::VERSION, scope, &version_key(name, n))?)
}

/// The store id of a published version record.
pub(crate) fn version_key_of(version: &FunctionVersion) -> Result<String, LambdaError> {
    let n = version.version.parse::<u64>().map_err(|_| {
        LambdaError::Store(StoreError::Corrupt {
            kind: kind::VERSION.into(),
            id: version.function_name.clone(),
            source: serde::de::Error::custom(format!(
                "version '{}' is not a number",
                version.version
            )),
        })
    })?;
    Ok(version_key(&version.function_name, n))
}

fn version_number(version: &FunctionVersion) -> u64 {
    version.version.parse().unwrap_or(0)
}

/// The version `fref` names: `$LATEST`, a number, or an alias's primary version.
pub(crate) fn resolve(
    tx: &mut dyn Tx,
    scope: &Scope,
    fref: &FunctionRef,
) -> Result<Resolved, LambdaError> {
    let name = &fref.name;
    let qualifier = fref.qualifier.as_deref();
    let function: Function = tx
        .get_json(kind::FUNCTION, scope, name)?
        .ok_or_else(|| not_found(scope, name, qualifier))?;
    let (version, alias) = match qualifier {
        None | Some(LATEST) => (function.latest.clone(), None),
        Some(q) if is_version_number(q) => (
            load_version(tx, scope, name, q)?.ok_or_else(|| not_found(scope, name, Some(q)))?,
            None,
        ),
        Some(q) => {
            let alias: Alias = tx
                .get_json(kind::ALIAS, scope, &format!("{}{q}", children_prefix(name)))?
                .ok_or_else(|| not_found(scope, name, Some(q)))?;
            let version = if alias.function_version == LATEST {
                function.latest.clone()
            } else {
                load_version(tx, scope, name, &alias.function_version)?
                    .ok_or_else(|| not_found(scope, name, Some(&alias.function_version)))?
            };
            (version, Some(q.to_string()))
        }
    };
    Ok(Resolved {
        function,
        version,
        alias,
    })
}

fn pick_weighted(alias: &Alias) -> Option<String> {
    if alias.routing.is_empty() {
        return None;
    }
    let mut roll = fastrand::f64();
    for (version, weight) in &alias.routing {
        if roll < *weight {
            return Some(version.clone());
        }
        roll -= weight;
    }
    None
}

fn check_revision(latest: &FunctionVersion, given: Option<&str>) -> Result<(), LambdaError> {
    match given {
        Some(id) if id != latest.revision_id => Err(LambdaError::RevisionMismatch),
        _ => Ok(()),
    }
}

/// Whether `$LATEST` may change now: not while it is being created or updated.
fn check_mutable(scope: &Scope, function: &Function) -> Result<(), LambdaError> {
    let status = &function.latest.status;
    if status.state != State::Active {
        return Err(LambdaError::conflict(format!(
            "The operation cannot be performed at this time. The function is currently in the following state: {}",
            status.state.as_str()
        )));
    }
    if status.last_update == Some(UpdateStatus::InProgress) {
        return Err(LambdaError::conflict(format!(
            "The operation cannot be performed at this time. An update is in progress for resource: {}",
            function_arn(scope, &function.latest.function_name, None)
        )));
    }
    Ok(())
}

/// Marks `$LATEST` as changed and updating, and returns the job that will finish it.
fn start_update(scope: &Scope, function: &mut Function, runner: &str) -> ProvisionJob {
    let job_id = new_revision_id();
    let latest = &mut function.latest;
    latest.last_modified = timestamp_now();
    latest.revision_id = new_revision_id();
    latest.status = latest.status.updating();
    function.provisioning = Some(Provisioning {
        job_id: job_id.clone(),
        runner: runner.to_string(),
    });
    ProvisionJob {
        scope: scope.clone(),
        job_id,
        kind: JobKind::Update,
        version: function.latest.clone(),
    }
}

/// Freezes `$LATEST` as the next version number and stores it.
fn publish_in(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &mut Function,
    description: Option<String>,
    status: Status,
) -> Result<FunctionVersion, LambdaError> {
    function.last_published += 1;
    let number = function.last_published;
    let mut version = function.latest.clone();
    version.version = number.to_string();
    if let Some(d) = description {
        version.settings.description = d;
    }
    version.revision_id = new_revision_id();
    version.status = status;
    version.status.last_update = None;
    version.status.last_update_reason = None;
    tx.put_json(
        kind::VERSION,
        scope,
        &version_key(&version.function_name, number),
        &version,
    )?;
    Ok(version)
}

/// Whether publishing `latest` would only repeat `last` (descriptions aside).
fn same_as_latest(last: &FunctionVersion, latest: &FunctionVersion) -> bool {
    let mut a = last.settings.clone();
    let mut b = latest.settings.clone();
    a.description.clear();
    b.description.clear();
    a == b && last.code == latest.code
}

pub(crate) fn check_code_quota(
    tx: &mut dyn Tx,
    scope: &Scope,
    adding: u64,
) -> Result<(), LambdaError> {
    if code_usage(tx, scope)?.saturating_add(adding) > TOTAL_CODE_SIZE_LIMIT {
        return Err(LambdaError::CodeStorageExceeded);
    }
    Ok(())
}

/// Bytes of code the account's functions, versions and layer versions hold in this region.
pub(crate) fn code_usage(tx: &mut dyn Tx, scope: &Scope) -> Result<u64, LambdaError> {
    let mut total = 0u64;
    for kind in [kind::FUNCTION, kind::VERSION, kind::LAYER_VERSION] {
        for (_, body) in tx.list(kind, scope, "")? {
            total = total.saturating_add(code_size_of(kind, &body));
        }
    }
    Ok(total)
}

/// Only the code member of a record, so scans need not decode whole configurations.
#[derive(Deserialize)]
struct CodeOf {
    code: CodeRef,
}

#[derive(Deserialize)]
struct LatestOf {
    latest: CodeOf,
}

#[derive(Deserialize)]
struct CodeRef {
    sha256_hex: String,
    code_size: u64,
}

/// The packages a record names: its code and its layers'.
#[derive(Deserialize)]
struct BlobsOf {
    code: CodeRef,
    #[serde(default)]
    settings: LayersOf,
}

#[derive(Deserialize)]
struct LatestBlobsOf {
    latest: BlobsOf,
}

#[derive(Deserialize, Default)]
struct LayersOf {
    #[serde(default)]
    layers: Vec<CodeOf>,
}

impl BlobsOf {
    fn shas(self) -> Vec<String> {
        let mut shas = vec![self.code.sha256_hex];
        shas.extend(self.settings.layers.into_iter().map(|l| l.code.sha256_hex));
        shas
    }
}

/// Every blob a function, version or layer version record names; `None` if unreadable.
fn blobs_named(kind: &str, body: &[u8]) -> Option<Vec<String>> {
    let blobs = if kind == kind::FUNCTION {
        serde_json::from_slice::<LatestBlobsOf>(body).ok()?.latest
    } else {
        serde_json::from_slice::<BlobsOf>(body).ok()?
    };
    Some(blobs.shas())
}

fn blobs_of_version(version: &FunctionVersion) -> Vec<String> {
    let mut shas = vec![version.code.sha256_hex.clone()];
    shas.extend(
        version
            .settings
            .layers
            .iter()
            .map(|l| l.code.sha256_hex.clone()),
    );
    shas
}

fn code_ref(kind: &str, body: &[u8]) -> Option<CodeRef> {
    if kind == kind::FUNCTION {
        serde_json::from_slice::<LatestOf>(body)
            .ok()
            .map(|f| f.latest.code)
    } else {
        serde_json::from_slice::<CodeOf>(body).ok().map(|v| v.code)
    }
}

fn code_size_of(kind: &str, body: &[u8]) -> u64 {
    code_ref(kind, body).map_or(0, |c| c.code_size)
}

/// Every blob a function, version or layer version in any account and region names,
/// the packages of functions' layers included.
fn referenced_blobs(tx: &mut dyn Tx) -> Result<HashSet<String>, LambdaError> {
    let mut used = HashSet::new();
    for kind in [kind::FUNCTION, kind::VERSION, kind::LAYER_VERSION] {
        for (_, _, body) in tx.list_all(kind)? {
            match blobs_named(kind, &body) {
                Some(shas) => used.extend(shas),
                // A record we cannot read might name anything: keep every blob.
                None => {
                    return Err(LambdaError::Store(StoreError::Corrupt {
                        kind: kind.into(),
                        id: String::new(),
                        source: serde::de::Error::custom("record without a readable code member"),
                    }))
                }
            }
        }
    }
    Ok(used)
}

fn page_size(max_items: Option<i64>) -> Result<usize, LambdaError> {
    match max_items {
        None => Ok(DEFAULT_PAGE),
        Some(n) => {
            let mut v = Violations::default();
            let n = v.range(n, "maxItems", 1, Some(MAX_PAGE));
            v.finish()?;
            Ok(n.map_or(DEFAULT_PAGE, |n| n as usize))
        }
    }
}

/// Cuts `items` (in order, keyed by (function, version number)) into a page after `marker`.
/// Markers are opaque to clients; they encode the key of the last item returned.
pub(crate) fn paginate<T>(
    items: Vec<((String, u64), T)>,
    marker: Option<&str>,
    max: usize,
) -> Result<Page<T>, LambdaError> {
    let after = match marker.filter(|m| !m.is_empty()) {
        None => None,
        Some(m) => Some(
            decode_marker(m).ok_or_else(|| LambdaError::invalid(format!("Invalid marker: {m}")))?,
        ),
    };
    let mut rest = items
        .into_iter()
        .filter(|(key, _)| after.as_ref().is_none_or(|a| key > a))
        .peekable();
    let mut page = Vec::new();
    let mut last = None;
    while page.len() < max {
        let Some((key, item)) = rest.next() else {
            break;
        };
        last = Some(key);
        page.push(item);
    }
    let next_marker = match (rest.peek(), last) {
        (Some(_), Some((name, n))) => Some(URL_SAFE_NO_PAD.encode(format!("{n}:{name}"))),
        _ => None,
    };
    Ok(Page {
        items: page,
        next_marker,
    })
}

fn decode_marker(marker: &str) -> Option<(String, u64)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(marker).ok()?).ok()?;
    let (n, name) = raw.split_once(':')?;
    Some((name.to_string(), n.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_every_item_once() {
        let items: Vec<_> = (0..7)
            .map(|i| ((format!("f{}", i / 3), (i % 3) as u64), i))
            .collect();
        let mut seen = Vec::new();
        let mut marker = None;
        loop {
            let page = paginate(items.clone(), marker.as_deref(), 3).unwrap();
            seen.extend(page.items);
            match page.next_marker {
                Some(m) => marker = Some(m),
                None => break,
            }
        }
        assert_eq!(seen, (0..7).collect::<Vec<_>>());
        assert!(paginate(items, Some("%%%"), 3).is_err());
    }
}
