//! Hyperplane ENIs (AWS since 2019): one ENI per (account, subnet, security-group set),
//! shared by every function that uses that combination, created with the execution role's
//! permissions while the function is `Pending` (or its update `InProgress`), and deleted
//! after the reclaim delay once its last user lets go — with the role's permissions, or
//! left `available` for the user when the role can no longer delete it (the seed's warning
//! about deleting the role too early).

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::hyperplane_key;
use crate::ec2::error::Ec2Error;
use crate::ec2::network_interface::{self, NewAttachment, NewNetworkInterface};
use crate::iam::lookup as roles;
use crate::lambda::{
    kind as lambda_kind, Function, FunctionProvisioner, FunctionVersion, Outcome, ProvisionJob,
};
use crate::store::{Scope, Store, StoreError, Tx, TxExt};

/// Store kind of a shared ENI, id = [`hyperplane_key`].
pub const SHARED_ENI: &str = "eni.hyperplane";

/// A shared ENI and the functions using it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedEni {
    pub key: String,
    pub eni_id: String,
    pub subnet_id: String,
    pub security_group_ids: Vec<String>,
    /// Function names using it.
    pub users: BTreeSet<String>,
    /// The execution role it is deleted with (the last user's).
    pub role_arn: String,
    /// When it is deleted (epoch ms), once no function uses it.
    pub release_at: Option<i64>,
}

/// Knobs of the hyperplane model.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// ENIs an account may have in a region (EC2's quota), counting every ENI.
    pub account_eni_quota: usize,
    /// How long an unused ENI lingers before it is deleted (AWS: about 20 minutes).
    pub reclaim_delay: Duration,
    /// How long creating a shared ENI takes: the start-up penalty the hyperplane model moved
    /// from cold starts to `Pending`/`InProgress` (0 by default).
    pub create_delay: Duration,
}

/// Why a function's ENIs could not be set up: Lambda's reason code and text.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{reason}")]
    Failed {
        reason_code: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SetupError {
    fn failed(reason_code: &'static str, reason: impl Into<String>) -> Self {
        SetupError::Failed {
            reason_code,
            reason: reason.into(),
        }
    }

    fn from_ec2(e: Ec2Error) -> Self {
        match e {
            Ec2Error::Store(e) => SetupError::Store(e),
            Ec2Error::InsufficientFreeAddresses(_) => SetupError::failed(
                "SubnetOutOfIPAddresses",
                "Lambda was unable to create an ENI in the VPC of the Lambda function because the subnet has no available IP addresses.",
            ),
            other => match other.code() {
                "InvalidSubnetID.NotFound" => SetupError::failed("InvalidSubnet", other.to_string()),
                "InvalidGroup.NotFound" => SetupError::failed("InvalidSecurityGroup", other.to_string()),
                _ => SetupError::failed("InternalError", other.to_string()),
            },
        }
    }
}

/// The keys (and subnets) a version's VPC configuration needs.
fn wanted(version: &FunctionVersion) -> Vec<(String, String, Vec<String>)> {
    version
        .settings
        .attached_vpc()
        .map(|vpc| {
            vpc.subnet_ids
                .iter()
                .map(|s| {
                    (
                        hyperplane_key(s, &vpc.security_group_ids),
                        s.clone(),
                        vpc.security_group_ids.clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Makes sure every (subnet, security-group set) of `version` has its shared ENI and that
/// the function is among its users; lets go of the ones it no longer uses. All or nothing:
/// an error rolls the transaction back.
pub fn attach_function(
    tx: &mut dyn Tx,
    scope: &Scope,
    version: &FunctionVersion,
    settings: &Settings,
    now_ms: i64,
) -> Result<Vec<String>, SetupError> {
    let function = &version.function_name;
    let wanted = wanted(version);
    let keys: BTreeSet<&str> = wanted.iter().map(|(k, _, _)| k.as_str()).collect();
    for mut shared in tx.list_json::<SharedEni>(SHARED_ENI, scope, "")? {
        if shared.users.contains(function) && !keys.contains(shared.key.as_str()) {
            shared.users.remove(function);
            release_if_unused(&mut shared, settings, now_ms);
            tx.put_json(SHARED_ENI, scope, &shared.key, &shared)?;
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let role =
        roles::role_by_arn(tx, &scope.account, &version.settings.role)?.ok_or_else(|| {
            SetupError::failed(
                "InsufficientRolePermissions",
                "The function's execution role does not exist.",
            )
        })?;
    let mut enis = Vec::new();
    for (key, subnet_id, groups) in wanted {
        if let Some(mut shared) = tx.get_json::<SharedEni>(SHARED_ENI, scope, &key)? {
            shared.users.insert(function.clone());
            shared.release_at = None;
            shared.role_arn = role.arn.clone();
            tx.put_json(SHARED_ENI, scope, &key, &shared)?;
            enis.push(shared.eni_id);
            continue;
        }
        if !roles::is_allowed(tx, &scope.account, &role, "ec2:CreateNetworkInterface", "*")? {
            return Err(SetupError::failed(
                "InsufficientRolePermissions",
                "The provided execution role does not have permissions to call CreateNetworkInterface on EC2",
            ));
        }
        let in_use = tx
            .list(crate::ec2::model::kind::NETWORK_INTERFACE, scope, "")?
            .len();
        if in_use >= settings.account_eni_quota {
            return Err(SetupError::failed(
                "EniLimitExceeded",
                "You have exceeded the maximum limit for Hyperplane ENIs for your account.",
            ));
        }
        let eni = network_interface::create(
            tx,
            scope,
            &NewNetworkInterface {
                subnet_id: Some(subnet_id.clone()),
                security_groups: Some(groups.clone()),
                description: Some(format!(
                    "AWS Lambda VPC ENI-{function}-{}",
                    uuid::Uuid::new_v4()
                )),
                interface_type: Some("lambda".into()),
                requester_id: Some(format!("{}:{function}", role.role_id)),
                requester_managed: false,
                attachment: Some(NewAttachment {
                    id_prefix: "ela-attach".into(),
                    instance_owner_id: "amazon-aws".into(),
                    instance_id: None,
                    device_index: 1,
                }),
                ..NewNetworkInterface::default()
            },
            None,
        )
        .map_err(SetupError::from_ec2)?;
        let shared = SharedEni {
            key: key.clone(),
            eni_id: eni.id.clone(),
            subnet_id,
            security_group_ids: groups,
            users: BTreeSet::from([function.clone()]),
            role_arn: role.arn.clone(),
            release_at: None,
        };
        tx.put_json(SHARED_ENI, scope, &key, &shared)?;
        enis.push(eni.id);
    }
    Ok(enis)
}

fn release_if_unused(shared: &mut SharedEni, settings: &Settings, now_ms: i64) {
    if shared.users.is_empty() && shared.release_at.is_none() {
        let delay = i64::try_from(settings.reclaim_delay.as_millis()).unwrap_or(i64::MAX);
        shared.release_at = Some(now_ms.saturating_add(delay));
    }
}

/// Whether `function` (any of its versions) still uses `key`.
fn still_uses(
    tx: &mut dyn Tx,
    scope: &Scope,
    function: &str,
    key: &str,
) -> Result<bool, StoreError> {
    let Some(f) = tx.get_json::<Function>(lambda_kind::FUNCTION, scope, function)? else {
        return Ok(false);
    };
    let serving = f.serving.iter();
    if std::iter::once(&f.latest)
        .chain(serving)
        .any(|v| wanted(v).iter().any(|(k, _, _)| k == key))
    {
        return Ok(true);
    }
    let versions: Vec<FunctionVersion> =
        tx.list_json(lambda_kind::VERSION, scope, &format!("{function}:"))?;
    Ok(versions
        .iter()
        .any(|v| wanted(v).iter().any(|(k, _, _)| k == key)))
}

/// What a reclaim pass did to one ENI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reclaimed {
    /// Deleted with the execution role's permissions.
    Deleted { scope: Scope, eni_id: String },
    /// The role is gone or may not delete it: detached and left `available` for the user.
    LeftAvailable { scope: Scope, eni_id: String },
}

/// One pass of the reclaimer over hyperplane and legacy ENI records: drops users that no longer exist or no longer use an ENI
/// (deleted functions, detached VPC configurations), starts the delay for unused ENIs,
/// and deletes (or leaves `available`) those whose delay is over.
pub fn reclaim(
    store: &Store,
    settings: &Settings,
    now_ms: i64,
) -> Result<Vec<Reclaimed>, StoreError> {
    store.write(|tx| {
        let mut done = Vec::new();
        let mut records = Vec::new();
        for kind in [SHARED_ENI, super::LEGACY_ENI] {
            records.extend(
                tx.list_all(kind)?
                    .into_iter()
                    .map(|(scope, id, body)| (kind, scope, id, body)),
            );
        }
        for (kind, scope, id, body) in records {
            let Ok(mut shared) = serde_json::from_slice::<SharedEni>(&body) else {
                continue;
            };
            let before = shared.clone();
            let users: Vec<String> = shared.users.iter().cloned().collect();
            for user in users {
                if !still_uses(tx, &scope, &user, &shared.key)? {
                    shared.users.remove(&user);
                }
            }
            release_if_unused(&mut shared, settings, now_ms);
            match shared.release_at {
                Some(at) if shared.users.is_empty() && at <= now_ms => {
                    done.push(release(tx, &scope, &shared)?);
                    tx.delete(kind, &scope, &id)?;
                }
                _ if shared != before => tx.put_json(kind, &scope, &id, &shared)?,
                _ => {}
            }
        }
        Ok(done)
    })
}

fn release(tx: &mut dyn Tx, scope: &Scope, shared: &SharedEni) -> Result<Reclaimed, StoreError> {
    let may_delete = match roles::role_by_arn(tx, &scope.account, &shared.role_arn)? {
        Some(role) => {
            roles::is_allowed(tx, &scope.account, &role, "ec2:DeleteNetworkInterface", "*")?
        }
        None => false,
    };
    let result = if may_delete {
        network_interface::delete_managed(tx, scope, &shared.eni_id).map(|()| Reclaimed::Deleted {
            scope: scope.clone(),
            eni_id: shared.eni_id.clone(),
        })
    } else {
        network_interface::detach_managed(tx, scope, &shared.eni_id).map(|_| {
            Reclaimed::LeftAvailable {
                scope: scope.clone(),
                eni_id: shared.eni_id.clone(),
            }
        })
    };
    match result {
        Ok(r) => Ok(r),
        // The user already deleted it by hand: nothing left to reclaim.
        Err(Ec2Error::NotFound { .. }) => Ok(Reclaimed::Deleted {
            scope: scope.clone(),
            eni_id: shared.eni_id.clone(),
        }),
        Err(Ec2Error::Store(e)) => Err(e),
        Err(other) => {
            tracing::warn!(eni = %shared.eni_id, error = %other, "cannot reclaim ENI");
            Ok(Reclaimed::LeftAvailable {
                scope: scope.clone(),
                eni_id: shared.eni_id.clone(),
            })
        }
    }
}

/// The provisioner of the hyperplane model: sets up a function's shared ENIs while it is
/// `Pending`/`InProgress` and reports Lambda's reason code when it cannot.
pub struct HyperplaneProvisioner {
    store: Store,
    settings: Settings,
}

impl HyperplaneProvisioner {
    pub fn new(store: Store, settings: Settings) -> Self {
        HyperplaneProvisioner { store, settings }
    }
}

/// Whether some (subnet, security-group set) of `version` has no shared ENI yet.
fn needs_new_eni(
    tx: &mut dyn Tx,
    scope: &Scope,
    version: &FunctionVersion,
) -> Result<bool, StoreError> {
    for (key, _, _) in wanted(version) {
        if tx.get(SHARED_ENI, scope, &key)?.is_none() {
            return Ok(true);
        }
    }
    Ok(false)
}

impl FunctionProvisioner for HyperplaneProvisioner {
    fn provision(&self, job: &ProvisionJob) -> Outcome {
        if !self.settings.create_delay.is_zero()
            && self
                .store
                .read(|tx| needs_new_eni(tx, &job.scope, &job.version))
                .unwrap_or(false)
        {
            // Called on a blocking thread: the transition stays Pending/InProgress meanwhile.
            std::thread::sleep(self.settings.create_delay);
        }
        let now = chrono::Utc::now().timestamp_millis();
        match self
            .store
            .write(|tx| attach_function(tx, &job.scope, &job.version, &self.settings, now))
        {
            Ok(_) => Outcome::Ready,
            Err(SetupError::Failed {
                reason_code,
                reason,
            }) => Outcome::Failed {
                reason_code: reason_code.into(),
                reason,
            },
            Err(SetupError::Store(e)) => {
                tracing::error!(error = %e, "ENI setup failed in the store");
                Outcome::Failed {
                    reason_code: "InternalError".into(),
                    reason: "An internal error occurred while setting up the function's network interfaces.".into(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::security_group::{self, NewSecurityGroup};
    use crate::ec2::subnet::{self, NewSubnet};
    use crate::ec2::vpc::{self, NewVpc};
    use crate::iam::{attach_role_policy, create_role, detach_role_policy, NewRole};
    use crate::lambda::{CodeSource, FunctionRef, FunctionSpec, Lambda, VpcConfig};

    const ACCOUNT: &str = "000000000000";
    const VPC_ACCESS: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole";
    const BASIC: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
    const SETTINGS: Settings = Settings {
        account_eni_quota: 100,
        reclaim_delay: Duration::from_secs(2),
        create_delay: Duration::ZERO,
    };

    struct World {
        _dir: tempfile::TempDir,
        store: Store,
        lambda: Lambda,
        scope: Scope,
        subnet: String,
        groups: [String; 2],
    }

    fn role(store: &Store, name: &str, policy: &str) -> String {
        store
            .write(|tx| -> Result<String, crate::iam::IamError> {
                let r = create_role(
                    tx,
                    ACCOUNT,
                    NewRole {
                        name: name.into(),
                        trust_policy: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.into(),
                        ..Default::default()
                    },
                )?;
                attach_role_policy(tx, ACCOUNT, name, policy)?;
                Ok(r.arn)
            })
            .unwrap()
    }

    fn world() -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).unwrap();
        let scope = Scope::new(ACCOUNT, "us-east-1");
        let (subnet, groups) = store
            .write(|tx| -> Result<_, Ec2Error> {
                let v = vpc::create(
                    tx,
                    &scope,
                    &NewVpc {
                        cidr_block: Some("10.0.0.0/16".into()),
                        ..NewVpc::default()
                    },
                )?;
                let sn = subnet::create(
                    tx,
                    &scope,
                    &NewSubnet {
                        vpc_id: Some(v.id.clone()),
                        cidr_block: Some("10.0.1.0/28".into()),
                        ..NewSubnet::default()
                    },
                )?;
                let mut groups = Vec::new();
                for name in ["a", "b"] {
                    let g = security_group::create(
                        tx,
                        &scope,
                        &NewSecurityGroup {
                            name: Some(name.into()),
                            description: Some(name.into()),
                            vpc_id: Some(v.id.clone()),
                            ..NewSecurityGroup::default()
                        },
                    )?;
                    groups.push(g.id);
                }
                Ok((sn.id, [groups[0].clone(), groups[1].clone()]))
            })
            .unwrap();
        role(&store, "exec", VPC_ACCESS);
        World {
            lambda: Lambda::new(store.clone(), dir.path()),
            _dir: dir,
            store,
            scope,
            subnet,
            groups,
        }
    }

    /// `$LATEST` of a new function, configured for `groups` in the world's subnet.
    fn version(w: &World, name: &str, role_arn: &str, groups: &[String]) -> FunctionVersion {
        w.lambda
            .create(
                &w.scope,
                FunctionSpec {
                    function_name: Some(name.into()),
                    runtime: Some("provided.al2023".into()),
                    role: Some(role_arn.into()),
                    handler: Some("bootstrap".into()),
                    code: CodeSource::Zip(minimal_zip()),
                    ..Default::default()
                },
                "test",
            )
            .unwrap();
        let mut v = w
            .lambda
            .get(
                &w.scope,
                &FunctionRef {
                    name: name.into(),
                    qualifier: None,
                },
            )
            .unwrap()
            .version;
        v.settings.vpc = Some(VpcConfig {
            subnet_ids: vec![w.subnet.clone()],
            security_group_ids: groups.to_vec(),
            vpc_id: String::new(),
            ipv6_allowed_for_dual_stack: false,
        });
        v
    }

    /// An empty zip archive: the end-of-central-directory record alone.
    fn minimal_zip() -> Vec<u8> {
        let mut z = 0x0605_4b50u32.to_le_bytes().to_vec();
        z.extend_from_slice(&[0; 18]);
        z
    }

    fn attach(w: &World, v: &FunctionVersion) -> Result<Vec<String>, SetupError> {
        w.store
            .write(|tx| attach_function(tx, &w.scope, v, &SETTINGS, 0))
    }

    const ROLE: &str = "arn:aws:iam::000000000000:role/exec";

    #[test]
    fn functions_with_the_same_subnet_and_groups_share_one_eni() {
        let w = world();
        let one = attach(&w, &version(&w, "one", ROLE, &[w.groups[0].clone()])).unwrap();
        let two = attach(&w, &version(&w, "two", ROLE, &[w.groups[0].clone()])).unwrap();
        let three = attach(&w, &version(&w, "three", ROLE, &[w.groups[1].clone()])).unwrap();
        assert_eq!(one, two);
        assert_ne!(one, three);
        let shared: Vec<SharedEni> = w
            .store
            .read(|tx| tx.list_json(SHARED_ENI, &w.scope, ""))
            .unwrap();
        assert_eq!(shared.len(), 2);
        let eni = w
            .store
            .read(|tx| network_interface::get(tx, &w.scope, &one[0]))
            .unwrap();
        assert_eq!(eni.interface_type, "lambda");
        assert!(
            eni.description.starts_with("AWS Lambda VPC ENI-one-"),
            "{}",
            eni.description
        );
        assert_eq!(
            eni.attachment
                .as_ref()
                .map(|a| a.instance_owner_id.as_str()),
            Some("amazon-aws")
        );
    }

    #[test]
    fn a_role_without_eni_permissions_fails_with_lambdas_reason() {
        let w = world();
        let basic = role(&w.store, "basic", BASIC);
        let err = attach(&w, &version(&w, "f", &basic, &[w.groups[0].clone()])).unwrap_err();
        assert!(
            matches!(
                err,
                SetupError::Failed {
                    reason_code: "InsufficientRolePermissions",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_full_subnet_fails_with_subnet_out_of_addresses() {
        let w = world();
        // A /28 has 11 usable addresses: use them with one group set per function.
        w.store
            .write(|tx| -> Result<(), Ec2Error> {
                for _ in 0..11 {
                    network_interface::create(
                        tx,
                        &w.scope,
                        &NewNetworkInterface {
                            subnet_id: Some(w.subnet.clone()),
                            ..NewNetworkInterface::default()
                        },
                        None,
                    )?;
                }
                Ok(())
            })
            .unwrap();
        let err = attach(&w, &version(&w, "f", ROLE, &[w.groups[0].clone()])).unwrap_err();
        assert!(
            matches!(
                err,
                SetupError::Failed {
                    reason_code: "SubnetOutOfIPAddresses",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn the_configuration_still_serving_keeps_its_eni() {
        let w = world();
        let old = version(&w, "f", ROLE, &[w.groups[0].clone()]);
        let eni = attach(&w, &old).unwrap().remove(0);
        let set_function = |latest_groups: &[String], serving: Option<&FunctionVersion>| {
            w.store
                .write(|tx| -> Result<(), StoreError> {
                    let mut f: Function = tx
                        .get_json(lambda_kind::FUNCTION, &w.scope, "f")?
                        .expect("the function");
                    let mut latest = old.clone();
                    if let Some(vpc) = &mut latest.settings.vpc {
                        vpc.security_group_ids = latest_groups.to_vec();
                    }
                    f.latest = latest;
                    f.serving = serving.cloned();
                    tx.put_json(lambda_kind::FUNCTION, &w.scope, "f", &f)
                })
                .unwrap()
        };
        // An update to the other group set is in progress: the old configuration serves.
        set_function(&[w.groups[1].clone()], Some(&old));
        reclaim(&w.store, &SETTINGS, 1_000).unwrap();
        assert!(
            reclaim(&w.store, &SETTINGS, 100_000).unwrap().is_empty(),
            "in use by the configuration still serving"
        );
        // The update is done: nothing runs the old configuration any more.
        set_function(&[w.groups[1].clone()], None);
        assert!(reclaim(&w.store, &SETTINGS, 200_000).unwrap().is_empty());
        let done = reclaim(&w.store, &SETTINGS, 202_000).unwrap();
        assert_eq!(
            done,
            vec![Reclaimed::Deleted {
                scope: w.scope.clone(),
                eni_id: eni
            }]
        );
    }

    #[test]
    fn reclaim_deletes_after_the_delay_or_leaves_the_eni_available() {
        let w = world();
        let v = version(&w, "f", ROLE, &[w.groups[0].clone()]);
        let eni = attach(&w, &v).unwrap().remove(0);
        assert!(
            reclaim(&w.store, &SETTINGS, 1_000).unwrap().is_empty(),
            "still in use"
        );
        w.lambda
            .delete(
                &w.scope,
                &FunctionRef {
                    name: "f".into(),
                    qualifier: None,
                },
            )
            .unwrap();
        assert!(
            reclaim(&w.store, &SETTINGS, 1_000).unwrap().is_empty(),
            "the delay starts now"
        );
        assert!(
            reclaim(&w.store, &SETTINGS, 2_999).unwrap().is_empty(),
            "not yet"
        );
        let done = reclaim(&w.store, &SETTINGS, 3_000).unwrap();
        assert_eq!(
            done,
            vec![Reclaimed::Deleted {
                scope: w.scope.clone(),
                eni_id: eni.clone()
            }]
        );
        assert!(w
            .store
            .read(|tx| network_interface::get(tx, &w.scope, &eni))
            .is_err());

        let v = version(&w, "g", ROLE, &[w.groups[1].clone()]);
        let eni = attach(&w, &v).unwrap().remove(0);
        w.store
            .write(|tx| detach_role_policy(tx, ACCOUNT, "exec", VPC_ACCESS))
            .unwrap();
        w.lambda
            .delete(
                &w.scope,
                &FunctionRef {
                    name: "g".into(),
                    qualifier: None,
                },
            )
            .unwrap();
        reclaim(&w.store, &SETTINGS, 10_000).unwrap();
        let done = reclaim(&w.store, &SETTINGS, 20_000).unwrap();
        assert_eq!(
            done,
            vec![Reclaimed::LeftAvailable {
                scope: w.scope.clone(),
                eni_id: eni.clone()
            }]
        );
        let left = w
            .store
            .read(|tx| network_interface::get(tx, &w.scope, &eni))
            .unwrap();
        assert_eq!(left.status, "available");
    }
}
