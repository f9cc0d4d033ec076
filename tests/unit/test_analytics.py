"""Unit tests for `lambdashare.domain.analytics`: what each change of a file counts, and the figures read back.

Records are in the stream's shape (tests/stream_records.py); duplicates are looked up in a SqliteTable,
counters kept in a SqliteStatsStore, both in tmp_path.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from lambdashare.adapters.local.sqlite_stats_store import SqliteStatsStore
from lambdashare.adapters.local.sqlite_table import SqliteTable
from lambdashare.domain.analytics import (
    MAX_BUCKET,
    content_type_name,
    increments_of,
    latency_bucket,
    rollup,
    window_stats,
)
from lambdashare.domain.model import FileRecord, aws_datetime
from lambdashare.ports.stats_store import ALL_SPACES, PUBLIC_SPACE, Increments
from tests.stream_records import stream_record

ALICE = "alice-sub"
BOB = "bob-sub"
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
DAY = "2025-03-01"
SHA = "c" * 64


@pytest.fixture
def table(tmp_path: Path) -> SqliteTable:
    return SqliteTable(tmp_path)


@pytest.fixture
def stats(tmp_path: Path) -> SqliteStatsStore:
    return SqliteStatsStore(tmp_path)


def file_item(*, owner: str | None = ALICE, status: str = "PENDING", **fields: Any) -> dict[str, Any]:
    file_id = fields.pop("id", str(uuid.uuid4()))
    record = FileRecord(
        id=file_id,
        name="photo.png",
        size=1000,
        key=f"uploads/{file_id}",
        created_at=aws_datetime(T0 - timedelta(minutes=5)),
        content_type="image/png",
        owner=owner,
    )
    return {**record.to_item(), "status": status, **fields}


def uploaded(item: dict[str, Any], at: datetime = T0) -> dict[str, Any]:
    return {**item, "status": "HASHING", "uploaded_at": aws_datetime(at), "ttl": None}


def hashed(item: dict[str, Any], at: datetime, sha256: str = SHA) -> dict[str, Any]:
    hashes = {"md5": "1" * 32, "sha1": "2" * 40, "sha256": sha256, "sha512": "3" * 128}
    return {**item, "status": "HASHED", "hashes": hashes, "hashed_at": aws_datetime(at)}


def counted(table: SqliteTable, raw: dict[str, Any]) -> Increments:
    return increments_of(DynamoDBRecord(raw), table)


def both(space: str, day: str, counters: dict[str, int]) -> dict[tuple[str, str], dict[str, int]]:
    """The same counters in `space` and in every space together."""
    return {(day, space): counters, (day, ALL_SPACES): counters}


# --- one record, every transition ------------------------------------------------------------------
def test_a_new_pending_file_counts_nothing(table: SqliteTable) -> None:
    assert counted(table, stream_record("INSERT", new=file_item(), at=T0)) == {}


def test_bytes_arriving_count_an_upload_on_the_upload_day_per_content_type(table: SqliteTable) -> None:
    # GIVEN a file that goes PENDING -> HASHING, uploaded just before midnight, the change seen after it
    pending = file_item(content_type="image/PNG; x=1")
    upload_time = datetime(2025, 3, 1, 23, 59, 59, 900000, tzinfo=UTC)
    record = stream_record("MODIFY", old=pending, new=uploaded(pending, upload_time), at=T0 + timedelta(hours=12))
    # WHEN counted THEN one upload of its size, on the upload's day, under its normalised content type
    assert counted(table, record) == both(
        ALICE, DAY, {"uploads": 1, "bytes": 1000, "uploads:image/png": 1, "bytes:image/png": 1000}
    )


def test_a_restarted_hashing_is_not_a_new_upload(table: SqliteTable) -> None:
    # GIVEN a HASHING file whose S3 event came again (HASHING -> HASHING, a new uploaded_at)
    hashing = uploaded(file_item())
    record = stream_record("MODIFY", old=hashing, new=uploaded(hashing, T0 + timedelta(seconds=30)), at=T0)
    assert counted(table, record) == {}


def test_hashed_counts_on_the_hashed_day_with_latency_and_throughput(table: SqliteTable) -> None:
    # GIVEN an anonymous file uploaded at 23:59:59.500 and hashed 1.5 s later, the next day
    upload_time = datetime(2025, 3, 1, 23, 59, 59, 500000, tzinfo=UTC)
    hashing = uploaded(file_item(owner=None), upload_time)
    done = hashed(hashing, upload_time + timedelta(milliseconds=1500))
    # WHEN the change to HASHED is counted
    increments = counted(table, stream_record("MODIFY", old=hashing, new=done, at=upload_time + timedelta(seconds=2)))
    # THEN it is on 2025-03-02, in the public space: 1000 bytes in 1500 ms, latency bucket ceil(4*log2(1500)) = 43
    assert increments == both(
        PUBLIC_SPACE, "2025-03-02", {"hashed": 1, "hashedBytes": 1000, "hashMs": 1500, "latency:43": 1}
    )


def test_only_the_change_to_hashed_counts(table: SqliteTable) -> None:
    # GIVEN a HASHED file marked published, then shared
    done = hashed(uploaded(file_item()), T0 + timedelta(seconds=1))
    published = {**done, "published": True}
    shared = {**published, "shares": {"tok": 1}}
    # THEN neither change counts
    assert counted(table, stream_record("MODIFY", old=done, new=published, at=T0)) == {}
    assert counted(table, stream_record("MODIFY", old=published, new=shared, at=T0)) == {}


def test_failed_counts_on_the_day_of_the_change(table: SqliteTable) -> None:
    # GIVEN a HASHING file that fails (a sha256 mismatch: it carries hashes and hashed_at too)
    hashing = uploaded(file_item(), T0 - timedelta(days=3))
    failed = {**hashed(hashing, T0 - timedelta(days=3)), "status": "FAILED", "error": "sha256 mismatch"}
    # WHEN counted THEN one failure, on the day the change was recorded, and nothing hashed
    assert counted(table, stream_record("MODIFY", old=hashing, new=failed, at=T0)) == both(ALICE, DAY, {"failed": 1})


def test_removals_count_deleted_expired_or_abandoned(table: SqliteTable) -> None:
    # GIVEN a deleted HASHED file, a PENDING file removed by the table's TTL, and one its owner deleted
    done = hashed(uploaded(file_item()), T0)
    pending = file_item(owner=BOB)
    # THEN the first is deleted, the second expired, the third abandoned: on the day of the removal
    assert counted(table, stream_record("REMOVE", old=done, at=T0)) == both(ALICE, DAY, {"deleted": 1})
    assert counted(table, stream_record("REMOVE", old=pending, at=T0, by_ttl=True)) == both(BOB, DAY, {"expired": 1})
    assert counted(table, stream_record("REMOVE", old=pending, at=T0)) == both(BOB, DAY, {"abandoned": 1})


def test_a_copy_of_a_file_hashed_before_in_the_same_space_is_a_duplicate(table: SqliteTable) -> None:
    # GIVEN in alice's space: a copy hashed at T0; in bob's: a FAILED copy hashed at T0 and a HASHED copy
    # hashed later than the files below
    later, latest = T0 + timedelta(seconds=10), T0 + timedelta(seconds=20)
    older = hashed(uploaded(file_item(created_at=aws_datetime(T0 - timedelta(hours=1)))), T0)
    table.put_item(older)
    bob_failed = {**hashed(uploaded(file_item(owner=BOB)), T0), "status": "FAILED"}
    bob_latest = hashed(uploaded(file_item(owner=BOB, created_at=aws_datetime(T0 - timedelta(hours=2)))), latest)
    for item in (bob_failed, bob_latest):
        table.put_item(item)

    def duplicates(item: dict[str, Any], at: datetime = later) -> int:
        hashing = uploaded(item)
        increments = counted(table, stream_record("MODIFY", old=hashing, new=hashed(hashing, at), at=at))
        return increments[(DAY, ALL_SPACES)].get("duplicates", 0)

    # WHEN new files with that content are hashed at `later`
    # THEN alice's is a duplicate; bob's is not (his copies are FAILED, or hashed after it, however old);
    # nor is the first copy itself, nor bob's latest (counted when bob's `later` file is in the table)
    assert duplicates(file_item()) == 1
    assert duplicates(file_item(owner=BOB)) == 0
    assert duplicates(older, T0) == 0
    table.put_item(hashed(uploaded(file_item(owner=BOB)), later))
    assert duplicates(bob_latest, latest) == 1


def test_of_two_copies_hashed_in_either_order_exactly_one_is_a_duplicate(table: SqliteTable) -> None:
    # GIVEN two copies in one space, the younger hashed first, both in the table before either is counted
    first = hashed(uploaded(file_item(created_at=aws_datetime(T0))), T0 + timedelta(seconds=1))
    second = hashed(uploaded(file_item(created_at=aws_datetime(T0 - timedelta(hours=1)))), T0 + timedelta(seconds=2))
    for item in (first, second):
        table.put_item(item)

    def duplicates(item: dict[str, Any]) -> int:
        record = stream_record("MODIFY", old=uploaded(item), new=item, at=T0 + timedelta(seconds=3))
        return counted(table, record)[(DAY, ALL_SPACES)].get("duplicates", 0)

    # THEN exactly one of them counts, the one hashed second
    assert (duplicates(first), duplicates(second)) == (0, 1)


@pytest.mark.parametrize(
    ("content_type", "name"),
    [
        ("image/png", "image/png"),
        (" Application/PDF ; charset=binary", "application/pdf"),
        ("image/x-made-up", "image/other"),
        ("video/" + "x" * 10_000, "video/other"),
        ("evil/thing", "other"),
        ("image", "other"),
        ("", "other"),
        (None, "other"),
    ],
)
def test_content_types_are_a_bounded_set_of_names(content_type: str | None, name: str) -> None:
    assert content_type_name(content_type) == name


@pytest.mark.parametrize(("ms", "bucket"), [(0, 0), (1, 0), (2, 4), (3, 7), (1000, 40), (10**12, MAX_BUCKET)])
def test_latency_buckets_are_log_scale_and_capped(ms: float, bucket: int) -> None:
    assert latency_bucket(ms) == bucket


# --- the window ------------------------------------------------------------------------------------
def add(stats: SqliteStatsStore, day: str, space: str, counters: dict[str, int]) -> None:
    stats.add_once(str(uuid.uuid4()), {(day, space): counters}, marker_expires=2**40)


def test_window_stats_sums_the_days_of_the_window_and_lists_each(stats: SqliteStatsStore) -> None:
    # GIVEN alice's counters on the window's first and last day, just outside it on both sides, and bob's
    today = date(2025, 3, 7)
    add(stats, "2025-02-28", ALICE, {"uploads": 100})  # 8 days before today: outside a 7-day window
    add(stats, "2025-03-01", ALICE, {"uploads": 2, "bytes": 30, "uploads:image/png": 2, "bytes:image/png": 30})
    add(stats, "2025-03-07", ALICE, {"uploads": 1, "bytes": 5, "uploads:text/plain": 1, "bytes:text/plain": 5})
    add(stats, "2025-03-07", ALICE, {"hashed": 2, "hashedBytes": 35, "hashMs": 7000, "latency:4": 1, "latency:8": 1})
    add(stats, "2025-03-07", ALICE, {"failed": 1, "duplicates": 1, "deleted": 1, "expired": 3})
    add(stats, "2025-03-08", ALICE, {"uploads": 100})  # tomorrow
    add(stats, "2025-03-07", BOB, {"uploads": 100})
    # WHEN alice's 7 days ending today are read
    answer = window_stats(stats, ALICE, 7, today)
    # THEN the totals are those of 03-01 .. 03-07 only, and every day is listed, oldest first, zeros included
    zero = {"uploads": 0, "bytes": 0, "hashed": 0, "failed": 0, "duplicates": 0, "deleted": 0, "latency": None}
    assert answer == {
        "uploads": 3,
        "bytes": 35,
        "hashed": 2,
        "failed": 1,
        "duplicates": 1,
        "deleted": 1,
        "hashedBytes": 35,
        "latency": {"p50": 2.0, "p95": 4.0, "p99": 4.0},
        "throughput": 5.0,
        "contentTypes": [
            {"contentType": "image/png", "uploads": 2, "bytes": 30},
            {"contentType": "text/plain", "uploads": 1, "bytes": 5},
        ],
        "days": [
            {**zero, "date": "2025-03-01", "uploads": 2, "bytes": 30},
            *({**zero, "date": f"2025-03-0{n}"} for n in range(2, 7)),
            {
                **zero,
                "date": "2025-03-07",
                "uploads": 1,
                "bytes": 5,
                "hashed": 2,
                "failed": 1,
                "duplicates": 1,
                "deleted": 1,
                "latency": {"p50": 2.0, "p95": 4.0, "p99": 4.0},
            },
        ],
    }


def test_percentiles_are_the_upper_edges_of_the_buckets_holding_the_ranks(stats: SqliteStatsStore) -> None:
    # GIVEN 100 latencies: 50 of at most 2 ms (bucket 4), 45 of 4 ms, 4 of 8 ms and one of about 1 s
    add(stats, DAY, ALICE, {"latency:4": 50, "latency:8": 45, "latency:12": 4, "latency:40": 1})
    # WHEN the day is read THEN rank 50 is in bucket 4, rank 95 in bucket 8, rank 99 in bucket 12
    answer = window_stats(stats, ALICE, 1, date(2025, 3, 1))
    assert answer["latency"] == {"p50": 2.0, "p95": 4.0, "p99": 8.0}
    # AND an odd edge is given to 0.1 ms: bucket 43 is up to 2^(43/4) = 1722.2 ms
    add(stats, DAY, BOB, {"latency:43": 1})
    assert window_stats(stats, BOB, 1, date(2025, 3, 1))["latency"] == {"p50": 1722.2, "p95": 1722.2, "p99": 1722.2}


def test_an_empty_window_has_zeros_and_no_latency(stats: SqliteStatsStore) -> None:
    answer = window_stats(stats, ALICE, 1, date(2025, 3, 1))
    assert answer["uploads"] == 0 and answer["latency"] is None and answer["throughput"] is None
    assert answer["contentTypes"] == []
    assert [day["date"] for day in answer["days"]] == [DAY]
    with pytest.raises(ValueError, match="at least one day"):
        window_stats(stats, ALICE, 0, date(2025, 3, 1))


# --- the rollup ------------------------------------------------------------------------------------
def test_rollup_across_midnight_summarises_each_day_and_prunes_old_ones(
    table: SqliteTable, stats: SqliteStatsStore
) -> None:
    # GIVEN a file uploaded at 23:59:30 on 03-01 by alice and hashed at 00:00:30 on 03-02, bob's upload on
    # 03-01, and counters from long ago
    upload_time = datetime(2025, 3, 1, 23, 59, 30, tzinfo=UTC)
    pending = file_item()
    hashing = uploaded(pending, upload_time)
    bob_pending = file_item(owner=BOB, content_type="text/plain", size=10)
    records = [
        stream_record("MODIFY", old=pending, new=hashing, at=upload_time),
        stream_record("MODIFY", old=hashing, new=hashed(hashing, upload_time + timedelta(minutes=1)), at=upload_time),
        stream_record("MODIFY", old=bob_pending, new=uploaded(bob_pending, T0), at=T0),
    ]
    for raw in records:
        stats.add_once(raw["eventID"], counted(table, raw), marker_expires=2**40)
    add(stats, "2024-12-31", ALL_SPACES, {"uploads": 9})
    add(stats, "2025-01-30", ALL_SPACES, {"uploads": 9})

    # WHEN 03-01 is rolled up (as the run at 00:05 on 03-02 does) with 30 days kept
    summary = rollup(stats, date(2025, 3, 1), 30)

    # THEN 03-01 has both uploads and no hashing, from two spaces
    assert summary == {
        "date": DAY,
        "uploads": 2,
        "bytes": 1010,
        "hashed": 0,
        "failed": 0,
        "duplicates": 0,
        "deleted": 0,
        "expired": 0,
        "abandoned": 0,
        "hashedBytes": 0,
        "latency": None,
        "throughput": None,
        "contentTypes": [
            {"contentType": "image/png", "uploads": 1, "bytes": 1000},
            {"contentType": "text/plain", "uploads": 1, "bytes": 10},
        ],
        "spaces": 2,
    }
    # AND it is stored; days before 01-30 (03-01 less 30 days) are gone, 01-30 stays
    assert stats.summaries([DAY]) == {DAY: summary}
    assert stats.counters(ALL_SPACES, ["2024-12-31", "2025-01-30"]) == {"2025-01-30": {"uploads": 9}}
    # AND a rerun gives the same summary
    assert rollup(stats, date(2025, 3, 1), 30) == summary
    # AND 03-02 has the hashing: 1000 bytes in 60 s, latency bucket ceil(4*log2(60000)) = 64 -> 2^16 ms
    next_day = rollup(stats, date(2025, 3, 2), 30)
    assert (next_day["hashed"], next_day["uploads"], next_day["spaces"]) == (1, 0, 1)
    assert next_day["throughput"] == pytest.approx(1000 / 60)
    assert next_day["latency"] == {"p50": 65536.0, "p95": 65536.0, "p99": 65536.0}
