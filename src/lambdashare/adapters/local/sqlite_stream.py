"""DynamoDB Streams in SQLite: the file table's change records, and what their readers have consumed.

`SqliteTable` appends a record (`append_change`) in the transaction of each write that changes an
item, so records are in commit order and a crash never keeps a write without its record. The
emulator's event-source mapping reads them through `SqliteStream`, which also keeps each mapping's
checkpoint and what it sent to its on-failure destination. Not responsible for delivery or retries:
`emulator/stream_mapping.py` is. Spec: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_Record.html
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lambdashare.adapters.dynamo_item import item_in, serialize
from lambdashare.adapters.local._sqlite import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS stream_records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stream_label (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    label TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stream_checkpoints (
    mapping TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS stream_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    mapping TEXT NOT NULL,
    sent_at REAL NOT NULL,
    message TEXT NOT NULL
);
"""
ACCOUNT = "000000000000"
VIEW_TYPE = "NEW_AND_OLD_IMAGES"
#: How DynamoDB's TTL deletions are marked in the stream.
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def stream_arn(conn: sqlite3.Connection, table_name: str, region: str) -> str:
    """The stream's ARN; its label is the time the stream was first used in this data dir, as DynamoDB's is
    the time it was enabled (the caller holds the schema)."""
    label = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    conn.execute("INSERT OR IGNORE INTO stream_label (id, label) VALUES (1, ?)", (label,))
    (label,) = conn.execute("SELECT label FROM stream_label").fetchone()
    return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table_name}/stream/{label}"


def _number_size(text: str) -> int:
    """A byte per two significant digits, paired from the decimal point (DynamoDB's base 100), plus one."""
    whole, _, fraction = text.lstrip("-").partition(".")
    whole, fraction = whole.lstrip("0"), fraction.rstrip("0")
    return (len(whole) + 1) // 2 + (len(fraction) + 1) // 2 + 1


def _value_size(value: Mapping[str, Any]) -> int:
    """DynamoDB's item-size rules: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html"""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(inner)
    if kind in ("B", "BS"):
        return len(inner) if kind == "B" else sum(len(b) for b in inner)
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(n) for n in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(v) for name, v in inner.items())
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    return 1  # BOOL, NULL


def _image_size(image: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in image.items())


def change_record(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    arn: str,
    region: str,
    now: float,
    user_identity: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """The stream record of a write, as Lambda receives it, but its `SequenceNumber` (the commit order,
    added when read); None for a write that changes nothing (DynamoDB writes no record for one)."""
    old_image = dict(item_in(old)) if old is not None else None
    new_image = dict(item_in(new)) if new is not None else None
    if old_image == new_image:
        return None
    item_id = (new or old or {})["id"]
    keys = {"id": dict(serialize(item_id))}
    dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": int(now), "Keys": keys}
    if new_image is not None:
        dynamodb["NewImage"] = new_image
    if old_image is not None:
        dynamodb["OldImage"] = old_image
    dynamodb["SizeBytes"] = sum(_image_size(image) for image in (keys, new_image, old_image) if image)
    dynamodb["StreamViewType"] = VIEW_TYPE
    record: dict[str, Any] = {
        "eventID": uuid.uuid4().hex,
        "eventName": "INSERT" if old is None else "REMOVE" if new is None else "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": arn,
    }
    if user_identity is not None:
        record["userIdentity"] = dict(user_identity)
    return record


def append_change(conn: sqlite3.Connection, record: Mapping[str, Any] | None, now: float) -> None:
    """Add `record` to the stream; the caller holds the write's transaction open around this."""
    if record is not None:
        conn.execute(
            "INSERT INTO stream_records (created_at, record) VALUES (?, ?)",
            (now, json.dumps(record)),
        )


def sequence_number(seq: int) -> str:
    """A numeric string that sorts as the number does (DynamoDB Local's 21 digits)."""
    return f"{seq:021d}"


@dataclass(frozen=True, slots=True)
class StreamRecord:
    seq: int
    created_at: float
    record: dict[str, Any]


class SqliteStream:
    """The reading side: records after a position, checkpoints, on-failure messages, trimming."""

    def __init__(self, data_dir: Path) -> None:
        self._conn = connect(data_dir)
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def read(self, after: int, limit: int) -> list[StreamRecord]:
        """Up to `limit` records with a position greater than `after`, in commit order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, created_at, record FROM stream_records WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        records = []
        for seq, created_at, body in rows:
            record = json.loads(body)
            record["dynamodb"]["SequenceNumber"] = sequence_number(seq)
            records.append(StreamRecord(seq, created_at, record))
        return records

    def last_position(self) -> int:
        """The position of the newest record written so far (0 for none): where LATEST starts."""
        with self._lock:
            row = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'stream_records'").fetchone()
        return int(row[0]) if row else 0

    def checkpoint(self, mapping: str) -> int | None:
        with self._lock:
            row = self._conn.execute("SELECT seq FROM stream_checkpoints WHERE mapping = ?", (mapping,)).fetchone()
        return int(row[0]) if row else None

    def save_checkpoint(self, mapping: str, seq: int) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO stream_checkpoints (mapping, seq) VALUES (?, ?)"
                " ON CONFLICT (mapping) DO UPDATE SET seq = excluded.seq",
                (mapping, seq),
            )

    def put_failure(self, mapping: str, message: Mapping[str, Any]) -> None:
        """Keep what the mapping sent to its on-failure destination (locally, this table is the queue)."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO stream_failures (mapping, sent_at, message) VALUES (?, ?, ?)",
                (mapping, time.time(), json.dumps(message)),
            )

    def failures(self, mapping: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT message FROM stream_failures WHERE mapping = ? ORDER BY id", (mapping,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def trim_failures(self, before: float) -> int:
        """Delete the on-failure messages sent before `before`."""
        with self._lock:
            return self._conn.execute("DELETE FROM stream_failures WHERE sent_at < ?", (before,)).rowcount

    def trim(self, mappings: Collection[str], before: float) -> int:
        """Delete the records written before `before` that every one of `mappings` has passed."""
        with self._lock:
            passed = None
            if mappings:
                names = list(mappings)
                rows = self._conn.execute(
                    f"SELECT mapping, seq FROM stream_checkpoints WHERE mapping IN ({','.join('?' * len(names))})",
                    names,
                ).fetchall()
                passed = min(seq for _, seq in rows) if len(rows) == len(set(names)) else 0
            cur = self._conn.execute(
                "DELETE FROM stream_records WHERE created_at < ? AND (? IS NULL OR seq <= ?)",
                (before, passed, passed),
            )
        return cur.rowcount
