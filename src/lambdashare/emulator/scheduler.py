"""EventBridge Scheduler for the local emulator: each `ScheduleV2` event of the template fires its function.

A schedule fires at its expression's times (see `schedule_expression`), in its time zone, with its
`Input` and Scheduler's context attributes substituted. Scheduler invokes a Lambda target asynchronously,
so the event goes to the emulator's durable queue of asynchronous invocations (`dispatcher`), which retries a
function error as Lambda does (two retries, then a dead letter); `RetryPolicy` covers Scheduler's failures
to hand the event over, which a local queue write does not have. Not responsible for running handlers nor
for catching up: like Scheduler, a time missed while the emulator was stopped does not fire later.
Spec: https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdashare.emulator.lambda_runtime import REGION_ACCOUNT
from lambdashare.emulator.schedule_expression import Expression, ScheduleExpressionError, parse
from lambdashare.emulator.template import Schedule

logger = logging.getLogger(__name__)

#: The longest one sleep lasts, so a changed clock (a suspended machine) is noticed.
MAX_SLEEP_S = 60.0
#: What Scheduler sends a Lambda target whose schedule has no Input (its "default notification"; an
#: empty JSON object is what such a target receives).
DEFAULT_EVENT: dict[str, Any] = {}


#: Hands an event to a function (by logical id) as an asynchronous invocation.
InvokeAsync = Callable[[str, Any], Awaitable[None]]


class ScheduleError(Exception):
    """A schedule of the template that the emulator cannot run; names the schedule."""


def schedule_arn(schedule: Schedule, region_account: str = REGION_ACCOUNT) -> str:
    """The ARN SAM's schedule would have (its name is the function's logical id and the event's name)."""
    return f"arn:aws:scheduler:{region_account}:schedule/default/{schedule.function}{schedule.event}"


def scheduled_time(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_event(schedule: Schedule, instant: datetime, attempt: int) -> Any:
    """The event of one attempt: the Input with Scheduler's context attributes substituted."""
    if schedule.input is None:
        return dict(DEFAULT_EVENT)
    text = (
        schedule.input.replace("<aws.scheduler.scheduled-time>", scheduled_time(instant))
        .replace("<aws.scheduler.schedule-arn>", schedule_arn(schedule))
        .replace("<aws.scheduler.execution-id>", secrets.token_hex(8))
        .replace("<aws.scheduler.attempt-number>", str(attempt))
    )
    return json.loads(text)


@dataclass(frozen=True, slots=True)
class Timetable:
    schedule: Schedule
    expression: Expression


def timetables(schedules: Sequence[Schedule], start: datetime) -> list[Timetable]:
    """Parse every schedule (`rate` ones start at `start`); a schedule the emulator cannot run is an error."""
    tables = []
    for schedule in schedules:
        try:
            expression = parse(schedule.expression, schedule.timezone, start=start)
            if schedule.input is not None:
                schedule_event(schedule, start, 1)  # a Lambda target's Input must be JSON
        except ScheduleExpressionError as exc:
            raise ScheduleError(f"the schedule {schedule.name} ({schedule.expression}): {exc}") from None
        except ValueError:
            raise ScheduleError(f"the schedule {schedule.name}: its Input is not JSON") from None
        tables.append(Timetable(schedule, expression))
    return tables


class Scheduler:
    def __init__(
        self,
        tables: Sequence[Timetable],
        invoke_async: InvokeAsync,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._tables = [t for t in tables if t.schedule.enabled]
        self._invoke_async = invoke_async
        self._clock = clock
        self._sleep = sleep
        self._tasks: list[asyncio.Task[None]] = []

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def run_once(self, table: Timetable, after: datetime) -> datetime | None:
        """Wait for the next time after `after` and fire it; returns that time (None: it never fires again)."""
        due = table.expression.next_after(after)
        if due is None:
            return None
        while (left := (due - self._now()).total_seconds()) > 0:
            await self._sleep(min(left, MAX_SLEEP_S))
        await self._invoke_async(table.schedule.function, schedule_event(table.schedule, due, 1))
        return due

    async def _run(self, table: Timetable) -> None:
        after = self._now()
        while (due := await self.run_once(table, after)) is not None:
            after = max(due, self._now())  # a time missed while firing does not fire late
        logger.info("the schedule %s has no further times", table.schedule.name)

    def start(self) -> None:
        for table in self._tables:
            self._tasks.append(asyncio.create_task(self._run(table), name=f"schedule-{table.schedule.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
