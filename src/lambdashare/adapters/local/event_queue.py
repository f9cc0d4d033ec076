"""A durable queue of Lambda invocations (S3 notifications, stream batches) in SQLite.

An event is written before the storage request that caused it is acknowledged, and removed only
after its handler returned, so a crash between the two re-delivers it on restart (at least once,
as AWS does). Not responsible for running handlers: the emulator's dispatcher does.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdashare.adapters.local._sqlite import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS invocations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    function TEXT NOT NULL,
    event TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    dead INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
"""


@dataclass(frozen=True, slots=True)
class Invocation:
    seq: int
    function: str
    event: dict[str, Any]
    attempts: int


class SqliteEventQueue:
    def __init__(self, data_dir: Path) -> None:
        self._conn = connect(data_dir)
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def put(self, function: str, event: dict[str, Any]) -> Invocation:
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO invocations (function, event, enqueued_at) VALUES (?, ?, ?)",
                (function, json.dumps(event), time.time()),
            )
        assert cur.lastrowid is not None
        return Invocation(cur.lastrowid, function, event, 0)

    def pending(self) -> list[Invocation]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, function, event, attempts FROM invocations WHERE dead = 0 ORDER BY seq"
            ).fetchall()
        return [Invocation(seq, fn, json.loads(event), attempts) for seq, fn, event, attempts in rows]

    def done(self, seq: int) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM invocations WHERE seq = ?", (seq,))

    def failed(self, seq: int, error: str, *, dead: bool) -> None:
        """Count a failed attempt; a dead invocation stays on record but is not retried."""
        with self._lock:
            self._conn.execute(
                "UPDATE invocations SET attempts = attempts + 1, dead = ?, last_error = ? WHERE seq = ?",
                (int(dead), error[:2000], seq),
            )
