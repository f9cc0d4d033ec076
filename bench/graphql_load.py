"""Closed-loop load on `file(id)`: ours against the Node reference in the same run; req/s, p50 and p99 per
concurrency (1, 4, 16 clients), and the ratios.

Ours: a real Lambda invocation (the resolver, Powertools, SQLite) per request. The reference (Amplify's
AppSync simulator 2.16.20, bench/reference_emulator.mjs): a NONE resolver that reads nothing. The load
client is aiohttp, one connection per client, on the same cores. Not a test: it records numbers in
bench/results/graphql_load.json and exits 2 when a target is missed. Starts its own emulator (temp data
dir, free port) unless --url is given.

    python bench/graphql_load.py [--url http://127.0.0.1:8000 --api-key KEY] [--seconds 10]
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from hash_throughput import _emulator
from reference import reference

RESULTS = Path(__file__).resolve().parent / "results" / "graphql_load.json"
CONCURRENCY = (1, 4, 16)
#: At 4 clients, our rate over the reference's; at 16, our p99 over the reference's.
TARGET_RATE_RATIO_AT_4 = 1.0
TARGET_P99_RATIO_AT_16 = 1.0
QUERY = "query Get($id: ID!) { file(id: $id) { id name size status hashes { sha256 } createdAt } }"


async def seed_file(session: aiohttp.ClientSession, url: str, api_key: str) -> str:
    mutation = 'mutation { requestUpload(input: {name: "bench.bin", size: 3}) { file { id } url method headers } }'
    async with session.post(f"{url}/graphql", json={"query": mutation}, headers={"x-api-key": api_key}) as response:
        ticket = (await response.json())["data"]["requestUpload"]
    headers = json.loads(ticket["headers"] or "{}")
    async with session.request(ticket["method"], ticket["url"], data=b"abc", headers=headers) as response:
        response.raise_for_status()
    return str(ticket["file"]["id"])


async def closed_loop(
    url: str, api_key: str, file_id: str, clients: int, seconds: float, warmup: float
) -> dict[str, Any]:
    body = json.dumps({"query": QUERY, "variables": {"id": file_id}}).encode()
    headers = {"x-api-key": api_key, "content-type": "application/json"}
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + seconds

        async def client() -> None:
            nonlocal errors
            while (now := time.perf_counter()) < stop_at:
                async with session.post(f"{url}/graphql", data=body, headers=headers) as response:
                    payload = await response.read()
                done = time.perf_counter()
                if response.status != 200 or b'"errors"' in payload:
                    errors += 1
                if now >= measure_from:
                    latencies.append(done - now)

        await asyncio.gather(*(client() for _ in range(clients)))
    latencies.sort()
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "req_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


async def run(
    url: str, api_key: str, seconds: float, warmup: float, file_id: str | None = None
) -> list[dict[str, Any]]:
    if file_id is None:
        async with aiohttp.ClientSession() as session:
            file_id = await seed_file(session, url, api_key)
    return [await closed_loop(url, api_key, file_id, n, seconds, warmup) for n in CONCURRENCY]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running emulator; default: start one")
    parser.add_argument("--api-key", default="da2-benchmarkkey")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        url = args.url
        if url is None:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="graphql-load-")))
            url = stack.enter_context(_emulator(tmp / "data", args.api_key))
        ours = asyncio.run(run(url, args.api_key, args.seconds, args.warmup))
    with reference(args.api_key) as url:
        theirs = asyncio.run(run(url, args.api_key, args.seconds, args.warmup, file_id="reference-file"))

    levels = []
    for our_row, their_row in zip(ours, theirs, strict=True):
        levels.append(
            {
                "clients": our_row["clients"],
                "ours": our_row,
                "reference": their_row,
                "rate_ratio": round(our_row["req_per_s"] / their_row["req_per_s"], 3),
                "p99_ratio": round(our_row["p99_ms"] / their_row["p99_ms"], 3),
            }
        )
    at_4 = next(level for level in levels if level["clients"] == 4)
    at_16 = next(level for level in levels if level["clients"] == 16)
    met = {
        "rate_at_4": at_4["rate_ratio"] >= TARGET_RATE_RATIO_AT_4,
        "p99_at_16": at_16["p99_ratio"] <= TARGET_P99_RATIO_AT_16,
    }
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "query": QUERY,
        "what": {
            "ours": "file(id) through the resolver Lambda (Powertools) and SQLite",
            "reference": "file(id) through a NONE resolver (Amplify's AppSync simulator 2.16.20), no work",
        },
        "seconds_per_level": args.seconds,
        "levels": levels,
        "targets": {
            "rate_ratio_at_4": TARGET_RATE_RATIO_AT_4,
            "p99_ratio_at_16": TARGET_P99_RATIO_AT_16,
            "met": met,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for level in levels:
        o, r = level["ours"], level["reference"]
        print(
            f"{level['clients']:>3} clients: ours {o['req_per_s']:>8} req/s p50 {o['p50_ms']} p99 {o['p99_ms']} ms"
            f" (errors {o['errors']}) | reference {r['req_per_s']:>8} req/s p50 {r['p50_ms']} p99 {r['p99_ms']} ms"
            f" (errors {r['errors']}) | rate x{level['rate_ratio']} p99 x{level['p99_ratio']}"
        )
    return 0 if all(met.values()) else 2


if __name__ == "__main__":
    sys.exit(main())
