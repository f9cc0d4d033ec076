"""What the emulator does in place of DynamoDB's TTL: a periodic sweep of what was abandoned.

Every `interval_s` each named sweep runs once, in a thread; one that fails is logged and tried again
next time. More sweeps (incomplete multipart uploads, in place of S3's lifecycle rule; notifications
staged by a request that died around its publish, also settled once at start-up) are further
entries of the `sweeps` mapping the Runtime builds. Unlike DynamoDB, which deletes an expired item
"typically within a few days", the emulator deletes it within one interval of its expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Mapping

from starlette.concurrency import run_in_threadpool

from lambdashare.adapters.local.file_blob_store import FileBlobStore
from lambdashare.adapters.local.sqlite_stream import SqliteStream
from lambdashare.adapters.local.sqlite_table import SqliteTable
from lambdashare.domain.errors import NoSuchUpload
from lambdashare.emulator.dispatcher import Dispatcher
from lambdashare.emulator.stream_mapping import STREAM_RETENTION_S

logger = logging.getLogger(__name__)

#: One pass of a sweep; returns how many things it removed.
Sweep = Callable[[], int]
#: How long the failure queue keeps a message (template.yaml: MessageRetentionPeriod, SQS's maximum).
FAILURE_RETENTION_S = 14 * 86400
#: Items deleted per table statement, so a large backlog never holds the table's lock for long.
BATCH = 100


def expire_pending(table: SqliteTable, blobs: FileBlobStore, clock: Callable[[], float] = time.time) -> Sweep:
    """PENDING files past their `ttl` go, as DynamoDB's TTL deletes them; and so do their multipart
    uploads' parts and their objects, if bytes came after all (the hasher would delete such an object
    too: its file record is gone)."""

    def sweep() -> int:
        removed = 0
        while expired := table.delete_expired_pending(int(clock()), BATCH):
            for item in expired:
                if item.get("upload_id"):
                    with contextlib.suppress(NoSuchUpload):  # completed or aborted meanwhile
                        blobs.abort_multipart(item["key"], item["upload_id"])
                blobs.delete_blob(item["key"])
                logger.info("expired a PENDING file whose bytes never came: %s", item["id"])
            removed += len(expired)
        return removed

    return sweep


def abort_stale_multipart(blobs: FileBlobStore, older_than_s: float) -> Sweep:
    """Incomplete multipart uploads older than the bucket's lifecycle rule allows are aborted, as S3 does."""

    def sweep() -> int:
        aborted = blobs.abort_stale_multipart(older_than_s)
        for upload_id in aborted:
            logger.info("aborted an incomplete multipart upload: %s", upload_id)
        return len(aborted)

    return sweep


def trim_stream(stream: SqliteStream, mappings: Collection[str], clock: Callable[[], float] = time.time) -> Sweep:
    """Stream records every mapping has passed go once DynamoDB would have dropped them (24 h), and the
    on-failure destination's messages once the failure queue would have (14 days, as template.yaml says)."""

    def sweep() -> int:
        now = clock()
        return stream.trim(mappings, now - STREAM_RETENTION_S) + stream.trim_failures(now - FAILURE_RETENTION_S)

    return sweep


def settle_staged_events(dispatcher: Dispatcher, blobs: FileBlobStore) -> Sweep:
    """S3 notifications staged by a request that died around its publish: delivered if the object
    was published, dropped if not (see the event queue)."""

    def sweep() -> int:
        return dispatcher.settle_staged(blobs.exists)

    return sweep


class Sweeper:
    def __init__(self, sweeps: Mapping[str, Sweep], interval_s: float) -> None:
        self._sweeps = dict(sweeps)
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def sweep_once(self) -> dict[str, int]:
        """Run every sweep once; how many things each removed (-1: it failed, and was logged)."""
        removed: dict[str, int] = {}
        for name, sweep in self._sweeps.items():
            try:
                removed[name] = await run_in_threadpool(sweep)
            except Exception:
                logger.exception("the %s sweep failed; it runs again in %s s", name, self._interval_s)
                removed[name] = -1
        return removed

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.sweep_once()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
