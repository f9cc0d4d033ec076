"""The hasher's rules: take an uploaded object to HASHED (or FAILED) exactly once, then publish;
delete an object whose file record is gone.

Idempotent under S3's at-least-once delivery: every state change is a conditional update, and
only the delivery that moves the file to a final state publishes. Not responsible for reading
the event: `functions/hasher` unpacks S3 records and calls `hash_object`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lambdashare.domain.errors import BlobNotFoundError, ConditionFailedError
from lambdashare.domain.files import file_id_of_key
from lambdashare.domain.hashing import CHUNK_SIZE, hash_chunks
from lambdashare.domain.model import FINAL, HASHABLE, FileRecord, FileStatus, aws_datetime
from lambdashare.domain.progress import MIN_INTERVAL_S, PROGRESS_STEP, ProgressReporter, ProgressThrottle
from lambdashare.domain.read_ahead import read_ahead
from lambdashare.ports.blob_store import BlobStore
from lambdashare.ports.publisher import Publisher
from lambdashare.ports.table import Table

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    file_id: str | None
    #: HASHED, FAILED, "orphan-deleted" (no file record: the object was deleted), or why nothing was
    #: done: "other-bucket", "unknown-key", "duplicate"
    status: str


class _OutOfTime(Exception):
    def __init__(self, hashed: int) -> None:
        super().__init__(hashed)
        self.hashed = hashed


def hash_object(
    table: Table,
    blobs: BlobStore,
    publisher: Publisher,
    *,
    bucket: str,
    key: str,
    uploaded_at: str,
    deadline: float | None = None,
    progress_step: int = PROGRESS_STEP,
    progress_interval_s: float = MIN_INTERVAL_S,
) -> Outcome:
    """`deadline` (a `time.monotonic()` instant) is when hashing must stop so the file can still be
    marked FAILED and published before the invocation is killed; None: no limit."""
    if bucket != blobs.bucket:
        # another bucket's notification pointed at this function: its keys may name our files' ids,
        # but its bytes are not the ones our upload URLs wrote
        logger.warning("ignoring an object of another bucket", extra={"bucket": bucket, "key": key})
        return Outcome(None, "other-bucket")
    file_id = file_id_of_key(key)
    if file_id is None:
        logger.warning("ignoring object outside the upload prefix", extra={"key": key})
        return Outcome(None, "unknown-key")
    item = table.get_item(file_id)
    if item is None:
        return _delete_orphan(blobs, file_id, key)
    if item["status"] in FINAL:
        return _publish_once(table, publisher, item, "duplicate")
    try:
        # the bytes are here: the file no longer expires (ttl None is ignored by DynamoDB's TTL and the sweeper)
        table.update_item(
            file_id,
            {"status": FileStatus.HASHING.value, "uploaded_at": uploaded_at, "ttl": None},
            status_in=HASHABLE,
        )
    except ConditionFailedError:
        if table.get_item(file_id) is None:  # deleted (or expired) since the read above
            return _delete_orphan(blobs, file_id, key)
        return Outcome(file_id, "duplicate")

    record = FileRecord.from_item(item)
    progress = ProgressReporter(
        publisher, record.id, record.size, record.owner, ProgressThrottle(progress_step, progress_interval_s)
    )
    try:
        changes = _hash_and_verify(blobs, record, progress, deadline)
    finally:
        progress.close()  # no progress event after the final state
    try:
        final = table.update_item(file_id, changes, status_in={FileStatus.HASHING.value})
    except ConditionFailedError:
        # another delivery finished first, or the file was deleted meanwhile
        latest = table.get_item(file_id)
        if latest is None:
            return _delete_orphan(blobs, file_id, key)
        if latest["status"] not in FINAL:
            return Outcome(file_id, "duplicate")
        return _publish_once(table, publisher, latest, "duplicate")
    return _publish_once(table, publisher, final, final["status"])


def _delete_orphan(blobs: BlobStore, file_id: str, key: str) -> Outcome:
    """An object without a file record (the file was deleted, or expired while PENDING) is never hashed:
    nobody could see the result, and its bytes would stay in storage for good."""
    blobs.delete_blob(key)
    logger.warning("deleted an object whose file record is gone", extra={"file_id": file_id, "key": key})
    return Outcome(file_id, "orphan-deleted")


def _publish_once(table: Table, publisher: Publisher, item: dict[str, object], outcome: str) -> Outcome:
    """Publish a final state unless a delivery already did; a failed publish is retried with the event."""
    file_id = str(item["id"])
    if item.get("published"):
        return Outcome(file_id, outcome)
    publisher.publish(FileRecord.from_item(item).to_graphql())
    with contextlib.suppress(ConditionFailedError):  # deleted since: nothing left to mark
        table.update_item(file_id, {"published": True}, status_in=FINAL)
    return Outcome(file_id, outcome)


def _hash_and_verify(
    blobs: BlobStore, record: FileRecord, progress: ProgressReporter, deadline: float | None
) -> dict[str, object]:
    try:
        chunks = read_ahead(blobs.open_chunks(record.key, CHUNK_SIZE))
        digests = hash_chunks(chunks if deadline is None else _until(deadline, chunks), on_progress=progress)
    except BlobNotFoundError:
        return _failed("The uploaded object is no longer in storage.")
    except _OutOfTime as stopped:
        return _failed(
            f"Hashing stopped after {stopped.hashed} of {record.size} bytes: the hasher's time limit was reached."
        )
    if digests.size != record.size:
        return _failed(f"Size mismatch: {record.size} bytes were declared, {digests.size} were stored.")
    sha256 = digests.hexdigests["sha256"]
    changes: dict[str, object] = {
        "status": FileStatus.HASHED.value,
        "hashes": digests.hexdigests,
        "hashed_at": aws_datetime(),
    }
    if record.expected_sha256 is not None and record.expected_sha256 != sha256:
        changes.update(_failed(f"sha256 mismatch: expected {record.expected_sha256}, computed {sha256}."))
    return changes


def _until(deadline: float, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks, until `deadline` passes: then `_OutOfTime`, rather than being killed mid-read."""
    hashed = 0
    for chunk in chunks:
        if time.monotonic() >= deadline:
            raise _OutOfTime(hashed)
        hashed += len(chunk)
        yield chunk


def _failed(error: str) -> dict[str, object]:
    return {"status": FileStatus.FAILED.value, "error": error}
