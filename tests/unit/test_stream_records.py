"""The SQLite table's stream: every change to an item appends its DynamoDB Streams record in the write's
transaction, shaped as Lambda receives it, with the item as the DynamoDB adapter stores it."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecordEventName,
    DynamoDBStreamEvent,
)

from lambdashare.adapters.dynamo_item import item_in
from lambdashare.adapters.local.sqlite_stream import SqliteStream, StreamRecord
from lambdashare.adapters.local.sqlite_table import SqliteTable
from lambdashare.domain.errors import ConditionFailedError, ItemExistsError
from lambdashare.domain.model import FileRecord, FileStatus, aws_datetime

NOW = 1_800_000_000.5


@pytest.fixture
def table(tmp_path: Path) -> SqliteTable:
    return SqliteTable(tmp_path, table_name="files", region="eu-west-1", clock=lambda: NOW)


@pytest.fixture
def stream(tmp_path: Path, table: SqliteTable) -> SqliteStream:
    return SqliteStream(tmp_path)


def new_item(owner: str | None = None, ttl: int | None = None) -> dict[str, Any]:
    file_id = str(uuid.uuid4())
    record = FileRecord(
        id=file_id,
        name="a.txt",
        size=6,
        key=f"uploads/{file_id}",
        created_at=aws_datetime(),
        status=FileStatus.PENDING,
        owner=owner,
        ttl=ttl,
    )
    return record.to_item()


def records(stream: SqliteStream) -> list[dict[str, Any]]:
    return [r.record for r in stream.read(0, 1000)]


def test_insert_modify_remove_carry_the_items_as_dynamodb_stores_them(table: SqliteTable, stream: SqliteStream) -> None:
    # GIVEN an item put, updated and deleted
    item = new_item(owner="alice")
    table.put_item(item)
    hashed = table.update_item(
        item["id"], {"status": "HASHED", "hashes": {"sha256": "ab" * 32}, "ttl": None}, status_in=["PENDING"]
    )
    table.delete_item(item["id"])
    # WHEN the stream is read
    insert, modify, remove = records(stream)
    # THEN each record is DynamoDB's, in commit order, with the images of the aws adapter's stored item
    arn = re.fullmatch(
        r"arn:aws:dynamodb:eu-west-1:000000000000:table/files/stream/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}",
        insert["eventSourceARN"],
    )
    assert arn is not None
    for record, name in ((insert, "INSERT"), (modify, "MODIFY"), (remove, "REMOVE")):
        assert record["eventName"] == name
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "eu-west-1"
        assert record["eventSourceARN"] == insert["eventSourceARN"]
        assert re.fullmatch(r"[0-9a-f]{32}", record["eventID"])
        assert record["dynamodb"]["Keys"] == {"id": {"S": item["id"]}}
        assert record["dynamodb"]["ApproximateCreationDateTime"] == int(NOW)
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert record["dynamodb"]["SizeBytes"] > 0
        assert "userIdentity" not in record
    assert insert["dynamodb"]["NewImage"] == item_in(item) and "OldImage" not in insert["dynamodb"]
    assert modify["dynamodb"]["OldImage"] == item_in(item) and modify["dynamodb"]["NewImage"] == item_in(hashed)
    assert remove["dynamodb"]["OldImage"] == item_in(hashed) and "NewImage" not in remove["dynamodb"]
    # AND the derived key attributes are there, as DynamoDB streams them
    assert modify["dynamodb"]["NewImage"]["ownerKey"] == {"S": "alice"}
    assert modify["dynamodb"]["NewImage"]["sha256"] == {"S": "ab" * 32}
    # AND sequence numbers are numeric strings that grow
    numbers = [r["dynamodb"]["SequenceNumber"] for r in (insert, modify, remove)]
    assert all(n.isdigit() for n in numbers)
    assert [int(n) for n in numbers] == sorted(int(n) for n in numbers) and len(set(numbers)) == 3


def test_powertools_reads_the_records(table: SqliteTable, stream: SqliteStream) -> None:
    # GIVEN a put and a delete of an anonymous file
    item = new_item()
    table.put_item(item)
    table.delete_item(item["id"])
    # WHEN a handler reads the batch through Powertools' data class
    event = DynamoDBStreamEvent({"Records": records(stream)})
    insert, remove = event.records
    # THEN it sees the events, keys and images in plain values
    assert insert.event_name == DynamoDBRecordEventName.INSERT
    assert remove.event_name == DynamoDBRecordEventName.REMOVE
    assert insert.dynamodb is not None and remove.dynamodb is not None
    assert insert.dynamodb.keys == {"id": item["id"]}
    assert insert.dynamodb.new_image["ownerKey"] == "#public"
    assert insert.dynamodb.new_image["size"] == 6
    assert remove.dynamodb.old_image["id"] == item["id"]
    assert insert.dynamodb.sequence_number is not None


def test_a_write_that_changes_nothing_or_fails_has_no_record(table: SqliteTable, stream: SqliteStream) -> None:
    # GIVEN an item
    item = new_item()
    table.put_item(item)
    # WHEN an update changes nothing, a conditional update fails, the id is put again, a missing item is deleted
    table.update_item(item["id"], {"status": "PENDING"}, status_in=["PENDING"])
    with pytest.raises(ConditionFailedError):
        table.update_item(item["id"], {"status": "HASHED"}, status_in=["HASHING"])
    with pytest.raises(ItemExistsError):
        table.put_item(item)
    assert table.delete_item(str(uuid.uuid4())) is None
    # THEN only the first put is in the stream
    assert [r["eventName"] for r in records(stream)] == ["INSERT"]


def test_ttl_deletions_name_the_dynamodb_service(table: SqliteTable, stream: SqliteStream) -> None:
    # GIVEN a PENDING file past its ttl, and one deleted by a caller
    expired = new_item(ttl=int(NOW) - 10)
    deleted = new_item(ttl=int(NOW) + 1000)
    table.put_item(expired)
    table.put_item(deleted)
    table.delete_item(deleted["id"])
    # WHEN the sweeper deletes the expired one, as DynamoDB's TTL would
    assert [i["id"] for i in table.delete_expired_pending(int(NOW), 10)] == [expired["id"]]
    # THEN only its REMOVE record names the TTL service
    *_, by_caller, by_ttl = records(stream)
    assert by_caller["eventName"] == by_ttl["eventName"] == "REMOVE"
    assert "userIdentity" not in by_caller
    assert by_ttl["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert by_ttl["dynamodb"]["Keys"] == {"id": {"S": expired["id"]}}


def test_reading_pages_after_a_position_and_trimming(table: SqliteTable, stream: SqliteStream) -> None:
    # GIVEN five records
    for _ in range(5):
        table.put_item(new_item())
    first: list[StreamRecord] = stream.read(0, 2)
    rest = stream.read(first[-1].seq, 10)
    # THEN pages follow each other
    assert len(first) == 2 and len(rest) == 3 and rest[0].seq > first[-1].seq
    assert stream.last_position() == rest[-1].seq
    # WHEN trimmed: only what every named mapping passed, and only old enough records, go
    stream.save_checkpoint("a", rest[0].seq)
    stream.save_checkpoint("b", first[-1].seq)
    assert stream.trim(["a", "b", "never-started"], before=NOW + 1) == 0
    assert stream.trim(["a", "b"], before=NOW - 1) == 0
    assert stream.trim(["a", "b"], before=NOW + 1) == 2
    assert [r.seq for r in stream.read(0, 10)] == [r.seq for r in rest]


def test_the_stream_label_stays_with_the_data_dir(tmp_path: Path, table: SqliteTable) -> None:
    # GIVEN the table opened again on the same data dir
    again = SqliteTable(tmp_path, region="eu-west-1")
    # THEN its stream is the same one
    assert again.stream_arn == table.stream_arn
