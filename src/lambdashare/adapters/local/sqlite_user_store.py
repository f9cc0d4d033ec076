"""The local user pool's state in SQLite: users, their groups, their sign-in sessions, and the SRP challenges
already answered.

Stores only what it is given: passwords arrive already hashed (argon2, and as an SRP verifier) and refresh
tokens as their SHA-256, so the database holds no secret a client could replay. Not responsible for
Cognito's rules: `emulator/user_pool_api.py` applies them.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from lambdashare.adapters.local._sqlite import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    sub TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,  -- the sign-in name, lower-cased: Cognito's are case-insensitive
    attributes TEXT NOT NULL,       -- JSON: {"email": ..., ...}
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    srp_salt TEXT,                  -- hex; with srp_verifier, what USER_SRP_AUTH checks (NULL: not yet made)
    srp_verifier TEXT               -- hex, v = g^x mod N
);
CREATE TABLE IF NOT EXISTS user_groups (
    sub TEXT NOT NULL REFERENCES users (sub),
    group_name TEXT NOT NULL,
    PRIMARY KEY (sub, group_name)
);
CREATE TABLE IF NOT EXISTS user_sessions (
    origin_jti TEXT PRIMARY KEY,    -- one sign-in: every token it leads to carries this origin_jti
    sub TEXT NOT NULL REFERENCES users (sub),
    client_id TEXT NOT NULL,
    refresh_token_sha256 TEXT NOT NULL UNIQUE,
    auth_time INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS user_sessions_by_sub ON user_sessions (sub);
CREATE TABLE IF NOT EXISTS used_challenges (
    block_sha256 TEXT PRIMARY KEY,  -- an answered SECRET_BLOCK: a challenge is answered once
    expires_at INTEGER NOT NULL     -- when the block expires, after which the row is of no use
);
"""


class UsernameTakenError(Exception):
    """A user with that sign-in name exists already."""


class UnknownUserError(Exception):
    """No user has that sign-in name."""


@dataclass(frozen=True, slots=True)
class StoredUser:
    sub: str
    username: str
    attributes: dict[str, str]
    password_hash: str
    created_at: int
    #: Hex, as `emulator/srp.py` makes them: the SRP salt and verifier (None for a user made before SRP was served).
    srp_salt: str | None = None
    srp_verifier: str | None = None


@dataclass(frozen=True, slots=True)
class Session:
    origin_jti: str
    sub: str
    client_id: str
    auth_time: int
    expires_at: int
    revoked_at: int | None


class SqliteUserStore:
    def __init__(self, data_dir: Path) -> None:
        self._conn = connect(data_dir)
        self._conn.executescript(_SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(users)")}
        for column in ("srp_salt", "srp_verifier"):  # a users table made before USER_SRP_AUTH was served
            if column not in columns:
                with contextlib.suppress(sqlite3.OperationalError):  # "duplicate column": another process was first
                    self._conn.execute(f"ALTER TABLE users ADD COLUMN {column} TEXT")
        self._lock = threading.Lock()

    def create_user(self, user: StoredUser) -> None:
        with self._lock:
            try:
                self._conn.execute(
                    "INSERT INTO users (sub, username, attributes, password_hash, created_at, srp_salt, srp_verifier)"
                    " VALUES (?,?,?,?,?,?,?)",
                    (
                        user.sub,
                        user.username,
                        json.dumps(user.attributes),
                        user.password_hash,
                        user.created_at,
                        user.srp_salt,
                        user.srp_verifier,
                    ),
                )
            except sqlite3.IntegrityError:
                raise UsernameTakenError(user.username) from None

    def find_user(self, name_or_sub: str) -> StoredUser | None:
        """By sign-in name (case-insensitive) or by `sub`, as Cognito accepts either."""
        with self._lock:
            row = self._conn.execute(
                "SELECT sub, username, attributes, password_hash, created_at, srp_salt, srp_verifier FROM users"
                " WHERE username = ? OR sub = ?",
                (name_or_sub.lower(), name_or_sub),
            ).fetchone()
        return StoredUser(row[0], row[1], json.loads(row[2]), *row[3:]) if row else None

    def set_srp_verifier(self, sub: str, srp_salt: str, srp_verifier: str) -> None:
        """Give a user made before USER_SRP_AUTH was served their verifier (made at their next password sign-in)."""
        with self._lock:
            self._conn.execute(
                "UPDATE users SET srp_salt = ?, srp_verifier = ? WHERE sub = ?", (srp_salt, srp_verifier, sub)
            )

    def add_to_group(self, username: str, group: str) -> None:
        with self._lock:
            row = self._conn.execute("SELECT sub FROM users WHERE username = ?", (username.lower(),)).fetchone()
            if row is None:
                raise UnknownUserError(username)
            self._conn.execute("INSERT OR IGNORE INTO user_groups (sub, group_name) VALUES (?, ?)", (row[0], group))

    def groups(self, sub: str) -> list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT group_name FROM user_groups WHERE sub = ? ORDER BY group_name", (sub,)
            ).fetchall()
        return [row[0] for row in rows]

    def start_session(self, session: Session, refresh_token_sha256: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO user_sessions (origin_jti, sub, client_id, refresh_token_sha256, auth_time, expires_at)"
                " VALUES (?,?,?,?,?,?)",
                (
                    session.origin_jti,
                    session.sub,
                    session.client_id,
                    refresh_token_sha256,
                    session.auth_time,
                    session.expires_at,
                ),
            )

    def session_by_refresh_token(self, refresh_token_sha256: str) -> Session | None:
        return self._session("refresh_token_sha256", refresh_token_sha256)

    def session(self, origin_jti: str) -> Session | None:
        return self._session("origin_jti", origin_jti)

    def _session(self, column: str, value: str) -> Session | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT origin_jti, sub, client_id, auth_time, expires_at, revoked_at FROM user_sessions"
                f" WHERE {column} = ?",
                (value,),
            ).fetchone()
        return Session(*row) if row else None

    def revoke_sessions(self, sub: str, at: int) -> None:
        """End every sign-in of the user: their refresh tokens stop working, their access tokens are revoked."""
        with self._lock:
            self._conn.execute(
                "UPDATE user_sessions SET revoked_at = ? WHERE sub = ? AND revoked_at IS NULL", (at, sub)
            )

    def use_challenge(self, block_sha256: str, expires_at: int, now: int) -> bool:
        """Marks an SRP challenge answered; False if it was already. Rows of expired blocks are dropped on the way."""
        with self._lock:
            self._conn.execute("DELETE FROM used_challenges WHERE expires_at <= ?", (now,))
            inserted = self._conn.execute(
                "INSERT OR IGNORE INTO used_challenges (block_sha256, expires_at) VALUES (?, ?)",
                (block_sha256, expires_at),
            )
        return inserted.rowcount == 1
