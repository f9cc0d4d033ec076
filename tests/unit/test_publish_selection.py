"""The hasher's publishFileHashed and publishFileProgress select every field the subscriptions' filters read:
AppSync filters a subscription on the triggering mutation's selected fields, so a field left out would match
nothing. And the File fields are one list (`model.FILE_FIELDS`) that the schema, the record and the selection follow."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    FieldNode,
    InputObjectTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    OperationDefinitionNode,
    parse,
)

from lambdashare.adapters.aws.appsync_publisher import PROGRESS_MUTATION, PUBLISH_MUTATION
from lambdashare.domain.model import FILE_FIELDS, FileRecord
from lambdashare.emulator.appsync_js import ResolverCode, ResolverError
from lambdashare.emulator.runtime import DEFAULT_AUTH_MODE, TEMPLATE_PATH
from lambdashare.emulator.schema_rules import SchemaRules
from lambdashare.emulator.template import load_wiring
from lambdashare.schema_export import appsync_sdl

IDENTITIES: list[dict[str, Any] | None] = [
    None,  # API key
    {"sub": "u1", "groups": None},
    {"sub": "u2", "groups": ["admins"]},
]
ARGUMENTS: list[dict[str, Any]] = [{"id": "f1"}, {"id": "f1", "owner": "u1"}, {"owner": "u2"}, {}]


def published_fields(mutation: str) -> set[str]:
    (operation,) = parse(mutation).definitions
    assert isinstance(operation, OperationDefinitionNode)
    (field,) = operation.selection_set.selections
    assert isinstance(field, FieldNode) and field.selection_set is not None
    return {s.name.value for s in field.selection_set.selections if isinstance(s, FieldNode)}


def filtered_fields(subscription: str) -> set[str]:
    """The fields named by every filter the subscription's pipeline sets, run for each caller: its access
    function makes the filter, the resolver's response handler sets it."""
    rules = SchemaRules.from_sdl(appsync_sdl(), DEFAULT_AUTH_MODE)
    source = load_wiring(TEMPLATE_PATH, rules).fields["Subscription", subscription]
    (access,) = source.pipeline
    resolver = ResolverCode(source.code or "", f"Subscription.{subscription}")
    function = ResolverCode(access.code or "", access.name)
    names: set[str] = set()
    for identity in IDENTITIES:
        for arguments in ARGUMENTS:
            context = {"arguments": arguments, "identity": identity, "stash": {}}
            run = function.start()
            run.request(context)
            try:
                made = run.response(None)
            except ResolverError:  # refused for this caller: no filter
                continue
            if made.unauthorized:
                continue
            after = resolver.start()
            after.request(context)
            outcome = after.response(made.value, None, {"prev": {"result": made.value}})
            assert outcome.subscription_filter == made.value
            for group in (outcome.subscription_filter or {}).get("filterGroup", []):
                names |= {f["fieldName"].split(".")[0] for f in group["filters"]}
    return names


@pytest.mark.parametrize(
    ("subscription", "mutation"), [("onFileHashed", PUBLISH_MUTATION), ("onFileProgress", PROGRESS_MUTATION)]
)
def test_the_publish_mutation_selects_every_field_the_subscription_filter_reads(
    subscription: str, mutation: str
) -> None:
    # GIVEN the fields the subscription's filters read WHEN compared with the hasher's selection THEN all are selected
    filtered = filtered_fields(subscription)
    assert {"id", "owner"} <= filtered  # the rule filters on both
    assert filtered <= published_fields(mutation)


def _type_fields(type_name: str) -> list[str]:
    """The fields of `type_name` in the schema AppSync is given (generated from the strawberry types)."""
    for definition in parse(appsync_sdl()).definitions:
        types = (ObjectTypeDefinitionNode, InputObjectTypeDefinitionNode)
        if isinstance(definition, types) and definition.name.value == type_name:
            return [f.name.value for f in definition.fields]
    raise AssertionError(f"{type_name} is not in the schema")


def test_the_file_fields_are_written_once_and_every_list_follows_them() -> None:
    # GIVEN the one list of the File fields a record fills
    fields = set(FILE_FIELDS)
    record = FileRecord(id="f1", name="a", size=1, key="uploads/f1", created_at="2024-01-01T00:00:00.000Z")
    # THEN the schema's File has exactly those (and the per-caller downloadUrl), the hasher's input takes them all,
    assert set(_type_fields("File")) == fields | {"downloadUrl"}
    assert set(_type_fields("FileHashedInput")) == fields
    # AND a record gives exactly those, and the hasher selects exactly those when it publishes
    assert list(record.to_graphql()) == list(FILE_FIELDS)
    assert published_fields(PUBLISH_MUTATION) == fields
