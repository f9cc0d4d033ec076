"""Lambda's event-source mapping for the file table's stream, locally: batches of records to a function.

One poller per `DynamoDB` event of the template reads the stream (`SqliteStream`) after its checkpoint
and delivers `{"Records": [...]}` to the function, one batch at a time (one local shard), in commit
order. The checkpoint moves, and is saved, only past records that were handled or given up on, so a
crash redelivers what was in flight and a clean stop (which lets the batch in flight finish) replays
nothing. As Lambda: `ReportBatchItemFailures` retries from the lowest sequence number reported;
`BisectBatchOnFunctionError` halves a failing batch (a split is not a retry); after
`MaximumRetryAttempts`, or past `MaximumRecordAgeInSeconds`, the batch's description goes to the
on-failure destination (locally, a table and the log) and the poller moves on.
Not responsible for running the handler (`lambda_runtime`) nor for the records (`SqliteTable`).
Spec: https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool

from lambdashare.adapters.local.sqlite_stream import SqliteStream, StreamRecord
from lambdashare.emulator.lambda_runtime import REGION_ACCOUNT, Function, LambdaError
from lambdashare.emulator.template import StreamMapping

logger = logging.getLogger(__name__)

#: DynamoDB keeps stream records 24 hours: older ones are gone, whatever a mapping's own limit.
STREAM_RETENTION_S = 86400
#: The one local shard.
SHARD_ID = "shardId-00000000000000000001-00000001"
POLL_INTERVAL_S = 0.25
#: Seconds before each retry of a failed batch (Lambda backs off exponentially; locally, briefly).
RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0)
RETRIES_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"


def _iso(epoch: float, *, millis: bool = False) -> str:
    text = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds" if millis else "seconds")
    return text.replace("+00:00", "Z")


def _sequence_number(record: StreamRecord) -> str:
    return str(record.record["dynamodb"]["SequenceNumber"])


def failed_from(batch: Sequence[StreamRecord], response: Any) -> tuple[int | None, bool]:
    """Where a partial-batch response asks to retry from (an index into `batch`; None: all succeeded),
    and whether the response was malformed (then the whole batch failed, as a function error).

    As Lambda: a null response, a null or empty `batchItemFailures` is a success; an `itemIdentifier`
    that is missing, empty or not a sequence number of the batch fails the whole batch.
    """
    if response is None or (isinstance(response, dict) and response.get("batchItemFailures") in (None, [])):
        return None, False
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not isinstance(failures, list):
        return 0, True
    positions = {_sequence_number(record): index for index, record in enumerate(batch)}
    indexes = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in positions:
            return 0, True
        indexes.append(positions[identifier])
    return min(indexes), False


class StreamPoller:
    def __init__(
        self,
        spec: StreamMapping,
        function: Function,
        stream: SqliteStream,
        *,
        clock: Callable[[], float] = time.time,
        poll_interval_s: float = POLL_INTERVAL_S,
        retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
    ) -> None:
        self.spec = spec
        self._function = function
        self._stream = stream
        self._clock = clock
        #: Records age only while the emulator runs: a machine switched off for a weekend is not a stream
        #: nobody read for 24 h (on AWS the stream and its mapping never stop).
        self._running_since = clock()
        self._poll_interval_s = poll_interval_s
        self._retry_delays_s = retry_delays_s
        self._position: int | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- position -------------------------------------------------------------------------------
    async def position(self) -> int:
        """The checkpoint: the last record handled. A new mapping starts where StartingPosition says."""
        if self._position is None:
            saved = await run_in_threadpool(self._stream.checkpoint, self.spec.name)
            if saved is None:
                latest = self.spec.starting_position == "LATEST"
                saved = await run_in_threadpool(self._stream.last_position) if latest else 0
                await run_in_threadpool(self._stream.save_checkpoint, self.spec.name, saved)
            self._position = saved
        return self._position

    async def _advance(self, record: StreamRecord) -> None:
        await run_in_threadpool(self._stream.save_checkpoint, self.spec.name, record.seq)
        self._position = record.seq

    # --- polling --------------------------------------------------------------------------------
    async def poll_once(self) -> int:
        """Read one batch after the checkpoint and deliver it; how many records it held (0: none)."""
        read = self._stream.read
        records = await run_in_threadpool(read, await self.position(), self.spec.batch_size)
        # MaximumBatchingWindowInSeconds: a batch that is not full waits for more, from its first record on
        while records and len(records) < self.spec.batch_size and not self._stopping.is_set():
            wait = records[0].created_at + self.spec.batching_window_s - self._clock()
            if wait <= 0:
                break
            await self._pause(min(wait, self._poll_interval_s))
            records = await run_in_threadpool(read, await self.position(), self.spec.batch_size)
        if not records or self._stopping.is_set():
            return 0  # nothing in flight: a stopping poller starts no new batch
        await self._deliver(records)
        return len(records)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _expired(self, batch: list[StreamRecord]) -> int:
        """How many records at the head of `batch` are older than MaximumRecordAgeInSeconds (or the stream's
        retention) allows."""
        limit = self.spec.max_record_age_s
        max_age_s = STREAM_RETENTION_S if limit < 0 else min(limit, STREAM_RETENTION_S)
        now = self._clock()
        count = 0
        while count < len(batch) and now - max(batch[count].created_at, self._running_since) > max_age_s:
            count += 1
        return count

    async def _deliver(self, records: list[StreamRecord]) -> None:
        batches = deque([records])
        retries = 0  # failed invocations of the records at the head, a split not counted
        invocations = 0  # since a batch last fully succeeded: the destination's approximateInvokeCount
        while batches:
            batch = batches.popleft()
            expired = self._expired(batch)
            if expired:  # the oldest records come first: skip them, as Lambda does
                await self._give_up(batch[:expired], RECORD_AGE_EXCEEDED, invocations, function_error=False)
                batch = batch[expired:]
                if not batch:
                    continue
            invocations += 1
            retry_from, whole_batch_failed = await self._invoke(batch)
            if retry_from is None:
                await self._advance(batch[-1])
                retries = invocations = 0
                continue
            if retry_from > 0:
                await self._advance(batch[retry_from - 1])
                retries = 0
            rest = batch[retry_from:]
            if whole_batch_failed and self.spec.bisect_on_error and len(rest) > 1:
                middle = len(rest) // 2
                batches.extendleft([rest[middle:], rest[:middle]])
                continue
            retries += 1
            if 0 <= self.spec.max_retries < retries:
                await self._give_up(rest, RETRIES_EXHAUSTED, invocations, function_error=True)
                retries = invocations = 0
                continue
            if self._stopping.is_set():
                return  # the failed records stay after the checkpoint, for the next run
            await self._pause(self._retry_delays_s[min(retries, len(self._retry_delays_s)) - 1])
            if self._stopping.is_set():
                return
            batches.appendleft(rest)

    async def _invoke(self, batch: list[StreamRecord]) -> tuple[int | None, bool]:
        """(where to retry from, or None: done; whether the whole batch failed)."""
        try:
            response = await self._function.invoke({"Records": [record.record for record in batch]})
        except LambdaError as exc:
            logger.warning(
                "%s: a batch of %d records failed: %s: %s", self.spec.name, len(batch), exc.error_type, exc.message
            )
            return 0, True
        if not self.spec.report_item_failures:
            return None, False
        retry_from, malformed = failed_from(batch, response)
        if malformed:
            logger.warning("%s: a malformed batch response fails the whole batch: %.500r", self.spec.name, response)
        elif retry_from is not None:
            logger.warning("%s: records from %s failed", self.spec.name, _sequence_number(batch[retry_from]))
        return retry_from, malformed

    async def _give_up(
        self, batch: list[StreamRecord], condition: str, invocations: int, *, function_error: bool
    ) -> None:
        """Send the batch's description to the on-failure destination (if any) and move past it."""
        message = self.failure_message(batch, condition, invocations, function_error=function_error)
        destination = self.spec.on_failure
        if destination is not None:
            await run_in_threadpool(self._stream.put_failure, self.spec.name, message)
        logger.warning(
            "%s: %s; %s: %s",
            self.spec.name,
            condition,
            f"sent to {destination}" if destination else "skipped (no on-failure destination)",
            json.dumps(message),
        )
        await self._advance(batch[-1])

    def failure_message(
        self, batch: list[StreamRecord], condition: str, invocations: int, *, function_error: bool
    ) -> dict[str, Any]:
        """What Lambda sends an on-failure destination about a stream batch it gave up on."""
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if function_error:
            response["functionError"] = "Unhandled"
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{REGION_ACCOUNT}:function:{self.spec.function}",
                "condition": condition,
                "approximateInvokeCount": invocations,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": _iso(self._clock(), millis=True),
            "DDBStreamBatchInfo": {
                "shardId": SHARD_ID,
                "startSequenceNumber": _sequence_number(batch[0]),
                "endSequenceNumber": _sequence_number(batch[-1]),
                "approximateArrivalOfFirstRecord": _iso(batch[0].created_at),
                "approximateArrivalOfLastRecord": _iso(batch[-1].created_at),
                "batchSize": len(batch),
                "streamArn": batch[0].record["eventSourceARN"],
            },
        }

    # --- lifecycle ------------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                delivered = await self.poll_once()
            except Exception:
                logger.exception("%s: polling the stream failed; trying again", self.spec.name)
                delivered = 0
            if not delivered:
                await self._pause(self._poll_interval_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"stream-{self.spec.name}")

    async def stop(self) -> None:
        """Let the batch in flight finish (its checkpoint saved), then stop."""
        self._stopping.set()
        if self._task is not None:
            await self._task
