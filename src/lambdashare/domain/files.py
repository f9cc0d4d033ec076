"""What the API does with files: request an upload, look files up, list, delete.

Pure business rules over the ports; the resolvers only unpack arguments and call these.
"""

from __future__ import annotations

import re
import uuid
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from lambdashare.domain import multipart
from lambdashare.domain.errors import NoSuchUpload, NotFoundError, ValidationError
from lambdashare.domain.identity import Principal
from lambdashare.domain.model import FileRecord, FileStatus, aws_datetime
from lambdashare.domain.tokens import decode_cursor, encode_cursor
from lambdashare.ports.blob_store import BlobStore
from lambdashare.ports.table import ANY_OWNER, Table

MAX_NAME_LENGTH = 1024
MAX_SINGLE_PUT = 5 * 1024**3
MAX_PAGE = 100
DEFAULT_PAGE = 20
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;\s*[\w.+-]+=(\"[^\"\\\r\n]*\"|[\w.+-]+))*$")
KEY_PREFIX = "uploads/"


def object_key(file_id: str) -> str:
    """Storage key of a file: never derived from the user's file name."""
    return f"{KEY_PREFIX}{file_id}"


def file_id_of_key(key: str) -> str | None:
    file_id = key.removeprefix(KEY_PREFIX)
    if file_id == key:
        return None
    try:
        parsed = uuid.UUID(file_id)
    except ValueError:
        return None
    return file_id if str(parsed) == file_id else None


def normalise_sha256(value: str) -> str:
    if not _SHA256.fullmatch(value):  # fullmatch: `$` would let a trailing newline through
        raise ValidationError("sha256 must be 64 hexadecimal characters.")
    return value.lower()


def _whole_bytes(value: float, field: str) -> int:
    if value != value or value in (float("inf"), float("-inf")) or value < 0 or value != int(value):
        raise ValidationError(f"{field} must be a whole, non-negative number of bytes.")
    return int(value)


def _validate_name(name: str) -> str:
    if not name or not name.strip():
        raise ValidationError("name must not be empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"name must be at most {MAX_NAME_LENGTH} characters.")
    if _CONTROL.search(name):
        raise ValidationError("name must not contain control characters.")
    return name


def _validate_content_type(content_type: str | None) -> str | None:
    if content_type is None:
        return None
    if len(content_type) > 255 or not _CONTENT_TYPE.fullmatch(content_type):
        raise ValidationError("contentType must be a media type such as 'image/png'.")
    return content_type


def request_upload(
    table: Table,
    blobs: BlobStore,
    *,
    name: str,
    size: float,
    content_type: str | None,
    sha256: str | None,
    owner: str | None,
    expires_in: int,
    max_size: int,
    pending_grace: int,
    part_size: float | None = None,
) -> dict[str, Any]:
    """Write a PENDING file and return an upload ticket: one presigned request, or a multipart
    upload with a request per part (the first MAX_TICKET_PARTS of them; `resumeUpload` gives the rest)
    when `part_size` is given or the file is over 5 GiB.

    The file expires (`ttl`) `pending_grace` seconds after its upload URL does, unless its bytes come.
    """
    byte_size = _whole_bytes(size, "size")
    if byte_size > max_size:
        raise ValidationError(
            f"size must be at most {max_size} bytes: this deployment's limit (MaxUploadSize), "
            "the largest file its hasher can hash in one run."
        )
    if byte_size > multipart.MAX_OBJECT:
        raise ValidationError(f"size must be at most {multipart.MAX_OBJECT} bytes.")
    if part_size is not None:
        chosen: int | None = multipart.check_part_size(byte_size, _whole_bytes(part_size, "partSize"))
    else:
        chosen = multipart.choose_part_size(byte_size) if byte_size > MAX_SINGLE_PUT else None
    file_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    record = FileRecord(
        id=file_id,
        name=_validate_name(name),
        size=byte_size,
        key=object_key(file_id),
        created_at=aws_datetime(now),
        ttl=int(now.timestamp()) + expires_in + pending_grace,
        content_type=_validate_content_type(content_type),
        owner=owner,
        expected_sha256=normalise_sha256(sha256) if sha256 is not None else None,
        part_size=chosen,
    )
    if chosen is not None:
        record.upload_id = blobs.create_multipart(record.key, content_type=record.content_type)
        table.put_item(record.to_item())
        numbers = range(1, min(multipart.part_count(byte_size, chosen), multipart.MAX_TICKET_PARTS) + 1)
        return {
            "file": record.to_graphql(),
            "expiresAt": expiry(expires_in),
            "url": None,
            "method": None,
            "headers": None,
            "uploadId": record.upload_id,
            "parts": multipart.part_requests(blobs, record, numbers, expires_in),
        }
    upload = blobs.presign_put(
        record.key,
        size=byte_size,
        content_type=record.content_type,
        expires_in=expires_in,
    )  # the declared sha256 is not signed in: DESIGN wants a mismatch to end as FAILED, not a refused PUT
    table.put_item(record.to_item())
    return {
        "file": record.to_graphql(),
        "expiresAt": expiry(expires_in),
        "url": upload.url,
        "method": upload.method,
        "headers": upload.headers,
        "uploadId": None,
        "parts": None,
    }


def expiry(expires_in: int) -> str:
    return aws_datetime(datetime.now(UTC) + timedelta(seconds=expires_in))


def with_download(record: FileRecord, blobs: BlobStore, expires_in: int) -> dict[str, Any]:
    view = record.to_graphql()
    if record.status in (FileStatus.HASHING, FileStatus.HASHED):
        view["downloadUrl"] = blobs.presign_get(record.key, file_name=record.name, expires_in=expires_in)
    else:
        view["downloadUrl"] = None
    return view


def get_file(table: Table, file_id: str, caller: Principal) -> FileRecord | None:
    """The file, or None when it does not exist or is someone else's (the two look the same)."""
    item = table.get_item(file_id)
    if item is None:
        return None
    record = FileRecord.from_item(item)
    return record if caller.may_see(record.owner) else None


def own_file(table: Table, file_id: str, caller: Principal) -> FileRecord | None:
    """The file to change, or None when it does not exist or is not the caller's: an admin reads
    every file but changes only its own, and another's looks the same as a missing one."""
    record = get_file(table, file_id, caller)
    return record if record is not None and caller.may_change(record.owner) else None


def list_files(
    table: Table, *, caller: Principal, limit: int | None, next_token: str | None, secret: str
) -> tuple[list[FileRecord], str | None]:
    """The caller's files, newest first; none for an anonymous caller (ids in its space are capabilities)."""
    page = DEFAULT_PAGE if limit is None else limit
    if not 1 <= page <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}.")
    scope = f"files:{caller.owner}"
    after = decode_cursor(next_token, secret=secret, scope=scope) if next_token else None  # bad tokens fail alike
    if caller.anonymous:
        return [], None
    items = table.list_items(caller.owner, page + 1, after)
    records = [FileRecord.from_item(item) for item in items[:page]]
    more = len(items) > page
    token = encode_cursor((records[-1].created_at, records[-1].id), secret=secret, scope=scope) if more else None
    return records, token


def files_by_hash(table: Table, sha256: str, caller: Principal) -> list[FileRecord]:
    """The caller's hashed files with this content; another owner's copy is never revealed, and an
    anonymous caller gets none (it would reveal ids of the space it did not get: see duplicate_count)."""
    if caller.anonymous:
        normalise_sha256(sha256)  # bad input is still an error
        return []
    return _hashed_in_space(table, sha256, caller)


def duplicate_count(table: Table, sha256: str, caller: Principal) -> int:
    """How many hashed files in the caller's space hold this content: the caller's own for a user,
    every file for an admin, the anonymous space's for an API-key caller. It reveals no id."""
    return len(_hashed_in_space(table, sha256, caller))


def _hashed_in_space(table: Table, sha256: str, caller: Principal) -> list[FileRecord]:
    """The first MAX_PAGE copies of this content (oldest first) in the caller's space that are hashed."""
    space = ANY_OWNER if caller.admin else caller.owner
    items = table.query_by_sha256(normalise_sha256(sha256), MAX_PAGE, space)
    return [r for r in map(FileRecord.from_item, items) if r.status is FileStatus.HASHED]


def delete_file(table: Table, blobs: BlobStore, file_id: str, caller: Principal) -> FileRecord | None:
    record = own_file(table, file_id, caller)
    if record is None:
        return None
    item = table.delete_item(file_id)
    if item is None:
        raise NotFoundError(f"File {file_id} was deleted by another request.")
    upload_id = FileRecord.from_item(item).upload_id
    if upload_id is not None:  # its parts go too, rather than waiting for the clean-up
        with suppress(NoSuchUpload):  # completed or aborted meanwhile
            blobs.abort_multipart(record.key, upload_id)
    blobs.delete_blob(record.key)
    return record
