"""Analytics: what each change of the file table adds to the counters, and the figures read back from them.

Not responsible for storage or delivery: a `StatsStore` keeps the counters (exactly once per stream record),
and the stream (DynamoDB's, or the emulator's) and the schedule call `functions/analytics`.
Spec: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/streams-lambda.html

Counters, per UTC day and space (the owner's space, and `ALL_SPACES`), never decremented:

- ``uploads``, ``bytes``: a file's bytes arrived (it left PENDING), on its ``uploaded_at`` day;
  ``uploads:<type>``, ``bytes:<type>`` the same per content type (`content_type_name`).
- ``hashed``: a file became HASHED, on its ``hashed_at`` day; ``hashedBytes`` and ``hashMs`` (its
  upload->hashed milliseconds) give the throughput; ``latency:<bucket>`` the latency histogram
  (`latency_bucket`); ``duplicates``: a HASHED file of the same space hashed before had the same sha256.
- ``failed``: a file became FAILED, on the day of the change.
- ``deleted``: a file whose bytes had arrived was removed; a PENDING file removed by the table's TTL is
  ``expired``, by its owner ``abandoned`` (on the day of the removal).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord, DynamoDBRecordEventName

from lambdashare.domain.media_types import KNOWN_TYPES, TOP_LEVEL_TYPES
from lambdashare.domain.model import FileRecord, FileStatus
from lambdashare.ports.stats_store import ALL_SPACES, PUBLIC_SPACE, Increments, StatsStore
from lambdashare.ports.table import Table

logger = logging.getLogger(__name__)

UPLOADS = "uploads"
BYTES = "bytes"
HASHED = "hashed"
HASHED_BYTES = "hashedBytes"
HASH_MS = "hashMs"
FAILED = "failed"
DUPLICATES = "duplicates"
DELETED = "deleted"
EXPIRED = "expired"
ABANDONED = "abandoned"
#: Per content type: f"{TYPE_UPLOADS}{name}" and f"{TYPE_BYTES}{name}".
TYPE_UPLOADS = "uploads:"
TYPE_BYTES = "bytes:"
#: Per latency bucket: f"{LATENCY}{bucket}".
LATENCY = "latency:"

#: Who removes an item when its TTL has passed (the stream record's userIdentity.principalId).
TTL_PRINCIPAL = "dynamodb.amazonaws.com"
#: Buckets per doubling of the latency: each bucket's upper edge is 2^(1/4) (19 %) above its lower one.
BUCKETS_PER_DOUBLING = 4
#: The last bucket holds every latency from 2^30 ms (12.4 days) on.
MAX_BUCKET = 30 * BUCKETS_PER_DOUBLING
PERCENTILES = (50, 95, 99)
#: Copies of a content looked at to find an older hashed one (FAILED files carrying the sha256 come first
#: only if there are this many of them).
DUPLICATE_LOOKUP_LIMIT = 100

OTHER_TYPE = "other"


def space_of(owner: str | None) -> str:
    return PUBLIC_SPACE if owner is None else owner


def content_type_name(content_type: str | None) -> str:
    """A bounded name for a client-chosen content type: a known `type/subtype`, else `type/other` for a
    registered top-level type, else `other` (a client never makes up a counter's name)."""
    essence = (content_type or "").split(";", 1)[0].strip().lower()
    if essence in KNOWN_TYPES:
        return essence
    top = essence.split("/", 1)[0]
    return f"{top}/other" if "/" in essence and top in TOP_LEVEL_TYPES else OTHER_TYPE


def latency_bucket(ms: float) -> int:
    """`ceil(4 * log2(ms))`, 0 for a millisecond or less, at most MAX_BUCKET."""
    if ms <= 1:
        return 0
    return min(MAX_BUCKET, math.ceil(BUCKETS_PER_DOUBLING * math.log2(ms)))


def bucket_upper_edge(bucket: int) -> float:
    """The largest latency (ms) a bucket holds, to 0.1 ms (the last bucket's lower edge: it has none)."""
    return round(2 ** (bucket / BUCKETS_PER_DOUBLING), 1)


# --- counting one stream record --------------------------------------------------------------------
class _Increments:
    def __init__(self, space: str) -> None:
        self._space = space
        self.counts: dict[tuple[str, str], Counter[str]] = {}

    def add(self, day: str, name: str, amount: int = 1) -> None:
        for space in (self._space, ALL_SPACES):
            self.counts.setdefault((day, space), Counter())[name] += amount


def increments_of(record: DynamoDBRecord, table: Table) -> Increments:
    """The counters one stream record of the file table adds (see the module docstring); `table` finds
    duplicates. A record that changes no figure (a share, the published flag) adds nothing."""
    stream = record.dynamodb
    if stream is None or record.event_name is None:
        raise ValueError(f"Stream record {record.event_id} has no dynamodb change.")
    old = FileRecord.from_item(stream.old_image) if stream.old_image else None
    new = FileRecord.from_item(stream.new_image) if stream.new_image else None
    current = new or old
    if current is None:
        raise ValueError(f"Stream record {record.event_id} has neither image: the stream must be NEW_AND_OLD_IMAGES.")
    if stream.approximate_creation_date_time is None:
        raise ValueError(f"Stream record {record.event_id} has no ApproximateCreationDateTime.")
    today = datetime.fromtimestamp(stream.approximate_creation_date_time, UTC).date().isoformat()
    counts = _Increments(space_of(current.owner))

    if new is not None and _arrived(new) and (old is None or not _arrived(old)):
        day = _day(new.uploaded_at) or today
        type_name = content_type_name(new.content_type)
        for name, amount in (
            (UPLOADS, 1),
            (BYTES, new.size),
            (TYPE_UPLOADS + type_name, 1),
            (TYPE_BYTES + type_name, new.size),
        ):
            counts.add(day, name, amount)
    if new is not None and _became(FileStatus.HASHED, old, new):
        day = _day(new.hashed_at) or today
        counts.add(day, HASHED)
        if new.uploaded_at and new.hashed_at:
            ms = max(0, round((_moment(new.hashed_at) - _moment(new.uploaded_at)) / timedelta(milliseconds=1)))
            counts.add(day, HASHED_BYTES, new.size)
            counts.add(day, HASH_MS, ms)
            counts.add(day, f"{LATENCY}{latency_bucket(ms)}")
        if _has_older_copy(table, new):
            counts.add(day, DUPLICATES)
    if new is not None and _became(FileStatus.FAILED, old, new):
        counts.add(today, FAILED)
    if record.event_name is DynamoDBRecordEventName.REMOVE and old is not None:
        if _arrived(old):
            counts.add(today, DELETED)
        elif record.user_identity.get("principalId") == TTL_PRINCIPAL:
            counts.add(today, EXPIRED)
        else:
            counts.add(today, ABANDONED)
    return {key: dict(counter) for key, counter in counts.counts.items()}


def _arrived(file: FileRecord) -> bool:
    return file.status is not FileStatus.PENDING


def _became(status: FileStatus, old: FileRecord | None, new: FileRecord) -> bool:
    return new.status is status and (old is None or old.status is not status)


def _moment(aws_datetime: str) -> datetime:
    return datetime.fromisoformat(aws_datetime).astimezone(UTC)


def _day(aws_datetime: str | None) -> str | None:
    return _moment(aws_datetime).date().isoformat() if aws_datetime else None


def _has_older_copy(table: Table, file: FileRecord) -> bool:
    """Another HASHED file of the same space with this content, hashed before `file` (ties by id): of n
    copies exactly n - 1 count, whichever was uploaded first, hashed first or counted first."""
    if file.sha256 is None or file.hashed_at is None:
        return False
    for item in table.query_by_sha256(file.sha256, DUPLICATE_LOOKUP_LIMIT, file.owner):
        other = FileRecord.from_item(item)
        if (
            other.status is FileStatus.HASHED
            and other.hashed_at is not None
            and (other.hashed_at, other.id) < (file.hashed_at, file.id)
        ):
            return True
    return False


# --- reading the counters --------------------------------------------------------------------------
def _figures(counters: Mapping[str, int]) -> dict[str, int]:
    return {name: counters.get(name, 0) for name in (UPLOADS, BYTES, HASHED, FAILED, DUPLICATES, DELETED)}


def latency_percentiles(counters: Mapping[str, int]) -> dict[str, float] | None:
    """p50/p95/p99 of upload->hashed latency in ms: the upper edge of the bucket holding each rank."""
    histogram = sorted(
        (int(name.removeprefix(LATENCY)), count)
        for name, count in counters.items()
        if name.startswith(LATENCY) and count > 0
    )
    total = sum(count for _, count in histogram)
    if total == 0:
        return None
    answer: dict[str, float] = {}
    for percentile in PERCENTILES:
        rank = -(-percentile * total // 100)  # ceil without floats
        seen = 0
        for bucket, count in histogram:
            seen += count
            if seen >= rank:
                answer[f"p{percentile}"] = bucket_upper_edge(bucket)
                break
    return answer


def throughput(counters: Mapping[str, int]) -> float | None:
    """Bytes hashed per second of upload->hashed time."""
    ms = counters.get(HASH_MS, 0)
    return counters.get(HASHED_BYTES, 0) * 1000 / ms if ms > 0 else None


def content_types(counters: Mapping[str, int]) -> list[dict[str, Any]]:
    """Uploads and bytes per content type, most uploads first (then by name)."""
    names = {name.removeprefix(TYPE_UPLOADS) for name in counters if name.startswith(TYPE_UPLOADS)}
    rows = [
        {"contentType": name, "uploads": counters[TYPE_UPLOADS + name], "bytes": counters.get(TYPE_BYTES + name, 0)}
        for name in names
    ]
    return sorted(rows, key=lambda row: (-row["uploads"], row["contentType"]))


def window_stats(store: StatsStore, space: str, days: int, today: date) -> dict[str, Any]:
    """The GraphQL `Stats` of `space` over the `days` UTC days ending with `today` (oldest day first)."""
    if days < 1:
        raise ValueError(f"A window has at least one day, not {days}.")
    dates = [(today - timedelta(days=back)).isoformat() for back in reversed(range(days))]
    per_day = store.counters(space, dates)
    total: Counter[str] = Counter()
    for counters in per_day.values():
        total.update(counters)
    return {
        **_figures(total),
        "hashedBytes": total.get(HASHED_BYTES, 0),
        "latency": latency_percentiles(total),
        "throughput": throughput(total),
        "contentTypes": content_types(total),
        "days": [
            {
                "date": day,
                **_figures(per_day.get(day, {})),
                "latency": latency_percentiles(per_day.get(day, {})),
            }
            for day in dates
        ],
    }


def rollup(store: StatsStore, day: date, retention_days: int) -> dict[str, Any]:
    """Store the summary of `day` (every space together) and prune the days older than the retention.

    Idempotent: a rerun stores and returns the same summary (unless records of `day` arrived meanwhile)."""
    spaces = store.day_spaces(day.isoformat())
    counters = spaces.get(ALL_SPACES, {})
    summary = {
        "date": day.isoformat(),
        **_figures(counters),
        "expired": counters.get(EXPIRED, 0),
        "abandoned": counters.get(ABANDONED, 0),
        "hashedBytes": counters.get(HASHED_BYTES, 0),
        "latency": latency_percentiles(counters),
        "throughput": throughput(counters),
        "contentTypes": content_types(counters),
        "spaces": sum(1 for space in spaces if space != ALL_SPACES),
    }
    store.put_summary(day.isoformat(), summary)
    cutoff = day - timedelta(days=retention_days)
    pruned = store.prune_before(cutoff.isoformat())
    logger.info("rolled up %s; pruned %d items from before %s", day.isoformat(), pruned, cutoff.isoformat())
    return summary
