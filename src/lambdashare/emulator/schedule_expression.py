"""EventBridge Scheduler's schedule expressions: `cron(...)`, `rate(...)` and `at(...)`, in a time zone.

Parses AWS's dialect and computes the next time a schedule fires; not responsible for firing
(`scheduler` does). AWS's cron has six fields, `minutes hours day-of-month month day-of-week year`,
with `?` in one of the two day fields, names (JAN-DEC, SUN-SAT; day-of-week 1 is Sunday), `L`
(last day of the month; `5L` the last Thursday), `W` (`15W` the weekday nearest the 15th, `LW`) and
`#` (`3#2` the second Tuesday). Daylight saving time as Scheduler handles it: a local time the clock
skips does not fire, a local time it passes twice fires once (the first time).
Spec: https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The first years cron's year field may name; an expression that has not fired by then never does.
YEARS = range(1970, 2200)
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {name: i for i, name in enumerate(_MONTH_NAMES, start=1)}
_WEEKDAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}
_RATE = re.compile(r"rate\(\s*(?P<value>[0-9]+)\s+(?P<unit>minutes?|hours?|days?)\s*\)")
_CRON = re.compile(r"cron\((?P<fields>[^)]*)\)")
_AT = re.compile(r"at\((?P<when>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})\)")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}

DayRule = Callable[[date], bool]


class ScheduleExpressionError(ValueError):
    """An expression EventBridge Scheduler would refuse, or one the emulator cannot evaluate."""


class Expression(Protocol):
    def next_after(self, after: datetime) -> datetime | None:
        """The first firing strictly after `after` (aware), in UTC; None if there is none."""
        ...


def _number(text: str, names: dict[str, int], low: int, high: int, field: str) -> int:
    value = names.get(text.upper()) if not text.isdigit() else int(text)
    if value is None or not low <= value <= high:
        raise ScheduleExpressionError(f"{field}: {text!r} is not in {low}-{high}")
    return value


def _values(text: str, low: int, high: int, field: str, names: dict[str, int] | None = None) -> set[int]:
    """`*`, `5`, `1-5`, `*/15`, `10/5`, `1-20/5`, `22-2`, and lists of them."""
    names = names or {}
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ScheduleExpressionError(f"{field}: {part!r} has a bad increment")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, names, low, high, field), _number(last, names, low, high, field)
        else:
            start = _number(base, names, low, high, field)
            end = high if step else start
        # a range may wrap around (`22-2` hours, `FRI-MON`)
        span = list(range(start, end + 1)) if start <= end else [*range(start, high + 1), *range(low, end + 1)]
        values.update(span[:: step or 1])
    return values


def _weekday(day: date) -> int:
    """AWS's day-of-week: 1 is Sunday."""
    return (day.weekday() + 1) % 7 + 1


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(day: date, target: int) -> bool:
    """`15W`: the weekday nearest the 15th, without leaving the month."""
    target = min(target, _last_day(day))
    nearest = day.replace(day=target)
    if nearest.weekday() == 5:  # Saturday: the Friday before, or the Monday after the 1st
        nearest = nearest - timedelta(days=1) if target > 1 else nearest + timedelta(days=2)
    elif nearest.weekday() == 6:  # Sunday: the Monday after, or the Friday before the last day
        nearest = nearest + timedelta(days=1) if target < _last_day(day) else nearest - timedelta(days=2)
    return day == nearest


def _day_of_month_rules(text: str) -> list[DayRule]:
    rules: list[DayRule] = []
    for part in text.split(","):
        upper = part.upper()
        if upper == "L":
            rules.append(lambda d: d.day == _last_day(d))
        elif upper == "LW":
            rules.append(lambda d: _nearest_weekday(d, _last_day(d)))
        elif upper.endswith("W"):
            target = _number(upper[:-1], {}, 1, 31, "day-of-month")
            rules.append(lambda d, t=target: _nearest_weekday(d, t))  # type: ignore[misc]
        else:
            days = _values(part, 1, 31, "day-of-month")
            rules.append(lambda d, s=days: d.day in s)  # type: ignore[misc]
    return rules


def _day_of_week_rules(text: str) -> list[DayRule]:
    rules: list[DayRule] = []
    for part in text.split(","):
        upper = part.upper()
        if upper == "L":
            rules.append(lambda d: _weekday(d) == 7)
        elif upper.endswith("L"):
            weekday = _number(upper[:-1], _WEEKDAYS, 1, 7, "day-of-week")
            rules.append(lambda d, w=weekday: _weekday(d) == w and d.day + 7 > _last_day(d))  # type: ignore[misc]
        elif "#" in upper:
            name, _, nth = upper.partition("#")
            weekday = _number(name, _WEEKDAYS, 1, 7, "day-of-week")
            n = _number(nth, {}, 1, 5, "day-of-week")
            rules.append(lambda d, w=weekday, n=n: _weekday(d) == w and (d.day - 1) // 7 + 1 == n)  # type: ignore[misc]
        else:
            days = _values(part, 1, 7, "day-of-week", _WEEKDAYS)
            rules.append(lambda d, s=days: _weekday(d) in s)  # type: ignore[misc]
    return rules


def _local_instant(day: date, at: time, zone: ZoneInfo) -> datetime | None:
    """`day` at `at` in `zone`, in UTC: the first of two (the clock went back), None if the clock skipped it."""
    local = datetime.combine(day, at, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day_rules: tuple[DayRule, ...]
    zone: ZoneInfo

    def matches_day(self, day: date) -> bool:
        return day.year in self.years and day.month in self.months and any(rule(day) for rule in self.day_rules)

    def next_after(self, after: datetime) -> datetime | None:
        day = after.astimezone(self.zone).date() - timedelta(days=1)  # the clock may have gone back
        last = date(max(self.years), 12, 31)
        times = [time(hour, minute) for hour in sorted(self.hours) for minute in sorted(self.minutes)]
        while day <= last:
            if day.year not in self.years:
                day = date(day.year + 1, 1, 1)
                continue
            if self.matches_day(day):
                for at in times:
                    instant = _local_instant(day, at, self.zone)
                    if instant is not None and instant > after:
                        return instant
            day += timedelta(days=1)
        return None


@dataclass(frozen=True)
class Rate:
    """Every `period` from `start` (locally, the schedule starts with the emulator)."""

    period: timedelta
    start: datetime

    def next_after(self, after: datetime) -> datetime | None:
        if after < self.start:
            return self.start + self.period
        periods = (after - self.start) // self.period + 1
        return self.start + periods * self.period


@dataclass(frozen=True)
class At:
    instant: datetime

    def next_after(self, after: datetime) -> datetime | None:
        return self.instant if self.instant > after else None


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleExpressionError(f"unknown time zone {timezone!r}") from None


def parse_cron(fields_text: str, zone: ZoneInfo) -> Cron:
    fields = fields_text.split()
    if len(fields) != 6:
        raise ScheduleExpressionError(
            f"cron({fields_text}) needs 6 fields: minutes hours day-of-month month day-of-week year"
        )
    minutes, hours, day_of_month, month, day_of_week, year = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleExpressionError("cron: exactly one of day-of-month and day-of-week must be '?'")
    rules = _day_of_week_rules(day_of_week) if day_of_month == "?" else _day_of_month_rules(day_of_month)
    return Cron(
        minutes=frozenset(_values(minutes, 0, 59, "minutes")),
        hours=frozenset(_values(hours, 0, 23, "hours")),
        months=frozenset(_values(month, 1, 12, "month", _MONTHS)),
        years=frozenset(_values(year, YEARS.start, YEARS.stop - 1, "year")),
        day_rules=tuple(rules),
        zone=zone,
    )


def parse(expression: str, timezone: str = "UTC", *, start: datetime | None = None) -> Expression:
    """The expression of a schedule; `start` anchors a `rate(...)` (default: now)."""
    zone = _zone(timezone)
    text = expression.strip()
    if match := _CRON.fullmatch(text):
        return parse_cron(match["fields"], zone)
    if match := _RATE.fullmatch(text):
        value = int(match["value"])
        if value < 1:
            raise ScheduleExpressionError(f"{expression}: the rate must be a positive number")
        period = timedelta(seconds=value * _UNITS[match["unit"].rstrip("s")])
        return Rate(period, start or datetime.now(UTC))
    if match := _AT.fullmatch(text):
        local = datetime.fromisoformat(match["when"])
        instant = _local_instant(local.date(), local.time(), zone)
        if instant is None:
            raise ScheduleExpressionError(f"{expression}: that time does not exist in {timezone}")
        return At(instant)
    raise ScheduleExpressionError(
        f"{expression!r} is not cron(min hour day-of-month month day-of-week year), rate(N minutes|hours|days)"
        " or at(yyyy-mm-ddThh:mm:ss)"
    )
