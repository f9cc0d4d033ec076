"""The object-storage endpoint behind presigned URLs: `PUT` and `GET /_storage/<bucket>/<key>`, and
S3's multipart requests: `PUT ?partNumber=&uploadId=` (a part) and `POST ?uploadId=` (completion).

Answers as S3 does (XML errors: 403 for a bad or expired signature or a missing signed header, 413
for a body over the signed size, 412 for a key that already holds an object: uploads are write-once,
as with S3's `If-None-Match: *`). An object's ObjectCreated notification is staged in the durable
queue before the object is published and released after, so whatever fails or crashes in between,
an object is never stored without its notification (the sweeper settles what a dead request staged);
a refused upload queues nothing. A part PUT answers its ETag (quoted hex md5), or 404 NoSuchUpload
once the upload is aborted or completed; completion answers S3's errors (InvalidPart,
InvalidPartOrder, EntityTooSmall: 400) and queues `ObjectCreated:CompleteMultipartUpload` before it answers.
Not responsible for signing or files: the FileBlobStore does both.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from functools import partial
from typing import NoReturn
from urllib.parse import quote
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response, StreamingResponse

from lambdashare.adapters.local.file_blob_store import (
    BeforePublish,
    BlobWriter,
    ExpiredError,
    Grant,
    ObjectExistsError,
    SignatureError,
    TooLargeError,
)
from lambdashare.domain.errors import (
    BlobNotFoundError,
    EntityTooSmall,
    InvalidPart,
    InvalidPartOrder,
    LambdashareError,
    NoSuchUpload,
)
from lambdashare.emulator.events import s3_object_created
from lambdashare.emulator.runtime import Runtime

logger = logging.getLogger(__name__)

WRITE_BATCH = 1024 * 1024
#: Chunk size of a streamed download.
READ_CHUNK = 1024 * 1024


class StorageError(Exception):
    def __init__(self, status: int, code: str, message: str, **details: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def response(self) -> Response:
        extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in self.details.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{escape(self.message)}</Message>{extra}</Error>"
        )
        return Response(body, status_code=self.status, media_type="application/xml")


def _grant(runtime: Runtime, request: Request, method: str) -> Grant:
    bucket, key = request.path_params["bucket"], request.path_params["key"]
    if bucket != runtime.blobs.bucket:
        raise StorageError(404, "NoSuchBucket", "The specified bucket does not exist.")
    try:
        return runtime.blobs.verify(method, key, request.query_params)
    except ExpiredError:
        raise StorageError(403, "AccessDenied", "Request has expired") from None
    except SignatureError as exc:
        logger.info("refused %s %s: %s", method, key, exc)
        raise StorageError(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ) from None


async def put_object(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        grant = _grant(runtime, request, "PUT")
        _check_headers(request, grant)
        if grant.upload_id:
            return await _put_part(runtime, request, grant)
        writer = runtime.blobs.open_writer(grant.key, grant.max_size)
        try:
            await _receive(request, writer)
            etag = await _publish_notified(runtime, grant.key, "ObjectCreated:Put", writer.commit)
        except BaseException:
            writer.abort()
            raise
    except StorageError as exc:
        return exc.response()
    except TooLargeError:
        return StorageError(413, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size").response()
    except ObjectExistsError:
        logger.info("refused PUT %s: the key holds an object (write-once)", request.path_params["key"])
        return _precondition_failed().response()
    except ClientDisconnect:
        logger.info("client went away during the upload of %s; nothing stored", request.path_params["key"])
        return Response(status_code=400)
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


async def _publish_notified(
    runtime: Runtime, key: str, event_name: str, publish: Callable[[BeforePublish], str | tuple[str, int]]
) -> str:
    """Run `publish` (in a thread), staging the ObjectCreated record for every function the bucket
    notifies right before the object is published; release it once published, drop it if not. Returns the ETag."""
    staged: list[int] = []

    def stage(etag: str, size: int) -> None:
        event = s3_object_created(
            bucket=runtime.blobs.bucket,
            key=key,
            size=size,
            etag=etag,
            region=runtime.config.region,
            event_name=event_name,
        )
        staged.extend(runtime.dispatcher.stage(runtime.wiring.bucket_notifications, event, key))

    try:
        published = await run_in_threadpool(publish, stage)
    except BaseException:
        if staged:
            await runtime.dispatcher.discard(staged)
        raise
    await runtime.dispatcher.release(staged)
    return published if isinstance(published, str) else published[0]


def _no_such_upload() -> StorageError:
    return StorageError(
        404,
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted "
        "or completed.",
    )


async def _put_part(runtime: Runtime, request: Request, grant: Grant) -> Response:
    """S3's UploadPart: store the part durably and answer its ETag."""
    try:
        writer, part_dir = runtime.blobs.open_part_writer(grant.key, grant.upload_id, grant.max_size)
        try:
            await _receive(request, writer)
            etag = await run_in_threadpool(writer.commit_part, part_dir, grant.part_number)
        except BaseException:
            writer.abort()
            raise
    except NoSuchUpload:
        logger.info("refused part %d of %s: no such upload", grant.part_number, grant.key)
        return _no_such_upload().response()
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


async def complete_multipart(request: Request) -> Response:
    """S3's CompleteMultipartUpload: assemble and publish with its ObjectCreated:CompleteMultipartUpload
    notification, then answer."""
    runtime: Runtime = request.app.state.runtime
    try:
        grant = _grant(runtime, request, "POST")
        if not grant.upload_id:
            raise StorageError(400, "InvalidRequest", "Only CompleteMultipartUpload is a POST here.")
        body = json.loads(await request.body())
        parts = [(int(p["number"]), str(p["etag"])) for p in body["parts"]]
        etag = await _publish_notified(
            runtime,
            grant.key,
            "ObjectCreated:CompleteMultipartUpload",
            partial(runtime.blobs.assemble_multipart, grant.key, grant.upload_id, parts),
        )
    except StorageError as exc:
        return exc.response()
    except NoSuchUpload:
        return _no_such_upload().response()
    except (InvalidPart, InvalidPartOrder, EntityTooSmall) as exc:
        return StorageError(400, type(exc).__name__, str(exc)).response()
    except ObjectExistsError:
        logger.info("refused to complete %s: the key holds an object (write-once)", grant.key)
        return _precondition_failed().response()
    except (ValueError, KeyError, TypeError, LambdashareError):
        return StorageError(400, "MalformedXML", "The request body is not a list of parts.").response()
    result = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult>'
        f"<Bucket>{escape(runtime.blobs.bucket)}</Bucket><Key>{escape(grant.key)}</Key>"
        f"<ETag>&quot;{etag}&quot;</ETag></CompleteMultipartUploadResult>"
    )
    return Response(result, status_code=200, media_type="application/xml")


def _precondition_failed() -> StorageError:
    """S3's answer, word for word, when `If-None-Match: *` meets a key that holds an object."""
    return StorageError(
        412,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        Condition="If-None-Match",
    )


def _check_headers(request: Request, grant: Grant) -> None:
    """The headers signed into the URL must come with exactly the signed values, as on S3."""
    for name, value in grant.headers.items():
        if request.headers.get(name) != value:
            raise StorageError(
                403,
                "SignatureDoesNotMatch",
                f"The {name} header does not match the one the URL was signed for.",
            )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > grant.max_size:
        raise TooLargeError(declared)


async def _receive(request: Request, writer: BlobWriter) -> None:
    """Stream the body to the writer in batches, off the event loop."""
    batch = bytearray()
    async for chunk in request.stream():
        batch += chunk
        if len(batch) >= WRITE_BATCH:
            await run_in_threadpool(writer.write, bytes(batch))
            batch.clear()
    if batch:
        await run_in_threadpool(writer.write, bytes(batch))


async def get_object(request: Request) -> Response:
    """A single PUT's object is one file, served with its Range support; a completed multipart
    upload's is streamed over its parts, with one byte range as S3 serves (several: the whole object)."""
    runtime: Runtime = request.app.state.runtime
    try:
        grant = _grant(runtime, request, "GET")
        pieces = runtime.blobs.pieces(grant.key)
    except StorageError as exc:
        return exc.response()
    except BlobNotFoundError:
        return StorageError(404, "NoSuchKey", "The specified key does not exist.").response()
    disposition = f"attachment; filename*=UTF-8''{quote(grant.file_name, safe='')}"
    headers = {"Content-Disposition": disposition, "Accept-Ranges": "bytes"}
    if len(pieces) == 1:  # one file holds the whole object (a single PUT, or an upload of one part)
        return FileResponse(pieces[0][0], headers=headers, media_type="application/octet-stream")
    size = sum(piece_size for _, piece_size in pieces)
    start, stop, status = 0, size, 200
    try:
        if (wanted := _single_range(request.headers.get("range", ""), size)) is not None:
            start, stop, status = *wanted, 206
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        body = runtime.blobs.open_range(grant.key, start, stop, READ_CHUNK)
    except StorageError as exc:
        return exc.response()
    except BlobNotFoundError:
        return StorageError(404, "NoSuchKey", "The specified key does not exist.").response()
    headers["Content-Length"] = str(stop - start)
    if request.method == "HEAD":  # the headers a GET would answer, without reading the parts
        return Response(status_code=status, headers=headers, media_type="application/octet-stream")
    return StreamingResponse(body, status_code=status, headers=headers, media_type="application/octet-stream")


def _single_range(header: str, size: int) -> tuple[int, int] | None:
    """`bytes=a-b`, `bytes=a-` or `bytes=-n` as (start, stop); None (the whole object) for no header,
    several ranges or one S3 would ignore; 416 InvalidRange when it starts past the end."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if match is None or match[1] == match[2] == "":
        return None
    if match[1] == "":  # the last n bytes
        return (max(size - int(match[2]), 0), size) if int(match[2]) else _not_satisfiable(header, size)
    start, last = int(match[1]), int(match[2]) if match[2] else size - 1
    if start >= size:
        _not_satisfiable(header, size)
    return (start, min(last + 1, size)) if start <= last else None  # S3 ignores a range that ends before it starts


def _not_satisfiable(header: str, size: int) -> NoReturn:
    raise StorageError(
        416, "InvalidRange", "The requested range is not satisfiable", RangeRequested=header, ActualObjectSize=str(size)
    )
