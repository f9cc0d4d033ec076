"""Which published payloads a subscription receives: AppSync's argument filters and enhanced filters.

An argument filter compares each argument the subscriber supplied with the result field of the same
name. An enhanced filter is what a subscription resolver passed to `extensions.setSubscriptionFilter`:
`{"filterGroup": [{"filters": [{"fieldName", "operator", "value"}]}]}`, the groups OR'ed, the filters in
a group AND'ed; it is checked against AppSync's limits when the client subscribes. Not responsible for
running resolver code (`appsync_js`) or for delivery (`pubsub`).
Spec: https://docs.aws.amazon.com/appsync/latest/devguide/aws-appsync-real-time-enhanced-filtering.html
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

#: AppSync's limits, with its words when one is passed (as AppSync answers a `start`).
MAX_GROUPS = 10
MAX_FILTERS_PER_GROUP = 5
MAX_VALUES = {"in": 5, "notIn": 5, "containsAny": 20}
MAX_PATH_DEPTH = 5
MAX_PATH_LENGTH = 256

_NUMBER = (int, float)


class PayloadFilter(Protocol):
    #: Equal for filters that decide alike, so one publish decides once per distinct filter.
    key: Hashable

    def matches(self, payload: Mapping[str, Any]) -> bool: ...


def _key(kind: str, spec: Any) -> Hashable:
    return kind, json.dumps(spec, sort_keys=True, default=repr)


class SubscriptionFilterError(Exception):
    """A filter AppSync refuses at subscribe time (its `errorCode` 400)."""


def equal(actual: Any, wanted: Any) -> bool:
    """AppSync's equality between a result field and a value: null only equals null, booleans only
    booleans, numbers by value (10 == 10.0), anything else as its string (an ID given as 5 equals "5")."""
    if actual is None or wanted is None:
        return actual is wanted
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return isinstance(actual, bool) and isinstance(wanted, bool) and actual == wanted
    if isinstance(actual, _NUMBER) and isinstance(wanted, _NUMBER):
        return actual == wanted
    return str(actual) == str(wanted)


class ArgumentFilter:
    """AppSync's basic filtering: every supplied argument equals the result field of its name (an omitted
    argument filters nothing, an explicit null matches only null)."""

    def __init__(self, arguments: Mapping[str, Any]) -> None:
        self.arguments = dict(arguments)
        self.key = _key("arguments", self.arguments)

    def matches(self, payload: Mapping[str, Any]) -> bool:
        return all(equal(payload.get(name), value) for name, value in self.arguments.items())


def _comparable(actual: Any, wanted: Any) -> bool:
    """Ordering compares numbers with numbers and strings with strings, nothing else."""
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return False
    both_numbers = isinstance(actual, _NUMBER) and isinstance(wanted, _NUMBER)
    return both_numbers or (isinstance(actual, str) and isinstance(wanted, str))


def _contains(actual: Any, wanted: Any) -> bool:
    """A string contains a substring; a list contains an element."""
    if isinstance(actual, str) and isinstance(wanted, str):
        return wanted in actual
    if isinstance(actual, list):
        return any(equal(item, wanted) for item in actual)
    return False


def _between(actual: Any, bounds: Any) -> bool:
    low, high = bounds
    return _comparable(actual, low) and _comparable(actual, high) and low <= actual <= high


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": equal,
    "ne": lambda actual, wanted: not equal(actual, wanted),
    "lt": lambda actual, wanted: _comparable(actual, wanted) and actual < wanted,
    "le": lambda actual, wanted: _comparable(actual, wanted) and actual <= wanted,
    "gt": lambda actual, wanted: _comparable(actual, wanted) and actual > wanted,
    "ge": lambda actual, wanted: _comparable(actual, wanted) and actual >= wanted,
    "in": lambda actual, values: any(equal(actual, value) for value in values),
    "notIn": lambda actual, values: not any(equal(actual, value) for value in values),
    "between": _between,
    "contains": _contains,
    "notContains": lambda actual, wanted: not _contains(actual, wanted),
    "beginsWith": lambda actual, prefix: (
        isinstance(actual, str) and isinstance(prefix, str) and actual.startswith(prefix)
    ),
    "containsAny": lambda actual, values: any(_contains(actual, value) for value in values),
    # a field is there when the payload has it with a value: GraphQL's null is AppSync's "no value"
    "attributeExists": lambda actual, wanted: (actual is not None) is wanted,
}


@dataclass(frozen=True, slots=True)
class Condition:
    path: tuple[str, ...]
    operator: str
    value: Any

    def holds(self, payload: Mapping[str, Any]) -> bool:
        actual: Any = payload
        for name in self.path:
            actual = actual.get(name) if isinstance(actual, Mapping) else None
        return _OPERATORS[self.operator](actual, self.value)


class EnhancedFilter:
    """A subscription resolver's filter, checked against AppSync's rules and limits when it is set."""

    def __init__(self, filter_json: Any) -> None:
        groups = filter_json.get("filterGroup") if isinstance(filter_json, Mapping) else None
        if not isinstance(groups, list) or not groups:
            raise SubscriptionFilterError("The subscription filter must have a non-empty filterGroup.")
        if len(groups) > MAX_GROUPS:
            raise SubscriptionFilterError(f"Filters combination exceed maximum limit {MAX_GROUPS} for subscription.")
        self.groups = tuple(_group(group) for group in groups)
        self.key = _key("enhanced", filter_json)

    def matches(self, payload: Mapping[str, Any]) -> bool:
        return any(all(condition.holds(payload) for condition in group) for group in self.groups)


def _group(group: Any) -> tuple[Condition, ...]:
    filters = group.get("filters") if isinstance(group, Mapping) else None
    if not isinstance(filters, list) or not filters:
        raise SubscriptionFilterError("Each filterGroup entry must have a non-empty list of filters.")
    if len(filters) > MAX_FILTERS_PER_GROUP:
        raise SubscriptionFilterError(
            f"Filters exceed maximum attributes limit {MAX_FILTERS_PER_GROUP} for subscription."
        )
    conditions = tuple(_condition(one) for one in filters)
    if len({condition.path for condition in conditions}) < len(conditions):
        raise SubscriptionFilterError("filter uses same fieldName multiple time")
    return conditions


def _condition(one: Any) -> Condition:
    if not isinstance(one, Mapping) or set(one) != {"fieldName", "operator", "value"}:
        raise SubscriptionFilterError("A filter is an object with fieldName, operator and value.")
    name, operator, value = one["fieldName"], one["operator"], one["value"]
    if not isinstance(name, str) or not name or len(name) > MAX_PATH_LENGTH:
        raise SubscriptionFilterError(f"fieldName must be a field path of at most {MAX_PATH_LENGTH} characters.")
    path = tuple(name.split("."))
    if len(path) > MAX_PATH_DEPTH or not all(path):
        raise SubscriptionFilterError(f"fieldName {name!r} is nested deeper than {MAX_PATH_DEPTH} levels.")
    if operator not in _OPERATORS:
        raise SubscriptionFilterError(f"Unsupported operator {operator!r} for subscription filter.")
    _check_value(operator, value)
    return Condition(path, operator, value)


_SCALAR = (str, int, float, bool)


def _check_value(operator: str, value: Any) -> None:
    if operator in MAX_VALUES:
        if not isinstance(value, list) or not value or not all(isinstance(v, _SCALAR) for v in value):
            raise SubscriptionFilterError(f"operator `{operator}` takes a non-empty list of values.")
        if len(value) > MAX_VALUES[operator]:
            raise SubscriptionFilterError(
                f"subscription exceeds maximum value limit {MAX_VALUES[operator]} for operator `{operator}`."
            )
    elif operator == "between":
        if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, _SCALAR) for v in value):
            raise SubscriptionFilterError("operator `between` takes a list of two values.")
    elif operator == "attributeExists":
        if not isinstance(value, bool):
            raise SubscriptionFilterError("operator `attributeExists` takes true or false.")
    elif not isinstance(value, _SCALAR):
        raise SubscriptionFilterError(f"operator `{operator}` takes a string, a number or a boolean.")
