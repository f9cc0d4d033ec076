"""The emulator runs the template's APPSYNC_JS code for mutations too: a copy of template.yaml whose
publishFileHashed resolver is changed changes what the API answers and what subscribers receive."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
from gql.transport.exceptions import TransportQueryError

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


# --- PIPELINE resolvers: one stash, each step's result as ctx.prev.result --------------------------

PROGRESS_RESOLVER = "FieldName: onFileProgress\n"
PIPELINE_BEFORE = """        export function request(ctx) {
          return {};
        }
"""
PIPELINE_AFTER = """          if (ctx.prev.result) {
            extensions.setSubscriptionFilter(ctx.prev.result);
          }
          return null;"""
#: a pipeline function ahead of the access rule, writing to the stash and counting on ctx.prev.result
COUNTING_FUNCTION = """  CountingFunction:
    Type: AWS::AppSync::FunctionConfiguration
    Properties:
      ApiId: !GetAtt Api.ApiId
      Name: Counting
      DataSourceName: !GetAtt NoneDataSource.Name
      Runtime: {Name: APPSYNC_JS, RuntimeVersion: 1.0.0}
      Code: |
        export function request(ctx) {
          ctx.stash.seenByFunction = ctx.prev.result;
          return { payload: 41 };
        }
        export function response(ctx) {
          ctx.stash.counted = ctx.result + 1;
          return ctx.result + 1;
        }

"""


@pytest.fixture(scope="module")
def pipeline_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """onFileProgress's pipeline runs CountingFunction, then the access rule, and its after handler
    answers with what it sees (as an error, the one thing a subscription returns to its caller)."""
    start = TEMPLATE.index(PROGRESS_RESOLVER)
    head, tail = TEMPLATE[:start], TEMPLATE[start:]
    assert tail.index(PIPELINE_BEFORE) < tail.index(PIPELINE_AFTER) < tail.index("AWS::")  # within the resolver
    tail = tail.replace(
        PIPELINE_BEFORE,
        PIPELINE_BEFORE.replace("return {};", "ctx.stash.before = 'ran';\n          return { from: 'before' };"),
        1,
    )
    tail = tail.replace(
        PIPELINE_AFTER,
        "          util.error(JSON.stringify({ stash: ctx.stash, prev: ctx.prev.result }), 'Seen');",
        1,
    )
    tail = tail.replace("import { extensions } from", "import { util } from", 1)
    tail = tail.replace(
        "Functions: [!GetAtt SubscriptionAccessFunction.FunctionId]",
        "Functions: [!GetAtt CountingFunction.FunctionId, !GetAtt SubscriptionAccessFunction.FunctionId]",
        1,
    )
    changed = (head + tail).replace(
        "  SubscriptionAccessFunction:\n", COUNTING_FUNCTION + "  SubscriptionAccessFunction:\n", 1
    )
    yield from start_with_template(tmp_path_factory, "pipeline", changed)


async def test_a_pipeline_shares_its_stash_and_hands_each_result_to_the_next_step(
    pipeline_emulator: Emulator,
) -> None:
    # GIVEN / WHEN an API-key client subscribes to a file's progress
    file_id = str(uuid.uuid4())
    with pytest.raises(TransportQueryError) as refused:
        async with subscription(
            pipeline_emulator,
            appsync_transport(pipeline_emulator),
            "subscription P($id: ID!) { onFileProgress(id: $id) { id } }",
            {"id": file_id},
        ):
            pass
    # THEN the after handler saw one stash written by every step: the before handler's, and the function's,
    # which got the before handler's result as ctx.prev.result and returned 41 + 1 from its NONE data source
    assert refused.value.errors
    error = refused.value.errors[0]["errors"][0]
    assert error["errorType"] == "Seen"
    seen = json.loads(error["message"])
    assert seen["stash"] == {"before": "ran", "seenByFunction": {"from": "before"}, "counted": 42}
    # AND ctx.prev.result is the last function's result: the access rule's filter for an API key
    assert seen["prev"] == {
        "filterGroup": [
            {
                "filters": [
                    {"fieldName": "id", "operator": "eq", "value": file_id},
                    {"fieldName": "owner", "operator": "attributeExists", "value": False},
                ]
            }
        ]
    }
