"""Benchmark `hash_chunks` against `openssl dgst` on a 1 GiB file: throughput, ideal bound, peak RSS.

Not responsible for testing the hasher beyond checking its digests against openssl's (see tests/unit).

Usage: python bench/hash_throughput.py [--size-mib 1024] [--path FILE] [--runs 3]
Writes bench/results/hash_throughput.json; exits 0 if both targets are met, 2 if not, 1 on a wrong digest.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "hash_throughput.json"
ALGORITHMS = ("md5", "sha1", "sha256", "sha512")
MIB = 1024 * 1024
WRITE_CHUNK = 16 * MIB
SPEED_BLOCK = 4 * MIB  # `openssl speed` block size for the compute-only reference, as big as our chunks
TARGET_RATIO = 0.9
TARGET_RSS_MIB = 100.0


@dataclass(frozen=True, slots=True)
class Timed:
    seconds: float
    hexdigests: dict[str, str]


@dataclass(frozen=True, slots=True)
class OursTimed:
    seconds: float
    hexdigests: dict[str, str]
    peak_rss_mib: float


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the generated file")
    parser.add_argument("--path", type=Path, help="hash this existing file instead of generating one")
    parser.add_argument("--runs", type=int, default=3, help="keep the best of this many runs")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON results")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # internal: hash in this process
    args = parser.parse_args(argv)

    if args.child is not None:
        print(json.dumps(_child(args.child)))
        return 0
    if args.runs < 1 or args.size_mib < 1:
        parser.error("--runs and --size-mib must be positive")
    if args.path is not None:
        if not args.path.is_file():
            parser.error(f"--path {args.path} is not a file")
        return _bench(args.path.resolve(), args.runs, args.output)
    with tempfile.TemporaryDirectory(prefix="hash-bench-") as tmp:
        path = Path(tmp) / "random.bin"
        print(f"writing {args.size_mib} MiB of random bytes to {path} ...", flush=True)
        _write_random(path, args.size_mib * MIB)
        return _bench(path, args.runs, args.output)


def _bench(path: Path, runs: int, output: Path) -> int:
    size = path.stat().st_size
    if size < 1024 * MIB:
        print(f"warning: {size / MIB:.0f} MiB is under 1 GiB; figures will be noisier", file=sys.stderr)
    _read_once(path)  # warm the page cache so openssl and the hasher both read from memory

    openssl_best: dict[str, float] = {}
    speed_best: dict[str, float] = {}
    ours_best = float("inf")
    peak_rss_mib = 0.0
    for run in range(1, runs + 1):
        expected: dict[str, str] = {}
        this_run: dict[str, float] = {}
        for algorithm in ALGORITHMS:
            timed = _time_openssl(algorithm, path)
            this_run[algorithm] = timed.seconds
            openssl_best[algorithm] = min(openssl_best.get(algorithm, float("inf")), timed.seconds)
            expected.update(timed.hexdigests)
            speed_best[algorithm] = max(speed_best.get(algorithm, 0.0), _openssl_speed(algorithm))
        ours = _time_ours(path)
        if ours.hexdigests != expected:
            print(f"FAIL: digests differ from openssl's\n ours:    {ours.hexdigests}\n openssl: {expected}")
            return 1
        ours_best = min(ours_best, ours.seconds)
        peak_rss_mib = max(peak_rss_mib, ours.peak_rss_mib)  # the worst run: RSS is a ceiling
        print(
            f"run {run}/{runs}: "
            + ", ".join(f"{a} {size / MIB / seconds:.0f}" for a, seconds in this_run.items())
            + f" | ours {size / MIB / ours.seconds:.0f} MiB/s, {ours.peak_rss_mib:.1f} MiB RSS",
            flush=True,
        )

    openssl_mib_s = {a: size / MIB / seconds for a, seconds in openssl_best.items()}
    ours_mib_s = size / MIB / ours_best
    # Perfect parallelism: the hashes need sum(1 / speed_i) CPU-seconds per MiB, shared by the cores
    # (no more cores than algorithms, as each algorithm runs in one thread).
    cores = min(os.cpu_count() or 1, len(ALGORITHMS))
    ideal_mib_s = _ideal(cores, openssl_mib_s)
    ratio = ours_mib_s / ideal_mib_s
    # Informational: the same bound from `openssl speed` (hashing a hot buffer, no file reads). `openssl
    # dgst` reads 8 KiB at a time once per algorithm, while we read once for all four, so this one is
    # the stricter ceiling.
    compute_ideal_mib_s = _ideal(cores, speed_best)
    met = {"ratio": ratio >= TARGET_RATIO, "rss_mib": peak_rss_mib < TARGET_RSS_MIB}
    results = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "openssl_cli": _openssl_version(),
            "openssl_python": ssl.OPENSSL_VERSION,
        },
        "file_size_bytes": size,
        "file_size_mib": round(size / MIB, 1),
        "runs": runs,
        "openssl_mib_s": {a: round(speed, 1) for a, speed in openssl_mib_s.items()},
        "ours_mib_s": round(ours_mib_s, 1),
        "ideal_mib_s": round(ideal_mib_s, 1),
        "ideal_cores": cores,
        "ratio": round(ratio, 3),
        "informational": {
            "openssl_speed_mib_s": {a: round(speed, 1) for a, speed in speed_best.items()},
            "compute_ideal_mib_s": round(compute_ideal_mib_s, 1),
            "compute_ratio": round(ours_mib_s / compute_ideal_mib_s, 3),
        },
        "peak_rss_mib": round(peak_rss_mib, 1),
        "targets": {"ratio": TARGET_RATIO, "rss_mib": TARGET_RSS_MIB},
        "met": met,
    }
    _write_json(output, results)

    print(f"\nfile: {size / MIB:.0f} MiB, best of {runs} run(s), {cores} core(s) for the ideal")
    for algorithm, speed in openssl_mib_s.items():
        print(f"  openssl {algorithm:<7} {speed:8.1f} MiB/s")
    print(f"  ideal          {ideal_mib_s:8.1f} MiB/s  (cores / sum(1/speed))")
    print(f"  ours           {ours_mib_s:8.1f} MiB/s  ratio {ratio:.3f} (target >= {TARGET_RATIO})")
    print(
        f"  (compute-only ideal from `openssl speed`: {compute_ideal_mib_s:.1f} MiB/s, "
        f"ratio {ours_mib_s / compute_ideal_mib_s:.3f})"
    )
    print(f"  peak RSS       {peak_rss_mib:8.1f} MiB    (target < {TARGET_RSS_MIB:.0f})")
    print(f"wrote {output}")
    return 0 if all(met.values()) else 2


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
    start = time.perf_counter()
    done = subprocess.run(
        ["openssl", "dgst", f"-{algorithm}", "-r", str(path)], capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    return Timed(seconds, {algorithm: done.stdout.split()[0].lower()})


def _openssl_speed(algorithm: str) -> float:
    """MiB/s of OpenSSL hashing a hot in-memory buffer: the cost of the hash alone."""
    done = subprocess.run(
        ["openssl", "speed", "-mr", "-seconds", "1", "-bytes", str(SPEED_BLOCK), algorithm],
        capture_output=True,
        text=True,
        check=True,
    )
    # machine-readable lines look like "+F:3:md5:671088640.00" (bytes per second for each block size)
    rates = [float(line.split(":")[-1]) for line in done.stdout.splitlines() if line.startswith("+F:")]
    if not rates:
        raise RuntimeError(f"no +F: line in `openssl speed` output: {done.stdout!r}")
    return rates[-1] / MIB


def _ideal(cores: int, speeds: dict[str, float]) -> float:
    return cores / sum(1 / speed for speed in speeds.values())


def _time_ours(path: Path) -> OursTimed:
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
    return OursTimed(result["seconds"], result["hexdigests"], result["peak_rss_mib"])


def _child(path: Path) -> dict[str, Any]:
    """Runs in a fresh interpreter: hash the file and report time, digests and this process's peak RSS."""
    from lambdashare.domain.hashing import hash_chunks, read_chunks

    start = time.perf_counter()
    digests = hash_chunks(read_chunks(str(path)))
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
