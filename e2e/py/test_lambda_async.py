"""Asynchronous invocation end to end: the EventInvokeConfig API (Put replaces, Update
merges, Get, List, Delete, AWS's errors), DeadLetterConfig's refusal, and real Event
invocations under those settings — retries as configured, events aging out, and invocation
records delivered to OnSuccess/OnFailure destination functions, read back from the
destination's CloudWatch Logs. InvokeAsync (deprecated) queues like an Event Invoke."""

import datetime
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ROOT
from fixtures.lambda_world import BASIC, create, error_of, make_role, package, signed, wait_until
from functions import FUNCTIONS, zip_function

ACCOUNT = "000000000000"
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function"
ALLOW_INVOKE = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}],
})
# A destination that writes each invocation record it gets to its log, one line each.
SINK = "import json\n\ndef handler(event, context):\n    print('RECORD ' + json.dumps(event))\n    return {'ok': True}\n"


def invoking_role(d, name):
    """An execution role that may invoke other functions (as destinations need)."""
    arn = make_role(d, name, policies=(BASIC,))
    d.client("iam").put_role_policy(RoleName=name, PolicyName="invoke", PolicyDocument=ALLOW_INVOKE)
    return arn


def sink(d, name="sink"):
    create(d, name, make_role(d, f"role-{name}", policies=(BASIC,)), package({"sink.py": SINK}),
           Runtime="python3.11", Handler="sink.handler")
    return f"{ARN}:{name}"


def records(d, name="sink"):
    try:
        events = d.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except ClientError:
        return []
    return [json.loads(e["message"].strip()[len("RECORD "):]) for e in events
            if e["message"].startswith("RECORD ")]


def starts(d, name):
    try:
        events = d.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except ClientError:
        return []
    return [e["message"] for e in events if e["message"].startswith("START RequestId:")]


def record_for(d, request_id, timeout=60):
    found = []

    def arrived():
        found[:] = [r for r in records(d) if r["requestContext"]["requestId"] == request_id]
        return bool(found)
    wait_until(arrived, timeout=timeout)
    return found[0]


def test_event_invoke_config_crud(daemon):
    lam = daemon.client("lambda")
    create(daemon, "src", invoking_role(daemon, "src-role"))
    create(daemon, "dest", make_role(daemon, "dest-role", policies=(BASIC,)))
    dest = f"{ARN}:dest"

    put = lam.put_function_event_invoke_config(
        FunctionName="src", MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": dest}})
    assert put["FunctionArn"] == f"{ARN}:src:$LATEST"
    assert put["MaximumRetryAttempts"] == 0 and "MaximumEventAgeInSeconds" not in put
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": dest}}
    assert isinstance(put["LastModified"], datetime.datetime)
    assert abs(put["LastModified"].timestamp() - time.time()) < 60

    got = lam.get_function_event_invoke_config(FunctionName="src")
    assert {k: got[k] for k in ("FunctionArn", "MaximumRetryAttempts", "DestinationConfig")} == \
        {k: put[k] for k in ("FunctionArn", "MaximumRetryAttempts", "DestinationConfig")}
    raw = json.loads(signed(daemon, "GET", "/2019-09-25/functions/src/event-invoke-config").content)
    assert isinstance(raw["LastModified"], float), "LastModified is epoch seconds on the wire"

    # Update merges: what it leaves out stays.
    upd = lam.update_function_event_invoke_config(
        FunctionName="src", MaximumEventAgeInSeconds=120, DestinationConfig={"OnSuccess": {"Destination": dest}})
    assert upd["MaximumRetryAttempts"] == 0 and upd["MaximumEventAgeInSeconds"] == 120
    assert upd["DestinationConfig"] == {"OnSuccess": {"Destination": dest}, "OnFailure": {"Destination": dest}}
    # An empty Destination removes that one.
    upd = lam.update_function_event_invoke_config(
        FunctionName="src", DestinationConfig={"OnSuccess": {"Destination": ""}})
    assert upd["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": dest}}
    # Put replaces: what it leaves out is gone.
    rep = lam.put_function_event_invoke_config(FunctionName="src", MaximumEventAgeInSeconds=3600)
    assert "MaximumRetryAttempts" not in rep and rep["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}

    # Versions and aliases have their own; a qualifier in the name or as ?Qualifier= alike.
    lam.publish_version(FunctionName="src")
    lam.create_alias(FunctionName="src", Name="live", FunctionVersion="1")
    v1 = lam.put_function_event_invoke_config(FunctionName="src", Qualifier="1", MaximumRetryAttempts=1)
    assert v1["FunctionArn"] == f"{ARN}:src:1"
    live = lam.put_function_event_invoke_config(FunctionName="src:live", MaximumRetryAttempts=2)
    assert live["FunctionArn"] == f"{ARN}:src:live"
    assert lam.get_function_event_invoke_config(FunctionName=f"{ARN}:src", Qualifier="1")["MaximumRetryAttempts"] == 1

    listed = lam.list_function_event_invoke_configs(FunctionName="src")["FunctionEventInvokeConfigs"]
    assert sorted(c["FunctionArn"] for c in listed) == sorted(f"{ARN}:src:{q}" for q in ("$LATEST", "1", "live"))
    seen, marker = [], None
    while True:
        page = lam.list_function_event_invoke_configs(FunctionName="src", MaxItems=1, **({"Marker": marker} if marker else {}))
        seen += [c["FunctionArn"] for c in page["FunctionEventInvokeConfigs"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert sorted(seen) == sorted(c["FunctionArn"] for c in listed)

    # Deleting an alias takes its settings along; deleting the config answers 204.
    lam.delete_alias(FunctionName="src", Name="live")
    lam.create_alias(FunctionName="src", Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName="src", Qualifier="live")
    assert error_of(e) == ("ResourceNotFoundException",
                           f"The function {ARN}:src:live doesn't have an EventInvokeConfig", 404)
    out = lam.delete_function_event_invoke_config(FunctionName="src", Qualifier="1")
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.delete_function_event_invoke_config(FunctionName="src", Qualifier="1")
    assert error_of(e)[0] == "ResourceNotFoundException"

    # Deleting the function deletes its settings.
    lam.delete_function(FunctionName="src")
    create(daemon, "src", invoking_role(daemon, "src-role-2"))
    with pytest.raises(ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName="src")
    assert error_of(e) == ("ResourceNotFoundException",
                           f"The function {ARN}:src:$LATEST doesn't have an EventInvokeConfig", 404)
    assert lam.list_function_event_invoke_configs(FunctionName="src")["FunctionEventInvokeConfigs"] == []


def test_event_invoke_config_errors(daemon):
    lam = daemon.client("lambda")
    create(daemon, "src", invoking_role(daemon, "src-role"))
    create(daemon, "plain", make_role(daemon, "plain-role", policies=(BASIC,)))
    create(daemon, "dest", make_role(daemon, "dest-role", policies=(BASIC,)))

    def refused(**kw):
        with pytest.raises(ClientError) as e:
            lam.put_function_event_invoke_config(**{"FunctionName": "src", **kw})
        return error_of(e)

    assert refused() == ("InvalidParameterValueException",
                         "You must specify at least one of error handling or destination setting.", 400)
    assert refused(MaximumRetryAttempts=3) == (
        "ValidationException",
        "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: "
        "Member must have value less than or equal to 2", 400)
    # botocore refuses values below the minimum itself; a raw request reaches the service.
    r = signed(daemon, "PUT", "/2019-09-25/functions/src/event-invoke-config",
               json.dumps({"MaximumEventAgeInSeconds": 59}).encode())
    assert r.status_code == 400 and r.headers["x-amzn-ErrorType"].startswith("ValidationException")
    assert "Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: " \
        "Member must have value greater than or equal to 60" in r.text
    code, message, _ = refused(DestinationConfig={"OnFailure": {"Destination": "not-an-arn"}})
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value 'not-an-arn' at "
                              "'destinationConfig.onFailure.destination' failed to satisfy constraint: "
                              "Member must satisfy regular expression pattern: ")
    assert refused(DestinationConfig={"OnFailure": {"Destination": f"{ARN}:nope"}}) == (
        "InvalidParameterValueException", f"The destination ARN {ARN}:nope is invalid.", 400)
    assert refused(DestinationConfig={"OnSuccess": {"Destination": f"{ARN}:src"}}) == (
        "InvalidParameterValueException", "You can't specify the function as a destination for itself.", 400)
    for arn, service in [(f"arn:aws:sqs:us-east-1:{ACCOUNT}:q", "Amazon SQS"),
                         (f"arn:aws:sns:us-east-1:{ACCOUNT}:t", "Amazon SNS"),
                         (f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default", "Amazon EventBridge"),
                         ("arn:aws:s3:::bucket", "Amazon S3")]:
        code, message, status = refused(DestinationConfig={"OnFailure": {"Destination": arn}})
        assert (code, status) == ("InvalidParameterValueException", 400)
        assert f"vpclambda does not have {service} yet" in message, message
    # The execution role must be allowed to invoke the destination, as on AWS.
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName="plain",
                                             DestinationConfig={"OnFailure": {"Destination": f"{ARN}:dest"}})
    assert error_of(e) == ("InvalidParameterValueException",
                           f"The function execution role does not have permissions to call InvokeFunction on {ARN}:dest", 400)
    # Nothing was stored by any refusal.
    for name in ("src", "plain"):
        with pytest.raises(ClientError) as e:
            lam.get_function_event_invoke_config(FunctionName=name)
        assert error_of(e)[0] == "ResourceNotFoundException"

    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName="ghost", MaximumRetryAttempts=1)
    assert error_of(e) == ("ResourceNotFoundException", "The function doesn't exist.", 404)
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName="src", Qualifier="9", MaximumRetryAttempts=1)
    assert error_of(e) == ("ResourceNotFoundException", "The function doesn't exist.", 404)
    with pytest.raises(ClientError) as e:
        lam.update_function_event_invoke_config(FunctionName="src", MaximumRetryAttempts=1)
    assert error_of(e) == ("ResourceNotFoundException",
                           f"The function {ARN}:src:$LATEST doesn't have an EventInvokeConfig", 404)
    with pytest.raises(ClientError) as e:
        lam.list_function_event_invoke_configs(FunctionName="ghost")
    assert error_of(e) == ("ResourceNotFoundException", "The function doesn't exist.", 404)


def test_dead_letter_config_is_refused_not_dropped(daemon):
    lam = daemon.client("lambda")
    role = make_role(daemon, "dlq-role", policies=(BASIC,))
    dlq = {"TargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:dlq"}
    with pytest.raises(ClientError) as e:
        create(daemon, "dlq", role, wait=False, DeadLetterConfig=dlq)
    code, message, status = error_of(e)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "DeadLetterConfig" in message and "does not have SQS or SNS" in message, message
    with pytest.raises(ClientError):
        lam.get_function(FunctionName="dlq")
    # Clearing (an empty config, an empty target) is how clients say "none": accepted.
    create(daemon, "dlq", role, DeadLetterConfig={})
    lam.update_function_configuration(FunctionName="dlq", DeadLetterConfig={"TargetArn": ""})
    wait_until(lambda: lam.get_function(FunctionName="dlq")["Configuration"]["LastUpdateStatus"] == "Successful")
    before = lam.get_function_configuration(FunctionName="dlq")
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="dlq", Timeout=9,
                                          DeadLetterConfig={"TargetArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:t"})
    assert error_of(e)[0] == "InvalidParameterValueException"
    after = lam.get_function_configuration(FunctionName="dlq")
    assert after["Timeout"] == before["Timeout"] and after["RevisionId"] == before["RevisionId"]
    assert "DeadLetterConfig" not in after


@pytest.fixture
def execd(privileged, make_daemon):
    """A daemon that runs functions, with Event retries 1 s apart."""
    return make_daemon("--async-retry-delay", "1", "--runtimes-dir", str(ROOT / "runtimes")).start()


def deploy(d, name):
    runtime, handler = FUNCTIONS["shell"]
    create(d, name, invoking_role(d, f"role-{name}"), zip_function("shell"), Runtime=runtime, Handler=handler)


def test_failed_event_lands_in_on_failure_destination(execd):
    lam = execd.client("lambda")
    deploy(execd, "src")
    dest = sink(execd)
    lam.put_function_event_invoke_config(FunctionName="src", MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": dest}})
    out = lam.invoke(FunctionName="src", InvocationType="Event", Payload=json.dumps({"error": "boom"}))
    assert out["StatusCode"] == 202
    rid = out["ResponseMetadata"]["RequestId"]
    record = record_for(execd, rid)
    stamp = record.pop("timestamp")
    assert datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert record == {
        "version": "1.0",
        "requestContext": {
            "requestId": rid,
            "functionArn": f"{ARN}:src:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 1,
        },
        "requestPayload": {"error": "boom"},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "boom", "errorType": "EchoError"},
    }
    # MaximumRetryAttempts=0: the one attempt and no retry.
    time.sleep(3)
    assert len(starts(execd, "src")) == 1


def test_retries_follow_the_config_then_on_failure(execd):
    lam = execd.client("lambda")
    deploy(execd, "src")
    dest = sink(execd)
    lam.put_function_event_invoke_config(FunctionName="src", MaximumRetryAttempts=1,
                                         DestinationConfig={"OnFailure": {"Destination": dest}})
    rid = lam.invoke(FunctionName="src", InvocationType="Event",
                     Payload=json.dumps({"error": "again"}))["ResponseMetadata"]["RequestId"]
    record = record_for(execd, rid)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert len(starts(execd, "src")) == 2


def test_successful_event_lands_in_on_success_destination_also_through_invoke_async(execd):
    lam = execd.client("lambda")
    deploy(execd, "src")
    dest = sink(execd)
    lam.put_function_event_invoke_config(FunctionName="src", DestinationConfig={"OnSuccess": {"Destination": dest}})
    out = lam.invoke(FunctionName="src", InvocationType="Event", Payload=json.dumps({"hello": "world"}))
    rid = out["ResponseMetadata"]["RequestId"]
    record = record_for(execd, rid)
    assert record["requestContext"] == {"requestId": rid, "functionArn": f"{ARN}:src:$LATEST",
                                        "condition": "Success", "approximateInvokeCount": 1}
    assert record["requestPayload"] == {"hello": "world"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"hello": "world"}

    out = lam.invoke_async(FunctionName="src", InvokeArgs=json.dumps({"deprecated": "api"}))
    assert out["Status"] == 202
    record = record_for(execd, out["ResponseMetadata"]["RequestId"])
    assert record["requestPayload"] == {"deprecated": "api"}
    assert record["requestContext"]["condition"] == "Success"

    with pytest.raises(ClientError) as e:
        lam.invoke_async(FunctionName="src", InvokeArgs=b"not json")
    assert error_of(e)[0] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as e:
        lam.invoke_async(FunctionName="ghost", InvokeArgs=b"{}")
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {ARN}:ghost", 404)


def test_a_destination_that_cannot_be_invoked_counts_a_delivery_failure(execd):
    lam = execd.client("lambda")
    deploy(execd, "src")
    dest = sink(execd)
    lam.put_function_event_invoke_config(FunctionName="src", DestinationConfig={"OnSuccess": {"Destination": dest}})
    # The role loses lambda:InvokeFunction after the config was accepted: delivery checks again.
    execd.client("iam").delete_role_policy(RoleName="role-src", PolicyName="invoke")
    rid = lam.invoke(FunctionName="src", InvocationType="Event", Payload=b"{}")["ResponseMetadata"]["RequestId"]
    cw = execd.client("cloudwatch")

    def failures():
        now = datetime.datetime.now(datetime.timezone.utc)
        points = cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="DestinationDeliveryFailures",
            Dimensions=[{"Name": "FunctionName", "Value": "src"}],
            StartTime=now - datetime.timedelta(minutes=10), EndTime=now + datetime.timedelta(minutes=10),
            Period=3600, Statistics=["Sum"])["Datapoints"]
        return sum(p["Sum"] for p in points)
    wait_until(lambda: failures() == 1, timeout=30)
    assert not [r for r in records(execd) if r["requestContext"]["requestId"] == rid]


def test_an_event_older_than_its_maximum_age_is_dropped_to_on_failure(execd):
    """Takes a minute: 60 s is the smallest MaximumEventAgeInSeconds Lambda accepts."""
    lam = execd.client("lambda")
    deploy(execd, "src")
    dest = sink(execd)
    lam.put_function_event_invoke_config(FunctionName="src", MaximumEventAgeInSeconds=60,
                                         DestinationConfig={"OnFailure": {"Destination": dest}})
    # Reserved concurrency 0 keeps the event waiting in the queue until it is too old.
    lam.put_function_concurrency(FunctionName="src", ReservedConcurrentExecutions=0)
    sent = time.monotonic()
    rid = lam.invoke(FunctionName="src", InvocationType="Event",
                     Payload=json.dumps({"late": True}))["ResponseMetadata"]["RequestId"]
    record = record_for(execd, rid, timeout=90)
    assert time.monotonic() - sent >= 60
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"late": True}
    assert "responseContext" not in record and "responsePayload" not in record
    lam.delete_function_concurrency(FunctionName="src")
    time.sleep(2)
    assert starts(execd, "src") == []
