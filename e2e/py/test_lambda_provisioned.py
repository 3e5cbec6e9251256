"""Provisioned concurrency end to end: the four operations with Lambda's shapes and error
texts, then real environments initialized ahead — IN_PROGRESS with Allocated counting up,
READY, the first invocation warm (no Init Duration), the initialization type the function
sees, surplus environments stopped when the configuration shrinks or goes, a daemon restart
provisioning again, an init that fails, and a VPC function's ENI existing by READY.

Environments are observed as processes: each one's runtime carries its own
AWS_LAMBDA_LOG_STREAM_NAME, and the initialization type, in its environment."""

import base64
import datetime
import json
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import ROOT
from fixtures.lambda_world import (BASIC, VPC_ACCESS, create, error_of, make_network, make_role,
                                   package, signed, wait_until)
from functions import FUNCTIONS, zip_function
from wire_check import checked

ARN = "arn:aws:lambda:us-east-1:000000000000:function"


@pytest.fixture
def execd(privileged, make_daemon):
    return make_daemon("--runtimes-dir", str(ROOT / "runtimes")).start()


def lam(d):
    return checked(d.client("lambda"))


def published(d, name, kind=None, alias="live", **kw):
    """Function `name` with version 1 published and `alias` on it."""
    if kind:
        runtime, handler = FUNCTIONS[kind]
        role = make_role(d, f"role-{name}", policies=(BASIC, VPC_ACCESS))
        create(d, name, role, zip_function(kind), Runtime=runtime, Handler=handler, **kw)
    else:
        create(d, name, make_role(d, f"role-{name}"), **kw)
    client = lam(d)
    assert client.publish_version(FunctionName=name)["Version"] == "1"
    client.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")


def environments(name, init_type=None):
    """Log streams of the live environments of function `name` (by their processes),
    optionally only those initialized as `init_type`."""
    streams = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            raw = (proc / "environ").read_bytes()
        except OSError:
            continue
        env = dict(v.split("=", 1) for v in raw.decode(errors="replace").split("\0") if "=" in v)
        if env.get("AWS_LAMBDA_FUNCTION_NAME") != name:
            continue
        if init_type and env.get("AWS_LAMBDA_INITIALIZATION_TYPE") != init_type:
            continue
        streams.add(env.get("AWS_LAMBDA_LOG_STREAM_NAME"))
    return streams


def invoke(d, name, event, qualifier):
    out = d.client("lambda").invoke(FunctionName=name, Qualifier=qualifier, Payload=json.dumps(event),
                                    LogType="Tail")
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    tail = base64.b64decode(out["LogResult"]).decode()
    report = [line for line in tail.splitlines() if line.startswith("REPORT")]
    return body, out, report[0]


def wait_status(d, name, qualifier, status, timeout=90):
    """Polls the configuration until `status`; returns every answer seen."""
    seen = []

    def reached():
        seen.append(lam(d).get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier))
        return seen[-1]["Status"] == status

    wait_until(reached, timeout=timeout)
    return seen


def test_operations_shapes_and_errors(daemon):
    published(daemon, "f")
    client = lam(daemon)
    for q in ("$LATEST",):
        with pytest.raises(ClientError) as e:
            client.put_provisioned_concurrency_config(FunctionName="f", Qualifier=q,
                                                      ProvisionedConcurrentExecutions=1)
        assert error_of(e) == ("InvalidParameterValueException",
                               "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
                               400)
        for op in (client.get_provisioned_concurrency_config, client.delete_provisioned_concurrency_config):
            with pytest.raises(ClientError) as e:
                op(FunctionName="f", Qualifier=q)
            assert error_of(e) == ("InvalidParameterValueException",
                                   "The function resource provided must be an alias or a published version.",
                                   400)
    r = signed(daemon, "PUT", "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=1",
               json.dumps({"ProvisionedConcurrentExecutions": 0}).encode())
    assert r.status_code == 400 and r.headers["x-amzn-errortype"].startswith("ValidationException")
    assert r.json()["message"] == (
        "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to "
        "satisfy constraint: Member must have value greater than or equal to 1")
    r = signed(daemon, "GET", "/2019-09-30/functions/f/provisioned-concurrency")
    assert r.status_code == 400 and r.json()["message"] == (
        "1 validation error detected: Value null at 'qualifier' failed to satisfy constraint: "
        "Member must not be null")

    with pytest.raises(ClientError) as e:
        client.get_provisioned_concurrency_config(FunctionName="f", Qualifier="1")
    assert error_of(e) == ("ProvisionedConcurrencyConfigNotFoundException",
                           "No Provisioned Concurrency Config found for this function", 404)
    with pytest.raises(ClientError) as e:
        client.put_provisioned_concurrency_config(FunctionName="f", Qualifier="9",
                                                  ProvisionedConcurrentExecutions=1)
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {ARN}:f:9", 404)
    with pytest.raises(ClientError) as e:
        client.put_provisioned_concurrency_config(FunctionName="f", Qualifier="nope",
                                                  ProvisionedConcurrentExecutions=1)
    assert error_of(e) == ("ResourceNotFoundException", f"Cannot find alias arn: {ARN}:f:nope", 404)
    with pytest.raises(ClientError) as e:
        client.put_provisioned_concurrency_config(FunctionName="f", Qualifier="live",
                                                  ProvisionedConcurrentExecutions=901)
    assert error_of(e) == ("InvalidParameterValueException",
                           "Specified ConcurrentExecutions for function decreases account's "
                           "UnreservedConcurrentExecution below its minimum value of [100].", 400)

    put = client.put_provisioned_concurrency_config(FunctionName="f", Qualifier="live",
                                                    ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] == "IN_PROGRESS" and put["AllocatedProvisionedConcurrentExecutions"] == 0
    assert put["LastModified"].endswith("+0000")
    with pytest.raises(ClientError) as e:
        client.put_provisioned_concurrency_config(FunctionName="f", Qualifier="1",
                                                  ProvisionedConcurrentExecutions=1)
    assert error_of(e) == ("ResourceConflictException",
                           "Version is pointed by a Provisioned Concurrency alias", 409)
    limit = client.get_account_settings()["AccountLimit"]
    assert limit["UnreservedConcurrentExecutions"] == 998, "provisioned leaves the unreserved pool"

    client.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=1)
    with pytest.raises(ClientError) as e:
        client.put_provisioned_concurrency_config(FunctionName="f", Qualifier="live",
                                                  ProvisionedConcurrentExecutions=2)
    assert error_of(e) == ("InvalidParameterValueException",
                           "Requested Provisioned Concurrency should not be greater than the "
                           "reservedConcurrentExecution for function", 400)
    client.delete_function_concurrency(FunctionName="f")

    # A second version with an alias of its own: two configurations to page through.
    client.update_function_configuration(FunctionName="f", MemorySize=256)
    wait_until(lambda: client.get_function(FunctionName="f")["Configuration"]["LastUpdateStatus"] == "Successful")
    assert client.publish_version(FunctionName="f")["Version"] == "2"
    client.create_alias(FunctionName="f", Name="next", FunctionVersion="2")
    client.put_provisioned_concurrency_config(FunctionName="f", Qualifier="next",
                                              ProvisionedConcurrentExecutions=1)
    with pytest.raises(ClientError) as e:
        client.put_provisioned_concurrency_config(FunctionName="f", Qualifier="2",
                                                  ProvisionedConcurrentExecutions=1)
    assert error_of(e)[0] == "ResourceConflictException"
    first = client.list_provisioned_concurrency_configs(FunctionName="f", MaxItems=1)
    assert [c["FunctionArn"] for c in first["ProvisionedConcurrencyConfigs"]] == [f"{ARN}:f:live"]
    second = client.list_provisioned_concurrency_configs(FunctionName="f", Marker=first["NextMarker"])
    assert [c["FunctionArn"] for c in second["ProvisionedConcurrencyConfigs"]] == [f"{ARN}:f:next"]
    assert "NextMarker" not in second
    assert second["ProvisionedConcurrencyConfigs"][0]["RequestedProvisionedConcurrentExecutions"] == 1

    client.delete_provisioned_concurrency_config(FunctionName="f", Qualifier="live")
    client.delete_provisioned_concurrency_config(FunctionName="f", Qualifier="live")
    with pytest.raises(ClientError) as e:
        client.get_provisioned_concurrency_config(FunctionName="f", Qualifier="live")
    assert error_of(e)[0] == "ProvisionedConcurrencyConfigNotFoundException"
    client.delete_alias(FunctionName="f", Name="next")
    assert client.list_provisioned_concurrency_configs(FunctionName="f")["ProvisionedConcurrencyConfigs"] == []
    client.put_provisioned_concurrency_config(FunctionName="f", Qualifier="1",
                                              ProvisionedConcurrentExecutions=1)
    client.delete_function(FunctionName="f")
    with pytest.raises(ClientError) as e:
        client.list_provisioned_concurrency_configs(FunctionName="f")
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {ARN}:f", 404)


def test_environments_are_initialized_ahead_and_serve_warm(execd):
    d = execd
    published(d, "pc", kind="python")
    client = lam(d)
    put = client.put_provisioned_concurrency_config(FunctionName="pc", Qualifier="live",
                                                    ProvisionedConcurrentExecutions=2)
    assert put["Status"] == "IN_PROGRESS"
    seen = wait_status(d, "pc", "live", "READY")
    allocated = [s["AllocatedProvisionedConcurrentExecutions"] for s in seen]
    assert allocated == sorted(allocated), "Allocated only counts up"
    assert seen[0]["Status"] == "IN_PROGRESS" and allocated[0] < 2
    ready = seen[-1]
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 2
    assert ready["AvailableProvisionedConcurrentExecutions"] == 2
    assert len(environments("pc", "provisioned-concurrency")) == 2

    body, out, report = invoke(d, "pc", {"env": True}, "live")
    assert out["ExecutedVersion"] == "1"
    assert body["AWS_LAMBDA_INITIALIZATION_TYPE"] == "provisioned-concurrency"
    assert "Init Duration" not in report, report
    # The version itself runs on the same environments.
    _, _, report = invoke(d, "pc", {"hello": 1}, "1")
    assert "Init Duration" not in report, report
    body, _, report = invoke(d, "pc", {"env": True}, "$LATEST")
    assert body["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand" and "Init Duration" in report

    # Provisioned environments are never frozen; the idle on-demand one is.
    time.sleep(1)
    on_demand = environments("pc", "on-demand")
    assert len(on_demand) == 1 and all(frozen(s) is True for s in on_demand)
    kept = environments("pc", "provisioned-concurrency")
    assert len(kept) == 2 and all(frozen(s) is False for s in kept)

    # Three at once on two provisioned environments: one spills over to an on-demand one.
    threads = [threading.Thread(target=invoke, args=(d, "pc", {"sleep": 2}, "live")) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Two before, two now on provisioned environments; the third spilled over.
    wait_until(lambda: metric(d, "ProvisionedConcurrencyInvocations", "pc") == 4
               and metric(d, "ProvisionedConcurrencySpilloverInvocations", "pc") == 1, timeout=10)
    assert metric(d, "ProvisionedConcurrentExecutions", "pc", "Maximum") == 2
    assert metric(d, "ProvisionedConcurrencyUtilization", "pc", "Maximum") == 1

    client.put_provisioned_concurrency_config(FunctionName="pc", Qualifier="live",
                                              ProvisionedConcurrentExecutions=1)
    wait_status(d, "pc", "live", "READY")
    wait_until(lambda: len(environments("pc", "provisioned-concurrency")) == 1, timeout=20)

    d.restart()
    got = lam(d).get_provisioned_concurrency_config(FunctionName="pc", Qualifier="live")
    assert got["RequestedProvisionedConcurrentExecutions"] == 1
    wait_status(d, "pc", "live", "READY")
    _, _, report = invoke(d, "pc", {"hello": 2}, "live")
    assert "Init Duration" not in report, "provisioned again after the restart"

    lam(d).delete_provisioned_concurrency_config(FunctionName="pc", Qualifier="live")
    wait_until(lambda: not environments("pc", "provisioned-concurrency"), timeout=20)
    body, _, report = invoke(d, "pc", {"env": True}, "live")
    assert body["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand" and "Init Duration" in report


def metric(d, name, function, stat="Sum"):
    now = datetime.datetime.now(datetime.timezone.utc)
    points = d.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=name, Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=now - datetime.timedelta(minutes=10), EndTime=now + datetime.timedelta(minutes=10),
        Period=3600, Statistics=[stat])["Datapoints"]
    return sum(p[stat] for p in points) if stat == "Sum" else max((p[stat] for p in points), default=None)


def frozen(stream):
    """Whether the environment with log stream `stream` is frozen (its cgroup v2 freezer);
    `None` when its cgroup is not found."""
    hexid = stream.rsplit("]", 1)[-1]
    root = Path("/sys/fs/cgroup")
    for pattern in (f"*/vl-env-{hexid}/cgroup.events", f"*/*/vl-env-{hexid}/cgroup.events"):
        for events in root.glob(pattern):
            return "frozen 1" in events.read_text()
    return None


def test_a_failing_init_fails_the_configuration(execd):
    d = execd
    # A bootstrap that exits at once never reaches /next.
    create(d, "broken", make_role(d, "role-broken"), package({"bootstrap": "#!/bin/sh\nexit 3\n"}))
    client = lam(d)
    client.publish_version(FunctionName="broken")
    client.put_provisioned_concurrency_config(FunctionName="broken", Qualifier="1",
                                              ProvisionedConcurrentExecutions=1)
    failed = wait_status(d, "broken", "1", "FAILED")[-1]
    assert failed["StatusReason"] == "FUNCTION_ERROR_INIT_FAILURE"
    assert failed["AllocatedProvisionedConcurrentExecutions"] == 0


def test_a_vpc_functions_eni_exists_by_ready(execd):
    d = execd
    _, (a, b), sg = make_network(d)
    published(d, "invpc", kind="shell", VpcConfig={"SubnetIds": [a, b], "SecurityGroupIds": [sg]})
    lam(d).put_provisioned_concurrency_config(FunctionName="invpc", Qualifier="live",
                                              ProvisionedConcurrentExecutions=1)
    wait_status(d, "invpc", "live", "READY")
    enis = d.client("ec2").describe_network_interfaces(
        Filters=[{"Name": "requester-id", "Values": ["*:invpc"]}])["NetworkInterfaces"]
    assert len(enis) >= 1 and all(e["Status"] == "in-use" for e in enis), enis
    _, _, report = invoke(d, "invpc", {"hello": 1}, "live")
    assert "Init Duration" not in report, report
