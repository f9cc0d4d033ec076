"""The emulator runs the template's APPSYNC_JS code for mutations too: a copy of template.yaml whose
publishFileHashed resolver is changed changes what the API answers and what subscribers receive."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.clients import appsync_transport, file_hashed_input, sigv4_graphql, subscription
from tests.e2e.conftest import Emulator, start_with_template
from tests.templates import TEMPLATE

PUBLISH_RESPONSE = """        export function response(ctx) {
          return ctx.result;
        }
"""
CHANGED_RESPONSE = """        import { util } from '@aws-appsync/utils';
        export function response(ctx) {
          util.appendError('renamed by the resolver', 'Notice', { was: ctx.result.name });
          return { ...ctx.result, name: ctx.result.name.toUpperCase() };
        }
"""
PUBLISH = "mutation P($input: FileHashedInput!) { publishFileHashed(input: $input) { id name owner } }"
ON_FILE = "subscription S($id: ID) { onFileHashed(id: $id) { id name } }"


@pytest.fixture(scope="module")
def changed_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    # publishFileProgress's resolver has the same response handler: change publishFileHashed's only
    start = TEMPLATE.index("FieldName: publishFileHashed\n")
    head, tail = TEMPLATE[:start], TEMPLATE[start:]
    assert tail.index(PUBLISH_RESPONSE) < tail.index("AWS::AppSync::")  # within publishFileHashed's resolver
    changed = head + tail.replace(PUBLISH_RESPONSE, CHANGED_RESPONSE, 1)
    yield from start_with_template(tmp_path_factory, "changed-publish", changed)


async def test_a_changed_publish_resolver_changes_the_answer_and_the_event(changed_emulator: Emulator) -> None:
    # GIVEN an API-key subscriber to an anonymous file's id
    file_id = str(uuid.uuid4())
    transport = appsync_transport(changed_emulator)
    async with subscription(changed_emulator, transport, ON_FILE, {"id": file_id}) as events:
        # WHEN the hasher publishes it
        answer = await asyncio.to_thread(
            sigv4_graphql, changed_emulator, PUBLISH, {"input": file_hashed_input(file_id, name="low.txt", owner=None)}
        )
        event = (await asyncio.wait_for(events.get(), 60))["onFileHashed"]

    # THEN the answer is the resolver's value, with the error it appended next to the data, in AppSync's shape
    assert answer["data"] == {"publishFileHashed": {"id": file_id, "name": "LOW.TXT", "owner": None}}
    [error] = answer["errors"]
    assert error["path"] == ["publishFileHashed"]
    assert (error["errorType"], error["message"], error["data"]) == (
        "Notice",
        "renamed by the resolver",
        {"was": "low.txt"},
    )
    assert error["locations"] and error["errorInfo"] is None
    # AND subscribers got the resolver's value too
    assert event == {"id": file_id, "name": "LOW.TXT"}
