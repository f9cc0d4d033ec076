"""The file table's stream, end to end: writes through the running emulator reach the function the
template maps to the stream, as DynamoDB Streams records, in commit order; `kill -9` with a batch in
flight loses nothing, and a clean restart delivers nothing again.

AnalyticsFunction runs `tests.handlers.recorder` here (a template variant), which writes down every
batch it gets.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.clients import request_upload
from tests.e2e.conftest import Emulator, free_port
from tests.templates import with_analytics_handler

pytestmark = pytest.mark.e2e
DEADLINE_S = 60


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[tuple[Emulator, dict[str, str], Path]]:
    template = tmp_path / "template.yaml"
    template.write_text(with_analytics_handler("tests.handlers.recorder.handler"), encoding="utf-8")
    sink = tmp_path / "sink.jsonl"
    env = {"LAMBDASHARE_TEMPLATE": str(template), "LAMBDASHARE_TEST_SINK": str(sink)}
    emulator = Emulator(data_dir=tmp_path / "data", port=free_port(), api_key="da2-teststreamkey")
    emulator.start(**env)
    try:
        yield emulator, env, sink
    finally:
        emulator.stop()


def wait_until(condition: Callable[[], bool], emulator: Emulator, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {DEADLINE_S} s:\n{emulator.logs()}")
        time.sleep(0.1)


def delivered(sink: Path) -> list[dict[str, Any]]:
    """Every record the function got, in the order it got them."""
    if not sink.exists():
        return []
    events = [json.loads(line) for line in sink.read_text().splitlines()]
    # the function's daily schedule may fire during the test (its event has no Records)
    return [record for event in events for record in event.get("Records", ())]


def inserted(sink: Path) -> list[str]:
    return [r["dynamodb"]["Keys"]["id"]["S"] for r in delivered(sink) if r["eventName"] == "INSERT"]


def test_writes_reach_the_mapped_function_through_kill_and_restart(
    emulator: tuple[Emulator, dict[str, str], Path],
) -> None:
    running, env, sink = emulator
    # GIVEN three uploads requested through the API (each puts a PENDING file)
    first = [request_upload(running, name=f"a{i}.txt", size=3)["file"]["id"] for i in range(3)]
    # THEN their INSERT records reach the function, in commit order, as DynamoDB Streams records
    wait_until(lambda: set(first) <= set(inserted(sink)), running, "delivering the first writes")
    assert inserted(sink) == first
    record = delivered(sink)[0]
    assert record["eventSource"] == "aws:dynamodb" and record["eventVersion"] == "1.1"
    assert re.fullmatch(r"arn:aws:dynamodb:us-east-1:000000000000:table/files/stream/\S+", record["eventSourceARN"])
    assert record["dynamodb"]["NewImage"]["ownerKey"] == {"S": "#public"}
    assert record["dynamodb"]["NewImage"]["status"] == {"S": "PENDING"}

    # WHEN the emulator is killed while the function holds a batch
    hold, waiting = sink.with_name("sink.jsonl.hold"), sink.with_name("sink.jsonl.waiting")
    hold.touch()
    held = request_upload(running, name="hold.txt", size=3)["file"]["id"]
    wait_until(waiting.exists, running, "the function receiving the held batch")
    running.kill9()
    hold.unlink()
    running.start(**env)
    # THEN that write reaches the function after the restart: nothing is lost
    wait_until(lambda: held in inserted(sink), running, "redelivering the batch in flight at kill -9")

    # AND WHEN the emulator stops cleanly and starts again
    running.stop()
    before = [r["eventID"] for r in delivered(sink)]
    running.start(**env)
    later = request_upload(running, name="later.txt", size=3)["file"]["id"]
    wait_until(lambda: later in inserted(sink), running, "delivering a write after a clean restart")
    # THEN only that write was delivered after the restart, and no record was ever delivered twice
    after = delivered(sink)[len(before) :]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]) for r in after] == [("INSERT", later)]
    every = [r["eventID"] for r in delivered(sink)]
    assert len(every) == len(set(every))
