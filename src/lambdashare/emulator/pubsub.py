"""Subscription fan-out: a published mutation result goes to every subscription whose filter it matches.

Not responsible for what a filter means (`subscription_filter`), nor for selection sets or auth: callers
project and check before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from lambdashare.emulator.subscription_filter import PayloadFilter

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 1000


class Subscriber:
    """One subscription's queue, registered from `Broker.subscribe` until `aclose()`.

    An async iterator rather than an async generator, so that closing it unsubscribes even when
    nobody ever iterated it (a generator's `finally` only runs once it has started).
    """

    __slots__ = ("_broker", "closed", "mutations", "payload_filter", "queue")

    def __init__(self, broker: Broker, mutations: tuple[str, ...], payload_filter: PayloadFilter) -> None:
        self._broker = broker
        self.mutations = mutations
        self.payload_filter = payload_filter
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self.closed = False

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


class Broker:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscriber]] = {}

    def subscribe(self, mutations: tuple[str, ...], payload_filter: PayloadFilter) -> Subscriber:
        subscriber = Subscriber(self, mutations, payload_filter)
        for mutation in mutations:
            self._subscribers.setdefault(mutation, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        for mutation in subscriber.mutations:
            self._subscribers.get(mutation, set()).discard(subscriber)

    def publish(self, mutation: str, payload: dict[str, Any]) -> int:
        delivered = 0
        for subscriber in list(self._subscribers.get(mutation, ())):
            if not subscriber.payload_filter.matches(payload):
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
