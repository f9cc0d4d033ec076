"""Multipart uploads through the running emulator, as a curl user makes them: request with partSize,
PUT each part keeping its ETag, list and resume, then completeUpload (or abortUpload). S3's rules and
error names hold (InvalidPart, InvalidPartOrder, EntityTooSmall, NoSuchUpload)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.clients import (
    FILE_FIELDS,
    ON_FILE_HASHED,
    appsync_transport,
    data,
    file_by_id,
    graphql,
    request_upload,
    send_bytes,
    subscription,
    wait_for_file,
)
from tests.e2e.conftest import Emulator
from tests.e2e.test_bad_input import s3_error
from tests.e2e.test_write_once import digests, download

MiB = 1024 * 1024
PART = 5 * MiB
TICKET = "file { id size status } expiresAt url method headers uploadId parts { number url method headers }"
REQUEST = f"mutation R($input: RequestUploadInput!) {{ requestUpload(input: $input) {{ {TICKET} }} }}"
COMPLETE = f"mutation C($input: CompleteUploadInput!) {{ completeUpload(input: $input) {{ {FILE_FIELDS} }} }}"
ABORT = "mutation A($id: ID!) { abortUpload(id: $id) { id status } }"
RESUME = f"mutation S($id: ID!) {{ resumeUpload(id: $id) {{ {TICKET} }} }}"
LIST = "query L($id: ID!) { uploadedParts(id: $id) { number etag size } }"


def request_multipart(emulator: Emulator, size: int, part_size: int | None = PART) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": "big.bin", "size": size}
    if part_size is not None:
        fields["partSize"] = part_size
    ticket: dict[str, Any] = data(emulator, REQUEST, {"input": fields})["requestUpload"]
    return ticket


def put_part(part: dict[str, Any], body: bytes) -> httpx.Response:
    return httpx.request(
        part["method"], part["url"], headers=json.loads(part["headers"] or "{}"), content=body, timeout=60
    )


def send_parts(ticket: dict[str, Any], body: bytes, part_size: int = PART) -> dict[int, str]:
    """Every part of the ticket, each answered with its ETag header."""
    etags = {}
    for part in ticket["parts"]:
        start = (part["number"] - 1) * part_size
        answer = put_part(part, body[start : start + part_size])
        assert answer.status_code == 200, answer.text
        etags[part["number"]] = answer.headers["etag"]
    return etags


def complete(emulator: Emulator, file_id: str, parts: list[tuple[int, str]]) -> httpx.Response:
    variables = {"input": {"id": file_id, "parts": [{"number": n, "etag": e} for n, e in parts]}}
    return graphql(emulator, COMPLETE, variables)


def error_type(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" in body, body
    kind: str = body["errors"][0]["errorType"]
    return kind


async def test_a_multipart_upload_is_assembled_and_hashed(emulator: Emulator) -> None:
    # GIVEN a ticket for two parts: 5 MiB and 1 byte
    body = os.urandom(PART + 1)
    ticket = request_multipart(emulator, len(body))
    file_id = ticket["file"]["id"]
    assert ticket["url"] is None and ticket["method"] is None and ticket["uploadId"]
    assert [p["number"] for p in ticket["parts"]] == [1, 2]
    async with subscription(emulator, appsync_transport(emulator), ON_FILE_HASHED, {"id": file_id}) as events:
        # WHEN each part is sent and the upload completed with the parts' ETags
        etags = await asyncio.to_thread(send_parts, ticket, body)
        assert etags == {1: f'"{hashlib.md5(body[:PART]).hexdigest()}"', 2: f'"{hashlib.md5(body[PART:]).hexdigest()}"'}
        answer = await asyncio.to_thread(complete, emulator, file_id, sorted(etags.items()))
        assert answer.json()["data"]["completeUpload"]["id"] == file_id, answer.text
        hashed = (await asyncio.wait_for(events.get(), timeout=60))["onFileHashed"]
    # THEN the hashes are those of the whole file, and the stored bytes are the file
    assert hashed["status"] == "HASHED", hashed
    assert hashed["hashes"] == digests(body)
    assert download(emulator, file_id) == body
    # AND the upload is gone: completing again is NoSuchUpload, as S3 answers
    assert error_type(complete(emulator, file_id, sorted(etags.items()))) == "NoSuchUpload"


def test_a_client_resumes_by_listing_parts_and_sending_only_the_missing_ones(emulator: Emulator) -> None:
    # GIVEN a three-part upload of which only part 2 arrived
    body = os.urandom(2 * PART + 7)
    ticket = request_multipart(emulator, len(body))
    file_id = ticket["file"]["id"]
    second = put_part(ticket["parts"][1], body[PART : 2 * PART])
    assert second.status_code == 200, second.text
    # WHEN the client lists the stored parts and asks to resume
    listed = data(emulator, LIST, {"id": file_id})["uploadedParts"]
    resumed = data(emulator, RESUME, {"id": file_id})["resumeUpload"]
    # THEN the list names part 2 with its ETag and size, and the ticket has fresh URLs for 1 and 3 only
    assert listed == [{"number": 2, "etag": second.headers["etag"], "size": PART}]
    assert resumed["uploadId"] == ticket["uploadId"] and resumed["url"] is None
    assert [p["number"] for p in resumed["parts"]] == [1, 3]
    # AND sending those and completing with all three gives the whole file
    etags = {2: second.headers["etag"], **send_parts(resumed, body)}
    done = complete(emulator, file_id, sorted(etags.items()))
    assert "errors" not in done.json(), done.text
    assert wait_for_file(emulator, file_id)["hashes"] == digests(body)


@pytest.fixture
def two_parts(emulator: Emulator) -> tuple[str, dict[int, str]]:
    """An upload of 5 MiB + 5 MiB + 1 byte whose first two parts were sent."""
    body = os.urandom(2 * PART + 1)
    ticket = request_multipart(emulator, len(body))
    sent = {p["number"]: p for p in ticket["parts"]}
    etags = {n: put_part(sent[n], body[(n - 1) * PART : n * PART]).headers["etag"] for n in (1, 2)}
    return ticket["file"]["id"], etags


def test_a_missing_part_is_invalid_part(emulator: Emulator, two_parts: tuple[str, dict[int, str]]) -> None:
    file_id, etags = two_parts
    answer = complete(emulator, file_id, [(1, etags[1]), (2, etags[2]), (3, etags[2])])
    assert error_type(answer) == "InvalidPart"


def test_a_wrong_etag_is_invalid_part(emulator: Emulator, two_parts: tuple[str, dict[int, str]]) -> None:
    file_id, etags = two_parts
    assert error_type(complete(emulator, file_id, [(1, etags[1]), (2, etags[1])])) == "InvalidPart"


def test_parts_out_of_order_are_invalid_part_order(emulator: Emulator, two_parts: tuple[str, dict[int, str]]) -> None:
    file_id, etags = two_parts
    assert error_type(complete(emulator, file_id, [(2, etags[2]), (1, etags[1])])) == "InvalidPartOrder"


def test_a_small_part_before_the_last_is_entity_too_small(emulator: Emulator) -> None:
    # GIVEN a two-part ticket whose first part is sent short (the URL bounds a part's size from above)
    ticket = request_multipart(emulator, PART + 1)
    first = put_part(ticket["parts"][0], b"short")
    second = put_part(ticket["parts"][1], b"x")
    # THEN completion is refused as S3 refuses it
    answer = complete(emulator, ticket["file"]["id"], [(1, first.headers["etag"]), (2, second.headers["etag"])])
    assert error_type(answer) == "EntityTooSmall"


def test_a_part_over_its_size_is_refused(emulator: Emulator) -> None:
    ticket = request_multipart(emulator, PART + 1)
    answer = put_part(ticket["parts"][1], b"xy")
    assert answer.status_code == 413, answer.text
    assert s3_error(answer)["Code"] == "EntityTooLarge"


def test_after_abort_parts_are_refused_and_the_file_is_gone(emulator: Emulator) -> None:
    # GIVEN an upload with one part sent
    ticket = request_multipart(emulator, PART + 1)
    file_id = ticket["file"]["id"]
    assert put_part(ticket["parts"][0], os.urandom(PART)).status_code == 200
    # WHEN it is aborted
    aborted = data(emulator, ABORT, {"id": file_id})["abortUpload"]
    assert aborted == {"id": file_id, "status": "PENDING"}
    # THEN a part PUT gets S3's 404 NoSuchUpload, and the file and its upload are gone
    refused = put_part(ticket["parts"][1], b"x")
    assert refused.status_code == 404, refused.text
    assert s3_error(refused)["Code"] == "NoSuchUpload"
    assert not list((emulator.data_dir / "tmp").glob("upload-*"))  # the refused part left nothing behind
    assert file_by_id(emulator, file_id) is None
    assert error_type(graphql(emulator, LIST, {"id": file_id})) == "NoSuchUpload"
    assert error_type(graphql(emulator, ABORT, {"id": file_id})) == "NoSuchUpload"


def test_a_single_put_file_has_no_upload_to_complete(emulator: Emulator) -> None:
    ticket = data(emulator, REQUEST, {"input": {"name": "small.bin", "size": 3}})["requestUpload"]
    assert ticket["url"] and ticket["parts"] is None and ticket["uploadId"] is None
    assert error_type(complete(emulator, ticket["file"]["id"], [(1, '"x"')])) == "NoSuchUpload"


@pytest.mark.parametrize("part_size", [PART - 1, 5 * 1024**3 + 1, 1.5 + PART, -PART])
def test_a_part_size_outside_s3s_rules_is_a_validation_error(emulator: Emulator, part_size: float) -> None:
    answer = graphql(emulator, REQUEST, {"input": {"name": "a", "size": 3 * PART, "partSize": part_size}})
    assert error_type(answer) == "ValidationError"


def test_too_many_parts_is_a_validation_error(emulator: Emulator) -> None:
    answer = graphql(emulator, REQUEST, {"input": {"name": "a", "size": 10_001 * PART, "partSize": PART}})
    assert error_type(answer) == "ValidationError"


def test_a_file_over_5_gib_is_multipart_with_a_part_size_chosen_for_it(emulator: Emulator) -> None:
    # GIVEN no partSize, and a size over S3's single-PUT limit
    size = 6 * 1024**3 + 1
    ticket = request_multipart(emulator, size, part_size=None)
    # THEN the parts are 8 MiB (the smallest chosen size), the last one holding the rest
    assert ticket["url"] is None and len(ticket["parts"]) == -(-size // (8 * MiB)) == 769
    assert data(emulator, ABORT, {"id": ticket["file"]["id"]})["abortUpload"]["id"] == ticket["file"]["id"]


def test_a_ticket_holds_at_most_1000_parts_and_resume_hands_out_the_rest(emulator: Emulator) -> None:
    # GIVEN a file of 1,001 parts
    ticket = request_multipart(emulator, 1000 * PART + 1)
    file_id = ticket["file"]["id"]
    # THEN the ticket holds the first 1,000 part requests
    assert [p["number"] for p in ticket["parts"]] == list(range(1, 1001))
    # AND resumeUpload names any of them on demand, or else the first ones not stored yet
    by_number = "mutation S($id: ID!, $n: [Int!]) { resumeUpload(id: $id, numbers: $n) { parts { number } } }"
    asked = data(emulator, by_number, {"id": file_id, "n": [1001, 7, 7]})["resumeUpload"]["parts"]
    assert [p["number"] for p in asked] == [7, 1001]
    assert put_part(ticket["parts"][0], os.urandom(PART)).status_code == 200
    missing = data(emulator, RESUME, {"id": file_id})["resumeUpload"]["parts"]
    assert [p["number"] for p in missing] == list(range(2, 1002))
    # AND a number outside the upload is a ValidationError
    assert error_type(graphql(emulator, by_number, {"id": file_id, "n": [1002]})) == "ValidationError"
    data(emulator, ABORT, {"id": file_id})


def test_deleting_a_pending_multipart_file_drops_its_upload(emulator: Emulator) -> None:
    ticket = request_multipart(emulator, PART + 1)
    assert put_part(ticket["parts"][0], os.urandom(PART)).status_code == 200
    data(emulator, "mutation D($id: ID!) { deleteFile(id: $id) { id } }", {"id": ticket["file"]["id"]})
    refused = put_part(ticket["parts"][1], b"x")
    assert refused.status_code == 404, refused.text
    assert s3_error(refused)["Code"] == "NoSuchUpload"


def download_url(emulator: Emulator, file_id: str) -> str:
    url: str = data(emulator, "query F($id: ID!) { file(id: $id) { downloadUrl } }", {"id": file_id})["file"][
        "downloadUrl"
    ]
    return url


def completed_upload(emulator: Emulator, body: bytes) -> str:
    """A file uploaded in parts of PART bytes and completed; its id."""
    ticket = request_multipart(emulator, len(body))
    etags = send_parts(ticket, body)
    answer = complete(emulator, ticket["file"]["id"], sorted(etags.items()))
    assert "errors" not in answer.json(), answer.text
    file_id: str = ticket["file"]["id"]
    return file_id


def test_a_completed_upload_downloads_whole_and_by_range_as_a_single_put_does(emulator: Emulator) -> None:
    # GIVEN the same bytes uploaded in three parts and with a single PUT
    body = os.urandom(2 * PART + 5)
    parts_id = completed_upload(emulator, body)
    single = request_upload(emulator, name="one.bin", size=len(body))
    assert send_bytes(single, body).status_code == 200
    # THEN the multipart file is hashed right and downloads byte for byte
    assert wait_for_file(emulator, parts_id)["hashes"] == digests(body)
    assert download(emulator, parts_id) == body
    # AND each byte range, across the parts' borders too, answers as the single PUT's object does
    urls = download_url(emulator, parts_id), download_url(emulator, single["file"]["id"])
    for wanted in (f"bytes={PART - 2}-{PART + 1}", f"bytes={PART}-", "bytes=-7", f"bytes=3-{10 * PART}"):
        answers = [httpx.get(url, headers={"Range": wanted}, timeout=30) for url in urls]
        assert [a.status_code for a in answers] == [206, 206], wanted
        assert answers[0].content == answers[1].content, wanted
        assert answers[0].headers["content-range"] == answers[1].headers["content-range"], wanted
    first, last = PART - 2, PART + 1
    assert httpx.get(urls[0], headers={"Range": f"bytes={first}-{last}"}).content == body[first : last + 1]
    # AND a HEAD request answers the size without a body, for both
    heads = [httpx.head(url, timeout=30) for url in urls]
    assert [(h.status_code, h.headers["content-length"], h.content) for h in heads] == [(200, str(len(body)), b"")] * 2
    # AND a range past the end is refused on the multipart file, as S3 refuses it
    for past_the_end in (f"bytes={len(body)}-", f"bytes={len(body) + 1}-{len(body) + 9}"):
        refused = httpx.get(urls[0], headers={"Range": past_the_end}, timeout=30)
        assert refused.status_code == 416 and s3_error(refused)["Code"] == "InvalidRange", past_the_end


def test_deleting_a_completed_upload_leaves_no_part_behind(emulator: Emulator) -> None:
    # GIVEN a file completed from two parts, hashed
    file_id = completed_upload(emulator, os.urandom(PART + 1))
    assert wait_for_file(emulator, file_id)["status"] == "HASHED"
    digest = hashlib.sha256(f"local/uploads/{file_id}".encode()).hexdigest()
    stored = emulator.data_dir / "objects" / digest[:2] / digest
    assert sorted(p.name.split(".")[0] for p in stored.iterdir()) == ["00001", "00002", "manifest"]
    # WHEN it is deleted
    data(emulator, "mutation D($id: ID!) { deleteFile(id: $id) { id } }", {"id": file_id})
    # THEN neither its manifest nor any part is left in storage
    assert not stored.exists()
    assert list((emulator.data_dir / "tmp").glob("deleted-*")) == []


def test_of_two_concurrent_completions_of_one_upload_exactly_one_wins(emulator: Emulator) -> None:
    # GIVEN a file whose two parts are stored
    body = os.urandom(PART + 1)
    ticket = request_multipart(emulator, len(body))
    etags = sorted(send_parts(ticket, body).items())
    # WHEN it is completed twice at once
    with ThreadPoolExecutor(2) as pool:
        answers = [a.json() for a in pool.map(lambda _: complete(emulator, ticket["file"]["id"], etags), range(2))]
    # THEN exactly one completion answers the file, and the file is hashed right
    assert sorted("errors" in answer for answer in answers) == [False, True], answers
    assert wait_for_file(emulator, ticket["file"]["id"])["hashes"] == digests(body)
