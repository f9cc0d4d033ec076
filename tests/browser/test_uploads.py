"""Uploads in the web app: several files at once with their digests checked against Python's and verified by
the browser's own SHA-256; a big file in parts with a byte progress bar, resumed after a reload, cancelled;
a refused upload's message; a loud mismatch when the stored bytes are not the file's."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Route, WebSocketRoute, expect

from tests.browser.app_page import TIMEOUT_MS, open_app
from tests.browser.conftest import ARTIFACTS, PageProblems, screenshot
from tests.e2e.conftest import Emulator, _start

pytestmark = pytest.mark.e2e

ALGORITHMS = ("md5", "sha1", "sha256", "sha512")
MIB = 1024 * 1024
BIG = 20 * MIB  # over the app's multipart threshold (16 MiB): parts of 8 MiB, 8 MiB and 4 MiB


def digests(data: bytes) -> dict[str, str]:
    return {name: hashlib.new(name, data).hexdigest() for name in ALGORITHMS}


def pick(page: Page, *files: Path | dict) -> None:
    page.get_by_label("Choose files to upload, or drop them here").set_input_files(list(files))


def row_of(page: Page, name: str) -> Locator:
    return page.locator(".upload").filter(has_text=name)


def expect_verified(row: Locator, data: bytes) -> None:
    expect(row).to_have_attribute("data-status", "done")
    shown = {name: row.locator(f"code[data-hash={name}]").inner_text() for name in ALGORITHMS}
    assert shown == digests(data)
    expect(row.locator(".verified")).to_contain_text("verified")
    expect(row.locator(".error")).to_be_hidden()


def file_on_disk(tmp_path: Path, name: str, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / name
    path.write_bytes(data)
    return path, data


def test_several_files_at_once_show_their_digests_and_verified(emulator: Emulator, context: BrowserContext) -> None:
    first, second = os.urandom(150_000), os.urandom(70_000)
    page = open_app(context, emulator.url + "/")
    pick(
        page,
        {"name": "one.bin", "mimeType": "application/octet-stream", "buffer": first},
        {"name": "two.txt", "mimeType": "text/plain", "buffer": second},
    )
    expect_verified(row_of(page, "one.bin"), first)
    expect_verified(row_of(page, "two.txt"), second)
    expect(row_of(page, "one.bin").locator("progress.transfer")).to_have_js_property("value", 150_000)
    screenshot(page, "uploads")
    page.locator("#upload-section").screenshot(path=str(ARTIFACTS / "upload_section.png"))  # the README's


def test_a_big_file_goes_up_in_parts_with_a_progress_bar(
    emulator: Emulator, context: BrowserContext, tmp_path: Path
) -> None:
    path, data = file_on_disk(tmp_path, "big.bin", BIG)
    page = open_app(context, emulator.url + "/")
    held: list[Route] = []
    page.route(
        lambda url: "partNumber=2&" in url, lambda route: held.append(route)
    )  # part 2 waits until the test lets it go

    pick(page, path)
    row = row_of(page, "big.bin")
    bar = row.locator("progress.transfer")
    expect(row).to_have_attribute("data-status", "uploading")
    expect(bar).to_have_js_property("max", BIG)
    page.wait_for_function("bar => bar.value > 0", arg=bar.element_handle())  # parts 1 and 3 went up
    while not held:  # the held request reaches the test's route handler while Playwright waits
        page.wait_for_timeout(100)
    assert len(held) == 1 and row.get_attribute("data-status") == "uploading"
    screenshot(page, "big_upload_progress")

    held[0].continue_()
    expect_verified(row, data)
    expect(bar).to_have_js_property("value", BIG)
    expect(row.locator("progress.hashing")).to_have_js_property("value", BIG)


def test_a_big_upload_resumes_after_a_reload(
    emulator: Emulator, context: BrowserContext, problems: PageProblems, tmp_path: Path
) -> None:
    problems.expect_refusal("/_storage/")  # the dropped parts
    path, data = file_on_disk(tmp_path, "resumed.bin", BIG)
    page = open_app(context, emulator.url + "/")
    sent: list[str] = []
    context.on("request", lambda request: sent.append(request.url) if "partNumber=" in request.url else None)

    # GIVEN an upload whose parts 2 and 3 were dropped on the way (part 1 stored), and the page reloaded
    held: list[Route] = []
    page.route(lambda url: "partNumber=2&" in url or "partNumber=3&" in url, lambda route: held.append(route))
    with page.expect_response(lambda response: "partNumber=1&" in response.url and response.ok):
        pick(page, path)
    while len(held) < 2:  # the held requests reach the route handler while Playwright waits
        page.wait_for_timeout(100)
    for route in held:
        route.abort("connectionreset")
    expect(row_of(page, "resumed.bin")).to_have_attribute("data-status", "failed")
    page.unroute_all()
    page.reload()
    expect(page.get_by_label("Choose files to upload, or drop them here")).to_be_enabled()
    sent.clear()

    # WHEN the same file is picked again, THEN only parts 2 and 3 go up, and the file is whole
    pick(page, path)
    expect_verified(row_of(page, "resumed.bin"), data)
    numbers = sorted(url.split("partNumber=")[1].split("&")[0] for url in sent)
    assert numbers == ["2", "3"]


def test_cancel_stops_the_upload_and_drops_the_file(
    emulator: Emulator, context: BrowserContext, tmp_path: Path
) -> None:
    path, _ = file_on_disk(tmp_path, "cancelled.bin", BIG)
    page = open_app(context, emulator.url + "/")
    page.route(lambda url: "partNumber=2&" in url, lambda route: None)  # held: the upload cannot finish
    pick(page, path)
    row = row_of(page, "cancelled.bin")
    expect(row).to_have_attribute("data-status", "uploading")
    file_id = row.get_attribute("data-id")
    page.get_by_role("button", name="Cancel upload of cancelled.bin").click()
    expect(row).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_role("status")).to_have_text("Upload of cancelled.bin cancelled")
    # THEN abortUpload (done before that announcement) removed the PENDING file
    found = httpx.post(
        emulator.graphql_url,
        headers={"x-api-key": emulator.api_key},
        json={"query": "query ($id: ID!) { file(id: $id) { id } }", "variables": {"id": file_id}},
    ).json()
    assert file_id and found == {"data": {"file": None}}


@pytest.fixture(scope="module")
def small_limit_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    yield from _start(tmp_path_factory, "small-limit", LAMBDASHARE_MAX_UPLOAD_SIZE="100000")


def test_an_oversize_upload_shows_the_servers_message(small_limit_emulator: Emulator, context: BrowserContext) -> None:
    page = open_app(context, small_limit_emulator.url + "/")
    pick(page, {"name": "too-big.bin", "mimeType": "application/octet-stream", "buffer": os.urandom(100_001)})
    row = row_of(page, "too-big.bin")
    expect(row).to_have_attribute("data-status", "failed")
    message = httpx.post(
        small_limit_emulator.graphql_url,
        headers={"x-api-key": small_limit_emulator.api_key},
        json={"query": 'mutation { requestUpload(input: {name: "x", size: 100001}) { url } }'},
    ).json()["errors"][0]["message"]
    assert "100000" in message  # the server names its limit
    expect(row.locator(".error")).to_have_text(message)
    screenshot(page, "oversize")


def test_bytes_changed_on_the_way_show_a_loud_mismatch(
    emulator: Emulator, context: BrowserContext, problems: PageProblems
) -> None:
    data = os.urandom(50_000)
    page = open_app(context, emulator.url + "/")
    # the storage PUT carries other bytes of the same size than the file the browser holds
    page.route("**/_storage/**", lambda route: route.continue_(post_data=bytes(len(data))))
    pick(page, {"name": "tampered.bin", "mimeType": "application/octet-stream", "buffer": data})
    row = row_of(page, "tampered.bin")
    expect(row).to_have_attribute("data-status", "done")
    assert row.locator("code[data-hash=sha256]").inner_text() == hashlib.sha256(bytes(len(data))).hexdigest()
    expect(row.locator(".error")).to_contain_text("MISMATCH")
    expect(row.locator(".error")).to_contain_text(hashlib.sha256(data).hexdigest())
    expect(row.locator(".verified")).to_be_hidden()


@pytest.fixture(scope="module")
def fine_progress_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """The hasher reports every MiB it reads (the template's step is 64 MiB), up to 100 times a second."""
    yield from _start(
        tmp_path_factory, "fine-progress", LAMBDASHARE_PROGRESS_STEP=str(MIB), LAMBDASHARE_PROGRESS_INTERVAL="0.01"
    )


def test_the_hashing_bar_follows_on_file_progress(
    fine_progress_emulator: Emulator, context: BrowserContext, tmp_path: Path
) -> None:
    path, data = file_on_disk(tmp_path, "hashed-slowly.bin", BIG)
    # every value the hashing bar takes (HTMLProgressElement.value reflects to its attribute)
    context.add_init_script("""
        window.hashingValues = [];
        new MutationObserver((records) => {
          for (const record of records) {
            if (record.target.matches && record.target.matches("progress.hashing")) {
              window.hashingValues.push(Number(record.target.getAttribute("value")));
            }
          }
        }).observe(document, {subtree: true, attributes: true, attributeFilter: ["value"]});
    """)
    page = open_app(context, fine_progress_emulator.url + "/")
    pick(page, path)
    expect_verified(row_of(page, "hashed-slowly.bin"), data)
    values = page.evaluate("window.hashingValues")
    assert any(0 < value < BIG for value in values), values  # onFileProgress moved it before the end
    assert values == sorted(values) and values[-1] == BIG


def test_dropped_files_upload(emulator: Emulator, context: BrowserContext) -> None:
    page = open_app(context, emulator.url + "/")
    # a drop of two files on the drop zone, as the browser delivers it (a DataTransfer holding Files)
    page.locator("#drop-zone").evaluate("""(zone) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File(["first dropped"], "dropped-1.txt", {type: "text/plain"}));
        transfer.items.add(new File(["second dropped"], "dropped-2.txt", {type: "text/plain"}));
        zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true, cancelable: true}));
        zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""")
    expect_verified(row_of(page, "dropped-1.txt"), b"first dropped")
    expect_verified(row_of(page, "dropped-2.txt"), b"second dropped")


def test_a_malformed_socket_message_is_ignored(emulator: Emulator, context: BrowserContext) -> None:
    """The page parses real-time messages guardedly: junk before the server's messages breaks nothing."""

    def with_junk(socket: WebSocketRoute) -> None:
        socket.connect_to_server()  # messages flow both ways as usual
        socket.send("{not json")
        socket.send('"a string"')
        socket.send("null")

    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.route_web_socket(re.compile(r"/graphql/realtime"), with_junk)
    page.goto(emulator.url + "/")
    data = os.urandom(1234)
    pick(page, {"name": "after-junk.bin", "mimeType": "application/octet-stream", "buffer": data})
    expect_verified(row_of(page, "after-junk.bin"), data)
