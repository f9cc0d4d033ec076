"""Durability, end to end: restarts and `kill -9` lose no file, no hash, no key and no acknowledged upload.

The emulator runs as its own process (`private_emulator`), so these tests stop it, kill it and start it
again on the same data dir and port, and look at the result only through the API and storage URLs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from lambdashare.adapters.local._sqlite import DB_FILE
from lambdashare.adapters.local.event_queue import SqliteEventQueue
from lambdashare.adapters.local.file_blob_store import BeforePublish, FileBlobStore
from lambdashare.domain.files import object_key
from lambdashare.emulator.events import s3_object_created
from lambdashare.emulator.runtime import DEFAULT_AUTH_MODE, TEMPLATE_PATH
from lambdashare.emulator.schema_rules import SchemaRules
from lambdashare.emulator.template import load_wiring
from lambdashare.schema_export import appsync_sdl
from tests.e2e.clients import (
    all_files,
    data,
    file_by_id,
    files_by_hash,
    graphql,
    request_upload,
    send_bytes,
    wait_for_file,
)
from tests.e2e.conftest import Emulator

DELETE = "mutation D($id: ID!) { deleteFile(id: $id) { id } }"
DOWNLOAD_URL = "query F($id: ID!) { file(id: $id) { downloadUrl } }"


def digests(body: bytes) -> dict[str, str]:
    return {name: hashlib.new(name, body).hexdigest() for name in ("md5", "sha1", "sha256", "sha512")}


def upload(emulator: Emulator, body: bytes, **fields: Any) -> dict[str, Any]:
    """Request, send, and wait for the final state; return the file as `file(id)` gives it."""
    ticket = request_upload(emulator, size=len(body), **{"name": "file.bin", **fields})
    response = send_bytes(ticket, body)
    assert response.status_code == 200, response.text
    return wait_for_file(emulator, ticket["file"]["id"])


def healthz(emulator: Emulator) -> dict[str, Any]:
    response = httpx.get(f"{emulator.url}/healthz", timeout=10)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def wait_until_idle(emulator: Emulator, deadline_s: float = 60) -> None:
    """Until no invocation is in flight: every queued event has been handled."""
    end = time.monotonic() + deadline_s
    while healthz(emulator)["invocationsInFlight"]:
        assert time.monotonic() < end, "the emulator never finished its queued invocations"
        time.sleep(0.05)


def temp_files(emulator: Emulator) -> list[Path]:
    return sorted((emulator.data_dir / "tmp").iterdir())


def stored_objects(emulator: Emulator) -> set[Path]:
    return {p for p in (emulator.data_dir / "objects").rglob("*") if p.is_file()}


def hasher_workers(emulator: Emulator) -> list[int]:
    """Pids of the emulator's hasher worker processes (its 'spawn' children named after HasherFunction; the
    analytics function has workers too)."""
    assert emulator.process is not None
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == emulator.process.pid and b"spawn_main" in cmdline and name == "HasherFunction":
            workers.append(int(entry.name))
    return workers


PART = 5 * 1024 * 1024


def sent_parts(emulator: Emulator, body: bytes) -> tuple[str, list[str], list[dict[str, Any]]]:
    """A multipart upload of `body` in 5 MiB parts, every part sent and acknowledged: the file's id, the
    parts' URLs, and the parts as completeUpload takes them."""
    file_id = request_upload(emulator, name="parts.bin", size=len(body), partSize=PART)["file"]["id"]
    answer = data(emulator, "mutation R($id: ID!) { resumeUpload(id: $id) { parts { url } } }", {"id": file_id})
    urls = [part["url"] for part in answer["resumeUpload"]["parts"]]
    parts = []
    for number, url in enumerate(urls, start=1):
        sent = httpx.put(url, content=body[(number - 1) * PART : number * PART])
        assert sent.status_code == 200, sent.text
        parts.append({"number": number, "etag": sent.headers["etag"]})
    return file_id, urls, parts


@contextmanager
def paused(pids: list[int]) -> Iterator[None]:
    """SIGSTOP the given processes (children of the test's own emulator); make sure they are gone after."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def banner_api_key(emulator: Emulator) -> str:
    match = re.search(r"API key\s+(\S+)", emulator.logs())
    assert match is not None, emulator.logs()
    return match.group(1)


def test_restart_keeps_every_file_status_and_hash(private_emulator: Emulator) -> None:
    # GIVEN files in every state: hashed, failed, pending, deleted
    emulator = private_emulator
    hashed_body = os.urandom(300_000)
    hashed = upload(emulator, hashed_body, name="kept.bin", contentType="application/octet-stream")
    failed = upload(emulator, os.urandom(1000), name="liar.bin", sha256="0" * 64)
    pending = request_upload(emulator, name="pending.bin", size=10)["file"]
    deleted = request_upload(emulator, name="deleted.bin", size=10)["file"]
    assert data(emulator, DELETE, {"id": deleted["id"]})["deleteFile"] == {"id": deleted["id"]}
    assert (hashed["status"], failed["status"], pending["status"]) == ("HASHED", "FAILED", "PENDING")
    # AND an upload URL not used yet, and a download URL, both issued before the restart
    later_body = os.urandom(5000)
    later = request_upload(emulator, name="later.bin", size=len(later_body))
    download_url = data(emulator, DOWNLOAD_URL, {"id": hashed["id"]})["file"]["downloadUrl"]
    before = all_files(emulator)
    wait_until_idle(emulator)

    # WHEN the emulator is stopped and started again on the same data dir
    emulator.stop()
    emulator.start()

    # THEN every file is there with the same status, hashes and timestamps, and the deleted one is not
    assert all_files(emulator) == before
    assert {f["id"] for f in before} >= {hashed["id"], failed["id"], pending["id"], later["file"]["id"]}
    assert file_by_id(emulator, hashed["id"]) == hashed
    assert file_by_id(emulator, failed["id"]) == failed
    assert file_by_id(emulator, deleted["id"]) is None
    assert files_by_hash(emulator, hashed["hashes"]["sha256"]) == [hashed["id"]]
    # AND the API key still works, and URLs issued before the restart still do
    assert graphql(emulator, "{ files(limit: 1) { nextToken } }").json() == {"data": {"files": {"nextToken": None}}}
    download = httpx.get(download_url, timeout=30)
    assert download.status_code == 200 and download.content == hashed_body
    assert send_bytes(later, later_body).status_code == 200
    finished = wait_for_file(emulator, later["file"]["id"])
    assert finished["status"] == "HASHED" and finished["hashes"] == digests(later_body)


def test_restart_keeps_the_generated_api_key(private_emulator: Emulator) -> None:
    # GIVEN an emulator started without --api-key, so it generates one for its data dir
    emulator = private_emulator
    emulator.stop()
    fixture_key, emulator.api_key = emulator.api_key, ""
    emulator.start()
    key = banner_api_key(emulator)
    assert key.startswith("da2-") and key != fixture_key
    created = graphql(
        emulator, 'mutation { requestUpload(input: {name: "k.bin", size: 1}) { file { id } } }', api_key=key
    )
    assert created.status_code == 200, created.text
    file_id = created.json()["data"]["requestUpload"]["file"]["id"]

    # WHEN it is restarted, again without --api-key
    emulator.stop()
    emulator.start()

    # THEN it announces and accepts the same key, and the file is there
    assert banner_api_key(emulator) == key
    found = graphql(emulator, "query F($id: ID!) { file(id: $id) { id status } }", {"id": file_id}, api_key=key)
    assert found.status_code == 200
    assert found.json() == {"data": {"file": {"id": file_id, "status": "PENDING"}}}
    # AND no other key is accepted
    assert graphql(emulator, "{ files { nextToken } }", api_key=fixture_key).status_code == 401


def test_upload_acknowledged_before_kill9_is_hashed_after_restart(private_emulator: Emulator) -> None:
    # GIVEN an emulator with one hasher worker, warmed up by one upload, then that worker paused
    emulator = private_emulator
    emulator.stop()
    emulator.start(LAMBDASHARE_HASH_WORKERS="1")
    warm = upload(emulator, os.urandom(1000), name="warm.bin")
    wait_until_idle(emulator)
    workers = hasher_workers(emulator)
    assert len(workers) == 1, workers
    body = os.urandom(3 * 1024 * 1024 + 17)
    with paused(workers):
        ticket = request_upload(emulator, name="acked.bin", size=len(body))
        file_id = ticket["file"]["id"]
        response = send_bytes(ticket, body)
        assert response.status_code == 200, response.text
        # the upload is acknowledged, its event queued and not handled yet
        assert file_by_id(emulator, file_id)["status"] == "PENDING"  # type: ignore[index]
        assert healthz(emulator)["invocationsInFlight"] == 1

        # WHEN the emulator is killed -9 right after the acknowledgement, and started again
        emulator.kill9()
    emulator.start()

    # THEN the file is hashed with the right digests
    final = wait_for_file(emulator, file_id)
    assert final["status"] == "HASHED", final
    assert final["hashes"] == digests(body)
    assert final["size"] == len(body)
    assert final["uploadedAt"] is not None and final["uploadedAt"] <= final["hashedAt"]
    # AND exactly once: one file for the hash, one entry in the listing, the warm-up file untouched
    assert files_by_hash(emulator, digests(body)["sha256"]) == [file_id]
    assert [f["id"] for f in all_files(emulator)].count(file_id) == 1
    assert file_by_id(emulator, warm["id"]) == warm
    # AND once the queue is drained, another restart hashes nothing again
    wait_until_idle(emulator)
    emulator.stop()
    emulator.start()
    assert file_by_id(emulator, file_id) == final
    assert healthz(emulator)["invocationsInFlight"] == 0


def test_kill9_mid_upload_leaves_no_partial_file_and_the_url_still_works(private_emulator: Emulator) -> None:
    # GIVEN an upload whose client has sent half the body
    emulator = private_emulator
    body = os.urandom(1024 * 1024)
    ticket = request_upload(emulator, name="interrupted.bin", size=len(body))
    objects = stored_objects(emulator)
    target = urlsplit(ticket["url"])
    head = (
        f"PUT {target.path}?{target.query} HTTP/1.1\r\nHost: {emulator.host}\r\n"
        f"If-None-Match: *\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", emulator.port)) as sock:
        sock.sendall(head + body[: len(body) // 2])
        deadline = time.monotonic() + 30
        while not temp_files(emulator):
            assert time.monotonic() < deadline, "the server never started receiving the upload"
            time.sleep(0.01)

        # WHEN the emulator is killed -9 mid-body, and started again
        emulator.kill9()
    emulator.start()

    # THEN the partial body is gone from the data dir, no object exists, and the file is PENDING
    assert temp_files(emulator) == []
    assert stored_objects(emulator) == objects
    assert file_by_id(emulator, ticket["file"]["id"]) == ticket["file"]
    # AND the same URL takes the whole upload, which is hashed
    assert send_bytes(ticket, body).status_code == 200
    final = wait_for_file(emulator, ticket["file"]["id"])
    assert final["status"] == "HASHED" and final["hashes"] == digests(body)


def test_a_completed_multipart_upload_is_queued_before_the_answer_and_hashed_after_kill9(
    private_emulator: Emulator,
) -> None:
    # GIVEN an emulator whose one hasher worker is paused, and a two-part upload whose parts were sent
    emulator = private_emulator
    emulator.stop()
    emulator.start(LAMBDASHARE_HASH_WORKERS="1")
    upload(emulator, os.urandom(1000), name="warm.bin")
    wait_until_idle(emulator)
    body = os.urandom(5 * 1024 * 1024 + 3)
    with paused(hasher_workers(emulator)):
        file_id, _, parts = sent_parts(emulator, body)
        # WHEN completeUpload has answered
        complete = "mutation C($input: CompleteUploadInput!) { completeUpload(input: $input) { id } }"
        data(emulator, complete, {"input": {"id": file_id, "parts": parts}})
        # THEN S3's CompleteMultipartUpload record is already in the durable queue
        with closing(sqlite3.connect(emulator.data_dir / DB_FILE)) as db:
            events = [json.loads(row[0]) for row in db.execute("SELECT event FROM invocations")]
        assert [e["Records"][0]["eventName"] for e in events] == ["ObjectCreated:CompleteMultipartUpload"]
        assert events[0]["Records"][0]["s3"]["object"]["size"] == len(body)
        # AND it survives kill -9: after a restart the file is hashed
        emulator.kill9()
    emulator.start()
    final = wait_for_file(emulator, file_id)
    assert final["status"] == "HASHED", final
    assert final["hashes"] == digests(body)


def test_parts_acknowledged_before_kill9_are_kept_and_completed_after_restart(private_emulator: Emulator) -> None:
    # GIVEN a two-part upload whose parts were both acknowledged
    emulator = private_emulator
    body = os.urandom(5 * 1024 * 1024 + 3)
    file_id, _, parts = sent_parts(emulator, body)
    # WHEN the emulator is killed -9 before completion, and started again
    emulator.kill9()
    emulator.start()
    # THEN no object is visible, every acknowledged part is listed with its ETag
    assert stored_objects(emulator) == set()
    listed = data(emulator, "query L($id: ID!) { uploadedParts(id: $id) { number etag } }", {"id": file_id})
    assert listed["uploadedParts"] == parts
    # AND completing publishes the whole file, which is hashed right and downloads byte for byte
    complete = "mutation C($input: CompleteUploadInput!) { completeUpload(input: $input) { id } }"
    data(emulator, complete, {"input": {"id": file_id, "parts": parts}})
    final = wait_for_file(emulator, file_id)
    assert final["status"] == "HASHED", final
    assert final["hashes"] == digests(body)
    url = data(emulator, DOWNLOAD_URL, {"id": file_id})["file"]["downloadUrl"]
    assert httpx.get(url, timeout=30).content == body


def publish_as_a_crashed_request(emulator: Emulator, key: str, publish: Callable[[BeforePublish], object]) -> None:
    """With the emulator stopped, do what the storage endpoint does for a request that dies right after
    its object is published: stage the ObjectCreated record, publish with the store's own method, and
    never release the record (nor answer)."""
    queue = SqliteEventQueue(emulator.data_dir)
    notified = load_wiring(TEMPLATE_PATH, SchemaRules.from_sdl(appsync_sdl(), DEFAULT_AUTH_MODE)).bucket_notifications
    assert notified

    def stage(etag: str, size: int) -> None:
        event = s3_object_created(bucket="local", key=key, size=size, etag=etag, region="us-east-1")
        queue.stage(notified, event, key)

    publish(stage)


def staged_store(emulator: Emulator) -> FileBlobStore:
    return FileBlobStore(emulator.data_dir, bucket="local", public_url=emulator.url, secret="unused: nothing is signed")


def test_a_retried_put_after_the_crash_is_refused_and_the_file_is_still_hashed(private_emulator: Emulator) -> None:
    # GIVEN an upload published by a request that died before its notification was released
    emulator = private_emulator
    body = os.urandom(50_000)
    ticket = request_upload(emulator, name="retried.bin", size=len(body))
    file_id = ticket["file"]["id"]
    emulator.stop()
    writer = staged_store(emulator).open_writer(object_key(file_id), len(body))
    writer.write(body)
    publish_as_a_crashed_request(emulator, object_key(file_id), writer.commit)

    # WHEN the emulator restarts and the client at once retries its PUT
    emulator.start()
    retry = send_bytes(ticket, body)

    # THEN the retry is refused as S3 refuses it (write-once), and the file still gets hashed right, once
    assert retry.status_code == 412, retry.text
    assert "<Code>PreconditionFailed</Code>" in retry.text
    final = wait_for_file(emulator, file_id)
    assert final["status"] == "HASHED", final
    assert final["hashes"] == digests(body)
    wait_until_idle(emulator)
    assert file_by_id(emulator, file_id) == final
    assert files_by_hash(emulator, digests(body)["sha256"]) == [file_id]


def test_a_multipart_completion_not_answered_before_a_crash_is_hashed_after_restart(private_emulator: Emulator) -> None:
    # GIVEN a two-part upload whose completion published the object, then died before answering
    emulator = private_emulator
    body = os.urandom(5 * 1024 * 1024 + 3)
    file_id, urls, parts = sent_parts(emulator, body)
    upload_id = parse_qs(urlsplit(urls[0]).query)["uploadId"][0]
    emulator.stop()
    listed = [(int(p["number"]), str(p["etag"])) for p in parts]
    store = staged_store(emulator)
    publish_as_a_crashed_request(
        emulator, object_key(file_id), partial(store.assemble_multipart, object_key(file_id), upload_id, listed)
    )

    # WHEN the emulator starts again
    emulator.start()

    # THEN the file is hashed with the right digests, and a retried completion is refused as on S3
    final = wait_for_file(emulator, file_id)
    assert final["status"] == "HASHED", final
    assert final["hashes"] == digests(body)
    complete = "mutation C($input: CompleteUploadInput!) { completeUpload(input: $input) { id } }"
    retried = graphql(emulator, complete, {"input": {"id": file_id, "parts": parts}}).json()
    assert retried.get("errors"), retried
    wait_until_idle(emulator)
    assert file_by_id(emulator, file_id) == final


def test_a_notification_staged_for_an_object_never_published_is_dropped(private_emulator: Emulator) -> None:
    # GIVEN a request that staged its notification and died before publishing the object
    emulator = private_emulator
    body = os.urandom(10_000)
    ticket = request_upload(emulator, name="never.bin", size=len(body))
    file_id = ticket["file"]["id"]
    emulator.stop()
    publish_as_a_crashed_request(emulator, object_key(file_id), lambda stage: stage("0" * 32, len(body)))

    # WHEN the emulator starts again
    emulator.start()

    # THEN nothing is delivered and the record is gone; the file is PENDING and its URL still takes the upload
    with closing(sqlite3.connect(emulator.data_dir / DB_FILE)) as db:
        assert db.execute("SELECT count(*) FROM invocations").fetchone() == (0,)
    assert file_by_id(emulator, file_id) == ticket["file"]
    assert send_bytes(ticket, body).status_code == 200
    final = wait_for_file(emulator, file_id)
    assert final["status"] == "HASHED" and final["hashes"] == digests(body)
