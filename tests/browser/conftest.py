"""Browser tests: Playwright for Python driving Debian's Chromium (never `playwright install`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Route, WebSocketRoute, expect

from tests.e2e.conftest import emulator  # noqa: F401  (the shared emulator fixture)

CHROMIUM = Path(os.environ.get("LAMBDASHARE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI must run the browser tests)")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[object]:
    """Module-scoped on purpose: the sync API leaves an event loop running in this thread until it stops,
    which would break the asyncio tests that follow (tests/e2e) if it lived for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


REPO = Path(__file__).resolve().parents[2]
# expect() waits as long as a page action does: the machine's cores are shared with other test runs
expect.set_options(timeout=60_000)
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
ARTIFACTS = REPO / "tests" / "browser" / "artifacts"  # git-ignored; CI keeps it as the run's artifacts


@pytest.fixture(scope="session", autouse=True)
def web_bundle() -> None:
    """web/dist, as `make web` builds it from web/package-lock.json (a no-op when it is up to date)."""
    result = subprocess.run(["make", "-s", "web"], cwd=REPO, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.fail(f"`make web` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


class PageProblems:
    """Every page error and console error of a browser context, and every request it tried to send
    off this machine (blocked): a test fails on any of them."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.expected_refusals: set[str] = set()

    def expect_refusal(self, path_prefix: str) -> None:
        """A test that provokes a failed request on purpose (a wrong password, a dropped upload) names where:
        the browser's own "Failed to load resource" line for a path under it is then not counted."""
        self.expected_refusals.add(path_prefix)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "assert"):
            return
        url = urlsplit(str(message.location.get("url", "")))
        expected = any(url.path.startswith(prefix) for prefix in self.expected_refusals)
        if message.text.startswith("Failed to load resource") and expected:
            return
        self.errors.append(f"console.{message.type}: {message.text} ({message.location})")

    def watch(self, context: BrowserContext) -> BrowserContext:
        context.route("**/*", self._route)
        context.route_web_socket(re.compile(".*"), self._route_web_socket)
        context.on("page", self._watch_page)
        for page in context.pages:
            self._watch_page(page)
        return context

    def _watch_page(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("console", self._console)

    def _route(self, route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in LOOPBACK_HOSTS:
            self.blocked.append(route.request.url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def _route_web_socket(self, socket: WebSocketRoute) -> None:
        if urlsplit(socket.url).hostname in LOOPBACK_HOSTS:
            socket.connect_to_server()
        else:
            self.blocked.append(socket.url)
            socket.close()

    def check(self) -> None:
        assert self.blocked == [], f"requests off this machine: {self.blocked}"
        assert self.errors == [], "page or console errors:\n" + "\n".join(self.errors)


@pytest.fixture
def problems() -> Iterator[PageProblems]:
    watcher = PageProblems()
    yield watcher
    watcher.check()


@pytest.fixture
def context(browser: Browser, problems: PageProblems) -> Iterator[BrowserContext]:
    """A fresh browser context (its own storage) whose errors and off-machine requests fail the test."""
    context = problems.watch(browser.new_context())
    try:
        yield context
    finally:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def cognito(config: dict[str, Any], operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """One call to the user pool's API (cognito-idp JSON, unsigned as Cognito's user operations are)."""
    response = httpx.post(
        config["userPoolEndpoint"],
        content=json.dumps(body),
        headers={
            "content-type": "application/x-amz-json-1.1",
            "x-amz-target": f"AWSCognitoIdentityProviderService.{operation}",
        },
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result
