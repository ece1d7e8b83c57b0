"""Pinned sources: the lock, the providers that can give a source, and extraction.

Fetch order: the cache → a mirror the user names (``--mirror`` or ``$CPYTHON_STATIC_MIRROR``,
a directory or a base URL) → the upstream URLs → the Debian source package, or for a
wheel, ``pip download`` from the package index pip is configured with.  Every
candidate is checked against the lock's digests before anything uses it; a mismatch is
deleted and reported.  When no provider can give a source, one error names each provider
tried and why it failed.
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cpython_static.build import debian
from cpython_static.core.cache import Cache, sha256_file
from cpython_static.core.errors import WorkFailed
from cpython_static.core.runner import Runner, StepFailed
from cpython_static.versions import release_sort_key

MIRROR_ENV = "CPYTHON_STATIC_MIRROR"
DOWNLOAD_TIMEOUT = 60


class SourceError(WorkFailed, RuntimeError):
    """No provider gave the pinned bytes; the message lists every one tried."""


@dataclass(frozen=True)
class DebianOrig:
    package: str
    version: str
    suite: str
    file: str
    sha256: str


@dataclass(frozen=True)
class Source:
    kind: str  # "cpython", "lib" or "tool"
    name: str
    version: str
    license: str
    file: str
    sha256: str
    size: int | None
    urls: tuple[str, ...]
    debian: DebianOrig | None
    pypi: str | None = None  # project name on the package index (wheels)
    digest_from: str | None = None  # the public record of size/sha256; None: measured here

    @property
    def digests(self) -> dict[str, str]:
        """Accepted digests and the file name each is known under."""
        accepted = {self.sha256: self.file}
        if self.debian:
            accepted.setdefault(self.debian.sha256, self.debian.file)
        return accepted

    @property
    def filenames(self) -> list[str]:
        """Every name the artifact goes by (a mirror may hold either)."""
        names = [self.file] + ([self.debian.file] if self.debian else [])
        return list(dict.fromkeys(names))

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass
class Lock:
    sources: dict[str, Source] = field(default_factory=dict)

    def cpython_versions(self) -> list[str]:
        vs = [s.version for s in self.sources.values() if s.kind == "cpython"]
        return sorted(vs, key=release_sort_key)

    def get(self, kind: str, name: str) -> Source:
        try:
            return self.sources[f"{kind}:{name}"]
        except KeyError:
            known = sorted(s.name for s in self.sources.values() if s.kind == kind)
            raise SourceError(f"no {kind} source '{name}' in the lock; known: {', '.join(known)}")


def load_lock(path: Path | None = None) -> Lock:
    if path is None:
        data = tomllib.loads(resources.files("cpython_static").joinpath("sources.lock.toml").read_text())
    else:
        data = tomllib.loads(Path(path).read_text())
    lock = Lock()
    for kind, table in data.items():
        for name, e in table.items():
            deb = e.get("debian")
            src = Source(
                kind=kind,
                name=name,
                version=e["version"],
                license=e["license"],
                file=e["file"],
                sha256=e["sha256"].lower(),
                size=e.get("size"),
                urls=tuple(e.get("urls", ())),
                debian=DebianOrig(**{k: deb[k] for k in ("package", "version", "suite", "file", "sha256")})
                if deb
                else None,
                pypi=e.get("pypi"),
                digest_from=e.get("digest_from"),
            )
            lock.sources[src.id] = src
    return lock


@dataclass
class Attempt:
    provider: str
    what: str
    why: str


class Fetcher:
    """Gets pinned sources into the cache, trying each provider in turn."""

    def __init__(
        self,
        cache: Cache,
        runner: Runner,
        mirror: str | None = None,
        *,
        use_upstream: bool = True,
        use_debian: bool = True,
    ):
        self.cache = cache
        self.runner = runner
        self.mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
        self.use_upstream = use_upstream
        self.use_debian = use_debian

    def fetch(self, src: Source) -> Path:
        attempts: list[Attempt] = []
        for digest, filename in src.digests.items():
            cached = self.cache.source_path(digest, filename)
            if cached.is_file():
                if sha256_file(cached) == digest:
                    return cached
                cached.unlink()
                attempts.append(Attempt("cache", str(cached), "digest mismatch; deleted"))
        providers = [self._from_mirror]
        if self.use_upstream:
            providers.append(self._from_upstream)
        if self.use_debian and src.debian:
            providers.append(self._from_debian)
        if self.use_upstream and src.pypi:
            providers.append(self._from_pypi)
        for provider in providers:
            got = provider(src, attempts)
            if got is not None:
                return got
        if not self.mirror:
            attempts.insert(0, Attempt("mirror", "-", f"none named (--mirror or ${MIRROR_ENV})"))
        lines = "\n".join(f"  - {a.provider}: {a.what}: {a.why}" for a in attempts)
        raise SourceError(f"could not get {src.name} {src.version} ({src.file}, sha256 {src.sha256}); tried:\n{lines}")

    # -- verification shared by every provider ---------------------------------------------
    def _accept(self, src: Source, candidate: Path, provider: str, what: str, attempts) -> Path | None:
        digest = sha256_file(candidate)
        if digest not in src.digests:
            candidate.unlink()
            attempts.append(Attempt(provider, what, f"sha256 {digest} is not a pinned digest; file deleted"))
            return None
        return self.cache.store_source(candidate, digest, src.digests[digest])

    def _download(self, url: str, dest: Path) -> None:
        req = urllib.request.Request(url, headers={"User-Agent": "cpython-static"})
        with urllib.request.urlopen(req, timeout=DOWNLOAD_TIMEOUT) as resp, open(dest, "wb") as out:
            shutil.copyfileobj(resp, out)

    # -- providers ------------------------------------------------------------------------
    def _try(self, src: Source, filename: str, provider: str, what: str, obtain, attempts) -> Path | None:
        """Put one candidate into a scratch file with ``obtain(target)`` and check it."""
        scratch = self.cache.scratch("fetch")
        try:
            target = scratch / filename
            try:
                obtain(target)
            except (OSError, urllib.error.URLError) as exc:
                attempts.append(Attempt(provider, what, str(getattr(exc, "reason", exc))))
                return None
            return self._accept(src, target, provider, what, attempts)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _from_mirror(self, src: Source, attempts) -> Path | None:
        if not self.mirror:
            return None
        for filename in src.filenames:
            if "://" in self.mirror:
                url = self.mirror.rstrip("/") + "/" + filename
                got = self._try(src, filename, "mirror", url, lambda t, u=url: self._download(u, t), attempts)
            else:
                path = Path(self.mirror).expanduser() / filename
                if not path.is_file():
                    attempts.append(Attempt("mirror", str(path), "no such file"))
                    continue
                got = self._try(src, filename, "mirror", str(path), lambda t, p=path: shutil.copyfile(p, t), attempts)
            if got:
                return got
        return None

    def _from_upstream(self, src: Source, attempts) -> Path | None:
        if not src.urls:
            attempts.append(Attempt("upstream", "-", "the lock lists no upstream URL for this artifact"))
        for url in src.urls:
            got = self._try(src, src.file, "upstream", url, lambda t, u=url: self._download(u, t), attempts)
            if got:
                return got
        return None

    def _from_pypi(self, src: Source, attempts) -> Path | None:
        what = f"pip download {src.pypi}=={src.version}"
        scratch = self.cache.scratch("pip")
        try:
            self.runner.run(
                what,
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary",
                    ":all:",
                    # Every wheel in the lock is pure (it runs inside interpreters of
                    # other versions and CPUs): a project that also has compiled wheels
                    # (Cython) must give its py3-none-any one.
                    "--platform",
                    "any",
                    "--implementation",
                    "py",
                    "--disable-pip-version-check",
                    "--dest",
                    str(scratch),
                    f"{src.pypi}=={src.version}",
                ],
            )
            got = scratch / src.file
            if not got.is_file():
                attempts.append(Attempt("pypi", what, f"pip did not produce {src.file}"))
                return None
            return self._accept(src, got, "pypi", what, attempts)
        except StepFailed as exc:
            attempts.append(Attempt("pypi", what, f"{exc.tail.splitlines()[-1:] or ['failed']} (log: {exc.log})"))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return None

    def _from_debian(self, src: Source, attempts) -> Path | None:
        deb = src.debian
        what = f"apt-get source {deb.package}={deb.version} ({deb.suite})"
        scratch = self.cache.scratch("apt")
        try:
            debian.ensure_deb_src(self.runner, suites=[deb.suite])
            orig = debian.download_orig(self.runner, deb.package, deb.version, deb.file, scratch)
            return self._accept(src, orig, "debian", what, attempts)
        except StepFailed as exc:
            attempts.append(Attempt("debian", what, f"{_apt_errors(exc.tail)} (log: {exc.log})"))
        except (debian.AptUnavailable, FileNotFoundError, PermissionError) as exc:
            attempts.append(Attempt("debian", what, str(exc)))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return None


def extract(archive: Path, dest: Path) -> Path:
    """Unpack ``archive`` into the new directory ``dest``, dropping the top-level directory.

    Unpacks next to ``dest`` first and renames, so ``dest`` is complete or absent.
    """
    dest = Path(dest)
    tmp = dest.with_name(dest.name + ".unpacking")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            tops = {m.name.split("/", 1)[0] for m in members}
            strip = len(tops) == 1 and any("/" in m.name for m in members)
            if strip:
                for m in members:
                    m.name = m.name.split("/", 1)[1] if "/" in m.name else "."
                    if m.islnk():  # hard links name their target by its archive path
                        m.linkname = m.linkname.split("/", 1)[1] if "/" in m.linkname else "."
                members = [m for m in members if m.name != "."]
            # The "data" filter refuses absolute paths, links out of the tree, devices.
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, members=members, filter="data")
            else:  # Python 3.11.0–3.11.3
                for m in members:
                    if m.name.startswith("/") or ".." in Path(m.name).parts:
                        raise SourceError(f"{archive}: unsafe member {m.name!r}")
                tar.extractall(tmp, members=members)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _apt_errors(tail: str) -> str:
    """apt's own error lines ("E: Failed to fetch …  404  Not Found"), else the last line."""
    errors = [line.strip() for line in tail.splitlines() if line.startswith("E: ")]
    lines = errors or tail.splitlines()[-1:]
    return "; ".join(lines) if lines else "failed"
