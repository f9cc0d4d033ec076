"""Unit tests for `lambdashare.emulator.events`: the events the emulator hands to our Lambda functions
have AWS's shapes (compared with the samples in tests/events) and read back right through Powertools."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import AppSyncResolverEvent, S3Event
from graphql import OperationDefinitionNode, parse, print_ast

from lambdashare.emulator.events import appsync_resolver_event, s3_object_created
from lambdashare.emulator.selection import selection_set_list
from tests.events import load_event


def shape(value: Any) -> Any:
    """Keys, recursively, and the JSON kind of every leaf: what must match AWS's samples."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


# --- S3 notification ------------------------------------------------------------------------------


def _s3_event(key: str = "HappyFace.jpg", **overrides: Any) -> dict[str, Any]:
    fields = {
        "bucket": "mybucket",
        "key": key,
        "size": 1024,
        "etag": "d41d8cd98f00b204e9800998ecf8427e",
        "region": "us-west-2",
        **overrides,
    }
    return s3_object_created(**fields)


def test_s3_event_has_the_keys_of_the_sample() -> None:
    # GIVEN AWS's sample notification
    sample = load_event("s3_object_created")

    # WHEN the emulator builds one for an object
    ours = _s3_event()

    # THEN every key is there, nothing more, with the same JSON kinds of values
    assert shape(ours) == shape(sample)


@pytest.mark.parametrize(
    ("key", "on_the_wire"),
    [
        ("a b+c.txt", "a+b%2Bc.txt"),
        ("uploads/2024/a b+c.txt", "uploads/2024/a+b%2Bc.txt"),
        ("ünïcode & co=1?.bin", "%C3%BCn%C3%AFcode+%26+co%3D1%3F.bin"),
    ],
)
def test_s3_event_reads_back_through_powertools(key: str, on_the_wire: str) -> None:
    # GIVEN an object created with a key that needs form-encoding
    # WHEN the emulator's notification is read with Powertools' S3Event
    event = S3Event(_s3_event(key=key, size=5, etag="abc123"))
    record = event.record

    # THEN the key is form-encoded on the wire, as S3 does, and object_key decodes it back
    assert record.s3.get_object.key == on_the_wire
    assert event.object_key == key
    # AND the other fields read as S3 sends them
    assert record.s3.get_object.size == 5
    assert record.s3.get_object.etag == "abc123"
    assert event.bucket_name == "mybucket"
    assert record.s3.bucket.arn == "arn:aws:s3:::mybucket"
    assert record.event_name == "ObjectCreated:Put"
    assert record.event_source == "aws:s3"
    assert record.aws_region == "us-west-2"
    assert record.event_version == "2.1"


def test_s3_event_time_is_iso_to_the_millisecond_in_utc() -> None:
    # GIVEN / WHEN a notification
    event_time = S3Event(_s3_event()).record.event_time

    # THEN its time is like S3's: 1970-01-01T00:00:00.000Z
    parsed = datetime.strptime(event_time, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert event_time == parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


def test_s3_sequencers_are_hex_and_grow_for_later_events() -> None:
    # GIVEN two notifications for the same key, one after the other
    first = _s3_event()["Records"][0]["s3"]["object"]["sequencer"]
    second = _s3_event()["Records"][0]["s3"]["object"]["sequencer"]

    # WHEN they are compared as S3 says: right-pad the shorter with zeros, then compare as strings
    width = max(len(first), len(second))

    # THEN both are hex and the later one is greater
    assert re.fullmatch("[0-9A-F]+", first)
    assert re.fullmatch("[0-9A-F]+", second)
    assert second.ljust(width, "0") > first.ljust(width, "0")


def test_s3_event_name_can_be_another_creation_kind() -> None:
    # GIVEN / WHEN a multipart upload's notification
    event = S3Event(_s3_event(event_name="ObjectCreated:CompleteMultipartUpload"))

    # THEN the name has no `s3:` prefix
    assert event.record.event_name == "ObjectCreated:CompleteMultipartUpload"


# --- AppSync direct resolver ----------------------------------------------------------------------


QUERY = "query GetFile($id: ID!) { file(id: $id) { id name hashes { sha256 } } }"


def _appsync_event(sample: dict[str, Any]) -> dict[str, Any]:
    """The emulator's event for QUERY, built as `data_sources` builds it, with the sample's values."""
    operation = parse(QUERY).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    field = operation.selection_set.selections[0]
    selection = field.selection_set  # type: ignore[union-attr]
    return appsync_resolver_event(
        field_name="file",
        parent_type_name="Query",
        arguments=dict(sample["arguments"]),
        identity=None,
        headers=dict(sample["request"]["headers"]),
        variables=dict(sample["info"]["variables"]),
        selection_set_list=selection_set_list(selection, {}),
        selection_set_graphql=print_ast(selection),
    )


def test_appsync_event_has_the_keys_and_values_of_the_sample() -> None:
    # GIVEN AWS's sample direct-resolver event for an API-key caller
    sample = load_event("appsync_direct_resolver")

    # WHEN the emulator builds the event for the same request
    ours = _appsync_event(sample)

    # THEN it has the same keys, recursively, and (same request) the same values
    assert shape(ours) == shape(sample)
    assert ours == sample


def test_appsync_event_reads_back_through_powertools() -> None:
    # GIVEN the emulator's event for an API-key caller
    sample = load_event("appsync_direct_resolver")

    # WHEN it is read with Powertools' AppSyncResolverEvent
    event = AppSyncResolverEvent(_appsync_event(sample))

    # THEN every property a resolver uses reads as on AppSync
    assert event.arguments == {"id": "7e36a6f2-1f0a-4b5e-9a3c-2c1d5c3e9b10"}
    assert event.identity is None
    assert event.source == {}
    assert event.prev_result is None
    assert event.stash == {}
    assert event.type_name == "Query"
    assert event.field_name == "file"
    assert event.info.field_name == "file"
    assert event.info.parent_type_name == "Query"
    assert event.info.selection_set_list == ["id", "name", "hashes", "hashes/sha256"]
    assert event.info.selection_set_graphql == "{\n  id\n  name\n  hashes {\n    sha256\n  }\n}"
    assert event.info.variables == {"id": "7e36a6f2-1f0a-4b5e-9a3c-2c1d5c3e9b10"}
    assert event.request_headers["x-api-key"] == "da2-12345678901234567890123456"
    assert event.request_headers.get("X-Api-Key") == "da2-12345678901234567890123456"
    assert event.domain_name is None


def test_appsync_event_carries_an_iam_identity_and_a_source() -> None:
    # GIVEN an IAM caller's identity, as the emulator's authenticator describes it, and a parent object
    identity = {
        "accountId": "000000000000",
        "cognitoIdentityPoolId": None,
        "cognitoIdentityId": None,
        "cognitoIdentityAuthType": None,
        "cognitoIdentityAuthProvider": None,
        "sourceIp": ["127.0.0.1"],
        "username": "AKIALOCAL",
        "userArn": "arn:aws:iam::000000000000:user/lambdashare-local",
    }

    # WHEN the event is built and read with Powertools
    event = AppSyncResolverEvent(
        appsync_resolver_event(
            field_name="hashes",
            parent_type_name="File",
            arguments={},
            identity=identity,
            headers={},
            variables={},
            selection_set_list=["md5"],
            selection_set_graphql="{\n  md5\n}",
            source={"id": "f1"},
        )
    )

    # THEN Powertools sees an IAM identity and the parent
    assert event.identity is not None
    assert event.identity.user_arn == "arn:aws:iam::000000000000:user/lambdashare-local"  # type: ignore[union-attr]
    assert event.identity.source_ip == ["127.0.0.1"]
    assert event.source == {"id": "f1"}
    assert event.type_name == "File"
