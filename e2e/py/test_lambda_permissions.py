"""Resource-based policies of Lambda functions (issue 14): AddPermission, RemovePermission and
GetPolicy on functions, versions and aliases, with AWS's rendering, revision preconditions,
the 20 KB limit and errors — and their enforcement: another account's caller may invoke a
function only while its policy allows that account."""

import json
import re

import pytest
from botocore.exceptions import ClientError

from conftest import ROOT
from fixtures.lambda_world import BASIC, create, error_of, make_role, package
from functions import FUNCTIONS, zip_function

OWNER = "000000000000"
OTHER = "222222222222"
OTHER_KEY, OTHER_SECRET = "AKIATWO", "two"
# The default key keeps serving the owner's account; a second account signs as AKIATWO.
TWO_ACCOUNTS = f"""
[[accounts]]
access_key_id = "test"
secret_access_key = "test"
account_id = "{OWNER}"
[[accounts]]
access_key_id = "{OTHER_KEY}"
secret_access_key = "{OTHER_SECRET}"
account_id = "{OTHER}"
"""
ARN = f"arn:aws:lambda:us-east-1:{OWNER}:function"


@pytest.fixture
def fn(daemon):
    """Function `f` with version 1 and alias `prod` pointing at it."""
    role = make_role(daemon, "exec")
    create(daemon, "f", role, package())
    lam = daemon.client("lambda")
    lam.publish_version(FunctionName="f")
    lam.create_alias(FunctionName="f", Name="prod", FunctionVersion="1")
    return lam


def policy_of(lam, **kw):
    out = lam.get_policy(FunctionName="f", **kw)
    return json.loads(out["Policy"]), out["RevisionId"]


def test_add_get_remove_on_function_version_and_alias(fn):
    for qualifier in (None, "1", "prod"):
        kw = {"Qualifier": qualifier} if qualifier else {}
        resource = f"{ARN}:f:{qualifier}" if qualifier else f"{ARN}:f"
        out = fn.add_permission(FunctionName="f", StatementId="other-account", Action="lambda:InvokeFunction",
                                Principal=OTHER, **kw)
        assert out["ResponseMetadata"]["HTTPStatusCode"] == 201
        assert out["Statement"] == (
            '{"Sid":"other-account","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},'
            f'"Action":"lambda:InvokeFunction","Resource":"{resource}"}}'
        )
        fn.add_permission(FunctionName="f", StatementId="s3", Action="lambda:InvokeFunction",
                          Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bucket",
                          SourceAccount=OWNER, **kw)
        raw = fn.get_policy(FunctionName="f", **kw)["Policy"]
        assert raw.startswith('{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"other-account",')
        doc = json.loads(raw)
        assert doc["Statement"][1] == {
            "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "lambda:InvokeFunction", "Resource": resource,
            "Condition": {"StringEquals": {"AWS:SourceAccount": OWNER},
                          "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}},
        }
    # Each qualifier has a policy of its own; removing from one leaves the others.
    fn.remove_permission(FunctionName="f", StatementId="s3", Qualifier="1")
    assert [s["Sid"] for s in policy_of(fn, Qualifier="1")[0]["Statement"]] == ["other-account"]
    assert len(policy_of(fn)[0]["Statement"]) == 2
    assert len(policy_of(fn, Qualifier="prod")[0]["Statement"]) == 2
    # Every spelling of the name reaches the same policy.
    assert fn.get_policy(FunctionName=f"{ARN}:f:prod")["Policy"] == fn.get_policy(FunctionName="f:prod")["Policy"]
    fn.remove_permission(FunctionName=f"{ARN}:f", StatementId="other-account")
    fn.remove_permission(FunctionName="f", StatementId="s3")
    with pytest.raises(ClientError) as e:
        fn.get_policy(FunctionName="f")
    assert error_of(e) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    # Deleting the alias deletes its policy: a new alias of the same name has none.
    fn.delete_alias(FunctionName="f", Name="prod")
    fn.create_alias(FunctionName="f", Name="prod", FunctionVersion="1")
    with pytest.raises(ClientError) as e:
        fn.get_policy(FunctionName="f", Qualifier="prod")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_conditions_and_principals(fn):
    out = fn.add_permission(FunctionName="f", StatementId="url", Action="lambda:InvokeFunctionUrl",
                            Principal="*", FunctionUrlAuthType="NONE")
    assert json.loads(out["Statement"])["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    assert json.loads(out["Statement"])["Principal"] == "*"
    out = fn.add_permission(FunctionName="f", StatementId="org", Action="lambda:*",
                            Principal=f"arn:aws:iam::{OTHER}:role/caller", PrincipalOrgID="o-abcdefghij",
                            EventSourceToken="token.1")
    statement = json.loads(out["Statement"])
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{OTHER}:role/caller"}
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij",
                                                       "lambda:EventSourceToken": "token.1"}}
    out = fn.add_permission(FunctionName="f", StatementId="via-url", Action="lambda:InvokeFunction",
                            Principal="*", InvokedViaFunctionUrl=True)
    assert json.loads(out["Statement"])["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    with pytest.raises(ClientError) as e:
        fn.add_permission(FunctionName="f", StatementId="bad", Action="lambda:InvokeFunction", Principal="nobody")
    assert error_of(e) == ("InvalidParameterValueException",
                           "The provided principal was invalid. Please check the principal and try again.", 400)
    with pytest.raises(ClientError) as e:
        fn.add_permission(FunctionName="f", StatementId="bad id", Action="s3:GetObject", Principal="*")
    code, message, status = error_of(e)
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        "2 validation errors detected: Value 'bad id' at 'statementId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+); Value 's3:GetObject' at 'action' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "(lambda:[*]|lambda:[a-zA-Z]+|[*])"
    )
    with pytest.raises(ClientError) as e:
        fn.add_permission(FunctionName="f", StatementId="l", Action="lambda:InvokeFunction", Principal="*",
                          Qualifier="$LATEST")
    assert error_of(e) == ("InvalidParameterValueException",
                           "We currently do not support adding policies for $LATEST.", 400)
    assert [s["Sid"] for s in policy_of(fn)[0]["Statement"]] == ["url", "org", "via-url"]


def test_duplicate_sid_and_missing_things(fn):
    fn.add_permission(FunctionName="f", StatementId="dup", Action="lambda:InvokeFunction", Principal=OTHER)
    with pytest.raises(ClientError) as e:
        fn.add_permission(FunctionName="f", StatementId="dup", Action="lambda:GetFunction", Principal="*")
    assert error_of(e) == (
        "ResourceConflictException",
        "The statement id (dup) provided already exists. Please provide a new statement id, or remove the existing statement.",
        409,
    )
    # The same sid on another qualifier is another policy's.
    fn.add_permission(FunctionName="f", StatementId="dup", Action="lambda:InvokeFunction", Principal=OTHER,
                      Qualifier="1")
    with pytest.raises(ClientError) as e:
        fn.remove_permission(FunctionName="f", StatementId="nope")
    assert error_of(e) == ("ResourceNotFoundException", "Statement nope is not found in resource policy.", 404)
    with pytest.raises(ClientError) as e:
        fn.remove_permission(FunctionName="f", StatementId="dup", Qualifier="prod")
    assert error_of(e) == ("ResourceNotFoundException", "No policy is associated with the given resource.", 404)
    with pytest.raises(ClientError) as e:
        fn.add_permission(FunctionName="f", StatementId="x", Action="lambda:InvokeFunction", Principal="*",
                          Qualifier="9")
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {ARN}:f:9", 404)
    with pytest.raises(ClientError) as e:
        fn.get_policy(FunctionName="f", Qualifier="beta")
    assert error_of(e) == ("ResourceNotFoundException", f"Cannot find alias arn: {ARN}:f:beta", 404)
    with pytest.raises(ClientError) as e:
        fn.get_policy(FunctionName="nothing")
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {ARN}:nothing", 404)


def test_revision_id_preconditions(fn):
    before = fn.get_function(FunctionName="f")["Configuration"]["RevisionId"]
    with pytest.raises(ClientError) as e:
        fn.add_permission(FunctionName="f", StatementId="a", Action="lambda:InvokeFunction", Principal="*",
                          RevisionId="00000000-0000-0000-0000-000000000000")
    assert error_of(e) == (
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        412,
    )
    fn.add_permission(FunctionName="f", StatementId="a", Action="lambda:InvokeFunction", Principal="*",
                      RevisionId=before)
    _, revision = policy_of(fn)
    # A policy change is a new revision of what the policy belongs to.
    assert revision != before
    assert fn.get_function(FunctionName="f")["Configuration"]["RevisionId"] == revision
    with pytest.raises(ClientError) as e:
        fn.remove_permission(FunctionName="f", StatementId="a", RevisionId=before)
    assert error_of(e)[0] == "PreconditionFailedException"
    fn.remove_permission(FunctionName="f", StatementId="a", RevisionId=revision)
    # An alias's policy goes by the alias's revision.
    alias_revision = fn.get_alias(FunctionName="f", Name="prod")["RevisionId"]
    fn.add_permission(FunctionName="f", StatementId="a", Action="lambda:InvokeFunction", Principal="*",
                      Qualifier="prod", RevisionId=alias_revision)
    assert policy_of(fn, Qualifier="prod")[1] == fn.get_alias(FunctionName="f", Name="prod")["RevisionId"]


def test_policy_size_limit(fn):
    source = "arn:aws:s3:::" + "b" * 900
    added = 0
    with pytest.raises(ClientError) as e:
        for i in range(100):
            fn.add_permission(FunctionName="f", StatementId=f"s{i}", Action="lambda:InvokeFunction",
                              Principal="s3.amazonaws.com", SourceArn=source)
            added += 1
    code, message, status = error_of(e)
    assert (code, status) == ("PolicyLengthExceededException", 400)
    size = int(re.fullmatch(r"The final policy size \((\d+)\) is bigger than the limit \(20480\)\.", message)[1])
    assert size > 20480
    raw = fn.get_policy(FunctionName="f")["Policy"]
    assert len(raw) <= 20480 and len(json.loads(raw)["Statement"]) == added


@pytest.fixture
def two_accounts(privileged, make_daemon):
    return make_daemon("--runtimes-dir", str(ROOT / "runtimes"), config=TWO_ACCOUNTS).start()


def test_cross_account_invoke_needs_the_owners_permission(two_accounts):
    d = two_accounts
    runtime, handler = FUNCTIONS["shell"]
    role = make_role(d, "exec", policies=(BASIC,))
    create(d, "shared", role, zip_function("shell"), Runtime=runtime, Handler=handler)
    owner = d.client("lambda")
    other = d.client("lambda", key=OTHER_KEY, secret=OTHER_SECRET)
    arn = f"{ARN}:shared"
    event = json.dumps({"hello": "there"})

    def refused(**kw):
        with pytest.raises(ClientError) as e:
            other.invoke(FunctionName=arn, Payload=event, **kw)
        return error_of(e)

    denied = (
        "AccessDeniedException",
        f"User: arn:aws:iam::{OTHER}:root is not authorized to perform: lambda:InvokeFunction on resource: "
        f"{arn} because no resource-based policy allows the lambda:InvokeFunction action",
        403,
    )
    assert refused() == denied
    # The owner's own calls are as they always were.
    assert json.loads(owner.invoke(FunctionName="shared", Payload=event)["Payload"].read()) == {"hello": "there"}

    owner.add_permission(FunctionName="shared", StatementId="other", Action="lambda:InvokeFunction", Principal=OTHER)
    out = other.invoke(FunctionName=arn, Payload=event)
    assert out["StatusCode"] == 200 and out["ExecutedVersion"] == "$LATEST"
    assert json.loads(out["Payload"].read()) == {"hello": "there"}
    assert other.invoke(FunctionName=arn, InvocationType="DryRun")["StatusCode"] == 204
    # The unqualified function's grant is not a version's or an alias's.
    owner.publish_version(FunctionName="shared")
    qualified = refused(Qualifier="1")
    assert qualified[0] == "AccessDeniedException" and f"resource: {arn}:1 because" in qualified[1]
    # The other account has no function of that name of its own: a plain name is its own.
    with pytest.raises(ClientError) as e:
        other.invoke(FunctionName="shared", Payload=event)
    assert error_of(e)[0] == "ResourceNotFoundException"
    # GetPolicy across accounts is a permission of its own.
    with pytest.raises(ClientError) as e:
        other.get_policy(FunctionName=arn)
    assert error_of(e)[0] == "AccessDeniedException" and "lambda:GetPolicy" in error_of(e)[1]
    owner.add_permission(FunctionName="shared", StatementId="read", Action="lambda:GetPolicy", Principal=OTHER)
    sids = [s["Sid"] for s in json.loads(other.get_policy(FunctionName=arn)["Policy"])["Statement"]]
    assert sids == ["other", "read"]

    # So is GetFunction, which then shows the owner's function.
    with pytest.raises(ClientError) as e:
        other.get_function(FunctionName=arn)
    assert error_of(e)[0] == "AccessDeniedException" and "lambda:GetFunction on resource" in error_of(e)[1]
    owner.add_permission(FunctionName="shared", StatementId="get", Action="lambda:GetFunction", Principal=OTHER)
    assert other.get_function(FunctionName=arn)["Configuration"]["FunctionArn"] == arn

    owner.remove_permission(FunctionName="shared", StatementId="other")
    assert refused() == denied
    # Other operations stay the owner's alone, whatever the policy says.
    with pytest.raises(ClientError) as e:
        other.add_permission(FunctionName=arn, StatementId="mine", Action="lambda:InvokeFunction", Principal=OTHER)
    assert error_of(e)[0] == "AccessDeniedException"
