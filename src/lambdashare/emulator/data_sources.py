"""The request context the strawberry schema runs with: AppSync's data sources, locally.

A Lambda field becomes a direct-resolver event for the resolver function; the NONE data source
returns its input and publishes the result, projected on the mutation's selection set, to the
subscriptions it triggers; a subscription field subscribes with its argument filters. Each checks
the field's auth directives first, as AppSync does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import strawberry
from graphql import ArgumentNode, GraphQLResolveInfo, VariableNode, print_ast
from graphql.execution.values import get_argument_values

from lambdashare.domain.identity import principal_of
from lambdashare.emulator.auth import Caller
from lambdashare.emulator.dispatcher import Function
from lambdashare.emulator.errors import FieldUnauthorizedError
from lambdashare.emulator.events import appsync_resolver_event
from lambdashare.emulator.pubsub import Broker
from lambdashare.emulator.schema_rules import SchemaRules
from lambdashare.emulator.selection import project, selection_set_list
from lambdashare.emulator.template import Wiring


class RequestContext:
    """One GraphQL request's (or one subscription's) caller and the data sources it may reach."""

    def __init__(
        self,
        *,
        caller: Caller,
        headers: Mapping[str, str],
        functions: Mapping[str, Function],
        wiring: Wiring,
        broker: Broker,
        rules: SchemaRules,
    ) -> None:
        self.caller = caller
        self.headers = dict(headers)
        self._functions = functions
        self._wiring = wiring
        self._broker = broker
        self._rules = rules
        #: set once a subscription field has registered with the broker (the subscription is live)
        self.subscribed = asyncio.Event()

    def _authorize(self, raw: GraphQLResolveInfo) -> None:
        type_name, field_name = raw.parent_type.name, raw.field_name
        groups = (self.caller.identity or {}).get("groups")
        if not self._rules.allows(type_name, field_name, self.caller.mode, groups):
            raise FieldUnauthorizedError(type_name, field_name)

    async def resolve(self, info: strawberry.Info) -> Any:
        """Run the field's data source as template.yaml wires it: a Lambda function, or NONE."""
        raw = info._raw_info
        self._authorize(raw)
        source = self._wiring.fields[(raw.parent_type.name, raw.field_name)]
        if source.function is None:
            return self._none(raw)
        return await self._functions[source.function].invoke(self._resolver_event(raw))

    def _resolver_event(self, raw: GraphQLResolveInfo) -> dict[str, Any]:
        field_node = raw.field_nodes[0]
        return appsync_resolver_event(
            field_name=raw.field_name,
            parent_type_name=raw.parent_type.name,
            arguments=_arguments(raw),
            identity=self.caller.identity,
            headers=self.headers,
            variables=dict(raw.variable_values),
            selection_set_list=selection_set_list(field_node.selection_set, raw.fragments),
            selection_set_graphql=print_ast(field_node.selection_set) if field_node.selection_set else "",
        )

    def _none(self, raw: GraphQLResolveInfo) -> Any:
        """A NONE data source returns its input; the result, as the mutation selected it, is published."""
        value = _arguments(raw).get("input")
        published = project(value, raw.field_nodes[0].selection_set, raw.fragments)
        if published is not None:
            self._broker.publish(raw.field_name, published)
        return value

    def subscribe(self, info: strawberry.Info) -> AsyncIterator[Any]:
        raw = info._raw_info
        self._authorize(raw)
        mutations = self._rules.subscriptions.get(raw.field_name, ())
        caller = principal_of(self.caller.identity)
        # an owner sees only its own files' events, as the resolvers show only its own files
        scope = {} if caller.admin else {"owner": caller.owner}
        subscriber = self._broker.subscribe(mutations, _supplied_arguments(raw), scope)
        self.subscribed.set()
        return aiter(subscriber)


def _arguments(raw: GraphQLResolveInfo) -> dict[str, Any]:
    field_def = raw.parent_type.fields[raw.field_name]
    return get_argument_values(field_def, raw.field_nodes[0], raw.variable_values)


def _supplied_arguments(raw: GraphQLResolveInfo) -> dict[str, Any]:
    """Arguments the subscriber actually gave: an omitted one filters nothing, an explicit null matches null."""
    values = _arguments(raw)
    supplied: dict[str, Any] = {}
    for node in raw.field_nodes[0].arguments:
        name = node.name.value
        if _is_supplied(node, raw.variable_values) and name in values:
            supplied[name] = values[name]
    return supplied


def _is_supplied(node: ArgumentNode, variables: Mapping[str, Any]) -> bool:
    return not isinstance(node.value, VariableNode) or node.value.name.value in variables
