"""Bad input, end to end: every refusal has AppSync's or S3's shape, and nothing partial is stored.

"Nothing partial is stored" is checked from every side a client or an operator can see: the file
stays PENDING and unchanged, storage serves no object at its key, the data dir's `objects/` holds no
new file and `tmp/` is empty again, the listing and `filesByHash` find nothing new.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import httpx
import pytest
import websockets
from gql import Client
from gql.transport.exceptions import TransportConnectionFailed, TransportServerError

from lambdashare.adapters.local.file_blob_store import FileBlobStore
from lambdashare.domain.files import object_key
from lambdashare.settings import DEFAULT_MAX_UPLOAD_SIZE
from tests.e2e.clients import (
    FILE_FIELDS,
    ON_FILE_HASHED,
    REQUEST_UPLOAD,
    all_files,
    appsync_transport,
    data,
    file_by_id,
    files_by_hash,
    graphql,
    jwt_appsync_transport,
    request_upload,
    send_bytes,
    subscriber_count,
    subscription,
    token_for,
    transport_ws_transport,
    wait_for_file,
)
from tests.e2e.conftest import Emulator

FILE_VIEW = f"query F($id: ID!) {{ file(id: $id) {{ {FILE_FIELDS} owner downloadUrl }} }}"
ON_ANY_FILE_HASHED = f"subscription OnAnyHashed {{ onFileHashed {{ {FILE_FIELDS} }} }}"
UNAUTHORIZED = {"errorType": "UnauthorizedException", "message": "You are not authorized to make this call."}


# --- what "nothing stored" means, from the outside ----------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    file_ids: frozenset[str]
    objects: frozenset[Path]


def stored_objects(emulator: Emulator) -> frozenset[Path]:
    return frozenset(p for p in (emulator.data_dir / "objects").rglob("*") if p.is_file())


def temp_files(emulator: Emulator) -> list[Path]:
    return sorted((emulator.data_dir / "tmp").iterdir())


def snapshot(emulator: Emulator) -> Snapshot:
    return Snapshot(frozenset(f["id"] for f in all_files(emulator)), stored_objects(emulator))


def file_view(emulator: Emulator, file_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = data(emulator, FILE_VIEW, {"id": file_id})["file"]
    return found


def storage_get(emulator: Emulator, file_id: str) -> httpx.Response:
    """GET the file's object with a URL signed as the product signs downloads (the data dir's own secret)."""
    secret = json.loads((emulator.data_dir / "emulator.json").read_text())["secret"]
    store = FileBlobStore(emulator.data_dir, bucket="local", public_url=emulator.url, secret=secret)
    return httpx.get(store.presign_get(object_key(file_id), file_name="probe", expires_in=60), timeout=30)


def assert_nothing_stored(
    emulator: Emulator,
    before: Snapshot,
    *,
    pending: tuple[dict[str, Any], ...] = (),
    body: bytes | None = None,
) -> None:
    """No new object, no temp file left, every `pending` ticket's file exactly as requested, no hash match."""
    assert temp_files(emulator) == []
    assert stored_objects(emulator) == before.objects
    assert {f["id"] for f in all_files(emulator)} == before.file_ids | {t["file"]["id"] for t in pending}
    for ticket in pending:
        file_id = ticket["file"]["id"]
        assert file_view(emulator, file_id) == {**ticket["file"], "owner": None, "downloadUrl": None}
        response = storage_get(emulator, file_id)
        assert response.status_code == 404, response.text
        assert s3_error(response)["Code"] == "NoSuchKey"
    if body is not None:
        assert files_by_hash(emulator, hashlib.sha256(body).hexdigest()) == []


def s3_error(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"].startswith("application/xml"), response.text
    root = ET.fromstring(response.content)
    assert root.tag == "Error"
    return {child.tag: child.text or "" for child in root}


def wait_until_no_temp_files(emulator: Emulator, deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while temp_files(emulator) and time.monotonic() < end:
        time.sleep(0.05)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def field_location(query: str, text: str) -> dict[str, Any]:
    """Where `text` starts in `query`, as a GraphQL location (1-based line and column)."""
    before = query[: query.index(text)]
    return {"line": before.count("\n") + 1, "column": len(before.rsplit("\n", 1)[-1]) + 1, "sourceName": None}


def ticket_headers(ticket: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = json.loads(ticket["headers"] or "{}")
    return headers


# --- authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "da2-notthekey00000000000000"}], ids=["missing", "wrong"])
def test_graphql_post_without_a_valid_api_key_is_401(emulator: Emulator, headers: dict[str, str]) -> None:
    # GIVEN a requestUpload mutation, and the files there are
    before = snapshot(emulator)
    body = {"query": REQUEST_UPLOAD, "variables": {"input": {"name": "sneaky.bin", "size": 1}}}

    # WHEN it is posted without the API key, or with a wrong one
    response = httpx.post(emulator.graphql_url, json=body, headers=headers, timeout=30)

    # THEN AppSync's 401 comes back, with the error type in the body and in x-amzn-ErrorType
    assert response.status_code == 401, response.text
    assert response.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert response.json() == {"errors": [UNAUTHORIZED]}
    # AND no file was created
    assert_nothing_stored(emulator, before)


async def test_appsync_realtime_refuses_a_wrong_api_key(emulator: Emulator) -> None:
    # GIVEN gql's AppSync transport holding a wrong API key
    transport = appsync_transport(emulator, api_key="da2-notthekey00000000000000")
    subscribers = await subscriber_count(emulator)

    # WHEN it connects
    with pytest.raises(TransportServerError) as refused:
        async with Client(transport=transport):
            pass  # pragma: no cover - the connection must not open

    # THEN gql reports AppSync's error, the connection never opens, and nobody is subscribed
    assert "UnauthorizedException" in str(refused.value)
    assert await subscriber_count(emulator) == subscribers


@pytest.mark.parametrize("header", [{"x-api-key": "da2-notthekey00000000000000"}, {}], ids=["wrong", "missing"])
async def test_appsync_realtime_sends_connection_error_then_closes(emulator: Emulator, header: dict[str, str]) -> None:
    # GIVEN AppSync's handshake with a header object holding a wrong API key, or none
    encoded = base64.b64encode(json.dumps({"host": emulator.host, **header}).encode()).decode()
    url = f"{emulator.ws_url}?header={encoded}&payload=e30="

    # WHEN a client connects and reads
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol("graphql-ws")]) as ws:
        first = json.loads(await ws.recv())
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()

    # THEN the only message is AppSync's connection_error, and the server closed the socket
    assert first == {"type": "connection_error", "payload": {"errors": [{**UNAUTHORIZED, "errorCode": 401}]}}


async def test_graphql_transport_ws_refuses_a_wrong_api_key(emulator: Emulator) -> None:
    # GIVEN a graphql-transport-ws client whose connection_init carries a wrong API key
    transport = transport_ws_transport(emulator, api_key="da2-notthekey00000000000000")

    # WHEN it connects with gql
    with pytest.raises(TransportConnectionFailed):
        async with Client(transport=transport):
            pass  # pragma: no cover - the connection must not open

    # AND WHEN a raw client sends the same connection_init
    async with websockets.connect(emulator.ws_url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"x-api-key": "da2-notthekey00000000000000"}}))
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()

    # THEN the protocol's refusal closes the socket with 4403 Forbidden
    assert ws.close_code == 4403


# --- presigned upload URLs -------------------------------------------------------------------------


def _tamper_signature(ticket: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    signature = dict(parse_qsl(urlsplit(ticket["url"]).query))["signature"]
    flipped = ("1" if signature[0] == "0" else "0") + signature[1:]
    return {"url": with_query(ticket["url"], signature=flipped)}


def _raise_max_size(ticket: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    return {"url": with_query(ticket["url"], **{"max-size": str(10 * 1024 * 1024)})}


def _other_key(ticket: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    # the URL of one file, pointed at another pending file's key
    return {"url": ticket["url"].replace(ticket["file"]["id"], other["file"]["id"])}


def _signed_headers(ticket: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = json.loads(ticket["headers"])
    return headers


def _wrong_content_type(ticket: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    return {"headers": {**_signed_headers(ticket), "content-type": "text/html"}}


def _no_content_type(ticket: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    return {"headers": {k: v for k, v in _signed_headers(ticket).items() if k != "content-type"}}


def _no_if_none_match(ticket: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Write-once is signed in, as S3 signs `If-None-Match: *`: leaving it out breaks the signature."""
    return {"headers": {k: v for k, v in _signed_headers(ticket).items() if k != "if-none-match"}}


def _get_instead_of_put(ticket: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    return {"method": "GET"}


@pytest.mark.parametrize(
    "tamper",
    [
        _tamper_signature,
        _raise_max_size,
        _other_key,
        _wrong_content_type,
        _no_content_type,
        _no_if_none_match,
        _get_instead_of_put,
    ],
    ids=["signature", "max-size", "key", "content-type", "no-content-type", "no-if-none-match", "GET-on-PUT-url"],
)
def test_tampered_upload_request_is_403_and_stores_nothing(emulator: Emulator, tamper: Any) -> None:
    # GIVEN two pending files, the first with a content type its URL is signed for
    body = os.urandom(1000)
    ticket = request_upload(emulator, name="victim.txt", size=len(body), contentType="text/plain")
    other = request_upload(emulator, name="other.txt", size=len(body), contentType="text/plain")
    before = snapshot(emulator)

    # WHEN the first ticket's request is sent with one thing changed
    response = send_bytes(ticket, body, **tamper(ticket, other))

    # THEN S3 answers 403 SignatureDoesNotMatch in XML
    assert response.status_code == 403, response.text
    assert s3_error(response)["Code"] == "SignatureDoesNotMatch"
    # AND neither file received anything
    assert_nothing_stored(emulator, before, pending=(ticket, other), body=body)


def test_expired_upload_url_is_403(private_emulator: Emulator) -> None:
    # GIVEN an emulator whose upload URLs live one second, and a ticket from it
    private_emulator.stop()
    private_emulator.start(LAMBDASHARE_UPLOAD_EXPIRES="1")
    body = os.urandom(1000)
    ticket = request_upload(private_emulator, name="late.bin", size=len(body))
    expires = int(dict(parse_qsl(urlsplit(ticket["url"]).query))["expires"])
    assert expires - time.time() < 60, "LAMBDASHARE_UPLOAD_EXPIRES did not reach the resolver"
    before = snapshot(private_emulator)

    # WHEN the bytes are sent after the URL expired
    while time.time() <= expires + 1:
        time.sleep(0.2)
    response = send_bytes(ticket, body)

    # THEN S3 answers 403 AccessDenied "Request has expired", and nothing is stored
    assert response.status_code == 403, response.text
    assert s3_error(response) == {"Code": "AccessDenied", "Message": "Request has expired"}
    assert_nothing_stored(private_emulator, before, pending=(ticket,), body=body)


# --- body size -------------------------------------------------------------------------------------


def _in_chunks(body: bytes, size: int = 1000) -> Iterator[bytes]:
    for offset in range(0, len(body), size):
        yield body[offset : offset + size]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_larger_than_declared_is_413_and_stores_nothing(emulator: Emulator, chunked: bool) -> None:
    # GIVEN a ticket for 1 KiB, and more bytes than that
    ticket = request_upload(emulator, name="big.bin", size=1024)
    body = os.urandom(1025) if not chunked else os.urandom(64 * 1024)
    before = snapshot(emulator)

    # WHEN they are sent with an honest Content-Length, or streamed chunked (no length up front)
    response = httpx.put(
        ticket["url"],
        headers=ticket_headers(ticket),
        content=_in_chunks(body) if chunked else body,
        timeout=60,
    )

    # THEN S3 answers 413 EntityTooLarge, the file stays PENDING and nothing is stored
    assert response.request.headers.get("transfer-encoding") == ("chunked" if chunked else None)
    assert response.status_code == 413, response.text
    assert s3_error(response)["Code"] == "EntityTooLarge"
    assert_nothing_stored(emulator, before, pending=(ticket,), body=body)


def test_client_that_disconnects_mid_body_stores_nothing(emulator: Emulator) -> None:
    # GIVEN a ticket for 1 MiB, and a client that sends the headers and half the body
    ticket = request_upload(emulator, name="cut.bin", size=1024 * 1024)
    before = snapshot(emulator)
    target = urlsplit(ticket["url"])
    head = (
        f"PUT {target.path}?{target.query} HTTP/1.1\r\nHost: {emulator.host}\r\n"
        f"If-None-Match: *\r\nContent-Length: {1024 * 1024}\r\n\r\n"
    ).encode()

    # WHEN it goes away before the rest
    with socket.create_connection(("127.0.0.1", emulator.port)) as sock:
        sock.sendall(head + os.urandom(512 * 1024))
        deadline = time.monotonic() + 30
        while not temp_files(emulator) and time.monotonic() < deadline:
            time.sleep(0.01)  # until the server is receiving it
        assert temp_files(emulator), "the server never started receiving the upload"
    wait_until_no_temp_files(emulator)

    # THEN the partial body is gone and the file is still PENDING
    assert_nothing_stored(emulator, before, pending=(ticket,))


async def test_body_smaller_than_declared_ends_failed_with_size_mismatch(emulator: Emulator) -> None:
    # GIVEN a ticket for 1000 bytes, and a subscriber to that file
    ticket = request_upload(emulator, name="short.bin", size=1000)
    file_id = ticket["file"]["id"]
    body = os.urandom(500)
    async with subscription(emulator, appsync_transport(emulator), ON_FILE_HASHED, {"id": file_id}) as events:
        # WHEN only 500 bytes are sent (honestly declared as 500)
        response = await asyncio.to_thread(send_bytes, ticket, body)
        assert response.status_code == 200, response.text  # storage takes any body up to the limit

        # THEN the subscriber is told FAILED, with a readable size mismatch
        event = (await asyncio.wait_for(events.get(), timeout=60))["onFileHashed"]
    assert event["id"] == file_id
    assert event["status"] == "FAILED"
    assert event["hashes"] is None
    assert "Size mismatch" in event["error"] and "1000" in event["error"] and "500" in event["error"]
    # AND the file says the same, serves no download, and is not found by the bytes' hash
    view = file_view(emulator, file_id)
    assert view is not None
    assert {k: v for k, v in view.items() if k != "downloadUrl"} == event
    assert view["downloadUrl"] is None
    assert files_by_hash(emulator, hashlib.sha256(body).hexdigest()) == []


# --- malformed GraphQL requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "Request body is empty."),
        (b"meow", "Unable to parse GraphQL query."),
        (b"{}", "Unable to parse GraphQL query."),
        (b"[]", "Unable to parse GraphQL query."),
        (b'{"variables": {}}', "Unable to parse GraphQL query."),
        (b'{"query": 42}', "Unable to parse GraphQL query."),
        (b'{"query": ""}', "Unable to parse GraphQL query."),
        (b'{"query": "  \\n "}', "Unable to parse GraphQL query."),
        (b'{"query": "{ files { nextToken } }", "variables": "x"}', "Unable to parse GraphQL query."),
    ],
    ids=[
        "empty",
        "not-json",
        "empty-object",
        "array",
        "no-query",
        "query-not-string",
        "query-empty",
        "query-blank",
        "variables-not-object",
    ],
)
def test_unusable_body_is_400_malformed_request(emulator: Emulator, content: bytes, message: str) -> None:
    # GIVEN a body AppSync cannot use
    before = snapshot(emulator)

    # WHEN it is posted with a valid API key
    response = httpx.post(
        emulator.graphql_url,
        content=content,
        headers={"x-api-key": emulator.api_key, "content-type": "application/json"},
        timeout=30,
    )

    # THEN AppSync's 400 MalformedHttpRequestException comes back, and nothing is written
    assert response.status_code == 400, response.text
    assert response.headers["x-amzn-ErrorType"] == "MalformedHttpRequestException"
    assert response.json() == {"errors": [{"errorType": "MalformedHttpRequestException", "message": message}]}
    assert_nothing_stored(emulator, before)


def _request_level_error(response: httpx.Response) -> dict[str, Any]:
    """AppSync's shape for syntax, validation and variable errors: 200, data null, no path, no errorType."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    assert len(body["errors"]) == 1
    error: dict[str, Any] = body["errors"][0]
    assert error["path"] is None
    assert "errorType" not in error
    assert error["locations"] and all(
        isinstance(loc["line"], int) and isinstance(loc["column"], int) and loc["sourceName"] is None
        for loc in error["locations"]
    )
    assert error["message"]
    return error


def test_graphql_syntax_error_is_200_with_located_error(emulator: Emulator) -> None:
    # GIVEN a mutation that stops halfway
    before = snapshot(emulator)

    query = 'mutation {\n  requestUpload(input: {name: "x", size: 1}) { url'

    # WHEN it is posted
    response = graphql(emulator, query)

    # THEN a syntax error located at the end of the text comes back with data null, and no file is created
    error = _request_level_error(response)
    assert "Syntax" in error["message"]
    assert error["locations"] == [{"line": 2, "column": len(query.splitlines()[1]) + 1, "sourceName": None}]
    assert_nothing_stored(emulator, before)


def test_unknown_field_is_200_validation_error(emulator: Emulator) -> None:
    # GIVEN a mutation selecting a field the schema does not have
    before = snapshot(emulator)

    # WHEN it is posted
    response = graphql(emulator, 'mutation { requestUpload(input: {name: "x", size: 1}) { bogusField } }')

    # THEN a validation error names the field, and no file is created
    error = _request_level_error(response)
    assert "bogusField" in error["message"]
    assert_nothing_stored(emulator, before)


@pytest.mark.parametrize(
    "upload_input",
    [
        {"name": "x", "size": "big"},
        {"name": 7, "size": 1},
        {"name": "x"},
        {"name": "x", "size": 1, "unknown": True},
        {"name": "x", "size": 1, "contentType": ["text/plain"]},
    ],
    ids=["size-string", "name-number", "size-missing", "unknown-field", "content-type-list"],
)
def test_wrong_variable_type_is_200_variable_error(emulator: Emulator, upload_input: dict[str, Any]) -> None:
    # GIVEN requestUpload variables that do not fit RequestUploadInput
    before = snapshot(emulator)

    # WHEN the mutation is posted with them
    response = graphql(emulator, REQUEST_UPLOAD, {"input": upload_input})

    # THEN the variable error names $input (not an internal failure), and no file is created
    error = _request_level_error(response)
    assert "$input" in error["message"]
    assert_nothing_stored(emulator, before)


@pytest.mark.parametrize(
    ("upload_input", "complaint"),
    [
        ({"name": "x", "size": -1}, "size"),
        ({"name": "x", "size": 1.5}, "size"),
        (
            {"name": "x", "size": DEFAULT_MAX_UPLOAD_SIZE + 1},
            f"size must be at most {DEFAULT_MAX_UPLOAD_SIZE} bytes: this deployment's limit (MaxUploadSize)",
        ),
        ({"name": "x", "size": 3 * 5 * 1024**2, "partSize": 5 * 1024**2 - 1}, "partSize"),
        ({"name": "", "size": 1}, "name"),
        ({"name": "   ", "size": 1}, "name"),
        ({"name": "a" * 1025, "size": 1}, "name"),
        ({"name": "bell\x07.txt", "size": 1}, "name"),
        ({"name": "two\nlines.txt", "size": 1}, "name"),
        ({"name": "nul\x00.txt", "size": 1}, "name"),
        ({"name": "x", "size": 1, "sha256": "xyz"}, "sha256"),
        ({"name": "x", "size": 1, "sha256": "0" * 63}, "sha256"),
        ({"name": "x", "size": 1, "sha256": "g" * 64}, "sha256"),
        ({"name": "x", "size": 1, "sha256": "0" * 64 + "\n"}, "sha256"),
        ({"name": "x", "size": 1, "contentType": "text/plain\r\nX-Evil: 1"}, "contentType"),
        ({"name": "x", "size": 1, "contentType": "text/plain\n"}, "contentType"),
        ({"name": "x", "size": 1, "contentType": "nonsense"}, "contentType"),
    ],
    ids=[
        "negative-size",
        "fractional-size",
        "size-over-what-one-hasher-run-hashes",
        "part-under-5MiB",
        "empty-name",
        "blank-name",
        "name-too-long",
        "name-control-char",
        "name-newline",
        "name-nul",
        "sha256-short-garbage",
        "sha256-63-chars",
        "sha256-not-hex",
        "sha256-trailing-newline",
        "content-type-crlf",
        "content-type-lf",
        "content-type-not-a-media-type",
    ],
)
def test_invalid_upload_request_is_a_validation_error(
    emulator: Emulator, upload_input: dict[str, Any], complaint: str
) -> None:
    # GIVEN the files there are
    before = snapshot(emulator)

    # WHEN requestUpload is asked for something invalid
    response = graphql(emulator, REQUEST_UPLOAD, {"input": upload_input})

    # THEN the resolver's ValidationError comes back in AppSync's shape; the non-null field nulls data
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["errorType"] == "ValidationError"
    assert error["path"] == ["requestUpload"]
    assert error["data"] is None and error["errorInfo"] is None
    assert error["locations"] == [field_location(REQUEST_UPLOAD, "requestUpload(")]
    assert error["message"].startswith(complaint)
    assert "Traceback" not in error["message"]
    # AND nothing was written
    assert_nothing_stored(emulator, before)


# --- unknown ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "file_id",
    [str(uuid.uuid4()), "not-a-uuid", "../../etc/passwd", ""],
    ids=["uuid", "garbage", "path", "empty"],
)
def test_unknown_id_is_null_without_errors(emulator: Emulator, file_id: str) -> None:
    # GIVEN an id no file has
    before = snapshot(emulator)

    # WHEN it is looked up, and deleted
    found = graphql(emulator, FILE_VIEW, {"id": file_id})
    deleted = graphql(emulator, "mutation D($id: ID!) { deleteFile(id: $id) { id } }", {"id": file_id})

    # THEN both answer null with no errors, and nothing changed
    assert found.status_code == 200 and found.json() == {"data": {"file": None}}
    assert deleted.status_code == 200 and deleted.json() == {"data": {"deleteFile": None}}
    assert_nothing_stored(emulator, before)


# --- content that is not what was announced ---------------------------------------------------------


async def test_sha256_mismatch_ends_failed_and_is_not_found_by_either_hash(emulator: Emulator) -> None:
    # GIVEN a ticket announcing one sha256, and other bytes; a subscriber to the file
    announced_body, body = os.urandom(2048), os.urandom(2048)
    announced = hashlib.sha256(announced_body).hexdigest()
    actual = hashlib.sha256(body).hexdigest()
    ticket = request_upload(emulator, name="liar.bin", size=len(body), sha256=announced.upper())
    file_id = ticket["file"]["id"]
    async with subscription(emulator, appsync_transport(emulator), ON_FILE_HASHED, {"id": file_id}) as events:
        # WHEN the other bytes are uploaded
        response = await asyncio.to_thread(send_bytes, ticket, body)
        assert response.status_code == 200, response.text

        # THEN the subscriber is told FAILED, with an error naming the mismatch and both hashes
        event = (await asyncio.wait_for(events.get(), timeout=60))["onFileHashed"]
    assert event["id"] == file_id
    assert event["status"] == "FAILED"
    assert "sha256 mismatch" in event["error"]
    assert announced in event["error"] and actual in event["error"]
    # AND neither hash finds it, and it offers no download
    assert file_id not in files_by_hash(emulator, announced)
    assert file_id not in files_by_hash(emulator, actual)
    view = file_view(emulator, file_id)
    assert view is not None and view["status"] == "FAILED" and view["downloadUrl"] is None


HOSTILE_NAMES = [
    "../../etc/passwd",
    "../x",
    "/absolute/path.txt",
    "..\\..\\windows\\win.ini",
    'quote"d; filename="evil.exe".txt',
    "naïve 文件 🚀.txt",
    "é" * 1000,
    "a" * 1024,
]


@pytest.mark.parametrize(
    "name",
    HOSTILE_NAMES,
    ids=[
        "dotdot-passwd",
        "dotdot-x",
        "absolute",
        "backslashes",
        "quotes",
        "unicode",
        "1000-unicode-chars",
        "1024-chars",
    ],
)
def test_hostile_file_name_is_kept_as_data(emulator: Emulator, name: str) -> None:
    # GIVEN a file uploaded under a hostile name
    body = os.urandom(4096)
    ticket = request_upload(emulator, name=name, size=len(body), contentType="application/octet-stream")
    assert send_bytes(ticket, body).status_code == 200

    # WHEN it is hashed and its download URL fetched
    final = wait_for_file(emulator, ticket["file"]["id"])
    view = file_view(emulator, ticket["file"]["id"])
    assert view is not None and view["downloadUrl"]
    download = httpx.get(view["downloadUrl"], timeout=30)

    # THEN the name is kept exactly, the download is the exact bytes
    assert final["status"] == "HASHED"
    assert view["name"] == name
    assert download.status_code == 200
    assert download.content == body
    # AND Content-Disposition carries the name only percent-encoded: one attachment parameter, nothing raw
    disposition = download.headers["content-disposition"]
    assert disposition.isascii() and disposition.isprintable()
    kind, _, encoded = disposition.partition("; filename*=UTF-8''")
    assert kind == "attachment"
    assert not set(encoded) & set(" \"';\\/,")
    assert unquote(encoded, encoding="utf-8", errors="strict") == name
    # AND nothing was written outside the data dir, nor under a name taken from the file name
    outside = {p for p in emulator.data_dir.parent.rglob("*") if not p.is_relative_to(emulator.data_dir)}
    assert all(p.name.startswith("emulator-") and p.suffix == ".log" for p in outside), outside
    for path in stored_objects(emulator):
        assert path.parent.parent == emulator.data_dir / "objects"
        assert len(path.name) == 64 and path.name.startswith(path.parent.name), path


async def test_publish_file_hashed_with_api_key_is_unauthorized_and_reaches_nobody(
    emulator: Emulator,
) -> None:
    # GIVEN a subscriber to every file's result (a member of admins)
    forged_id = str(uuid.uuid4())
    forged = {
        "id": forged_id,
        "name": "forged",
        "size": 1,
        "status": "HASHED",
        "createdAt": "2024-01-01T00:00:00.000Z",
    }
    admin = jwt_appsync_transport(emulator, token_for(emulator, "root", "--group", "admins"))
    async with subscription(emulator, admin, ON_ANY_FILE_HASHED) as events:
        # WHEN publishFileHashed is called with the API key instead of IAM
        response = await asyncio.to_thread(
            graphql,
            emulator,
            "mutation P($input: FileHashedInput!) { publishFileHashed(input: $input) { id status } }",
            {"input": forged},
        )

        # THEN AppSync's field-level Unauthorized comes back with HTTP 200
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"] == {"publishFileHashed": None}
        [error] = body["errors"]
        assert error["errorType"] == "Unauthorized"
        assert error["message"] == "Not Authorized to access publishFileHashed on type Mutation"
        assert error["path"] == ["publishFileHashed"]

        # AND the subscriber's next event is a real file's, never the forged one
        body_bytes = os.urandom(100)
        ticket = await asyncio.to_thread(request_upload, emulator, name="real.bin", size=len(body_bytes))
        assert (await asyncio.to_thread(send_bytes, ticket, body_bytes)).status_code == 200
        seen: list[str] = []
        while ticket["file"]["id"] not in seen:
            seen.append((await asyncio.wait_for(events.get(), timeout=60))["onFileHashed"]["id"])
    assert forged_id not in seen
    assert file_by_id(emulator, forged_id) is None


def test_several_operations_without_a_name_are_refused(emulator: Emulator) -> None:
    # GIVEN a document with two operations and no operationName
    query = "query A { a: files(limit: 1) { nextToken } } query B { b: files(limit: 1) { nextToken } }"
    # WHEN it is posted
    response = graphql(emulator, query)
    # THEN nothing runs, and the error says to name one
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["message"] == "Must provide operation name if query contains multiple operations."
    # AND naming one runs it
    named = httpx.post(
        emulator.graphql_url,
        json={"query": query, "operationName": "B"},
        headers={"x-api-key": emulator.api_key},
        timeout=30,
    ).json()
    assert "errors" not in named and set(named["data"]) == {"b"}
