"""Invoke end to end: real functions in real execution environments, driven by boto3 and
the aws CLI — warm reuse, timeouts, crashes, isolation, concurrency, Event invocations
(retries, surviving a kill -9) and the function logs."""

import base64
import json
import threading
import time

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from conftest import ROOT
from fixtures.lambda_world import BASIC, create, error_of, make_role, wait_updated, wait_until
from functions import FUNCTIONS, zip_function


@pytest.fixture
def execd(privileged, make_daemon):
    """A daemon that runs functions, with Event retries 1 s apart."""
    return make_daemon("--async-retry-delay", "1", "--runtimes-dir", str(ROOT / "runtimes")).start()


def deploy(d, name, kind="shell", **kw):
    runtime, handler = FUNCTIONS[kind]
    role = make_role(d, f"role-{name}", policies=(BASIC,))
    create(d, name, role, zip_function(kind), Runtime=runtime, Handler=handler, **kw)


def invoke(d, name, event, **kw):
    """Invokes with the log tail; returns (payload object or text, response, log tail)."""
    out = d.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event), LogType="Tail", **kw)
    raw = out["Payload"].read().decode()
    try:
        body = json.loads(raw)
    except ValueError:
        body = raw
    return body, out, base64.b64decode(out.get("LogResult", "")).decode()


def log_lines(d, name):
    logs = d.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except ClientError:
        return []
    return [e["message"] for e in events]


def test_echo_then_warm_reuse_with_init_duration_only_when_cold(execd):
    deploy(execd, "echo")
    body, out, tail = invoke(execd, "echo", {"hello": "world"})
    assert out["StatusCode"] == 200 and "FunctionError" not in out
    assert body == {"hello": "world"}
    assert out["ExecutedVersion"] == "$LATEST"
    rid = out["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {rid} Version: $LATEST" in tail
    assert f"END RequestId: {rid}" in tail
    report = [line for line in tail.splitlines() if line.startswith("REPORT")][0]
    assert "\tDuration: " in report and "\tBilled Duration: " in report
    assert "\tMemory Size: 128 MB\tMax Memory Used: " in report and "\tInit Duration: " in report

    first, _, tail2 = invoke(execd, "echo", {"tmp_marker": True})
    second, _, tail3 = invoke(execd, "echo", {"tmp_marker": True})
    assert first["existed"] is False and second["existed"] is True
    assert first["pid"] == second["pid"]
    assert "Init Duration" not in tail2 and "Init Duration" not in tail3

    # The environment's log stream holds every line, in order.
    wait_until(lambda: sum(m.startswith("REPORT") for m in log_lines(execd, "echo")) == 3)
    streams = execd.client("logs").describe_log_streams(logGroupName="/aws/lambda/echo")["logStreams"]
    assert len(streams) == 1 and "/[$LATEST]" in streams[0]["logStreamName"]


def test_cli_invoke_with_log_tail_and_client_context(execd, tmp_path):
    deploy(execd, "cli")
    out_file = tmp_path / "out.json"
    ctx = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    out = execd.aws("lambda", "invoke", "--function-name", "cli", "--payload", '{"log": "from-cli"}',
                    "--log-type", "Tail",
                    "--client-context", ctx, str(out_file))
    assert out["StatusCode"] == 200 and out["ExecutedVersion"] == "$LATEST"
    assert json.loads(out_file.read_text()) == {"logged": "from-cli"}
    tail = base64.b64decode(out["LogResult"]).decode()
    assert "from-cli" in tail and "START RequestId:" in tail and "REPORT RequestId:" in tail


def test_dry_run_event_and_bad_requests(execd):
    deploy(execd, "kinds")
    lam = execd.client("lambda")
    assert lam.invoke(FunctionName="kinds", InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName="kinds", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="kinds", Payload=b"not json")
    assert error_of(e)[0] == "InvalidRequestContentException" and error_of(e)[2] == 400
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="missing", Payload=b"{}")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_handler_error_is_200_with_unhandled(execd):
    deploy(execd, "fails")
    body, out, _ = invoke(execd, "fails", {"error": "boom"})
    assert out["StatusCode"] == 200 and out["FunctionError"] == "Unhandled"
    assert body == {"errorMessage": "boom", "errorType": "EchoError"}
    # A handler error keeps the environment.
    again, _, tail = invoke(execd, "fails", {"a": 1})
    assert again == {"a": 1} and "Init Duration" not in tail


def test_timeout_then_fresh_environment(execd):
    deploy(execd, "slow", Timeout=1)
    invoke(execd, "slow", {"tmp_marker": True})
    body, out, tail = invoke(execd, "slow", {"sleep": 5})
    rid = out["ResponseMetadata"]["RequestId"]
    assert out["FunctionError"] == "Unhandled"
    assert body == {"errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds"}
    assert "Billed Duration: 1000 ms" in tail
    after, _, tail = invoke(execd, "slow", {"tmp_marker": True})
    assert after["existed"] is False and "Init Duration" in tail


def test_runtime_exit_is_exit_error(execd):
    deploy(execd, "quits")
    body, out, _ = invoke(execd, "quits", {"exit": 3})
    rid = out["ResponseMetadata"]["RequestId"]
    assert out["FunctionError"] == "Unhandled"
    assert body == {"errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 3"}
    assert invoke(execd, "quits", {"b": 2})[0] == {"b": 2}


def test_out_of_memory_is_exit_error_signal_killed(execd):
    # 128 MB gets ~7% of a CPU: give the allocation time to reach the limit on a busy host.
    deploy(execd, "hog", "rust", MemorySize=128, Timeout=60)
    body, out, _ = invoke(execd, "hog", {"alloc_mb": 1024})
    rid = out["ResponseMetadata"]["RequestId"]
    assert out["FunctionError"] == "Unhandled"
    assert body == {"errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed"}
    assert invoke(execd, "hog", {"c": 3})[0] == {"c": 3}


def test_fork_bomb_is_contained(execd):
    deploy(execd, "forks", "rust", Timeout=60, MemorySize=1024)
    body, out, _ = invoke(execd, "forks", {"fork_bomb": True})
    assert "FunctionError" not in out, body
    assert body["error"] is not None and body["spawned"] < 1100
    assert invoke(execd, "forks", {"d": 4})[0] == {"d": 4}


def test_tmp_is_limited_to_ephemeral_storage(execd):
    deploy(execd, "fills", "rust", EphemeralStorage={"Size": 512}, Timeout=60, MemorySize=512)
    body, out, tail = invoke(execd, "fills", {"write_tmp_mb": 600})
    assert "FunctionError" not in out, (body, tail)
    assert body["error"] is not None and "No space left" in body["error"], body
    assert body["written_mb"] < 600


def test_isolation_from_the_host(execd):
    deploy(execd, "probe", "rust")
    port = execd.endpoint.rsplit(":", 1)[1]
    cases = [
        ({"read": "/etc/shadow"}, False),
        ({"write": "/var/task/new"}, False),
        ({"connect": f"127.0.0.1:{port}"}, False),
        ({"connect": "127.0.0.1:4566"}, False),
        ({"write": "/tmp/ok"}, True),
    ]
    for event, allowed in cases:
        body, _, _ = invoke(execd, "probe", event)
        assert body["ok"] is allowed, (event, body)


def run_parallel(calls):
    results = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except ClientError as e:
            results[i] = e
    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_reserved_concurrency_throttles_synchronous_invokes(execd):
    deploy(execd, "one")
    lam = execd.client("lambda")
    lam.put_function_concurrency(FunctionName="one", ReservedConcurrentExecutions=1)
    invoke(execd, "one", {"warm": 1})
    results = run_parallel([
        lambda: execd.client("lambda").invoke(FunctionName="one", Payload=json.dumps({"sleep": 2}))
        for _ in range(2)
    ])
    ok = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, ClientError)]
    assert len(ok) == 1 and len(refused) == 1, results
    assert ok[0]["StatusCode"] == 200
    err = refused[0].response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err["Error"]["Code"] == "TooManyRequestsException"
    assert err["Error"]["Message"] == "Rate Exceeded."
    assert err.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded", err
    assert "retry-after" in err["ResponseMetadata"]["HTTPHeaders"]

    lam.put_function_concurrency(FunctionName="one", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="one", Payload=b"{}")
    assert error_of(e)[0] == "TooManyRequestsException"


def test_account_limit_throttles_unreserved_functions(privileged, make_daemon):
    d = make_daemon("--concurrency-limit", "1").start()
    deploy(d, "a")
    deploy(d, "b")
    results = run_parallel([
        lambda n=n: d.client("lambda").invoke(FunctionName=n, Payload=json.dumps({"sleep": 2}))
        for n in ("a", "b")
    ])
    refused = [r for r in results if isinstance(r, ClientError)]
    assert len(refused) == 1, results
    assert refused[0].response.get("Reason") == "ConcurrentInvocationLimitExceeded"


def test_code_update_drains_warm_environments(execd):
    deploy(execd, "upd")
    assert invoke(execd, "upd", {"tmp_marker": True})[0]["existed"] is False
    assert invoke(execd, "upd", {"tmp_marker": True})[0]["existed"] is True
    execd.client("lambda").update_function_configuration(FunctionName="upd", Environment={"Variables": {"XY": "1"}})
    wait_updated(execd, "upd")
    body, _, tail = invoke(execd, "upd", {"tmp_marker": True})
    assert body["existed"] is False and "Init Duration" in tail


def test_idle_environments_expire(privileged, make_daemon):
    d = make_daemon("--env-idle-timeout", "1").start()
    deploy(d, "idle")
    assert invoke(d, "idle", {"tmp_marker": True})[0]["existed"] is False
    time.sleep(3)
    body, _, tail = invoke(d, "idle", {"tmp_marker": True})
    assert body["existed"] is False and "Init Duration" in tail


def test_event_invocation_of_a_failing_function_is_retried_twice(execd):
    deploy(execd, "retry")
    out = execd.client("lambda").invoke(FunctionName="retry", InvocationType="Event",
                                        Payload=json.dumps({"error": "always"}))
    assert out["StatusCode"] == 202
    rid = out["ResponseMetadata"]["RequestId"]

    def starts():
        return [m for m in log_lines(execd, "retry") if m.startswith("START RequestId:")]
    wait_until(lambda: len(starts()) >= 3, timeout=30)
    time.sleep(3)
    assert len(starts()) == 3
    assert all(rid in s for s in starts())


def test_event_survives_a_daemon_kill(execd):
    deploy(execd, "durable")
    lam = execd.client("lambda")
    # Reserved concurrency 0 keeps the event waiting in the queue.
    lam.put_function_concurrency(FunctionName="durable", ReservedConcurrentExecutions=0)
    out = lam.invoke(FunctionName="durable", InvocationType="Event", Payload=json.dumps({"log": "survived"}))
    assert out["StatusCode"] == 202
    execd.kill9()
    execd.start()
    assert not any("survived" in m for m in log_lines(execd, "durable"))
    execd.client("lambda").delete_function_concurrency(FunctionName="durable")
    wait_until(lambda: any("survived" in m for m in log_lines(execd, "durable")), timeout=30)


def test_node_function(execd):
    if not (ROOT / "runtimes" / "node" / "bootstrap.js").is_file():
        pytest.skip("the Node.js runtime is not in this checkout")
    deploy(execd, "node", "node")
    body, out, tail = invoke(execd, "node", {"hello": "node"})
    assert body == {"hello": "node"} and "FunctionError" not in out, (body, tail)
    body, out, _ = invoke(execd, "node", {"error": "bad"})
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "EchoError"


def test_rust_function_as_go1x(execd):
    deploy(execd, "gofn", "rust-go")
    body, out, _ = invoke(execd, "gofn", {"context": True})
    assert body["request_id"] == out["ResponseMetadata"]["RequestId"]
    assert body["function_arn"].endswith(":function:gofn")


def test_without_root_invoke_is_refused_and_the_control_plane_works(privileged, monkeypatch):
    import os
    import shutil
    import tempfile

    import conftest
    from conftest import Daemon

    work = tempfile.mkdtemp(prefix="vl-nonroot-")
    try:
        os.chmod(work, 0o777)
        wrapper = os.path.join(work, "as-nobody")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups {conftest.BIN} "$@"\n')
        os.chmod(wrapper, 0o755)
        monkeypatch.setattr(conftest, "BIN", wrapper)
        d = Daemon(os.path.join(work, "data")).start()
        try:
            assert "Invoke is refused" in d.read_log()
            deploy(d, "nr")
            with pytest.raises(ClientError) as e:
                d.client("lambda").invoke(FunctionName="nr", Payload=b"{}")
            code, message, status = error_of(e)
            assert (code, status) == ("ServiceException", 500)
            assert "needs root" in message
            assert d.client("lambda").invoke(FunctionName="nr", InvocationType="DryRun")["StatusCode"] == 204
        finally:
            d.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_python_function(execd):
    if not list((ROOT / "runtimes").glob("python3.*/awslambdaric/__init__.py")):
        pytest.skip("awslambdaric is not installed below runtimes/ (scripts/deps installs it)")
    deploy(execd, "py", "python")
    body, out, tail = invoke(execd, "py", {"hello": "python"})
    assert body == {"hello": "python"} and "FunctionError" not in out, (body, tail)
    body, out, _ = invoke(execd, "py", {"error": "bad"})
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "EchoError"


def test_package_without_bootstrap_is_invalid_entrypoint(execd):
    from fixtures.lambda_world import package
    role = make_role(execd, "role-noboot", policies=(BASIC,))
    create(execd, "noboot", role, package({"readme.txt": "no bootstrap here"}))
    body, out, _ = invoke(execd, "noboot", {})
    rid = out["ResponseMetadata"]["RequestId"]
    assert out["FunctionError"] == "Unhandled"
    assert body == {"errorType": "Runtime.InvalidEntrypoint",
                    "errorMessage": f"RequestId: {rid} Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"}


def test_environment_variables_and_execution_role_credentials(execd):
    d = execd
    deploy(d, "envs", kind="python", MemorySize=256, Environment={"Variables": {"GREETING": "hi"}})
    env, _, _ = invoke(d, "envs", {"env": True})
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "envs"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/envs"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["_HANDLER"] == FUNCTIONS["python"][1]
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["GREETING"] == "hi"
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    # The credentials are the execution role's: the daemon accepts them with their token.
    sts = boto3.client("sts", endpoint_url=d.endpoint, region_name="us-east-1",
                       aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                       aws_session_token=env["AWS_SESSION_TOKEN"],
                       config=botocore.config.Config(retries={"max_attempts": 1}))
    me = sts.get_caller_identity()
    assert me["Arn"].startswith("arn:aws:sts::000000000000:assumed-role/")
    assert me["Arn"].endswith("/envs")
    without_token = boto3.client("sts", endpoint_url=d.endpoint, region_name="us-east-1",
                                 aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                 aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                 config=botocore.config.Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        without_token.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"
