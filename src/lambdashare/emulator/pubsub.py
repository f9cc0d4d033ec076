"""Subscription fan-out: a published mutation result goes to every subscription whose filter it matches.

Every matching subscriber gets the same `Publication`, so what it renders to can be worked out once per
publish for all subscribers that render it alike. Not responsible for what a filter means
(`subscription_filter`), nor for selection sets or auth: callers project and check before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Hashable
from typing import Any

from lambdashare.emulator.subscription_filter import PayloadFilter

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 1000


class Publication(dict[str, Any]):
    """One published payload, the same object in every subscriber's queue. `rendered` holds what it
    renders to per distinct subscription (document, variables), filled by the first subscriber to need it."""

    __slots__ = ("rendered",)

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload)
        self.rendered: dict[Hashable, Any] = {}


class Subscriber:
    """One subscription's queue, registered from `Broker.subscribe` until `aclose()`.

    An async iterator rather than an async generator, so that closing it unsubscribes even when
    nobody ever iterated it (a generator's `finally` only runs once it has started).
    """

    __slots__ = ("_broker", "_closing", "closed", "mutations", "payload_filter", "queue")

    def __init__(self, broker: Broker, mutations: tuple[str, ...], payload_filter: PayloadFilter) -> None:
        self._broker = broker
        self.mutations = mutations
        self.payload_filter = payload_filter
        self.queue: asyncio.Queue[Publication] = asyncio.Queue(QUEUE_LIMIT)
        self.closed = False
        self._closing = asyncio.Event()

    def __aiter__(self) -> AsyncIterator[Publication]:
        return self

    async def __anext__(self) -> Publication:
        if self.closed:
            raise StopAsyncIteration
        return await self.queue.get()

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._closing.set()
            self._broker.unsubscribe(self)

    async def wait_closed(self) -> None:
        await self._closing.wait()

    def held(self) -> AsyncIterator[Publication]:
        """A stand-in stream for when the consumer reads this subscriber itself: it yields nothing, ends when
        the subscriber closes, and closing it closes the subscriber."""
        return _Held(self)


class _Held:
    __slots__ = ("_subscriber",)

    def __init__(self, subscriber: Subscriber) -> None:
        self._subscriber = subscriber

    def __aiter__(self) -> AsyncIterator[Publication]:
        return self

    async def __anext__(self) -> Publication:
        await self._subscriber.wait_closed()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self._subscriber.close()


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
        publication: Publication | None = None  # made for the first subscriber it goes to
        verdicts: dict[Hashable, bool] = {}  # many subscribers share a filter (the same file id, say)
        for subscriber in list(self._subscribers.get(mutation, ())):
            payload_filter = subscriber.payload_filter
            matched = verdicts.get(payload_filter.key)
            if matched is None:
                matched = verdicts[payload_filter.key] = payload_filter.matches(payload)
            if not matched:
                continue
            if publication is None:
                publication = Publication(payload)
            try:
                subscriber.queue.put_nowait(publication)
                delivered += 1
            except asyncio.QueueFull:
                logger.warning("dropping a %s event for a subscriber that is not reading", mutation)
        return delivered

    @property
    def subscriber_count(self) -> int:
        return len({s for subs in self._subscribers.values() for s in subs})
