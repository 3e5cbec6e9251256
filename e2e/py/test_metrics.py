"""CloudWatch metrics end to end: custom metrics through PutMetricData, Lambda's own
`AWS/Lambda` metrics (Invocations, Errors, Duration, the async ones) as functions run, read
back with boto3 and `aws cloudwatch get-metric-statistics`; the period rules of old data; an
Event invocation whose ENI scale-out fails counts in Errors and writes no function log."""

import datetime
import json

import botocore.model
import pytest
from botocore.exceptions import ClientError

from conftest import ROOT
from fixtures.lambda_world import BASIC, VPC_ACCESS, create, make_role, signed, wait_until
from functions import FUNCTIONS, zip_function


def window(minutes=10):
    now = datetime.datetime.now(datetime.timezone.utc)
    return now - datetime.timedelta(minutes=minutes), now + datetime.timedelta(minutes=minutes)


def total(d, name, function, stat="Sum", namespace="AWS/Lambda", dims=None):
    start, end = window()
    dims = dims if dims is not None else [{"Name": "FunctionName", "Value": function}]
    points = d.client("cloudwatch").get_metric_statistics(
        Namespace=namespace, MetricName=name, Dimensions=dims,
        StartTime=start, EndTime=end, Period=3600, Statistics=[stat])["Datapoints"]
    return sum(p[stat] for p in points)


def test_custom_metrics_round_trip(daemon):
    cw = daemon.client("cloudwatch")
    dims = [{"Name": "Stage", "Value": "prod"}]
    cw.put_metric_data(Namespace="MyApp", MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Value": 5, "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": dims, "Value": 7, "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": dims, "Unit": "Milliseconds",
         "StatisticValues": {"SampleCount": 2, "Sum": 4, "Minimum": 1, "Maximum": 3}},
    ])
    start, end = window()
    out = cw.get_metric_statistics(Namespace="MyApp", MetricName="Latency", Dimensions=dims,
                                   StartTime=start, EndTime=end, Period=3600,
                                   Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"])
    (p,) = out["Datapoints"]
    assert (p["SampleCount"], p["Sum"], p["Average"], p["Minimum"], p["Maximum"]) == (4, 16, 4, 1, 7)
    assert p["Unit"] == "Milliseconds" and out["Label"] == "Latency"
    # Another dimension set is another metric.
    other = cw.get_metric_statistics(Namespace="MyApp", MetricName="Latency", StartTime=start,
                                     EndTime=end, Period=3600, Statistics=["Sum"])
    assert other["Datapoints"] == []

    # A large request: botocore gzips it (PutMetricData has request compression).
    cw.put_metric_data(Namespace="Bulk", MetricData=[
        {"MetricName": "Items", "Dimensions": [{"Name": "Shard", "Value": f"shard-{i:04d}"}], "Value": i}
        for i in range(1000)])
    assert len(cw.list_metrics(Namespace="Bulk")["Metrics"]) == 500  # one page
    bulk = cw.get_metric_statistics(Namespace="Bulk", MetricName="Items",
                                    Dimensions=[{"Name": "Shard", "Value": "shard-0999"}],
                                    StartTime=start, EndTime=end, Period=3600, Statistics=["Sum"])
    assert bulk["Datapoints"][0]["Sum"] == 999

    listed = cw.list_metrics(Namespace="MyApp")["Metrics"]
    assert listed == [{"Namespace": "MyApp", "MetricName": "Latency", "Dimensions": dims}]
    assert cw.list_metrics(Dimensions=[{"Name": "Stage", "Value": "dev"}])["Metrics"] == []

    data = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[{
        "Id": "lat", "MetricStat": {"Metric": {"Namespace": "MyApp", "MetricName": "Latency",
                                                "Dimensions": dims},
                                     "Period": 60, "Stat": "Maximum"}}])["MetricDataResults"]
    assert data[0]["Id"] == "lat" and data[0]["Values"] == [7.0] and data[0]["StatusCode"] == "Complete"

    # GetMetricData pages: MaxDatapoints a page, newest first, then a NextToken.
    now = datetime.datetime.now(datetime.timezone.utc)
    cw.put_metric_data(Namespace="Paged", MetricData=[
        {"MetricName": "m", "Value": n, "Timestamp": now - datetime.timedelta(minutes=n)} for n in (1, 2, 3)])
    query = [{"Id": "p", "MetricStat": {"Metric": {"Namespace": "Paged", "MetricName": "m"},
                                         "Period": 60, "Stat": "Sum"}}]
    first = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=query, MaxDatapoints=2)
    assert first["MetricDataResults"][0]["Values"] == [1.0, 2.0]
    assert first["MetricDataResults"][0]["StatusCode"] == "PartialData"
    rest = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=query, MaxDatapoints=2,
                              NextToken=first["NextToken"])
    assert rest["MetricDataResults"][0]["Values"] == [3.0] and "NextToken" not in rest

    with pytest.raises(cw.exceptions.InvalidParameterValueException) as e:
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[{"MetricName": "Invocations", "Value": 1}])
    assert e.value.response["Error"]["Message"] == "The value AWS/Lambda for parameter Namespace is invalid."
    with pytest.raises(ClientError) as e:
        cw.get_metric_data(StartTime=start, EndTime=end,
                           MetricDataQueries=[{"Id": "e", "Expression": "SUM(METRICS())"}])
    assert e.value.response["Error"]["Code"] == "ValidationError"

    # The aws CLI, and the query protocol of older SDKs, read the same data.
    cli = daemon.aws("cloudwatch", "get-metric-statistics", "--namespace", "MyApp",
                     "--metric-name", "Latency", "--dimensions", "Name=Stage,Value=prod",
                     "--start-time", start.isoformat(), "--end-time", end.isoformat(),
                     "--period", "3600", "--statistics", "Sum")
    assert [p["Sum"] for p in cli["Datapoints"]] == [16.0]
    r = signed(daemon, "POST", "/", b"Action=ListMetrics&Version=2010-08-01&Namespace=MyApp",
               headers={"Content-Type": "application/x-www-form-urlencoded"}, service="monitoring")
    assert r.status_code == 200 and "<MetricName>Latency</MetricName>" in r.text, r.text


def test_old_data_follows_cloudwatch_retention(daemon):
    """PutMetricData takes timestamps up to two weeks old. Data is kept per minute for 15
    days, per 5 minutes to 63 days, per hour beyond: a read starting further back needs a
    period that is a multiple of that, or it gets no datapoints (not an error)."""
    cw = daemon.client("cloudwatch")
    now = datetime.datetime.now(datetime.timezone.utc)
    with pytest.raises(cw.exceptions.InvalidParameterValueException) as e:
        cw.put_metric_data(Namespace="Retained", MetricData=[
            {"MetricName": "m", "Value": 1, "Timestamp": now - datetime.timedelta(days=15)}])
    assert e.value.response["Error"]["Message"] == (
        "The parameter MetricData.member.1.Timestamp must specify a time within the past two weeks.")
    cw.put_metric_data(Namespace="Retained", MetricData=[
        {"MetricName": "m", "Value": 3, "Timestamp": now - datetime.timedelta(days=13)},
        {"MetricName": "m", "Value": 4}])

    def sums(days, period):
        return [p["Sum"] for p in cw.get_metric_statistics(
            Namespace="Retained", MetricName="m", StartTime=now - datetime.timedelta(days=days),
            EndTime=now + datetime.timedelta(minutes=10), Period=period,
            Statistics=["Sum"])["Datapoints"]]

    assert sorted(sums(20, 3600)) == [3, 4]
    assert sums(20, 1260) == []  # a multiple of 60, not of 300
    assert sorted(sums(70, 7200)) == [3, 4]


def test_list_metrics_shows_recently_active_metrics(daemon):
    """ListMetrics lists metrics with data in the past two weeks; RecentlyActive=PT3H only
    those with data in the past three hours; another value is refused."""
    cw = daemon.client("cloudwatch")
    now = datetime.datetime.now(datetime.timezone.utc)
    cw.put_metric_data(Namespace="Active", MetricData=[
        {"MetricName": "fresh", "Value": 1},
        {"MetricName": "hours-old", "Value": 1, "Timestamp": now - datetime.timedelta(hours=5)}])

    def names(**kw):
        return sorted(m["MetricName"] for m in cw.list_metrics(Namespace="Active", **kw)["Metrics"])

    assert names() == ["fresh", "hours-old"]
    assert names(RecentlyActive="PT3H") == ["fresh"]
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        cw.list_metrics(Namespace="Active", RecentlyActive="PT1H")


@pytest.mark.parametrize("protocol", ["json", "smithy-rpc-v2-cbor", "query"])
def test_each_protocol_of_the_model_is_served(daemon, monkeypatch, protocol):
    """botocore picks JSON 1.0; other SDKs send RPC v2 CBOR or the query protocol. botocore
    speaks each when it is the only one it may pick."""
    monkeypatch.setattr(botocore.model, "PRIORITY_ORDERED_SUPPORTED_PROTOCOLS", (protocol,))
    cw = daemon.client("cloudwatch")
    assert cw.meta.service_model.resolved_protocol == protocol
    dims = [{"Name": "Queue", "Value": "q1"}]
    cw.put_metric_data(Namespace="Proto", MetricData=[
        {"MetricName": "Depth", "Dimensions": dims, "Value": v, "Unit": "Count"} for v in (2, 5)])
    start, end = window()
    (p,) = cw.get_metric_statistics(Namespace="Proto", MetricName="Depth", Dimensions=dims,
                                    StartTime=start, EndTime=end, Period=3600,
                                    Statistics=["Sum", "Maximum"])["Datapoints"]
    assert (p["Sum"], p["Maximum"], p["Unit"]) == (7, 5, "Count")
    assert isinstance(p["Timestamp"], datetime.datetime)
    data = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[{
        "Id": "d", "MetricStat": {"Metric": {"Namespace": "Proto", "MetricName": "Depth", "Dimensions": dims},
                                   "Period": 60, "Stat": "SampleCount"}}])["MetricDataResults"]
    assert data[0]["Values"] == [2.0] and len(data[0]["Timestamps"]) == 1
    assert cw.list_metrics(Namespace="Proto")["Metrics"] == [
        {"Namespace": "Proto", "MetricName": "Depth", "Dimensions": dims}]
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[{"MetricName": "x", "Value": 1}])
    with pytest.raises(cw.exceptions.InvalidParameterCombinationException):
        cw.put_metric_data(Namespace="Proto", MetricData=[{"MetricName": "no-value"}])


@pytest.fixture
def execd(privileged, make_daemon):
    return make_daemon("--runtimes-dir", str(ROOT / "runtimes"), "--async-retry-delay", "1").start()


def test_invocations_and_errors_are_counted(execd):
    d = execd
    runtime, handler = FUNCTIONS["shell"]
    create(d, "counted", make_role(d, "exec", policies=(BASIC,)), zip_function("shell"),
           Runtime=runtime, Handler=handler)
    lam = d.client("lambda")
    for event in [{"a": 1}, {"error": "boom"}, {"a": 2}, {"error": "bang"}, {"a": 3}]:
        lam.invoke(FunctionName="counted", Payload=json.dumps(event))
    assert total(d, "Invocations", "counted") == 5
    assert total(d, "Errors", "counted") == 2
    assert total(d, "Duration", "counted", stat="SampleCount") == 5
    assert total(d, "Invocations", "counted",
                 dims=[{"Name": "FunctionName", "Value": "counted"},
                       {"Name": "Resource", "Value": "counted"}]) == 5
    assert total(d, "Invocations", "", dims=[]) >= 5  # the account's, every function

    start, end = window()
    cli = d.aws("cloudwatch", "get-metric-statistics", "--namespace", "AWS/Lambda",
                "--metric-name", "Errors", "--dimensions", "Name=FunctionName,Value=counted",
                "--start-time", start.isoformat(), "--end-time", end.isoformat(),
                "--period", "3600", "--statistics", "Sum")
    assert sum(p["Sum"] for p in cli["Datapoints"]) == 2

    lam.invoke(FunctionName="counted", InvocationType="Event", Payload=b'{"a": 4}')
    wait_until(lambda: total(d, "Invocations", "counted") == 6)
    assert total(d, "AsyncEventsReceived", "counted") == 1
    names = {m["MetricName"] for m in d.client("cloudwatch").list_metrics(
        Namespace="AWS/Lambda", Dimensions=[{"Name": "FunctionName", "Value": "counted"}])["Metrics"]}
    assert {"Invocations", "Errors", "Duration", "ConcurrentExecutions",
            "AsyncEventsReceived", "AsyncEventAge"} <= names


def test_event_invocation_without_an_eni_counts_as_error_and_logs_nothing(execd):
    d = execd
    ec2 = d.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    # A /28 keeps 11 addresses for ENIs; the user's own ENIs take them all.
    small = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/28")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
    for _ in range(11):
        ec2.create_network_interface(SubnetId=small)
    runtime, handler = FUNCTIONS["shell"]
    create(d, "starved", make_role(d, "exec", policies=(BASIC, VPC_ACCESS)), zip_function("shell"),
           Runtime=runtime, Handler=handler, MemorySize=3008,
           VpcConfig={"SubnetIds": [small], "SecurityGroupIds": [sg]})
    lam = d.client("lambda")
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName="starved", Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "SubnetIPAddressLimitReachedException"
    assert total(d, "Errors", "starved") == 0  # a synchronous caller got the error itself

    assert lam.invoke(FunctionName="starved", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    # Three attempts (retried after 1 s, then 2 s), each an error; then the event is dropped.
    wait_until(lambda: total(d, "AsyncEventsDropped", "starved") == 1, timeout=30)
    assert total(d, "Errors", "starved") == 3
    assert total(d, "Invocations", "starved") == 0
    logs = d.client("logs")
    streams = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/starved")["logGroups"]
    assert streams == [] or logs.describe_log_streams(logGroupName="/aws/lambda/starved")["logStreams"] == []
