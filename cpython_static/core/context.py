"""What a command works with, made once at its start: the cache, where its logs go and
the runner that logs every external command there.

ONE rule for logs: ``--log-dir DIR`` when given, else ``<cache>/logs/<run id>``, the run
id being the start time, the command and the process id
(``20261201-093926-build-9117``).  Every command prints it ("logs in …") and its JSON
carries it (``logs``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cpython_static.core.cache import Cache
from cpython_static.core.runner import Runner


def run_id(command: str) -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"-{command}-{os.getpid()}"


def log_dir_for(cache: Cache, command: str, given: str | Path | None = None) -> Path:
    """The one log-directory rule (see the module docstring)."""
    return Path(given).resolve() if given else cache.root / "logs" / run_id(command)


@dataclass
class Context:
    command: str
    cache: Cache
    log_dir: Path
    runner: Runner

    @classmethod
    def create(
        cls,
        command: str,
        *,
        cache_dir: str | Path | None = None,
        log_dir: str | Path | None = None,
        on_step: Callable | None = None,
    ) -> Context:
        cache = Cache(Path(cache_dir).resolve() if cache_dir else None)
        logs = log_dir_for(cache, command, log_dir)
        return cls(command, cache, logs, Runner(logs, on_step=on_step))
