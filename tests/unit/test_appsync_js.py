"""Unit tests for `lambdashare.emulator.appsync_js` and its `@aws-appsync/utils` shim (appsync_utils.js):
resolver code run in QuickJS as AppSync runs it."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdashare.emulator.appsync_js import (
    CodeError,
    Outcome,
    ResolverCode,
    ResolverError,
)

IMPORT = "import { util, extensions, runtime } from '@aws-appsync/utils';\n"
CTX: dict[str, Any] = {
    "arguments": {"id": "f1"},
    "identity": {"sub": "u1", "groups": ["admins"]},
    "source": None,
    "request": {"headers": {"x-test": "1"}, "domainName": None},
    "prev": None,
    "info": {"fieldName": "onFileHashed", "parentTypeName": "Subscription", "variables": {}},
    "stash": {},
}


def response_of(body: str, ctx: dict[str, Any] | None = None, result: Any = None) -> Outcome:
    """Run a resolver whose request handler passes, and whose response handler is `body`."""
    code = ResolverCode(f"{IMPORT}export function request(ctx) {{ return {{}}; }}\n{body}", "Test.field")
    run = code.start()
    run.request(ctx or CTX)
    return run.response(result)


def value_of(expression: str, ctx: dict[str, Any] | None = None) -> Any:
    return response_of(f"export function response(ctx) {{ return {expression}; }}", ctx).value


def test_ctx_has_appsyncs_fields_and_args_is_arguments() -> None:
    # GIVEN / WHEN / THEN
    assert value_of("[ctx.args.id, ctx.arguments.id, ctx.identity.sub, ctx.request.headers['x-test']]") == [
        "f1",
        "f1",
        "u1",
        "1",
    ]
    assert value_of("ctx.info.fieldName") == "onFileHashed"


def test_the_stash_and_the_result_reach_the_response_handler() -> None:
    # GIVEN a request handler that stashes, and a data source result
    code = ResolverCode(
        "export function request(ctx) { ctx.stash.seen = ctx.args.id; return { payload: ctx.args }; }\n"
        "export function response(ctx) { return { stash: ctx.stash.seen, result: ctx.result, error: ctx.error }; }",
        "Test.field",
    )
    run = code.start()
    # WHEN both handlers run
    request = run.request(CTX)
    response = run.response({"from": "data source"}, {"message": "m", "type": "T"})
    # THEN the request's value went out, and the response saw the stash, the result and the error
    assert request.value == {"payload": {"id": "f1"}}
    assert response.value == {"stash": "f1", "result": {"from": "data source"}, "error": {"message": "m", "type": "T"}}


def test_util_error_carries_its_four_fields() -> None:
    # GIVEN / WHEN / THEN
    with pytest.raises(ResolverError) as raised:
        response_of("export function response(ctx) { util.error('no', 'BadRequestException', {a: 1}, {b: 2}); }")
    assert (raised.value.message, raised.value.error_type) == ("no", "BadRequestException")
    assert (raised.value.data, raised.value.error_info) == ({"a": 1}, {"b": 2})


def test_util_error_without_a_type_has_none() -> None:
    with pytest.raises(ResolverError) as raised:
        response_of("export function response(ctx) { util.error('plain'); }")
    assert raised.value.error_type is None


def test_util_unauthorized_ends_the_handler_unauthorized() -> None:
    outcome = response_of("export function response(ctx) { util.unauthorized(); return 7; }")
    assert outcome.unauthorized
    assert outcome.value is None


def test_append_error_keeps_the_value() -> None:
    # GIVEN / WHEN a response handler appending an error and returning
    outcome = response_of("export function response(ctx) { util.appendError('soft', 'Warn'); return 7; }")
    # THEN both come out
    assert outcome.value == 7
    assert outcome.appended_errors == [{"message": "soft", "errorType": "Warn", "data": None, "errorInfo": None}]


def test_early_return_skips_the_rest() -> None:
    # GIVEN a request handler that returns early
    code = ResolverCode(
        f"{IMPORT}export function request(ctx) {{ runtime.earlyReturn({{ early: true }}); return {{}}; }}\n"
        "export function response(ctx) { return 'not reached'; }",
        "Test.field",
    )
    # WHEN / THEN its value is the outcome, marked early
    outcome = code.start().request(CTX)
    assert outcome.early_return and outcome.value == {"early": True}


def test_auto_id_gives_distinct_uuids() -> None:
    ids = value_of("[util.autoId(), util.autoId()]")
    assert ids[0] != ids[1]
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_time_helpers_tell_the_time_in_utc() -> None:
    # GIVEN / WHEN
    before = datetime.now(UTC)
    iso, seconds, millis, formatted = value_of(
        "[util.time.nowISO8601(), util.time.nowEpochSeconds(), util.time.nowEpochMilliSeconds(),"
        " util.time.nowFormatted(\"yyyy-MM-dd'T'HH:mm:ssZ\")]"
    )
    after = datetime.now(UTC)
    # THEN each is now, in its format
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(iso) <= after
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", iso)
    assert int(before.timestamp()) - 1 <= seconds <= int(after.timestamp())
    assert before.timestamp() * 1000 - 1000 <= millis <= after.timestamp() * 1000
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", formatted)
    assert value_of("util.time.epochMilliSecondsToISO8601(0)") == "1970-01-01T00:00:00.000Z"
    assert value_of("util.time.parseISO8601ToEpochMilliSeconds('1970-01-01T00:00:01.000Z')") == 1000


def filter_of(expression: str) -> dict[str, Any] | None:
    body = f"export function response(ctx) {{ extensions.setSubscriptionFilter({expression}); return null; }}"
    return response_of(body).subscription_filter


def _f(field: str, operator: str, value: Any) -> dict[str, Any]:
    return {"fieldName": field, "operator": operator, "value": value}


def test_to_subscription_filter_ands_fields_and_operators() -> None:
    assert filter_of("util.transform.toSubscriptionFilter({ owner: { eq: 'u1' }, size: { gt: 1, lt: 9 } })") == {
        "filterGroup": [{"filters": [_f("owner", "eq", "u1"), _f("size", "gt", 1), _f("size", "lt", 9)]}]
    }


def test_to_subscription_filter_expands_or_and_and_into_groups() -> None:
    # GIVEN owner u1 AND (id a OR (id b AND status HASHED))
    expression = (
        "util.transform.toSubscriptionFilter({ owner: { eq: 'u1' },"
        " or: [{ id: { eq: 'a' } }, { and: [{ id: { eq: 'b' } }, { status: { eq: 'HASHED' } }] }] })"
    )
    # WHEN / THEN one group per alternative, each carrying the common rule
    assert filter_of(expression) == {
        "filterGroup": [
            {"filters": [_f("owner", "eq", "u1"), _f("id", "eq", "a")]},
            {"filters": [_f("owner", "eq", "u1"), _f("id", "eq", "b"), _f("status", "eq", "HASHED")]},
        ]
    }


def test_to_subscription_filter_ignores_fields_and_adds_rules() -> None:
    expression = (
        "util.transform.toSubscriptionFilter({ id: { eq: 'a' }, name: { eq: 'n' } }, ['name'], { owner: { eq: 'u1' } })"
    )
    assert filter_of(expression) == {"filterGroup": [{"filters": [_f("id", "eq", "a"), _f("owner", "eq", "u1")]}]}


def test_no_filter_unless_one_is_set() -> None:
    assert response_of("export function response(ctx) { return null; }").subscription_filter is None


def test_imports_may_rename_or_take_the_namespace() -> None:
    # GIVEN code importing util under another name, and code importing the namespace
    renamed = ResolverCode(
        "import { util as u } from '@aws-appsync/utils';\n"
        "export function request(ctx) { return { id: u.autoId() }; }\nexport function response(ctx) { return 1; }",
        "Test.renamed",
    )
    namespace = ResolverCode(
        'import * as appsync from "@aws-appsync/utils"\n'
        "export function request(ctx) { appsync.util.error('from namespace'); }\n"
        "export function response(ctx) { return 1; }",
        "Test.namespace",
    )
    # WHEN / THEN both read the shim
    assert uuid.UUID(renamed.start().request(CTX).value["id"])
    with pytest.raises(ResolverError, match="from namespace"):
        namespace.start().request(CTX)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import { get } from '@aws-appsync/utils/dynamodb';\nexport function request(ctx) { return {}; }", "dynamodb"),
        ("import lodash from 'lodash';\nexport function request(ctx) { return {}; }", "import"),
        ("export function request(ctx) { return { ; }", "SyntaxError"),
    ],
    ids=["other-module", "default-import", "syntax"],
)
def test_code_that_cannot_load_is_refused_when_loaded(source: str, message: str) -> None:
    with pytest.raises(CodeError, match=message):
        ResolverCode(source, "Test.field")


def test_a_handler_that_throws_or_runs_away_is_a_code_error() -> None:
    # GIVEN handlers that throw a TypeError, loop forever, or grow without bound
    for body, message in [
        ("return ctx.nothing.here;", "TypeError"),
        ("while (true) {}", "interrupted"),
        ("const a = []; while (true) { a.push(new Array(100000).fill(1)); }", "out of memory"),
    ]:
        code = ResolverCode(f"export function request(ctx) {{ {body} }}", "Test.field")
        # WHEN / THEN the run stops with the engine's reason
        with pytest.raises(CodeError, match=message):
            code.start().request(CTX)


def test_each_run_starts_from_a_fresh_context() -> None:
    # GIVEN code keeping module state
    code = ResolverCode(
        "let calls = 0;\nexport function request(ctx) { calls = calls + 1; return { calls }; }", "Test.field"
    )
    # WHEN / THEN two runs do not share it
    assert [code.start().request(CTX).value["calls"] for _ in range(2)] == [1, 1]
