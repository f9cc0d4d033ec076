"""Benchmark the hashing path of the product against `openssl dgst` on the same file, in the same run.

The product path: a running emulator (`lambdashare serve`), `requestUpload`, the file PUT to its ticket,
and the time from the PUT's acknowledgement to the file's `hashedAt` (as the API reports it), for files of
512 MiB, 1 GiB and 2 GiB. The bound: `openssl dgst` per algorithm on that file, ideal = cores / sum(1 / speed).
Also the CPU the emulator spent on that path against openssl's for the same digests (a ratio a busy
machine does not skew), the peak RSS of every emulator process (server and hash workers) after each
size, and, as a secondary row, the hashing function alone (`hash_chunks` over the file) in a fresh
interpreter.

Not responsible for testing the hasher beyond checking its digests against openssl's (see tests/unit).

Usage: python bench/hash_throughput.py [--sizes-mib 512 1024 2048] [--runs 3]
Writes bench/results/hash_throughput.json; exits 0 if every target is met, 2 if not, 1 on a wrong digest.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "hash_throughput.json"
ALGORITHMS = ("md5", "sha1", "sha256", "sha512")
MIB = 1024 * 1024
WRITE_CHUNK = 16 * MIB
TARGET_RATIO = 0.9
TARGET_RSS_MIB = 150.0
API_KEY = "da2-benchhashthroughput"
HASH_TIMEOUT_S = 1800
REQUEST_UPLOAD = (
    "mutation R($input: RequestUploadInput!) { requestUpload(input: $input) { file { id } url method headers } }"
)
FILE_QUERY = (
    "query F($id: ID!) { file(id: $id) { status error uploadedAt hashedAt hashes { md5 sha1 sha256 sha512 } } }"
)


@dataclass(frozen=True, slots=True)
class Timed:
    seconds: float
    hexdigests: dict[str, str]
    peak_rss_mib: float = 0.0
    #: CPU seconds spent (user + system), so a run on a busy machine can still be judged
    cpu_seconds: float = 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[512, 1024, 2048], help="file sizes to measure")
    parser.add_argument("--runs", type=int, default=3, help="keep the best of this many runs per size")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON results")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # internal: hash in this process
    args = parser.parse_args(argv)

    if args.child is not None:
        print(json.dumps(_child(args.child)))
        return 0
    if args.runs < 1 or min(args.sizes_mib) < 1:
        parser.error("--runs and --sizes-mib must be positive")
    rows = []
    with tempfile.TemporaryDirectory(prefix="hash-bench-") as tmp, _emulator(Path(tmp) / "data") as url:
        for size_mib in args.sizes_mib:
            path = Path(tmp) / f"random-{size_mib}.bin"
            print(f"writing {size_mib} MiB of random bytes to {path} ...", flush=True)
            _write_random(path, size_mib * MIB)
            row = _bench(url, path, args.runs)
            path.unlink()
            if row is None:
                return 1
            # the peak so far: in ascending sizes, a flat memory shows as the same figures row after row
            row["emulator_peak_rss_mib_so_far"] = _peak_rss_by_process(url)
            rows.append(row)
        peak_rss = _peak_rss_by_process(url)
    met = {
        "ratio": all(row["product"]["ratio"] >= TARGET_RATIO for row in rows),
        "rss_mib": max(peak_rss.values()) < TARGET_RSS_MIB,
    }
    results = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "openssl_cli": _openssl_version(),
            "openssl_python": ssl.OPENSSL_VERSION,
        },
        "runs": args.runs,
        "rows": rows,
        "emulator_peak_rss_mib": peak_rss,
        "targets": {"product_ratio": TARGET_RATIO, "rss_mib": TARGET_RSS_MIB},
        "met": met,
    }
    _write_json(args.output, results)
    print()
    for row in rows:
        print(
            f"{row['file_size_mib']:>6.0f} MiB: ideal {row['ideal_mib_s']:.1f} MiB/s | product "
            f"{row['product']['mib_s']:.1f} MiB/s ratio {row['product']['ratio']:.3f} (target >= {TARGET_RATIO}), "
            f"CPU ratio {row['product']['cpu_ratio']:.3f} | "
            f"function {row['function']['mib_s']:.1f} MiB/s ratio {row['function']['ratio']:.3f}"
        )
    print(f"peak RSS by emulator process (MiB): {peak_rss} (target < {TARGET_RSS_MIB:.0f})")
    print(f"wrote {args.output}")
    return 0 if all(met.values()) else 2


def _bench(url: str, path: Path, runs: int) -> dict[str, Any] | None:
    """Best of `runs` for openssl, the product path and the function, each run interleaved."""
    size = path.stat().st_size
    _read_once(path)  # the page cache holds the file for everyone
    openssl_best: dict[str, float] = {}
    openssl_cpu: dict[str, float] = {}
    product_best = function_best = product_cpu = float("inf")
    function_rss = 0.0
    for run in range(1, runs + 1):
        expected: dict[str, str] = {}
        for algorithm in ALGORITHMS:
            timed = _time_openssl(algorithm, path)
            openssl_best[algorithm] = min(openssl_best.get(algorithm, float("inf")), timed.seconds)
            openssl_cpu[algorithm] = min(openssl_cpu.get(algorithm, float("inf")), timed.cpu_seconds)
            expected.update(timed.hexdigests)
        product = _time_product(url, path)
        function = _time_function(path)
        for name, timed in (("product", product), ("function", function)):
            if timed.hexdigests != expected:
                print(f"FAIL: {name} digests differ from openssl's\n ours:    {timed.hexdigests}\n openssl: {expected}")
                return None
        product_best, function_best = min(product_best, product.seconds), min(function_best, function.seconds)
        product_cpu = min(product_cpu, product.cpu_seconds)
        function_rss = max(function_rss, function.peak_rss_mib)
        print(
            f"run {run}/{runs} ({size / MIB:.0f} MiB): "
            + ", ".join(f"openssl {a} {size / MIB / openssl_best[a]:.0f}" for a in ALGORITHMS)
            + f" | product {size / MIB / product.seconds:.0f} | function {size / MIB / function.seconds:.0f} MiB/s",
            flush=True,
        )
    openssl_mib_s = {a: size / MIB / seconds for a, seconds in openssl_best.items()}
    cores = min(os.cpu_count() or 1, len(ALGORITHMS))
    ideal = _ideal(cores, openssl_mib_s)
    product_mib_s, function_mib_s = size / MIB / product_best, size / MIB / function_best
    return {
        "file_size_bytes": size,
        "file_size_mib": round(size / MIB, 1),
        "openssl_mib_s": {a: round(speed, 1) for a, speed in openssl_mib_s.items()},
        "ideal_cores": cores,
        "ideal_mib_s": round(ideal, 1),
        "product": {
            "what": "PUT acknowledged -> hashedAt, through the running emulator",
            "seconds": round(product_best, 3),
            "mib_s": round(product_mib_s, 1),
            "ratio": round(product_mib_s / ideal, 3),
            # load-independent: openssl's CPU for the four digests over the emulator's CPU for the same work
            "cpu_seconds": round(product_cpu, 3),
            "openssl_cpu_seconds": round(sum(openssl_cpu.values()), 3),
            "cpu_ratio": round(sum(openssl_cpu.values()) / product_cpu, 3),
        },
        "function": {
            "what": "hash_chunks over the blob store's read, in a fresh interpreter",
            "seconds": round(function_best, 3),
            "mib_s": round(function_mib_s, 1),
            "ratio": round(function_mib_s / ideal, 3),
            "peak_rss_mib": round(function_rss, 1),
        },
    }


@contextmanager
def _emulator(data_dir: Path, api_key: str = API_KEY) -> Iterator[str]:
    """`lambdashare serve` on a free port, healthy, for the whole benchmark; its URL. Every bench uses it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    serve = [sys.executable, "-m", "lambdashare.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    serve += ["--api-key", api_key]
    log = open(data_dir.parent / "emulator.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        serve,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), str(ROOT)]))},
    )
    try:
        for _ in range(600):
            if process.poll() is not None:
                raise RuntimeError(f"the emulator exited: {(data_dir.parent / 'emulator.log').read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        _emulator_pids[url] = process.pid
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


_emulator_pids: dict[str, int] = {}


def _graphql(url: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, headers={"x-api-key": API_KEY}, timeout=60
    ).json()
    if answer.get("errors"):
        raise RuntimeError(f"GraphQL errors: {answer['errors']}")
    data: dict[str, Any] = answer["data"]
    return data


def _time_product(url: str, path: Path) -> Timed:
    """requestUpload, PUT the file, then the time from the PUT's acknowledgement to hashedAt."""
    size = path.stat().st_size
    ticket = _graphql(url, REQUEST_UPLOAD, {"input": {"name": path.name, "size": size}})["requestUpload"]
    with open(path, "rb") as body:
        response = httpx.request(
            ticket["method"], ticket["url"], headers=json.loads(ticket["headers"] or "{}"), content=body, timeout=600
        )
    acknowledged = time.time()
    cpu_before = _emulator_cpu(url)
    response.raise_for_status()
    deadline = time.monotonic() + HASH_TIMEOUT_S
    while time.monotonic() < deadline:
        file = _graphql(url, FILE_QUERY, {"id": ticket["file"]["id"]})["file"]
        if file["status"] in ("HASHED", "FAILED"):
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("the file was not hashed in time")
    if file["status"] != "HASHED":
        raise RuntimeError(f"the file FAILED: {file['error']}")
    cpu = _emulator_cpu(url) - cpu_before  # includes a few polls of `file`: a slight overcount
    hashed_at = datetime.datetime.fromisoformat(file["hashedAt"].replace("Z", "+00:00")).timestamp()
    return Timed(hashed_at - acknowledged, file["hashes"], cpu_seconds=cpu)


def _emulator_processes(url: str) -> list[int]:
    """The emulator's server process and its children (the hash workers)."""
    server = _emulator_pids[url]
    return [server] + [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _parent_of(int(entry.name)) == server
    ]


def _emulator_cpu(url: str) -> float:
    """CPU seconds (user + system) the emulator's processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in _emulator_processes(url):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _peak_rss_by_process(url: str) -> dict[str, float]:
    """VmHWM (peak resident set) of the emulator's server process and of each of its children."""
    server = _emulator_pids[url]
    peaks: dict[str, float] = {}
    for pid in _emulator_processes(url):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        peaks["server" if pid == server else f"worker-{pid}"] = round(int(hwm.split()[1]) / 1024, 1)
    return peaks


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _ideal(cores: int, speeds: dict[str, float]) -> float:
    """The openssl bound: the four digests' work spread over `cores`, each at openssl's speed."""
    return cores / sum(1 / speed for speed in speeds.values())


def _write_random(path: Path, size: int) -> None:
    with open(path, "wb") as stream:
        remaining = size
        while remaining > 0:
            chunk = os.urandom(min(WRITE_CHUNK, remaining))
            stream.write(chunk)
            remaining -= len(chunk)


def _read_once(path: Path) -> None:
    buffer = bytearray(WRITE_CHUNK)
    with open(path, "rb", buffering=0) as stream:
        while stream.readinto(buffer):
            pass


def _time_openssl(algorithm: str, path: Path) -> Timed:
    # the digest line is tiny, so capturing it costs nothing measurable next to hashing a GiB
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        ["openssl", "dgst", f"-{algorithm}", "-r", str(path)], capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(seconds, {algorithm: done.stdout.split()[0].lower()}, cpu_seconds=cpu)


def _time_function(path: Path) -> Timed:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    result = json.loads(done.stdout)
    return Timed(result["seconds"], result["hexdigests"], result["peak_rss_mib"])


def _child(path: Path) -> dict[str, Any]:
    """Runs in a fresh interpreter: hash the file as the hasher reads a local blob; time, digests, peak RSS."""
    from lambdashare.domain.hashing import CHUNK_SIZE, hash_chunks, read_chunks

    start = time.perf_counter()
    digests = hash_chunks(read_chunks(str(path), CHUNK_SIZE))
    seconds = time.perf_counter() - start
    if digests.size != path.stat().st_size:
        raise SystemExit(f"hashed {digests.size} bytes, the file has {path.stat().st_size}")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"seconds": seconds, "hexdigests": digests.hexdigests, "peak_rss_mib": peak_kib / 1024}


def _openssl_version() -> str:
    done = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
