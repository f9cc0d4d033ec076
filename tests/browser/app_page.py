"""What the browser tests do with the web app's page: open it, upload through it."""

from __future__ import annotations

import hashlib

from playwright.sync_api import BrowserContext, Page, expect

#: Page actions and expectations wait this long (the machine may be busy with other tests).
TIMEOUT_MS = 60_000
UPLOAD_LABEL = "Choose files to upload, or drop them here"


def open_app(context: BrowserContext, url: str) -> Page:
    """A new page on the web app at `url`, once it is ready to upload."""
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    expect(page.get_by_label(UPLOAD_LABEL)).to_be_enabled()
    return page


def upload(page: Page, name: str, data: bytes) -> None:
    """Pick one file, wait until it is done, and check the server's sha256 shown for it."""
    page.get_by_label(UPLOAD_LABEL).set_input_files(
        {"name": name, "mimeType": "application/octet-stream", "buffer": data}
    )
    row = page.locator(".upload").filter(has_text=name)
    expect(row).to_have_attribute("data-status", "done")
    assert row.locator("code[data-hash=sha256]").inner_text() == hashlib.sha256(data).hexdigest()
