"""The analytics function's handler, cold-started on the local backend in tmp_path: stream batches with partial
failures and redeliveries, the schedule's rollup event, and events it does not know."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lambdashare.adapters.local.sqlite_stats_store import SqliteStatsStore
from lambdashare.backends import ports_from_env, stats_store_from_env
from lambdashare.domain.analytics import window_stats
from lambdashare.domain.model import FileRecord, aws_datetime
from lambdashare.emulator.lambda_runtime import LambdaContext
from lambdashare.ports.stats_store import ALL_SPACES
from tests.stream_records import stream_record

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
OWNER = "alice-sub"


@pytest.fixture
def analytics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """`functions.analytics.app`, cold-started on the local backend in tmp_path."""
    for name, value in {
        "LAMBDASHARE_BACKEND": "local",
        "LAMBDASHARE_DATA_DIR": str(tmp_path),
        "LAMBDASHARE_SECRET": "unit-test-secret",
        "LAMBDASHARE_STATS_RETENTION_DAYS": "30",
        "POWERTOOLS_SERVICE_NAME": "lambdashare",
        "POWERTOOLS_METRICS_NAMESPACE": "lambdashare",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    ports_from_env.cache_clear()
    from functions.analytics import app

    stats_store_from_env.cache_clear()
    try:
        yield app
    finally:
        ports_from_env.cache_clear()
        stats_store_from_env.cache_clear()


def context() -> LambdaContext:
    return LambdaContext(function_name="AnalyticsFunction")


def upload_and_hash_records() -> list[dict[str, Any]]:
    """A file's bytes arriving, then its hashing, 2 s later."""
    pending = FileRecord(
        id="f1", name="a.txt", size=2048, key="uploads/f1", created_at=aws_datetime(T0), owner=OWNER
    ).to_item()
    hashing = {**pending, "status": "HASHING", "uploaded_at": aws_datetime(T0), "ttl": None}
    hashes = {"md5": "1" * 32, "sha1": "2" * 40, "sha256": "3" * 64, "sha512": "4" * 128}
    done = {**hashing, "status": "HASHED", "hashes": hashes, "hashed_at": aws_datetime(T0 + timedelta(seconds=2))}
    return [
        stream_record("MODIFY", old=pending, new=hashing, at=T0),
        stream_record("MODIFY", old=hashing, new=done, at=T0 + timedelta(seconds=2)),
    ]


def figures(tmp_path: Path, space: str = OWNER) -> dict[str, Any]:
    answer = window_stats(SqliteStatsStore(tmp_path), space, 1, T0.date())
    return {name: answer[name] for name in ("uploads", "bytes", "hashed", "hashedBytes", "latency")}


def test_a_batch_counts_its_good_records_and_reports_the_failing_one(analytics: ModuleType, tmp_path: Path) -> None:
    # GIVEN a batch: the upload, a record whose image is not a file (no status), and the hashing
    upload, hashing = upload_and_hash_records()
    broken = stream_record("INSERT", new={"id": "f2", "name": "x"}, at=T0)
    batch = {"Records": [upload, broken, hashing]}
    # WHEN the handler gets it
    answer = analytics.handler(batch, context())
    # THEN the broken record is reported by its sequence number (Lambda retries from it), the others counted
    assert answer == {"batchItemFailures": [{"itemIdentifier": broken["dynamodb"]["SequenceNumber"]}]}
    expected = {
        "uploads": 1,
        "bytes": 2048,
        "hashed": 1,
        "hashedBytes": 2048,
        "latency": {"p50": 2048.0, "p95": 2048.0, "p99": 2048.0},
    }
    assert figures(tmp_path) == expected
    assert figures(tmp_path, ALL_SPACES) == expected

    # WHEN the same batch is delivered again (a retry of the whole batch, as after a timeout)
    again = analytics.handler(batch, context())
    # THEN nothing more is counted, and the broken record is still reported
    assert again == answer
    assert figures(tmp_path) == expected


def test_the_rollup_event_rolls_up_the_day_before_its_scheduled_time(analytics: ModuleType, tmp_path: Path) -> None:
    # GIVEN a counted upload on 03-01
    analytics.handler({"Records": upload_and_hash_records()[:1]}, context())
    # WHEN the schedule fires at 00:05 on 03-02, as EventBridge Scheduler sends the template's Input
    event = {"job": "rollup", "scheduledTime": "2025-03-02T00:05:00Z"}
    summary = analytics.handler(event, context())
    # THEN 03-01 is summarised, stored, and returned
    assert (summary["date"], summary["uploads"], summary["bytes"], summary["spaces"]) == ("2025-03-01", 1, 2048, 1)
    assert SqliteStatsStore(tmp_path).summaries(["2025-03-01"]) == {"2025-03-01": summary}
    assert date.fromisoformat(summary["date"]) == T0.date()


def test_a_later_rollup_catches_up_with_records_counted_after_their_days_rollup(
    analytics: ModuleType, tmp_path: Path
) -> None:
    # GIVEN 03-01 rolled up at 00:05 on 03-02 before its upload was counted (stream lag)
    analytics.handler({"job": "rollup", "scheduledTime": "2025-03-02T00:05:00Z"}, context())
    assert SqliteStatsStore(tmp_path).summaries(["2025-03-01"])["2025-03-01"]["uploads"] == 0
    analytics.handler({"Records": upload_and_hash_records()[:1]}, context())
    # WHEN the schedule fires the next day
    analytics.handler({"job": "rollup", "scheduledTime": "2025-03-03T00:05:00Z"}, context())
    # THEN 03-01's summary counts the late upload, and 03-02 is summarised too
    summaries = SqliteStatsStore(tmp_path).summaries(["2025-03-01", "2025-03-02"])
    assert (summaries["2025-03-01"]["uploads"], summaries["2025-03-02"]["uploads"]) == (1, 0)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"detail-type": "Scheduled Event"}, "Expected a DynamoDB stream batch"),
        ({"job": "rollup"}, "needs an ISO 8601 'scheduledTime'"),
        ({"job": "rollup", "scheduledTime": "yesterday"}, "needs an ISO 8601 'scheduledTime'"),
        ({"job": "rollup", "scheduledTime": "2025-03-02T00:05:00"}, "has no time zone"),
    ],
)
def test_an_unknown_event_is_a_clear_error(analytics: ModuleType, event: dict[str, Any], message: str) -> None:
    with pytest.raises(analytics.UnknownEventError, match=message):
        analytics.handler(event, context())
