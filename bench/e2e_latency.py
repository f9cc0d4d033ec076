"""The user's wait: from the PUT's acknowledgement to `onFileHashed`, for the first upload after `serve` is
ready and for 40 sequential 1 MiB uploads after it (p50, p99).

Each upload: `requestUpload`, `onFileHashed(id)` started on one AppSync real-time connection, the PUT of
1 MiB of random bytes, then the time from the PUT's response to the subscription's `data`. The emulator is
started by the benchmark (fresh data dir, free port) and measured as soon as `/healthz` answers, so a
cold start anywhere on that path shows in the first upload. Not a test: it writes
bench/results/e2e_latency.json and exits 2 when a target is missed.

    python bench/e2e_latency.py [--uploads 40]
"""

from __future__ import annotations

import argparse
import asyncio
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
import appsync_ws
from hash_throughput import _emulator

RESULTS = Path(__file__).resolve().parent / "results" / "e2e_latency.json"
API_KEY = "da2-benche2elatency"
MIB = 1024 * 1024
TARGET_FIRST_MS = 100
TARGET_P99_MS = 50
REQUEST_UPLOAD = (
    "mutation R($input: RequestUploadInput!) { requestUpload(input: $input) { file { id } url method headers } }"
)


async def upload_once(
    session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse, url: str, body: bytes, n: int
) -> float:
    """One upload; seconds from the PUT's acknowledgement to its onFileHashed."""
    variables = {"input": {"name": f"latency-{n}.bin", "size": len(body)}}
    async with session.post(
        f"{url}/graphql", json={"query": REQUEST_UPLOAD, "variables": variables}, headers={"x-api-key": API_KEY}
    ) as response:
        ticket = (await response.json())["data"]["requestUpload"]
    file_id = ticket["file"]["id"]
    await appsync_ws.start(ws, url, API_KEY, str(n), {"id": file_id})
    headers = json.loads(ticket["headers"] or "{}")
    async with session.request(ticket["method"], ticket["url"], data=body, headers=headers) as response:
        response.raise_for_status()
    acknowledged = time.perf_counter()
    event = await appsync_ws.expect(ws, "data")
    arrived = time.perf_counter()
    file = json.loads(event["payload"]["data"]) if isinstance(event["payload"].get("data"), str) else None
    file = (file or event["payload"]["data"])["onFileHashed"]
    if event.get("id") != str(n) or file["id"] != file_id or file["status"] != "HASHED":
        raise RuntimeError(f"unexpected event for upload {n}: {event}")
    await appsync_ws.stop(ws, str(n))
    await appsync_ws.expect(ws, "complete")
    return arrived - acknowledged


async def run(url: str, uploads: int) -> dict[str, Any]:
    body = os.urandom(MIB)
    async with aiohttp.ClientSession() as session:
        ws = await appsync_ws.connect(session, url, API_KEY)
        first = await upload_once(session, ws, url, body, 0)
        rest = [await upload_once(session, ws, url, body, n) for n in range(1, uploads + 1)]
        await ws.close()
    if os.environ.get("E2E_LATENCY_VERBOSE"):
        print(" ".join(f"{t * 1000:.0f}" for t in rest))
    ordered = sorted(rest)
    return {
        "first_upload_ms": round(first * 1000, 2),
        "uploads": uploads,
        "upload_bytes": MIB,
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99 + 0.5) - 1)] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="e2e-latency-") as tmp:
        started = time.perf_counter()
        with _emulator(Path(tmp) / "data", API_KEY) as url:
            ready_s = time.perf_counter() - started
            row = asyncio.run(run(url, args.uploads))
    met = {"first_upload": row["first_upload_ms"] < TARGET_FIRST_MS, "p99": row["p99_ms"] < TARGET_P99_MS}
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "what": "PUT acknowledged -> onFileHashed data message, 1 MiB uploads, API key, one real-time connection",
        "seconds_to_ready": round(ready_s, 2),
        **row,
        "targets": {"first_upload_ms": TARGET_FIRST_MS, "p99_ms": TARGET_P99_MS},
        "met": met,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"ready in {ready_s:.2f} s; first upload {row['first_upload_ms']} ms; over {args.uploads}: "
        f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, max {row['max_ms']} ms"
    )
    return 0 if all(met.values()) else 2


if __name__ == "__main__":
    sys.exit(main())
