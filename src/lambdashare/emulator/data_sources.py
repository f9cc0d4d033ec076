"""The request context the strawberry schema runs with: AppSync's resolvers and data sources, locally.

A field is resolved as template.yaml wires it: a direct Lambda resolver gets a direct-resolver event;
a resolver with APPSYNC_JS code runs its request handler, its data source (NONE hands the payload back,
a Lambda is invoked with it) and its response handler. A mutation's result, projected on its selection
set, is published to the subscriptions it triggers. A subscription field runs its resolver when the
client subscribes; the filter the resolver sets (or else the supplied arguments) decides what the
subscription receives. A PIPELINE resolver runs its functions (each with its own code and data source)
between its before and after handlers. Each checks the field's auth directives first, as AppSync does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

import strawberry
from graphql import GraphQLResolveInfo
from graphql.execution.values import get_argument_values

from lambdashare.emulator.appsync_js import Outcome, ResolverCode
from lambdashare.emulator.auth import Caller
from lambdashare.emulator.errors import FieldUnauthorizedError
from lambdashare.emulator.events import appsync_resolver_event
from lambdashare.emulator.lambda_runtime import Function, LambdaError
from lambdashare.emulator.pubsub import Broker
from lambdashare.emulator.schema_rules import SchemaRules
from lambdashare.emulator.selection import described, project
from lambdashare.emulator.subscription_filter import ArgumentFilter, EnhancedFilter, PayloadFilter
from lambdashare.emulator.template import FieldSource, Wiring


class RequestContext:
    """One GraphQL request's (or one subscription's) caller and the data sources it may reach."""

    def __init__(
        self,
        *,
        caller: Caller,
        headers: Mapping[str, str],
        functions: Mapping[str, Function],
        wiring: Wiring,
        resolver_code: Mapping[str, ResolverCode],
        broker: Broker,
        rules: SchemaRules,
    ) -> None:
        self.caller = caller
        self.headers = dict(headers)
        self._functions = functions
        self._wiring = wiring
        self._resolver_code = resolver_code
        self._broker = broker
        self._rules = rules
        #: set once a subscription field has registered with the broker (the subscription is live)
        self.subscribed = asyncio.Event()
        #: errors resolver code added with util.appendError, in AppSync's shape: the response carries them
        self.appended_errors: list[dict[str, Any]] = []

    def _authorize(self, raw: GraphQLResolveInfo) -> None:
        type_name, field_name = raw.parent_type.name, raw.field_name
        groups = (self.caller.identity or {}).get("groups")
        if not self._rules.allows(type_name, field_name, self.caller.mode, groups):
            raise FieldUnauthorizedError(type_name, field_name)

    async def resolve(self, info: strawberry.Info) -> Any:
        """Run the field's resolver as template.yaml wires it; publish a mutation's result."""
        raw = info._raw_info
        self._authorize(raw)
        source = self._wiring.fields[raw.parent_type.name, raw.field_name]
        if source.code is None:
            assert source.function is not None  # the template loader allows no other resolver without code
            value = await self._functions[source.function].invoke(self._context(raw))
        else:
            value = (await self._run(source, raw)).value
        if raw.parent_type.name == "Mutation":
            published = project(value, raw.field_nodes[0].selection_set, raw.fragments)
            if published is not None:
                self._broker.publish(raw.field_name, published)
        return value

    async def subscribe(self, info: strawberry.Info) -> AsyncIterator[Any]:
        raw = info._raw_info
        self._authorize(raw)
        source = self._wiring.fields.get((raw.parent_type.name, raw.field_name))  # a subscription may have none
        payload_filter: PayloadFilter = ArgumentFilter(_arguments(raw))
        if source is not None:
            outcome = await self._run(source, raw)
            if outcome.subscription_filter is not None:
                # an enhanced filter replaces the argument filter (the resolver decides what the arguments mean)
                payload_filter = EnhancedFilter(outcome.subscription_filter)
        subscriber = self._broker.subscribe(self._rules.subscriptions.get(raw.field_name, ()), payload_filter)
        self.subscribed.set()
        return aiter(subscriber)

    async def _run(self, source: FieldSource, raw: GraphQLResolveInfo) -> Outcome:
        """A UNIT resolver: request handler -> data source -> response handler. A PIPELINE resolver: its
        request (before) handler -> each function's request handler, data source and response handler ->
        its response (after) handler, with one `ctx.stash` and each step's result as `ctx.prev.result`.
        The subscription filter is the last one any step set."""
        context = self._context(raw)
        run = self._resolver_code[source.name].start()
        outcome = self._checked(run.request(context), raw)
        if not source.pipeline:
            if not outcome.early_return:
                outcome = self._checked(run.response(*await self._data_source(source, outcome.value)), raw)
            return self._errors_kept(outcome, raw)
        subscription_filter = outcome.subscription_filter
        if not outcome.early_return:  # the before handler's earlyReturn skips the functions
            for function in source.pipeline:
                step = {**context, "stash": outcome.stash, "prev": {"result": outcome.value}}
                function_run = self._resolver_code[function.name].start()
                outcome = self._checked(function_run.request(step), raw)
                if not outcome.early_return:
                    result, error = await self._data_source(function, outcome.value)
                    outcome = self._checked(function_run.response(result, error), raw)
                self._errors_kept(outcome, raw)
                subscription_filter = outcome.subscription_filter or subscription_filter
        updates = {"stash": outcome.stash, "prev": {"result": outcome.value}}
        after = self._errors_kept(self._checked(run.response(outcome.value, None, updates), raw), raw)
        return replace(after, subscription_filter=after.subscription_filter or subscription_filter)

    @staticmethod
    def _checked(outcome: Outcome, raw: GraphQLResolveInfo) -> Outcome:
        """An unauthorized handler fails the field."""
        if outcome.unauthorized:
            raise FieldUnauthorizedError(raw.parent_type.name, raw.field_name)
        return outcome

    def _errors_kept(self, outcome: Outcome, raw: GraphQLResolveInfo) -> Outcome:
        """The errors a code block appended (its last handler's outcome lists them all) go with the response."""
        for appended in outcome.appended_errors:
            self.appended_errors.append(_located(appended, raw))
        return outcome

    async def _data_source(self, source: FieldSource, request: Any) -> tuple[Any, dict[str, Any] | None]:
        """NONE returns the request's payload; a Lambda is invoked with it (its error becomes ctx.error)."""
        payload = request.get("payload") if isinstance(request, Mapping) else None
        if source.function is None:
            return payload, None
        try:
            return await self._functions[source.function].invoke(payload), None
        except LambdaError as exc:
            return None, {"message": exc.message, "type": exc.error_type}

    def _context(self, raw: GraphQLResolveInfo) -> dict[str, Any]:
        """AppSync's context object: a direct Lambda resolver's event, and `ctx` for resolver code."""
        names, graphql_text = described(raw.field_nodes[0], raw.fragments)
        return appsync_resolver_event(
            field_name=raw.field_name,
            parent_type_name=raw.parent_type.name,
            arguments=_arguments(raw),
            identity=self.caller.identity,
            headers=self.headers,
            variables=dict(raw.variable_values),
            selection_set_list=names,
            selection_set_graphql=graphql_text,
        )


def _located(error: Mapping[str, Any], raw: GraphQLResolveInfo) -> dict[str, Any]:
    """An error resolver code appended for this field, as AppSync lists it next to the data."""
    loc = raw.field_nodes[0].loc
    where = loc.source.get_location(loc.start) if loc else None
    return {
        "path": raw.path.as_list(),
        "data": error["data"],
        "errorType": error["errorType"],
        "errorInfo": error["errorInfo"],
        "locations": [{"line": where.line, "column": where.column, "sourceName": None}] if where else [],
        "message": error["message"],
    }


def _arguments(raw: GraphQLResolveInfo) -> dict[str, Any]:
    """The arguments the caller supplied: an omitted one is absent, an explicit null is None."""
    field_def = raw.parent_type.fields[raw.field_name]
    return get_argument_values(field_def, raw.field_nodes[0], raw.variable_values)
