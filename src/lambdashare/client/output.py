"""What the commands print: digests as coreutils prints them (`<hex>  <name>`, for `sha256sum --check`), one
JSON object per line with --json, tables and a small bar chart with rich, and progress bars on stderr (only when
it is a terminal), so stdout stays for what a script reads.

Not responsible for deciding what happened (the commands do); errors are printed by `commands.run`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from lambdashare.client.transfer import Advance

stdout = Console(soft_wrap=True, highlight=False)
stderr = Console(stderr=True, highlight=False)
if not stdout.is_terminal:
    stdout.width = 250  # a pipe or a file: whole ids and digests, not a table squeezed to 80 columns

BAR_WIDTH = 30


def line(text: str) -> None:
    """A plain line on stdout, exactly as given (no markup, no wrapping)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def json_line(value: Any) -> None:
    line(json.dumps(value, separators=(",", ":")))


def note(text: str) -> None:
    """A remark for the person at the terminal, on stderr."""
    sys.stderr.write(f"lambdashare: {text}\n")
    sys.stderr.flush()


def digest_line(file: dict[str, Any], algorithm: str, name: str) -> str:
    """coreutils' format: `sha256sum --check` reads it back."""
    return f"{file['hashes'][algorithm]}  {name}"


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Progress]:
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        disable=not (enabled and stderr.is_terminal),
        transient=False,
    )
    with progress:
        yield progress


def tracker(progress: Progress, description: str, total: int) -> Advance:
    task = progress.add_task(description, total=total)
    return lambda sent: progress.advance(task, sent)


def size_text(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def files_table(files: list[dict[str, Any]]) -> Table:
    """id, name, size, status and creation minute: what fits 80 columns (digests: `get ID` or --json)."""
    table = Table(box=None, pad_edge=False)
    table.add_column("id", no_wrap=True, min_width=36)  # whole: it is what the other commands take
    table.add_column("name", overflow="fold")
    for heading in ("size", "status", "created"):
        table.add_column(heading, no_wrap=True)
    for file in files:
        created = file["createdAt"][:16].replace("T", " ")
        table.add_row(file["id"], file["name"], size_text(file["size"]), file["status"], created)
    return table


def file_details(file: dict[str, Any]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    hashes = file.get("hashes") or {}
    rows = {**{k: v for k, v in file.items() if k != "hashes"}, **hashes}
    for key, value in rows.items():
        if value is not None:
            table.add_row(key, size_text(value) + f" ({value:.0f} bytes)" if key == "size" else str(value))
    return table


def stats_table(stats: dict[str, Any]) -> Table:
    """Totals, latency and throughput, then the content types."""
    table = Table("", "uploads", "bytes", "hashed", "failed", "duplicates", "deleted", box=None, pad_edge=False)
    table.add_row(
        "total",
        str(stats["uploads"]),
        size_text(stats["bytes"]),
        str(stats["hashed"]),
        str(stats["failed"]),
        str(stats["duplicates"]),
        str(stats["deleted"]),
    )
    for kind in stats["contentTypes"]:
        table.add_row(kind["contentType"], str(kind["uploads"]), size_text(kind["bytes"]), "", "", "", "")
    latency = stats.get("latency")
    if latency:
        table.caption = (
            f"hashing latency p50 {latency['p50']:.0f} ms, p95 {latency['p95']:.0f} ms, p99 {latency['p99']:.0f} ms"
        )
    if stats.get("throughput") is not None:
        rate = f"hashed {size_text(stats['hashedBytes'])} at {size_text(stats['throughput'])}/s"
        table.caption = f"{table.caption}; {rate}" if table.caption else rate
    return table


def day_chart(days: list[dict[str, Any]]) -> Table:
    """One row per day: a bar of uploads and a bar of bytes, each scaled to the busiest day."""
    table = Table("date", "uploads", "", "bytes", "", box=None, pad_edge=False)
    most_uploads = max((day["uploads"] for day in days), default=0) or 1
    most_bytes = max((day["bytes"] for day in days), default=0) or 1
    for day in days:
        table.add_row(
            day["date"],
            str(day["uploads"]),
            bar(day["uploads"] / most_uploads),
            size_text(day["bytes"]),
            bar(day["bytes"] / most_bytes),
        )
    return table


def bar(fraction: float) -> str:
    """A bar of BAR_WIDTH eighths-of-a-cell blocks; any non-zero value shows at least a sliver."""
    eighths = round(max(0.0, min(1.0, fraction)) * BAR_WIDTH * 8)
    if fraction > 0:
        eighths = max(eighths, 1)
    full, rest = divmod(eighths, 8)
    return "█" * full + ("" if rest == 0 else " ▏▎▍▌▋▊▉"[rest])
