"""Share links: a token that lets whoever holds it download one file until it expires or is revoked.

A token is `<file id>.<random secret>`; only a hash of the secret is stored, in the file's item,
so a leaked table does not leak working links. Not responsible for the download itself: a
presigned URL is handed out per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from lambdashare.domain.errors import NotFoundError, ValidationError
from lambdashare.domain.files import own_file, with_download
from lambdashare.domain.identity import Principal
from lambdashare.domain.model import FileRecord, FileStatus, aws_datetime
from lambdashare.ports.blob_store import BlobStore
from lambdashare.ports.table import Table

DEFAULT_EXPIRES_IN = 24 * 3600
MAX_EXPIRES_IN = 7 * 24 * 3600
ANY_STATUS = frozenset(s.value for s in FileStatus)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _live(shares: dict[str, int], now: float) -> dict[str, int]:
    return {digest: expires for digest, expires in shares.items() if expires > now}


def share_file(table: Table, file_id: str, caller: Principal, expires_in: int | None) -> dict[str, Any]:
    seconds = DEFAULT_EXPIRES_IN if expires_in is None else expires_in
    if not 1 <= seconds <= MAX_EXPIRES_IN:
        raise ValidationError(f"expiresIn must be between 1 and {MAX_EXPIRES_IN} seconds.")
    if own_file(table, file_id, caller) is None:
        raise NotFoundError(f"File {file_id} not found.")
    item = table.get_item(file_id) or {}
    secret = secrets.token_urlsafe(24)
    now = time.time()
    expires = int(now) + seconds
    shares = {**_live(item.get("shares") or {}, now), _digest(secret): expires}
    table.update_item(file_id, {"shares": shares}, status_in=ANY_STATUS)
    return {
        "token": f"{file_id}.{secret}",
        "fileId": file_id,
        "expiresAt": aws_datetime(datetime.fromtimestamp(expires, UTC)),
    }


def _split(token: str) -> tuple[str, str] | None:
    file_id, dot, secret = token.partition(".")
    return (file_id, secret) if dot and file_id and secret else None


def revoke_share(table: Table, token: str, caller: Principal) -> bool:
    parts = _split(token)
    if parts is None:
        return False
    file_id, secret = parts
    if own_file(table, file_id, caller) is None:
        return False
    shares = dict((table.get_item(file_id) or {}).get("shares") or {})
    if shares.pop(_digest(secret), None) is None:
        return False
    table.update_item(file_id, {"shares": shares}, status_in=ANY_STATUS)
    return True


def shared_file(table: Table, blobs: BlobStore, token: str, download_expires: int) -> dict[str, Any] | None:
    """The shared file with a fresh download URL, or None if the token is unknown, expired or revoked."""
    parts = _split(token)
    if parts is None:
        return None
    file_id, secret = parts
    item = table.get_item(file_id)
    if item is None:
        return None
    digest = _digest(secret)
    live = _live(item.get("shares") or {}, time.time())
    if not any(hmac.compare_digest(digest, known) for known in live):
        return None
    return with_download(FileRecord.from_item(item), blobs, download_expires)
