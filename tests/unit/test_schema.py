"""schema.graphql is generated from the code, and is SDL that AppSync accepts."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    DirectiveDefinitionNode,
    FieldDefinitionNode,
    InputObjectTypeDefinitionNode,
    ListValueNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    StringValueNode,
    build_schema,
    parse,
)

from lambdashare.schema_export import appsync_sdl

SCHEMA = Path(__file__).resolve().parents[2] / "schema.graphql"

#: What AppSync declares itself (appsync-notes §3.1-3.2): a deployed schema must not declare these.
APPSYNC_BUILTINS = """
scalar AWSDate
scalar AWSTime
scalar AWSDateTime
scalar AWSTimestamp
scalar AWSEmail
scalar AWSJSON
scalar AWSURL
scalar AWSPhone
scalar AWSIPAddress
directive @aws_subscribe(mutations: [String!]!) on FIELD_DEFINITION
directive @aws_auth(cognito_groups: [String!]!) on FIELD_DEFINITION
directive @aws_api_key on FIELD_DEFINITION | OBJECT
directive @aws_iam on FIELD_DEFINITION | OBJECT
directive @aws_oidc on FIELD_DEFINITION | OBJECT
directive @aws_lambda on FIELD_DEFINITION | OBJECT
directive @aws_cognito_user_pools(cognito_groups: [String!]) on FIELD_DEFINITION | OBJECT
"""

#: Byte counts can exceed AppSync's 32-bit Int: they must be Float.
BYTE_FIELDS = {"size", "bytes", "partSize"}


def test_committed_schema_matches_the_code() -> None:
    # GIVEN the committed schema.graphql
    committed = SCHEMA.read_text(encoding="utf-8")
    # WHEN the schema is printed from the strawberry types
    generated = appsync_sdl()
    # THEN they are identical (run `make schema` after changing the API)
    assert committed == generated


def test_schema_declares_nothing_appsync_declares_itself() -> None:
    # GIVEN the committed schema
    document = parse(SCHEMA.read_text(encoding="utf-8"))
    # WHEN looking for scalar and directive definitions
    scalars = [d.name.value for d in document.definitions if isinstance(d, ScalarTypeDefinitionNode)]
    directives = [d.name.value for d in document.definitions if isinstance(d, DirectiveDefinitionNode)]
    # THEN there are none: no custom scalars (AppSync has none) and no AWS directives
    assert scalars == []
    assert directives == []


def test_schema_builds_with_appsync_builtins() -> None:
    # GIVEN AppSync's own scalars and directives prepended, as AppSync does
    sdl = APPSYNC_BUILTINS + SCHEMA.read_text(encoding="utf-8")
    # WHEN building the schema
    schema = build_schema(sdl)
    # THEN the contract's operations are all there
    assert schema.query_type is not None and schema.mutation_type is not None
    assert {"file", "files", "filesByHash"} <= set(schema.query_type.fields)
    assert {"requestUpload", "deleteFile", "publishFileHashed"} <= set(schema.mutation_type.fields)
    assert schema.subscription_type is not None and "onFileHashed" in schema.subscription_type.fields


def test_every_aws_subscribe_names_an_existing_mutation() -> None:
    # GIVEN the mutations the schema defines
    document = parse(SCHEMA.read_text(encoding="utf-8"))
    types = {d.name.value: d for d in document.definitions if isinstance(d, ObjectTypeDefinitionNode)}
    mutations = {f.name.value for f in types["Mutation"].fields or ()}
    # WHEN collecting every @aws_subscribe(mutations: [...])
    named = []
    for field in types["Subscription"].fields or ():
        for directive in field.directives or ():
            if directive.name.value == "aws_subscribe":
                (argument,) = directive.arguments
                assert isinstance(argument.value, ListValueNode)
                named += [v.value for v in argument.value.values if isinstance(v, StringValueNode)]
    # THEN each exists, and every subscription is triggered by at least one
    assert named and set(named) <= mutations


def test_byte_counts_are_never_32_bit_ints() -> None:
    # GIVEN every field and input field of the schema
    document = parse(SCHEMA.read_text(encoding="utf-8"))
    fields: list[FieldDefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, (ObjectTypeDefinitionNode, InputObjectTypeDefinitionNode)):
            fields += list(definition.fields or ())
    # WHEN looking at the ones that count bytes
    byte_types = {f.name.value: f.type for f in fields if f.name.value in BYTE_FIELDS}
    # THEN they are Float (AppSync's Int is 32-bit)
    assert byte_types
    for name, type_node in byte_types.items():
        inner = getattr(type_node, "type", type_node)
        assert inner.name.value == "Float", name
