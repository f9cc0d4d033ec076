"""The object-storage endpoint behind presigned URLs: `PUT` and `GET /_storage/<bucket>/<key>`.

Answers as S3 does (XML errors: 403 for a bad or expired signature or a missing signed header, 413
for a body over the signed size, 412 for a key that already holds an object: uploads are write-once,
as with S3's `If-None-Match: *`) and, once an object is durably stored, queues its ObjectCreated
notification before it acknowledges; a refused upload queues nothing.
Not responsible for signing or files: the FileBlobStore does both.
"""

from __future__ import annotations

import logging
from urllib.parse import quote
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response

from lambdashare.adapters.local.file_blob_store import (
    BlobWriter,
    ExpiredError,
    Grant,
    ObjectExistsError,
    SignatureError,
    TooLargeError,
)
from lambdashare.domain.errors import BlobNotFoundError
from lambdashare.emulator.events import s3_object_created
from lambdashare.emulator.runtime import Runtime

logger = logging.getLogger(__name__)

WRITE_BATCH = 1024 * 1024


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
        writer = runtime.blobs.open_writer(grant.key, grant.max_size)
        try:
            await _receive(request, writer)
            etag = await run_in_threadpool(writer.commit)
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
    event = s3_object_created(
        bucket=runtime.blobs.bucket, key=grant.key, size=writer.size, etag=etag, region=runtime.config.region
    )
    for function in runtime.wiring.bucket_notifications:
        await runtime.dispatcher.submit(function, event)
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


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
    runtime: Runtime = request.app.state.runtime
    try:
        grant = _grant(runtime, request, "GET")
        path = runtime.blobs.blob_path(grant.key)
    except StorageError as exc:
        return exc.response()
    except BlobNotFoundError:
        return StorageError(404, "NoSuchKey", "The specified key does not exist.").response()
    disposition = f"attachment; filename*=UTF-8''{quote(grant.file_name, safe='')}"
    return FileResponse(path, headers={"Content-Disposition": disposition}, media_type="application/octet-stream")
