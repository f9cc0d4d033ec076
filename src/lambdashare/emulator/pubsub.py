"""Subscription fan-out: a published mutation result goes to every subscription it matches.

Matching follows AppSync's argument filters: each argument the subscriber supplied must equal the
result field of the same name (an explicit null matches only null); omitted arguments filter
nothing. Not responsible for selection sets or auth: callers project and check before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 1000


class Subscriber:
    """One subscription's queue, registered from `Broker.subscribe` until `aclose()`.

    An async iterator rather than an async generator, so that closing it unsubscribes even when
    nobody ever iterated it (a generator's `finally` only runs once it has started).
    """

    __slots__ = ("_broker", "closed", "filters", "mutations", "queue", "scope")

    def __init__(
        self,
        broker: Broker,
        mutations: tuple[str, ...],
        filters: Mapping[str, Any],
        scope: Mapping[str, Any] | None = None,
    ) -> None:
        self._broker = broker
        self.mutations = mutations
        self.filters = dict(filters)
        self.scope = dict(scope or {})
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self.closed = False

    def matches(self, payload: Mapping[str, Any]) -> bool:
        """The subscriber's argument filters and its scope (what its caller may see) all hold."""
        conditions = (*self.filters.items(), *self.scope.items())
        return all(_equal(payload.get(name), value) for name, value in conditions)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self.closed:
            raise StopAsyncIteration
        return await self.queue.get()

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._broker.unsubscribe(self)


_NUMBER = (int, float)


def _equal(actual: Any, wanted: Any) -> bool:
    """AppSync's equality between a result field and an argument: null only equals null,
    booleans only booleans, numbers by value (10 == 10.0), anything else as its string (an ID
    given as 5 equals "5")."""
    if actual is None or wanted is None:
        return actual is wanted
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return isinstance(actual, bool) and isinstance(wanted, bool) and actual == wanted
    if isinstance(actual, _NUMBER) and isinstance(wanted, _NUMBER):
        return actual == wanted
    return str(actual) == str(wanted)


class Broker:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscriber]] = {}

    def subscribe(
        self, mutations: tuple[str, ...], filters: Mapping[str, Any], scope: Mapping[str, Any] | None = None
    ) -> Subscriber:
        """`scope`: conditions the caller cannot lift, on top of its own filters (e.g. its owner id)."""
        subscriber = Subscriber(self, mutations, filters, scope)
        for mutation in mutations:
            self._subscribers.setdefault(mutation, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        for mutation in subscriber.mutations:
            self._subscribers.get(mutation, set()).discard(subscriber)

    def publish(self, mutation: str, payload: dict[str, Any]) -> int:
        delivered = 0
        for subscriber in list(self._subscribers.get(mutation, ())):
            if not subscriber.matches(payload):
                continue
            try:
                subscriber.queue.put_nowait(payload)
                delivered += 1
            except asyncio.QueueFull:
                logger.warning("dropping a %s event for a subscriber that is not reading", mutation)
        return delivered

    @property
    def subscriber_count(self) -> int:
        return len({s for subs in self._subscribers.values() for s in subs})
