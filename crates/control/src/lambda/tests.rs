//! The Lambda domain against a real SQLite store in a temp dir: the state machine and its
//! jobs, conflicts, publishing, and code-store garbage collection.

use std::path::Path;

use super::*;
use crate::iam::{create_role, NewRole};
use crate::store::{Scope, Store};

pub(super) const ACCOUNT: &str = "123456789012";
pub(super) const ROLE: &str = "arn:aws:iam::123456789012:role/exec";

pub(super) struct World {
    pub(super) _dir: tempfile::TempDir,
    pub(super) lambda: Lambda,
    pub(super) scope: Scope,
}

pub(super) fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path()).unwrap();
    store
        .write(|tx| {
            create_role(
                tx,
                ACCOUNT,
                NewRole {
                    name: "exec".into(),
                    trust_policy: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.into(),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    World {
        lambda: Lambda::new(store, dir.path()),
        _dir: dir,
        scope: Scope::new(ACCOUNT, "us-east-1"),
    }
}

/// A zip with one stored (uncompressed) file.
pub(super) fn zip(name: &str, data: &[u8]) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let crc = crc32(data);
    let (n, len) = (name.len() as u16, data.len() as u32);
    let mut out = Vec::new();
    out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(data);
    let central = out.len() as u32;
    out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0x14, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&(0o100_755u32 << 16).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    let size = out.len() as u32 - central;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&central.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

pub(super) fn spec(name: &str, code: &[u8]) -> FunctionSpec {
    FunctionSpec {
        function_name: Some(name.into()),
        runtime: Some("provided.al2023".into()),
        role: Some(ROLE.into()),
        handler: Some("bootstrap".into()),
        code: CodeSource::Zip(code.to_vec()),
        ..Default::default()
    }
}

pub(super) fn named(name: &str) -> FunctionRef {
    FunctionRef {
        name: name.into(),
        qualifier: None,
    }
}

fn latest(w: &World, name: &str) -> FunctionVersion {
    w.lambda.get(&w.scope, &named(name)).unwrap().version
}

pub(super) fn blob_count(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("code"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".zip"))
            })
            .count()
        })
        .unwrap_or(0)
}

#[test]
fn create_is_pending_until_its_job_finishes() {
    let w = world();
    let created = w
        .lambda
        .create(&w.scope, spec("f", &zip("bootstrap", b"hi")), "runner-a")
        .unwrap();
    assert_eq!(created.version.status, Status::creating());
    let job = created.job.unwrap();
    assert_eq!(job.kind, JobKind::Create);

    let update = w.lambda.update_configuration(
        &w.scope,
        &named("f"),
        ConfigChange {
            timeout: Some(10),
            ..Default::default()
        },
        "runner-a",
    );
    assert_eq!(
        update.unwrap_err().to_string(),
        "The operation cannot be performed at this time. The function is currently in the following state: Pending"
    );

    assert!(w.lambda.finish(&job, &Outcome::Ready).unwrap());
    assert!(
        !w.lambda.finish(&job, &Outcome::Ready).unwrap(),
        "a job applies once"
    );
    let v = latest(&w, "f");
    assert_eq!(v.status.state, State::Active);
    assert_eq!(v.status.last_update, Some(UpdateStatus::Successful));
    assert_ne!(v.revision_id, created.version.revision_id);
}

#[test]
fn an_update_in_progress_refuses_the_next_one() {
    let w = world();
    let job = w
        .lambda
        .create(&w.scope, spec("f", &zip("bootstrap", b"hi")), "r")
        .unwrap()
        .job
        .unwrap();
    w.lambda.finish(&job, &Outcome::Ready).unwrap();
    let change = || ConfigChange {
        memory_size: Some(256),
        ..Default::default()
    };
    let first = w
        .lambda
        .update_configuration(&w.scope, &named("f"), change(), "r")
        .unwrap();
    assert_eq!(
        first.version.status.last_update,
        Some(UpdateStatus::InProgress)
    );
    let second = w
        .lambda
        .update_configuration(&w.scope, &named("f"), change(), "r")
        .unwrap_err();
    assert_eq!(
        second.to_string(),
        "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:123456789012:function:f"
    );
    let failed = Outcome::Failed {
        reason_code: "SubnetOutOfIPAddresses".into(),
        reason: "no addresses".into(),
    };
    w.lambda.finish(&first.job.unwrap(), &failed).unwrap();
    let v = latest(&w, "f");
    assert_eq!(
        v.status.state,
        State::Active,
        "a failed update keeps the function active"
    );
    assert_eq!(v.status.last_update, Some(UpdateStatus::Failed));
    assert_eq!(
        v.status.last_update_reason,
        Some(Reason::new("no addresses", "SubnetOutOfIPAddresses"))
    );
}

#[test]
fn the_old_configuration_serves_until_an_update_is_ready() {
    let w = world();
    let job = w
        .lambda
        .create(&w.scope, spec("f", &zip("bootstrap", b"hi")), "r")
        .unwrap()
        .job
        .unwrap();
    w.lambda.finish(&job, &Outcome::Ready).unwrap();
    let update = |memory| {
        w.lambda
            .update_configuration(
                &w.scope,
                &named("f"),
                ConfigChange {
                    memory_size: Some(memory),
                    ..Default::default()
                },
                "r",
            )
            .unwrap()
            .job
            .unwrap()
    };
    let served = || {
        w.lambda
            .runnable(&w.scope, &named("f"))
            .unwrap()
            .version
            .settings
            .memory_size
    };
    let first = update(256);
    assert_eq!(latest(&w, "f").settings.memory_size, 256);
    assert_eq!(served(), 128, "InProgress: the old configuration runs");
    let failed = Outcome::Failed {
        reason_code: "SubnetOutOfIPAddresses".into(),
        reason: "no addresses".into(),
    };
    w.lambda.finish(&first, &failed).unwrap();
    assert_eq!(served(), 128, "a failed update keeps the last ready one");
    let second = update(512);
    assert_eq!(served(), 128);
    w.lambda.finish(&second, &Outcome::Ready).unwrap();
    assert_eq!(served(), 512);
}

#[test]
fn a_failed_create_fails_the_function() {
    let w = world();
    let job = w
        .lambda
        .create(&w.scope, spec("f", &zip("bootstrap", b"hi")), "r")
        .unwrap()
        .job
        .unwrap();
    let failed = Outcome::Failed {
        reason_code: "EniLimitExceeded".into(),
        reason: "too many".into(),
    };
    w.lambda.finish(&job, &failed).unwrap();
    let v = latest(&w, "f");
    assert_eq!(v.status.state, State::Failed);
    assert_eq!(v.status.state_reason.unwrap().code, "EniLimitExceeded");
}

#[test]
fn orphaned_jobs_are_adopted_once_and_stale_jobs_are_ignored() {
    let w = world();
    let old_job = w
        .lambda
        .create(&w.scope, spec("f", &zip("bootstrap", b"hi")), "gone")
        .unwrap()
        .job
        .unwrap();
    let adopted = w.lambda.adopt_orphan(&w.scope, "f", "me").unwrap().unwrap();
    assert_eq!(adopted.job_id, old_job.job_id);
    assert!(w
        .lambda
        .adopt_orphan(&w.scope, "f", "me")
        .unwrap()
        .is_none());

    // Deleted and re-created: the first job no longer applies to it.
    w.lambda.delete(&w.scope, &named("f")).unwrap();
    w.lambda
        .create(&w.scope, spec("f", &zip("bootstrap", b"hi")), "me")
        .unwrap();
    assert!(!w.lambda.finish(&adopted, &Outcome::Ready).unwrap());
    assert_eq!(latest(&w, "f").status.state, State::Pending);
}

#[test]
fn publishing_and_garbage_collection() {
    let w = world();
    let v1_zip = zip("bootstrap", b"one");
    let job = w
        .lambda
        .create(&w.scope, spec("f", &v1_zip), "r")
        .unwrap()
        .job
        .unwrap();
    w.lambda.finish(&job, &Outcome::Ready).unwrap();
    let one = w
        .lambda
        .publish(&w.scope, &named("f"), PublishRequest::default())
        .unwrap();
    assert_eq!(one.version, "1");
    let again = w
        .lambda
        .publish(&w.scope, &named("f"), PublishRequest::default())
        .unwrap();
    assert_eq!(
        again.revision_id, one.revision_id,
        "unchanged: the same version"
    );

    let changed = w
        .lambda
        .update_code(
            &w.scope,
            &named("f"),
            CodeChange {
                code: CodeSource::Zip(zip("bootstrap", b"two")),
                ..Default::default()
            },
            "r",
        )
        .unwrap();
    assert_eq!(
        blob_count(w._dir.path()),
        2,
        "version 1 keeps the old package"
    );
    w.lambda
        .finish(&changed.job.unwrap(), &Outcome::Ready)
        .unwrap();

    let runnable = w
        .lambda
        .runnable(
            &w.scope,
            &FunctionRef {
                name: "f".into(),
                qualifier: Some("1".into()),
            },
        )
        .unwrap();
    assert_eq!(std::fs::read(&runnable.code_path).unwrap(), v1_zip);

    w.lambda
        .delete(
            &w.scope,
            &FunctionRef {
                name: "f".into(),
                qualifier: Some("1".into()),
            },
        )
        .unwrap();
    assert_eq!(blob_count(w._dir.path()), 1);
    w.lambda.delete(&w.scope, &named("f")).unwrap();
    assert_eq!(blob_count(w._dir.path()), 0);
}

/// Function `f`, Active, with version 1 published and alias `live` on it.
fn provisionable(w: &World) {
    let created = w
        .lambda
        .create(&w.scope, spec("f", &zip("bootstrap", b"hi")), "runner-a")
        .unwrap();
    w.lambda
        .finish(&created.job.unwrap(), &Outcome::Ready)
        .unwrap();
    w.lambda
        .publish(&w.scope, &named("f"), PublishRequest::default())
        .unwrap();
    w.lambda
        .create_alias(
            &w.scope,
            &named("f"),
            AliasSpec {
                name: "live".into(),
                function_version: Some("1".into()),
                ..Default::default()
            },
        )
        .unwrap();
}

fn at(q: &str) -> FunctionRef {
    FunctionRef {
        name: "f".into(),
        qualifier: Some(q.into()),
    }
}

#[test]
fn provisioned_concurrency_is_validated_like_lambda() {
    let w = world();
    provisionable(&w);
    let msg = |r: Result<ProvisionedConfig, LambdaError>| r.unwrap_err().to_string();
    assert_eq!(
        msg(w.lambda.put_provisioned(&w.scope, &at("1"), Some(0))),
        "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    for fref in [named("f"), at(LATEST)] {
        assert_eq!(
            msg(w.lambda.put_provisioned(&w.scope, &fref, Some(1))),
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
        );
        assert_eq!(
            msg(w.lambda.get_provisioned(&w.scope, &fref)),
            "The function resource provided must be an alias or a published version."
        );
    }
    assert_eq!(
        msg(w.lambda.put_provisioned(&w.scope, &at("9"), Some(1))),
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:f:9"
    );
    assert_eq!(
        msg(w.lambda.put_provisioned(&w.scope, &at("nope"), Some(1))),
        "Cannot find alias arn: arn:aws:lambda:us-east-1:123456789012:function:f:nope"
    );
    assert!(matches!(
        w.lambda.get_provisioned(&w.scope, &at("1")),
        Err(LambdaError::ProvisionedConfigNotFound)
    ));
    assert_eq!(
        msg(w.lambda.put_provisioned(&w.scope, &at("1"), Some(901))),
        "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100]."
    );

    let put = w
        .lambda
        .put_provisioned(&w.scope, &at("live"), Some(3))
        .unwrap();
    assert_eq!(
        (put.requested, put.allocated, put.status),
        (3, 0, ProvisionedStatus::InProgress)
    );
    assert_eq!(
        msg(w.lambda.put_provisioned(&w.scope, &at("1"), Some(1))),
        "Version is pointed by a Provisioned Concurrency alias"
    );
    assert_eq!(
        w.lambda
            .account_settings(&w.scope)
            .unwrap()
            .unreserved_concurrent_executions,
        997,
        "provisioned concurrency leaves the unreserved pool"
    );

    w.lambda
        .put_concurrency(&w.scope, &named("f"), Some(2))
        .unwrap();
    assert_eq!(
        msg(w.lambda.put_provisioned(&w.scope, &at("live"), Some(3))),
        "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function"
    );
    w.lambda.delete_concurrency(&w.scope, &named("f")).unwrap();

    let plan = w.lambda.provisioned_plan().unwrap();
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].version.as_deref(), Some("1"));
    let report = |put_id: &str, allocated| ProvisionedReport {
        scope: w.scope.clone(),
        function_name: "f".into(),
        qualifier: "live".into(),
        put_id: put_id.into(),
        allocated,
        failure: None,
    };
    w.lambda.report_provisioned(&[report("stale", 3)]).unwrap();
    let got = w.lambda.get_provisioned(&w.scope, &at("live")).unwrap();
    assert_eq!(
        got.status,
        ProvisionedStatus::InProgress,
        "a stale report is dropped"
    );
    w.lambda
        .report_provisioned(&[report(&put.put_id, 3)])
        .unwrap();
    let got = w.lambda.get_provisioned(&w.scope, &at("live")).unwrap();
    assert_eq!((got.allocated, got.status), (3, ProvisionedStatus::Ready));
    w.lambda.restart_provisioned().unwrap();
    let got = w.lambda.get_provisioned(&w.scope, &at("live")).unwrap();
    assert_eq!(
        (got.allocated, got.status),
        (0, ProvisionedStatus::InProgress)
    );

    let page = w
        .lambda
        .list_provisioned(&w.scope, &named("f"), None, None)
        .unwrap();
    assert_eq!(page.items.len(), 1);
    w.lambda
        .delete_alias(&w.scope, &named("f"), "live")
        .unwrap();
    assert!(
        w.lambda.provisioned_plan().unwrap().is_empty(),
        "gone with its alias"
    );
    w.lambda
        .put_provisioned(&w.scope, &at("1"), Some(1))
        .unwrap();
    w.lambda.delete(&w.scope, &named("f")).unwrap();
    assert!(
        w.lambda.provisioned_plan().unwrap().is_empty(),
        "gone with its function"
    );
}

fn layer_spec(name: &str, code: &[u8]) -> LayerSpec {
    LayerSpec {
        layer_name: name.into(),
        content: Some(CodeSource::Zip(code.to_vec())),
        ..Default::default()
    }
}

/// A function created and made active.
fn active(w: &World, mut spec: FunctionSpec) {
    spec.publish = false;
    let job = w.lambda.create(&w.scope, spec, "r").unwrap().job.unwrap();
    w.lambda.finish(&job, &Outcome::Ready).unwrap();
}

#[test]
fn layer_version_numbers_are_never_reused() {
    let w = world();
    let one = w
        .lambda
        .publish_layer_version(&w.scope, layer_spec("lib", &zip("python/m.py", b"1")))
        .unwrap();
    let two = w
        .lambda
        .publish_layer_version(&w.scope, layer_spec("lib", &zip("python/m.py", b"2")))
        .unwrap();
    assert_eq!((one.version, two.version), (1, 2));
    assert_eq!(
        two.arn(),
        "arn:aws:lambda:us-east-1:123456789012:layer:lib:2"
    );
    w.lambda.delete_layer_version(&w.scope, "lib", "2").unwrap();
    w.lambda.delete_layer_version(&w.scope, "lib", "2").unwrap();
    w.lambda.delete_layer_version(&w.scope, "lib", "9").unwrap();
    let three = w
        .lambda
        .publish_layer_version(&w.scope, layer_spec("lib", &zip("python/m.py", b"3")))
        .unwrap();
    assert_eq!(three.version, 3);
    let e = w
        .lambda
        .get_layer_version(&w.scope, "lib", "2")
        .unwrap_err();
    assert_eq!(e.to_string(), "The resource you requested does not exist.");
    let page = w
        .lambda
        .list_layer_versions(&w.scope, "lib", None, None, None, Some(1))
        .unwrap();
    assert_eq!(page.items[0].version, 3, "newest first");
    let rest = w
        .lambda
        .list_layer_versions(
            &w.scope,
            "lib",
            None,
            None,
            page.next_marker.as_deref(),
            None,
        )
        .unwrap();
    assert_eq!(
        rest.items.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1]
    );
    assert!(rest.next_marker.is_none());
}

#[test]
fn functions_keep_the_layers_they_use() {
    let w = world();
    let lv = w
        .lambda
        .publish_layer_version(&w.scope, layer_spec("lib", &zip("python/m.py", b"layer")))
        .unwrap();
    let mut s = spec("f", &zip("bootstrap", b"hi"));
    s.layers = Some(vec![lv.arn()]);
    active(&w, s);
    assert_eq!(blob_count(w._dir.path()), 2);
    w.lambda.delete_layer_version(&w.scope, "lib", "1").unwrap();
    assert_eq!(
        blob_count(w._dir.path()),
        2,
        "the function still names the package"
    );
    let f = latest(&w, "f");
    assert_eq!(f.settings.layers.len(), 1);
    assert_eq!(f.settings.layers[0].code, lv.code);
    let runnable = w.lambda.runnable(&w.scope, &named("f")).unwrap();
    assert!(runnable.layer_paths[0].is_file());

    // A missing layer version is refused and changes nothing.
    let before = latest(&w, "f");
    let e = w
        .lambda
        .update_configuration(
            &w.scope,
            &named("f"),
            ConfigChange {
                layers: Some(vec![lv.arn()]),
                timeout: Some(30),
                ..Default::default()
            },
            "r",
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Layer version arn:aws:lambda:us-east-1:123456789012:layer:lib:1 does not exist."
    );
    assert_eq!(latest(&w, "f"), before);

    let changed = w
        .lambda
        .update_configuration(
            &w.scope,
            &named("f"),
            ConfigChange {
                layers: Some(Vec::new()),
                ..Default::default()
            },
            "r",
        )
        .unwrap();
    assert!(changed.version.settings.layers.is_empty());
    assert_eq!(
        blob_count(w._dir.path()),
        1,
        "the unused layer package is gone"
    );
}

#[test]
fn layer_limits_and_other_accounts() {
    let w = world();
    let lv = w
        .lambda
        .publish_layer_version(&w.scope, layer_spec("lib", &zip("a", b"a")))
        .unwrap();
    let mut s = spec("six", &zip("bootstrap", b"hi"));
    s.layers = Some(vec![lv.arn(); 6]);
    let e = w.lambda.create(&w.scope, s, "r").unwrap_err();
    assert_eq!(e.to_string(), "Cannot reference more than 5 layers.");
    let mut s = spec("bad", &zip("bootstrap", b"hi"));
    s.layers = Some(vec!["nope".into()]);
    assert!(matches!(
        w.lambda.create(&w.scope, s, "r"),
        Err(LambdaError::Validation(_))
    ));

    let other = Scope::new("210987654321", "us-east-1");
    let e = w
        .lambda
        .get_layer_version(&other, &lv.layer_arn(), "1")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "User: arn:aws:iam::210987654321:root is not authorized to perform: lambda:GetLayerVersion on resource: arn:aws:lambda:us-east-1:123456789012:layer:lib:1 because no resource-based policy allows the lambda:GetLayerVersion action"
    );
    let grant = |sid: &str, principal: &str| LayerPermission {
        statement_id: Some(sid.into()),
        action: Some("lambda:GetLayerVersion".into()),
        principal: Some(principal.into()),
        ..Default::default()
    };
    let (_, rev) = w
        .lambda
        .add_layer_version_permission(&w.scope, "lib", "1", grant("b", "210987654321"))
        .unwrap();
    let e = w
        .lambda
        .add_layer_version_permission(&w.scope, "lib", "1", grant("b", "*"))
        .unwrap_err();
    assert_eq!(e.to_string(), "The statement id (b) provided already exists. Please provide a new statement id, or remove the existing statement.");
    assert_eq!(
        w.lambda
            .get_layer_version(&other, &lv.layer_arn(), "1")
            .unwrap()
            .code,
        lv.code
    );
    let (policy, rev2) = w
        .lambda
        .get_layer_version_policy(&w.scope, "lib", "1")
        .unwrap();
    assert_eq!(rev, rev2);
    assert!(policy.starts_with(r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"b""#));
    let e = w
        .lambda
        .remove_layer_version_permission(&w.scope, "lib", "1", "b", Some("stale"))
        .unwrap_err();
    assert!(matches!(e, LambdaError::Precondition(_)));
    w.lambda
        .remove_layer_version_permission(&w.scope, "lib", "1", "b", Some(&rev))
        .unwrap();
    assert_eq!(
        w.lambda
            .get_layer_version_policy(&w.scope, "lib", "1")
            .unwrap_err()
            .to_string(),
        "No policy is associated with the given resource."
    );
}

#[test]
fn listing_layers_filters_by_runtime_and_architecture() {
    let w = world();
    for (name, runtimes, archs) in [
        ("a", vec!["python3.12"], vec!["x86_64"]),
        ("a", vec!["nodejs20.x"], vec!["arm64"]),
        ("b", vec!["python3.12"], vec![]),
    ] {
        let mut s = layer_spec(name, &zip("f", name.as_bytes()));
        s.compatible_runtimes = Some(runtimes.into_iter().map(String::from).collect());
        s.compatible_architectures = Some(archs.into_iter().map(String::from).collect());
        w.lambda.publish_layer_version(&w.scope, s).unwrap();
    }
    let names = |runtime: Option<&str>, arch: Option<&str>| {
        w.lambda
            .list_layers(&w.scope, runtime, arch, None, None)
            .unwrap()
            .items
            .into_iter()
            .map(|l| (l.layer_name, l.latest.version))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(None, None), [("a".into(), 2), ("b".into(), 1)]);
    assert_eq!(
        names(Some("python3.12"), None),
        [("a".into(), 1), ("b".into(), 1)]
    );
    assert_eq!(names(Some("python3.12"), Some("x86_64")), [("a".into(), 1)]);
    assert!(names(Some("java21"), None).is_empty());
    let e = w
        .lambda
        .list_layers(&w.scope, Some("cobol"), None, None, Some(51))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("2 validation errors detected: Value 'cobol' at 'compatibleRuntime' failed to satisfy constraint: Member must satisfy enum value set: [nodejs, "), "{e}");
    assert!(e.ends_with("Value '51' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50"), "{e}");
}
