//! Code signing, runtime management, recursion, account usage and event source mappings
//! against a real SQLite store in a temp dir.

use super::tests::{blob_count, named, spec, world, World};
use super::*;
use crate::logs;

fn warn_config(w: &World, policy: &str) -> CodeSigningConfig {
    w.lambda
        .create_signing_config(
            &w.scope,
            SigningSpec {
                description: Some("d".into()),
                signing_profile_version_arns: Some(Some(vec![
                    "arn:aws:signer:us-east-1:123456789012:/signing-profiles/p/abcdefghij".into(),
                ])),
                untrusted_artifact: Some(Some(policy.into())),
                tags: None,
            },
        )
        .unwrap()
}

fn log_lines(w: &World, name: &str) -> Vec<String> {
    let group = format!("/aws/lambda/{name}");
    w.lambda
        .store
        .read(|tx| {
            let mut lines = Vec::new();
            for s in logs::list_streams(tx, &w.scope, &group, "")? {
                let page = logs::get_events(
                    tx,
                    &w.scope,
                    &group,
                    &s.name,
                    logs::Cursor::Head,
                    logs::TimeWindow::default(),
                    100,
                )?;
                lines.extend(page.events.into_iter().map(|e| e.message));
            }
            Ok::<_, logs::LogsError>(lines)
        })
        .unwrap_or_default()
}

fn ready(w: &World, name: &str, code: &[u8]) {
    let mut s = spec(name, code);
    s.code = CodeSource::Zip(super::tests::zip("bootstrap", code));
    let job = w.lambda.create(&w.scope, s, "r").unwrap().job.unwrap();
    w.lambda.finish(&job, &Outcome::Ready).unwrap();
}

#[test]
fn signing_configs_live_and_die_with_their_users() {
    let w = world();
    let plain = w
        .lambda
        .create_signing_config(
            &w.scope,
            SigningSpec {
                signing_profile_version_arns: Some(Some(vec!["arn:aws:signer:::p".into()])),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(plain.untrusted_artifact, UntrustedArtifact::Warn);
    assert_eq!(plain.description, "");
    let arn = plain.arn(&w.scope);
    assert_eq!(w.lambda.signing_config(&w.scope, &arn).unwrap(), plain);

    let missing = w
        .lambda
        .create_signing_config(&w.scope, SigningSpec::default());
    assert_eq!(
        missing.unwrap_err().to_string(),
        "1 validation error detected: Value null at 'allowedPublishers' failed to satisfy constraint: Member must not be null"
    );

    let updated = w
        .lambda
        .update_signing_config(
            &w.scope,
            &arn,
            SigningSpec {
                untrusted_artifact: Some(Some("Enforce".into())),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(updated.untrusted_artifact, UntrustedArtifact::Enforce);
    assert_eq!(
        updated.signing_profile_version_arns,
        plain.signing_profile_version_arns
    );

    ready(&w, "f", b"one");
    w.lambda
        .put_function_signing_config(&w.scope, &named("f"), &arn)
        .unwrap();
    assert_eq!(
        w.lambda
            .functions_by_signing_config(&w.scope, &arn, None, None)
            .unwrap()
            .items,
        vec![function_arn(&w.scope, "f", None)]
    );
    let in_use = w.lambda.delete_signing_config(&w.scope, &arn).unwrap_err();
    assert!(matches!(in_use, LambdaError::Conflict(_)), "{in_use}");

    w.lambda.delete(&w.scope, &named("f")).unwrap();
    w.lambda.delete_signing_config(&w.scope, &arn).unwrap();
    assert_eq!(
        w.lambda
            .signing_config(&w.scope, &arn)
            .unwrap_err()
            .to_string(),
        format!("The Lambda code signing configuration {arn} can not be found.")
    );
    assert!(w
        .lambda
        .list_signing_configs(&w.scope, None, None)
        .unwrap()
        .items
        .is_empty());
}

#[test]
fn warn_deploys_and_logs_enforce_refuses_and_stores_nothing() {
    let w = world();
    let warn = warn_config(&w, "Warn");
    let mut s = spec("w", &super::tests::zip("bootstrap", b"w"));
    s.code_signing_config_arn = Some(warn.arn(&w.scope));
    let job = w.lambda.create(&w.scope, s, "r").unwrap().job.unwrap();
    w.lambda.finish(&job, &Outcome::Ready).unwrap();
    assert_eq!(
        w.lambda
            .function_signing_config(&w.scope, &named("w"))
            .unwrap(),
        ("w".to_string(), warn.arn(&w.scope))
    );
    let lines = log_lines(&w, "w");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("WARNING: code signature validation failed"));

    let job = w
        .lambda
        .update_code(
            &w.scope,
            &named("w"),
            CodeChange {
                code: CodeSource::Zip(super::tests::zip("bootstrap", b"w2")),
                ..Default::default()
            },
            "r",
        )
        .unwrap()
        .job
        .unwrap();
    w.lambda.finish(&job, &Outcome::Ready).unwrap();
    assert_eq!(log_lines(&w, "w").len(), 2);

    let enforce = warn_config(&w, "Enforce");
    let blobs = blob_count(w._dir.path());
    let mut s = spec("e", &super::tests::zip("bootstrap", b"e"));
    s.code_signing_config_arn = Some(enforce.arn(&w.scope));
    let refused = w.lambda.create(&w.scope, s, "r").unwrap_err();
    assert_eq!(
        refused.to_string(),
        "Lambda cannot deploy the function. The function or layer might be signed using a signature that the client is not configured to accept. Check the provided signature for e."
    );
    assert!(w.lambda.get(&w.scope, &named("e")).is_err());
    assert_eq!(blob_count(w._dir.path()), blobs);
    assert!(log_lines(&w, "e").is_empty());

    // A configuration attached later applies from the next deployment on.
    w.lambda
        .put_function_signing_config(&w.scope, &named("w"), &enforce.arn(&w.scope))
        .unwrap();
    let before = w.lambda.get(&w.scope, &named("w")).unwrap().version.code;
    let refused = w.lambda.update_code(
        &w.scope,
        &named("w"),
        CodeChange {
            code: CodeSource::Zip(super::tests::zip("bootstrap", b"w3")),
            ..Default::default()
        },
        "r",
    );
    assert!(matches!(
        refused,
        Err(LambdaError::CodeVerificationFailed(_))
    ));
    assert_eq!(
        w.lambda.get(&w.scope, &named("w")).unwrap().version.code,
        before
    );

    let gone = format!(
        "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-{}",
        "0".repeat(17)
    );
    let mut s = spec("x", &super::tests::zip("bootstrap", b"x"));
    s.code_signing_config_arn = Some(gone.clone());
    assert_eq!(
        w.lambda.create(&w.scope, s, "r").unwrap_err().to_string(),
        format!("The code signing configuration cannot be found. Check that the provided configuration is not deleted: {gone}.")
    );
}

#[test]
fn a_function_without_a_configuration_has_an_empty_arn() {
    let w = world();
    ready(&w, "f", b"f");
    assert_eq!(
        w.lambda
            .function_signing_config(&w.scope, &named("f"))
            .unwrap(),
        ("f".to_string(), String::new())
    );
    assert!(matches!(
        w.lambda.function_signing_config(&w.scope, &named("nope")),
        Err(LambdaError::FunctionNotFound { .. })
    ));
}

#[test]
fn runtime_management_per_version() {
    let w = world();
    ready(&w, "f", b"f");
    let got = w.lambda.runtime_management(&w.scope, &named("f")).unwrap();
    assert_eq!(got.config, RuntimeManagement::default());
    assert_eq!(
        got.function_arn,
        function_arn(&w.scope, "f", Some("$LATEST"))
    );

    let manual_without = w
        .lambda
        .put_runtime_management(&w.scope, &named("f"), Some("Manual"), None)
        .unwrap_err();
    assert!(matches!(manual_without, LambdaError::InvalidParameter(_)));
    let other = runtime_version_arn(&w.scope, "python3.12");
    assert!(w
        .lambda
        .put_runtime_management(&w.scope, &named("f"), Some("Manual"), Some(&other))
        .is_err());
    let own = runtime_version_arn(&w.scope, "provided.al2023");
    let put = w
        .lambda
        .put_runtime_management(&w.scope, &named("f"), Some("Manual"), Some(&own))
        .unwrap();
    assert_eq!(
        put.config.runtime_version_arn.as_deref(),
        Some(own.as_str())
    );
    assert_eq!(
        w.lambda.runtime_management(&w.scope, &named("f")).unwrap(),
        put
    );
    assert!(w
        .lambda
        .put_runtime_management(&w.scope, &named("f"), Some("Auto"), Some(&own))
        .is_err());
    let bad = w
        .lambda
        .put_runtime_management(&w.scope, &named("f"), Some("Sometimes"), None)
        .unwrap_err();
    assert_eq!(bad.to_string(), "1 validation error detected: Value 'Sometimes' at 'updateRuntimeOn' failed to satisfy constraint: Member must satisfy enum value set: [Auto, Manual, FunctionUpdate]");

    let v1 = w
        .lambda
        .publish(&w.scope, &named("f"), PublishRequest::default())
        .unwrap();
    let q = FunctionRef {
        name: "f".into(),
        qualifier: Some(v1.version.clone()),
    };
    w.lambda
        .put_runtime_management(&w.scope, &q, Some("FunctionUpdate"), None)
        .unwrap();
    assert_eq!(
        w.lambda
            .runtime_management(&w.scope, &q)
            .unwrap()
            .config
            .update_runtime_on,
        UpdateRuntimeOn::FunctionUpdate
    );
    let two = FunctionRef {
        name: "f".into(),
        qualifier: Some("2".into()),
    };
    assert!(matches!(
        w.lambda.runtime_management(&w.scope, &two),
        Err(LambdaError::FunctionNotFound { .. })
    ));

    // Settings go with the function: a new function of the same name starts afresh.
    w.lambda.delete(&w.scope, &named("f")).unwrap();
    ready(&w, "f", b"f");
    assert_eq!(
        w.lambda
            .runtime_management(&w.scope, &named("f"))
            .unwrap()
            .config,
        RuntimeManagement::default()
    );
}

#[test]
fn recursion_defaults_to_terminate() {
    let w = world();
    ready(&w, "f", b"f");
    assert_eq!(
        w.lambda.recursion(&w.scope, &named("f")).unwrap(),
        RecursiveLoop::Terminate
    );
    w.lambda
        .put_recursion(&w.scope, &named("f"), Some("Allow"))
        .unwrap();
    assert_eq!(
        w.lambda.recursion(&w.scope, &named("f")).unwrap(),
        RecursiveLoop::Allow
    );
    assert!(matches!(
        w.lambda.put_recursion(&w.scope, &named("f"), Some("Maybe")),
        Err(LambdaError::Validation(_))
    ));
    w.lambda.delete(&w.scope, &named("f")).unwrap();
    ready(&w, "f", b"f");
    assert_eq!(
        w.lambda.recursion(&w.scope, &named("f")).unwrap(),
        RecursiveLoop::Terminate
    );
}

#[test]
fn account_usage_counts_every_version() {
    let w = world();
    let empty = w.lambda.account_settings(&w.scope).unwrap();
    assert_eq!((empty.total_code_size, empty.function_count), (0, 0));
    ready(&w, "a", b"aaaa");
    ready(&w, "b", b"bb");
    let size = |n: &str| {
        w.lambda
            .get(&w.scope, &named(n))
            .unwrap()
            .version
            .code
            .code_size
    };
    w.lambda
        .publish(&w.scope, &named("a"), PublishRequest::default())
        .unwrap();
    let s = w.lambda.account_settings(&w.scope).unwrap();
    assert_eq!(s.function_count, 2);
    assert_eq!(s.total_code_size, 2 * size("a") + size("b"));
    assert_eq!(s.concurrent_executions, 1000);
    assert_eq!(s.unreserved_concurrent_executions, 1000);
    w.lambda
        .put_concurrency(&w.scope, &named("b"), Some(100))
        .unwrap();
    assert_eq!(
        w.lambda
            .account_settings(&w.scope)
            .unwrap()
            .unreserved_concurrent_executions,
        900
    );
}

#[test]
fn event_source_mappings_are_refused_by_service() {
    let w = world();
    ready(&w, "f", b"f");
    let refused = w
        .lambda
        .create_event_source_mapping(
            &w.scope,
            MappingRequest {
                function_name: Some("f".into()),
                event_source_arn: Some("arn:aws:sqs:us-east-1:123456789012:q".into()),
                self_managed: false,
            },
        )
        .unwrap_err();
    assert!(
        matches!(&refused, LambdaError::InvalidParameter(m) if m.contains("Amazon SQS")),
        "{refused}"
    );
    let no_function = w.lambda.create_event_source_mapping(
        &w.scope,
        MappingRequest {
            function_name: Some("nope".into()),
            event_source_arn: Some("arn:aws:sqs:us-east-1:123456789012:q".into()),
            self_managed: false,
        },
    );
    assert!(matches!(
        no_function,
        Err(LambdaError::FunctionNotFound { .. })
    ));
    assert!(w
        .lambda
        .list_event_source_mappings(&w.scope, Some("f"), None, None)
        .is_ok());
    assert!(w
        .lambda
        .list_event_source_mappings(&w.scope, Some("bad name!"), None, None)
        .is_err());
    assert_eq!(
        w.lambda
            .event_source_mapping("14e0db71-5d35-4eb5-b481-8945cf9d10c2")
            .unwrap_err()
            .to_string(),
        "The resource you requested does not exist."
    );
}
