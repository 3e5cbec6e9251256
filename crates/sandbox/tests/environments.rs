//! Privileged end-to-end tests: real environments (namespaces, cgroups, mounts, seccomp)
//! running a shell `bootstrap` that speaks the Runtime API with curl. Each test uses its
//! own instance name, so its cgroups (`vl-t…`), namespaces and scratch never collide, and
//! a guard removes everything even when the test panics. Skipped (loudly) when not root.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sandbox::{
    EnvSpec, Environment, HostConfig, Invocation, LogStream, NetnsChoice, Outcome, Sandbox,
    TmpBacking,
};

const UID: u32 = 4242;
const GID: u32 = 4242;

const BOOTSTRAP: &str = r#"#!/bin/sh
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
if [ "${MODE:-}" = initerror ]; then
  curl -sS -X POST -H 'Lambda-Runtime-Function-Error-Type: Runtime.Test' \
    --data-binary '{"errorMessage":"bad init"}' "$API/init/error" >/dev/null
  sleep 300
fi
while :; do
  curl -sS -D /tmp/.h -o /tmp/.event "$API/invocation/next" || exit 3
  ID=$(sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: *//p' /tmp/.h | tr -d '\r')
  EVENT=$(cat /tmp/.event)
  case "$EVENT" in
    echo:*) printf '%s' "${EVENT#echo:}" > /tmp/.out ;;
    marker)
      if [ -f /tmp/marker ]; then printf 'found pid=%s' "$$" > /tmp/.out
      else echo x > /tmp/marker; printf 'new pid=%s' "$$" > /tmp/.out; fi ;;
    headers) tr -d '\r' < /tmp/.h > /tmp/.out ;;
    log) echo "to stdout"; echo "to stderr" >&2; printf ok > /tmp/.out ;;
    error)
      curl -sS -X POST -H 'Lambda-Runtime-Function-Error-Type: Test.Err' \
        --data-binary '{"errorMessage":"boom"}' "$API/invocation/$ID/error" >/dev/null
      continue ;;
    big) head -c 7000000 /dev/zero > /tmp/.out ;;
    sleep) setsid sleep 300 & sleep 300 ;;
    oom) exec tail /dev/zero ;;
    exit) exit 7 ;;
    fork)
      perl -e 'for (1..1100) { my $p = fork(); if (!defined $p) { print "fork failed: $!"; exit } if ($p == 0) { exec "/bin/sleep", "300" } } print "all forked"' > /tmp/.out 2>&1 ;;
    fill:*)
      R=$(dd if=/dev/zero of=/tmp/fill bs=1M count="${EVENT#fill:}" 2>&1; echo "rc=$?")
      rm -f /tmp/fill
      printf '%s' "$R" > /tmp/.out ;;
    probe) /var/task/probe.sh > /tmp/.out 2>&1 ;;
    tmp)
      { stat -c 'owner=%u:%g mode=%a' /tmp; df -k /tmp | awk 'NR == 2 { print "kib=" $2 }'
        echo "files=$(ls -A /tmp | grep -v -x -e .h -e .event -e .out | tr '\n' ' ')"; } > /tmp/.out ;;
  esac
  curl -sS -X POST --data-binary @/tmp/.out "$API/invocation/$ID/response" >/dev/null 2>&1
done
"#;

/// Every line is `name=value`; the test asserts on the map.
const PROBE: &str = r#"#!/bin/sh
check() { name=$1; shift; if "$@" >/dev/null 2>&1; then echo "$name=allowed"; else echo "$name=denied"; fi; }
check read_shadow cat /etc/shadow
check write_var_task touch /var/task/new
check write_root touch /new
check write_etc touch /etc/new
check mount_cmd mount -t tmpfs none /tmp
check write_proc_sys sh -c 'echo 1 > /proc/sys/kernel/ns_last_pid'
check write_tmp sh -c 'echo hi > /tmp/probe'
check write_dev_null sh -c 'echo hi > /dev/null'
check read_host_work ls /work
echo "uid=$(id -u)"
echo "gid=$(id -g)"
grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status | tr -d ' \t' | tr ':' '='
echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ' | sed 's/ $//')"
echo "hostname=$(cat /proc/sys/kernel/hostname)"
echo "procs=$(ls /proc | grep -c '^[0-9]')"
echo "resolv=$(cat /etc/resolv.conf)"
echo "dev=$(ls /dev | tr '\n' ' ' | sed 's/ $//')"
perl -e '
  my @calls = ([ptrace => 101], [mount => 165], [umount2 => 166], [unshare => 272], [setns => 308],
    [bpf => 321], [perf_event_open => 298], [keyctl => 250], [kexec_load => 246],
    [init_module => 175], [pivot_root => 155], [reboot => 169], [swapon => 167]);
  for my $c (@calls) { $! = 0; my $r = syscall($c->[1], 0, 0, 0, 0, 0); printf "sys_%s=%d/%d\n", $c->[0], $r, $! + 0 }
  $! = 0; my $r = syscall(56, 0x10000000 | 17, 0, 0, 0, 0); printf "sys_clone_newuser=%d/%d\n", $r, $! + 0;
  $! = 0; $r = syscall(435, 0, 0); printf "sys_clone3=%d/%d\n", $r, $! + 0;
'
"#;

static NEXT: AtomicU32 = AtomicU32::new(0);

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("skipping: needs root");
            return;
        }
    };
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One sandbox instance with its own state dir and code; removes every leftover on drop.
struct Harness {
    sandbox: Sandbox,
    instance: String,
    code: tempfile::TempDir,
    state: tempfile::TempDir,
}

impl Harness {
    fn new(tmp_backing: TmpBacking) -> Harness {
        let instance = unique("t");
        let state = tempfile::tempdir().expect("state dir");
        let mut cfg = HostConfig::new(
            instance.clone(),
            env!("CARGO_BIN_EXE_vl-sandbox-init"),
            Vec::new(),
            state.path().join("state"),
        );
        cfg.tmp_backing = tmp_backing;
        let code = tempfile::tempdir().expect("code dir");
        fs::set_permissions(code.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        for (name, text) in [("bootstrap", BOOTSTRAP), ("probe.sh", PROBE)] {
            let p = code.path().join(name);
            fs::write(&p, text).expect("write script");
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        Harness {
            sandbox: Sandbox::new(cfg).expect("sandbox"),
            instance,
            code,
            state,
        }
    }

    fn spec(&self) -> EnvSpec {
        EnvSpec {
            id: unique(&format!("{}-", self.instance)),
            code_dir: self.code.path().to_path_buf(),
            opt_dir: None,
            runtime_dir: None,
            command: vec!["/var/task/bootstrap".into()],
            env: vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())],
            memory_mb: 128,
            ephemeral_mb: 16,
            timeout: Duration::from_secs(20),
            netns: NetnsChoice::Isolated,
            uid: UID,
            gid: GID,
            resolv_conf: None,
            ca_bundle: None,
            hosts: None,
        }
    }

    fn cgroup(&self, hierarchy: &str, env_id: &str) -> PathBuf {
        Path::new("/sys/fs/cgroup")
            .join(hierarchy)
            .join(format!("vl-{}", self.instance))
            .join(format!("vl-env-{env_id}"))
    }

    /// The `/tmp` image templates in the state dir.
    fn tmp_templates(&self) -> Vec<String> {
        let dir = self.state.path().join("state/tmp-templates");
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    async fn start(&self, spec: EnvSpec) -> Environment {
        self.sandbox.start(spec).await.expect("start")
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Err(e) = self.sandbox.cleanup_leftovers() {
            eprintln!("cleanup of {} failed: {e}", self.instance);
        }
    }
}

fn inv(payload: &str) -> Invocation {
    Invocation {
        request_id: unique("req-"),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        trace_id: "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
            .into(),
        client_context: Some(r#"{"custom":{"k":"v"}}"#.into()),
        cognito_identity: None,
    }
}

async fn response(env: &Environment, payload: &str) -> String {
    match env.invoke(inv(payload)).await.expect("invoke").0 {
        Outcome::Response(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("{payload}: expected a response, got {other:?}"),
    }
}

fn procs(dir: &Path) -> String {
    fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default()
}

fn netns_exists(id: &str) -> bool {
    Path::new("/run/netns")
        .join(format!("vl-env-{id}"))
        .exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_environment_serves_many_invocations() {
    require_root!();
    assert!(Path::new("/usr/bin/curl").exists(), "the tests need curl");
    let h = Harness::new(TmpBacking::Tmpfs);
    let spec = h.spec();
    let id = spec.id.clone();
    let mut env = h.start(spec).await;
    let mut logs = env.take_logs().expect("logs");
    assert!(env.take_logs().is_none());

    let (out, stats) = env.invoke(inv("echo:hello")).await.expect("invoke");
    assert_eq!(out, Outcome::Response(Bytes::from_static(b"hello")));
    assert!(stats.init_duration.is_some(), "first invoke reports init");
    assert!(stats.max_memory_bytes > 0);

    let first = response(&env, "marker").await;
    let second = response(&env, "marker").await;
    assert!(first.starts_with("new pid="), "{first}");
    assert_eq!(
        second,
        first.replace("new", "found"),
        "same process, /tmp kept"
    );

    let (_, stats) = env.invoke(inv("echo:again")).await.expect("invoke");
    assert_eq!(
        stats.init_duration, None,
        "only the first invoke reports init"
    );

    let invocation = inv("headers");
    let req_id = invocation.request_id.clone();
    let Outcome::Response(head) = env.invoke(invocation).await.expect("invoke").0 else {
        panic!("headers: no response");
    };
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(
        head.contains(&format!("lambda-runtime-aws-request-id: {req_id}")),
        "{head}"
    );
    assert!(head.contains(
        "lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:f"
    ));
    assert!(head.contains("lambda-runtime-trace-id: root=1-5bef4de7"));
    assert!(head.contains(r#"lambda-runtime-client-context: {"custom":{"k":"v"}}"#));
    assert!(!head.contains("lambda-runtime-cognito-identity"));
    let deadline: u128 = head
        .lines()
        .find_map(|l| l.strip_prefix("lambda-runtime-deadline-ms: "))
        .expect("deadline")
        .trim()
        .parse()
        .expect("ms");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    assert!(deadline > now && deadline <= now + 20_000);

    assert_eq!(response(&env, "log").await, "ok");
    let mut seen = (false, false);
    while seen != (true, true) {
        let line = tokio::time::timeout(Duration::from_secs(10), logs.recv())
            .await
            .expect("log line in time")
            .expect("log channel open");
        match (line.stream, line.line.as_str()) {
            (LogStream::Stdout, "to stdout") => seen.0 = true,
            (LogStream::Stderr, "to stderr") => seen.1 = true,
            _ => {}
        }
    }

    let (out, _) = env.invoke(inv("error")).await.expect("invoke");
    assert_eq!(
        out,
        Outcome::FunctionError {
            body: Bytes::from_static(br#"{"errorMessage":"boom"}"#),
            error_type: Some("Test.Err".into()),
        }
    );

    let (out, _) = env.invoke(inv("big")).await.expect("invoke");
    assert_eq!(out, Outcome::ResponseTooLarge);
    assert_eq!(response(&env, "echo:still alive").await, "still alive");
    assert!(env.is_alive());

    env.freeze().await.expect("freeze");
    let events =
        fs::read_to_string(h.cgroup("unified", &id).join("cgroup.events")).expect("events");
    assert!(events.contains("frozen 1"), "{events}");
    assert_eq!(
        response(&env, "echo:thawed").await,
        "thawed",
        "invoke thaws first"
    );

    assert!(netns_exists(&id));
    env.destroy().await.expect("destroy");
    for hier in ["memory", "pids", "cpu", "freezer", "unified"] {
        assert!(!h.cgroup(hier, &id).exists(), "{hier} cgroup removed");
    }
    assert!(!netns_exists(&id), "isolated netns removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_the_whole_tree() {
    require_root!();
    let h = Harness::new(TmpBacking::Tmpfs);
    let mut spec = h.spec();
    spec.timeout = Duration::from_secs(1);
    let id = spec.id.clone();
    let env = h.start(spec).await;
    assert_eq!(response(&env, "echo:warm").await, "warm");
    let (out, _) = env.invoke(inv("sleep")).await.expect("invoke");
    assert_eq!(out, Outcome::Timeout);
    assert!(!env.is_alive());
    assert_eq!(
        procs(&h.cgroup("pids", &id)),
        "",
        "setsid children died too"
    );
    let events =
        fs::read_to_string(h.cgroup("unified", &id).join("cgroup.events")).expect("events");
    assert!(events.contains("populated 0"), "{events}");
    assert!(matches!(
        env.invoke(inv("echo:x")).await,
        Err(sandbox::SandboxError::Dead(_))
    ));
    env.destroy().await.expect("destroy");
    assert!(!h.cgroup("pids", &id).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_oom_kills_the_environment() {
    require_root!();
    let h = Harness::new(TmpBacking::Tmpfs);
    let mut spec = h.spec();
    spec.memory_mb = 64;
    let id = spec.id.clone();
    let limit = fs::read_to_string(h.cgroup("memory", &id).join("memory.limit_in_bytes"));
    assert!(limit.is_err(), "no cgroup before start");
    let env = h.start(spec).await;
    let limit =
        fs::read_to_string(h.cgroup("memory", &id).join("memory.limit_in_bytes")).expect("limit");
    assert_eq!(limit.trim(), (64u64 << 20).to_string());
    let (out, stats) = env.invoke(inv("oom")).await.expect("invoke");
    assert_eq!(
        out,
        Outcome::Exited {
            code: None,
            signal: Some(9),
            oom_killed: true
        }
    );
    assert!(
        stats.max_memory_bytes >= 60 << 20,
        "{}",
        stats.max_memory_bytes
    );
    assert!(!env.is_alive());
    env.destroy().await.expect("destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb_is_contained_by_pids_max() {
    require_root!();
    let h = Harness::new(TmpBacking::Tmpfs);
    let mut spec = h.spec();
    spec.memory_mb = 1024;
    let id = spec.id.clone();
    let env = h.start(spec).await;
    let pids = h.cgroup("pids", &id);
    assert_eq!(
        fs::read_to_string(pids.join("pids.max"))
            .expect("max")
            .trim(),
        "1024"
    );
    let out = response(&env, "fork").await;
    assert!(
        out.contains("fork failed: Resource temporarily unavailable"),
        "{out}"
    );
    let current: u32 = fs::read_to_string(pids.join("pids.current"))
        .expect("current")
        .trim()
        .parse()
        .expect("number");
    assert!(current <= 1024, "{current}");
    let events = fs::read_to_string(pids.join("pids.events")).expect("events");
    assert_ne!(events.trim(), "max 0", "the limit was hit");
    let host = Command::new("/bin/true")
        .status()
        .expect("the host can still fork");
    assert!(host.success());
    env.destroy().await.expect("destroy");
    assert!(
        !pids.exists(),
        "every forked process was killed and the cgroup removed"
    );
}

async fn tmp_is_size_limited(backing: TmpBacking) {
    let h = Harness::new(backing);
    let env = h.start(h.spec()).await;
    let out = response(&env, "fill:64").await;
    assert!(out.contains("No space left on device"), "{out}");
    assert!(out.contains("rc=1"), "{out}");
    assert_eq!(
        response(&env, "echo:ok").await,
        "ok",
        "a full /tmp does not kill"
    );
    env.destroy().await.expect("destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmp_on_ext4_image_is_size_limited() {
    require_root!();
    assert!(
        Path::new("/usr/sbin/mkfs.ext4").exists(),
        "the test needs e2fsprogs"
    );
    tmp_is_size_limited(TmpBacking::Ext4Image {
        mkfs: "/usr/sbin/mkfs.ext4".into(),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmp_on_ext4_image_is_not_function_memory() {
    require_root!();
    let h = Harness::new(TmpBacking::Ext4Image {
        mkfs: "/usr/sbin/mkfs.ext4".into(),
    });
    let mut spec = h.spec();
    spec.memory_mb = 64;
    spec.ephemeral_mb = 256;
    let id = spec.id.clone();
    let env = h.start(spec).await;
    let out = response(&env, "fill:200").await;
    assert!(out.contains("rc=0"), "{out}");
    let oom = fs::read_to_string(h.cgroup("memory", &id).join("memory.oom_control"))
        .expect("oom_control");
    assert!(oom.contains("oom_kill 0"), "{oom}");
    assert!(env.is_alive());
    env.destroy().await.expect("destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmp_images_are_private_empty_and_from_one_template() {
    require_root!();
    let h = Harness::new(TmpBacking::Ext4Image {
        mkfs: "/usr/sbin/mkfs.ext4".into(),
    });
    let sized = |mb| {
        let mut spec = h.spec();
        spec.ephemeral_mb = mb;
        spec
    };
    // Two at once: one template is built, and two copies are mounted side by side (same
    // filesystem UUID).
    let (a, b) = tokio::join!(h.start(sized(512)), h.start(sized(512)));
    assert_eq!(h.tmp_templates(), ["ext4-512m"]);
    let c = h.start(sized(1024)).await;
    assert_eq!(h.tmp_templates(), ["ext4-1024m", "ext4-512m"]);
    for (env, mb) in [(&a, 512u64), (&b, 512), (&c, 1024)] {
        let info = response(env, "tmp").await;
        assert!(
            info.contains(&format!("owner={UID}:{GID} mode=755")),
            "{info}"
        );
        assert!(info.contains("files=lost+found \n"), "empty: {info}");
        let kib: u64 = info
            .lines()
            .find_map(|l| l.strip_prefix("kib="))
            .expect("size")
            .parse()
            .expect("KiB");
        assert!(
            kib <= mb << 10 && kib >= (mb << 10) * 95 / 100,
            "{mb} MiB: {kib} KiB"
        );
    }
    assert!(response(&a, "marker").await.starts_with("new"));
    assert!(response(&a, "marker").await.starts_with("found"));
    assert!(
        response(&b, "marker").await.starts_with("new"),
        "b's /tmp is not a's"
    );
    for env in [a, b, c] {
        env.destroy().await.expect("destroy");
    }
    h.sandbox.cleanup_leftovers().expect("cleanup");
    assert!(
        h.tmp_templates().is_empty(),
        "templates removed with the rest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmp_on_tmpfs_is_size_limited() {
    require_root!();
    tmp_is_size_limited(TmpBacking::Tmpfs).await;
}

#[cfg(target_arch = "x86_64")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_is_confined() {
    require_root!();
    let h = Harness::new(TmpBacking::Ext4Image {
        mkfs: "/usr/sbin/mkfs.ext4".into(),
    });
    let mut spec = h.spec();
    spec.resolv_conf = Some("nameserver 192.0.2.53".into());
    let env = h.start(spec).await;
    let out = response(&env, "probe").await;
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing in:\n{out}"))
            .to_string()
    };
    for denied in [
        "read_shadow",
        "write_var_task",
        "write_root",
        "write_etc",
        "mount_cmd",
        "write_proc_sys",
        "read_host_work",
    ] {
        assert_eq!(get(denied), "denied", "{denied}\n{out}");
    }
    assert_eq!(get("write_tmp"), "allowed", "{out}");
    assert_eq!(get("write_dev_null"), "allowed", "{out}");
    assert_eq!(get("uid"), UID.to_string());
    assert_eq!(get("gid"), GID.to_string());
    for caps in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(get(caps), "0000000000000000", "{caps}");
    }
    assert_eq!(get("NoNewPrivs"), "1");
    assert_eq!(get("Seccomp"), "2");
    assert_eq!(get("ifaces"), "lo", "only loopback in an isolated netns");
    assert_eq!(get("hostname"), "localhost");
    assert_eq!(get("resolv"), "nameserver 192.0.2.53");
    assert_eq!(
        get("dev"),
        "fd full null random shm stderr stdin stdout tty urandom zero"
    );
    let procs: u32 = get("procs").parse().expect("count");
    assert!(
        procs < 10,
        "only the environment's own pid namespace: {procs}"
    );
    for sys in [
        "ptrace",
        "mount",
        "umount2",
        "unshare",
        "setns",
        "bpf",
        "perf_event_open",
        "keyctl",
        "kexec_load",
        "init_module",
        "pivot_root",
        "reboot",
        "swapon",
        "clone_newuser",
    ] {
        assert_eq!(
            get(&format!("sys_{sys}")),
            "-1/1",
            "{sys} must fail with EPERM"
        );
    }
    assert_eq!(get("sys_clone3"), "-1/38", "clone3 answers ENOSYS");
    env.destroy().await.expect("destroy");
}

/// Creates a namespace the way the network layer would; deletes it on drop.
struct ForeignNetns(String);

impl Drop for ForeignNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_netns_is_joined_and_left_alone() {
    require_root!();
    let h = Harness::new(TmpBacking::Tmpfs);
    let ns = ForeignNetns(unique("vl-tns"));
    let ok = Command::new("ip")
        .args(["netns", "add", &ns.0])
        .status()
        .expect("ip");
    assert!(ok.success());
    let path = Path::new("/run/netns").join(&ns.0);
    let mut spec = h.spec();
    spec.netns = NetnsChoice::Existing(path.clone());
    let env = h.start(spec).await;
    assert_eq!(response(&env, "echo:inside").await, "inside");
    let listening = Command::new("ip")
        .args(["netns", "exec", &ns.0, "cat", "/proc/net/tcp"])
        .output()
        .expect("ip netns exec");
    let table = String::from_utf8_lossy(&listening.stdout);
    assert!(
        table.contains("0100007F:2329"),
        "the Runtime API listens on 127.0.0.1:9001 inside the namespace:\n{table}"
    );
    env.destroy().await.expect("destroy");
    assert!(
        path.exists(),
        "a namespace the sandbox did not create is never deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exits_are_reported() {
    require_root!();
    let h = Harness::new(TmpBacking::Tmpfs);
    let env = h.start(h.spec()).await;
    let (out, _) = env.invoke(inv("exit")).await.expect("invoke");
    assert_eq!(
        out,
        Outcome::Exited {
            code: Some(7),
            signal: None,
            oom_killed: false
        }
    );
    env.destroy().await.expect("destroy");

    let mut spec = h.spec();
    spec.command = vec!["/var/task/missing".into()];
    let mut env = h.start(spec).await;
    let mut logs = env.take_logs().expect("logs");
    let (out, _) = env.invoke(inv("echo:x")).await.expect("invoke");
    assert_eq!(
        out,
        Outcome::Exited {
            code: Some(127),
            signal: None,
            oom_killed: false
        }
    );
    let line = tokio::time::timeout(Duration::from_secs(10), logs.recv())
        .await
        .expect("log in time")
        .expect("a log line");
    assert!(line.line.contains("/var/task/missing"), "{}", line.line);
    env.destroy().await.expect("destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_is_reported_and_kills() {
    require_root!();
    let h = Harness::new(TmpBacking::Tmpfs);
    let mut spec = h.spec();
    spec.env.push(("MODE".into(), "initerror".into()));
    let id = spec.id.clone();
    let env = h.start(spec).await;
    let (out, _) = env.invoke(inv("echo:x")).await.expect("invoke");
    assert_eq!(
        out,
        Outcome::InitError {
            body: Bytes::from_static(br#"{"errorMessage":"bad init"}"#),
            error_type: Some("Runtime.Test".into()),
        }
    );
    assert!(!env.is_alive());
    assert_eq!(procs(&h.cgroup("pids", &id)), "");
    env.destroy().await.expect("destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_ahead_leaves_the_first_invoke_warm() {
    require_root!();
    let h = Harness::new(TmpBacking::Tmpfs);
    let env = h.start(h.spec()).await;
    let init = env
        .await_init()
        .await
        .expect("await init")
        .expect("init ok");
    assert!(init < Duration::from_secs(10), "{init:?}");
    let (out, stats) = env.invoke(inv("echo:hi")).await.expect("invoke");
    assert_eq!(out, Outcome::Response(Bytes::from_static(b"hi")));
    assert_eq!(stats.init_duration, None, "init was reported ahead");
    env.destroy().await.expect("destroy");

    let mut spec = h.spec();
    spec.env.push(("MODE".into(), "initerror".into()));
    let id = spec.id.clone();
    let env = h.start(spec).await;
    match env.await_init().await.expect("await init") {
        Err(Outcome::InitError { error_type, .. }) => {
            assert_eq!(error_type.as_deref(), Some("Runtime.Test"))
        }
        other => panic!("expected an init error, got {other:?}"),
    }
    assert!(!env.is_alive());
    assert_eq!(procs(&h.cgroup("pids", &id)), "");
    env.destroy().await.expect("destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_specs_are_refused() {
    require_root!();
    let h = Harness::new(TmpBacking::Tmpfs);
    let mut root = h.spec();
    root.uid = 0;
    let mut relative = h.spec();
    relative.command = vec!["bootstrap".into()];
    let mut bad_id = h.spec();
    bad_id.id = "../x".into();
    for spec in [root, relative, bad_id] {
        assert!(matches!(
            h.sandbox.start(spec).await,
            Err(sandbox::SandboxError::InvalidConfig(_))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_leftovers_removes_forgotten_environments() {
    require_root!();
    let h = Harness::new(TmpBacking::Ext4Image {
        mkfs: "/usr/sbin/mkfs.ext4".into(),
    });
    let spec = h.spec();
    let id = spec.id.clone();
    let env = h.start(spec).await;
    assert_eq!(response(&env, "echo:x").await, "x");
    // What a daemon crash leaves: processes, cgroups, namespace, scratch.
    std::mem::forget(env);
    assert_ne!(procs(&h.cgroup("pids", &id)), "");
    assert_eq!(h.sandbox.cleanup_leftovers().expect("cleanup"), 1);
    for hier in ["memory", "pids", "cpu", "freezer", "unified"] {
        assert!(!h.cgroup(hier, &id).exists(), "{hier} cgroup removed");
    }
    assert!(!netns_exists(&id));
}

/// Waits for a reservation with a spare helper: one whose cgroups exist (with the helper in
/// them) when it is handed out. Reservations without one are dropped, which changes nothing.
async fn spare_reservation(h: &Harness) -> sandbox::Reservation {
    for _ in 0..3000 {
        let r = h.sandbox.reserve().expect("reserve");
        if !procs(&h.cgroup("pids", r.id())).trim().is_empty() {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no spare helper within 30 s");
}

/// A reservation after an environment's first invocation finds a helper already waiting in
/// its own cgroups; it runs functions as one made on the spot does, an unused one takes its
/// helper and cgroups with it, and a reservation only starts the environment of its own id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_environments_start_on_spare_helpers() {
    require_root!();
    let h = Harness::new(TmpBacking::Ext4Image {
        mkfs: "/usr/sbin/mkfs.ext4".into(),
    });
    let first = h.sandbox.reserve().expect("reserve");
    assert!(!h.cgroup("pids", first.id()).exists(), "no spare yet");
    let mut spec = h.spec();
    spec.id = first.id().to_owned();
    let a = h.sandbox.start_reserved(first, spec).await.expect("start");
    // The first invocation has a spare made in the background.
    assert_eq!(response(&a, "echo:a").await, "a");
    let spare = spare_reservation(&h).await;
    assert_eq!(spare.id().len(), 32);
    let mut spec = h.spec();
    spec.id = spare.id().to_owned();
    let b = h.sandbox.start_reserved(spare, spec).await.expect("start");
    assert_eq!(response(&b, "echo:b").await, "b");
    // As isolated as any other: the function's uid, no capabilities, no_new_privs, seccomp.
    let probe = response(&b, "probe").await;
    for want in [
        format!("uid={UID}"),
        "CapEff=0000000000000000".into(),
        "NoNewPrivs=1".into(),
        "Seccomp=2".into(),
        "ifaces=lo".into(),
    ] {
        assert!(probe.lines().any(|l| l == want), "{want} in {probe}");
    }
    // b's first invocation made the next spare.
    let spare = spare_reservation(&h).await;
    let id = spare.id().to_owned();
    let mut other = h.spec();
    other.id = format!("{id}0");
    assert!(matches!(
        h.sandbox.start_reserved(spare, other).await,
        Err(sandbox::SandboxError::InvalidConfig(_))
    ));
    // That reservation went with the refused start, and its helper and cgroups with it.
    for _ in 0..1000 {
        if !h.cgroup("pids", &id).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!h.cgroup("pids", &id).exists(), "unused spare removed");
    for env in [a, b] {
        env.destroy().await.expect("destroy");
    }
    h.sandbox.cleanup_leftovers().expect("cleanup");
    for hier in ["memory", "pids", "cpu", "freezer"] {
        let instance = Path::new("/sys/fs/cgroup")
            .join(hier)
            .join(format!("vl-{}", h.instance));
        assert!(!instance.exists(), "{hier}: spares removed with the rest");
    }
}
