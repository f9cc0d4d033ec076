"""The file table in SQLite: the item as JSON, with the columns its lookups need beside it.

Not responsible for business rules: conditions come from the caller, like DynamoDB's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from lambdashare.adapters.local._sqlite import connect
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
    def __init__(self, data_dir: Path) -> None:
        self._conn = connect(data_dir)
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def put_item(self, item: Mapping[str, Any]) -> None:
        with self._lock:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO files (id, owner, created_at, status, sha256, item) VALUES (?,?,?,?,?,?)",
                (item["id"], *_row(item)),
            )
            if cur.rowcount == 0:
                raise ItemExistsError(f"Item {item['id']} already exists.")

    def get_item(self, item_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT item FROM files WHERE id = ?", (item_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def update_item(self, item_id: str, changes: Mapping[str, Any], *, status_in: Collection[str]) -> dict[str, Any]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute("SELECT item FROM files WHERE id = ?", (item_id,)).fetchone()
                item: dict[str, Any] | None = json.loads(row[0]) if row else None
                if item is None or item["status"] not in status_in:
                    raise ConditionFailedError(
                        f"Item {item_id} is {'missing' if item is None else item['status']}, "
                        f"not one of {sorted(status_in)}."
                    )
                item.update(changes)
                self._conn.execute(
                    "UPDATE files SET owner=?, created_at=?, status=?, sha256=?, item=? WHERE id=?",
                    (*_row(item), item_id),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return item

    def delete_item(self, item_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("DELETE FROM files WHERE id = ? RETURNING item", (item_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def delete_expired_pending(self, now: int, limit: int) -> list[dict[str, Any]]:
        """Delete up to `limit` PENDING items whose `ttl` (epoch seconds) is before `now`, as DynamoDB's TTL
        would, and return them. Local only: on AWS the table's TTL does this, no code scans for it."""
        with self._lock:
            rows = self._conn.execute(
                "DELETE FROM files WHERE id IN (SELECT id FROM files WHERE status = 'PENDING'"
                " AND json_extract(item, '$.ttl') < ? LIMIT ?) RETURNING item",
                (now, limit),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

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
