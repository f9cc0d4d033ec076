"""Selection sets as AppSync sees them: the resolver event's `selectionSetList`, and the
projection of a mutation's result onto what the mutation selected (what subscribers receive).

Not responsible for execution: graphql-core runs the query; this only reads its AST.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
    SelectionSetNode,
    print_ast,
)

Fragments = Mapping[str, FragmentDefinitionNode]
#: How many field nodes `described` remembers.
DESCRIBED_LIMIT = 1024
_described: dict[int, tuple[FieldNode, list[str], str]] = {}


def _fields(selection_set: SelectionSetNode | None, fragments: Fragments) -> Iterator[FieldNode]:
    """Every field of a selection set, with fragments flattened into it."""
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if not selection.name.value.startswith("__"):
                yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _fields(fragment.selection_set, fragments)


def selection_set_list(selection_set: SelectionSetNode | None, fragments: Fragments, prefix: str = "") -> list[str]:
    """`info.selectionSetList`: `["id", "hashes", "hashes/md5", ...]`, aliases by alias name."""
    names: list[str] = []
    for field in _fields(selection_set, fragments):
        name = prefix + (field.alias or field.name).value
        if name not in names:
            names.append(name)
        for nested in selection_set_list(field.selection_set, fragments, name + "/"):
            if nested not in names:
                names.append(nested)
    return names


def described(field: FieldNode, fragments: Fragments) -> tuple[list[str], str]:
    """The field's `selectionSetList` and `selectionSetGraphQL`, worked out once per field node.

    strawberry's parser cache hands every request with the same query the same document, so its nodes
    (and the fragments beside them) recur; a node is remembered with its entry, so its id stays its own."""
    entry = _described.get(id(field))
    if entry is None or entry[0] is not field:
        if len(_described) >= DESCRIBED_LIMIT:
            _described.clear()
        names = selection_set_list(field.selection_set, fragments)
        entry = (field, names, print_ast(field.selection_set) if field.selection_set else "")
        _described[id(field)] = entry
    return list(entry[1]), entry[2]


def project(value: Any, selection_set: SelectionSetNode | None, fragments: Fragments) -> Any:
    """Keep only the selected fields of `value` (by field name), recursively, as AppSync publishes."""
    if selection_set is None or value is None:
        return value
    if isinstance(value, list):
        return [project(item, selection_set, fragments) for item in value]
    if not isinstance(value, Mapping):
        return value
    # a field selected more than once (aliases, fragments) is one field: merge its sub-selections
    merged: dict[str, list[SelectionNode]] = {}
    for field in _fields(selection_set, fragments):
        sub_selections = field.selection_set.selections if field.selection_set else ()
        merged.setdefault(field.name.value, []).extend(sub_selections)
    return {
        name: project(value.get(name), SelectionSetNode(selections=tuple(sub)) if sub else None, fragments)
        for name, sub in merged.items()
    }
