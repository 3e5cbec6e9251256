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

fn blob_count(dir: &Path) -> usize {
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
