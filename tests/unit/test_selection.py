"""Unit tests for `lambdashare.emulator.selection`: `info.selectionSetList` as AppSync lists it, and the
projection of a mutation's result onto its selection set (what subscribers receive)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import FieldNode, FragmentDefinitionNode, OperationDefinitionNode, SelectionSetNode, parse, print_ast

from lambdashare.emulator import selection
from lambdashare.emulator.selection import described, project, selection_set_list


def root_field(document: str) -> tuple[SelectionSetNode | None, dict[str, FragmentDefinitionNode]]:
    """The selection set of the first operation's first field, and the document's fragments."""
    parsed = parse(document)
    fragments = {d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
    field = operation.selection_set.selections[0]
    assert isinstance(field, FieldNode)
    return field.selection_set, fragments


def listed(document: str) -> list[str]:
    return selection_set_list(*root_field(document))


def projected(value: Any, document: str) -> Any:
    return project(value, *root_field(document))


# --- selectionSetList -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{ file(id: 1) { id name } }", ["id", "name"]),
        (
            "{ file(id: 1) { id hashes { md5 sha1 } size } }",
            ["id", "hashes", "hashes/md5", "hashes/sha1", "size"],
        ),
        ("{ post { author { address { city } } } }", ["author", "author/address", "author/address/city"]),
    ],
    ids=["flat", "nested", "deeply-nested"],
)
def test_selection_set_list_lists_nested_fields_with_slashes(document: str, expected: list[str]) -> None:
    # GIVEN / WHEN / THEN nested fields are listed after their parent as parent/child
    assert listed(document) == expected


def test_selection_set_list_names_aliased_fields_by_their_alias() -> None:
    # GIVEN a selection with aliases, one nested, one for a field that is also selected plainly
    document = "{ file(id: 1) { fileId: id title: name name digests: hashes { sha: sha256 } } }"

    # WHEN listing it
    names = listed(document)

    # THEN aliased fields appear by alias only, nested ones under the parent's alias
    assert names == ["fileId", "title", "name", "digests", "digests/sha"]


def test_selection_set_list_includes_inline_fragments_and_fragment_spreads() -> None:
    # GIVEN fields selected directly, through an inline fragment and through a named fragment
    document = """
        query Q { file(id: 1) { id ... on File { name hashes { md5 } } ...More } }
        fragment More on File { size extra: status hashes { sha1 } }
    """

    # WHEN listing it
    names = listed(document)

    # THEN the fragments' fields are in the list, merged with the rest, each once
    assert names == ["id", "name", "hashes", "hashes/md5", "size", "extra", "hashes/sha1"]


def test_selection_set_list_lists_a_repeated_field_once() -> None:
    # GIVEN the same field selected twice
    # WHEN / THEN it is listed once
    assert listed("{ file(id: 1) { id name id } }") == ["id", "name"]


def test_selection_set_list_of_a_leaf_field_is_empty() -> None:
    # GIVEN / WHEN / THEN a scalar field has nothing under it
    assert listed("{ version }") == []


# --- project --------------------------------------------------------------------------------------


FILE = {
    "id": "f1",
    "name": "a.txt",
    "size": 3,
    "owner": None,
    "status": "HASHED",
    "hashes": {"md5": "m", "sha1": "s1", "sha256": "s256", "sha512": "s512"},
    "error": None,
}


def test_project_keeps_only_the_selected_fields() -> None:
    # GIVEN / WHEN a result projected on a selection of some of its fields
    result = projected(FILE, "mutation { publish { id status hashes { md5 } } }")

    # THEN only those fields remain, nested ones too
    assert result == {"id": "f1", "status": "HASHED", "hashes": {"md5": "m"}}


def test_project_gives_null_for_a_selected_field_the_value_lacks() -> None:
    # GIVEN / WHEN a selection of fields the value does not have
    result = projected({"id": "f1"}, "mutation { publish { id name hashes { md5 } } }")

    # THEN they are null
    assert result == {"id": "f1", "name": None, "hashes": None}


def test_project_keys_aliased_fields_by_field_name() -> None:
    # GIVEN / WHEN a selection that aliases its fields
    result = projected(FILE, "mutation { publish { fileId: id digests: hashes { sha: sha256 } } }")

    # THEN the projection is keyed by field name: subscribers resolve fields by name
    assert result == {"id": "f1", "hashes": {"sha256": "s256"}}


def test_project_follows_inline_fragments_and_fragment_spreads() -> None:
    # GIVEN fields selected through an inline fragment and through a named fragment
    document = """
        mutation M { publish { id ... on File { name } ...Sizes } }
        fragment Sizes on File { size hashes { sha1 } }
    """

    # WHEN / THEN all of them are kept
    assert projected(FILE, document) == {"id": "f1", "name": "a.txt", "size": 3, "hashes": {"sha1": "s1"}}


@pytest.mark.parametrize(
    "document",
    [
        "mutation { publish { hashes { md5 } hashes { sha1 } } }",
        "mutation { publish { hashes { md5 } ... on File { hashes { sha1 } } } }",
        "mutation M { publish { hashes { md5 } ...F } } fragment F on File { hashes { sha1 } }",
        "mutation { publish { a: hashes { md5 } b: hashes { sha1 } } }",
    ],
    ids=["twice", "inline-fragment", "fragment-spread", "aliases"],
)
def test_project_merges_the_subselections_of_a_field_selected_more_than_once(document: str) -> None:
    # GIVEN `hashes` selected twice with different subfields
    # WHEN projecting
    result = projected(FILE, document)

    # THEN both selections' subfields are kept (one field, merged), not only the last one's
    assert result == {"hashes": {"md5": "m", "sha1": "s1"}}


def test_project_projects_every_item_of_a_list() -> None:
    # GIVEN / WHEN a list result
    result = projected([FILE, {**FILE, "id": "f2"}, None], "query { files { id } }")

    # THEN each item is projected, nulls stay null
    assert result == [{"id": "f1"}, {"id": "f2"}, None]


@pytest.mark.parametrize("value", [None, "scalar", 3])
def test_project_leaves_null_and_scalars_alone(value: Any) -> None:
    # GIVEN / WHEN / THEN a value that is not an object is returned as it is
    assert projected(value, "mutation { publish { id } }") == value


def test_project_without_a_selection_set_returns_the_value() -> None:
    # GIVEN / WHEN / THEN a leaf field keeps its value, even an object one (AWSJSON)
    assert project({"any": "json"}, None, {}) == {"any": "json"}


def test_described_is_worked_out_once_per_field_node(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a field of a parsed document (strawberry's parser cache hands each request the same one)
    parsed = parse("query { file(id: 1) { id ...F } } fragment F on File { hashes { md5 } }")
    fragments = {d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
    field = operation.selection_set.selections[0]
    assert isinstance(field, FieldNode)
    printed: list[object] = []
    monkeypatch.setattr(selection, "print_ast", lambda node: printed.append(node) or print_ast(node))
    # WHEN it is described for two requests, the first caller changing its list
    names, text = described(field, fragments)
    names.append("changed")
    again = described(field, fragments)
    # THEN both get what AppSync lists and prints, worked out once
    assert again == (["id", "hashes", "hashes/md5"], print_ast(field.selection_set))  # type: ignore[arg-type]
    assert text == again[1]
    assert len(printed) == 1
