"""The emulator's sweeper: expired PENDING files go as DynamoDB's TTL deletes them, objects and multipart
uploads included; and resuming an upload pushes its expiry forward."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lambdashare.adapters.local.event_queue import SqliteEventQueue
from lambdashare.adapters.local.file_blob_store import FileBlobStore
from lambdashare.adapters.local.sqlite_stream import SqliteStream
from lambdashare.adapters.local.sqlite_table import SqliteTable
from lambdashare.domain.errors import BlobNotFoundError, NoSuchUpload, ValidationError
from lambdashare.domain.files import expiry, object_key, request_upload
from lambdashare.domain.identity import Principal
from lambdashare.domain.model import FileRecord, FileStatus, aws_datetime
from lambdashare.domain.multipart import MIN_PART, resume_upload
from lambdashare.emulator.dispatcher import Dispatcher
from lambdashare.emulator.runtime import TEMPLATE_PATH
from lambdashare.emulator.sweeper import (
    BATCH,
    FAILURE_RETENTION_S,
    Sweeper,
    abort_stale_multipart,
    expire_pending,
    settle_staged_events,
    trim_stream,
)
from lambdashare.emulator.template import multipart_abort_after_s

NOW = 1_800_000_000


@pytest.fixture
def table(tmp_path: Path) -> SqliteTable:
    return SqliteTable(tmp_path)


@pytest.fixture
def blobs(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path, bucket="local", public_url="http://127.0.0.1:1", secret="s")


def put_file(table: SqliteTable, *, ttl: int | None, status: FileStatus = FileStatus.PENDING) -> FileRecord:
    file_id = str(uuid.uuid4())
    record = FileRecord(
        id=file_id, name="f", size=3, key=object_key(file_id), created_at=aws_datetime(), status=status, ttl=ttl
    )
    table.put_item(record.to_item())
    return record


def test_only_pending_files_past_their_ttl_are_swept(table: SqliteTable, blobs: FileBlobStore) -> None:
    # GIVEN PENDING files expired and not yet, one expiring this very second, and files whose bytes came
    expired = put_file(table, ttl=NOW - 1)
    due_now = put_file(table, ttl=NOW)
    later = put_file(table, ttl=NOW + 1)
    hashing = put_file(table, ttl=None, status=FileStatus.HASHING)
    hashed_with_old_ttl = put_file(table, ttl=NOW - 100, status=FileStatus.HASHED)
    # AND an object stored for the expired one (bytes that came after all, unhashed)
    writer = blobs.open_writer(expired.key, 3)
    writer.write(b"abc")
    writer.commit()

    # WHEN the sweep runs at NOW
    removed = expire_pending(table, blobs, clock=lambda: NOW)()

    # THEN only the PENDING file whose ttl is in the past is gone, with its object (DynamoDB's TTL
    # deletes items whose ttl is before now)
    assert removed == 1
    assert table.get_item(expired.id) is None
    with pytest.raises(BlobNotFoundError):
        blobs.pieces(expired.key)
    for kept in (due_now, later, hashing, hashed_with_old_ttl):
        assert table.get_item(kept.id) is not None


def test_a_backlog_larger_than_a_batch_is_swept_in_one_run(table: SqliteTable, blobs: FileBlobStore) -> None:
    # GIVEN more expired PENDING files than one statement deletes
    ids = [put_file(table, ttl=NOW - 10).id for _ in range(BATCH + 5)]
    # WHEN the sweep runs once
    removed = expire_pending(table, blobs, clock=lambda: NOW)()
    # THEN every one is gone
    assert removed == BATCH + 5
    assert all(table.get_item(i) is None for i in ids)


def test_a_failing_sweep_is_reported_and_the_others_still_run() -> None:
    # GIVEN two sweeps, the first of which fails
    def broken() -> int:
        raise OSError("disk gone")

    sweeper = Sweeper({"broken": broken, "fine": lambda: 2}, interval_s=60)
    # WHEN the sweeper runs them once
    removed = asyncio.run(sweeper.sweep_once())
    # THEN the failure is reported as -1 and the second sweep ran
    assert removed == {"broken": -1, "fine": 2}


def test_a_requested_upload_expires_after_its_url_and_the_grace_period(
    table: SqliteTable, blobs: FileBlobStore
) -> None:
    # GIVEN / WHEN an upload is requested with a 900 s URL and a 3600 s grace period
    ticket = request_upload(
        table,
        blobs,
        name="a.bin",
        size=10,
        content_type=None,
        sha256=None,
        owner=None,
        expires_in=900,
        max_size=100,
        pending_grace=3600,
    )
    item = table.get_item(ticket["file"]["id"])
    # THEN its ttl is its creation (epoch seconds) + 900 + 3600
    assert item is not None
    created = int(datetime.fromisoformat(item["created_at"]).timestamp())
    assert item["ttl"] == created + 900 + 3600


def test_a_file_over_the_deployments_limit_is_refused_naming_it(table: SqliteTable, blobs: FileBlobStore) -> None:
    # GIVEN / WHEN / THEN a file one byte over the limit is refused, saying why the limit exists
    with pytest.raises(ValidationError, match=r"^size must be at most 100 bytes: this deployment's limit"):
        request_upload(
            table,
            blobs,
            name="a.bin",
            size=101,
            content_type=None,
            sha256=None,
            owner=None,
            expires_in=900,
            max_size=100,
            pending_grace=3600,
        )


def test_the_multipart_sweep_aborts_uploads_older_than_the_buckets_lifecycle_rule(blobs: FileBlobStore) -> None:
    # GIVEN the template's lifecycle rule (IncompleteUploadDays) and an upload started just now
    older_than_s = multipart_abort_after_s(TEMPLATE_PATH)
    assert older_than_s == 7 * 86400  # the template's IncompleteUploadDays default
    key = object_key(str(uuid.uuid4()))
    upload_id = blobs.create_multipart(key, content_type=None)
    # WHEN the sweep runs THEN a fresh upload stays
    assert abort_stale_multipart(blobs, older_than_s)() == 0
    assert blobs.list_parts(key, upload_id) == []
    # AND once it is older than the rule allows, it is aborted, as S3's lifecycle rule would
    assert abort_stale_multipart(blobs, -1)() == 1
    with pytest.raises(NoSuchUpload):
        blobs.list_parts(key, upload_id)


class RecordingFunction:
    name = "Hasher"

    def __init__(self) -> None:
        self.events: list[Any] = []

    async def invoke(self, event: Any) -> Any:
        self.events.append(event)


def test_the_staged_events_sweep_delivers_a_published_objects_notification_and_drops_an_unpublished_one(
    tmp_path: Path, blobs: FileBlobStore
) -> None:
    # GIVEN notifications a previous run staged: one for an object it published, one for an object it did not
    crashed = SqliteEventQueue(tmp_path)
    crashed.stage(["Hasher"], {"published": True}, "uploads/published")
    crashed.stage(["Hasher"], {"published": False}, "uploads/never")
    writer = blobs.open_writer("uploads/published", 3)
    writer.write(b"abc")
    writer.commit()
    hasher = RecordingFunction()
    queue = SqliteEventQueue(tmp_path)
    dispatcher = Dispatcher(queue, {"Hasher": hasher})

    async def sweep_then_drain() -> dict[str, int]:
        settled: dict[str, int] = await Sweeper(
            {"staged-events": settle_staged_events(dispatcher, blobs)}, 60
        ).sweep_once()
        while dispatcher.in_flight:
            await asyncio.sleep(0.01)
        return settled

    # WHEN the sweep runs
    settled = asyncio.run(sweep_then_drain())

    # THEN the published object's notification is delivered and done, the other is gone
    assert settled == {"staged-events": 2}
    assert hasher.events == [{"published": True}]
    assert queue.pending() == [] and queue.settle(lambda key: True) == ([], 0)


def request_multipart(table: SqliteTable, blobs: FileBlobStore) -> str:
    ticket = request_upload(
        table,
        blobs,
        name="big.bin",
        size=2 * MIN_PART,
        content_type=None,
        sha256=None,
        owner=None,
        expires_in=900,
        max_size=10 * MIN_PART,
        pending_grace=3600,
        part_size=MIN_PART,
    )
    return str(ticket["file"]["id"])


def test_an_expired_multipart_file_is_swept_with_its_upload(table: SqliteTable, blobs: FileBlobStore) -> None:
    # GIVEN a multipart upload whose PENDING file has expired, and one whose upload is already gone
    file_id, gone_id = request_multipart(table, blobs), request_multipart(table, blobs)
    item, gone = table.get_item(file_id), table.get_item(gone_id)
    assert item is not None and gone is not None
    blobs.abort_multipart(gone["key"], gone["upload_id"])
    # WHEN the sweep runs after their ttl
    removed = expire_pending(table, blobs, clock=lambda: item["ttl"] + 1)()
    # THEN both files are gone, and so is the upload: its parts are not kept until the lifecycle rule
    assert removed == 2
    assert table.get_item(file_id) is None and table.get_item(gone_id) is None
    with pytest.raises(NoSuchUpload):
        blobs.list_parts(item["key"], item["upload_id"])


def test_resuming_an_upload_moves_its_expiry_past_the_new_urls(table: SqliteTable, blobs: FileBlobStore) -> None:
    # GIVEN a multipart upload whose file's ttl is already past (its first URLs expired long ago)
    file_id = request_multipart(table, blobs)
    table.update_item(file_id, {"ttl": NOW - 1}, status_in=[FileStatus.PENDING.value])
    # WHEN it is resumed with 900 s URLs and a 3600 s grace period
    before = int(time.time())
    resume_upload(table, blobs, file_id, Principal(None), 900, expiry(900), pending_grace=3600)
    after = int(time.time())
    # THEN its ttl is the new URLs' expiry plus the grace period, so a sweep now leaves it be
    item = table.get_item(file_id)
    assert item is not None
    assert before + 900 + 3600 <= item["ttl"] <= after + 900 + 3600
    assert expire_pending(table, blobs, clock=lambda: after + 900)() == 0
    assert table.get_item(file_id) is not None


def test_the_on_failure_destination_keeps_messages_as_long_as_the_failure_queue(tmp_path: Path) -> None:
    # GIVEN a message the stream mapping sent to its on-failure destination
    stream = SqliteStream(tmp_path)
    stream.put_failure(
        "AnalyticsFunction.AnalyticsTableStream", {"requestContext": {"condition": "RetryAttemptsExhausted"}}
    )
    sent = time.time()
    # WHEN the sweep runs within the queue's retention, and after it
    assert trim_stream(stream, [], clock=lambda: sent + FAILURE_RETENTION_S - 60)() == 0
    kept = stream.failures("AnalyticsFunction.AnalyticsTableStream")
    removed = trim_stream(stream, [], clock=lambda: sent + FAILURE_RETENTION_S + 60)()
    # THEN it is kept 14 days, as SQS keeps it, and then goes
    assert len(kept) == 1 and removed == 1
    assert stream.failures("AnalyticsFunction.AnalyticsTableStream") == []
