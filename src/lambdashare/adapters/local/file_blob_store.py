"""Objects in a data directory, with presigned URLs that the emulator's storage endpoint honours.

Objects are write-once, as S3's `If-None-Match: *` makes them: an object is written to a temp file,
fsynced and then hard-linked into place, which fails if the key already holds an object, so of two
uploads to one key exactly one is published, and a partial or losing upload is never visible. Temp
files a crash left behind are removed when a store is opened. URLs are signed with HMAC-SHA256 over
method, key, expiry, size limit and content type; a PUT must also carry `If-None-Match: *`.

Multipart uploads follow S3: a directory per upload under `multipart/` holds `meta.json` and one
file per part, named `<number>.<md5>` (so listing parts reads no bytes), each written to a temp
file, fsynced and renamed into place (a part may be sent again; the newer one wins, as on S3).
Completion copies no bytes: it checks the parts as S3 does, writes a manifest (the parts in order,
their sizes, the multipart ETag) into the upload's directory and renames that directory to the
object's path. The rename publishes the object and ends the upload in one step, and it never
replaces: not a plain object (a file), not another completed one (a directory that is never empty),
so write-once holds for both kinds, and a crash before it leaves the upload as it was. Readers take
an object as its pieces (one file, or the manifest's parts), so both kinds read the same way.
Completion is S3's `POST ?uploadId=` request to the emulator's storage endpoint, because the
endpoint (S3's stand-in) queues the `ObjectCreated:CompleteMultipartUpload` notification before it answers.
Not responsible for HTTP: the emulator's `storage` routes parse requests and call this store.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode
from xml.etree import ElementTree

from lambdashare.domain.errors import S3_ERRORS, BlobNotFoundError, LambdashareError, NoSuchUpload
from lambdashare.domain.multipart import check_completion
from lambdashare.ports.blob_store import PresignedRequest, StoredPart

#: Path prefix of the emulator's storage endpoint: /_storage/<bucket>/<key>.
STORAGE_PATH = "/_storage"
_UPLOAD_PREFIX = "upload-"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_PART_FILE = re.compile(r"^(\d{5})\.([0-9a-f]{32})$")
#: A completed multipart upload's object is a directory holding this manifest and the part files.
_MANIFEST = "manifest.json"
#: How long the resolver waits for the storage endpoint to complete an upload.
_COMPLETE_TIMEOUT_S = 600
#: Called with the object's ETag and size right before it is published (the endpoint stages its notification).
BeforePublish = Callable[[str, int], object]


class SignatureError(LambdashareError):
    """The URL was not signed by us, was altered, or is used with another method or content type."""


class ExpiredError(LambdashareError):
    """The URL's expiry has passed."""


class TooLargeError(LambdashareError):
    """The body is larger than the URL allows."""


class ObjectExistsError(LambdashareError):
    """The key already holds an object: objects are write-once (S3's 412 PreconditionFailed)."""


def upload_headers(content_type: str) -> dict[str, str]:
    """What an upload must send, as S3 requires its signed headers: `If-None-Match: *` (write-once)
    and the signed content type, if any."""
    return {"if-none-match": "*", **({"content-type": content_type} if content_type else {})}


@dataclass(frozen=True, slots=True)
class Grant:
    """What a verified URL allows."""

    method: str
    key: str
    max_size: int
    content_type: str
    file_name: str
    upload_id: str = ""  # a multipart upload's part PUT or completion POST
    part_number: int = 0

    @property
    def headers(self) -> dict[str, str]:
        """Headers the request must carry with exactly these values (S3's signed headers; a part
        takes no `If-None-Match`: completion is the write-once step)."""
        return upload_headers(self.content_type) if self.method == "PUT" and not self.upload_id else {}


class BlobWriter:
    """Receives one object's bytes; `commit` makes it visible atomically, `abort` leaves no trace."""

    def __init__(self, final_path: Path | None, tmp_dir: Path, max_size: int) -> None:
        self._final = final_path
        self._max_size = max_size
        while True:
            self._fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=_UPLOAD_PREFIX)
            # held until the writer ends, so a live upload is never swept as abandoned
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            if os.fstat(self._fd).st_nlink:  # a sweep may have removed it between mkstemp and flock
                break
            os.close(self._fd)
        self._tmp = Path(tmp_name)
        self._open = True
        self._md5 = hashlib.md5()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self._max_size:
            raise TooLargeError(f"Body exceeds the {self._max_size} bytes this URL allows.")
        self._md5.update(data)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def commit_part(self, part_dir: Path, number: int) -> str:
        """fsync and rename into the upload's directory as part `number`, replacing an earlier copy;
        return the hex md5. `NoSuchUpload` if the upload was aborted or completed meanwhile."""
        os.fsync(self._fd)
        md5 = self._md5.hexdigest()
        final = part_dir / f"{number:05d}.{md5}"
        try:
            # exclusive: never while the upload is assembled or aborted, and one writer of a part number at a
            # time, or two concurrent copies could each unlink the other's (S3: the last writer wins)
            with _locked(part_dir):
                os.rename(self._tmp, final)
                for older in part_dir.glob(f"{number:05d}.*"):
                    if older != final:
                        older.unlink(missing_ok=True)
        except FileNotFoundError:
            raise NoSuchUpload("The specified upload does not exist.") from None
        finally:
            self.abort()
        _fsync_dir(part_dir)
        return md5

    def commit(self, before_publish: BeforePublish = lambda etag, size: None) -> str:
        """fsync, link into place unless the key holds an object, fsync the directory; return the
        ETag (hex md5, as S3's PUT). `ObjectExistsError` if another upload was published first."""
        assert self._final is not None, "a part is committed with commit_part"
        os.fsync(self._fd)
        before_publish(self._md5.hexdigest(), self.size)
        self._final.parent.mkdir(parents=True, exist_ok=True)
        _fsync_dir(self._final.parent.parent)  # a new shard directory must last too (cheap when unchanged)
        try:
            # link, unlike rename, never replaces: the one atomic no-replace publish POSIX has
            os.link(self._tmp, self._final)  # still locked: a sweep cannot take the temp file meanwhile
        except FileExistsError:
            raise ObjectExistsError(f"An object exists at {self._final.name}.") from None
        finally:
            self.abort()  # the temp name goes in any case; a crash before this leaves it to the sweep
        _fsync_dir(self._final.parent)
        return self._md5.hexdigest()

    def abort(self) -> None:
        self._tmp.unlink(missing_ok=True)
        self._close()

    def _close(self) -> None:
        """Close once: a second close could hit a descriptor number another thread reuses."""
        if self._open:
            self._open = False
            os.close(self._fd)


def _remove_abandoned_uploads(tmp_dir: Path) -> None:
    """Delete temp files whose writer is gone (a crash mid-upload): a live writer holds a lock on its own."""
    for path in tmp_dir.glob(f"{_UPLOAD_PREFIX}*"):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                path.unlink()
        except (BlockingIOError, FileNotFoundError):
            pass
        finally:
            os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileBlobStore:
    def __init__(self, data_dir: Path, *, bucket: str, public_url: str, secret: str) -> None:
        self.bucket = bucket
        self._objects = data_dir / "objects"
        self._tmp = data_dir / "tmp"
        self._uploads = data_dir / "multipart"
        self._uploads.mkdir(parents=True, exist_ok=True)
        self._objects.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_uploads(self._tmp)
        for trash in self._tmp.glob("aborted-*"):  # a crash between renaming an upload away and deleting it
            shutil.rmtree(trash, ignore_errors=True)
        for trash in self._tmp.glob("deleted-*"):  # the same for a deleted multipart object
            shutil.rmtree(trash, ignore_errors=True)
        self._public_url = public_url
        self._secret = secret.encode()

    # --- signing -------------------------------------------------------------------------
    def _signature(
        self, method: str, key: str, expires: int, max_size: int, content_type: str, name: str, upload: str
    ) -> str:
        message = "\n".join((method, self.bucket, key, str(expires), str(max_size), content_type, name, upload))
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def _url(
        self,
        method: str,
        key: str,
        expires_in: int,
        max_size: int,
        content_type: str,
        name: str,
        *,
        upload_id: str = "",
        part_number: int = 0,
    ) -> str:
        expires = int(time.time()) + expires_in
        params: dict[str, str | int] = {}
        if upload_id:  # S3's query parameters of UploadPart and CompleteMultipartUpload
            params["uploadId"] = upload_id
            if part_number:
                params["partNumber"] = part_number
        params |= {"expires": expires, "max-size": max_size, "content-type": content_type, "name": name}
        upload = f"{upload_id}:{part_number}" if upload_id else ""
        params["signature"] = self._signature(method, key, expires, max_size, content_type, name, upload)
        return f"{self._public_url}{STORAGE_PATH}/{self.bucket}/{quote(key)}?{urlencode(params)}"

    def presign_put(
        self, key: str, *, size: int, content_type: str | None, expires_in: int, sha256: str | None = None
    ) -> PresignedRequest:
        """`sha256` is not enforced here (the emulator's storage does not check checksums): the
        hasher's verification turns a mismatch into FAILED."""
        url = self._url("PUT", key, expires_in, size, content_type or "", "")
        return PresignedRequest(method="PUT", url=url, headers=upload_headers(content_type or ""))

    def presign_get(self, key: str, *, file_name: str, expires_in: int) -> str:
        return self._url("GET", key, expires_in, 0, "", file_name)

    def verify(self, method: str, key: str, query: Mapping[str, str]) -> Grant:
        """Check a request against its URL's signature; raise SignatureError or ExpiredError."""
        try:
            expires = int(query["expires"])
            max_size = int(query["max-size"])
            content_type, name, signature = query["content-type"], query["name"], query["signature"]
            upload_id, part_number = query.get("uploadId", ""), int(query.get("partNumber", "0"))
        except (KeyError, ValueError) as exc:
            raise SignatureError("The URL is missing signed parameters.") from exc
        upload = f"{upload_id}:{part_number}" if upload_id else ""
        expected = self._signature(method, key, expires, max_size, content_type, name, upload)
        if not hmac.compare_digest(expected.encode(), signature.encode(errors="replace")):
            raise SignatureError("The request signature does not match.")
        if time.time() > expires:
            raise ExpiredError("Request has expired.")
        return Grant(method, key, max_size, content_type, name, upload_id, part_number)

    # --- objects ---------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        """Keys map to hashed file names: no user-chosen path ever touches the file system."""
        digest = hashlib.sha256(f"{self.bucket}/{key}".encode()).hexdigest()
        return self._objects / digest[:2] / digest

    def open_writer(self, key: str, max_size: int) -> BlobWriter:
        """A writer for a new object; `ObjectExistsError` at once if the key holds one already
        (`commit` checks again, atomically: this only spares a replayed upload its body)."""
        path = self._path(key)
        if path.exists():
            raise ObjectExistsError(f"An object exists at key {key!r}.")
        return BlobWriter(path, self._tmp, max_size)

    def exists(self, key: str) -> bool:
        """Whether the key holds an object, of either kind."""
        return self._path(key).exists()

    def pieces(self, key: str) -> list[tuple[Path, int]]:
        """The object's files and their sizes, in order: itself, or a completed upload's parts.
        `BlobNotFoundError` if the key holds no object."""
        path = self._path(key)
        try:
            try:
                manifest = json.loads((path / _MANIFEST).read_text())
            except NotADirectoryError:  # a single PUT's object
                return [(path, path.stat().st_size)]
        except FileNotFoundError:
            raise BlobNotFoundError(f"No object at key {key!r}.") from None
        return [(path / part["file"], part["size"]) for part in manifest["parts"]]

    def open_range(self, key: str, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
        """Bytes `start` to `stop` (exclusive) of the object, in chunks of at most `chunk_size`;
        each file is opened when the read reaches it. `BlobNotFoundError` at once if there is no object."""
        return _read_pieces(self.pieces(key), start, stop, chunk_size)

    def open_chunks(self, key: str, chunk_size: int) -> Iterator[bytes]:
        pieces = self.pieces(key)
        return _read_pieces(pieces, 0, sum(size for _, size in pieces), chunk_size)

    def delete_blob(self, key: str) -> None:
        """Remove the object, whichever kind; a completed upload's directory is renamed away first,
        so it disappears whole (a crash leaves it to the start-up sweep)."""
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except IsADirectoryError:
            trash = self._tmp / f"deleted-{secrets.token_hex(8)}"
            try:
                os.rename(path, trash)
            except FileNotFoundError:  # deleted meanwhile
                return
            shutil.rmtree(trash, ignore_errors=True)
        _fsync_dir(path.parent)

    # --- multipart uploads ---------------------------------------------------------------------
    def create_multipart(self, key: str, *, content_type: str | None) -> str:
        upload_id = secrets.token_hex(16)
        staging = Path(tempfile.mkdtemp(dir=self._tmp, prefix="multipart-"))
        meta = {"key": key, "contentType": content_type or "", "createdAt": time.time()}
        with open(staging / "meta.json", "w") as out:
            json.dump(meta, out)
            out.flush()
            os.fsync(out.fileno())
        _fsync_dir(staging)
        os.rename(staging, self._uploads / upload_id)  # whole or not at all
        _fsync_dir(self._uploads)
        return upload_id

    def presign_part(self, key: str, upload_id: str, number: int, *, size: int, expires_in: int) -> PresignedRequest:
        url = self._url("PUT", key, expires_in, size, "", "", upload_id=upload_id, part_number=number)
        return PresignedRequest(method="PUT", url=url, headers={})

    def _upload_dir(self, key: str, upload_id: str) -> Path:
        """The upload's directory; `NoSuchUpload` unless it exists and belongs to `key`."""
        path = self._uploads / upload_id
        try:
            if _UPLOAD_ID.fullmatch(upload_id) and json.loads((path / "meta.json").read_text())["key"] == key:
                return path
        except FileNotFoundError:
            pass
        raise NoSuchUpload("The specified upload does not exist.")

    def open_part_writer(self, key: str, upload_id: str, max_size: int) -> tuple[BlobWriter, Path]:
        """A writer for one part and the directory `commit_part` puts it in; `NoSuchUpload` at once
        for an aborted or completed upload."""
        part_dir = self._upload_dir(key, upload_id)  # first: a refused part leaves no temp file
        return BlobWriter(None, self._tmp, max_size), part_dir

    def list_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        return sorted(self._stored_parts(self._upload_dir(key, upload_id)).values(), key=lambda p: p.number)

    @staticmethod
    def _stored_parts(upload_dir: Path) -> dict[int, StoredPart]:
        parts: dict[int, tuple[float, StoredPart]] = {}
        for path in upload_dir.iterdir():
            if match := _PART_FILE.fullmatch(path.name):
                try:
                    stat = path.stat()
                except FileNotFoundError:  # replaced by a newer copy meanwhile
                    continue
                number = int(match[1])
                if number not in parts or parts[number][0] < stat.st_mtime:
                    parts[number] = (stat.st_mtime, StoredPart(number, f'"{match[2]}"', stat.st_size))
        return {number: part for number, (_, part) in parts.items()}

    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> str:
        """S3's CompleteMultipartUpload request, sent to the emulator's storage endpoint (see the module doc)."""
        url = self._url("POST", key, _COMPLETE_TIMEOUT_S, 0, "", "", upload_id=upload_id)
        body = json.dumps({"parts": [{"number": number, "etag": etag} for number, etag in parts]}).encode()
        request = urllib.request.Request(url, data=body, method="POST", headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=_COMPLETE_TIMEOUT_S) as answer:
                return ElementTree.fromstring(answer.read()).findtext("ETag", "")
        except urllib.error.HTTPError as exc:
            code = ElementTree.fromstring(exc.read()).findtext("Code", "")
            message = f"{code}: storage refused to complete the upload"
            raise S3_ERRORS.get(code, LambdashareError)(message) from None

    def assemble_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        before_publish: BeforePublish = lambda etag, size: None,
    ) -> tuple[str, int]:
        """The storage endpoint's side of completion: check the parts as S3 does, publish the upload's
        directory as the object write-once (`ObjectExistsError`), copying no bytes (see the module doc);
        return S3's multipart ETag (hex md5 of the parts' binary md5s, then `-<count>`) and the size."""
        upload_dir = self._upload_dir(key, upload_id)
        with _locked(upload_dir):
            self._upload_dir(key, upload_id)  # an abort or another completion may have come first
            stored = self._stored_parts(upload_dir)
            check_completion(parts, stored)
            chosen = [stored[number] for number, _ in parts]
            digests = b"".join(bytes.fromhex(part.etag.strip('"')) for part in chosen)
            etag = f"{hashlib.md5(digests).hexdigest()}-{len(chosen)}"
            files = [{"file": f"{p.number:05d}.{p.etag.strip(chr(34))}", "size": p.size} for p in chosen]
            with open(upload_dir / _MANIFEST, "w") as out:
                json.dump({"etag": etag, "parts": files}, out)
                out.flush()
                os.fsync(out.fileno())
            _fsync_dir(upload_dir)
            final = self._path(key)
            final.parent.mkdir(exist_ok=True)
            _fsync_dir(self._objects)  # a new shard directory must last too (cheap when unchanged)
            size = sum(part.size for part in chosen)
            before_publish(etag, size)
            try:
                os.rename(upload_dir, final)
            except OSError as exc:  # a file (ENOTDIR) or a completed upload (ENOTEMPTY, EEXIST) is there
                if exc.errno in (errno.ENOTDIR, errno.ENOTEMPTY, errno.EEXIST):
                    raise ObjectExistsError(f"An object exists at key {key!r}.") from None
                raise
            _fsync_dir(final.parent)
            _fsync_dir(self._uploads)
            keep = {_MANIFEST} | {entry["file"] for entry in files}
            for leftover in final.iterdir():  # meta.json and copies of parts that were replaced or not listed
                if leftover.name not in keep:
                    leftover.unlink(missing_ok=True)
        return etag, size

    def abort_multipart(self, key: str, upload_id: str) -> None:
        upload_dir = self._upload_dir(key, upload_id)
        with _locked(upload_dir):
            self._upload_dir(key, upload_id)
            self._drop_upload(upload_dir)

    def abort_stale_multipart(self, older_than: float) -> list[str]:
        """Abort every multipart upload started more than `older_than` seconds ago (S3's lifecycle
        rule `AbortIncompleteMultipartUpload`); return their ids. For the emulator's sweeper."""
        cutoff, aborted = time.time() - older_than, []
        for upload_dir in self._uploads.iterdir():
            try:
                meta = json.loads((upload_dir / "meta.json").read_text())
                if meta["createdAt"] < cutoff:
                    self.abort_multipart(meta["key"], upload_dir.name)
                    aborted.append(upload_dir.name)
            except (FileNotFoundError, NoSuchUpload):  # completed or aborted meanwhile
                continue
        return aborted

    def _drop_upload(self, upload_dir: Path) -> None:
        """Rename away first, so the upload is gone at once; then delete its parts."""
        trash = self._tmp / f"aborted-{upload_dir.name}"
        os.rename(upload_dir, trash)
        _fsync_dir(self._uploads)
        shutil.rmtree(trash, ignore_errors=True)


class _locked:
    """An exclusive lock on an upload (its meta.json): to add a part, complete it or abort it."""

    def __init__(self, upload_dir: Path) -> None:
        try:
            self._fd = os.open(upload_dir / "meta.json", os.O_RDONLY)
        except FileNotFoundError:
            raise NoSuchUpload("The specified upload does not exist.") from None

    def __enter__(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)


def _read_pieces(pieces: list[tuple[Path, int]], start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
    offset = 0
    for path, size in pieces:
        first, last = max(start - offset, 0), min(stop - offset, size)
        offset += size
        if first >= last:
            continue
        try:
            stream = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by _chunks
        except FileNotFoundError:  # deleted while being read
            raise BlobNotFoundError(f"The object at {path.name} is gone.") from None
        os.posix_fadvise(stream.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)  # the kernel reads further ahead
        yield from _chunks(stream, first, last - first, chunk_size)


def _chunks(stream: BinaryIO, first: int, length: int, chunk_size: int) -> Iterator[bytes]:
    with stream:
        if first:
            stream.seek(first)
        while length and (chunk := stream.read(min(chunk_size, length))):
            length -= len(chunk)
            yield chunk
