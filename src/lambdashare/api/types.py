"""The API's object and input types (the contract in DESIGN.md)."""

from __future__ import annotations

import strawberry

from lambdashare.api.directives import USERS
from lambdashare.api.scalars import AWSJSON, AWSURL, AWSDate, AWSDateTime
from lambdashare.domain.model import FileStatus as DomainFileStatus

FileStatus = strawberry.enum(DomainFileStatus, name="FileStatus")


@strawberry.type(directives=USERS)
class Hashes:
    md5: str
    sha1: str
    sha256: str
    sha512: str


@strawberry.type(directives=USERS)
class File:
    id: strawberry.ID
    name: str
    size: float
    content_type: str | None
    owner: str | None
    status: FileStatus  # type: ignore[valid-type]
    hashes: Hashes | None
    error: str | None
    created_at: AWSDateTime
    uploaded_at: AWSDateTime | None
    hashed_at: AWSDateTime | None
    download_url: AWSURL | None = strawberry.field(
        description="Presigned, short-lived; only for the owner or a share token."
    )


@strawberry.type(directives=USERS, description="How far the hasher has read a file.")
class FileProgress:
    id: strawberry.ID
    hashed_bytes: float
    size: float
    owner: str | None


@strawberry.type(directives=USERS)
class UploadPart:
    number: int
    url: AWSURL
    method: str
    headers: AWSJSON | None


@strawberry.type(directives=USERS, description="A part the store holds (S3's ListParts): send only the missing ones.")
class UploadedPart:
    number: int
    etag: str = strawberry.field(description="Quoted hex md5, as the part PUT's ETag header.")
    size: float


@strawberry.type(description="Exactly one of url / parts is set.", directives=USERS)
class UploadTicket:
    file: File
    expires_at: AWSDateTime
    url: AWSURL | None
    method: str | None
    headers: AWSJSON | None
    upload_id: str | None
    parts: list[UploadPart] | None


@strawberry.type(directives=USERS)
class FileConnection:
    items: list[File]
    next_token: str | None


@strawberry.type(directives=USERS, description="A link to one file for whoever holds the token.")
class Share:
    token: str
    file_id: strawberry.ID
    expires_at: AWSDateTime


@strawberry.type(
    directives=USERS, description="Milliseconds from a file's bytes arriving to its hashes, by percentile."
)
class Latency:
    p50: float
    p95: float
    p99: float


@strawberry.type(directives=USERS, description="Uploads of one content type (a standard type, or `<type>/other`).")
class ContentTypeStats:
    content_type: str
    uploads: int
    bytes: float


@strawberry.type(directives=USERS, description="One UTC day's figures.")
class DayStats:
    date: AWSDate
    uploads: int
    bytes: float
    hashed: int
    failed: int
    duplicates: int
    deleted: int
    latency: Latency | None


@strawberry.type(
    directives=USERS,
    description=(
        "Figures of the caller's space (a user's own files, the anonymous space for an API key; every space "
        "for an admin who asks for everyone's) over the last `days` UTC days, today included. They name no file."
    ),
)
class Stats:
    uploads: int = strawberry.field(description="Files whose bytes arrived.")
    bytes: float = strawberry.field(description="Bytes that arrived.")
    hashed: int
    failed: int
    duplicates: int = strawberry.field(description="Hashed files whose sha256 an older live file of the space had.")
    deleted: int = strawberry.field(description="Uploaded files deleted since (deletes never lower the other figures).")
    hashed_bytes: float
    latency: Latency | None = strawberry.field(description="Null when nothing was hashed.")
    throughput: float | None = strawberry.field(
        description="Bytes hashed per second from arrival to hashes; null when nothing was hashed."
    )
    content_types: list[ContentTypeStats] = strawberry.field(description="Most uploads first.")
    days: list[DayStats] = strawberry.field(description="Oldest first, one per day, days without activity included.")


@strawberry.input
class RequestUploadInput:
    name: str
    size: float
    content_type: str | None = strawberry.UNSET
    sha256: str | None = strawberry.UNSET
    part_size: float | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Bytes per part (5 MiB to 5 GiB, at most 10,000 parts): asks for a multipart upload. "
            "Files over 5 GiB are multipart in any case, with a part size chosen for them."
        ),
    )


@strawberry.input
class CompletedPartInput:
    number: int
    etag: str = strawberry.field(description="Exactly the part PUT's ETag header.")


@strawberry.input(description="The parts to assemble, in ascending order of number.")
class CompleteUploadInput:
    id: strawberry.ID
    parts: list[CompletedPartInput]


@strawberry.input
class HashesInput:
    md5: str
    sha1: str
    sha256: str
    sha512: str


@strawberry.input(description="A file's final state, as the hasher publishes it.")
class FileHashedInput:
    id: strawberry.ID
    name: str
    size: float
    status: FileStatus  # type: ignore[valid-type]
    created_at: AWSDateTime
    content_type: str | None = strawberry.UNSET
    owner: str | None = strawberry.UNSET
    hashes: HashesInput | None = strawberry.UNSET
    error: str | None = strawberry.UNSET
    uploaded_at: AWSDateTime | None = strawberry.UNSET
    hashed_at: AWSDateTime | None = strawberry.UNSET


@strawberry.input(description="How far the hasher has read a file, as it publishes it.")
class FileProgressInput:
    id: strawberry.ID
    hashed_bytes: float
    size: float
    owner: str | None = strawberry.UNSET
