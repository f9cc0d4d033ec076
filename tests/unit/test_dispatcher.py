"""Asynchronous invocations: durable before delivery, retried as Lambda retries them, kept as dead letters."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from lambdashare.adapters.local.event_queue import SqliteEventQueue
from lambdashare.emulator import dispatcher as dispatcher_module
from lambdashare.emulator.dispatcher import MAX_ATTEMPTS, Dispatcher
from lambdashare.emulator.lambda_runtime import LambdaError


class FailingFunction:
    name = "AnalyticsFunction"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.events: list[Any] = []
        self.answered = asyncio.Event()

    async def invoke(self, event: Any) -> Any:
        self.events.append(event)
        if len(self.events) <= self.failures:
            raise LambdaError("RuntimeError", "not yet")
        self.answered.set()
        return {"ok": True}


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatcher_module, "RETRY_DELAYS_S", (0.0, 0.0))


async def test_a_scheduled_event_is_retried_as_lambda_retries_an_asynchronous_invocation(tmp_path: Path) -> None:
    # GIVEN a function that fails twice
    queue = SqliteEventQueue(tmp_path)
    function = FailingFunction(failures=2)
    dispatcher = Dispatcher(queue, {function.name: function})
    # WHEN the scheduler hands it an event
    await dispatcher.invoke_async(function.name, {"job": "rollup"})
    await asyncio.wait_for(function.answered.wait(), 10)
    # THEN the same event was tried three times, and nothing is left to deliver
    assert function.events == [{"job": "rollup"}] * MAX_ATTEMPTS
    while dispatcher.in_flight:
        await asyncio.sleep(0.01)
    assert queue.pending() == []


async def test_an_event_is_durable_before_it_is_delivered(tmp_path: Path) -> None:
    # GIVEN an event handed over while its function always fails
    queue = SqliteEventQueue(tmp_path)
    function = FailingFunction(failures=99)
    dispatcher = Dispatcher(queue, {function.name: function})
    await dispatcher.invoke_async(function.name, {"job": "rollup"})
    while dispatcher.in_flight:
        await asyncio.sleep(0.01)
    # THEN after Lambda's three attempts it is kept as a dead letter, not retried again on restart
    assert len(function.events) == MAX_ATTEMPTS
    assert SqliteEventQueue(tmp_path).pending() == []
    (dead,) = queue._conn.execute("SELECT function, dead, last_error FROM invocations").fetchall()
    assert dead == (function.name, 1, "RuntimeError: not yet")
