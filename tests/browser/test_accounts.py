"""Accounts in the web app: sign up, sign in (SRP, through amazon-cognito-identity-js) and out against the
emulator's user pool; a signed-in user's "Your files" is the API's `files`, only theirs."""

from __future__ import annotations

import hashlib
import os
import uuid

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.app_page import open_app, upload
from tests.browser.conftest import PageProblems, cognito, screenshot
from tests.e2e.conftest import Emulator

pytestmark = pytest.mark.e2e

PASSWORD = "Correct-Horse-9-battery"


def account(page: Page, action: str, email: str, password: str = PASSWORD) -> None:
    form = page.get_by_role("region", name="Account")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name=action, exact=True).click()


def expect_signed_in(page: Page, email: str) -> None:
    expect(page.get_by_role("region", name="Account")).to_contain_text(f"Signed in as {email}")


def your_files(page: Page) -> list[str]:
    listed = page.get_by_role("list", name="Your files")
    return [name.inner_text() for name in listed.locator("li .name").all()]


def test_sign_up_sign_in_and_your_files_are_only_yours(emulator: Emulator, context: BrowserContext) -> None:
    alice, bob = (f"{who}-{uuid.uuid4().hex[:8]}@example.com" for who in ("alice", "bob"))
    page = open_app(context, emulator.url + "/")

    # WHEN alice signs up in the page, THEN she is signed in, and her upload is in "Your files"
    account(page, "Sign up", alice)
    expect_signed_in(page, alice)
    upload(page, "alice.bin", os.urandom(3000))
    expect(page.get_by_role("list", name="Your files").get_by_text("alice.bin", exact=True)).to_be_visible()
    screenshot(page, "signed_in")

    # WHEN she signs out, THEN the anonymous space of this browser shows none of her files
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_role("list", name="Your files").get_by_role("listitem")).to_have_count(0)

    # WHEN bob signs up and uploads, THEN he sees his file only
    account(page, "Sign up", bob)
    expect_signed_in(page, bob)
    bobs = os.urandom(2000)
    upload(page, "bob.bin", bobs)
    # AND the same content again is flagged, naming his other file (filesByHash)
    upload(page, "bob-again.bin", bobs)
    duplicate = page.locator(".upload").filter(has_text="bob-again.bin").locator(".duplicate")
    expect(duplicate).to_have_text("Duplicate: this content is already stored as bob.bin")
    page.get_by_role("button", name="Delete bob-again.bin").click()
    expect(page.get_by_role("list", name="Your files").get_by_text("bob-again.bin", exact=True)).to_have_count(0)
    # AND a search by SHA-256 names his file that holds the content (filesByHash)
    page.get_by_label("Find by SHA-256").fill(hashlib.sha256(bobs).hexdigest())
    page.get_by_role("button", name="Find", exact=True).click()
    expect(page.locator("#search-result")).to_have_text("1 of your files holds this content: bob.bin")
    expect(page.get_by_role("list", name="Your files").get_by_text("bob.bin", exact=True)).to_be_visible()
    assert your_files(page) == ["bob.bin"]
    page.get_by_role("button", name="Sign out").click()

    # WHEN alice signs in again (a fresh page: the session is kept across reloads), THEN only her file shows
    account(page, "Sign in", alice)
    expect_signed_in(page, alice)
    expect(page.get_by_role("list", name="Your files").get_by_text("alice.bin", exact=True)).to_be_visible()
    assert your_files(page) == ["alice.bin"]
    page.reload()
    expect_signed_in(page, alice)
    expect(page.get_by_role("list", name="Your files").get_by_text("alice.bin", exact=True)).to_be_visible()
    assert your_files(page) == ["alice.bin"]


def test_a_wrong_password_is_refused_with_the_pools_message(
    emulator: Emulator, context: BrowserContext, problems: PageProblems
) -> None:
    problems.expect_refusal("/cognito-idp/")  # the pool's 400 NotAuthorizedException
    page = open_app(context, emulator.url + "/")
    email = f"carol-{uuid.uuid4().hex[:8]}@example.com"
    account(page, "Sign up", email)
    expect_signed_in(page, email)
    page.get_by_role("button", name="Sign out").click()
    account(page, "Sign in", email, "Wrong-Horse-9-battery")
    expect(page.get_by_role("status")).to_have_text("Sign-in failed: Incorrect username or password.")
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()


def test_your_files_are_newest_first_and_paged(emulator: Emulator, context: BrowserContext) -> None:
    # GIVEN a user with 21 files (one more than a page), made through the API
    config = httpx.get(f"{emulator.url}/config.json").json()
    email = f"dave-{uuid.uuid4().hex[:8]}@example.com"
    cognito(config, "SignUp", {"ClientId": config["userPoolClientId"], "Username": email, "Password": PASSWORD})
    auth = {"USERNAME": email, "PASSWORD": PASSWORD}
    signed_in = cognito(
        config,
        "InitiateAuth",
        {"ClientId": config["userPoolClientId"], "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": auth},
    )
    token = signed_in["AuthenticationResult"]["IdToken"]
    names = [f"file-{number:02d}.bin" for number in range(21)]
    for name in names:
        response = httpx.post(
            emulator.graphql_url,
            headers={"authorization": token},
            json={"query": f'mutation {{ requestUpload(input: {{name: "{name}", size: 1}}) {{ url }} }}'},
        )
        assert "errors" not in response.json(), response.text

    # WHEN they sign in, THEN the newest 20 show, and "More" brings the oldest
    page = open_app(context, emulator.url + "/")
    account(page, "Sign in", email)
    expect_signed_in(page, email)
    expect(page.get_by_role("list", name="Your files").get_by_role("listitem")).to_have_count(20)
    assert your_files(page) == names[::-1][:20]
    page.get_by_role("button", name="More").click()
    expect(page.get_by_role("list", name="Your files").get_by_role("listitem")).to_have_count(21)
    assert your_files(page) == names[::-1]
    expect(page.get_by_role("button", name="More")).to_be_hidden()
