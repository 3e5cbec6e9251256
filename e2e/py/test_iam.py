"""IAM (query protocol): roles, managed and inline policies, as boto3 and the aws CLI see them.

Policy documents travel URL-encoded and botocore decodes them, so every document read back must
equal (as JSON) what was sent.
"""

import json

import pytest
from botocore.exceptions import ClientError

VPC_ACCESS = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
S3_READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::bucket/*"}],
}
TWO_ACCOUNTS = """
[[accounts]]
access_key_id = "AKIAONE"
secret_access_key = "one"
account_id = "111111111111"
[[accounts]]
access_key_id = "AKIATWO"
secret_access_key = "two"
account_id = "222222222222"
"""


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_execution_role_round_trip_boto3(daemon):
    iam = daemon.client("iam")
    trust_text = json.dumps(LAMBDA_TRUST, indent=2)
    created = iam.create_role(
        RoleName="fn-exec",
        Path="/service-role/",
        AssumeRolePolicyDocument=trust_text,
        Description="execution role",
        Tags=[{"Key": "team", "Value": "net"}],
    )["Role"]
    assert created["RoleName"] == "fn-exec"
    assert created["Path"] == "/service-role/"
    assert created["Arn"] == "arn:aws:iam::000000000000:role/service-role/fn-exec"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    assert created["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    assert created["MaxSessionDuration"] == 3600
    assert created["CreateDate"].tzinfo is not None

    iam.attach_role_policy(RoleName="fn-exec", PolicyArn=VPC_ACCESS)
    iam.put_role_policy(RoleName="fn-exec", PolicyName="read", PolicyDocument=json.dumps(S3_READ))

    got = iam.get_role(RoleName="fn-exec")["Role"]
    assert got["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    assert got["Description"] == "execution role"
    assert got["Tags"] == [{"Key": "team", "Value": "net"}]
    assert got["RoleId"] == created["RoleId"]

    listed = iam.list_roles()["Roles"]
    assert [r["RoleName"] for r in listed] == ["fn-exec"]
    assert listed[0]["AssumeRolePolicyDocument"] == LAMBDA_TRUST

    attached = iam.list_attached_role_policies(RoleName="fn-exec")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AWSLambdaVPCAccessExecutionRole", "PolicyArn": VPC_ACCESS}]
    assert iam.list_role_policies(RoleName="fn-exec")["PolicyNames"] == ["read"]
    inline = iam.get_role_policy(RoleName="fn-exec", PolicyName="read")
    assert inline["RoleName"] == "fn-exec" and inline["PolicyName"] == "read"
    assert inline["PolicyDocument"] == S3_READ
    assert iam.list_role_tags(RoleName="fn-exec")["Tags"] == [{"Key": "team", "Value": "net"}]

    policy = iam.get_policy(PolicyArn=VPC_ACCESS)["Policy"]
    assert policy["PolicyName"] == "AWSLambdaVPCAccessExecutionRole"
    assert policy["DefaultVersionId"] == "v3"
    assert policy["AttachmentCount"] == 1
    assert policy["IsAttachable"] is True
    version = iam.get_policy_version(PolicyArn=VPC_ACCESS, VersionId="v3")["PolicyVersion"]
    assert version["IsDefaultVersion"] is True
    actions = version["Document"]["Statement"][0]["Action"]
    assert {"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface"} <= set(actions)
    entities = iam.list_entities_for_policy(PolicyArn=VPC_ACCESS)
    assert entities["PolicyRoles"] == [{"RoleName": "fn-exec", "RoleId": created["RoleId"]}]


def test_documents_are_url_encoded_and_stored_verbatim(daemon):
    iam = daemon.client("iam")
    trust_text = '{"Version":"2012-10-17",  "Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    raw = {}

    def keep(http_response, **_):
        raw["body"] = http_response.content.decode()

    iam.meta.events.register("after-call.iam.GetRole", keep)
    iam.create_role(RoleName="verbatim", AssumeRolePolicyDocument=trust_text)
    iam.get_role(RoleName="verbatim")
    assert "%7B%22Version%22%3A%222012-10-17%22%2C%20%20%22Statement%22" in raw["body"]
    assert "<ErrorResponse" not in raw["body"]


def test_execution_role_round_trip_cli(daemon, tmp_path):
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(LAMBDA_TRUST))
    inline = tmp_path / "inline.json"
    inline.write_text(json.dumps(S3_READ))
    role = daemon.aws(
        "iam", "create-role", "--role-name", "cli-role", "--assume-role-policy-document", f"file://{trust}"
    )["Role"]
    assert role["Arn"] == "arn:aws:iam::000000000000:role/cli-role"
    assert role["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    assert daemon.aws("iam", "attach-role-policy", "--role-name", "cli-role", "--policy-arn", VPC_ACCESS) is None
    daemon.aws(
        "iam", "put-role-policy", "--role-name", "cli-role", "--policy-name", "s3", "--policy-document", f"file://{inline}"
    )
    assert daemon.aws("iam", "get-role", "--role-name", "cli-role")["Role"]["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    assert daemon.aws("iam", "get-role-policy", "--role-name", "cli-role", "--policy-name", "s3")["PolicyDocument"] == S3_READ
    attached = daemon.aws("iam", "list-attached-role-policies", "--role-name", "cli-role")["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == [VPC_ACCESS]
    doc = daemon.aws("iam", "get-policy-version", "--policy-arn", VPC_ACCESS, "--version-id", "v3")
    assert "ec2:CreateNetworkInterface" in doc["PolicyVersion"]["Document"]["Statement"][0]["Action"]
    names = [r["RoleName"] for r in daemon.aws("iam", "list-roles")["Roles"]]
    assert names == ["cli-role"]

    missing = daemon.aws("iam", "get-role", "--role-name", "nope", check=False)
    assert missing.returncode != 0
    assert (
        "An error occurred (NoSuchEntity) when calling the GetRole operation: "
        "The role with name nope cannot be found." in missing.stderr
    )
    conflict = daemon.aws("iam", "delete-role", "--role-name", "cli-role", check=False)
    assert "(DeleteConflict)" in conflict.stderr
    assert "Cannot delete entity, must detach all policies first." in conflict.stderr


def test_errors_are_iams(daemon):
    iam = daemon.client("iam")
    trust = json.dumps(LAMBDA_TRUST)
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName="nope")
    assert error_of(e) == ("NoSuchEntity", "The role with name nope cannot be found.", 404)

    iam.create_role(RoleName="Taken", AssumeRolePolicyDocument=trust)
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="Taken", AssumeRolePolicyDocument=trust)
    assert error_of(e) == ("EntityAlreadyExists", "Role with name Taken already exists.", 409)

    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="bad name", AssumeRolePolicyDocument=trust)
    assert error_of(e) == (
        "ValidationError",
        "1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
        400,
    )
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="p", Path="nope", AssumeRolePolicyDocument=trust)
    assert error_of(e)[0] == "ValidationError" and "'path'" in error_of(e)[1]
    unchecked = daemon.client("iam", parameter_validation=False)
    with pytest.raises(ClientError) as e:
        unchecked.create_role(RoleName="m", AssumeRolePolicyDocument=trust, MaxSessionDuration=100)
    assert error_of(e) == (
        "ValidationError",
        "1 validation error detected: Value '100' at 'maxSessionDuration' failed to satisfy constraint: "
        "Member must have value greater than or equal to 3600",
        400,
    )
    with pytest.raises(ClientError) as e:
        unchecked.create_role(RoleName="x" * 65, AssumeRolePolicyDocument=trust)
    assert error_of(e)[0] == "ValidationError" and "length less than or equal to 64" in error_of(e)[1]
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="j", AssumeRolePolicyDocument="{not json")
    assert error_of(e)[0] == "MalformedPolicyDocument" and error_of(e)[2] == 400
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="j", AssumeRolePolicyDocument=json.dumps(S3_READ))
    assert error_of(e)[0] == "MalformedPolicyDocument"

    with pytest.raises(ClientError) as e:
        iam.attach_role_policy(RoleName="Taken", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")
    assert error_of(e) == (
        "NoSuchEntity",
        "Policy arn:aws:iam::aws:policy/NoSuchPolicy does not exist or is not attachable.",
        404,
    )
    with pytest.raises(ClientError) as e:
        iam.detach_role_policy(RoleName="Taken", PolicyArn=BASIC)
    assert error_of(e) == ("NoSuchEntity", f"Policy {BASIC} was not found.", 404)
    with pytest.raises(ClientError) as e:
        iam.get_role_policy(RoleName="Taken", PolicyName="none")
    assert error_of(e) == ("NoSuchEntity", "The role policy with name none cannot be found.", 404)

    iam.attach_role_policy(RoleName="Taken", PolicyArn=BASIC)
    iam.put_role_policy(RoleName="Taken", PolicyName="inline", PolicyDocument=json.dumps(S3_READ))
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName="Taken")
    assert error_of(e) == ("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409)
    iam.detach_role_policy(RoleName="Taken", PolicyArn=BASIC)
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName="Taken")
    assert error_of(e) == ("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
    iam.delete_role_policy(RoleName="Taken", PolicyName="inline")
    iam.delete_role(RoleName="Taken")
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName="Taken")
    assert error_of(e)[0] == "NoSuchEntity"


def test_update_and_tag_role(daemon):
    iam = daemon.client("iam")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    ec2_trust = json.loads(json.dumps(LAMBDA_TRUST))
    ec2_trust["Statement"][0]["Principal"]["Service"] = "ec2.amazonaws.com"
    iam.update_assume_role_policy(RoleName="r", PolicyDocument=json.dumps(ec2_trust))
    iam.update_role(RoleName="r", Description="d", MaxSessionDuration=7200)
    iam.tag_role(RoleName="r", Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam.untag_role(RoleName="r", TagKeys=["a"])
    role = iam.get_role(RoleName="r")["Role"]
    assert role["AssumeRolePolicyDocument"] == ec2_trust
    assert role["Description"] == "d"
    assert role["MaxSessionDuration"] == 7200
    assert iam.list_role_tags(RoleName="r")["Tags"] == [{"Key": "b", "Value": "2"}]


def test_customer_policy_versions(daemon):
    iam = daemon.client("iam")
    v1 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}
    created = iam.create_policy(PolicyName="enis", Path="/team/", PolicyDocument=json.dumps(v1), Description="d")["Policy"]
    arn = created["Arn"]
    assert arn == "arn:aws:iam::000000000000:policy/team/enis"
    assert created["PolicyId"].startswith("ANPA")
    assert created["DefaultVersionId"] == "v1"
    assert created["AttachmentCount"] == 0

    docs = {"v1": v1}
    for n in range(2, 6):
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": f"s3:Get{n}", "Resource": "*"}]}
        docs[f"v{n}"] = doc
        made = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc), SetAsDefault=(n == 3))[
            "PolicyVersion"
        ]
        assert made["VersionId"] == f"v{n}" and made["IsDefaultVersion"] == (n == 3)
    with pytest.raises(ClientError) as e:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(v1))
    assert error_of(e)[0] == "LimitExceeded" and error_of(e)[2] == 409
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"

    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["IsDefaultVersion"] for v in versions] == [False, False, True, False, False]
    assert all("Document" not in v for v in versions)
    for vid, doc in docs.items():
        assert iam.get_policy_version(PolicyArn=arn, VersionId=vid)["PolicyVersion"]["Document"] == doc

    with pytest.raises(ClientError) as e:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert error_of(e) == ("DeleteConflict", "Cannot delete the default version of a policy.", 409)
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    with pytest.raises(ClientError) as e:
        iam.get_policy_version(PolicyArn=arn, VersionId="v3")
    assert error_of(e)[0] == "NoSuchEntity"

    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    iam.attach_role_policy(RoleName="r", PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert error_of(e) == ("DeleteConflict", "Cannot delete a policy attached to entities.", 409)
    iam.detach_role_policy(RoleName="r", PolicyArn=arn)
    for vid in ["v2", "v4", "v5"]:
        iam.delete_policy_version(PolicyArn=arn, VersionId=vid)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as e:
        iam.get_policy(PolicyArn=arn)
    assert error_of(e) == ("NoSuchEntity", f"Policy {arn} was not found.", 404)


def test_list_policies_scopes_and_attachments(daemon):
    iam = daemon.client("iam")
    mine = iam.create_policy(PolicyName="mine", PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]

    def arns(**kw):
        return [p["Arn"] for p in iam.get_paginator("list_policies").paginate(**kw).build_full_result()["Policies"]]

    every = arns()
    assert VPC_ACCESS in every and BASIC in every and mine in every
    assert arns(Scope="Local") == [mine]
    assert mine not in arns(Scope="AWS")
    assert arns(OnlyAttached=True) == []
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    iam.attach_role_policy(RoleName="r", PolicyArn=BASIC)
    assert arns(OnlyAttached=True) == [BASIC]
    assert set(arns(PathPrefix="/service-role/")) >= {BASIC, VPC_ACCESS}
    assert mine not in arns(PathPrefix="/service-role/")


def test_pagination(daemon):
    iam = daemon.client("iam")
    for i in range(5):
        iam.create_role(RoleName=f"role-{i}", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    first = iam.list_roles(MaxItems=2)
    assert [r["RoleName"] for r in first["Roles"]] == ["role-0", "role-1"]
    assert first["IsTruncated"] is True and first["Marker"]
    second = iam.list_roles(MaxItems=2, Marker=first["Marker"])
    assert [r["RoleName"] for r in second["Roles"]] == ["role-2", "role-3"]
    everything = iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 2}).build_full_result()
    assert [r["RoleName"] for r in everything["Roles"]] == [f"role-{i}" for i in range(5)]
    last = iam.list_roles(MaxItems=10)
    assert last["IsTruncated"] is False and "Marker" not in last
    cli = daemon.aws("iam", "list-roles", "--page-size", "2")
    assert [r["RoleName"] for r in cli["Roles"]] == [f"role-{i}" for i in range(5)]


def test_accounts_do_not_see_each_other(make_daemon):
    d = make_daemon(config=TWO_ACCOUNTS).start()
    one = d.client("iam", key="AKIAONE", secret="one")
    two = d.client("iam", key="AKIATWO", secret="two")
    r1 = one.create_role(RoleName="shared-name", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]
    assert r1["Arn"] == "arn:aws:iam::111111111111:role/shared-name"
    with pytest.raises(ClientError) as e:
        two.get_role(RoleName="shared-name")
    assert error_of(e)[0] == "NoSuchEntity"
    assert two.list_roles()["Roles"] == []
    r2 = two.create_role(RoleName="shared-name", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]
    assert r2["Arn"] == "arn:aws:iam::222222222222:role/shared-name"
    assert r2["RoleId"] != r1["RoleId"]

    p1 = one.create_policy(PolicyName="p", PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    with pytest.raises(ClientError) as e:
        two.get_policy(PolicyArn=p1)
    assert error_of(e)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        two.attach_role_policy(RoleName="shared-name", PolicyArn=p1)
    assert error_of(e)[0] == "NoSuchEntity"
    one.attach_role_policy(RoleName="shared-name", PolicyArn=VPC_ACCESS)
    assert one.get_policy(PolicyArn=VPC_ACCESS)["Policy"]["AttachmentCount"] == 1
    assert two.get_policy(PolicyArn=VPC_ACCESS)["Policy"]["AttachmentCount"] == 0


def test_restart_keeps_everything(daemon):
    iam = daemon.client("iam")
    role = iam.create_role(
        RoleName="durable", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST), Tags=[{"Key": "k", "Value": "v"}]
    )["Role"]
    iam.attach_role_policy(RoleName="durable", PolicyArn=VPC_ACCESS)
    iam.put_role_policy(RoleName="durable", PolicyName="inline", PolicyDocument=json.dumps(S3_READ))
    arn = iam.create_policy(PolicyName="kept", PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(S3_READ), SetAsDefault=True)
    iam.attach_role_policy(RoleName="durable", PolicyArn=arn)

    daemon.restart()
    iam = daemon.client("iam")
    got = iam.get_role(RoleName="durable")["Role"]
    assert got["RoleId"] == role["RoleId"]
    assert got["CreateDate"] == role["CreateDate"]
    assert got["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    assert got["Tags"] == [{"Key": "k", "Value": "v"}]
    attached = [a["PolicyArn"] for a in iam.list_attached_role_policies(RoleName="durable")["AttachedPolicies"]]
    assert attached == [VPC_ACCESS, arn]
    assert iam.get_role_policy(RoleName="durable", PolicyName="inline")["PolicyDocument"] == S3_READ
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["DefaultVersionId"] == "v2" and policy["AttachmentCount"] == 1
