"""The durable event queue's staged records: held while their request runs, ready once the object is
published, dropped if it is not, and settled by the sweep when their request died."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lambdashare.adapters.local._sqlite import DB_FILE
from lambdashare.adapters.local.event_queue import SqliteEventQueue

EVENT = {"Records": [{"eventName": "ObjectCreated:Put"}]}
KEY = "uploads/f1"


def test_a_staged_record_is_not_pending_until_released(tmp_path: Path) -> None:
    queue = SqliteEventQueue(tmp_path)
    staged = queue.stage(["Hasher", "Other"], EVENT, KEY)
    assert len(staged) == 2
    assert queue.pending() == []

    released = queue.release(staged)

    assert [(i.seq, i.function, i.event, i.attempts) for i in released] == [
        (staged[0], "Hasher", EVENT, 0),
        (staged[1], "Other", EVENT, 0),
    ]
    assert queue.pending() == released


def test_a_discarded_record_is_gone(tmp_path: Path) -> None:
    queue = SqliteEventQueue(tmp_path)
    queue.discard(queue.stage(["Hasher"], EVENT, KEY))
    assert queue.pending() == []
    assert queue.settle(lambda key: True) == ([], 0)


def test_settle_leaves_records_of_live_requests_alone(tmp_path: Path) -> None:
    queue = SqliteEventQueue(tmp_path)
    staged = queue.stage(["Hasher"], EVENT, KEY)
    asked: list[str] = []

    def exists(key: str) -> bool:
        asked.append(key)
        return False

    assert queue.settle(exists) == ([], 0)

    assert asked == []
    assert [i.seq for i in queue.release(staged)] == staged


def test_after_a_restart_a_record_whose_object_exists_is_ready_and_one_whose_object_does_not_is_dropped(
    tmp_path: Path,
) -> None:
    crashed = SqliteEventQueue(tmp_path)
    published = crashed.stage(["Hasher"], EVENT, "uploads/published")
    crashed.stage(["Hasher"], EVENT, "uploads/never-published")

    queue = SqliteEventQueue(tmp_path)  # the next run
    assert queue.pending() == []
    ready, dropped = queue.settle(lambda key: key == "uploads/published")

    assert [i.seq for i in ready] == published and dropped == 1
    assert queue.pending() == ready
    assert queue.settle(lambda key: True) == ([], 0)  # settled once


def test_a_record_whose_release_failed_is_settled_by_the_sweep(tmp_path: Path) -> None:
    queue = SqliteEventQueue(tmp_path)
    staged = queue.stage(["Hasher"], EVENT, KEY)
    with sqlite3.connect(tmp_path / DB_FILE, isolation_level=None) as other:
        other.execute("PRAGMA busy_timeout = 0")
        other.execute("BEGIN EXCLUSIVE")  # the database is locked: the release cannot write
        queue._conn.execute("PRAGMA busy_timeout = 0")
        with pytest.raises(sqlite3.OperationalError):
            queue.release(staged)
        other.execute("ROLLBACK")

    ready, dropped = queue.settle(lambda key: key == KEY)
    assert [i.seq for i in ready] == staged and dropped == 0


def test_a_queue_of_an_older_data_dir_gains_the_staging_column(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / DB_FILE, isolation_level=None) as old:
        old.execute(
            "CREATE TABLE invocations (seq INTEGER PRIMARY KEY AUTOINCREMENT, function TEXT NOT NULL,"
            " event TEXT NOT NULL, enqueued_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
            " dead INTEGER NOT NULL DEFAULT 0, last_error TEXT)"
        )
        old.execute("INSERT INTO invocations (function, event, enqueued_at) VALUES ('Hasher', '{}', 0)")
    queue = SqliteEventQueue(tmp_path)
    assert [i.event for i in queue.pending()] == [{}]
