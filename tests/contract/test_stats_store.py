"""The StatsStore port's contract, held by SqliteStatsStore and by DynamoStatsStore on moto and on DynamoDB Local."""

from __future__ import annotations

from datetime import date, timedelta

from lambdashare.ports.stats_store import ALL_SPACES, PUBLIC_SPACE, StatsStore
from tests.contract.conftest import FakeClock

ALICE = "alice-sub"
ROLE = "arn:aws:iam::123456789012:role/uploader"  # an IAM owner: colons and a slash in a sort key
DAY = "2025-03-01"
NEXT_DAY = "2025-03-02"


def expires(clock: FakeClock, seconds: int = 90_000) -> int:
    return int(clock.now) + seconds


def test_added_counters_are_read_back_per_day_and_space(stats: StatsStore, clock: FakeClock) -> None:
    # GIVEN a record adding to alice's space and to every space on two days
    increments = {
        (DAY, ALICE): {"uploads": 1, "bytes": 10, "uploads:image/png": 1},
        (DAY, ALL_SPACES): {"uploads": 1, "bytes": 10, "uploads:image/png": 1},
        (NEXT_DAY, ALICE): {"hashed": 1, "latency:17": 1},
    }
    # WHEN it is added
    added = stats.add_once("event-1", increments, marker_expires=expires(clock))
    # THEN it was new, and each day's counters come back as added; a day without any is absent
    assert added is True
    assert stats.counters(ALICE, [DAY, NEXT_DAY, "2025-03-03"]) == {
        DAY: {"uploads": 1, "bytes": 10, "uploads:image/png": 1},
        NEXT_DAY: {"hashed": 1, "latency:17": 1},
    }
    assert stats.counters(ALL_SPACES, [NEXT_DAY]) == {}


def test_a_redelivered_record_changes_nothing(stats: StatsStore, clock: FakeClock) -> None:
    # GIVEN a counted record
    increments = {(DAY, PUBLIC_SPACE): {"uploads": 1, "bytes": 5}}
    assert stats.add_once("event-1", increments, marker_expires=expires(clock)) is True
    # WHEN the same record comes again (even with other increments)
    again = stats.add_once("event-1", {(DAY, PUBLIC_SPACE): {"uploads": 7}}, marker_expires=expires(clock))
    # THEN it is refused and nothing was added
    assert again is False
    assert stats.counters(PUBLIC_SPACE, [DAY]) == {DAY: {"uploads": 1, "bytes": 5}}


def test_records_add_up(stats: StatsStore, clock: FakeClock) -> None:
    # GIVEN three records adding to the same counters, one of them to a new counter
    for number, amount in enumerate((3, 4, 1_099_511_627_776)):
        stats.add_once(
            f"event-{number}", {(DAY, ROLE): {"bytes": amount, f"c{number % 2}": 1}}, marker_expires=expires(clock)
        )
    # THEN the sums come back, beyond 32 bits too
    assert stats.counters(ROLE, [DAY]) == {DAY: {"bytes": 1_099_511_627_783, "c0": 2, "c1": 1}}


def test_an_expired_marker_is_forgotten(stats: StatsStore, clock: FakeClock) -> None:
    # GIVEN a record counted with a marker that expires in an hour
    stats.add_once("event-1", {(DAY, ALICE): {"uploads": 1}}, marker_expires=expires(clock, 3600))
    # WHEN it comes again before, then after the marker expired
    before = stats.add_once("event-1", {(DAY, ALICE): {"uploads": 1}}, marker_expires=expires(clock, 3600))
    clock.now += 3601
    after = stats.add_once("event-1", {(DAY, ALICE): {"uploads": 1}}, marker_expires=expires(clock, 3600))
    # THEN only the late one counts again
    assert (before, after) == (False, True)
    assert stats.counters(ALICE, [DAY]) == {DAY: {"uploads": 2}}


def test_day_spaces_gives_every_space_of_a_day_and_no_summary(stats: StatsStore, clock: FakeClock) -> None:
    # GIVEN counters of two spaces (and all) on a day, one on the next day, and the day's summary
    stats.add_once(
        "event-1",
        {(DAY, ALICE): {"uploads": 1}, (DAY, ROLE): {"failed": 1}, (DAY, ALL_SPACES): {"uploads": 1, "failed": 1}},
        marker_expires=expires(clock),
    )
    stats.add_once("event-2", {(NEXT_DAY, ALICE): {"uploads": 1}}, marker_expires=expires(clock))
    stats.put_summary(DAY, {"uploads": 1})
    # WHEN the day's spaces are read THEN they are exactly the counters of that day
    assert stats.day_spaces(DAY) == {
        ALICE: {"uploads": 1},
        ROLE: {"failed": 1},
        ALL_SPACES: {"uploads": 1, "failed": 1},
    }
    assert stats.day_spaces("2025-02-28") == {}


def test_a_summary_is_stored_replaced_and_read_back(stats: StatsStore) -> None:
    # GIVEN a summary of a day, replaced by a second one
    stats.put_summary(DAY, {"uploads": 1, "latency": None})
    summary = {"date": DAY, "uploads": 2, "throughput": 1234.5, "latency": {"p50": 9.5}, "contentTypes": []}
    stats.put_summary(DAY, summary)
    # WHEN summaries are read THEN the second one comes back as it was, and a day without one is absent
    assert stats.summaries([DAY, NEXT_DAY]) == {DAY: summary}


def test_counters_of_many_days_are_read_at_once(stats: StatsStore, clock: FakeClock) -> None:
    # GIVEN one counter on each of 120 days (more than one batch read holds)
    first = date(2024, 1, 1)
    days = [(first + timedelta(days=n)).isoformat() for n in range(120)]
    for start in range(0, len(days), 40):
        increments = {(day, ALICE): {"uploads": n + 1} for n, day in enumerate(days[start : start + 40], start)}
        stats.add_once(f"event-{start}", increments, marker_expires=expires(clock))
    # WHEN all are read THEN each day has its own
    assert stats.counters(ALICE, days) == {day: {"uploads": n + 1} for n, day in enumerate(days)}


def test_prune_deletes_counters_and_summaries_before_a_day(stats: StatsStore, clock: FakeClock) -> None:
    # GIVEN counters of two spaces on three days, and summaries of two of them
    days = ["2025-02-27", "2025-02-28", DAY]
    for number, day in enumerate(days):
        stats.add_once(
            f"event-{number}",
            {(day, ALICE): {"uploads": 1}, (day, ALL_SPACES): {"uploads": 1}},
            marker_expires=expires(clock),
        )
    stats.put_summary("2025-02-28", {"uploads": 1})
    stats.put_summary(DAY, {"uploads": 1})
    # WHEN what is before DAY is pruned
    pruned = stats.prune_before(DAY)
    # THEN the items of the two older days went (2 + 2 counters, 1 summary), DAY's stayed
    assert pruned == 5
    assert stats.counters(ALICE, days) == {DAY: {"uploads": 1}}
    assert stats.summaries(days) == {DAY: {"uploads": 1}}
    # AND a second prune finds nothing; counting on DAY goes on
    assert stats.prune_before(DAY) == 0
    assert stats.add_once("event-9", {(DAY, ALICE): {"uploads": 1}}, marker_expires=expires(clock)) is True
    assert stats.counters(ALICE, [DAY]) == {DAY: {"uploads": 2}}


def test_a_day_with_only_a_summary_is_pruned_too(stats: StatsStore) -> None:
    # GIVEN the summary of a day without any counter (a day without activity)
    stats.put_summary("2025-02-01", {"uploads": 0})
    # WHEN later days are kept THEN the summary goes
    assert stats.prune_before(DAY) == 1
    assert stats.summaries(["2025-02-01"]) == {}
