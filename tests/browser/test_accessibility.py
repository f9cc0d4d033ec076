"""Accessibility of the web app: axe-core (from web/package-lock.json) finds no violation, colour contrast
included, in light and dark mode; one live region; the whole path works from the keyboard alone."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import REPO, PageProblems, screenshot
from tests.e2e.conftest import Emulator

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 60_000
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']}: {violation['help']} — {[node['target'] for node in violation['nodes']]}"
        for violation in result["violations"]
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_axe_violations_with_files_details_and_a_share_link(
    emulator: Emulator, browser: Browser, problems: PageProblems, scheme: str
) -> None:
    context = problems.watch(browser.new_context(color_scheme=scheme))
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(emulator.url + "/")
        expect(page.get_by_label("Choose files to upload, or drop them here")).to_be_enabled()
        name = f"a11y-{scheme}-{uuid.uuid4().hex[:6]}.bin"
        page.get_by_label("Choose files to upload, or drop them here").set_input_files(
            {"name": name, "mimeType": "application/octet-stream", "buffer": os.urandom(3000)}
        )
        expect(page.locator(".upload").filter(has_text=name)).to_have_attribute("data-status", "done")
        row = page.get_by_role("list", name="Your files").get_by_role("listitem").filter(has_text=name)
        row.get_by_role("button", name=f"Share {name}").click()
        expect(row.get_by_role("button", name=f"Revoke share link for {name}")).to_be_visible()

        assert axe_violations(page) == []
        # one live region, not nested ones
        assert page.locator("[aria-live], [role=status], [role=alert], [role=log]").count() == 1
        screenshot(page, f"web_app_{scheme}")
    finally:
        context.close()


def test_keyboard_only_upload_details_and_share(emulator: Emulator, browser: Browser, problems: PageProblems) -> None:
    context = problems.watch(browser.new_context())
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        # a listener from the start turns on Playwright's file chooser interception before any key is pressed
        page.on("filechooser", lambda chooser: None)
        page.goto(emulator.url + "/")
        expect(page.get_by_label("Choose files to upload, or drop them here")).to_be_enabled()

        def tab_to(selector: str) -> None:
            """Press Tab until the element matching `selector` has the focus."""
            for _ in range(60):
                page.keyboard.press("Tab")
                if page.evaluate("(s) => document.activeElement.matches(s)", selector):
                    return
            raise AssertionError(f"Tab never reached {selector}")

        data = os.urandom(4000)
        name = f"keyboard-{uuid.uuid4().hex[:6]}.bin"
        tab_to("#file-input")
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Enter")
        chooser.value.set_files({"name": name, "mimeType": "application/octet-stream", "buffer": data})
        expect(page.locator(".upload").filter(has_text=name)).to_have_attribute("data-status", "done")

        row = page.get_by_role("list", name="Your files").get_by_role("listitem").filter(has_text=name)
        expect(row).to_be_visible()
        tab_to(f'button[aria-label="Details of {name}"]')
        page.keyboard.press("Enter")
        expect(row.get_by_role("button", name=f"Details of {name}")).to_have_attribute("aria-expanded", "true")
        expect(row.locator("code[data-hash=sha256]")).to_have_text(hashlib.sha256(data).hexdigest())
        tab_to(f'button[aria-label="Share {name}"]')
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_have_text(f"Share link for {name} created")
        tab_to(f'button[aria-label="Revoke share link for {name}"]')
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_have_text(f"Share link for {name} revoked")
    finally:
        context.close()
