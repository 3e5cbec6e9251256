"""The wire checker itself: it must catch what boto3 silently drops."""

import botocore.session
import pytest

from wire_check import check_body

MODEL = botocore.session.get_session().get_service_model("lambda")


def op(name):
    return MODEL.operation_model(name)


def test_a_fitting_body_passes():
    body = b'{"ReservedConcurrentExecutions": 5}'
    assert check_body(op("PutFunctionConcurrency"), body) == []


def test_unknown_members_wrong_types_and_enums_are_named():
    body = (
        b'{"FunctionName": "f", "Timeout": "3", "Bogus": 1,'
        b' "TracingConfig": {"Mode": "Sometimes"}, "Layers": [{"Arn": 5}]}'
    )
    found = check_body(op("GetFunctionConfiguration"), body)
    assert any("$.Bogus: not a member" in p for p in found), found
    assert any(p.startswith("$.Timeout: expected an integer") for p in found), found
    assert any("$.TracingConfig.Mode: 'Sometimes'" in p for p in found), found
    assert any(p.startswith("$.Layers[0].Arn: expected a string") for p in found), found


@pytest.mark.parametrize("body", [b"", b"   "])
def test_operations_without_output_accept_an_empty_body(body):
    assert check_body(op("DeleteFunction"), body) == []
