"""The machine a run came from, the printed table and the JSON file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .common import Row

__all__ = ["figure", "machine", "table", "write"]


def machine() -> dict[str, Any]:
    """What a figure depends on besides the code: CPU, cores, Python, load."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_mb": _memory_mb(),
        # Other work on the machine shows here; timings are the least of many runs for it.
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "commit": _commit(),
    }


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_mb() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return None


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def figure(value: float | None) -> str:
    """Three significant digits or so, thousands separated; "—" when there is none."""
    if value is None:
        return "—"
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


_STYLES = {"ok": "green", "over": "bold red", "n/a": "yellow"}


def table(sections: Sequence[tuple[str, Sequence[Row]]], title: str) -> Table:
    grid = Table(title=title, title_justify="left")
    grid.add_column("measure")
    grid.add_column("figure", justify="right")
    grid.add_column("unit")
    grid.add_column("budget")
    grid.add_column("verdict")
    for n, (name, rows) in enumerate(sections):
        if n:
            grid.add_section()
        grid.add_row(f"[bold]{escape(name)}[/bold]", "", "", "", "")
        for row in rows:
            style = _STYLES.get(row.verdict, "")
            verdict = f"[{style}]{row.verdict}[/{style}]" if style else row.verdict
            measure = escape(row.measure)
            if row.note:
                measure += f"\n[dim]{escape(row.note)}[/dim]"
            grid.add_row(measure, figure(row.figure), row.unit, escape(row.budget), verdict)
    return grid


def markdown(sections: Sequence[tuple[str, Sequence[Row]]]) -> str:
    """The same table as Markdown, for the README."""
    lines = ["| measure | figure | unit | budget | verdict |", "| --- | ---: | --- | --- | --- |"]
    for name, rows in sections:
        lines.append(f"| **{name}** | | | | |")
        for row in rows:
            lines.append(
                f"| {row.measure} | {figure(row.figure)} | {row.unit} | {row.budget} "
                f"| {row.verdict} |"
            )
    return "\n".join(lines)


def write(
    path: Path,
    sections: Sequence[tuple[str, Sequence[Row]]],
    info: dict[str, Any],
    seconds: dict[str, float],
    quick: bool,
) -> None:
    document = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "argv": sys.argv[1:],
        "machine": info,
        "seconds": seconds,
        "results": [asdict(row) | {"section": name} for name, rows in sections for row in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def console() -> Console:
    # Off a terminal rich assumes 80 columns, which folds every measure in two.
    return Console(width=max(Console().width, 130))
