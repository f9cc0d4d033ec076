"""EventBridge Scheduler's expressions: AWS's six-field cron, rate and at, in a time zone, with daylight
saving time handled as Scheduler does (a skipped local time does not fire, a repeated one fires once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lambdashare.emulator.schedule_expression import ScheduleExpressionError, parse


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def firings(expression: str, after: datetime, count: int, timezone: str = "UTC") -> list[datetime]:
    parsed = parse(expression, timezone, start=after)
    times: list[datetime] = []
    while len(times) < count:
        nxt = parsed.next_after(times[-1] if times else after)
        assert nxt is not None
        times.append(nxt)
    return times


def test_the_daily_rollup_fires_after_midnight_utc() -> None:
    # the template's cron(5 0 * * ? *), from just before midnight: the next two days at 00:05
    assert firings("cron(5 0 * * ? *)", utc(2026, 12, 31, 23, 59), 2) == [utc(2027, 1, 1, 0, 5), utc(2027, 1, 2, 0, 5)]
    # exactly at a firing time, the next one is the following day's
    assert firings("cron(5 0 * * ? *)", utc(2027, 1, 1, 0, 5), 1) == [utc(2027, 1, 2, 0, 5)]


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0/15 * * * ? *)", utc(2026, 5, 1, 10, 7), [utc(2026, 5, 1, 10, 15), utc(2026, 5, 1, 10, 30)]),
        ("cron(0 23-1 * * ? *)", utc(2026, 5, 1, 12), [utc(2026, 5, 1, 23), utc(2026, 5, 2, 0), utc(2026, 5, 2, 1)]),
        ("cron(0 18 ? * MON-FRI *)", utc(2026, 5, 1, 19), [utc(2026, 5, 4, 18), utc(2026, 5, 5, 18)]),  # Fri -> Mon
        ("cron(0 8 1 JAN,JUL ? *)", utc(2026, 5, 1), [utc(2026, 7, 1, 8), utc(2027, 1, 1, 8)]),
        ("cron(0 12 L * ? *)", utc(2028, 2, 1), [utc(2028, 2, 29, 12), utc(2028, 3, 31, 12)]),  # leap year
        ("cron(0 12 ? * 6L *)", utc(2026, 5, 1, 13), [utc(2026, 5, 29, 12), utc(2026, 6, 26, 12)]),  # last Friday
        ("cron(0 12 ? * 2#1 *)", utc(2026, 5, 1), [utc(2026, 5, 4, 12), utc(2026, 6, 1, 12)]),  # first Monday
        ("cron(0 12 15W * ? *)", utc(2026, 8, 1), [utc(2026, 8, 14, 12), utc(2026, 9, 15, 12)]),  # Sat 15 -> Fri
        ("cron(0 12 1W * ? *)", utc(2026, 8, 1), [utc(2026, 8, 3, 12), utc(2026, 9, 1, 12)]),  # Sat 1st -> Mon 3
        ("cron(0 12 LW * ? *)", utc(2026, 5, 1), [utc(2026, 5, 29, 12), utc(2026, 6, 30, 12)]),  # Sun 31 -> Fri
        ("cron(30 9 * * ? 2027)", utc(2026, 5, 1), [utc(2027, 1, 1, 9, 30), utc(2027, 1, 2, 9, 30)]),
    ],
)
def test_cron_fields(expression: str, after: datetime, expected: list[datetime]) -> None:
    assert firings(expression, after, len(expected)) == expected


def test_cron_in_a_time_zone_crossing_midnight() -> None:
    # 00:30 in Tokyo (UTC+9) is 15:30 UTC the day before
    assert firings("cron(30 0 * * ? *)", utc(2026, 5, 1), 2, "Asia/Tokyo") == [
        utc(2026, 5, 1, 15, 30),
        utc(2026, 5, 2, 15, 30),
    ]


def test_a_local_time_the_clock_skips_does_not_fire() -> None:
    # New York springs forward on 2026-03-08 from 02:00 to 03:00: 02:30 does not exist that day
    assert firings("cron(30 2 * * ? *)", utc(2026, 3, 7, 12), 2, "America/New_York") == [
        utc(2026, 3, 9, 6, 30),  # 02:30 EDT
        utc(2026, 3, 10, 6, 30),
    ]


def test_a_local_time_the_clock_passes_twice_fires_once() -> None:
    # New York falls back on 2026-11-01 from 02:00 to 01:00: 01:30 happens twice, and fires the first time
    assert firings("cron(30 1 * * ? *)", utc(2026, 10, 31, 12), 2, "America/New_York") == [
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT
        utc(2026, 11, 2, 6, 30),  # 01:30 EST, the next day
    ]


def test_every_hour_across_the_fall_back_fires_each_real_hour_once() -> None:
    hours = firings("cron(0 * * * ? *)", utc(2026, 11, 1, 4, 30), 3, "America/New_York")
    assert hours == [utc(2026, 11, 1, 5), utc(2026, 11, 1, 7), utc(2026, 11, 1, 8)]  # 01:00 EDT, 02:00 EST, 03:00


def test_rate_counts_from_its_start() -> None:
    start = utc(2026, 5, 1, 10)
    assert firings("rate(1 day)", start, 2) == [start + timedelta(days=1), start + timedelta(days=2)]
    assert parse("rate(5 minutes)", start=start).next_after(start + timedelta(minutes=7)) == start + timedelta(
        minutes=10
    )
    assert parse("rate(2 hours)", start=start).next_after(start) == start + timedelta(hours=2)


def test_at_fires_once_in_its_time_zone() -> None:
    once = parse("at(2026-12-01T09:00:00)", "Europe/Paris")
    assert once.next_after(utc(2026, 11, 1)) == utc(2026, 12, 1, 8)
    assert once.next_after(utc(2026, 12, 1, 8)) is None


@pytest.mark.parametrize(
    ("expression", "timezone", "words"),
    [
        ("cron(0 12 * * *)", "UTC", "needs 6 fields"),
        ("cron(0 12 * * * *)", "UTC", "exactly one of day-of-month and day-of-week"),
        ("cron(0 12 ? * ? *)", "UTC", "exactly one of day-of-month and day-of-week"),
        ("cron(60 12 * * ? *)", "UTC", "minutes: '60' is not in 0-59"),
        ("cron(0 12 ? * FOO *)", "UTC", "day-of-week: 'FOO'"),
        ("cron(0 12 * * ? *)", "Mars/Olympus", "unknown time zone"),
        ("rate(0 minutes)", "UTC", "positive"),
        ("rate(5 weeks)", "UTC", "is not cron("),
        ("at(2026-03-08T02:30:00)", "America/New_York", "does not exist"),
        ("every day", "UTC", "is not cron("),
    ],
)
def test_expressions_scheduler_would_refuse_are_refused_with_the_reason(
    expression: str, timezone: str, words: str
) -> None:
    with pytest.raises(ScheduleExpressionError, match=words.replace("(", r"\(")):
        parse(expression, timezone)
