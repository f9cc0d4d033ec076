"""Multipart uploads: S3's size rules, the part plan, and completing, resuming and aborting an upload.

Not responsible for checking parts against what was stored: the store does, as S3 does (the local
store applies the same rules in `check_completion`). Spec:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from itertools import pairwise
from typing import Any

from lambdashare.domain.errors import (
    ConditionFailedError,
    EntityTooSmall,
    InvalidPart,
    InvalidPartOrder,
    NoSuchUpload,
    ValidationError,
)
from lambdashare.domain.identity import Principal
from lambdashare.domain.model import FileRecord, FileStatus
from lambdashare.ports.blob_store import BlobStore, PresignedRequest, StoredPart
from lambdashare.ports.table import Table

MiB = 1024**2
MIN_PART = 5 * MiB
MAX_PART = 5 * 1024**3
MAX_PARTS = 10_000
MAX_OBJECT = 5 * 1024**4
#: The smallest part size chosen for a client that names none: fewer, larger requests.
DEFAULT_MIN_PART = 8 * MiB
#: Presigned part requests in one ticket: 1,000 AWS URLs (with the role's session token) are about 2 MB,
#: well inside Lambda's 6 MB response; `resumeUpload` hands out the rest.
MAX_TICKET_PARTS = 1000


def choose_part_size(size: int) -> int:
    """The smallest whole number of MiB, at least 8 MiB, that keeps `size` within 10,000 parts."""
    needed = -(-size // MAX_PARTS)  # ceiling division
    return max(DEFAULT_MIN_PART, -(-needed // MiB) * MiB)


def check_part_size(size: int, part_size: int) -> int:
    """`part_size` as S3 allows it for an object of `size` bytes, or a ValidationError."""
    if not MIN_PART <= part_size <= MAX_PART:
        raise ValidationError(f"partSize must be between {MIN_PART} and {MAX_PART} bytes.")
    if part_count(size, part_size) > MAX_PARTS:
        raise ValidationError(f"partSize {part_size} makes more than {MAX_PARTS} parts; choose a larger one.")
    return part_size


def part_count(size: int, part_size: int) -> int:
    return max(1, -(-size // part_size))


def part_length(size: int, part_size: int, number: int) -> int:
    """How many bytes part `number` (1-based) holds: `part_size`, less for the last one."""
    return min(part_size, size - (number - 1) * part_size)


def check_completion(requested: Sequence[tuple[int, str]], stored: Mapping[int, StoredPart]) -> None:
    """S3's CompleteMultipartUpload checks, in S3's order: ascending numbers, known parts with their
    ETags, then 5 MiB for every part but the last."""
    numbers = [number for number, _ in requested]
    if any(later <= earlier for earlier, later in pairwise(numbers)):
        raise InvalidPartOrder("The list of parts was not in ascending order. Parts must be ordered by part number.")
    for number, etag in requested:
        part = stored.get(number)
        if part is None or part.etag.strip('"') != etag.strip('"'):
            raise InvalidPart(
                f"Part {number} could not be found or its entity tag does not match the part's entity tag."
            )
    for number, _ in requested[:-1]:
        if stored[number].size < MIN_PART:
            raise EntityTooSmall(f"Part {number} is smaller than the minimum allowed object size of {MIN_PART}.")


# --- operations on a file's upload ------------------------------------------------------------------
def _upload_of(table: Table, file_id: str, caller: Principal, *, reading: bool = False) -> FileRecord:
    """The caller's PENDING multipart file; anything else is `NoSuchUpload`, as S3 answers a gone upload.
    Only its owner may change it; an admin may read it (`reading`) like any file."""
    item = table.get_item(file_id)
    record = FileRecord.from_item(item) if item is not None else None
    allowed = caller.may_see if reading else caller.may_change
    if record is None or not allowed(record.owner) or record.upload_id is None:
        raise NoSuchUpload(f"No multipart upload for file {file_id}.")
    if record.status is not FileStatus.PENDING:
        raise NoSuchUpload(f"The upload of file {file_id} is already complete.")
    return record


def part_requests(
    blobs: BlobStore, record: FileRecord, numbers: Sequence[int], expires_in: int
) -> list[dict[str, Any]]:
    """`UploadPart` views: a presigned request per part number."""
    assert record.upload_id is not None and record.part_size is not None
    views = []
    for number in numbers:
        request: PresignedRequest = blobs.presign_part(
            record.key,
            record.upload_id,
            number,
            size=part_length(record.size, record.part_size, number),
            expires_in=expires_in,
        )
        views.append({"number": number, "url": request.url, "method": request.method, "headers": request.headers})
    return views


def uploaded_parts(table: Table, blobs: BlobStore, file_id: str, caller: Principal) -> list[dict[str, Any]]:
    """The parts stored so far (S3's ListParts), so a client sends only the missing ones."""
    record = _upload_of(table, file_id, caller, reading=True)
    assert record.upload_id is not None
    return [
        {"number": p.number, "etag": p.etag, "size": p.size} for p in blobs.list_parts(record.key, record.upload_id)
    ]


def resume_upload(
    table: Table,
    blobs: BlobStore,
    file_id: str,
    caller: Principal,
    expires_in: int,
    expiry: str,
    pending_grace: int,
    numbers: Sequence[int] | None = None,
) -> dict[str, Any]:
    """A fresh ticket (URLs expire; the upload does not): for the given part `numbers`, or else for the
    first parts not stored yet, at most MAX_TICKET_PARTS either way. The file's `ttl` moves to
    `pending_grace` seconds after the new URLs expire, as `requestUpload` set it for the first ones."""
    record = _upload_of(table, file_id, caller)
    assert record.upload_id is not None and record.part_size is not None
    count = part_count(record.size, record.part_size)
    if numbers is None:
        stored = {p.number for p in blobs.list_parts(record.key, record.upload_id)}
        wanted = [n for n in range(1, count + 1) if n not in stored][:MAX_TICKET_PARTS]
    else:
        wanted = sorted(set(numbers))
        if any(not 1 <= n <= count for n in wanted):
            raise ValidationError(f"numbers must be part numbers of this upload: 1 to {count}.")
        if len(wanted) > MAX_TICKET_PARTS:
            raise ValidationError(f"numbers may name at most {MAX_TICKET_PARTS} parts at once.")
    try:
        table.update_item(
            file_id, {"ttl": int(time.time()) + expires_in + pending_grace}, status_in=[FileStatus.PENDING.value]
        )
    except ConditionFailedError:  # completed, taken by the hasher, or aborted meanwhile
        raise NoSuchUpload(f"The upload of file {file_id} is already complete.") from None
    return {
        "file": record.to_graphql(),
        "expiresAt": expiry,
        "url": None,
        "method": None,
        "headers": None,
        "uploadId": record.upload_id,
        "parts": part_requests(blobs, record, wanted, expires_in),
    }


def complete_upload(
    table: Table, blobs: BlobStore, file_id: str, parts: Sequence[Mapping[str, Any]], caller: Principal
) -> FileRecord:
    """Assemble the parts; the store then announces the object (ObjectCreated) and the hasher takes it."""
    record = _upload_of(table, file_id, caller)
    assert record.upload_id is not None
    if not parts:
        raise ValidationError("parts must list at least one part.")
    requested = [(int(p["number"]), str(p["etag"])) for p in parts]
    if any(not 1 <= number <= MAX_PARTS for number, _ in requested):
        raise ValidationError(f"Part numbers must be between 1 and {MAX_PARTS}.")
    stored = {p.number: p for p in blobs.list_parts(record.key, record.upload_id)}
    total = sum(stored[n].size for n, _ in requested if n in stored)
    check_completion(requested, stored)
    if total != record.size:
        raise ValidationError(f"The parts hold {total} bytes; the file was requested with {record.size}.")
    blobs.complete_multipart(record.key, record.upload_id, requested)
    # a second completion is NoSuchUpload whatever the store says of a completed upload; if the hasher
    # has taken the file already, it is no longer PENDING, which says the same
    with suppress(ConditionFailedError):
        table.update_item(file_id, {"upload_id": None}, status_in=[FileStatus.PENDING.value])
    return record


def abort_upload(table: Table, blobs: BlobStore, file_id: str, caller: Principal) -> FileRecord:
    """Drop the parts and the PENDING file: later part PUTs are refused (NoSuchUpload)."""
    record = _upload_of(table, file_id, caller)
    assert record.upload_id is not None
    blobs.abort_multipart(record.key, record.upload_id)
    table.delete_item(file_id)
    return record
