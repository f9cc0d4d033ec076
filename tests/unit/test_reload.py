"""What `serve --reload` watches, and which held subscriptions a reloaded schema still allows."""

from __future__ import annotations

from pathlib import Path

import lambdashare
from lambdashare.api.schema import schema
from lambdashare.emulator.reload import request_errors, watched
from lambdashare.emulator.runtime import DEFAULT_AUTH_MODE, TEMPLATE_PATH
from lambdashare.emulator.schema_rules import SchemaRules
from lambdashare.emulator.template import load_wiring
from lambdashare.schema_export import appsync_sdl

PACKAGE = Path(lambdashare.__file__).resolve().parent
ON_PROGRESS = "subscription P($id: ID!) { onFileProgress(id: $id) { id hashedBytes } }"


def test_it_watches_the_template_the_schema_and_the_handlers_code_but_not_the_emulator() -> None:
    wiring = load_wiring(TEMPLATE_PATH, SchemaRules.from_sdl(appsync_sdl(), DEFAULT_AUTH_MODE))
    directories, files = watched(TEMPLATE_PATH, [spec.handler for spec in wiring.functions.values()])
    root = TEMPLATE_PATH.resolve().parent
    assert {root / "resolvers", root / "functions"} <= directories
    assert {PACKAGE / name for name in ("api", "domain", "ports", "adapters")} <= directories
    assert {TEMPLATE_PATH.resolve(), PACKAGE / "backends.py", PACKAGE / "settings.py"} <= files
    assert not any(path.is_relative_to(PACKAGE / "emulator") for path in directories | files)


def test_a_subscription_the_schema_allows_has_no_errors() -> None:
    assert request_errors(schema, {"query": ON_PROGRESS, "variables": {"id": "f-1"}}) == []


def test_a_subscription_naming_an_argument_the_schema_lacks_is_refused() -> None:
    query = ON_PROGRESS.replace("onFileProgress(id:", "onFileProgress(fileId:")
    errors = request_errors(schema, {"query": query, "variables": {"id": "f-1"}})
    assert "Unknown argument 'fileId' on field 'Subscription.onFileProgress'." in [e.message for e in errors]


def test_a_subscription_whose_variables_no_longer_fit_is_refused() -> None:
    errors = request_errors(schema, {"query": ON_PROGRESS, "variables": {"id": ["not", "an", "id"]}})
    assert [e.message for e in errors] == [
        "Variable '$id' got invalid value ['not', 'an', 'id']; ID cannot represent value: ['not', 'an', 'id']"
    ]
