"""Analytics with the aws adapters: files written through DynamoTable, their stream read back from DynamoDB Local's
own stream API, counted by the analytics function into DynamoStatsStore.

The records are DynamoDB Local's, not ours: DescribeStream, GetShardIterator and GetRecords through boto3's
`dynamodbstreams` client, with timestamps left as the wire has them (epoch seconds), as Lambda hands them on.
The function runs as in `test_aws_flow`: a process of its own per invocation, with the template's environment.
DynamoDB Local is the contract tier's (skipped with the reason where Java or npm is missing, failing under CI).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest

from lambdashare.adapters.aws import dynamo_stats_store, dynamo_table
from lambdashare.adapters.aws.dynamo_stats_store import DynamoStatsStore
from lambdashare.adapters.aws.dynamo_table import DynamoTable
from lambdashare.domain.analytics import window_stats
from lambdashare.domain.model import FileRecord, aws_datetime
from lambdashare.ports.stats_store import ALL_SPACES, PUBLIC_SPACE
from tests.contract._servers import REGION, Server
from tests.contract.conftest import dynamodb_local  # noqa: F401 (the session fixture, by name)
from tests.e2e.test_aws_flow import Backend, Credentials, Storage, function_environ, invoke

pytestmark = pytest.mark.e2e

ALICE = "alice-sub"
BOB = "bob-sub"
SHA_X = "a" * 64
SHA_Y = "b" * 64


@pytest.fixture
def storage(dynamodb_local: Server) -> Storage:  # noqa: F811
    """A files table (with its stream) and a stats table, as the template declares them."""
    credentials = Credentials(dynamodb_local.access_key, dynamodb_local.secret_key)
    client = dynamo_table.new_client(region=REGION, endpoint_url=dynamodb_local.endpoint, session=credentials.session())
    suffix = uuid.uuid4().hex[:12]
    storage = Storage(
        Backend("http://127.0.0.1:9", dynamodb_local.endpoint, credentials),
        table=f"files-{suffix}",
        bucket="unused",
        stats_table=f"stats-{suffix}",
    )
    client.create_table(**dynamo_table.table_definition(storage.table))
    client.create_table(**dynamo_stats_store.table_definition(storage.stats_table))
    for name in (storage.table, storage.stats_table):
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return storage


def stream_records(storage: Storage) -> list[dict[str, Any]]:
    """Every record of the files table's stream, oldest first, as GetRecords returns them on the wire."""
    raw = botocore.session.get_session()
    # keep ApproximateCreationDateTime a number, as it is in the JSON (boto3 would make it a datetime)
    raw.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=lambda value: value)
    credentials = storage.backend.credentials
    session = boto3.session.Session(
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        region_name=REGION,
        botocore_session=raw,
    )
    dynamodb = session.client("dynamodb", endpoint_url=storage.backend.dynamodb_endpoint)
    streams = session.client("dynamodbstreams", endpoint_url=storage.backend.dynamodb_endpoint)
    stream_arn = dynamodb.describe_table(TableName=storage.table)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        ).get("ShardIterator")
        while iterator:
            page = streams.get_records(ShardIterator=iterator)
            if not page["Records"]:
                break
            # Lambda's event carries the stream's ARN in each record; GetRecords does not
            records += [{**record, "eventSourceARN": stream_arn} for record in page["Records"]]
            iterator = page.get("NextShardIterator")
    return records


def write_files(table: DynamoTable, at: datetime) -> None:
    """Alice uploads the same content twice and abandons a third file; an anonymous file is hashed, then
    deleted; bob's fails its checksum."""

    def new(owner: str | None, size: int, content_type: str | None, created: timedelta) -> str:
        file_id = str(uuid.uuid4())
        record = FileRecord(
            id=file_id,
            name="f",
            size=size,
            key=f"uploads/{file_id}",
            created_at=aws_datetime(at + created),
            content_type=content_type,
            owner=owner,
            ttl=int(at.timestamp()) + 3600,
        )
        table.put_item(record.to_item())
        return file_id

    def upload(file_id: str, offset: timedelta) -> None:
        changes = {"status": "HASHING", "uploaded_at": aws_datetime(at + offset), "ttl": None}
        table.update_item(file_id, changes, status_in=["PENDING", "HASHING"])

    def hash_(file_id: str, offset: timedelta, sha256: str, status: str = "HASHED") -> None:
        hashes = {"md5": "1" * 32, "sha1": "2" * 40, "sha256": sha256, "sha512": "3" * 128}
        changes = {"status": status, "hashes": hashes, "hashed_at": aws_datetime(at + offset)}
        table.update_item(file_id, changes, status_in=["HASHING"])

    second = timedelta(seconds=1)
    first_copy = new(ALICE, 1000, "image/png", 0 * second)
    second_copy = new(ALICE, 1000, "image/png", 1 * second)
    abandoned = new(ALICE, 10, "image/png", 2 * second)
    anonymous = new(None, 500, "text/plain; charset=utf-8", 3 * second)
    failing = new(BOB, 300, None, 4 * second)
    upload(first_copy, 10 * second)
    hash_(first_copy, 11 * second, SHA_X)  # 1000 ms
    upload(second_copy, 12 * second)
    upload(second_copy, 13 * second)  # the S3 event came twice: not a second upload
    hash_(second_copy, 15 * second, SHA_X)  # 2000 ms, a duplicate of the first
    upload(anonymous, 10 * second)
    hash_(anonymous, 14 * second, SHA_Y)  # 4000 ms
    table.update_item(anonymous, {"published": True}, status_in=["HASHED"])
    table.delete_item(anonymous)
    upload(failing, 10 * second)
    hash_(failing, 11 * second, SHA_Y, status="FAILED")
    table.delete_item(abandoned)


def figures(store: DynamoStatsStore, space: str, today: date) -> dict[str, Any]:
    """The space's Stats over yesterday, today and tomorrow: the records' days, even across midnight."""
    answer = window_stats(store, space, 3, today + timedelta(days=1))
    del answer["days"]
    return answer


@pytest.fixture
def stats_store(storage: Storage) -> DynamoStatsStore:
    client = dynamo_table.new_client(
        region=REGION, endpoint_url=storage.backend.dynamodb_endpoint, session=storage.backend.credentials.session()
    )
    return DynamoStatsStore(storage.stats_table, client=client)


async def test_the_stream_of_dynamodb_local_is_counted_once_by_the_analytics_function(
    storage: Storage, stats_store: DynamoStatsStore, tmp_path: Path
) -> None:
    # GIVEN files written through the aws table adapter, a minute ago, and the stream records that made
    at = datetime.now(UTC) - timedelta(minutes=1)
    client = dynamo_table.new_client(
        region=REGION, endpoint_url=storage.backend.dynamodb_endpoint, session=storage.backend.credentials.session()
    )
    write_files(DynamoTable(storage.table, client=client), at)
    records = await asyncio.to_thread(stream_records, storage)
    assert len(records) == 5 + 10 + 2  # puts, updates, deletes
    batch = {"Records": records}
    environ = function_environ(storage, tmp_path)

    # WHEN the analytics function gets them as one batch
    answer = await asyncio.to_thread(invoke, "analytics", batch, environ)

    # THEN no record failed, and each space has its figures
    assert answer == {"batchItemFailures": []}
    today = at.date()
    alice = figures(stats_store, ALICE, today)
    assert alice == {
        "uploads": 3 - 1,  # the abandoned file's bytes never came
        "bytes": 2000,
        "hashed": 2,
        "failed": 0,
        "duplicates": 1,
        "deleted": 0,
        "hashedBytes": 2000,
        "latency": {"p50": 1024.0, "p95": 2048.0, "p99": 2048.0},  # 1000 ms and 2000 ms: buckets 40 and 44
        "throughput": pytest.approx(2000 * 1000 / 3000),
        "contentTypes": [{"contentType": "image/png", "uploads": 2, "bytes": 2000}],
    }
    anonymous = figures(stats_store, PUBLIC_SPACE, today)
    assert (anonymous["uploads"], anonymous["hashed"], anonymous["deleted"], anonymous["duplicates"]) == (1, 1, 1, 0)
    assert anonymous["contentTypes"] == [{"contentType": "text/plain", "uploads": 1, "bytes": 500}]
    bob = figures(stats_store, BOB, today)
    assert (bob["uploads"], bob["bytes"], bob["hashed"], bob["failed"]) == (1, 300, 0, 1)
    assert bob["contentTypes"] == [{"contentType": "other", "uploads": 1, "bytes": 300}]
    everyone = figures(stats_store, ALL_SPACES, today)
    assert {name: everyone[name] for name in ("uploads", "bytes", "hashed", "failed", "duplicates", "deleted")} == {
        "uploads": 4,
        "bytes": 2800,
        "hashed": 3,
        "failed": 1,
        "duplicates": 1,
        "deleted": 1,
    }
    abandoned = sum(
        counters.get("abandoned", 0)
        for day in (today - timedelta(days=1), today, today + timedelta(days=1))
        for counters in [stats_store.day_spaces(day.isoformat()).get(ALICE, {})]
    )
    assert abandoned == 1

    # WHEN the same batch is delivered again
    again = await asyncio.to_thread(invoke, "analytics", batch, environ)

    # THEN nothing changes
    assert again == {"batchItemFailures": []}
    assert figures(stats_store, ALICE, today) == alice
    assert figures(stats_store, ALL_SPACES, today) == everyone
