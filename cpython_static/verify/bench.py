"""Start-up and size figures for a built interpreter (the README's figures come from
here; speed is measured, never asserted in tests).

Each command is run ``runs`` times after ``warmup`` runs; wall-clock times of whole
processes, as hyperfine would take them (no shell in between).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "python -I -S -c pass": ["-I", "-S", "-c", "pass"],
    "python -c 'import ssl, sqlite3, json'": ["-c", "import ssl, sqlite3, json"],
}


def time_command(argv: list[str], runs: int, warmup: int) -> dict:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    for _ in range(warmup):
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return {
        "median_ms": round(statistics.median(times) * 1000, 2),
        "mean_ms": round(statistics.fmean(times) * 1000, 2),
        "min_ms": round(min(times) * 1000, 2),
        "runs": runs,
    }


def bench(binary: Path, against: str | None = "python3", runs: int = 30, warmup: int = 3) -> dict:
    pythons = {"static": str(binary)}
    host = shutil.which(against) if against else None
    if host:
        # The interpreter itself, not a launcher script in front of it (pyenv's shims
        # would add their own start-up to every run).
        pythons["host"] = (
            subprocess.run(
                [host, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, check=True
            ).stdout.strip()
            or host
        )
    result = {"binary": str(binary), "size_bytes": binary.stat().st_size, "pythons": {}, "startup": {}}
    for label, exe in pythons.items():
        version = subprocess.run(
            [exe, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True, check=True
        ).stdout.strip()
        result["pythons"][label] = {"path": exe, "version": version}
        for name, args in COMMANDS.items():
            result["startup"].setdefault(name, {})[label] = time_command([exe, *args], runs, warmup)
    return result


def render(result: dict) -> str:
    lines = [
        f"{result['binary']}: {result['size_bytes']:,} bytes ({result['size_bytes'] / 1e6:.1f} MB)",
        "",
        "| command | " + " | ".join(f"{k} {v['version']} (median ms)" for k, v in result["pythons"].items()) + " |",
        "|---|" + "---|" * len(result["pythons"]),
    ]
    for name, per in result["startup"].items():
        lines.append(f"| `{name}` | " + " | ".join(f"{per[k]['median_ms']}" for k in result["pythons"]) + " |")
    return "\n".join(lines)
