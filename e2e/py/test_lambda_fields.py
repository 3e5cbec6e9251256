"""Every member of CreateFunction, UpdateFunctionConfiguration and UpdateFunctionCode is
honored or refused by name: TracingConfig, KMSKeyArn, SnapStart and LoggingConfig round-trip
and change what functions see and write; members this Lambda cannot honor are refused
with InvalidParameterValueException, and a refused request changes nothing. Also the
Marker/MaxItems paging of the list operations."""

import base64
import json
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ROOT
from fixtures.lambda_world import BASIC, create, error_of, make_role, package, signed, wait_updated, wait_until
from functions import FUNCTIONS, zip_function

KMS = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture
def role(daemon):
    return make_role(daemon, "lambda-exec")


@pytest.fixture
def execd(privileged, make_daemon):
    return make_daemon("--runtimes-dir", str(ROOT / "runtimes")).start()


XRAY_WRITE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"}]})


def tracing_role(d, name, policies=(BASIC,)):
    """A role that may write X-Ray traces, as Active tracing needs."""
    arn = make_role(d, name, policies=policies)
    d.client("iam").put_role_policy(RoleName=name, PolicyName="xray", PolicyDocument=XRAY_WRITE)
    return arn


def refused(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return error_of(e)


def test_input_members_json_is_botocores():
    subprocess.run([str(ROOT / "scripts" / "lambda-input-members"), "--check"], check=True)


def test_unsupported_members_are_refused_by_name(daemon, role):
    lam = daemon.client("lambda")
    base = dict(FunctionName="f", Runtime="provided.al2023", Role=role, Handler="bootstrap",
                Code={"ZipFile": package()})
    cases = [
        ({"FileSystemConfigs": [{"Arn": "arn:aws:elasticfilesystem:us-east-1:000000000000:access-point/fsap-1",
                                 "LocalMountPath": "/mnt/efs"}]},
         "FileSystemConfigs is not supported by vpclambda: there is no Amazon EFS here."),
        ({"ImageConfig": {"Command": ["x"]}},
         "ImageConfig is not supported by vpclambda: functions run .zip file archives only."),
        ({"DurableConfig": {"RetentionPeriodInDays": 1}},
         "DurableConfig is not supported by vpclambda: there are no durable functions here."),
        ({"TenancyConfig": {"TenantIsolationMode": "PER_TENANT"}},
         "TenancyConfig is not supported by vpclambda: there is no tenant isolation here."),
        ({"VpcConfig": {"SubnetIds": [], "SecurityGroupIds": [], "Ipv6AllowedForDualStack": True}},
         "VpcConfig.Ipv6AllowedForDualStack is not supported by vpclambda: its VPCs are IPv4 only."),
    ]
    for extra, message in cases:
        assert refused(lam.create_function, **base, **extra) == ("InvalidParameterValueException", message, 400)
    # Nothing was created by any of them.
    assert refused(lam.get_function, FunctionName="f")[0] == "ResourceNotFoundException"

    # A member no model has is ignored, as Lambda ignores it.
    body = json.dumps({"FunctionName": "g", "Runtime": "provided.al2023", "Role": role, "Handler": "bootstrap",
                       "Code": {"ZipFile": base64.b64encode(package()).decode()}, "NotAMember": {"x": 1}})
    r = signed(daemon, "POST", "/2015-03-31/functions", body.encode())
    assert r.status_code == 201, r.text

    wait_until(lambda: lam.get_function(FunctionName="g")["Configuration"]["State"] == "Active")
    assert refused(lam.update_function_configuration, FunctionName="g",
                   FileSystemConfigs=[{"Arn": "arn:aws:elasticfilesystem:us-east-1:000000000000:access-point/fsap-1",
                                       "LocalMountPath": "/mnt/efs"}])[:2] == (
        "InvalidParameterValueException",
        "FileSystemConfigs is not supported by vpclambda: there is no Amazon EFS here.")
    assert refused(lam.update_function_code, FunctionName="g", ZipFile=package(), SourceKMSKeyArn=KMS)[:2] == (
        "InvalidParameterValueException", "SourceKMSKeyArn is not supported by vpclambda: there is no AWS KMS here.")


def test_active_tracing_needs_a_role_that_writes_traces(daemon, role):
    lam = daemon.client("lambda")
    message = "The provided execution role does not have permissions to call PutTraceSegments on XRAY"
    assert refused(lam.create_function, FunctionName="t", Runtime="provided.al2023", Role=role, Handler="bootstrap",
                   Code={"ZipFile": package()}, TracingConfig={"Mode": "Active"}) == (
        "InvalidParameterValueException", message, 400)
    create(daemon, "t", role)
    assert refused(lam.update_function_configuration, FunctionName="t", TracingConfig={"Mode": "Active"})[1] == message
    traced = tracing_role(daemon, "traced-role")
    lam.update_function_configuration(FunctionName="t", Role=traced, TracingConfig={"Mode": "Active"})
    wait_updated(daemon, "t")
    # Going back to a role without the permissions is refused while tracing is Active.
    assert refused(lam.update_function_configuration, FunctionName="t", Role=role)[1] == message
    assert lam.get_function_configuration(FunctionName="t")["Role"] == traced


def test_options_round_trip(daemon, role):
    lam = daemon.client("lambda")
    role = tracing_role(daemon, "opts-role")
    out = create(daemon, "opts", role, Runtime="python3.12", Handler="app.handler",
                 TracingConfig={"Mode": "Active"}, KMSKeyArn=KMS, SnapStart={"ApplyOn": "PublishedVersions"},
                 LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "LogGroup": "/custom/opts"})
    for conf in (out, lam.get_function_configuration(FunctionName="opts")):
        assert conf["TracingConfig"] == {"Mode": "Active"}
        assert conf["KMSKeyArn"] == KMS
        assert conf["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
        assert conf["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG",
                                         "SystemLogLevel": "INFO", "LogGroup": "/custom/opts"}
    v1 = lam.publish_version(FunctionName="opts")
    assert v1["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    assert lam.get_function_configuration(FunctionName="opts", Qualifier="1")["SnapStart"]["OptimizationStatus"] == "On"

    # SnapStart stays with a runtime Lambda takes it for.
    assert refused(lam.update_function_configuration, FunctionName="opts", Runtime="nodejs20.x")[:2] == (
        "InvalidParameterValueException", "nodejs20.x is not supported for SnapStart enabled functions.")
    up = lam.update_function_configuration(FunctionName="opts", KMSKeyArn="", TracingConfig={"Mode": "PassThrough"},
                                           SnapStart={"ApplyOn": "None"}, LoggingConfig={"LogFormat": "Text"})
    wait_updated(daemon, "opts")
    for conf in (up, lam.get_function_configuration(FunctionName="opts")):
        assert "KMSKeyArn" not in conf
        assert conf["TracingConfig"] == {"Mode": "PassThrough"}
        assert conf["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
        assert conf["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/opts"}
    # The version keeps what it was published with.
    v = lam.get_function_configuration(FunctionName="opts", Qualifier="1")
    assert v["KMSKeyArn"] == KMS and v["TracingConfig"] == {"Mode": "Active"}

    # Defaults, as Lambda shows them.
    plain = create(daemon, "plain", role)
    assert plain["TracingConfig"] == {"Mode": "PassThrough"}
    assert "KMSKeyArn" not in plain
    assert plain["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert plain["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/plain"}


def test_option_errors_read_like_aws(daemon, role):
    lam = daemon.client("lambda", parameter_validation=False)
    base = dict(FunctionName="bad", Role=role, Handler="index.handler", Code={"ZipFile": package()})
    assert refused(lam.create_function, **base, Runtime="nodejs20.x", SnapStart={"ApplyOn": "PublishedVersions"}) == (
        "InvalidParameterValueException", "nodejs20.x is not supported for SnapStart enabled functions.", 400)
    assert refused(lam.create_function, **base, Runtime="provided.al2023",
                   SnapStart={"ApplyOn": "PublishedVersions"})[1] == (
        "provided.al2023 is not supported for SnapStart enabled functions.")
    assert refused(lam.create_function, **base, Runtime="python3.11",
                   LoggingConfig={"LogFormat": "Text", "SystemLogLevel": "WARN"}) == (
        "InvalidParameterValueException",
        'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change '
        'the LogFormat to "JSON" and try again.', 400)
    code, message, status = refused(lam.create_function, **base, Runtime="python3.11",
                                    TracingConfig={"Mode": "Sometimes"}, KMSKeyArn="not-an-arn",
                                    LoggingConfig={"LogFormat": "YAML", "LogGroup": "bad group"})
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("4 validation errors detected: "), message
    assert ("Value 'Sometimes' at 'tracingConfig.mode' failed to satisfy constraint: Member must satisfy enum value "
            "set: [Active, PassThrough]") in message
    assert ("Value 'not-an-arn' at 'kMSKeyArn' failed to satisfy constraint: Member must satisfy regular expression "
            "pattern: (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()") in message
    assert ("Value 'YAML' at 'loggingConfig.logFormat' failed to satisfy constraint: Member must satisfy enum value "
            "set: [JSON, Text]") in message
    assert "at 'loggingConfig.logGroup' failed to satisfy constraint: Member must satisfy regular expression" in message
    assert refused(lam.get_function, FunctionName="bad")[0] == "ResourceNotFoundException"


def test_a_refused_update_changes_nothing(daemon, role):
    lam = daemon.client("lambda", parameter_validation=False)
    create(daemon, "keep", role, Runtime="nodejs20.x", Handler="index.handler", KMSKeyArn=KMS,
           LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "WARN"})
    before = lam.get_function_configuration(FunctionName="keep")
    attempts = [
        dict(SnapStart={"ApplyOn": "PublishedVersions"}),
        dict(Runtime="python3.11", SnapStart={"ApplyOn": "PublishedVersions"}),
        dict(LoggingConfig={"ApplicationLogLevel": "DEBUG"}),
        dict(TracingConfig={"Mode": "Active"}, KMSKeyArn="nope"),
        dict(Timeout=5, FileSystemConfigs=[{"Arn": "a", "LocalMountPath": "/mnt/x"}]),
        dict(Description="changed", ImageConfig={"Command": ["x"]}),
        dict(VpcConfig={"SubnetIds": [], "SecurityGroupIds": [], "Ipv6AllowedForDualStack": True}),
    ]
    for change in attempts:
        with pytest.raises(ClientError):
            lam.update_function_configuration(FunctionName="keep", **change)
    with pytest.raises(ClientError):
        lam.update_function_code(FunctionName="keep", ZipFile=package(), SourceKMSKeyArn=KMS)
    after = lam.get_function_configuration(FunctionName="keep")
    before.pop("ResponseMetadata")
    after.pop("ResponseMetadata")
    assert after == before
    assert after["RevisionId"] == before["RevisionId"]


def test_list_operations_page_with_marker_and_max_items(daemon, role):
    lam = daemon.client("lambda")
    create(daemon, "pages", role)
    for i in range(4):
        lam.update_function_configuration(FunctionName="pages", Timeout=10 + i)
        wait_updated(daemon, "pages")
        lam.publish_version(FunctionName="pages")
        lam.create_alias(FunctionName="pages", Name=f"a{i}", FunctionVersion=str(i + 1))
    for op, key, want in [
        (lam.list_versions_by_function, "Versions", ["$LATEST", "1", "2", "3", "4"]),
        (lam.list_aliases, "Aliases", ["a0", "a1", "a2", "a3"]),
    ]:
        seen, marker = [], None
        while True:
            kw = {"FunctionName": "pages", "MaxItems": 2, **({"Marker": marker} if marker else {})}
            page = op(**kw)
            assert len(page[key]) <= 2
            seen += [x.get("Version") or x["Name"] for x in page[key]]
            marker = page.get("NextMarker")
            if not marker:
                break
        assert seen == want
    raw = daemon.client("lambda", parameter_validation=False)
    for bad, rule in [(0, "greater than or equal to 1"), (10001, "less than or equal to 10000")]:
        code, message, status = refused(raw.list_functions, MaxItems=bad)
        assert (code, status) == ("ValidationException", 400)
        assert message == (f"1 validation error detected: Value '{bad}' at 'maxItems' failed to satisfy constraint: "
                           f"Member must have value {rule}")


def deploy(d, name, kind="python", **kw):
    runtime, handler = FUNCTIONS[kind]
    role = tracing_role(d, f"role-{name}")
    create(d, name, role, zip_function(kind), Runtime=runtime, Handler=handler, **kw)


def call(d, name, event, trace_header=None):
    lam = d.client("lambda")
    if trace_header:
        lam.meta.events.register("before-sign.lambda.Invoke",
                                 lambda request, **_: request.headers.__setitem__("X-Amzn-Trace-Id", trace_header))
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event), LogType="Tail")
    return json.loads(out["Payload"].read()), base64.b64decode(out.get("LogResult", "")).decode()


def reports(lines):
    return sum("platform.report" in m or m.startswith("REPORT") for m in lines)


def messages(d, group, timeout=10, until=lambda lines: reports(lines) > 0):
    """The group's messages once `until` holds of them (logs are written in the background)."""
    logs = d.client("logs")
    deadline = time.monotonic() + timeout
    while True:
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
        except ClientError:
            events = []
        if events and until([e["message"] for e in events]):
            return [e["message"] for e in events]
        if time.monotonic() > deadline:
            return [e["message"] for e in events]
        time.sleep(0.1)


def test_active_tracing_samples_every_invocation(execd):
    deploy(execd, "traced", TracingConfig={"Mode": "Active"})
    env, tail = call(execd, "traced", {"env": True})
    trace = env["_X_AMZN_TRACE_ID"]
    assert trace.startswith("Root=1-") and ";Parent=" in trace and trace.endswith(";Sampled=1"), trace
    assert "\tXRAY TraceId: 1-" in tail and "\tSampled: true" in tail

    deploy(execd, "passed")
    env, _ = call(execd, "passed", {"env": True})
    assert env["_X_AMZN_TRACE_ID"].endswith(";Sampled=0")
    caller = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    env, _ = call(execd, "passed", {"env": True}, trace_header=caller)
    got = env["_X_AMZN_TRACE_ID"]
    assert got.startswith("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=") and got.endswith(";Sampled=1"), got


def test_json_logs_to_a_custom_group_with_levels(execd):
    deploy(execd, "jsonlog", LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN",
                                            "LogGroup": "/custom/shared"})
    env, _ = call(execd, "jsonlog", {"env": True})
    assert env["AWS_LAMBDA_LOG_FORMAT"] == "JSON" and env["AWS_LAMBDA_LOG_LEVEL"] == "WARN"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/custom/shared"
    call(execd, "jsonlog", {"log": json.dumps({"level": "INFO", "message": "dropped"})})
    call(execd, "jsonlog", {"log": json.dumps({"level": "ERROR", "message": "kept"})})
    lines = messages(execd, "/custom/shared", until=lambda lines: reports(lines) >= 3)
    records = [json.loads(m) for m in lines if m.startswith("{")]
    kinds = [r.get("type") for r in records]
    for kind in ("platform.start", "platform.runtimeDone", "platform.report"):
        assert kind in kinds, lines
    report = next(r for r in records if r.get("type") == "platform.report")
    assert set(report["record"]["metrics"]) >= {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"}
    assert not any(m.startswith("START RequestId") for m in lines), lines
    assert any('"kept"' in m for m in lines) and not any('"dropped"' in m for m in lines), lines
    streams = execd.client("logs").describe_log_streams(logGroupName="/custom/shared")["logStreams"]
    assert streams and all("/jsonlog[$LATEST][" in s["logStreamName"] for s in streams), streams
    assert not execd.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/jsonlog")["logGroups"]

    deploy(execd, "quiet", LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "WARN"})
    call(execd, "quiet", {"log": "plain text"})
    wait_until(lambda: any("plain text" in m for m in messages(execd, "/aws/lambda/quiet", timeout=0)))
    lines = messages(execd, "/aws/lambda/quiet", timeout=0)
    assert not any("platform." in m for m in lines), lines


def test_node_runtime_writes_json_records(execd):
    deploy(execd, "nodejson", kind="node", LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO"})
    call(execd, "nodejson", {"log": "hello"})
    wait_until(lambda: any("hello" in m for m in messages(execd, "/aws/lambda/nodejson", timeout=0)))
    lines = [m for m in messages(execd, "/aws/lambda/nodejson", timeout=0) if "hello" in m]
    record = json.loads(lines[0])
    assert record["level"] == "INFO" and record["message"] == "hello" and record["requestId"], record
