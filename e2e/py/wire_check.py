"""Responses checked against botocore's output shapes, from the raw bytes on the wire.

boto3 parses what it knows and drops the rest, so a response with a misspelt member, a
number where the model has a string, or an enum value the model doesn't list still "works"
in a test while a stricter SDK (Go, Rust, Terraform's) fails on it. `checked(client)` hooks
the client's `before-parse` event and validates every successful JSON response body against
the operation's output shape before boto3 sees it; a mismatch raises `WireMismatch` from
the call itself, naming the path of the offending member.
"""

import json

from botocore.model import Shape


class WireMismatch(AssertionError):
    pass


# Enum values AWS itself sends that its models don't list (SDKs keep unknown enum values):
# (shape name, value) -> where that is recorded.
OFF_MODEL_VALUES = {
    # During an update: shared/reference/aws-contract.md, "LastUpdateStatusReasonCode".
    ("LastUpdateStatusReasonCode", "Creating"),
}


def problems(shape: Shape, value, path: str = "$") -> list[str]:
    """What is wrong with `value` as a JSON rendering of `shape` (empty when it fits)."""
    t = shape.type_name
    if value is None:
        return [f"{path}: null (omit the member instead)"]
    if t == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object for {shape.name}, got {type(value).__name__}"]
        out = []
        by_wire = {}
        for name, member in shape.members.items():
            if member.serialization.get("location") in ("header", "headers", "statusCode"):
                continue
            by_wire[member.serialization.get("name", name)] = member
        for key, v in value.items():
            member = by_wire.get(key)
            if member is None:
                out.append(f"{path}.{key}: not a member of {shape.name}")
            else:
                out.extend(problems(member, v, f"{path}.{key}"))
        return out
    if t == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        out = []
        for i, item in enumerate(value):
            out.extend(problems(shape.member, item, f"{path}[{i}]"))
        return out
    if t == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {type(value).__name__}"]
        out = []
        for k, v in value.items():
            out.extend(problems(shape.value, v, f"{path}[{k!r}]"))
        return out
    if t == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        enum = shape.enum
        if enum and value not in enum and (shape.name, value) not in OFF_MODEL_VALUES:
            return [f"{path}: {value!r} is not one of {shape.name}'s values {enum}"]
        return []
    if t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{path}: expected an integer, got {value!r}"]
        return []
    if t in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{path}: expected a number, got {value!r}"]
        return []
    if t == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if t == "timestamp":
        fmt = shape.serialization.get("timestampFormat", "unixTimestamp")
        ok = isinstance(value, str) if fmt in ("iso8601", "rfc822") else (
            isinstance(value, (int, float)) and not isinstance(value, bool)
        )
        return [] if ok else [f"{path}: {value!r} is not a {fmt} timestamp"]
    if t == "blob":
        return [] if isinstance(value, str) else [f"{path}: expected base64 text, got {value!r}"]
    return []


def check_body(operation_model, body: bytes) -> list[str]:
    """Problems of a successful response body for `operation_model` (rest-json/json)."""
    shape = operation_model.output_shape
    if shape is None:
        # JSON 1.1 services answer `{}` where there is no output; rest-json ones nothing.
        return [] if body.strip() in (b"", b"{}") else ["$: the operation has no output, yet a body came"]
    payload = shape.serialization.get("payload")
    if payload is not None:
        member = shape.members[payload]
        if member.type_name != "structure":
            return []
        shape = member
    if not body.strip():
        return []
    try:
        value = json.loads(body)
    except ValueError as e:
        return [f"$: not JSON ({e})"]
    return problems(shape, value)


def checked(client):
    """`client`, with every successful JSON response validated against the model."""
    protocol = client.meta.service_model.protocol
    if protocol not in ("rest-json", "json"):
        raise ValueError(f"wire_check validates JSON protocols, not {protocol}")

    def before_parse(operation_model, response_dict, **_):
        if response_dict.get("status_code", 200) >= 300:
            return
        headers = response_dict.get("headers", {})
        ctype = headers.get("content-type", headers.get("Content-Type", ""))
        if ctype and "json" not in ctype:
            return
        found = check_body(operation_model, response_dict.get("body") or b"")
        if found:
            raise WireMismatch(f"{operation_model.name}: " + "; ".join(found))

    client.meta.events.register("before-parse", before_parse)
    return client
