"""Unit tests for `lambdashare.emulator.pubsub` with AppSync's argument filters (omitted = no filter,
explicit null = must be null, values compared as AppSync compares JSON), and clean unsubscription."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from graphql import MapAsyncIterator

from lambdashare.emulator import pubsub
from lambdashare.emulator.pubsub import Broker
from lambdashare.emulator.subscription_filter import ArgumentFilter

MUTATION = "publishFileHashed"
EVERYTHING = ArgumentFilter({})


def file(**fields: Any) -> dict[str, Any]:
    return {"id": "f1", "name": "a.txt", "owner": None, "status": "HASHED", "size": 10.0, **fields}


def delivered_to(filters: dict[str, Any], payload: dict[str, Any]) -> bool:
    broker = Broker()
    subscriber = broker.subscribe((MUTATION,), ArgumentFilter(filters))
    broker.publish(MUTATION, payload)
    return not subscriber.queue.empty()


# --- filters --------------------------------------------------------------------------------------


def test_no_filters_match_every_payload() -> None:
    # GIVEN / WHEN / THEN a subscriber that supplied no arguments gets everything
    assert delivered_to({}, file())
    assert delivered_to({}, file(id="other", owner="alice"))


@pytest.mark.parametrize(
    ("filters", "payload", "expected"),
    [
        ({"owner": None}, file(owner=None), True),
        ({"owner": None}, file(owner="alice"), False),
        ({"owner": None}, {"id": "f1"}, True),  # a field the mutation did not select is null
        ({"owner": "alice"}, file(owner=None), False),
        ({"owner": "alice"}, {"id": "f1"}, False),
        ({"owner": "None"}, file(owner=None), False),  # null is not the string "None"
        ({"owner": None}, file(owner="None"), False),
        ({"owner": ""}, file(owner=None), False),
    ],
    ids=[
        "null-null",
        "null-value",
        "null-unselected",
        "value-null",
        "value-unselected",
        "string-None-null",
        "null-string-None",
        "empty-null",
    ],
)
def test_an_explicit_null_matches_only_null(filters: dict[str, Any], payload: dict[str, Any], expected: bool) -> None:
    # GIVEN / WHEN / THEN
    assert delivered_to(filters, payload) is expected


@pytest.mark.parametrize(
    ("filters", "payload", "expected"),
    [
        ({"id": "f1"}, file(id="f1"), True),
        ({"id": "f1"}, file(id="f10"), False),
        ({"id": "f1"}, file(id="F1"), False),
        ({"id": "5"}, file(id=5), True),  # an ID is a string on the wire: 5 and "5" are one ID
        ({"id": 5}, file(id="5"), True),
        ({"size": 10}, file(size=10.0), True),  # numbers compare by value
        ({"size": 10.5}, file(size=10.0), False),
        ({"flag": True}, file(flag=True), True),
        ({"flag": True}, file(flag=1), False),  # true is not 1
        ({"flag": False}, file(flag=0), False),
        ({"flag": True}, file(flag="True"), False),
        ({"status": "HASHED"}, file(status="HASHED"), True),
        ({"status": "HASHED"}, file(status="FAILED"), False),
    ],
    ids=[
        "id",
        "id-prefix",
        "id-case",
        "id-int-payload",
        "id-int-filter",
        "int-float",
        "float-float",
        "bool",
        "bool-int",
        "false-zero",
        "bool-string",
        "enum",
        "enum-other",
    ],
)
def test_values_compare_as_appsync_compares_them(
    filters: dict[str, Any], payload: dict[str, Any], expected: bool
) -> None:
    # GIVEN / WHEN / THEN
    assert delivered_to(filters, payload) is expected


def test_every_supplied_argument_must_match() -> None:
    # GIVEN a subscriber filtering on id and owner
    filters = {"id": "f1", "owner": None}

    # WHEN / THEN it gets only payloads matching both
    assert delivered_to(filters, file(id="f1", owner=None))
    assert not delivered_to(filters, file(id="f1", owner="alice"))
    assert not delivered_to(filters, file(id="f2", owner=None))


# --- routing --------------------------------------------------------------------------------------


def test_a_subscriber_gets_only_the_mutations_it_subscribed_to() -> None:
    # GIVEN subscribers to one mutation, to another, and to both
    broker = Broker()
    only_hashed = broker.subscribe((MUTATION,), EVERYTHING)
    only_deleted = broker.subscribe(("deleteFile",), EVERYTHING)
    both = broker.subscribe((MUTATION, "deleteFile"), EVERYTHING)

    # WHEN each mutation is published once
    hashed_count = broker.publish(MUTATION, file(name="hashed"))
    deleted_count = broker.publish("deleteFile", file(name="deleted"))

    # THEN each got what it subscribed to, in order
    assert (hashed_count, deleted_count) == (2, 2)
    assert [only_hashed.queue.get_nowait()["name"]] == ["hashed"]
    assert [only_deleted.queue.get_nowait()["name"]] == ["deleted"]
    assert [both.queue.get_nowait()["name"], both.queue.get_nowait()["name"]] == ["hashed", "deleted"]
    assert broker.subscriber_count == 3


async def test_a_subscriber_iterates_its_events_in_order() -> None:
    # GIVEN a subscriber and three published events
    broker = Broker()
    subscriber = broker.subscribe((MUTATION,), EVERYTHING)
    for name in ("one", "two", "three"):
        broker.publish(MUTATION, file(name=name))

    # WHEN iterating it
    names = [(await anext(subscriber))["name"] for _ in range(3)]

    # THEN the events come in publish order
    assert names == ["one", "two", "three"]


def test_a_subscriber_that_does_not_read_loses_events_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a subscriber with a queue of two that never reads
    monkeypatch.setattr(pubsub, "QUEUE_LIMIT", 2)
    broker = Broker()
    slow = broker.subscribe((MUTATION,), EVERYTHING)
    fast = broker.subscribe((MUTATION,), EVERYTHING)

    # WHEN three events are published
    counts = [broker.publish(MUTATION, file(name=str(n))) for n in range(3)]

    # THEN the third is dropped for it (publishing never blocks), and the first two are kept
    assert counts == [2, 2, 0]
    assert [slow.queue.get_nowait()["name"], slow.queue.get_nowait()["name"]] == ["0", "1"]
    assert fast.queue.qsize() == 2


# --- unsubscription -------------------------------------------------------------------------------


async def test_closing_a_subscriber_unsubscribes_it_even_if_it_was_never_iterated() -> None:
    # GIVEN a subscriber nobody has started to read (a stop right after start)
    broker = Broker()
    subscriber = broker.subscribe((MUTATION, "deleteFile"), EVERYTHING)
    other = broker.subscribe((MUTATION,), EVERYTHING)

    # WHEN it is closed
    await subscriber.aclose()

    # THEN it is gone from every mutation, and gets nothing more; the other is untouched
    assert broker.subscriber_count == 1
    assert broker.publish(MUTATION, file()) == 1
    assert broker.publish("deleteFile", file()) == 0
    assert subscriber.queue.empty()
    assert other.queue.qsize() == 1
    with pytest.raises(StopAsyncIteration):
        await anext(subscriber)


async def test_closing_twice_is_harmless() -> None:
    # GIVEN a closed subscriber
    broker = Broker()
    subscriber = broker.subscribe((MUTATION,), EVERYTHING)
    await subscriber.aclose()

    # WHEN it is closed again
    await subscriber.aclose()

    # THEN nothing breaks and nothing is subscribed
    assert broker.subscriber_count == 0


async def test_cancelling_a_graphql_subscription_stream_unsubscribes() -> None:
    # GIVEN a subscriber wrapped as graphql-core wraps a subscription's source stream, being read by a task
    broker = Broker()
    subscriber = broker.subscribe((MUTATION,), EVERYTHING)
    stream = MapAsyncIterator(subscriber, lambda payload: payload)
    received: list[dict[str, Any]] = []

    async def read() -> None:
        async for payload in stream:
            received.append(payload)

    reader = asyncio.create_task(read())
    broker.publish(MUTATION, file(name="first"))
    while not received:
        await asyncio.sleep(0)

    # WHEN the reading task is cancelled (a `stop`, or the connection closing)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)

    # THEN the subscriber is unsubscribed
    assert [p["name"] for p in received] == ["first"]
    assert broker.subscriber_count == 0
    assert broker.publish(MUTATION, file(name="second")) == 0


async def test_closing_a_graphql_subscription_stream_that_never_ran_unsubscribes() -> None:
    # GIVEN a subscription stream nobody read (graphql-core registered it, the client stopped at once)
    broker = Broker()
    stream = MapAsyncIterator(broker.subscribe((MUTATION,), EVERYTHING), lambda payload: payload)

    # WHEN it is closed
    await stream.aclose()

    # THEN its subscriber is gone
    assert broker.subscriber_count == 0


def test_one_publish_decides_once_per_distinct_filter() -> None:
    # GIVEN six subscribers sharing two filters
    decided: list[str] = []

    class CountingFilter(ArgumentFilter):
        def matches(self, payload: dict[str, Any]) -> bool:
            decided.append(self.key[1])
            return super().matches(payload)

    broker = Broker()
    mine = [broker.subscribe((MUTATION,), CountingFilter({"id": "f1"})) for _ in range(4)]
    others = [broker.subscribe((MUTATION,), CountingFilter({"id": "f2"})) for _ in range(2)]
    # WHEN one file is published
    delivered = broker.publish(MUTATION, file(id="f1"))
    # THEN each filter was decided once, and still every matching subscriber (and only they) got it
    assert sorted(decided) == ['{"id": "f1"}', '{"id": "f2"}']
    assert delivered == 4
    assert all(s.queue.qsize() == 1 for s in mine)
    assert all(s.queue.empty() for s in others)


def test_a_mutation_nobody_subscribes_to_may_return_a_scalar() -> None:
    # GIVEN a subscriber to another mutation only
    broker = Broker()
    other = broker.subscribe((MUTATION,), EVERYTHING)
    # WHEN a mutation returning a scalar (revokeShare's Boolean) is published
    delivered = broker.publish("revokeShare", True)  # type: ignore[arg-type]
    # THEN nobody gets anything, and nothing fails
    assert delivered == 0
    assert other.queue.empty()
