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
    __slots__ = ("_broker", "filters", "mutations", "queue")

    def __init__(self, broker: Broker, mutations: tuple[str, ...], filters: Mapping[str, Any]) -> None:
        self._broker = broker
        self.mutations = mutations
        self.filters = dict(filters)
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)

    def matches(self, payload: Mapping[str, Any]) -> bool:
        return all(_equal(payload.get(name), value) for name, value in self.filters.items())

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        try:
            while True:
                yield await self.queue.get()
        finally:
            self._broker.unsubscribe(self)


def _equal(actual: Any, wanted: Any) -> bool:
    if actual is None or wanted is None:
        return actual is wanted
    return str(actual) == str(wanted) if not isinstance(wanted, bool) else actual == wanted


class Broker:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscriber]] = {}

    def subscribe(self, mutations: tuple[str, ...], filters: Mapping[str, Any]) -> Subscriber:
        subscriber = Subscriber(self, mutations, filters)
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
