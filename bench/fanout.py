"""Fan-out: one event to 200 and to 1,000 AppSync-protocol subscribers, ours against the Node reference in
the same run.

Each subscriber is its own real-time connection (aiohttp) holding `onFileHashed(id: <file>)`. Ours: a
3-byte upload through `requestUpload` and its PUT; each subscriber's latency runs from the PUT's
acknowledgement to its `data` (hashing, the hasher's publishFileHashed and the fan-out included). The
reference (Amplify's AppSync simulator, NONE resolvers): a publishFileHashed mutation; latency from
sending it. Several rounds per size, a new file (and subscription) each, counted from the emulator's start
(as a user meets it) and also without the first two rounds (the Node engine's JIT, each of our hasher
workers' first event). Every subscriber must receive
every event. Per round (median) also: the spread from the first delivery to the last, and the CPU the
load client spent receiving them, which shows when the client (one Python process) is what limits.
Not a test: writes bench/results/fanout.json; exits 2 when the target is missed.

    python bench/fanout.py [--subscribers 200 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import appsync_ws
from hash_throughput import _emulator
from reference import reference

RESULTS = Path(__file__).resolve().parent / "results" / "fanout.json"
API_KEY = "da2-benchfanout"
TARGET_RATIO = 0.5
EVENT_TIMEOUT_S = 60
REQUEST_UPLOAD = (
    "mutation R($input: RequestUploadInput!) { requestUpload(input: $input) { file { id } url method headers } }"
)
PUBLISH = (
    "mutation P($input: FileHashedInput!) { publishFileHashed(input: $input) "
    "{ id name size status createdAt owner hashes { sha256 } } }"
)
#: The reference takes any SigV4-looking Authorization as IAM without checking it.
REFERENCE_IAM = {
    "authorization": "AWS4-HMAC-SHA256 Credential=AKIAREFERENCE/20260101/us-east-1/appsync/aws4_request, "
    "SignedHeaders=host, Signature=0"
}

#: Starts one event and returns the moment latencies count from, and the file id it is about.
Trigger = Callable[[aiohttp.ClientSession, int], Awaitable[tuple[str, Callable[[], float]]]]


def percentile(ordered: list[float], q: float) -> float:
    return ordered[max(0, min(len(ordered) - 1, int(len(ordered) * q + 0.5) - 1))]


async def receive_one(ws: aiohttp.ClientWebSocketResponse, subscription_id: str) -> float:
    """The arrival time of the subscription's data message (timestamped before decoding)."""
    while True:
        message = await ws.receive()
        arrived = time.perf_counter()
        if message.type != aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"a connection ended: {message}")
        decoded = json.loads(message.data)
        if decoded.get("type") == "data" and decoded.get("id") == subscription_id:
            return arrived
        if decoded.get("type") not in ("ka", "complete", "start_ack"):
            raise RuntimeError(f"unexpected message: {decoded}")


async def measure(
    url: str, subscribers: int, rounds: int, first_rounds: int, trigger: Trigger, prepare: Trigger
) -> dict[str, Any]:
    latencies: list[float] = []
    warm: list[float] = []
    spreads: list[float] = []
    client_cpu: list[float] = []
    missing = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sockets = []
        for chunk in range(0, subscribers, 50):  # connect in batches, as clients come
            sockets += await asyncio.gather(
                *(appsync_ws.connect(session, url, API_KEY) for _ in range(chunk, min(subscribers, chunk + 50)))
            )
        for n in range(-first_rounds, rounds):  # n < 0: the first rounds
            file_id, _ = await prepare(session, n)
            sub = f"r{n}"
            await asyncio.gather(*(appsync_ws.start(ws, url, API_KEY, sub, {"id": file_id}) for ws in sockets))
            receipts = [asyncio.ensure_future(receive_one(ws, sub)) for ws in sockets]
            await asyncio.sleep(0.2)  # the subscriptions settle; nothing is in flight
            cpu_before = time.process_time()
            _, started = await trigger(session, n)
            done, pending = await asyncio.wait(receipts, timeout=EVENT_TIMEOUT_S)
            for task in pending:
                task.cancel()
            t0 = started()
            arrivals = sorted(task.result() for task in done)
            missing += len(pending)
            latencies += [arrived - t0 for arrived in arrivals]
            if n >= 0:  # past the first rounds, which both sides get alike
                warm.extend(arrived - t0 for arrived in arrivals)
            if arrivals:
                # how long the client itself was busy receiving, against how long the deliveries spread over
                client_cpu.append(time.process_time() - cpu_before)
                spreads.append(arrivals[-1] - arrivals[0])
            for ws in sockets:
                await appsync_ws.stop(ws, sub)
            await asyncio.sleep(0.2)
        await asyncio.gather(*(ws.close() for ws in sockets))
    latencies.sort()
    warm.sort()
    return {
        "subscribers": subscribers,
        "rounds": first_rounds + rounds,
        "events_expected": subscribers * (first_rounds + rounds),
        "missing": missing,
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        f"warm_after_{first_rounds}_rounds": {
            "p50_ms": round(statistics.median(warm) * 1000, 2),
            "p99_ms": round(percentile(warm, 0.99) * 1000, 2),
        },
        "first_to_last_ms": round(statistics.median(spreads) * 1000, 2),
        "client_cpu_ms": round(statistics.median(client_cpu) * 1000, 2),
    }


def ours(url: str) -> tuple[Trigger, Trigger]:
    """Ours: a new file each round (prepare), then its PUT (trigger); latency from the PUT's acknowledgement."""
    tickets: dict[int, dict[str, Any]] = {}

    async def prepare(session: aiohttp.ClientSession, n: int) -> tuple[str, Callable[[], float]]:
        variables = {"input": {"name": f"fanout-{n}.bin", "size": 3}}
        async with session.post(
            f"{url}/graphql", json={"query": REQUEST_UPLOAD, "variables": variables}, headers={"x-api-key": API_KEY}
        ) as response:
            tickets[n] = (await response.json())["data"]["requestUpload"]
        return tickets[n]["file"]["id"], time.perf_counter

    async def trigger(session: aiohttp.ClientSession, n: int) -> tuple[str, Callable[[], float]]:
        ticket = tickets[n]
        headers = json.loads(ticket["headers"] or "{}")
        async with session.request(ticket["method"], ticket["url"], data=b"abc", headers=headers) as response:
            response.raise_for_status()
        acknowledged = time.perf_counter()
        return ticket["file"]["id"], lambda: acknowledged

    return trigger, prepare


def theirs(url: str) -> tuple[Trigger, Trigger]:
    """The reference: publishFileHashed for a made-up file; latency from sending the mutation."""

    async def prepare(session: aiohttp.ClientSession, n: int) -> tuple[str, Callable[[], float]]:
        return f"reference-{n}", time.perf_counter

    async def trigger(session: aiohttp.ClientSession, n: int) -> tuple[str, Callable[[], float]]:
        file = {
            "id": f"reference-{n}",
            "name": "fanout.bin",
            "size": 3,
            "status": "HASHED",
            "createdAt": "2026-01-01T00:00:00.000Z",
            "hashes": {
                "md5": "900150983cd24fb0d6963f7d28e17f72",
                "sha1": "a9993e364706816aba3e25717850c26c9cd0d89d",
                "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                "sha512": "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            },
        }
        sent = time.perf_counter()
        async with session.post(
            f"{url}/graphql", json={"query": PUBLISH, "variables": {"input": file}}, headers=REFERENCE_IAM
        ) as response:
            answer = await response.json()
        if answer.get("errors"):
            raise RuntimeError(f"the reference refused publishFileHashed: {answer['errors']}")
        return file["id"], lambda: sent

    return trigger, prepare


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--rounds", type=int, default=10, help="rounds after the first --warm-after ones")
    parser.add_argument("--warm-after", type=int, default=2, help="also report the rounds after the first N")
    args = parser.parse_args()
    rows = []
    for subscribers in args.subscribers:
        with tempfile.TemporaryDirectory(prefix="fanout-") as tmp, _emulator(Path(tmp) / "data", API_KEY) as url:
            trigger, prepare = ours(url)
            our_row = asyncio.run(measure(url, subscribers, args.rounds, args.warm_after, trigger, prepare))
        with reference(API_KEY) as url:
            trigger, prepare = theirs(url)
            their_row = asyncio.run(measure(url, subscribers, args.rounds, args.warm_after, trigger, prepare))
        warm = f"warm_after_{args.warm_after}_rounds"
        our_warm, their_warm = our_row[warm], their_row[warm]
        row = {
            "subscribers": subscribers,
            "ours": our_row,
            "reference": their_row,
            "p99_ratio": round(our_row["p99_ms"] / their_row["p99_ms"], 3),
            "p50_ratio": round(our_row["p50_ms"] / their_row["p50_ms"], 3),
            "warm_p99_ratio": round(our_warm["p99_ms"] / their_warm["p99_ms"], 3),
        }
        rows.append(row)
        print(
            f"{subscribers:>5} subscribers: ours p50 {our_row['p50_ms']} p99 {our_row['p99_ms']} ms "
            f"(missing {our_row['missing']}) | reference p50 {their_row['p50_ms']} p99 {their_row['p99_ms']} ms "
            f"(missing {their_row['missing']}) | p99 ratio {row['p99_ratio']}; warm: ours p99 {our_warm['p99_ms']} ms, "
            f"reference {their_warm['p99_ms']} ms, ratio {row['warm_p99_ratio']}",
            flush=True,
        )
    at_1000 = next((r for r in rows if r["subscribers"] == 1000), rows[-1])
    met = at_1000["p99_ratio"] <= TARGET_RATIO and all(
        r["ours"]["missing"] == 0 and r["reference"]["missing"] == 0 for r in rows
    )
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "what": {
            "ours": "PUT acknowledged -> each subscriber's data message (hashing, publishFileHashed, fan-out)",
            "reference": "publishFileHashed sent -> each subscriber's data message (AppSync simulator 2.16.20)",
            "subscription": appsync_ws.ON_FILE_HASHED,
        },
        "rows": rows,
        "target": {"p99_ratio_at_1000": TARGET_RATIO, "met": met},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if met else 2


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
