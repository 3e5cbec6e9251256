use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

fn write(path: &Path, text: &str, mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A runtimes root with awslambdaric "installed" for the given minor versions.
fn root_with_pythons(minors: &[u32]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for m in minors {
        write(
            &root
                .path()
                .join(format!("python3.{m}/awslambdaric/__init__.py")),
            "",
            0o644,
        );
    }
    root
}

fn resolve_in(runtime: &str, handler: &str, code: &Path, root: &Path) -> Launch {
    resolve(runtime, handler, code, None, root).unwrap()
}

#[test]
fn provided_runtimes_run_the_packages_bootstrap() {
    let code = tempfile::tempdir().unwrap();
    write(&code.path().join("bootstrap"), "#!/bin/sh\n", 0o755);
    for rt in ["provided", "provided.al2", "provided.al2023"] {
        let l = resolve_in(
            rt,
            "ignored.handler",
            code.path(),
            Path::new("/nonexistent"),
        );
        assert_eq!(l.command, ["/var/task/bootstrap"]);
        assert_eq!(l.runtime_dir, None);
        assert!(l.env.is_empty() && l.note.is_none());
    }
}

#[test]
fn provided_falls_back_to_a_layers_bootstrap() {
    let code = tempfile::tempdir().unwrap();
    let opt = tempfile::tempdir().unwrap();
    write(&opt.path().join("bootstrap"), "#!/bin/sh\n", 0o755);
    let l = resolve(
        "provided.al2023",
        "h",
        code.path(),
        Some(opt.path()),
        Path::new("/x"),
    )
    .unwrap();
    assert_eq!(l.command, ["/opt/bootstrap"]);
}

#[test]
fn missing_or_unexecutable_bootstrap_is_an_invalid_entrypoint() {
    let code = tempfile::tempdir().unwrap();
    let e = resolve("provided.al2", "h", code.path(), None, Path::new("/x")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
    );
    write(&code.path().join("bootstrap"), "#!/bin/sh\n", 0o644);
    let e = resolve("provided", "h", code.path(), None, Path::new("/x")).unwrap_err();
    assert_eq!(
        e,
        RuntimeError::InvalidEntrypoint("fork/exec /var/task/bootstrap: permission denied".into())
    );
}

#[test]
fn go_runs_the_handler_binary() {
    let code = tempfile::tempdir().unwrap();
    write(&code.path().join("bin/hello"), "", 0o755);
    let l = resolve_in("go1.x", "bin/hello", code.path(), Path::new("/x"));
    assert_eq!(l.command, ["/var/task/bin/hello"]);
    assert_eq!(l.runtime_dir, None);
}

#[test]
fn go_handler_must_name_a_file_inside_the_package() {
    let code = tempfile::tempdir().unwrap();
    write(&code.path().join("hello"), "", 0o755);
    for handler in ["", "missing", "../hello", "/var/task/hello", "bin/../hello"] {
        let e = resolve("go1.x", handler, code.path(), None, Path::new("/x")).unwrap_err();
        assert_eq!(
            e,
            RuntimeError::InvalidEntrypoint(format!(
                "fork/exec /var/task/{handler}: no such file or directory"
            )),
            "{handler:?}"
        );
    }
}

#[test]
fn python_runs_awslambdaric_from_the_runtime_dir() {
    let root = root_with_pythons(&[11]);
    let l = resolve_in("python3.11", "app.handler", Path::new("/c"), root.path());
    assert_eq!(
        l.command,
        ["/usr/bin/python3.11", "-m", "awslambdaric", "app.handler"]
    );
    assert_eq!(l.runtime_dir, Some(root.path().join("python3.11")));
    assert_eq!(
        l.env,
        [(
            "PYTHONPATH".to_string(),
            "/var/task:/opt/python/lib/python3.11/site-packages:/opt/python:/var/runtime"
                .to_string()
        )]
    );
    assert_eq!(l.note, None);
}

#[test]
fn python_falls_back_to_the_nearest_installed_version() {
    let root = root_with_pythons(&[9, 11, 13]);
    let cases = [
        ("python3.12", "python3.13"),
        ("python3.10", "python3.11"),
        ("python3.8", "python3.9"),
        ("python3.14", "python3.13"),
    ];
    for (wanted, got) in cases {
        let l = resolve_in(wanted, "app.handler", Path::new("/c"), root.path());
        assert_eq!(l.command[0], format!("/usr/bin/{got}"));
        assert_eq!(
            l.note.as_deref(),
            Some(format!("{wanted} is not installed; running with {got}").as_str())
        );
    }
}

#[test]
fn python_dirs_without_awslambdaric_do_not_count() {
    let root = root_with_pythons(&[]);
    fs::create_dir_all(root.path().join("python3.12")).unwrap();
    let e = resolve("python3.12", "a.b", Path::new("/c"), None, root.path()).unwrap_err();
    assert!(
        matches!(e, RuntimeError::NotInstalled { ref runtime, .. } if runtime == "python3.12"),
        "{e}"
    );
}

#[test]
fn node_runs_our_bootstrap() {
    let root = tempfile::tempdir().unwrap();
    write(&root.path().join("node/bootstrap.js"), "", 0o644);
    let l = resolve_in("nodejs20.x", "index.handler", Path::new("/c"), root.path());
    assert_eq!(l.command, ["/usr/bin/node", "/var/runtime/bootstrap.js"]);
    assert_eq!(l.runtime_dir, Some(root.path().join("node")));
    assert_eq!(l.env[0].0, "NODE_PATH");
    assert!(l.env[0].1.starts_with("/opt/nodejs/node20/node_modules:"));
    let e = resolve(
        "nodejs22.x",
        "index.handler",
        Path::new("/c"),
        None,
        Path::new("/x"),
    )
    .unwrap_err();
    assert!(matches!(e, RuntimeError::NotInstalled { .. }), "{e}");
}

#[test]
fn the_repositorys_node_runtime_is_a_runtimes_root() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../runtimes");
    let l = resolve_in("nodejs20.x", "index.handler", Path::new("/c"), &root);
    assert_eq!(l.runtime_dir, Some(root.join("node")));
}

#[test]
fn unknown_runtimes_are_unsupported() {
    for rt in [
        "java21",
        "ruby3.3",
        "python2.7",
        "python3.",
        "python3.x",
        "nodejs",
        "nodejs20",
        "go1.x ",
    ] {
        let e = resolve(rt, "h", Path::new("/c"), None, Path::new("/x")).unwrap_err();
        assert_eq!(e, RuntimeError::Unsupported { runtime: rt.into() });
        assert!(e
            .to_string()
            .starts_with(&format!("The runtime parameter of {rt} is not supported")));
    }
}

fn function_env<'a>(
    runtime: &'a str,
    runtime_env: &'a [(String, String)],
    user: Option<&'a BTreeMap<String, String>>,
) -> FunctionEnv<'a> {
    FunctionEnv {
        name: "f",
        version: "$LATEST",
        memory_mb: 256,
        region: "eu-west-1",
        log_group: "/aws/lambda/f",
        log_stream: "2024/01/31/[$LATEST]0123456789abcdef0123456789abcdef",
        handler: "app.handler",
        runtime,
        credentials: None,
        runtime_env,
        user,
        provisioned: false,
        json_log_level: None,
    }
}

#[test]
fn provisioned_environments_say_so() {
    let mut f = function_env("python3.12", &[], None);
    f.provisioned = true;
    let vars = lambda_env(&f);
    assert_eq!(
        as_map(&vars)["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "provisioned-concurrency"
    );
}

#[test]
fn json_logging_is_announced_to_the_runtime() {
    let mut f = function_env("python3.12", &[], None);
    let text = lambda_env(&f);
    assert!(!as_map(&text).contains_key("AWS_LAMBDA_LOG_FORMAT"));
    f.json_log_level = Some("DEBUG");
    let vars = lambda_env(&f);
    let map = as_map(&vars);
    assert_eq!(map["AWS_LAMBDA_LOG_FORMAT"], "JSON");
    assert_eq!(map["AWS_LAMBDA_LOG_LEVEL"], "DEBUG");
}

fn as_map(vars: &[(String, String)]) -> BTreeMap<&str, &str> {
    let map: BTreeMap<&str, &str> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(map.len(), vars.len(), "no name twice: {vars:?}");
    map
}

#[test]
fn lambda_env_has_every_documented_variable() {
    let runtime_env = vec![("PYTHONPATH".to_string(), "/var/runtime".to_string())];
    let vars = lambda_env(&function_env("python3.12", &runtime_env, None));
    let expected = [
        ("_HANDLER", "app.handler"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
        ("AWS_LAMBDA_FUNCTION_NAME", "f"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/f"),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2024/01/31/[$LATEST]0123456789abcdef0123456789abcdef",
        ),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("TZ", ":UTC"),
        ("LANG", "en_US.UTF-8"),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
        (
            "LD_LIBRARY_PATH",
            "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
        ),
        ("PYTHONPATH", "/var/runtime"),
    ];
    let map = as_map(&vars);
    assert_eq!(map, expected.into_iter().collect::<BTreeMap<_, _>>());
}

#[test]
fn provided_runtimes_have_no_execution_env() {
    let vars = lambda_env(&function_env("provided.al2023", &[], None));
    assert!(!as_map(&vars).contains_key("AWS_EXECUTION_ENV"));
    let vars = lambda_env(&function_env("go1.x", &[], None));
    assert_eq!(as_map(&vars)["AWS_EXECUTION_ENV"], "AWS_Lambda_go1.x");
}

#[test]
fn user_variables_override_defaults_but_not_reserved_names() {
    let runtime_env = vec![("PYTHONPATH".to_string(), "/var/runtime".to_string())];
    let user: BTreeMap<String, String> = [
        ("GREETING", "hi"),
        ("TZ", "Europe/Paris"),
        ("PYTHONPATH", "/var/task/vendor"),
        ("PATH", "/var/task/bin:/usr/bin"),
        ("AWS_REGION", "us-east-1"),
        ("_HANDLER", "evil.handler"),
        ("AWS_LAMBDA_RUNTIME_API", "10.0.0.1:80"),
        ("LAMBDA_TASK_ROOT", "/tmp"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let vars = lambda_env(&function_env("python3.12", &runtime_env, Some(&user)));
    let map = as_map(&vars);
    assert_eq!(map["GREETING"], "hi");
    assert_eq!(map["TZ"], "Europe/Paris");
    assert_eq!(map["PYTHONPATH"], "/var/task/vendor");
    assert_eq!(map["PATH"], "/var/task/bin:/usr/bin");
    assert_eq!(map["AWS_REGION"], "eu-west-1");
    assert_eq!(map["_HANDLER"], "app.handler");
    assert_eq!(map["LAMBDA_TASK_ROOT"], "/var/task");
    assert!(!map.contains_key("AWS_LAMBDA_RUNTIME_API"));
}

#[test]
fn credentials_become_the_sdk_variables() {
    let mut f = function_env("nodejs20.x", &[], None);
    f.credentials = Some(Credentials {
        access_key_id: "ASIAEXAMPLE",
        secret_access_key: "secret",
        session_token: Some("token"),
    });
    let vars = lambda_env(&f);
    let map = as_map(&vars);
    assert_eq!(map["AWS_ACCESS_KEY_ID"], "ASIAEXAMPLE");
    assert_eq!(map["AWS_ACCESS_KEY"], "ASIAEXAMPLE");
    assert_eq!(map["AWS_SECRET_ACCESS_KEY"], "secret");
    assert_eq!(map["AWS_SESSION_TOKEN"], "token");
}
