"""Unit tests for `lambdashare.domain.hash_file` and the hasher's handler, on the local adapters in tmp_path.

S3 delivers notifications at least once, so everything here is about doing the work once: one final
state, one publish, whatever the number of deliveries.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from lambdashare.adapters.local.file_blob_store import FileBlobStore
from lambdashare.adapters.local.sqlite_table import SqliteTable
from lambdashare.backends import ports_from_env
from lambdashare.domain.errors import BlobNotFoundError, PublishError
from lambdashare.domain.files import files_by_hash, object_key
from lambdashare.domain.hash_file import Outcome, hash_object
from lambdashare.domain.hashing import CHUNK_SIZE
from lambdashare.domain.identity import Principal
from lambdashare.domain.model import ALGORITHMS, FileRecord, aws_datetime
from lambdashare.emulator.events import s3_object_created
from lambdashare.emulator.lambda_runtime import LambdaContext

SECRET = "unit-test-secret"
UPLOADED_AT = "2024-05-01T12:00:00.000Z"


class RecordingPublisher:
    """Records every file it is asked to publish (final states and progress, in one ordered list of
    events); fails the first `failures` final publishes, and every progress publish if `progress_fails`."""

    def __init__(self, failures: int = 0, *, progress_fails: bool = False) -> None:
        self.published: list[dict[str, Any]] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.attempts = 0
        self._failures = failures
        self._progress_fails = progress_fails

    def publish(self, file: Mapping[str, Any]) -> None:
        self.attempts += 1
        if self.attempts <= self._failures:
            raise PublishError("AppSync unreachable: connection refused")
        self.published.append(dict(file))
        self.events.append(("hashed", dict(file)))

    def publish_progress(self, progress: Mapping[str, Any]) -> None:
        if self._progress_fails:
            raise PublishError("AppSync unreachable: connection refused")
        self.events.append(("progress", dict(progress)))


@pytest.fixture
def table(tmp_path: Path) -> SqliteTable:
    return SqliteTable(tmp_path)


@pytest.fixture
def blobs(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path, bucket="local", public_url="http://127.0.0.1:1", secret=SECRET)


def pending_file(table: SqliteTable, *, size: int, sha256: str | None = None) -> FileRecord:
    file_id = str(uuid.uuid4())
    record = FileRecord(
        id=file_id,
        name="data.bin",
        size=size,
        key=object_key(file_id),
        created_at=aws_datetime(),
        expected_sha256=sha256,
    )
    table.put_item(record.to_item())
    return record


def store(blobs: FileBlobStore, key: str, body: bytes) -> None:
    writer = blobs.open_writer(key, len(body))
    writer.write(body)
    writer.commit()


def digests(body: bytes) -> dict[str, str]:
    return {name: hashlib.new(name, body).hexdigest() for name in ALGORITHMS}


def test_duplicate_delivery_publishes_once_and_changes_nothing(table: SqliteTable, blobs: FileBlobStore) -> None:
    # GIVEN an uploaded object for a pending file
    body = b"lambdashare" * 1000
    record = pending_file(table, size=len(body))
    store(blobs, record.key, body)
    publisher = RecordingPublisher()

    # WHEN its ObjectCreated event is delivered twice
    first = hash_object(table, blobs, publisher, bucket=blobs.bucket, key=record.key, uploaded_at=UPLOADED_AT)
    after_first = table.get_item(record.id)
    second = hash_object(
        table, blobs, publisher, bucket=blobs.bucket, key=record.key, uploaded_at="2024-05-01T12:00:09.000Z"
    )

    # THEN the first delivery hashes and publishes, the second is a no-op
    assert first == Outcome(record.id, "HASHED")
    assert second == Outcome(record.id, "duplicate")
    assert len(publisher.published) == 1
    assert publisher.published[0]["status"] == "HASHED"
    assert publisher.published[0]["hashes"] == digests(body)
    # AND the stored item is the same after both
    final = table.get_item(record.id)
    assert final == after_first
    assert final is not None
    assert final["status"] == "HASHED" and final["uploaded_at"] == UPLOADED_AT and final["published"] is True


def test_progress_is_published_while_hashing_and_before_the_final_state(
    table: SqliteTable, blobs: FileBlobStore
) -> None:
    # GIVEN an object of several chunks, and progress due every chunk (no minimum interval to speak of)
    body = bytes(range(256)) * (4 * CHUNK_SIZE // 256) + b"tail"
    record = pending_file(table, size=len(body))
    store(blobs, record.key, body)
    publisher = RecordingPublisher()

    # WHEN it is hashed
    hash_object(
        table,
        blobs,
        publisher,
        bucket=blobs.bucket,
        key=record.key,
        uploaded_at=UPLOADED_AT,
        progress_step=CHUNK_SIZE,
        progress_interval_s=1e-9,
    )

    # THEN progress events came first, growing, each naming the file, its size and owner; the final state last
    kinds = [kind for kind, _ in publisher.events]
    assert kinds[-1] == "hashed" and kinds.count("hashed") == 1
    progress = [event for kind, event in publisher.events if kind == "progress"]
    assert progress, "no progress was published"
    assert all(p["id"] == record.id and p["size"] == len(body) and p["owner"] is None for p in progress)
    hashed = [p["hashedBytes"] for p in progress]
    assert hashed == sorted(set(hashed)) and 0 < hashed[-1] <= len(body)


def test_a_failing_progress_publish_does_not_fail_the_hash(table: SqliteTable, blobs: FileBlobStore) -> None:
    # GIVEN an object of several chunks and a publisher whose progress publishes all fail
    body = b"\x07" * (3 * CHUNK_SIZE)
    record = pending_file(table, size=len(body))
    store(blobs, record.key, body)
    publisher = RecordingPublisher(progress_fails=True)

    # WHEN it is hashed with progress due every chunk
    outcome = hash_object(
        table,
        blobs,
        publisher,
        bucket=blobs.bucket,
        key=record.key,
        uploaded_at=UPLOADED_AT,
        progress_step=CHUNK_SIZE,
        progress_interval_s=1e-9,
    )

    # THEN the file is HASHED and its final state published all the same
    assert outcome == Outcome(record.id, "HASHED")
    assert [p["hashes"] for p in publisher.published] == [digests(body)]


def test_vanished_object_ends_failed_with_a_readable_error(table: SqliteTable, blobs: FileBlobStore) -> None:
    # GIVEN a pending file whose object is not (or no longer) in storage
    record = pending_file(table, size=10)
    publisher = RecordingPublisher()

    # WHEN its event is delivered
    outcome = hash_object(table, blobs, publisher, bucket=blobs.bucket, key=record.key, uploaded_at=UPLOADED_AT)

    # THEN the file is FAILED with an error a person can read, and that is published once
    assert outcome == Outcome(record.id, "FAILED")
    item = table.get_item(record.id)
    assert item is not None
    assert item["status"] == "FAILED"
    assert item["error"] == "The uploaded object is no longer in storage."
    assert [p["status"] for p in publisher.published] == ["FAILED"]
    assert publisher.published[0]["error"] == item["error"]


def test_publish_that_fails_is_retried_by_redelivery_and_publishes_once(
    table: SqliteTable, blobs: FileBlobStore
) -> None:
    # GIVEN an uploaded object, and a publisher that fails the first time
    body = b"\x00\x01" * 5000
    record = pending_file(table, size=len(body))
    store(blobs, record.key, body)
    publisher = RecordingPublisher(failures=1)

    # WHEN the event is delivered, fails on publish, and is delivered again (twice)
    with pytest.raises(PublishError):
        hash_object(table, blobs, publisher, bucket=blobs.bucket, key=record.key, uploaded_at=UPLOADED_AT)
    hashed_before_retry = table.get_item(record.id)
    retried = hash_object(table, blobs, publisher, bucket=blobs.bucket, key=record.key, uploaded_at=UPLOADED_AT)
    again = hash_object(table, blobs, publisher, bucket=blobs.bucket, key=record.key, uploaded_at=UPLOADED_AT)

    # THEN the hashes were written by the first delivery and kept, and exactly one publish went out
    assert hashed_before_retry is not None
    assert hashed_before_retry["status"] == "HASHED" and hashed_before_retry["published"] is False
    assert retried == again == Outcome(record.id, "duplicate")
    assert publisher.attempts == 2
    assert len(publisher.published) == 1
    assert publisher.published[0]["hashes"] == digests(body)
    final = table.get_item(record.id)
    assert final == {**hashed_before_retry, "published": True}


def test_sha256_mismatch_ends_failed_naming_both_hashes(table: SqliteTable, blobs: FileBlobStore) -> None:
    # GIVEN a file announced with one sha256 whose object holds other bytes
    body = b"actual bytes"
    announced = hashlib.sha256(b"announced bytes").hexdigest()
    record = pending_file(table, size=len(body), sha256=announced)
    store(blobs, record.key, body)
    publisher = RecordingPublisher()

    # WHEN its event is delivered
    outcome = hash_object(table, blobs, publisher, bucket=blobs.bucket, key=record.key, uploaded_at=UPLOADED_AT)

    # THEN it is FAILED, the error names both hashes, and it is not found by either
    assert outcome == Outcome(record.id, "FAILED")
    item = table.get_item(record.id)
    assert item is not None and item["status"] == "FAILED"
    assert announced in item["error"] and hashlib.sha256(body).hexdigest() in item["error"]
    assert files_by_hash(table, announced, Principal(None, admin=True)) == []
    assert files_by_hash(table, hashlib.sha256(body).hexdigest(), Principal(None, admin=True)) == []
    assert len(publisher.published) == 1


def test_object_whose_file_record_is_gone_is_deleted_not_hashed(table: SqliteTable, blobs: FileBlobStore) -> None:
    # GIVEN an object stored for a file whose record was deleted (deleteFile, or a PENDING file that expired)
    body = b"nobody will ever see these hashes"
    record = pending_file(table, size=len(body))
    table.delete_item(record.id)
    store(blobs, record.key, body)
    publisher = RecordingPublisher()

    # WHEN its event is delivered
    outcome = hash_object(table, blobs, publisher, bucket=blobs.bucket, key=record.key, uploaded_at=UPLOADED_AT)

    # THEN the object is deleted, nothing is hashed or published, and no record comes back
    assert outcome == Outcome(record.id, "orphan-deleted")
    with pytest.raises(BlobNotFoundError):
        list(blobs.open_chunks(record.key, 1024))
    assert publisher.published == []
    assert table.get_item(record.id) is None


def test_bytes_arriving_clear_the_pending_expiry(table: SqliteTable, blobs: FileBlobStore) -> None:
    # GIVEN a PENDING file that expires at some instant, and its stored object
    body = b"arrived in time"
    record = pending_file(table, size=len(body))
    table.update_item(record.id, {"ttl": 2_000_000_000}, status_in={"PENDING"})
    store(blobs, record.key, body)

    # WHEN its event is delivered
    hash_object(table, blobs, RecordingPublisher(), bucket=blobs.bucket, key=record.key, uploaded_at=UPLOADED_AT)

    # THEN the file no longer expires
    item = table.get_item(record.id)
    assert item is not None and item["status"] == "HASHED" and item["ttl"] is None


def test_hashing_past_the_deadline_ends_failed_and_says_so(table: SqliteTable, blobs: FileBlobStore) -> None:
    # GIVEN a stored object of several chunks, and a deadline that has already passed (a tiny time budget)
    body = b"x" * (2 * CHUNK_SIZE + 1)
    record = pending_file(table, size=len(body))
    store(blobs, record.key, body)
    publisher = RecordingPublisher()

    # WHEN its event is delivered with that deadline
    outcome = hash_object(
        table,
        blobs,
        publisher,
        bucket=blobs.bucket,
        key=record.key,
        uploaded_at=UPLOADED_AT,
        deadline=time.monotonic() - 1,
    )

    # THEN the hasher stops reading instead of being killed: FAILED, with an error naming the time limit, published
    assert outcome == Outcome(record.id, "FAILED")
    item = table.get_item(record.id)
    assert item is not None and item["status"] == "FAILED" and item["hashes"] is None
    assert item["error"] == f"Hashing stopped after 0 of {len(body)} bytes: the hasher's time limit was reached."
    assert [(p["status"], p["error"]) for p in publisher.published] == [("FAILED", item["error"])]


def test_handler_stops_hashing_within_the_time_lambda_gives_it(
    hasher: tuple[Any, RecordingPublisher], table: SqliteTable, blobs: FileBlobStore
) -> None:
    # GIVEN a stored object, and an invocation whose context has no time left
    app, publisher = hasher
    body = b"y" * (CHUNK_SIZE + 1)
    record = pending_file(table, size=len(body))
    store(blobs, record.key, body)
    event = s3_object_created(bucket="local", key=record.key, size=len(body), etag="0" * 32, region="us-east-1")

    # WHEN the handler is invoked with a zero-second budget
    result = app.handler(event, LambdaContext(function_name="HasherFunction", timeout_s=0))

    # THEN the file is FAILED (not left HASHING by a killed invocation), and that is published
    assert result == {"outcomes": [{"fileId": record.id, "status": "FAILED"}]}
    item = table.get_item(record.id)
    assert item is not None and "time limit" in item["error"]
    assert [p["status"] for p in publisher.published] == ["FAILED"]


# --- through the Lambda handler, with S3's event shape ------------------------------------------------


@pytest.fixture
def hasher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, RecordingPublisher]]:
    """`functions.hasher.app`, cold-started on the local backend in tmp_path, publishing to a recorder."""
    for name, value in {
        "LAMBDASHARE_BACKEND": "local",
        "LAMBDASHARE_DATA_DIR": str(tmp_path),
        "LAMBDASHARE_SECRET": SECRET,
        "POWERTOOLS_SERVICE_NAME": "lambdashare",
        "POWERTOOLS_METRICS_NAMESPACE": "lambdashare",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    ports_from_env.cache_clear()
    from functions.hasher import app

    publisher = RecordingPublisher()
    monkeypatch.setattr(app, "_publisher", lambda: publisher)
    try:
        yield app, publisher
    finally:
        ports_from_env.cache_clear()


def test_handler_decodes_s3_keys_and_hashes_the_object(
    hasher: tuple[Any, RecordingPublisher],
    table: SqliteTable,
    blobs: FileBlobStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an uploaded file, and an S3 event with two records: its key, and a key S3 form-encodes
    app, publisher = hasher
    body = b"hello world" * 100
    record = pending_file(table, size=len(body))
    store(blobs, record.key, body)
    odd_key = "uploads/my file+v2 (1).bin"
    events = [
        s3_object_created(bucket="local", key=key, size=len(body), etag="0" * 32, region="us-east-1")
        for key in (odd_key, record.key)
    ]
    event = {"Records": [r for e in events for r in e["Records"]]}
    assert event["Records"][0]["s3"]["object"]["key"] == "uploads/my+file%2Bv2+%281%29.bin"
    seen_keys: list[str] = []

    def spy(*args: Any, key: str, **kwargs: Any) -> Outcome:
        seen_keys.append(key)
        return hash_object(*args, key=key, **kwargs)

    monkeypatch.setattr(app, "hash_object", spy)

    # WHEN the handler is invoked with it, as Lambda would
    result = app.handler(event, LambdaContext(function_name="HasherFunction"))

    # THEN the keys reach the domain decoded ('+' is a space, %2B a plus)
    assert seen_keys == [odd_key, record.key]
    # AND the odd key is ignored, the file is hashed and published once
    assert result == {
        "outcomes": [{"fileId": None, "status": "unknown-key"}, {"fileId": record.id, "status": "HASHED"}]
    }
    item = table.get_item(record.id)
    assert item is not None and item["hashes"] == digests(body)
    assert [p["id"] for p in publisher.published] == [record.id]


def test_handler_skips_records_of_another_bucket(
    hasher: tuple[Any, RecordingPublisher], table: SqliteTable, blobs: FileBlobStore
) -> None:
    # GIVEN a pending file whose object is stored, and an S3 record naming its key in another bucket
    app, publisher = hasher
    body = b"not from our bucket"
    record = pending_file(table, size=len(body))
    store(blobs, record.key, body)
    event = s3_object_created(bucket="someone-else", key=record.key, size=len(body), etag="0" * 32, region="us-east-1")

    # WHEN the handler is invoked with it
    result = app.handler(event, LambdaContext(function_name="HasherFunction"))

    # THEN the record is skipped, saying why: the file stays PENDING and nothing is published
    assert result == {"outcomes": [{"fileId": None, "status": "other-bucket"}]}
    item = table.get_item(record.id)
    assert item is not None and item["status"] == "PENDING"
    assert publisher.published == []


def test_handler_ignores_s3_test_event(hasher: tuple[Any, RecordingPublisher]) -> None:
    # GIVEN the s3:TestEvent S3 sends when a notification is configured
    app, publisher = hasher
    event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": UPLOADED_AT, "Bucket": "local"}

    # WHEN the handler is invoked with it
    result = app.handler(event, LambdaContext(function_name="HasherFunction"))

    # THEN nothing is done
    assert result == {"outcomes": []}
    assert publisher.published == []
