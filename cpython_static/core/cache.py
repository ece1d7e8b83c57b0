"""The content-addressed cache: downloaded sources and built artifacts.

Layout under the cache root (``$CPYTHON_STATIC_CACHE``, default ``~/.cache/cpython-static``):

    sources/<sha256>/<file>       a pinned source, stored under its own digest
    <kind>/<key>/                 a built artifact (libs, cpython, tools), key = sha256 of
                                  everything that went into it; holds ``manifest.json``
    tmp/                          work in progress; never read as a result

An entry only becomes visible by one ``rename`` of a complete directory, so an
interrupted or failed build never leaves a half-written entry.  Concurrent builders of the
same key serialise on a lock file and the second one reuses the first one's result.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_VAR = "CPYTHON_STATIC_CACHE"
MANIFEST = "manifest.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


# What the cache root is called in everything that ships (compiler file-prefix maps, the
# archive's sysconfig data): a fixed name, so where a builder keeps its cache (or its
# $HOME) does not change the bytes of a build.  Not a path that exists anywhere.
MAPPED_ROOT = "/cpython-static-cache"


def default_root() -> Path:
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(xdg) / "cpython-static"


def digest_of(payload: Any) -> str:
    """A stable sha256 of a JSON-able payload (dict key order does not matter)."""
    data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Entry:
    path: Path
    manifest: dict
    reused: bool


class Cache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.tmp = self.root / "tmp"

    # -- plumbing ---------------------------------------------------------------------
    def scratch(self, prefix: str) -> Path:
        """A fresh private directory on the cache's filesystem (so rename() is atomic).

        Its name carries the owner's pid, so ``sweep`` can tell leftovers of a process
        that was killed outright (kill -9, power loss) from work in progress."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{prefix}.pid{os.getpid()}.", dir=self.tmp))

    def sweep(self) -> list[Path]:
        """Remove scratch directories whose owning process is gone."""
        removed = []
        if not self.tmp.is_dir():
            return removed
        for d in self.tmp.iterdir():
            m = re.search(r"\.pid(\d+)\.", d.name)
            if m and _alive(int(m.group(1))):
                continue
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
        return removed

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[None]:
        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{name}.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- sources ------------------------------------------------------------------------
    def source_path(self, sha256: str, filename: str) -> Path:
        return self.root / "sources" / sha256 / filename

    def store_source(self, downloaded: Path, sha256: str, filename: str) -> Path:
        """Move an already-verified download into the cache under its digest."""
        final = self.source_path(sha256, filename)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(downloaded, final)
        return final

    # -- built artifacts ------------------------------------------------------------------
    def entry_path(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    def lookup(self, kind: str, key: str) -> Entry | None:
        path = self.entry_path(kind, key)
        manifest = path / MANIFEST
        if manifest.is_file():
            return Entry(path, json.loads(manifest.read_text()), reused=True)
        return None

    def build(
        self,
        kind: str,
        key: str,
        produce: Callable[[Path, Path], dict],
    ) -> Entry:
        """Return the entry for ``key``, producing it when absent.

        ``produce(stage, final)`` fills ``stage`` (a private directory) and returns the
        manifest; ``final`` is the path the entry will have, for tools that bake their
        install prefix into what they write.  Only a complete stage is renamed into place.
        """
        found = self.lookup(kind, key)
        if found:
            return found
        with self.locked(f"{kind}-{key}"):
            found = self.lookup(kind, key)
            if found:  # another process finished it while we waited
                return found
            final = self.entry_path(kind, key)
            stage = self.scratch(f"{kind}-{key[:12]}")
            try:
                manifest = produce(stage, final)
                manifest = dict(manifest, key=key, kind=kind, created=time.time())
                (stage / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
                final.parent.mkdir(parents=True, exist_ok=True)
                if final.exists():  # a manifest-less leftover from a crash before rename
                    shutil.rmtree(final)
                os.rename(stage, final)
            except BaseException:
                shutil.rmtree(stage, ignore_errors=True)
                raise
            return Entry(final, manifest, reused=False)

    def clean_tmp(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
