"""Lambda VpcConfig: the spec's three CLI commands verbatim, the waiters, and every refusal
Lambda makes before it accepts a VPC configuration, with AWS's exception and message."""

import pytest
from botocore.exceptions import ClientError

from fixtures.lambda_world import BASIC, create, error_of, make_network, make_role, package


def test_seed_commands_verbatim(daemon, tmp_path):
    role = make_role(daemon, "execution-role")
    vpc, (a, b), sg = make_network(daemon)
    app = tmp_path / "app.zip"
    app.write_bytes(package({"app": "#!/bin/sh\n"}))

    created = daemon.aws(
        "lambda", "create-function",
        "--function-name", "ExampleFunction",
        "--runtime", "go1.x",
        "--role", role,
        "--zip-file", f"fileb://{app}",
        "--handler", "app.handler",
        "--vpc-config", f"SubnetIds={a},{b},SecurityGroupIds={sg}",
        "--memory-size", "1024",
    )
    assert created["FunctionName"] == "ExampleFunction"
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:ExampleFunction"
    assert created["Runtime"] == "go1.x"
    assert created["MemorySize"] == 1024
    assert created["Timeout"] == 3
    assert created["VpcConfig"] == {"SubnetIds": [a, b], "SecurityGroupIds": [sg], "VpcId": vpc,
                                    "Ipv6AllowedForDualStack": False}
    assert created["State"] == "Pending"
    assert created["StateReason"] == "The function is being created."
    assert created["StateReasonCode"] == "Creating"
    assert "LastUpdateStatus" not in created

    daemon.aws("lambda", "wait", "function-active-v2", "--function-name", "ExampleFunction")
    got = daemon.aws("lambda", "get-function", "--function-name", "ExampleFunction")["Configuration"]
    assert got["State"] == "Active" and got["LastUpdateStatus"] == "Successful"
    assert "StateReason" not in got

    # The second command, on an existing function without VPC access.
    daemon.aws("lambda", "create-function", "--function-name", "NoVpc", "--runtime", "go1.x",
               "--role", role, "--zip-file", f"fileb://{app}", "--handler", "app.handler")
    daemon.aws("lambda", "wait", "function-active-v2", "--function-name", "NoVpc")
    assert "VpcConfig" not in daemon.aws("lambda", "get-function-configuration", "--function-name", "NoVpc")
    updated = daemon.aws("lambda", "update-function-configuration", "--function-name", "NoVpc",
                         "--vpc-config", f"SubnetIds={a},{b},SecurityGroupIds={sg}")
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["LastUpdateStatusReason"] == "The function is being created."
    assert updated["LastUpdateStatusReasonCode"] == "Creating"
    assert updated["VpcConfig"]["VpcId"] == vpc
    daemon.aws("lambda", "wait", "function-updated-v2", "--function-name", "NoVpc")
    got = daemon.aws("lambda", "get-function-configuration", "--function-name", "NoVpc")
    assert got["LastUpdateStatus"] == "Successful"
    assert got["VpcConfig"]["SubnetIds"] == [a, b]

    # The third: detach.
    for name in ("NoVpc", "ExampleFunction"):
        detached = daemon.aws("lambda", "update-function-configuration", "--function-name", name,
                              "--vpc-config", "SubnetIds=[],SecurityGroupIds=[]")
        assert detached["VpcConfig"] == {"SubnetIds": [], "SecurityGroupIds": [], "VpcId": "",
                                         "Ipv6AllowedForDualStack": False}
        daemon.aws("lambda", "wait", "function-updated-v2", "--function-name", name)
        got = daemon.aws("lambda", "get-function", "--function-name", name)["Configuration"]
        assert got["VpcConfig"]["VpcId"] == ""
        assert got["MemorySize"] == (1024 if name == "ExampleFunction" else 128)

    # Leaving VpcConfig out of an update leaves it alone.
    daemon.aws("lambda", "update-function-configuration", "--function-name", "NoVpc",
               "--vpc-config", f"SubnetIds={a},SecurityGroupIds={sg}")
    daemon.aws("lambda", "wait", "function-updated-v2", "--function-name", "NoVpc")
    daemon.aws("lambda", "update-function-configuration", "--function-name", "NoVpc", "--timeout", "30")
    daemon.aws("lambda", "wait", "function-updated-v2", "--function-name", "NoVpc")
    got = daemon.aws("lambda", "get-function-configuration", "--function-name", "NoVpc")
    assert got["Timeout"] == 30 and got["VpcConfig"]["SubnetIds"] == [a]


def refused(daemon, **kw):
    lam = daemon.client("lambda")
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="refused", Runtime="go1.x", Handler="app.handler",
                            Code={"ZipFile": package()}, **kw)
    with pytest.raises(ClientError) as gone:
        lam.get_function(FunctionName="refused")
    assert error_of(gone)[0] == "ResourceNotFoundException"
    return error_of(e)


def test_dedicated_tenancy_vpc_is_refused(daemon):
    role = make_role(daemon, "r")
    vpc, (a,), sg = make_network(daemon, subnets=1, tenancy="dedicated")
    code, msg, status = refused(daemon, Role=role, VpcConfig={"SubnetIds": [a], "SecurityGroupIds": [sg]})
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert msg == f"Lambda does not support dedicated tenancy VPCs. VPC {vpc} has instance tenancy 'dedicated'."


def test_subnet_of_another_vpc_is_refused(daemon):
    role = make_role(daemon, "r")
    _, (a,), sg = make_network(daemon, "10.0.0.0/16", subnets=1)
    _, (other,), _ = make_network(daemon, "10.1.0.0/16", subnets=1)
    assert refused(daemon, Role=role, VpcConfig={"SubnetIds": [a, other], "SecurityGroupIds": [sg]}) == (
        "InvalidParameterValueException", "Subnets are required to be in the same VPC.", 400)
    assert refused(daemon, Role=role, VpcConfig={"SubnetIds": [other], "SecurityGroupIds": [sg]}) == (
        "InvalidParameterValueException", "Security Groups are required to be in the same VPC.", 400)


def test_security_groups_of_two_vpcs_are_refused(daemon):
    role = make_role(daemon, "r")
    _, (a,), sg = make_network(daemon, "10.0.0.0/16", subnets=1)
    _, _, other_sg = make_network(daemon, "10.1.0.0/16", subnets=1)
    assert refused(daemon, Role=role, VpcConfig={"SubnetIds": [a], "SecurityGroupIds": [sg, other_sg]}) == (
        "InvalidParameterValueException", "Security Groups are required to be in the same VPC.", 400)


def test_missing_security_group_and_subnet_are_refused(daemon):
    role = make_role(daemon, "r")
    _, (a,), sg = make_network(daemon, subnets=1)
    assert refused(daemon, Role=role, VpcConfig={"SubnetIds": [a], "SecurityGroupIds": ["sg-0123456789abcdef0"]}) == (
        "InvalidParameterValueException",
        "Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. "
        "EC2 Error Message: The security group 'sg-0123456789abcdef0' does not exist", 400)
    assert refused(daemon, Role=role, VpcConfig={"SubnetIds": ["subnet-0123456789abcdef0"], "SecurityGroupIds": [sg]}) == (
        "InvalidParameterValueException",
        "Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. "
        "EC2 Error Message: The subnet ID 'subnet-0123456789abcdef0' does not exist", 400)
    # Security groups are looked up before subnets.
    code, msg, _ = refused(daemon, Role=role, VpcConfig={"SubnetIds": ["subnet-0123456789abcdef0"],
                                                        "SecurityGroupIds": ["sg-0123456789abcdef0"]})
    assert "DescribeSecurityGroups" in msg


def test_role_without_eni_permissions_is_refused(daemon):
    role = make_role(daemon, "basic-only", policies=(BASIC,))
    _, (a,), sg = make_network(daemon, subnets=1)
    assert refused(daemon, Role=role, VpcConfig={"SubnetIds": [a], "SecurityGroupIds": [sg]}) == (
        "InvalidParameterValueException",
        "The provided execution role does not have permissions to call CreateNetworkInterface on EC2", 400)
    # Without a VPC the same role is fine.
    create(daemon, "no-vpc", role)
    # ...and attaching the function to a VPC later is checked the same way.
    lam = daemon.client("lambda")
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="no-vpc", VpcConfig={"SubnetIds": [a], "SecurityGroupIds": [sg]})
    assert error_of(e)[1] == "The provided execution role does not have permissions to call CreateNetworkInterface on EC2"


def test_role_with_only_create_lacks_describe(daemon):
    iam = daemon.client("iam")
    role = make_role(daemon, "create-only", policies=())
    iam.put_role_policy(RoleName="create-only", PolicyName="eni", PolicyDocument=(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:CreateNetworkInterface","Resource":"*"}]}'))
    _, (a,), sg = make_network(daemon, subnets=1)
    assert refused(daemon, Role=role, VpcConfig={"SubnetIds": [a], "SecurityGroupIds": [sg]})[1] == (
        "The provided execution role does not have permissions to call DescribeNetworkInterfaces on EC2")


def test_role_lambda_cannot_assume_is_refused(daemon):
    role = make_role(daemon, "ec2-role", service="ec2.amazonaws.com")
    _, (a,), sg = make_network(daemon, subnets=1)
    expected = ("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.", 400)
    assert refused(daemon, Role=role, VpcConfig={"SubnetIds": [a], "SecurityGroupIds": [sg]}) == expected
    assert refused(daemon, Role=role) == expected
    assert refused(daemon, Role="arn:aws:iam::000000000000:role/nobody") == expected


def test_vpc_config_shape_is_validated(daemon):
    role = make_role(daemon, "r")
    _, (a,), sg = make_network(daemon, subnets=1)
    many = [f"subnet-{i:017x}" for i in range(17)]
    code, msg, status = refused(daemon, Role=role, VpcConfig={"SubnetIds": many, "SecurityGroupIds": [sg]})
    assert (code, status) == ("ValidationException", 400)
    assert msg.startswith("1 validation error detected: Value '[subnet-")
    assert msg.endswith("at 'vpcConfig.subnetIds' failed to satisfy constraint: Member must have length less than or equal to 16")
    code, msg, _ = refused(daemon, Role=role, VpcConfig={"SubnetIds": [a], "SecurityGroupIds": [sg] * 6})
    assert code == "ValidationException" and "less than or equal to 5" in msg
    assert refused(daemon, Role=role, VpcConfig={"SubnetIds": [a]}) == (
        "InvalidParameterValueException", "SubnetIds and SecurityIds must coexist or be both empty list.", 400)
    assert refused(daemon, Role=role, VpcConfig={"SubnetIds": [], "SecurityGroupIds": [sg]})[1] == (
        "SubnetIds and SecurityIds must coexist or be both empty list.")


def test_refused_update_changes_nothing(daemon):
    role = make_role(daemon, "r")
    vpc, (a,), sg = make_network(daemon, subnets=1)
    create(daemon, "f", role, VpcConfig={"SubnetIds": [a], "SecurityGroupIds": [sg]})
    lam = daemon.client("lambda")
    before = lam.get_function_configuration(FunctionName="f")
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="f", MemorySize=512,
                                          VpcConfig={"SubnetIds": ["subnet-0000000000000000f"], "SecurityGroupIds": [sg]})
    assert error_of(e)[0] == "InvalidParameterValueException"
    after = lam.get_function_configuration(FunctionName="f")
    assert after["RevisionId"] == before["RevisionId"]
    assert after["MemorySize"] == 128 and after["VpcConfig"]["VpcId"] == vpc
    # A new role must be able to manage the VPC the function already uses.
    weak = make_role(daemon, "weak", policies=(BASIC,))
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="f", Role=weak)
    assert "CreateNetworkInterface" in error_of(e)[1]
