"""Objects in a data directory, with presigned URLs that the emulator's storage endpoint honours.

Objects are write-once, as S3's `If-None-Match: *` makes them: an object is written to a temp file,
fsynced and then hard-linked into place, which fails if the key already holds an object, so of two
uploads to one key exactly one is published, and a partial or losing upload is never visible. Temp
files a crash left behind are removed when a store is opened. URLs are signed with HMAC-SHA256 over
method, key, expiry, size limit and content type; a PUT must also carry `If-None-Match: *`.
Not responsible for HTTP: the emulator's `storage` routes parse requests and call this store.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

from lambdashare.domain.errors import BlobNotFoundError, LambdashareError
from lambdashare.ports.blob_store import PresignedRequest

#: Path prefix of the emulator's storage endpoint: /_storage/<bucket>/<key>.
STORAGE_PATH = "/_storage"
_UPLOAD_PREFIX = "upload-"


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

    @property
    def headers(self) -> dict[str, str]:
        """Headers the request must carry with exactly these values (S3's signed headers)."""
        return upload_headers(self.content_type) if self.method == "PUT" else {}


class BlobWriter:
    """Receives one object's bytes; `commit` makes it visible atomically, `abort` leaves no trace."""

    def __init__(self, final_path: Path, tmp_dir: Path, max_size: int) -> None:
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

    def commit(self) -> str:
        """fsync, link into place unless the key holds an object, fsync the directory; return the
        ETag (hex md5, as S3's PUT). `ObjectExistsError` if another upload was published first."""
        os.fsync(self._fd)
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
        self._objects.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_uploads(self._tmp)
        self._public_url = public_url
        self._secret = secret.encode()

    # --- signing -------------------------------------------------------------------------
    def _signature(self, method: str, key: str, expires: int, max_size: int, content_type: str, name: str) -> str:
        message = "\n".join((method, self.bucket, key, str(expires), str(max_size), content_type, name))
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def _url(self, method: str, key: str, expires_in: int, max_size: int, content_type: str, name: str) -> str:
        expires = int(time.time()) + expires_in
        params = {"expires": expires, "max-size": max_size, "content-type": content_type, "name": name}
        params["signature"] = self._signature(method, key, expires, max_size, content_type, name)
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
        except (KeyError, ValueError) as exc:
            raise SignatureError("The URL is missing signed parameters.") from exc
        expected = self._signature(method, key, expires, max_size, content_type, name)
        if not hmac.compare_digest(expected.encode(), signature.encode(errors="replace")):
            raise SignatureError("The request signature does not match.")
        if time.time() > expires:
            raise ExpiredError("Request has expired.")
        return Grant(method=method, key=key, max_size=max_size, content_type=content_type, file_name=name)

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

    def blob_path(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise BlobNotFoundError(f"No object at key {key!r}.")
        return path

    def open_chunks(self, key: str, chunk_size: int) -> Iterator[bytes]:
        try:
            stream = open(self._path(key), "rb", buffering=0)  # noqa: SIM115 - closed by the generator
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"No object at key {key!r}.") from exc
        os.posix_fadvise(stream.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)  # the kernel reads further ahead
        return _chunks(stream, chunk_size)

    def delete_blob(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def _chunks(stream: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(chunk_size):
            yield chunk
