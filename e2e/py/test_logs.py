"""CloudWatch Logs API (JSON 1.1) through boto3 and the aws CLI."""

import time

import pytest
from botocore.exceptions import ClientError


def test_groups_streams_events_round_trip(daemon):
    logs = daemon.client("logs")
    logs.create_log_group(logGroupName="/aws/lambda/demo")
    logs.create_log_stream(logGroupName="/aws/lambda/demo", logStreamName="2026/11/26/[$LATEST]abc")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/aws/lambda/demo",
        logStreamName="2026/11/26/[$LATEST]abc",
        logEvents=[{"timestamp": now + i, "message": f"line {i}"} for i in range(5)],
    )
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/aws/lambda/demo"]
    assert groups[0]["arn"].endswith(":log-group:/aws/lambda/demo:*")
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/demo")["logStreams"]
    assert streams[0]["firstEventTimestamp"] == now
    events = logs.get_log_events(logGroupName="/aws/lambda/demo",
                                 logStreamName="2026/11/26/[$LATEST]abc", startFromHead=True)["events"]
    assert [e["message"] for e in events] == [f"line {i}" for i in range(5)]


def test_cli_paginates_get_log_events_to_the_end(daemon):
    daemon.aws("logs", "create-log-group", "--log-group-name", "g")
    daemon.aws("logs", "create-log-stream", "--log-group-name", "g", "--log-stream-name", "s")
    now = int(time.time() * 1000)
    logs = daemon.client("logs")
    logs.put_log_events(logGroupName="g", logStreamName="s",
                        logEvents=[{"timestamp": now + i, "message": f"m{i}"} for i in range(30)])
    out = daemon.aws("logs", "get-log-events", "--log-group-name", "g", "--log-stream-name", "s",
                     "--start-from-head", "--limit", "7")
    assert len(out["events"]) == 7
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName="g", filterPattern="m2",
                                                              PaginationConfig={"PageSize": 4})
    got = [e["message"] for p in pages for e in p["events"]]
    assert got == ["m2"] + [f"m2{i}" for i in range(10)]


def test_filter_log_events_patterns(daemon):
    logs = daemon.client("logs")
    logs.create_log_group(logGroupName="g")
    for s in ("a", "b"):
        logs.create_log_stream(logGroupName="g", logStreamName=s)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="g", logStreamName="a",
                        logEvents=[{"timestamp": now, "message": "START RequestId: 1"},
                                   {"timestamp": now + 2, "message": "ERROR disk full"}])
    logs.put_log_events(logGroupName="g", logStreamName="b",
                        logEvents=[{"timestamp": now + 1, "message": "END RequestId: 1"}])
    out = logs.filter_log_events(logGroupName="g", filterPattern="?START ?END")
    assert [e["message"] for e in out["events"]] == ["START RequestId: 1", "END RequestId: 1"]
    assert {s["logStreamName"] for s in out["searchedLogStreams"]} == {"a", "b"}
    out = logs.filter_log_events(logGroupName="g", filterPattern='"disk full"', logStreamNames=["a"])
    assert [e["logStreamName"] for e in out["events"]] == ["a"]


def test_errors_are_aws_shaped(daemon):
    logs = daemon.client("logs")
    with pytest.raises(ClientError) as e:
        logs.describe_log_streams(logGroupName="missing")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == "The specified log group does not exist."
    logs.create_log_group(logGroupName="g")
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="g")
    assert e.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="bad name!")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    logs.delete_log_group(logGroupName="g")
    assert logs.describe_log_groups()["logGroups"] == []


def test_logs_survive_restart(daemon):
    logs = daemon.client("logs")
    logs.create_log_group(logGroupName="keep")
    logs.create_log_stream(logGroupName="keep", logStreamName="s")
    logs.put_log_events(logGroupName="keep", logStreamName="s",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "durable"}])
    daemon.restart()
    logs = daemon.client("logs")
    events = logs.get_log_events(logGroupName="keep", logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["durable"]
