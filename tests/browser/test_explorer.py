"""The GraphQL explorer (GET /graphql) in a real browser with every request off this machine blocked:
GraphiQL, React and graphql-ws come from the bundle `make web` builds from npm, never from a CDN."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import cognito, screenshot
from tests.e2e.conftest import Emulator

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 60_000
PASSWORD = "Correct-Horse-9-battery"


def open_explorer(page: Page, emulator: Emulator, document: str = "") -> None:
    """The explorer, its query editor holding `document` (passed as ?query=, as a link would)."""
    page.goto(emulator.graphql_url + ("?" + urlencode({"query": document}) if document else ""))
    expect(page.locator(".graphiql-container")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Execute query"))).to_be_enabled()
    if document:
        expect(page.locator(".graphiql-query-editor")).to_contain_text(document.split("(")[0])


def new_page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def run(page: Page, emulator: Emulator, document: str) -> None:
    """Open the explorer with `document` and press its run button."""
    open_explorer(page, emulator, document)
    page.get_by_role("button", name=re.compile("Execute query")).click()


def response_json(page: Page, containing: str) -> dict:
    """The response pane's JSON, once it contains `containing`."""
    pane = page.locator(".graphiql-response .CodeMirror")
    expect(pane).to_contain_text(containing)
    text = pane.evaluate("(editor) => editor.CodeMirror.getValue()")
    return json.loads(text)


def upload_and_follow(page: Page, emulator: Emulator) -> None:
    """requestUpload over HTTP, onFileHashed over graphql-transport-ws, both from the explorer."""
    data = uuid.uuid4().bytes * 100
    request = 'mutation { requestUpload(input: {name: "explored.bin", size: 1600}) { file { id } url headers } }'
    run(page, emulator, request)
    ticket = response_json(page, '"url"')["data"]["requestUpload"]
    file_id = ticket["file"]["id"]

    frames: list[str] = []  # what the page's sockets received, to explain a failure
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: frames.append(str(frame))))
    subscribers = httpx.get(f"{emulator.url}/healthz").json()["subscribers"]
    run(page, emulator, f'subscription {{ onFileHashed(id: "{file_id}") {{ id status hashes {{ sha256 }} }} }}')
    wait_for_subscriber(page, emulator, more_than=subscribers)  # the subscription is live: no event is missed
    put = httpx.put(ticket["url"], content=data, headers=json.loads(ticket["headers"] or "{}"), timeout=30)
    assert put.status_code == 200, put.text
    try:
        event = response_json(page, '"HASHED"')["data"]["onFileHashed"]
    except AssertionError as error:
        raise AssertionError(f"no HASHED event shown; frames the page received: {frames}") from error
    assert event == {"id": file_id, "status": "HASHED", "hashes": {"sha256": hashlib.sha256(data).hexdigest()}}


def wait_for_subscriber(page: Page, emulator: Emulator, more_than: int) -> None:
    page.wait_for_function(
        """async ([url, count]) => (await (await fetch(url)).json()).subscribers > count""",
        arg=[f"{emulator.url}/healthz", more_than],
        polling=200,
    )


def test_the_explorer_runs_offline_a_query_and_a_subscription_with_the_api_key(
    emulator: Emulator, context: BrowserContext
) -> None:
    page = new_page(context)
    open_explorer(page, emulator)
    expect(page.locator(".graphiql-editor-tool")).to_contain_text(emulator.api_key)  # the headers pane
    upload_and_follow(page, emulator)
    screenshot(page, "explorer")


def test_the_explorer_uses_a_signed_in_users_token(emulator: Emulator, context: BrowserContext) -> None:
    # GIVEN a user signed in to the web app (the session amazon-cognito-identity-js keeps in localStorage)
    config = httpx.get(f"{emulator.url}/config.json").json()
    email = f"explorer-{uuid.uuid4().hex[:10]}@example.com"
    cognito(config, "SignUp", {"ClientId": config["userPoolClientId"], "Username": email, "Password": PASSWORD})
    tokens = cognito(
        config,
        "InitiateAuth",
        {
            "ClientId": config["userPoolClientId"],
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": email, "PASSWORD": PASSWORD},
        },
    )["AuthenticationResult"]
    prefix = f"CognitoIdentityServiceProvider.{config['userPoolClientId']}"
    session = {f"{prefix}.LastAuthUser": email, f"{prefix}.{email}.idToken": tokens["IdToken"]}
    context.add_init_script(
        f"if (location.origin === {json.dumps(emulator.url)})"
        f" for (const [k, v] of Object.entries({json.dumps(session)})) localStorage.setItem(k, v);"
    )
    # WHEN the explorer opens, THEN it sends that token, on HTTP and on the subscription's connection
    page = new_page(context)
    open_explorer(page, emulator)
    expect(page.locator(".graphiql-editor-tool")).to_contain_text('"Authorization"')
    upload_and_follow(page, emulator)
    run(page, emulator, "query { files(limit: 5) { items { name owner } } }")
    items = response_json(page, '"items"')["data"]["files"]["items"]
    assert [item["name"] for item in items] == ["explored.bin"]  # this user's file: the token was used
    assert items[0]["owner"] is not None


def test_only_the_bundle_is_served_from_web(emulator: Emulator) -> None:
    for path in ("/web/dist/app.js", "/web/dist/app.css", "/web/dist/explorer.js", "/web/dist/explorer.css"):
        assert httpx.get(emulator.url + path).status_code == 200, path
    for path in ("/web/package.json", "/web/src/app.js", "/web/node_modules/react/package.json", "/web/build.mjs"):
        assert httpx.get(emulator.url + path).status_code == 404, path
