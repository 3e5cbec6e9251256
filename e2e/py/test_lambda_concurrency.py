"""Many clients on one function at once never corrupt it: every answer is a success or an
AWS-shaped refusal, and what remains is consistent (configuration, code store, versions).
A restart keeps every function and its code byte for byte."""

import base64
import hashlib
import random
import threading

import requests
from botocore.exceptions import ClientError

from fixtures.lambda_world import create, make_network, make_role, package, wait_updated

CONFLICTS = (
    "The operation cannot be performed at this time. An update is in progress for resource: ",
    "The operation cannot be performed at this time. The function is currently in the following state: Pending",
)


def sha(b):
    return base64.b64encode(hashlib.sha256(b).digest()).decode()


def run_all(workers):
    """Runs the callables at once; returns their results (values or ClientErrors)."""
    results = [None] * len(workers)
    start = threading.Barrier(len(workers))

    def run(i, work):
        start.wait()
        try:
            results[i] = work()
        except ClientError as e:
            results[i] = e
    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def code_of(e):
    return e.response["Error"]["Code"], e.response["Error"]["Message"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def blobs(daemon):
    return {p.name for p in (daemon.data_dir / "code").glob("*.zip")}


def test_concurrent_creates_of_one_name(daemon):
    role = make_role(daemon, "r")
    zips = [package({"bootstrap": f"#!/bin/sh\necho {i}\n"}) for i in range(12)]
    results = run_all([
        (lambda z=z: daemon.client("lambda").create_function(
            FunctionName="race", Runtime="provided.al2023", Role=role, Handler="h", Code={"ZipFile": z}))
        for z in zips
    ])
    won = [r for r in results if isinstance(r, dict)]
    lost = [r for r in results if isinstance(r, ClientError)]
    assert len(won) == 1 and len(won) + len(lost) == len(zips)
    for e in lost:
        assert code_of(e) == ("ResourceConflictException", "Function already exist: race", 409)
    lam = daemon.client("lambda")
    got = lam.get_function(FunctionName="race")
    assert got["Configuration"]["CodeSha256"] == won[0]["CodeSha256"]
    assert sha(requests.get(got["Code"]["Location"], timeout=10).content) == won[0]["CodeSha256"]
    # The losers' packages did not stay behind.
    assert blobs(daemon) == {base64.b64decode(won[0]["CodeSha256"]).hex() + ".zip"}


def test_concurrent_changes_to_one_function(daemon):
    role = make_role(daemon, "r")
    _, (a, b), sg = make_network(daemon)
    create(daemon, "busy", role)
    zips = {sha(z): z for z in (package({"bootstrap": f"v{i}"}) for i in range(6))}
    memories = [128 + 64 * i for i in range(6)]

    def client():
        return daemon.client("lambda")

    work = []
    for i in range(6):
        work.append(lambda m=memories[i]: client().update_function_configuration(FunctionName="busy", MemorySize=m))
        work.append(lambda z=list(zips.values())[i]: client().update_function_code(FunctionName="busy", ZipFile=z))
        work.append(lambda: client().publish_version(FunctionName="busy"))
        work.append(lambda i=i: client().put_function_concurrency(FunctionName="busy", ReservedConcurrentExecutions=i))
        work.append(lambda: client().get_function(FunctionName="busy"))
    work.append(lambda: client().update_function_configuration(
        FunctionName="busy", VpcConfig={"SubnetIds": [a, b], "SecurityGroupIds": [sg]}))

    for _ in range(3):
        random.shuffle(work)
        for r in run_all(work):
            if isinstance(r, ClientError):
                code, msg, status = code_of(r)
                assert (code, status) == ("ResourceConflictException", 409), (code, msg)
                assert msg.startswith(CONFLICTS), msg
        wait_updated(daemon, "busy")

    lam = client()
    got = lam.get_function(FunctionName="busy")
    cfg = got["Configuration"]
    assert cfg["State"] == "Active" and cfg["LastUpdateStatus"] == "Successful"
    assert cfg["MemorySize"] in [128, *memories]
    assert sha(requests.get(got["Code"]["Location"], timeout=10).content) == cfg["CodeSha256"]
    versions = lam.list_versions_by_function(FunctionName="busy")["Versions"]
    numbers = [int(v["Version"]) for v in versions[1:]]
    assert numbers == list(range(1, len(numbers) + 1))
    referenced = {base64.b64decode(v["CodeSha256"]).hex() + ".zip" for v in versions}
    assert blobs(daemon) == referenced
    for v in versions[1:]:
        assert v["State"] == "Active"


def test_concurrent_deletes_and_updates(daemon):
    role = make_role(daemon, "r")
    for _ in range(3):
        create(daemon, "doomed", role)
        lam = daemon.client("lambda")
        work = [lambda: daemon.client("lambda").delete_function(FunctionName="doomed") for _ in range(4)]
        work += [lambda: daemon.client("lambda").update_function_configuration(FunctionName="doomed", Timeout=9)
                 for _ in range(4)]
        work += [lambda: daemon.client("lambda").publish_version(FunctionName="doomed") for _ in range(2)]
        deleted = 0
        for r in run_all(work):
            if isinstance(r, ClientError):
                code, msg, status = code_of(r)
                assert code in ("ResourceNotFoundException", "ResourceConflictException"), (code, msg)
                if code == "ResourceNotFoundException":
                    assert msg.startswith("Function not found: arn:aws:lambda:us-east-1:000000000000:function:doomed")
            elif r["ResponseMetadata"]["HTTPStatusCode"] == 204:
                deleted += 1
        assert deleted == 1
        try:
            lam.get_function(FunctionName="doomed")
            raise AssertionError("deleted function still there")
        except ClientError as e:
            assert code_of(e)[0] == "ResourceNotFoundException"
        assert blobs(daemon) == set()


def test_restart_keeps_functions_and_code(daemon):
    role = make_role(daemon, "r")
    _, (a,), sg = make_network(daemon, subnets=1)
    lam = daemon.client("lambda")
    pkgs = {f"fn{i}": package({"bootstrap": f"#!/bin/sh\necho {i}\n", "data": bytes(range(256)) * i})
            for i in range(3)}
    for name, z in pkgs.items():
        create(daemon, name, role, z, Tags={"n": name})
    lam.update_function_configuration(FunctionName="fn1", VpcConfig={"SubnetIds": [a], "SecurityGroupIds": [sg]})
    wait_updated(daemon, "fn1")
    lam.publish_version(FunctionName="fn2")
    lam.create_alias(FunctionName="fn2", Name="live", FunctionVersion="1")
    lam.put_function_concurrency(FunctionName="fn0", ReservedConcurrentExecutions=5)
    before = {n: lam.get_function(FunctionName=n) for n in pkgs}
    old_link = before["fn0"]["Code"]["Location"]

    daemon.restart()
    lam = daemon.client("lambda")
    for name, z in pkgs.items():
        got = lam.get_function(FunctionName=name)
        old = before[name]
        assert got["Configuration"] == old["Configuration"]
        assert got["Configuration"]["CodeSha256"] == sha(z)
        assert got.get("Tags") == old.get("Tags")
        assert got.get("Concurrency") == old.get("Concurrency")
        fresh = got["Code"]["Location"].replace(old["Code"]["Location"].split("/_vpclambda")[0], daemon.endpoint)
        assert requests.get(fresh, timeout=10).content == z
    assert lam.get_alias(FunctionName="fn2", Name="live")["FunctionVersion"] == "1"
    assert lam.get_function(FunctionName="fn2", Qualifier="1")["Configuration"]["CodeSha256"] == sha(pkgs["fn2"])
    # Links handed out before the restart keep working until they expire.
    assert requests.get(daemon.endpoint + "/_vpclambda/" + old_link.split("/_vpclambda/")[1], timeout=10).content == pkgs["fn0"]


def test_function_created_just_before_a_crash_becomes_active(daemon):
    role = make_role(daemon, "r")
    daemon.client("lambda").create_function(FunctionName="crash", Runtime="provided.al2023", Role=role,
                                            Handler="h", Code={"ZipFile": package()})
    daemon.kill9()
    daemon.start()
    daemon.aws("lambda", "wait", "function-active-v2", "--function-name", "crash")
    assert daemon.client("lambda").get_function(FunctionName="crash")["Configuration"]["State"] == "Active"
