"""Every GraphQL document the client sends is valid against schema.graphql, so a change to the API that breaks
the client fails here, not in someone's terminal."""

from __future__ import annotations

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from lambdashare.client import api
from tests.unit.test_schema import APPSYNC_BUILTINS, SCHEMA

DOCUMENTS = {
    name: value
    for name, value in vars(api).items()
    if name.isupper() and isinstance(value, str) and value.lstrip().startswith(("query", "mutation", "subscription"))
}


def schema() -> GraphQLSchema:
    return build_schema(APPSYNC_BUILTINS + SCHEMA.read_text(encoding="utf-8"))


def test_the_client_has_documents_to_check() -> None:
    assert {"REQUEST_UPLOAD", "COMPLETE_UPLOAD", "ON_FILE_HASHED", "STATS"} <= set(DOCUMENTS)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_a_client_document_is_valid_against_the_schema(name: str) -> None:
    assert validate(schema(), parse(DOCUMENTS[name])) == []
