"""The file table in SQLite: the item as JSON, with the columns its lookups need beside it.

Every write that changes an item appends its DynamoDB Streams record (NEW_AND_OLD_IMAGES) in the
same transaction (see `sqlite_stream`), as the table's stream does on AWS. Not responsible for
business rules: conditions come from the caller, like DynamoDB's.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from lambdashare.adapters.local import sqlite_stream
from lambdashare.adapters.local._sqlite import connect, transaction
from lambdashare.domain.errors import ConditionFailedError, ItemExistsError
from lambdashare.ports.table import ANY_OWNER, AnyOwner, Cursor

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    owner TEXT,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    sha256 TEXT,
    item TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_by_sha256 ON files (sha256) WHERE sha256 IS NOT NULL;
CREATE INDEX IF NOT EXISTS files_by_owner ON files (owner, created_at DESC, id DESC);
"""


def _row(item: Mapping[str, Any]) -> tuple[Any, ...]:
    hashes = item.get("hashes") or {}
    return (item["owner"], item["created_at"], item["status"], hashes.get("sha256"), json.dumps(item))


class SqliteTable:
    def __init__(
        self,
        data_dir: Path,
        *,
        table_name: str = "files",
        region: str = "us-east-1",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._conn = connect(data_dir)
        self._conn.executescript(_SCHEMA + sqlite_stream.SCHEMA)
        self._lock = threading.Lock()
        self._region = region
        self._clock = clock
        self.stream_arn = sqlite_stream.stream_arn(self._conn, table_name, region)

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._conn, self._lock)

    def _record(
        self,
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any] | None,
        user_identity: Mapping[str, str] | None = None,
    ) -> None:
        """Append the write's stream record; called inside its transaction."""
        now = self._clock()
        record = sqlite_stream.change_record(
            old, new, arn=self.stream_arn, region=self._region, now=now, user_identity=user_identity
        )
        sqlite_stream.append_change(self._conn, record, now)

    def put_item(self, item: Mapping[str, Any]) -> None:
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO files (id, owner, created_at, status, sha256, item) VALUES (?,?,?,?,?,?)",
                (item["id"], *_row(item)),
            )
            if cur.rowcount == 0:
                raise ItemExistsError(f"Item {item['id']} already exists.")
            self._record(None, item)

    def get_item(self, item_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT item FROM files WHERE id = ?", (item_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def update_item(self, item_id: str, changes: Mapping[str, Any], *, status_in: Collection[str]) -> dict[str, Any]:
        with self._transaction() as conn:
            row = conn.execute("SELECT item FROM files WHERE id = ?", (item_id,)).fetchone()
            old: dict[str, Any] | None = json.loads(row[0]) if row else None
            if old is None or old["status"] not in status_in:
                raise ConditionFailedError(
                    f"Item {item_id} is {'missing' if old is None else old['status']}, not one of {sorted(status_in)}."
                )
            item = {**old, **changes}
            conn.execute(
                "UPDATE files SET owner=?, created_at=?, status=?, sha256=?, item=? WHERE id=?",
                (*_row(item), item_id),
            )
            self._record(old, item)
        return item

    def delete_item(self, item_id: str) -> dict[str, Any] | None:
        with self._transaction() as conn:
            row = conn.execute("DELETE FROM files WHERE id = ? RETURNING item", (item_id,)).fetchone()
            old: dict[str, Any] | None = json.loads(row[0]) if row else None
            if old is not None:
                self._record(old, None)
        return old

    def delete_expired_pending(self, now: int, limit: int) -> list[dict[str, Any]]:
        """Delete up to `limit` PENDING items whose `ttl` (epoch seconds) is before `now`, as DynamoDB's TTL
        would (their stream records name the TTL service, as DynamoDB's do), and return them. Local only: on
        AWS the table's TTL does this, no code scans for it."""
        with self._transaction() as conn:
            rows = conn.execute(
                "DELETE FROM files WHERE id IN (SELECT id FROM files WHERE status = 'PENDING'"
                " AND json_extract(item, '$.ttl') < ? LIMIT ?) RETURNING item",
                (now, limit),
            ).fetchall()
            expired = [json.loads(row[0]) for row in rows]
            for item in expired:
                self._record(item, None, sqlite_stream.TTL_IDENTITY)
        return expired

    def query_by_sha256(
        self, sha256: str, limit: int, owner: str | AnyOwner | None = ANY_OWNER
    ) -> list[dict[str, Any]]:
        query = "SELECT item FROM files WHERE sha256 = ?"
        params: list[str | None] = [sha256]
        if owner is not ANY_OWNER:
            query += " AND owner IS ?"
            params.append(owner)
        with self._lock:
            rows = self._conn.execute(f"{query} ORDER BY created_at, id LIMIT ?", [*params, limit]).fetchall()
        return [json.loads(row[0]) for row in rows]

    def list_items(self, owner: str | None, limit: int, after: Cursor | None) -> list[dict[str, Any]]:
        query = "SELECT item FROM files WHERE owner IS ?"
        params: list[Any] = [owner]
        if after is not None:
            query += " AND (created_at, id) < (?, ?)"
            params += list(after)
        query += " ORDER BY created_at DESC, id DESC LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._conn.execute(query, params).fetchall()
        return [json.loads(row[0]) for row in rows]
