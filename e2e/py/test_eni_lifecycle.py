"""The ENI lifecycle of the seed, end to end: hyperplane ENIs shared per (subnet, security
groups) and created while the function is Pending; reclaim after the delay with the
execution role's permissions, or left `available` when the role can no longer delete them;
an update of the VPC configuration keeps the old configuration serving while InProgress; a
reclaim that is due survives a daemon restart (SIGTERM or SIGKILL);
DependencyViolation on a subnet or group a Lambda ENI still uses; AZ impairment steering
new environments and draining the ones in the zone; the capacity plan (`vpclambda eni-plan`)."""

import json
import signal
import subprocess
import threading

import pytest
from botocore.exceptions import ClientError

from conftest import BIN, ROOT
from fixtures.lambda_world import BASIC, VPC_ACCESS, create, make_role, wait_until
from functions import FUNCTIONS, zip_function


def lambda_enis(d, **filters):
    f = [{"Name": "interface-type", "Values": ["lambda", "interface"]}]
    f += [{"Name": k, "Values": [v]} for k, v in filters.items()]
    enis = d.client("ec2").describe_network_interfaces(Filters=f)["NetworkInterfaces"]
    return [e for e in enis if e["Description"].startswith("AWS Lambda VPC ENI")]


def network(d, zones=("us-east-1a", "us-east-1b")):
    ec2 = d.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=z)["Subnet"]["SubnetId"]
               for i, z in enumerate(zones, start=1)]
    groups = [ec2.create_security_group(GroupName=n, Description=n, VpcId=vpc)["GroupId"] for n in ("a", "b")]
    return vpc, subnets, groups


def vpc_function(d, name, role, subnets, groups, kind="shell", **kw):
    runtime, handler = FUNCTIONS[kind]
    create(d, name, role, zip_function(kind), Runtime=runtime, Handler=handler,
           VpcConfig={"SubnetIds": subnets, "SecurityGroupIds": groups}, **kw)


@pytest.fixture
def hyperplane(privileged, make_daemon):
    return make_daemon("--eni-mode", "hyperplane", "--eni-reclaim-delay", "2",
                       "--runtimes-dir", str(ROOT / "runtimes")).start()


def test_hyperplane_enis_are_shared_per_subnet_and_groups(hyperplane):
    d = hyperplane
    _, subnets, (a, b) = network(d, zones=("us-east-1a",))
    role = make_role(d, "exec", policies=(BASIC, VPC_ACCESS))
    vpc_function(d, "one", role, subnets, [a])
    vpc_function(d, "two", role, subnets, [a])
    vpc_function(d, "three", role, subnets, [b])
    enis = lambda_enis(d)
    assert len(enis) == 2, enis
    by_group = {e["Groups"][0]["GroupId"]: e for e in enis}
    assert set(by_group) == {a, b}
    for e in enis:
        assert e["InterfaceType"] == "lambda"
        assert e["Status"] == "in-use"
        assert e["Attachment"]["InstanceOwnerId"] == "amazon-aws"
        assert e["Attachment"]["AttachmentId"].startswith("ela-attach-")
    with pytest.raises(ClientError) as err:
        d.client("ec2").detach_network_interface(AttachmentId=enis[0]["Attachment"]["AttachmentId"])
    assert err.value.response["Error"]["Code"] == "OperationNotPermitted"


def test_reclaim_after_delete_and_dependency_violation_until_then(hyperplane):
    d = hyperplane
    ec2 = d.client("ec2")
    _, subnets, (a, _) = network(d, zones=("us-east-1a",))
    role = make_role(d, "exec", policies=(BASIC, VPC_ACCESS))
    vpc_function(d, "f", role, subnets, [a])
    (eni,) = lambda_enis(d)
    with pytest.raises(ClientError) as err:
        ec2.delete_subnet(SubnetId=subnets[0])
    assert err.value.response["Error"]["Code"] == "DependencyViolation"
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupId=a)
    assert err.value.response["Error"]["Code"] == "DependencyViolation"
    d.client("lambda").delete_function(FunctionName="f")
    wait_until(lambda: not lambda_enis(d), timeout=30)
    ec2.delete_subnet(SubnetId=subnets[0])
    ec2.delete_security_group(GroupId=a)


@pytest.mark.parametrize("mode,stop", [("hyperplane", "SIGTERM"), ("hyperplane", "SIGKILL"),
                                       ("legacy", "SIGKILL")])
def test_a_due_reclaim_survives_a_restart(privileged, make_daemon, mode, stop):
    d = make_daemon("--eni-mode", mode, "--eni-reclaim-delay", "3",
                    "--runtimes-dir", str(ROOT / "runtimes")).start()
    _, subnets, (a, _) = network(d, zones=("us-east-1a",))
    role = make_role(d, "exec", policies=(BASIC, VPC_ACCESS))
    vpc_function(d, "f", role, subnets, [a])
    if mode == "legacy":  # legacy ENIs are made as the function scales out
        assert "FunctionError" not in d.client("lambda").invoke(FunctionName="f", Payload=b"{}")
    (eni,) = lambda_enis(d)
    d.client("lambda").delete_function(FunctionName="f")
    # Stopped before the delay is over: the next daemon finds the reclaim due and does it.
    d.stop(getattr(signal, stop))
    d.start()
    wait_until(lambda: not lambda_enis(d), timeout=30)
    ec2 = d.client("ec2")  # the restarted daemon listens on another port
    with pytest.raises(ClientError) as gone:
        ec2.describe_network_interfaces(NetworkInterfaceIds=[eni["NetworkInterfaceId"]])
    assert gone.value.response["Error"]["Code"] == "InvalidNetworkInterfaceID.NotFound"
    ec2.delete_subnet(SubnetId=subnets[0])


def test_enis_stay_available_when_the_role_can_no_longer_delete_them(hyperplane):
    d = hyperplane
    _, subnets, (a, _) = network(d, zones=("us-east-1a",))
    role = make_role(d, "exec", policies=(BASIC, VPC_ACCESS))
    vpc_function(d, "f", role, subnets, [a])
    (eni,) = lambda_enis(d)
    iam = d.client("iam")
    iam.detach_role_policy(RoleName="exec", PolicyArn=VPC_ACCESS)
    d.client("lambda").delete_function(FunctionName="f")
    ec2 = d.client("ec2")

    def left_available():
        got = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni["NetworkInterfaceId"]])["NetworkInterfaces"]
        return got and got[0]["Status"] == "available"

    wait_until(left_available, timeout=30)
    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    assert not lambda_enis(d)


def test_hyperplane_update_keeps_the_old_configuration_serving(privileged, make_daemon):
    # Creating a shared ENI takes 3 s here, so the update is observably InProgress.
    d = make_daemon("--eni-mode", "hyperplane", "--eni-reclaim-delay", "1", "--eni-attach-delay", "3000",
                    "--runtimes-dir", str(ROOT / "runtimes")).start()
    _, subnets, (a, b) = network(d, zones=("us-east-1a",))
    role = make_role(d, "exec", policies=(BASIC, VPC_ACCESS))
    vpc_function(d, "f", role, subnets, [a], Timeout=30)
    lam = d.client("lambda")

    def invoke(event):
        out = lam.invoke(FunctionName="f", Payload=json.dumps(event))
        assert "FunctionError" not in out
        return json.loads(out["Payload"].read())

    assert invoke({"before": 1}) == {"before": 1}
    (old,) = lambda_enis(d)
    updated = lam.update_function_configuration(
        FunctionName="f", VpcConfig={"SubnetIds": subnets, "SecurityGroupIds": [b]})
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["VpcConfig"]["SecurityGroupIds"] == [b]
    # While the new ENI is being made, the old configuration answers, warm and cold alike.
    assert invoke({"during": 1}) == {"during": 1}
    results = []
    threads = [threading.Thread(target=lambda: results.append(invoke({"sleep": 1}))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [{"slept": 1}] * 2
    assert lam.get_function_configuration(FunctionName="f")["LastUpdateStatus"] == "InProgress"
    assert [e["NetworkInterfaceId"] for e in lambda_enis(d)] == [old["NetworkInterfaceId"]]

    wait_until(lambda: lam.get_function_configuration(FunctionName="f")["LastUpdateStatus"] == "Successful",
               timeout=30)
    assert invoke({"after": 1}) == {"after": 1}
    # The old ENI lost its last user and is reclaimed; the function runs on the new one.
    wait_until(lambda: [e["Groups"][0]["GroupId"] for e in lambda_enis(d)] == [b], timeout=30)
    assert invoke({"after": 2}) == {"after": 2}


def eni_plan(d, *args):
    p = subprocess.run([str(BIN), "eni-plan", "--data-dir", str(d.data_dir), *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_eni_plan_reports_the_formula_and_warns(make_daemon):
    d = make_daemon().start()
    _, subnets, (a, _) = network(d, zones=("us-east-1a",))
    role = make_role(d, "exec", policies=(BASIC, VPC_ACCESS))
    vpc_function(d, "big", role, subnets, [a], MemorySize=3008)
    plan = json.loads(eni_plan(d, "--function", "big", "--peak-concurrency", "300", "--json"))
    assert plan["mode"] == "legacy"
    assert plan["enis_needed"] == 300
    assert plan["free_addresses"] == 251
    assert any("Too few free addresses" in w for w in plan["warnings"])
    assert any("one Availability Zone" in w for w in plan["warnings"])
    text = eni_plan(d, "--function", "big", "--peak-concurrency", "9")
    assert "ENIs needed: 9" in text


def test_az_impairment_steers_new_environments(privileged, make_daemon):
    d = make_daemon("--runtimes-dir", str(ROOT / "runtimes")).start()
    _, (sa, sb), (a, _) = network(d)
    role = make_role(d, "exec", policies=(BASIC, VPC_ACCESS))
    vpc_function(d, "f", role, [sa, sb], [a], MemorySize=3008)

    def az(*args):
        p = subprocess.run([str(BIN), "az", *args, "--data-dir", str(d.data_dir)],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        return p.stdout

    assert "us-east-1a" in az("impair", "us-east-1a")
    lam = d.client("lambda")
    out = lam.invoke(FunctionName="f", Payload=b"{}")
    assert "FunctionError" not in out, out["Payload"].read()
    zones = {e["AvailabilityZone"] for e in lambda_enis(d)}
    assert zones == {"us-east-1b"}
    assert "none" in az("restore", "us-east-1a")


def environments():
    """The execution environments' network namespaces (`vl-env-…`) of this test namespace."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith("vl-env-")]


def test_az_impairment_drains_environments_there(privileged, make_daemon):
    d = make_daemon("--runtimes-dir", str(ROOT / "runtimes")).start()
    _, (sa, sb), (a, _) = network(d)
    role = make_role(d, "exec", policies=(BASIC, VPC_ACCESS))
    # 3008 MB: one environment per ENI, so each environment's zone is its ENI's.
    vpc_function(d, "f", role, [sa, sb], [a], MemorySize=3008, Timeout=30)
    lam = d.client("lambda")
    logs = d.client("logs")

    def az(*args):
        p = subprocess.run([str(BIN), "az", *args, "--data-dir", str(d.data_dir)],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr

    def invoke(event):
        out = lam.invoke(FunctionName="f", Payload=json.dumps(event))
        assert "FunctionError" not in out
        return json.loads(out["Payload"].read())

    def starts():
        events = logs.filter_log_events(logGroupName="/aws/lambda/f", filterPattern="START")["events"]
        return len(events)

    # Two environments in us-east-1a: one will be busy, one idle.
    az("impair", "us-east-1b")
    results = []
    threads = [threading.Thread(target=lambda: results.append(invoke({"sleep": 1}))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [{"slept": 1}] * 2
    az("restore", "us-east-1b")
    assert len(environments()) == 2

    busy = []
    worker = threading.Thread(target=lambda: busy.append(invoke({"sleep": 3})))
    worker.start()
    wait_until(lambda: starts() == 3, timeout=30)
    az("impair", "us-east-1a")
    # The idle one stops at once; the busy one finishes its invocation, then stops.
    wait_until(lambda: len(environments()) == 1, timeout=10)
    worker.join()
    assert busy == [{"slept": 3}]
    wait_until(lambda: environments() == [], timeout=10)

    assert invoke({"after": 1}) == {"after": 1}
    assert len(environments()) == 1
    zones = {e["AvailabilityZone"] for e in lambda_enis(d)}
    assert zones == {"us-east-1a", "us-east-1b"}, "the new environment's ENI is in the healthy zone"
    b_enis = [e for e in lambda_enis(d) if e["AvailabilityZone"] == "us-east-1b"]
    assert len(b_enis) == 1
    az("restore", "us-east-1a")
