"""Unit tests for `lambdashare.emulator.subscription_filter`: AppSync's enhanced-filter operators, groups
and limits (the argument filters are tested through the broker in test_pubsub.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lambdashare.emulator.subscription_filter import EnhancedFilter, SubscriptionFilterError

FILE = {
    "id": "f1",
    "name": "report-2024.pdf",
    "size": 10.0,
    "owner": None,
    "status": "HASHED",
    "tags": ["a", "b"],
    "hashes": {"md5": "abc", "sha256": "def"},
}


def one(field: str, operator: str, value: Any) -> EnhancedFilter:
    return EnhancedFilter({"filterGroup": [{"filters": [{"fieldName": field, "operator": operator, "value": value}]}]})


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [
        ("id", "eq", "f1", True),
        ("id", "eq", "f2", False),
        ("size", "eq", 10, True),  # numbers by value
        ("id", "ne", "f2", True),
        ("owner", "ne", "alice", True),  # a null is not alice
        ("size", "lt", 11, True),
        ("size", "le", 10, True),
        ("size", "gt", 10, False),
        ("size", "ge", 10, True),
        ("name", "gt", "a", True),  # strings order as strings
        ("size", "gt", "1", False),  # a number and a string do not compare
        ("owner", "lt", 5, False),  # nor does null
        ("status", "in", ["PENDING", "HASHED"], True),
        ("status", "in", ["FAILED"], False),
        ("status", "notIn", ["FAILED"], True),
        ("size", "between", [5, 10], True),
        ("size", "between", [11, 20], False),
        ("name", "contains", "2024", True),
        ("tags", "contains", "b", True),
        ("tags", "contains", "c", False),
        ("name", "notContains", "2023", True),
        ("name", "beginsWith", "report", True),
        ("name", "beginsWith", "2024", False),
        ("tags", "containsAny", ["c", "a"], True),
        ("tags", "containsAny", ["c", "d"], False),
        ("owner", "attributeExists", False, True),  # null: no value
        ("owner", "attributeExists", True, False),
        ("id", "attributeExists", True, True),
        ("missing", "attributeExists", False, True),
        ("hashes.sha256", "eq", "def", True),  # dot paths
        ("hashes.md5", "beginsWith", "x", False),
        ("hashes.nope.deeper", "eq", "x", False),
    ],
)
def test_each_operator_as_appsync_defines_it(field: str, operator: str, value: Any, expected: bool) -> None:
    # GIVEN / WHEN / THEN
    assert one(field, operator, value).matches(FILE) is expected


def test_filters_in_a_group_are_anded_and_groups_are_ored() -> None:
    # GIVEN (id f1 AND status FAILED) OR (size > 5 AND name begins with "report")
    match = EnhancedFilter(
        {
            "filterGroup": [
                {
                    "filters": [
                        {"fieldName": "id", "operator": "eq", "value": "f1"},
                        {"fieldName": "status", "operator": "eq", "value": "FAILED"},
                    ]
                },
                {
                    "filters": [
                        {"fieldName": "size", "operator": "gt", "value": 5},
                        {"fieldName": "name", "operator": "beginsWith", "value": "report"},
                    ]
                },
            ]
        }
    )
    # WHEN / THEN the second group holds for FILE, neither holds for a small FAILED file
    assert match.matches(FILE)
    assert not match.matches({**FILE, "size": 1, "status": "HASHED"})
    assert match.matches({**FILE, "size": 1, "status": "FAILED"})


def _filters(count: int) -> list[dict[str, Any]]:
    return [{"fieldName": f"f{n}", "operator": "eq", "value": n} for n in range(count)]


@pytest.mark.parametrize(
    ("filter_json", "message"),
    [
        (
            {"filterGroup": [{"filters": _filters(1)}] * 11},
            "Filters combination exceed maximum limit 10 for subscription.",
        ),
        ({"filterGroup": [{"filters": _filters(6)}]}, "Filters exceed maximum attributes limit 5 for subscription."),
        (
            {"filterGroup": [{"filters": [{"fieldName": "s", "operator": "in", "value": [1, 2, 3, 4, 5, 6]}]}]},
            "subscription exceeds maximum value limit 5 for operator `in`.",
        ),
        (
            {"filterGroup": [{"filters": [{"fieldName": "s", "operator": "notIn", "value": list(range(6))}]}]},
            "subscription exceeds maximum value limit 5 for operator `notIn`.",
        ),
        (
            {"filterGroup": [{"filters": [{"fieldName": "s", "operator": "containsAny", "value": list(range(21))}]}]},
            "subscription exceeds maximum value limit 20 for operator `containsAny`.",
        ),
        (
            {"filterGroup": [{"filters": [{"fieldName": "a.b.c.d.e.f", "operator": "eq", "value": 1}]}]},
            "nested deeper than 5 levels",
        ),
        (
            {"filterGroup": [{"filters": [{"fieldName": "id", "operator": "eq", "value": 1}] * 2}]},
            "filter uses same fieldName multiple time",
        ),
        ({"filterGroup": [{"filters": [{"fieldName": "id", "operator": "like", "value": 1}]}]}, "operator 'like'"),
        ({"filterGroup": [{"filters": [{"fieldName": "id", "operator": "eq", "value": None}]}]}, "operator `eq`"),
        ({"filterGroup": []}, "non-empty filterGroup"),
        ({}, "non-empty filterGroup"),
    ],
    ids=["groups", "filters", "in", "notIn", "containsAny", "depth", "same-field", "operator", "null", "empty", "none"],
)
def test_a_filter_beyond_appsyncs_limits_is_refused(filter_json: dict[str, Any], message: str) -> None:
    # GIVEN / WHEN / THEN the filter is refused when it is set, with AppSync's words where known
    with pytest.raises(SubscriptionFilterError, match=re.escape(message)):
        EnhancedFilter(filter_json)


def test_filters_at_the_limits_are_accepted() -> None:
    # GIVEN ten groups of five filters, five values for in, twenty for containsAny, five levels
    groups = [{"filters": _filters(5)} for _ in range(10)]
    groups[0] = {
        "filters": [
            {"fieldName": "a", "operator": "in", "value": list(range(5))},
            {"fieldName": "b", "operator": "containsAny", "value": list(range(20))},
            {"fieldName": "c.d.e.f.g", "operator": "eq", "value": 1},
        ]
    }
    # WHEN / THEN it is a filter
    assert not EnhancedFilter({"filterGroup": groups}).matches(FILE)
