"""What the user sees: progress lines on stderr, and the command's context built from
its common options (--cache, --log-dir) with the one log-directory rule."""

from __future__ import annotations

import sys
import time

from cpython_static.core.context import Context
from cpython_static.core.runner import StepResult


class Reporter:
    """Human progress on stderr: one line per step with the elapsed time."""

    def __init__(self, quiet: bool = False):
        self.started = time.monotonic()
        self.quiet = quiet

    def line(self, text: str) -> None:
        if not self.quiet:
            print(f"[{time.monotonic() - self.started:7.1f}s] {text}", file=sys.stderr, flush=True)

    def step(self, result: StepResult) -> None:
        status = "ok" if result.returncode == 0 else f"exit {result.returncode}"
        self.line(f"{result.step} ({result.duration_s:.1f}s, {status})")


def context(args, command: str, reporter: Reporter) -> Context:
    """The command's Context from its options; logs per core.context's one rule."""
    return Context.create(
        command,
        cache_dir=getattr(args, "cache", None),
        log_dir=getattr(args, "log_dir", None),
        on_step=reporter.step,
    )
