"""Writing so that nothing is ever half there, and timing steps.

``atomic_write``: the new content goes to a temporary file beside the target, is
flushed to disk, then renamed over it: a reader, a crash or a kill -9 sees the old file
or the new one, never a mix.  ``swap_dir``: a directory replaced by a complete new one
(two renames; the old one is removed after).  ``StepTimer``: how long each named step
took, into a dict a report carries."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def atomic_write(path: Path, data: str | bytes, *, mode: int | None = None) -> Path:
    """Replace ``path`` with ``data`` (text is written as UTF-8) in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def swap_dir(new: Path, dest: Path) -> None:
    """Put the complete directory ``new`` where ``dest`` is (or a file, in one rename)."""
    new, dest = Path(new), Path(dest)
    if new.is_dir() and dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(dest, old)
        os.rename(new, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, dest)


class StepTimer:
    """``with timer("fetch"): …`` records the seconds in ``timer.steps["fetch"]`` (also
    when the step raises), announcing the step to ``progress`` first when given."""

    def __init__(self, steps: dict | None = None, *, digits: int = 2, progress: Callable[[str], None] | None = None):
        self.steps = {} if steps is None else steps
        self.digits, self.progress = digits, progress

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self.progress is not None:
            self.progress(name)
        started = time.monotonic()
        try:
            yield
        finally:
            self.steps[name] = round(time.monotonic() - started, self.digits)
