"""Overload: a burst of synchronous Invokes beyond what the host can run is shed with 429s
(`TooManyRequestsException`), never a 5xx; every invocation admitted answers correctly; Event
invocations sent during the burst are queued and all run once it is over; and once the
environments expire, no environment, namespace, cgroup or loop device is left."""

import json
import os
import subprocess
import threading
from pathlib import Path

import boto3
import botocore.config
from botocore.exceptions import ClientError

from conftest import KEY, REGION, ROOT, SECRET
from fixtures.lambda_world import BASIC, create, make_role, wait_until
from functions import FUNCTIONS, zip_function

BURST = 48
EVENTS = 10
SPIN_S = 0.5


def env_namespaces():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith("vl-env-")]


def env_cgroups(parent):
    """The environment ids with a cgroup under the daemon's parent, in any controller."""
    return {p.name for p in Path("/sys/fs/cgroup").glob(f"*/vl-{parent}/vl-env-*")}


def loop_devices(data_dir):
    out = subprocess.run(["losetup", "-l", "-n", "-O", "NAME,BACK-FILE"], capture_output=True, text=True,
                         check=True).stdout
    return [line for line in out.splitlines() if str(data_dir) in line]


def log_messages(d, name):
    logs = d.client("logs")
    try:
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{name}")
        return [e["message"] for page in pages for e in page["events"]]
    except ClientError:
        return []


def test_a_burst_beyond_capacity_is_shed_with_429s_and_events_all_run(privileged, make_daemon):
    parent = f"ovl{os.getpid()}"
    d = make_daemon("--runtimes-dir", str(ROOT / "runtimes"), "--env-idle-timeout", "2",
                    "--async-retry-delay", "1", "--max-cold-starts", "2", "--cgroup-parent", parent).start()
    runtime, handler = FUNCTIONS["rust"]
    role = make_role(d, "role-burn", policies=(BASIC,))
    # 1,769 MB is one whole vCPU: a few spinning environments saturate the host.
    create(d, "burn", role, zip_function("rust"), Runtime=runtime, Handler=handler, MemorySize=1769, Timeout=30)
    # No retries: every 429 is seen.
    config = botocore.config.Config(retries={"total_max_attempts": 1}, max_pool_connections=BURST + EVENTS,
                                    read_timeout=60)
    lam = boto3.client("lambda", endpoint_url=d.endpoint, region_name=REGION, aws_access_key_id=KEY,
                       aws_secret_access_key=SECRET, config=config)
    warm = lam.invoke(FunctionName="burn", Payload=json.dumps({"spin": 0}))
    assert json.loads(warm["Payload"].read()) == {"spun": 0}

    results = [None] * BURST
    queued = []
    start = threading.Barrier(BURST + 1)

    def call(i):
        start.wait()
        try:
            out = lam.invoke(FunctionName="burn", Payload=json.dumps({"spin": SPIN_S}))
            results[i] = (out["StatusCode"], out.get("FunctionError"), json.loads(out["Payload"].read()))
        except ClientError as e:
            results[i] = e

    threads = [threading.Thread(target=call, args=(i,)) for i in range(BURST)]
    for t in threads:
        t.start()
    start.wait()
    for i in range(EVENTS):
        out = lam.invoke(FunctionName="burn", InvocationType="Event", Payload=json.dumps({"log": f"overload-event-{i}"}))
        assert out["StatusCode"] == 202
        queued.append(out["ResponseMetadata"]["RequestId"])
    for t in threads:
        t.join(120)

    admitted = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, ClientError)]
    assert len(admitted) + len(refused) == BURST, results
    assert admitted, "some of the burst runs"
    assert all(r == (200, None, {"spun": SPIN_S}) for r in admitted), admitted
    statuses = [e.response["ResponseMetadata"]["HTTPStatusCode"] for e in refused]
    assert refused and all(s == 429 for s in statuses), [e.response for e in refused]
    for e in refused:
        assert e.response["Error"]["Code"] == "TooManyRequestsException"
        assert e.response.get("Reason") == "FunctionInvocationRateLimitExceeded", e.response
        assert "retry-after" in e.response["ResponseMetadata"]["HTTPHeaders"]

    def events_ran():
        messages = log_messages(d, "burn")
        return all(any(f"overload-event-{i}" in m for m in messages) for i in range(EVENTS))
    wait_until(events_ran, timeout=90)
    starts = [m for m in log_messages(d, "burn") if m.startswith("START RequestId:")]
    assert all(sum(rid in s for s in starts) == 1 for rid in queued), "each event ran once"

    # Idle for 2 s, every environment goes; at most the one spare helper's cgroups remain.
    wait_until(lambda: not env_namespaces() and len(env_cgroups(parent)) <= 1 and not loop_devices(d.data_dir),
               timeout=60)
