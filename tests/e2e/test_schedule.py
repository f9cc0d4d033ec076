"""The local scheduler, end to end: a running emulator fires the template's schedule at its time, in its
time zone, with the Input and Scheduler's context attributes, through the function's worker.

AnalyticsFunction runs `tests.handlers.recorder` here, on a one-time `at(...)` schedule a few seconds
ahead, written in Tokyo's time (a template variant).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import Emulator, free_port
from tests.templates import with_analytics_handler

pytestmark = pytest.mark.e2e
DEADLINE_S = 60


def test_a_schedule_fires_at_its_time_with_its_input(tmp_path: Path) -> None:
    # GIVEN the daily rollup rescheduled at a moment just ahead, in Tokyo's time
    due = (datetime.now(UTC) + timedelta(seconds=15)).replace(microsecond=0)  # past the emulator's start-up
    local = due.astimezone(ZoneInfo("Asia/Tokyo")).replace(tzinfo=None).isoformat()
    template = tmp_path / "template.yaml"
    variant = with_analytics_handler("tests.handlers.recorder.handler")
    daily = "ScheduleExpression: cron(5 0 * * ? *) # 00:05 UTC: yesterday is over"
    assert variant.count(daily) == 1 and variant.count("ScheduleExpressionTimezone: UTC") == 1
    variant = variant.replace(daily, f"ScheduleExpression: at({local})")
    variant = variant.replace("ScheduleExpressionTimezone: UTC", "ScheduleExpressionTimezone: Asia/Tokyo")
    template.write_text(variant, encoding="utf-8")
    sink = tmp_path / "sink.jsonl"
    emulator = Emulator(data_dir=tmp_path / "data", port=free_port(), api_key="da2-testschedulekey")
    emulator.start(LAMBDASHARE_TEMPLATE=str(template), LAMBDASHARE_TEST_SINK=str(sink))
    try:
        # WHEN that moment passes
        deadline = time.monotonic() + DEADLINE_S
        while not sink.exists():
            assert time.monotonic() < deadline, emulator.logs()
            time.sleep(0.1)
        # THEN the function got the Input once, its scheduled time that moment in UTC
        (line,) = sink.read_text().splitlines()
        assert json.loads(line) == {"job": "rollup", "scheduledTime": due.strftime("%Y-%m-%dT%H:%M:%SZ")}
        assert datetime.now(UTC) >= due
    finally:
        emulator.stop()
