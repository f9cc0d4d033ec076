"""The analytics counters in SQLite, in the same database file as the file table.

Not responsible for what the counters mean (see `lambdashare.domain.analytics`).
A counter is a row (day, space, name, value); a stream record's marker is a row (event_id, expires)
inserted in the same transaction as its counters, and deleted once expired (by the next `add_once`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from lambdashare.adapters.local._sqlite import connect, transaction
from lambdashare.ports.stats_store import Increments

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stats_counters (
    day TEXT NOT NULL,
    space TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (day, space, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stats_markers (
    event_id TEXT PRIMARY KEY,
    expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stats_markers_by_expiry ON stats_markers (expires);
CREATE TABLE IF NOT EXISTS stats_summaries (
    day TEXT PRIMARY KEY,
    summary TEXT NOT NULL
) WITHOUT ROWID;
"""


class SqliteStatsStore:
    def __init__(self, data_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self._conn = connect(data_dir)
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._clock = clock

    def add_once(self, event_id: str, increments: Increments, *, marker_expires: int) -> bool:
        with transaction(self._conn, self._lock) as conn:
            # an expired marker is forgotten, as DynamoDB's condition on the marker's ttl has it
            conn.execute("DELETE FROM stats_markers WHERE expires < ?", (int(self._clock()),))
            inserted = conn.execute(
                "INSERT OR IGNORE INTO stats_markers (event_id, expires) VALUES (?, ?)", (event_id, marker_expires)
            ).rowcount
            if inserted:
                conn.executemany(
                    "INSERT INTO stats_counters (day, space, name, value) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (day, space, name) DO UPDATE SET value = value + excluded.value",
                    [
                        (day, space, name, amount)
                        for (day, space), counters in increments.items()
                        for name, amount in counters.items()
                    ],
                )
        return bool(inserted)

    def counters(self, space: str, days: Collection[str]) -> dict[str, dict[str, int]]:
        days = list(days)
        with self._lock:
            rows = self._conn.execute(
                "SELECT day, name, value FROM stats_counters WHERE space = ?"
                f" AND day IN ({', '.join('?' * len(days))})",
                (space, *days),
            ).fetchall()
        answer: dict[str, dict[str, int]] = {}
        for day, name, value in rows:
            answer.setdefault(day, {})[name] = value
        return answer

    def day_spaces(self, day: str) -> dict[str, dict[str, int]]:
        with self._lock:
            rows = self._conn.execute("SELECT space, name, value FROM stats_counters WHERE day = ?", (day,)).fetchall()
        answer: dict[str, dict[str, int]] = {}
        for space, name, value in rows:
            answer.setdefault(space, {})[name] = value
        return answer

    def put_summary(self, day: str, summary: Mapping[str, Any]) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO stats_summaries (day, summary) VALUES (?, ?)", (day, json.dumps(summary))
            )

    def summaries(self, days: Collection[str]) -> dict[str, dict[str, Any]]:
        days = list(days)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT day, summary FROM stats_summaries WHERE day IN ({', '.join('?' * len(days))})", days
            ).fetchall()
        return {day: json.loads(summary) for day, summary in rows}

    def prune_before(self, day: str) -> int:
        """Counters go by (day, space): one DynamoDB item each, so both stores count alike."""
        with transaction(self._conn, self._lock) as conn:
            (items,) = conn.execute(
                "SELECT count(*) FROM (SELECT DISTINCT day, space FROM stats_counters WHERE day < ?)", (day,)
            ).fetchone()
            conn.execute("DELETE FROM stats_counters WHERE day < ?", (day,))
            items += conn.execute("DELETE FROM stats_summaries WHERE day < ?", (day,)).rowcount
        return int(items)
