"""The bytes: an upload sent as its ticket says (one PUT, or parts N at a time, each part's ETag checked against
its md5), resumed from the parts the store already holds, and a download whose digests are checked as it arrives.
httpx does the HTTP; the presigned URLs carry the authorisation.

Not responsible for the GraphQL calls themselves (`api`) nor for printing (`output`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import mimetypes
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from lambdashare.client import api as ops
from lambdashare.client.api import Api
from lambdashare.client.errors import ApiError, ConnectError, FileFailedError, NotFoundError, UsageError, first_error
from lambdashare.client.ledger import Entry, Ledger
from lambdashare.domain.files import MAX_SINGLE_PUT
from lambdashare.domain.model import ALGORITHMS
from lambdashare.domain.multipart import MAX_PARTS, MAX_TICKET_PARTS, MiB

CHUNK = 256 * 1024
#: a presigned request this close to its expiry is replaced before it is used
URL_MARGIN_S = 60
FINAL_STATUSES = ("HASHED", "FAILED")

Advance = Callable[[int], None]


@dataclass(frozen=True)
class LocalFile:
    path: Path
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> LocalFile:
        try:
            stat = path.stat()
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror}") from exc
        if not path.is_file():
            raise UsageError(f"{path}: not a regular file")
        return cls(path, stat.st_size, stat.st_mtime_ns)

    def changed(self) -> bool:
        try:
            stat = self.path.stat()
        except OSError:
            return True
        return (stat.st_size, stat.st_mtime_ns) != (self.size, self.mtime_ns)

    def matches(self, entry: Entry) -> bool:
        return (entry["size"], entry["mtime_ns"]) == (self.size, self.mtime_ns)


def part_size_for(size: int, wanted: int) -> int:
    """`wanted`, or the smallest whole MiB that keeps the file within S3's 10,000 parts."""
    return max(wanted, math.ceil(size / MAX_PARTS / MiB) * MiB)


class Uploader:
    """Sends files for one command: `upload(path)` returns the file's record once its bytes are stored."""

    def __init__(
        self, api: Api, http: httpx.AsyncClient, ledger: Ledger, *, part_size: int, parallel: int, resume: bool
    ) -> None:
        self.api, self.http, self.ledger = api, http, ledger
        self.part_size, self.parallel, self.resume = part_size, parallel, resume

    async def upload(self, local: LocalFile, advance: Advance) -> dict[str, Any]:
        entry = self.ledger.get(local.path) if self.resume else None
        if entry is not None and entry["sent"] and local.matches(entry):
            sent = (await self.api.call(ops.GET_FILE, id=entry["id"]))["file"]
            if sent is not None:  # nothing to resume: these very bytes are uploaded
                advance(local.size)
                return dict(sent)
        if entry is not None and not entry["sent"] and entry["part_size"] is not None:
            if not local.matches(entry):
                raise FileFailedError(f"{local.path}: changed since its upload began; upload it without --resume")
            return await self._resume(local, entry, advance)
        multipart = local.size > self.part_size or local.size > MAX_SINGLE_PUT
        part_size = part_size_for(local.size, self.part_size) if multipart else None
        request: dict[str, Any] = {"name": local.path.name, "size": local.size}
        content_type = mimetypes.guess_type(local.path.name)[0]
        if content_type:
            request["contentType"] = content_type
        if part_size:
            request["partSize"] = part_size
        ticket = (await self.api.call(ops.REQUEST_UPLOAD, input=request))["requestUpload"]
        file: dict[str, Any] = ticket["file"]
        entry = Entry(id=file["id"], size=local.size, mtime_ns=local.mtime_ns, part_size=part_size, sent=False)
        self.ledger.record(local.path, entry)
        if part_size is None:
            await self._put(ticket, local, 0, local.size, advance)
            if local.changed():
                raise FileFailedError(f"{local.path}: changed while it was being sent; upload it again")
        else:
            await self._finish_parts(local, entry, {}, _part_requests_of(ticket), advance)
        self.ledger.record(local.path, {**entry, "sent": True})
        return file

    async def _resume(self, local: LocalFile, entry: Entry, advance: Advance) -> dict[str, Any]:
        file = (await self.api.call(ops.GET_FILE, id=entry["id"]))["file"]
        if file is None:
            raise NotFoundError(f"{local.path}: its upload {entry['id']} is gone (expired or deleted); upload it again")
        if file["status"] != "PENDING":
            self.ledger.record(local.path, {**entry, "sent": True})
            return dict(file)
        listed = (await self.api.call(ops.UPLOADED_PARTS, id=entry["id"]))["uploadedParts"]
        stored = {part["number"]: part["etag"] for part in listed}
        part_size = entry["part_size"]
        assert part_size is not None
        for number, etag in stored.items():
            offset, length = self._span(local, part_size, number)
            if await asyncio.to_thread(_md5_of, local.path, offset, length) != etag.strip('"'):
                raise FileFailedError(f"{local.path}: changed since its upload began (part {number}); upload it again")
            advance(length)
        await self._finish_parts(local, entry, stored, {}, advance)
        self.ledger.record(local.path, {**entry, "sent": True})
        return dict(file)

    async def _finish_parts(
        self,
        local: LocalFile,
        entry: Entry,
        stored: dict[int, str],
        requests: dict[int, tuple[dict[str, Any], float]],
        advance: Advance,
    ) -> None:
        """Send every part not stored yet, `parallel` at a time, then complete the upload with every part's ETag.
        A part whose presigned request is missing (past the first ticket's 1,000) or about to expire gets a fresh
        one, with the next parts, from resumeUpload(id, numbers)."""
        part_size = entry["part_size"]
        assert part_size is not None
        count = max(1, math.ceil(local.size / part_size))
        missing = [n for n in range(1, count + 1) if n not in stored]
        etags = dict(stored)
        slots = asyncio.Semaphore(self.parallel)
        refill = asyncio.Lock()

        async def send(number: int) -> None:
            async with slots:
                async with refill:
                    known = requests.get(number)
                    if known is None or known[1] - URL_MARGIN_S < time.time():
                        batch = [n for n in missing if n >= number and n not in etags][:MAX_TICKET_PARTS]
                        ticket = await self.api.call(ops.RESUME_UPLOAD, id=entry["id"], numbers=batch)
                        requests.update(_part_requests_of(ticket["resumeUpload"]))
                    request, _ = requests.pop(number)
                offset, length = self._span(local, part_size, number)
                etags[number] = await self._put(request, local, offset, length, advance)

        try:
            async with asyncio.TaskGroup() as group:
                for number in missing:
                    group.create_task(send(number))
        except BaseExceptionGroup as failed:  # the first part that failed says why; the others were cancelled
            raise first_error(failed) from failed
        if local.changed():
            await self.api.call(ops.ABORT_UPLOAD, id=entry["id"])
            raise FileFailedError(f"{local.path}: changed while it was being sent; upload it again")
        parts = [{"number": n, "etag": etags[n]} for n in sorted(etags)]
        await self.api.call(ops.COMPLETE_UPLOAD, input={"id": entry["id"], "parts": parts})

    @staticmethod
    def _span(local: LocalFile, part_size: int, number: int) -> tuple[int, int]:
        offset = (number - 1) * part_size
        return offset, min(part_size, local.size - offset)

    async def _put(self, request: dict[str, Any], local: LocalFile, offset: int, length: int, advance: Advance) -> str:
        """Send a byte range as the request says (method, URL, exactly its headers); its ETag, checked against the
        md5 of what was read, so a part the store received differently is caught here."""
        md5 = hashlib.md5(usedforsecurity=False)
        headers = {**json.loads(request["headers"] or "{}"), "content-length": str(length)}

        async def body() -> AsyncIterator[bytes]:
            with open(local.path, "rb") as source:
                source.seek(offset)
                remaining = length
                while remaining:
                    chunk = source.read(min(CHUNK, remaining))
                    if not chunk:
                        raise FileFailedError(f"{local.path}: shrank while it was being sent; upload it again")
                    md5.update(chunk)
                    remaining -= len(chunk)
                    advance(len(chunk))
                    yield chunk

        try:
            answer = await self.http.request(request["method"], request["url"], headers=headers, content=body())
        except httpx.HTTPError as exc:
            raise ConnectError(f"sending {local.path} failed: {exc or type(exc).__name__}") from exc
        if answer.status_code >= 300:
            raise ApiError(f"{local.path}: the store refused the bytes: HTTP {answer.status_code} {_s3_code(answer)}")
        etag = str(answer.headers.get("etag", ""))
        if etag.strip('"') not in (md5.hexdigest(), "") and "-" not in etag:
            raise FileFailedError(f"{local.path}: the store's ETag does not match the bytes read; upload it again")
        return etag


def _part_requests_of(ticket: dict[str, Any]) -> dict[int, tuple[dict[str, Any], float]]:
    """A ticket's part requests by number, each with when its URL expires (epoch seconds)."""
    expires = datetime.fromisoformat(ticket["expiresAt"]).timestamp()
    return {part["number"]: (part, expires) for part in ticket["parts"] or []}


def _s3_code(answer: httpx.Response) -> str:
    found = re.search(r"<Code>([^<]+)</Code>", answer.text)
    return found[1] if found else ""


def _md5_of(path: Path, offset: int, length: int) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as source:
        source.seek(offset)
        while length:
            chunk = source.read(min(CHUNK, length))
            if not chunk:
                break
            md5.update(chunk)
            length -= len(chunk)
    return md5.hexdigest()


def digest_of(path: Path, algorithm: str) -> str:
    with open(path, "rb") as source:
        return hashlib.file_digest(source, algorithm).hexdigest()


async def wait_until_final(api: Api, session: Any, file_id: str) -> dict[str, Any]:
    """The file once HASHED or FAILED: the first `onFileHashed` event for it, or a look at `file(id)` (polled
    slowly, because a subscription set up just before the event may start too late to see it)."""

    async def notified() -> dict[str, Any]:
        async for result in api.events(session, ops.ON_FILE_HASHED, id=file_id):
            file = result.get("onFileHashed")
            if file and file["status"] in FINAL_STATUSES:
                return dict(file)
        raise ConnectError("the subscription ended before the file was hashed")

    async def polled() -> dict[str, Any]:
        delay = 0.5
        while True:
            file = (await api.call(ops.GET_FILE, id=file_id))["file"]
            if file is None:
                raise NotFoundError(f"file {file_id} was deleted while it was being hashed")
            if file["status"] in FINAL_STATUSES:
                return dict(file)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5)

    notifier, poller = asyncio.create_task(notified()), asyncio.create_task(polled())
    pending = {notifier, poller}
    try:
        while True:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                # a subscription refused (e.g. AppSync's 100 per connection) leaves the look at file(id) to answer
                if task is notifier and task.exception() is not None and pending:
                    continue
                return task.result()
    finally:
        for task in (notifier, poller):
            task.cancel()
        await asyncio.gather(notifier, poller, return_exceptions=True)


async def download(http: httpx.AsyncClient, file: dict[str, Any], target: Path, advance: Advance) -> None:
    """Stream the file to `target`, hashing as it comes; only bytes whose four digests match the record are kept
    (written beside the target, renamed over it at the end)."""
    if file["status"] != "HASHED" or not file.get("hashes"):
        raise FileFailedError(f"{file['id']} is {file['status']}: there are no digests to check a download against")
    if not file.get("downloadUrl"):
        raise NotFoundError(f"{file['id']}: no download URL for this caller")
    digests = {name: hashlib.new(name) for name in ALGORITHMS}
    partial = target.with_name(f".{target.name}.lambdashare-part")
    try:
        with open(partial, "wb") as out:
            async with http.stream("GET", file["downloadUrl"]) as answer:
                if answer.status_code != 200:
                    raise ApiError(f"the store refused the download: HTTP {answer.status_code}")
                async for chunk in answer.aiter_bytes(CHUNK):
                    out.write(chunk)
                    for digest in digests.values():
                        digest.update(chunk)
                    advance(len(chunk))
        wrong = [name for name, digest in digests.items() if digest.hexdigest() != file["hashes"][name]]
        if wrong:
            raise FileFailedError(f"{target}: the bytes received do not match the file's {', '.join(wrong)}")
        os.replace(partial, target)
    except httpx.HTTPError as exc:
        raise ConnectError(f"downloading {file['id']} failed: {exc or type(exc).__name__}") from exc
    finally:
        partial.unlink(missing_ok=True)
