"""The web app in a real browser: upload, real-time hashes, duplicate marker, the file list."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from lambdashare.emulator.identity_provider import UserPool
from tests.browser.conftest import PageProblems
from tests.e2e.conftest import Emulator

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 60_000


def test_config_json_has_the_key_for_loopback_clients(emulator: Emulator) -> None:
    config = httpx.get(f"{emulator.url}/config.json").json()
    pool = UserPool.load_or_create(emulator.data_dir)  # the pool the emulator made in its data dir
    assert config == {
        "graphqlUrl": f"{emulator.url}/graphql",
        "realtimeUrl": f"ws://127.0.0.1:{emulator.port}/graphql/realtime",
        "userPoolId": pool.pool_id,
        "userPoolClientId": pool.client_id,
        "userPoolEndpoint": f"{emulator.url}/cognito-idp/",
        "apiKey": emulator.api_key,
    }


def test_upload_shows_hashes_duplicates_and_lists_the_file(
    emulator: Emulator, browser: Browser, context: BrowserContext, problems: PageProblems, tmp_path
) -> None:
    data = os.urandom(200_000)
    expected = {name: hashlib.new(name, data).hexdigest() for name in ("md5", "sha1", "sha256", "sha512")}
    name = f"first <b>{expected['md5'][:8]}</b>.bin"  # markup in the name must show up as text
    console: list[str] = []
    page = context.new_page()  # page errors, console errors and off-machine requests fail the test
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(emulator.url + "/")
        file_input = page.get_by_label("Choose files to upload, or drop them here")
        expect(file_input).to_be_enabled()
        expect(page.get_by_label("API key")).to_be_hidden()  # a loopback client gets the key from config.json

        file_input.set_input_files({"name": name, "mimeType": "application/octet-stream", "buffer": data})
        first = page.locator(".upload").filter(has_text=name)
        expect(first).to_have_attribute("data-status", "done")
        shown = {algo: first.locator(f"code[data-hash={algo}]").inner_text() for algo in expected}
        assert shown == expected
        expect(first.locator(".duplicate")).to_be_hidden()

        again = "second copy.bin"
        file_input.set_input_files({"name": again, "mimeType": "application/octet-stream", "buffer": data})
        second = page.locator(".upload").filter(has_text=again)
        expect(second).to_have_attribute("data-status", "done")
        # the anonymous space reveals no other file: only that the content is stored already
        expect(second.locator(".duplicate")).to_have_text("Duplicate: this content is already stored")
        assert second.locator("code[data-hash=sha256]").inner_text() == expected["sha256"]

        your_files = page.get_by_role("list", name="Your files")
        expect(your_files.get_by_text(name, exact=True)).to_be_visible()
        expect(your_files.get_by_text(again, exact=True)).to_be_visible()
        expect(page.get_by_role("button", name=f"Delete {name}")).to_be_visible()

        with page.expect_download() as download_info:
            page.get_by_role("link", name=f"Download {again}").click()
        download = download_info.value
        assert download.suggested_filename == again
        assert Path(download.path()).read_bytes() == data

        artifacts = tmp_path / "artifacts"
        artifacts.mkdir()
        page.screenshot(path=str(artifacts / "web_app.png"), full_page=True)
        print(f"screenshot: {artifacts / 'web_app.png'}")

        page.get_by_role("button", name=f"Delete {again}").click()
        expect(your_files.get_by_text(again, exact=True)).to_have_count(0)
        expect(your_files.get_by_text(name, exact=True)).to_be_visible()

        # AND "Your files" are the ids this browser was given: they survive a reload, and another
        # browser with the same API key sees none of them
        page.reload()
        expect(your_files.get_by_text(name, exact=True)).to_be_visible()
        expect(your_files.get_by_text(again, exact=True)).to_have_count(0)
        stranger = problems.watch(browser.new_context()).new_page()
        try:
            stranger.goto(emulator.url + "/")
            expect(stranger.get_by_label("Choose files to upload, or drop them here")).to_be_enabled()
            expect(stranger.get_by_role("list", name="Your files").get_by_role("listitem")).to_have_count(0)
        finally:
            stranger.context.close()
    except Exception:
        print("browser console:\n" + "\n".join(console))
        raise
    finally:
        page.close()


def test_without_a_key_in_config_the_page_asks_for_one(emulator: Emulator, browser: Browser) -> None:
    """A non-loopback client gets apiKey null; the pasted key is kept in sessionStorage."""
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    config = {"graphqlUrl": emulator.graphql_url, "realtimeUrl": f"{emulator.ws_url}/realtime", "apiKey": None}
    page.route("**/config.json", lambda route: route.fulfill(json=config))
    try:
        page.goto(emulator.url + "/")
        file_input = page.get_by_label("Choose files to upload, or drop them here")
        expect(file_input).to_be_disabled()
        page.get_by_label("API key").fill(emulator.api_key)
        page.get_by_role("button", name="Use key").click()
        expect(file_input).to_be_enabled()
        assert page.evaluate("sessionStorage.getItem('lambdashare.apiKey')") == emulator.api_key

        data = os.urandom(1000)
        file_input.set_input_files({"name": "pasted-key.bin", "mimeType": "text/plain", "buffer": data})
        row = page.locator(".upload").filter(has_text="pasted-key.bin")
        expect(row).to_have_attribute("data-status", "done")
        assert row.locator("code[data-hash=sha256]").inner_text() == hashlib.sha256(data).hexdigest()
    finally:
        page.close()
