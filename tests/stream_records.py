"""DynamoDB stream records of the file table, in the shape Lambda hands them to a function (for unit tests).

Spec: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_Record.html
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from lambdashare.domain.analytics import TTL_PRINCIPAL

_serializer = TypeSerializer()
_sequence = itertools.count(100_000_000_000_000_000_000)
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/files/stream/2025-01-01T00:00:00.000"


def _image(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: _serializer.serialize(Decimal(repr(value)) if isinstance(value, float) else value)
        for name, value in item.items()
    }


def stream_record(
    event_name: str,
    *,
    old: Mapping[str, Any] | None = None,
    new: Mapping[str, Any] | None = None,
    at: datetime,
    event_id: str | None = None,
    by_ttl: bool = False,
) -> dict[str, Any]:
    """One record of a NEW_AND_OLD_IMAGES stream; `by_ttl`: a REMOVE done by the table's TTL."""
    item = new or old
    assert item is not None
    sequence = str(next(_sequence))
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": at.timestamp(),
        "Keys": {"id": {"S": item["id"]}},
        "SequenceNumber": sequence,
        "SizeBytes": 256,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old is not None:
        dynamodb["OldImage"] = _image(old)
    if new is not None:
        dynamodb["NewImage"] = _image(new)
    record: dict[str, Any] = {
        "eventID": event_id or f"event-{sequence}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
        "eventSourceARN": STREAM_ARN,
    }
    if by_ttl:
        record["userIdentity"] = {"type": "Service", "principalId": TTL_PRINCIPAL}
    return record
