"""The emulator's event-source mapping on the file table's stream: batches in commit order, a checkpoint
that survives restarts, partial-batch responses, bisection, retries, the on-failure destination, and
records too old to deliver. The function is a fake that answers as each test says; no test sleeps."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lambdashare.adapters.local.sqlite_stream import SqliteStream
from lambdashare.adapters.local.sqlite_table import SqliteTable
from lambdashare.domain.model import FileRecord, FileStatus, aws_datetime
from lambdashare.emulator.lambda_runtime import LambdaError
from lambdashare.emulator.stream_mapping import StreamPoller, failed_from
from lambdashare.emulator.template import StreamMapping

SPEC = StreamMapping(
    function="AnalyticsFunction",
    event="AnalyticsTableStream",
    batch_size=2,
    report_item_failures=True,
    max_retries=2,
    on_failure="AnalyticsFailureQueue",
)


class FakeFunction:
    """Records every batch (as lists of item ids) and answers with `answer(ids)`."""

    name = "AnalyticsFunction"

    def __init__(self, answer: Callable[[list[str]], Any] = lambda ids: None) -> None:
        self.answer = answer
        self.batches: list[list[str]] = []
        self.events: list[dict[str, Any]] = []

    async def invoke(self, event: Any) -> Any:
        ids = [record["dynamodb"]["Keys"]["id"]["S"] for record in event["Records"]]
        self.batches.append(ids)
        self.events.append(event)
        return self.answer(ids)


def fails_on(poison: str) -> Callable[[list[str]], Any]:
    def answer(ids: list[str]) -> Any:
        if poison in ids:
            raise LambdaError("ValueError", f"cannot count {poison}")
        return None

    return answer


@pytest.fixture
def table(tmp_path: Path) -> SqliteTable:
    return SqliteTable(tmp_path)


@pytest.fixture
def stream(tmp_path: Path, table: SqliteTable) -> SqliteStream:
    return SqliteStream(tmp_path)


def put(table: SqliteTable, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        file_id = str(uuid.uuid4())
        record = FileRecord(
            id=file_id, name="f", size=1, key=f"k/{file_id}", created_at=aws_datetime(), status=FileStatus.PENDING
        )
        table.put_item(record.to_item())
        ids.append(file_id)
    return ids


def poller(stream: SqliteStream, function: FakeFunction, spec: StreamMapping = SPEC, **kwargs: Any) -> StreamPoller:
    return StreamPoller(spec, function, stream, retry_delays_s=(0.0,), **kwargs)


async def drain(p: StreamPoller) -> None:
    while await p.poll_once():
        pass


def sequence_numbers(function: FakeFunction, batch: int) -> list[str]:
    return [r["dynamodb"]["SequenceNumber"] for r in function.events[batch]["Records"]]


async def test_batches_in_commit_order_and_a_restart_replays_nothing(table: SqliteTable, stream: SqliteStream) -> None:
    # GIVEN five writes
    ids = put(table, 5)
    function = FakeFunction()
    # WHEN the mapping polls until the stream is drained
    await drain(poller(stream, function))
    # THEN batches of at most BatchSize came in commit order, each record once
    assert function.batches == [ids[0:2], ids[2:4], ids[4:5]]
    assert function.events[0]["Records"][0]["eventName"] == "INSERT"
    # AND a new poller (a restart) starts from the saved checkpoint: nothing is delivered again
    again = FakeFunction()
    await drain(poller(stream, again))
    assert again.batches == []
    # AND a later write is delivered to it
    (later,) = put(table, 1)
    await drain(poller(stream, again))
    assert again.batches == [[later]]


async def test_latest_starts_after_what_was_written_before_the_mapping(
    table: SqliteTable, stream: SqliteStream
) -> None:
    # GIVEN writes made before a LATEST mapping first starts
    put(table, 3)
    function = FakeFunction()
    p = poller(stream, function, replace(SPEC, starting_position="LATEST"))
    assert await p.poll_once() == 0
    # WHEN more come
    later = put(table, 1)
    await drain(p)
    # THEN only those are delivered
    assert function.batches == [later]


async def test_reported_item_failures_are_retried_from_the_lowest(table: SqliteTable, stream: SqliteStream) -> None:
    # GIVEN a handler that reports the second record of its first batch as failed
    ids = put(table, 3)
    answers: list[Any] = []

    def answer(batch: list[str]) -> Any:
        answers.append(batch)
        if len(answers) == 1:
            return {"batchItemFailures": [{"itemIdentifier": sequence_numbers(function, 0)[1]}]}
        return {"batchItemFailures": []}

    function = FakeFunction(answer)
    # WHEN the stream is drained
    await drain(poller(stream, function, replace(SPEC, batch_size=3)))
    # THEN the batch is retried from the failed record, not from its first
    assert function.batches == [ids, ids[1:]]
    assert stream.failures(SPEC.name) == []


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": "999999"}]},
        {"batchItemFailures": [{"wrongKey": "1"}]},
        {"batchItemFailures": "all"},
        "not an object",
    ],
)
async def test_a_malformed_response_fails_the_whole_batch(
    table: SqliteTable, stream: SqliteStream, response: Any
) -> None:
    # GIVEN a handler whose first answer is malformed
    ids = put(table, 2)
    calls: list[int] = []

    def answer(batch: list[str]) -> Any:
        calls.append(1)
        return response if len(calls) == 1 else None

    function = FakeFunction(answer)
    # WHEN the stream is drained
    await drain(poller(stream, function))
    # THEN the whole batch was delivered again
    assert function.batches == [ids, ids]


def test_success_responses() -> None:
    # a null response, a null or empty list: the batch succeeded
    for response in (None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}):
        assert failed_from([], response) == (None, False)


async def test_bisect_isolates_the_failing_record_which_goes_to_the_destination(
    table: SqliteTable, stream: SqliteStream
) -> None:
    # GIVEN four records, the third of which the handler always fails on, bisect on, two retries
    ids = put(table, 4)
    function = FakeFunction(fails_on(ids[2]))
    spec = replace(SPEC, batch_size=4, bisect_on_error=True, max_retries=2)
    # WHEN the stream is drained
    await drain(poller(stream, function, spec))
    # THEN the batch was halved until the record was alone, retried twice, and then skipped
    assert function.batches == [ids, ids[:2], ids[2:], [ids[2]], [ids[2]], [ids[2]], [ids[3]]]
    # AND the destination got Lambda's description of it
    (message,) = stream.failures(spec.name)
    poison = function.events[3]["Records"][0]
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["functionArn"].endswith(":function:AnalyticsFunction")
    # (the invocations since a batch last fully succeeded: the failing half, then the record three times)
    assert message["requestContext"]["approximateInvokeCount"] == 4
    assert message["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert message["version"] == "1.0"
    info = message["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == poison["dynamodb"]["SequenceNumber"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == poison["eventSourceARN"] == table.stream_arn
    assert info["shardId"].startswith("shardId-")
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    # AND nothing is delivered again after a restart
    again = FakeFunction()
    await drain(poller(stream, again, spec))
    assert again.batches == []


async def test_without_bisect_the_whole_batch_is_retried_then_sent_to_the_destination(
    table: SqliteTable, stream: SqliteStream
) -> None:
    # GIVEN a batch the handler always fails, one retry allowed
    ids = put(table, 2)
    function = FakeFunction(fails_on(ids[0]))
    await drain(poller(stream, function, replace(SPEC, max_retries=1)))
    # THEN it was tried twice, then described as one batch of two
    assert function.batches == [ids, ids]
    (message,) = stream.failures(SPEC.name)
    assert message["DDBStreamBatchInfo"]["batchSize"] == 2
    assert message["requestContext"]["approximateInvokeCount"] == 2


async def test_records_older_than_the_maximum_age_are_skipped(table: SqliteTable, stream: SqliteStream) -> None:
    # GIVEN records read two hours after they were written while the emulator ran, by a mapping that
    # delivers records up to an hour old
    put(table, 3)
    now = [time.time()]
    function = FakeFunction()
    p = poller(stream, function, replace(SPEC, max_record_age_s=3600), clock=lambda: now[0])
    now[0] += 7200
    # WHEN the stream is drained
    await drain(p)
    # THEN the function got none, and the destination got their descriptions
    assert function.batches == []
    messages = stream.failures(SPEC.name)
    assert [m["requestContext"]["condition"] for m in messages] == ["RecordAgeExceeded", "RecordAgeExceeded"]
    assert sum(m["DDBStreamBatchInfo"]["batchSize"] for m in messages) == 3
    assert all("functionError" not in m["responseContext"] for m in messages)


async def test_records_do_not_age_while_the_emulator_is_stopped(table: SqliteTable, stream: SqliteStream) -> None:
    # GIVEN records written two days before the emulator started again (a machine switched off)
    ids = put(table, 3)
    function = FakeFunction()
    p = poller(stream, function, replace(SPEC, max_record_age_s=3600), clock=lambda: time.time() + 2 * 86400)
    # WHEN the stream is drained
    await drain(p)
    # THEN every record is delivered: only time the emulator ran counts
    assert [r["dynamodb"]["Keys"]["id"]["S"] for b in function.events for r in b["Records"]] == ids
    assert stream.failures(SPEC.name) == []


async def test_a_crash_during_delivery_redelivers_and_a_clean_stop_finishes_the_batch(
    table: SqliteTable, stream: SqliteStream
) -> None:
    # GIVEN a handler that blocks on its first batch
    ids = put(table, 2)
    release = asyncio.Event()
    entered = asyncio.Event()

    class Blocking(FakeFunction):
        async def invoke(self, event: Any) -> Any:
            entered.set()
            await release.wait()
            return await super().invoke(event)

    # WHEN the poller dies while the batch is in flight (the task is cancelled: nothing after it runs)
    crashed = poller(stream, Blocking())
    crashed.start()
    await entered.wait()
    assert crashed._task is not None
    crashed._task.cancel()
    # THEN a new poller gets the same batch again
    entered.clear()
    function = Blocking()
    clean = poller(stream, function)
    clean.start()
    await entered.wait()
    # AND WHEN it is stopped cleanly while that batch is in flight, the batch finishes and its checkpoint is kept
    stopping = asyncio.create_task(clean.stop())
    release.set()
    await stopping
    assert function.batches == [ids]
    after = FakeFunction()
    await drain(poller(stream, after))
    assert after.batches == []
