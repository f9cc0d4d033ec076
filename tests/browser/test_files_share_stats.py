"""Your files in the web app: details with the four digests and copy buttons, search by SHA-256, a share link
opened in a second browser context and revoked; the Stats section; a phone's width without horizontal scroll."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.browser.app_page import TIMEOUT_MS, open_app, upload
from tests.browser.conftest import PageProblems, screenshot
from tests.e2e.conftest import Emulator

pytestmark = pytest.mark.e2e

ALGORITHMS = ("md5", "sha1", "sha256", "sha512")


def listed(page: Page, name: str) -> Locator:
    return page.get_by_role("list", name="Your files").get_by_role("listitem").filter(has_text=name)


def test_details_copy_search_and_a_share_link_in_another_context(
    emulator: Emulator, browser: Browser, context: BrowserContext, problems: PageProblems
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=emulator.url)
    data = os.urandom(40_000)
    name = f"shared-{uuid.uuid4().hex[:6]}.bin"
    page = open_app(context, emulator.url + "/")
    upload(page, name, data)
    row = listed(page, name)

    # details: the four digests, each with a copy button that copies it
    row.get_by_role("button", name=f"Details of {name}").click()
    expect(row.get_by_role("button", name=f"Details of {name}")).to_have_attribute("aria-expanded", "true")
    for algorithm in ALGORITHMS:
        expect(row.locator(f"code[data-hash={algorithm}]")).to_have_text(hashlib.new(algorithm, data).hexdigest())
    row.get_by_role("button", name="Copy sha512").click()
    expect(page.get_by_role("status")).to_have_text("sha512 copied")
    assert page.evaluate("navigator.clipboard.readText()") == hashlib.sha512(data).hexdigest()

    # search by sha256 (the anonymous space: a count, and which listed file holds it)
    page.get_by_label("Find by SHA-256").fill(hashlib.sha256(data).hexdigest())
    page.get_by_role("button", name="Find", exact=True).click()
    expect(page.locator("#search-result")).to_have_text(
        f"1 hashed file of the anonymous space holds this content, listed here: {name}."
    )

    # a share link, copied, opened by someone else (another browser context: no storage in common)
    row.get_by_role("button", name=f"Share {name}").click()
    link = row.get_by_role("textbox", name=f"Share link for {name}").input_value()
    assert link.startswith(emulator.url + "/#/s/")
    row.get_by_role("button", name=f"Copy share link for {name}").click()
    expect(page.get_by_role("status")).to_have_text("Share link copied")
    assert page.evaluate("navigator.clipboard.readText()") == link
    screenshot(page, "file_details")

    other = problems.watch(browser.new_context())
    try:
        visitor = other.new_page()
        visitor.set_default_timeout(TIMEOUT_MS)
        visitor.goto(link)
        shared = visitor.get_by_role("region", name="Shared file")
        expect(shared).to_contain_text(name)
        expect(shared.locator("code[data-hash=sha256]")).to_have_text(hashlib.sha256(data).hexdigest())
        expect(visitor.get_by_role("region", name="Upload")).to_be_hidden()
        with visitor.expect_download() as download_info:
            shared.get_by_role("link", name=f"Download {name}").click()
        assert Path(download_info.value.path()).read_bytes() == data
        screenshot(visitor, "share_page")

        # WHEN the owner revokes it, THEN the link no longer opens the file
        row.get_by_role("button", name=f"Revoke share link for {name}").click()
        expect(page.get_by_role("status")).to_have_text(f"Share link for {name} revoked")
        visitor.reload()
        expect(shared).to_contain_text("This share link is not valid: it expired or was revoked.")
    finally:
        other.close()


def stats_of(emulator: Emulator, headers: dict[str, str]) -> dict | None:
    body = httpx.post(
        emulator.graphql_url,
        headers=headers,
        json={"query": "{ stats(days: 30) { uploads bytes hashed failed duplicates deleted } }"},
    ).json()
    return None if body.get("errors") else body["data"]["stats"]


def test_the_stats_chart_and_totals(emulator: Emulator, context: BrowserContext) -> None:
    key = {"x-api-key": emulator.api_key}
    before = stats_of(emulator, key)
    assert before is not None
    page = open_app(context, emulator.url + "/")
    upload(page, f"counted-{uuid.uuid4().hex[:6]}.bin", os.urandom(12_345))
    # the counters follow the table's stream: wait until the API counts this upload, and the figures hold
    # still for longer than the stream's batching window (earlier tests' uploads may still be counted)
    deadline = time.monotonic() + 60
    previous = None
    while True:
        expected = stats_of(emulator, key)
        assert expected is not None
        if expected == previous and expected["hashed"] > before["hashed"]:
            break
        assert time.monotonic() < deadline, "the upload was never counted"
        previous = expected
        time.sleep(1.5)
    page.get_by_role("button", name="Refresh").click()
    stats = page.get_by_role("region", name="Stats")
    for field in ("uploads", "hashed", "failed", "duplicates", "deleted"):
        expect(stats.locator(f"[data-total={field}]")).to_have_text(str(expected[field]))
    expect(stats.locator("#stats-chart canvas").first).to_be_visible()
    expect(stats.locator("#stats-chart")).to_have_attribute("data-days", "30")
    screenshot(page, "stats")


def test_a_phones_width_has_no_horizontal_scroll(emulator: Emulator, browser: Browser, problems: PageProblems) -> None:
    context = problems.watch(browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True))
    try:
        page = open_app(context, emulator.url + "/")
        name = "a-rather-long-file-name-without-any-spaces-" + "x" * 60 + ".bin"
        upload(page, name, os.urandom(5000))
        row = listed(page, name)
        row.get_by_role("button", name=f"Details of {name}").click()
        row.get_by_role("button", name=f"Share {name}").click()
        expect(row.get_by_role("textbox", name=f"Share link for {name}")).to_be_visible()
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1] == 390, widths
        screenshot(page, "phone")
    finally:
        context.close()
