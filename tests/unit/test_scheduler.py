"""The emulator's EventBridge Scheduler: the Input with Scheduler's context attributes, handed over as an
asynchronous invocation at the expression's time on an injected clock (nothing sleeps)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from lambdashare.emulator.runtime import AWS_ONLY_SCHEDULES, local_schedules
from lambdashare.emulator.scheduler import ScheduleError, Scheduler, schedule_event, timetables
from lambdashare.emulator.template import Schedule

ROLLUP = Schedule(
    function="AnalyticsFunction",
    event="DailyRollup",
    expression="cron(5 0 * * ? *)",
    input=json.dumps(
        {
            "job": "rollup",
            "scheduledTime": "<aws.scheduler.scheduled-time>",
            "arn": "<aws.scheduler.schedule-arn>",
            "execution": "<aws.scheduler.execution-id>",
            "attempt": "<aws.scheduler.attempt-number>",
        }
    ),
)


class AsyncInvocations:
    """What the scheduler hands to Lambda's asynchronous invocation: (function, event) pairs."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    async def __call__(self, function: str, event: Any) -> None:
        self.events.append((function, event))


class FakeClock:
    """A clock that sleeping moves forward."""

    def __init__(self, now: datetime) -> None:
        self.now = now.timestamp()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_input_gets_schedulers_context_attributes() -> None:
    event = schedule_event(ROLLUP, datetime(2026, 11, 26, 0, 5, tzinfo=UTC), 3)
    assert event["job"] == "rollup"
    assert event["scheduledTime"] == "2026-11-26T00:05:00Z"
    assert event["arn"] == "arn:aws:scheduler:us-east-1:000000000000:schedule/default/AnalyticsFunctionDailyRollup"
    assert re.fullmatch(r"[0-9a-f]{16}", event["execution"])
    assert event["attempt"] == "3"


def test_without_input_the_target_gets_an_empty_object() -> None:
    assert schedule_event(Schedule("F", "E", "rate(1 day)"), datetime.now(UTC), 1) == {}


async def test_it_fires_at_the_next_time_crossing_midnight_on_an_injected_clock() -> None:
    # GIVEN the daily rollup's schedule and a clock at 23:59 UTC
    clock = FakeClock(datetime(2026, 11, 25, 23, 59, tzinfo=UTC))
    invoked = AsyncInvocations()
    (table,) = timetables([ROLLUP], datetime.fromtimestamp(clock(), UTC))
    scheduler = Scheduler([table], invoked, clock=clock, sleep=clock.sleep)
    # WHEN it runs one round
    fired = await scheduler.run_once(table, datetime.fromtimestamp(clock(), UTC))
    # THEN it waited until 00:05 the next day (on the injected clock) and fired for that time
    assert fired == datetime(2026, 11, 26, 0, 5, tzinfo=UTC)
    assert clock() == fired.timestamp()
    assert all(seconds <= 60 for seconds in clock.slept)
    assert [(f, e["scheduledTime"], e["attempt"]) for f, e in invoked.events] == [
        ("AnalyticsFunction", "2026-11-26T00:05:00Z", "1")
    ]
    # AND the next round is the day after
    assert await scheduler.run_once(table, fired) == datetime(2026, 11, 27, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        (Schedule("F", "E", "cron(5 0 * * *)"), "the schedule F.E (cron(5 0 * * *)): cron(5 0 * * *) needs 6 fields"),
        (Schedule("F", "E", "rate(1 day)", timezone="Nowhere/City"), "unknown time zone"),
        (Schedule("F", "E", "rate(1 day)", input="{not json"), "the schedule F.E: its Input is not JSON"),
    ],
)
def test_a_schedule_the_emulator_cannot_run_is_refused_naming_it(schedule: Schedule, words: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(words)):
        timetables([schedule], datetime.now(UTC))


def test_the_api_key_renewer_is_not_scheduled_locally() -> None:
    renewer = Schedule("ApiKeyRenewerFunction", "Daily", "rate(1 day)")
    assert "ApiKeyRenewerFunction" in AWS_ONLY_SCHEDULES
    assert local_schedules([renewer, ROLLUP]) == [ROLLUP]
