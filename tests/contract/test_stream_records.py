"""The SQLite table's stream records against DynamoDB Local's own stream, for the same writes.

The records the local stream hands a function must be the ones DynamoDB Streams would: same events,
keys, images (the aws adapter's stored items), view type, and no record for a write that changes nothing.
Generated values (event ids, times, sequence numbers, region) are compared by kind only.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3

from lambdashare.adapters.local.sqlite_stream import SqliteStream
from lambdashare.adapters.local.sqlite_table import SqliteTable
from lambdashare.ports.table import Table
from tests.contract._servers import REGION, Server
from tests.contract.conftest import new_dynamo_table

ITEM = {
    "id": "f-1",
    "owner": None,
    "created_at": "2026-01-01T00:00:00.000Z",
    "status": "PENDING",
    "name": "a.txt",
    "size": 6,
    "ttl": 123,
    "hashes": None,
    "ratio": 1.5,
}


def writes(table: Table) -> None:
    table.put_item(ITEM)
    table.update_item("f-1", {"status": "HASHED", "hashes": {"sha256": "ab"}, "ttl": None}, status_in=["PENDING"])
    table.update_item("f-1", {"status": "HASHED"}, status_in=["HASHED"])  # changes nothing
    table.delete_item("f-1")
    table.delete_item("f-1")  # deletes nothing


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """The record without what each stream generates, but with the kinds of those values."""
    dynamodb = dict(record["dynamodb"])
    generated = {name: dynamodb.pop(name) for name in ("ApproximateCreationDateTime", "SequenceNumber", "SizeBytes")}
    assert str(generated["SequenceNumber"]).isdigit()
    assert int(generated["SizeBytes"]) > 0
    kept = {k: v for k, v in record.items() if k not in ("eventID", "awsRegion", "eventSourceARN", "dynamodb")}
    return {**kept, "dynamodb": dynamodb, "fields": sorted(record)}


def dynamodb_local_records(server: Server) -> list[dict[str, Any]]:
    table = new_dynamo_table(server)
    writes(table)
    session = boto3.session.Session(
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key, region_name=REGION
    )
    client = session.client("dynamodb", endpoint_url=server.endpoint)
    streams = session.client("dynamodbstreams", endpoint_url=server.endpoint)
    arn = client.describe_table(TableName=table.table_name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    answer = streams.get_records(ShardIterator=iterator["ShardIterator"])
    # GetRecords has no eventSourceARN (Lambda adds it); boto3 parses numbers and times: back to JSON
    raw = json.loads(json.dumps(answer["Records"], default=lambda v: str(v) if isinstance(v, Decimal) else 0))
    return [{**record, "eventSourceARN": arn} for record in raw]


def test_local_stream_records_are_dynamodb_streams_records(dynamodb_local: Server, tmp_path: Path) -> None:
    # GIVEN the same writes on DynamoDB Local and on the SQLite table
    expected = dynamodb_local_records(dynamodb_local)
    writes(SqliteTable(tmp_path, region=REGION))
    actual = [record.record for record in SqliteStream(tmp_path).read(0, 100)]
    # THEN the two streams hold the same records
    assert [r["eventName"] for r in expected] == ["INSERT", "MODIFY", "REMOVE"]
    assert [comparable(r) for r in actual] == [comparable(r) for r in expected]
    # AND their sizes follow DynamoDB's item-size rules as DynamoDB Local counts them
    assert [r["dynamodb"]["SizeBytes"] for r in actual] == [int(r["dynamodb"]["SizeBytes"]) for r in expected]
