"""A durable queue of Lambda invocations (S3 notifications, stream batches) in SQLite.

An event is written before the storage request that caused it is acknowledged, and removed only
after its handler returned, so a crash between the two re-delivers it on restart (at least once,
as AWS does). An S3 notification is first *staged*, awaiting the object it announces, before that
object is published: `release` makes it ready once the publish succeeded, `discard` drops it if the
publish failed, and `settle` decides a staged record no request holds any more (its request died):
ready if its object exists, dropped if not. So an object is never stored without its notification.
Not responsible for running handlers: the emulator's dispatcher does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
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
#: Staged records name the object key they await; NULL once ready (added to queues of older data dirs).
_AWAITS = "ALTER TABLE invocations ADD COLUMN awaits_key TEXT"


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
        if "awaits_key" not in {row[1] for row in self._conn.execute("PRAGMA table_info(invocations)")}:
            self._conn.execute(_AWAITS)
        self._lock = threading.Lock()
        #: Staged records whose request is still running in this process: `settle` leaves them alone.
        self._held: set[int] = set()

    def put(self, function: str, event: dict[str, Any]) -> Invocation:
        """Write `event` for `function`, ready to deliver."""
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO invocations (function, event, enqueued_at) VALUES (?, ?, ?)",
                (function, json.dumps(event), time.time()),
            )
        assert cur.lastrowid is not None
        return Invocation(cur.lastrowid, function, event, 0)

    def stage(self, functions: Iterable[str], event: dict[str, Any], awaits_key: str) -> list[int]:
        """Write `event` for each function, held until its object at `awaits_key` is published or not."""
        body, now = json.dumps(event), time.time()
        with self._lock:
            seqs = []
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for function in functions:
                    cur = self._conn.execute(
                        "INSERT INTO invocations (function, event, enqueued_at, awaits_key) VALUES (?, ?, ?, ?)",
                        (function, body, now, awaits_key),
                    )
                    assert cur.lastrowid is not None
                    seqs.append(cur.lastrowid)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._held.update(seqs)
        return seqs

    def release(self, seqs: list[int]) -> list[Invocation]:
        """The object was published: the staged records are ready; returns them to deliver."""
        with self._lock:
            try:
                return self._make_ready(seqs)
            finally:
                self._held.difference_update(seqs)  # if this failed, `settle` finds them

    def discard(self, seqs: list[int]) -> None:
        """The object was not published (the key held one already, or the request failed)."""
        with self._lock:
            try:
                self._conn.executemany("DELETE FROM invocations WHERE seq = ?", [(seq,) for seq in seqs])
            finally:
                self._held.difference_update(seqs)

    def settle(self, exists: Callable[[str], bool]) -> tuple[list[Invocation], int]:
        """Staged records no live request holds: ready if their object exists (returned, to deliver),
        dropped if not (counted)."""
        with self._lock:
            rows = self._conn.execute("SELECT seq, awaits_key FROM invocations WHERE awaits_key IS NOT NULL").fetchall()
            published: list[int] = []
            dropped: list[int] = []
            for seq, key in rows:
                if seq not in self._held:
                    (published if exists(key) else dropped).append(seq)
            self._conn.executemany("DELETE FROM invocations WHERE seq = ?", [(seq,) for seq in dropped])
            return self._make_ready(published), len(dropped)

    def _make_ready(self, seqs: list[int]) -> list[Invocation]:
        self._conn.executemany("UPDATE invocations SET awaits_key = NULL WHERE seq = ?", [(seq,) for seq in seqs])
        rows = self._conn.execute(
            f"SELECT seq, function, event, attempts FROM invocations WHERE seq IN ({','.join('?' * len(seqs))})",
            seqs,
        ).fetchall()
        return [Invocation(seq, fn, json.loads(event), attempts) for seq, fn, event, attempts in rows]

    def pending(self) -> list[Invocation]:
        """Ready records still to deliver (not staged ones, not dead letters)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, function, event, attempts FROM invocations"
                " WHERE dead = 0 AND awaits_key IS NULL ORDER BY seq"
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
