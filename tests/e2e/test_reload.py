"""`lambdashare serve --reload`: a handler's code, a template value and the template's resolver code change while
a client holds a subscription; the next query shows the change and the subscription still delivers. A change
that does not load leaves the previous version serving; a subscription the new schema refuses ends with an
error while the others keep delivering."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError

import lambdashare
from tests.e2e.clients import (
    ON_FILE_HASHED,
    appsync_transport,
    data,
    request_upload,
    send_bytes,
    subscriber_count,
    subscription,
    transport_ws_transport,
)
from tests.e2e.conftest import Emulator, free_port
from tests.templates import TEMPLATE

pytestmark = pytest.mark.e2e

DEADLINE_S = 30
RESOLVER = "Handler: resolvers.app.handler"
UPLOAD_EXPIRES = "  UploadExpires:\n    Type: Number\n    Default: 900\n"
PUBLISH_RESOLVER = "FieldName: publishFileHashed\n"
PUBLISHED_RESULT = "return ctx.result;"
#: The resolver under test: the project's, with the `file` field's name marked by a version written in the
#: code and by a setting from the template (the resolver's LAMBDASHARE_UPLOAD_EXPIRES).
HANDLER = """
import os

from resolvers.app import handler as project_handler

VERSION = "{version}"


def handler(event, context):
    result = project_handler(event, context)
    if event["info"]["fieldName"] == "file" and result:
        result["name"] += f" ({{VERSION}}, {{os.environ['LAMBDASHARE_UPLOAD_EXPIRES']}} s)"
    return result
"""
FILE_NAME = "query F($id: ID!) { file(id: $id) { name } }"
ON_FILE_PROGRESS = "subscription P($id: ID!) { onFileProgress(id: $id) { id hashedBytes } }"
#: onFileProgress's argument in the strawberry types
PROGRESS_ARGUMENT = "async def on_file_progress(self, info: strawberry.Info, id: strawberry.ID)"


class ReloadingEmulator(Emulator):
    def serve_args(self) -> list[str]:
        return ["--reload"]


@dataclass
class Sources:
    """What the emulator serves and the test edits: the template, the resolver module (`write_*`: of the
    project's template and resolver, changed), and the lambdashare package."""

    template: Path
    handler: Path
    #: a copy, first on the emulator's path, so the test may change the schema
    package: Path

    def write(self, *, version: str, upload_expires: int, published_result: str = PUBLISHED_RESULT) -> None:
        self.write_handler(version)
        self.write_template(upload_expires=upload_expires, published_result=published_result)

    def write_handler(self, version: str) -> None:
        self.handler.write_text(HANDLER.format(version=version), encoding="utf-8")

    def write_template(self, *, upload_expires: int, published_result: str = PUBLISHED_RESULT) -> None:
        """The template with `UploadExpires` and `published_result` in publishFileHashed's APPSYNC_JS code."""
        template = TEMPLATE.replace(RESOLVER, "Handler: reloaded_resolver.handler")
        template = template.replace(UPLOAD_EXPIRES, UPLOAD_EXPIRES.replace("900", str(upload_expires)))
        before, field, after = template.partition(PUBLISH_RESOLVER)
        self.template.write_text(
            before + field + after.replace(PUBLISHED_RESULT, published_result, 1), encoding="utf-8"
        )


@pytest.fixture
def sources(tmp_path: Path) -> Sources:
    assert TEMPLATE.count(RESOLVER) == 1 and TEMPLATE.count(UPLOAD_EXPIRES) == 1
    assert TEMPLATE.count(PUBLISH_RESOLVER) == 1 and PUBLISHED_RESULT in TEMPLATE.partition(PUBLISH_RESOLVER)[2]
    code = tmp_path / "code"
    package = code / "lambdashare"
    shutil.copytree(Path(lambdashare.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    written = Sources(template=tmp_path / "template.yaml", handler=code / "reloaded_resolver.py", package=package)
    written.write(version="v1", upload_expires=900)
    return written


@pytest.fixture
def emulator(tmp_path: Path, sources: Sources) -> Iterator[Emulator]:
    running = ReloadingEmulator(data_dir=tmp_path / "data", port=free_port(), api_key="da2-testreloadkey")
    # the copied package and the resolver module come first on the emulator's path
    path = os.pathsep.join(p for p in (str(sources.handler.parent), os.environ.get("PYTHONPATH")) if p)
    running.start(LAMBDASHARE_TEMPLATE=str(sources.template), PYTHONPATH=path)
    try:
        yield running
    finally:
        running.stop()
        if os.environ.get("LAMBDASHARE_E2E_SHOW_LOGS"):
            print(running.logs(), file=sys.stderr)


def file_name(emulator: Emulator, file_id: str) -> str:
    name: str = data(emulator, FILE_NAME, {"id": file_id})["file"]["name"]
    return name


def wait_for_name(emulator: Emulator, file_id: str, expected: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while (name := file_name(emulator, file_id)) != expected:
        assert time.monotonic() < deadline, f"still {name!r}, not {expected!r}:\n{emulator.logs()}"
        time.sleep(0.1)


def wait_for_log(emulator: Emulator, text: str, count: int = 1) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while emulator.logs().count(text) < count:
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{emulator.logs()}"
        time.sleep(0.1)


async def test_a_changed_handler_and_template_are_served_while_a_subscription_keeps_delivering(
    emulator: Emulator, sources: Sources
) -> None:
    body = b"reloaded while subscribed\n"
    ticket = request_upload(emulator, name="notes.txt", size=len(body), contentType="text/plain")
    file_id = ticket["file"]["id"]
    assert file_name(emulator, file_id) == "notes.txt (v1, 900 s)"

    async with subscription(emulator, appsync_transport(emulator), ON_FILE_HASHED, {"id": file_id}) as events:
        marked = "return Object.assign({}, ctx.result, { name: ctx.result.name + ' [published by v2]' });"
        sources.write(version="v2", upload_expires=600, published_result=marked)
        await asyncio.to_thread(wait_for_name, emulator, file_id, "notes.txt (v2, 600 s)")

        assert (await asyncio.to_thread(send_bytes, ticket, body)).status_code == 200
        event = (await asyncio.wait_for(events.get(), DEADLINE_S))["onFileHashed"]
        # delivered on the subscription held across the reload, through the reloaded resolver code
        assert (event["id"], event["status"], event["name"]) == (file_id, "HASHED", "notes.txt [published by v2]")
        assert event["hashes"]["sha256"] == hashlib.sha256(body).hexdigest()
    # the durable state carried over: the file is hashed, and still served by the new version
    hashed = data(emulator, "query F($id: ID!) { file(id: $id) { name status } }", {"id": file_id})["file"]
    assert hashed == {"name": "notes.txt (v2, 600 s)", "status": "HASHED"}


def test_a_change_that_does_not_load_leaves_the_previous_version_serving(emulator: Emulator, sources: Sources) -> None:
    file_id = request_upload(emulator, name="kept.txt", size=1)["file"]["id"]
    assert file_name(emulator, file_id) == "kept.txt (v1, 900 s)"

    def still_v1_after(log_line: str, count: int = 1) -> None:
        wait_for_log(emulator, f"still serving the previous version: {log_line}", count)
        assert file_name(emulator, file_id) == "kept.txt (v1, 900 s)"

    sources.handler.write_text("def handler(event, context:\n", encoding="utf-8")  # a syntax error
    still_v1_after("SyntaxError")
    sources.template.write_text("Resources: [", encoding="utf-8")  # not YAML (and the handler still broken)
    still_v1_after("TemplateError: cannot read")
    # resolver code that does not compile: found once the handler imports again, and then that import undone
    sources.write_template(upload_expires=900, published_result="return ctx.result +;")
    still_v1_after("SyntaxError", count=2)
    sources.write_handler("v3")
    still_v1_after("TemplateError: the code of Mutation.publishFileHashed cannot be loaded")

    sources.write_template(upload_expires=900)
    wait_for_name(emulator, file_id, "kept.txt (v3, 900 s)")


async def test_a_subscription_the_new_schema_refuses_ends_with_an_error_and_the_others_keep_delivering(
    emulator: Emulator, sources: Sources
) -> None:
    body = b"the schema changed under me\n"
    ticket = request_upload(emulator, name="schema.txt", size=len(body), contentType="text/plain")
    file_id = ticket["file"]["id"]

    async def follow_progress(transport: Any, outcome: asyncio.Queue[Any]) -> None:
        async with Client(transport=transport) as session:
            request = GraphQLRequest(ON_FILE_PROGRESS, variable_values={"id": file_id})
            try:
                async for result in session.subscribe(request):
                    await outcome.put(result)
            except TransportQueryError as exc:
                await outcome.put(exc)

    async with subscription(emulator, appsync_transport(emulator), ON_FILE_HASHED, {"id": file_id}) as events:
        before = await subscriber_count(emulator)
        # onFileProgress held over both protocols
        outcomes: list[asyncio.Queue[Any]] = [asyncio.Queue(), asyncio.Queue()]
        transports = [appsync_transport(emulator), transport_ws_transport(emulator)]
        progress = [asyncio.create_task(follow_progress(t, o)) for t, o in zip(transports, outcomes, strict=True)]
        try:
            deadline = time.monotonic() + DEADLINE_S
            while await subscriber_count(emulator) < before + 2:
                assert time.monotonic() < deadline and not any(t.done() for t in progress), emulator.logs()
                await asyncio.sleep(0.05)

            schema_code = sources.package / "api" / "schema.py"
            code = schema_code.read_text(encoding="utf-8")
            assert code.count(PROGRESS_ARGUMENT) == 1
            # onFileProgress(id:) becomes onFileProgress(fileId:): the held subscriptions name an argument gone
            schema_code.write_text(code.replace(PROGRESS_ARGUMENT, PROGRESS_ARGUMENT.replace(" id:", " file_id:")))

            for outcome in outcomes:
                ended = await asyncio.wait_for(outcome.get(), DEADLINE_S)
                assert isinstance(ended, TransportQueryError), ended
                assert ended.query_id is not None
                assert ended.errors and "Unknown argument 'id'" in str(ended.errors), ended.errors
            assert await subscriber_count(emulator) == before  # they left the broker

            assert (await asyncio.to_thread(send_bytes, ticket, body)).status_code == 200
            event = await asyncio.wait_for(events.get(), DEADLINE_S)
            assert event["onFileHashed"]["id"] == file_id
            assert event["onFileHashed"]["status"] == "HASHED"
        finally:
            for task in progress:
                task.cancel()
