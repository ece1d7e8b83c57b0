"""Shared test fixtures."""

from pathlib import Path

import pytest

from cpython_static.build.sources import Fetcher, load_lock
from cpython_static.core.cache import Cache
from cpython_static.core.runner import Runner


@pytest.fixture(scope="session")
def release_tarball(tmp_path_factory):
    """The pinned release tarball of a CPython version, through the real providers
    (cache, then upstream, then Debian source packages), shared via the user cache."""
    lock = load_lock()
    fetcher = Fetcher(Cache(), Runner(tmp_path_factory.mktemp("fetch-logs")))

    def get(version: str) -> Path:
        return fetcher.fetch(lock.get("cpython", version))

    return get


@pytest.fixture(scope="session")
def lock_source_named(release_tarball):
    """The tarball of the CPython release known under ``filename`` (upstream or Debian name)."""
    lock = load_lock()

    def get(filename: str) -> Path:
        for src in lock.sources.values():
            if src.kind == "cpython" and filename in src.filenames:
                return release_tarball(src.version)
        raise LookupError(f"{filename} is not a CPython release in the lock")

    return get


@pytest.fixture(scope="session")
def upstream_repo(tmp_path_factory, release_tarball):
    """A local stand-in for CPython's git repository, made from the real release tarballs:
    one branch whose commits are the whole trees of 3.11.2, 3.13.5 and 3.13.15 in that
    order, each tagged (annotated, like upstream's tags) v3.11.2, v3.13.5, v3.13.15."""
    import shutil

    from cpython_static.build.sources import extract
    from cpython_static.core.git import GIT_ENV

    base = tmp_path_factory.mktemp("upstream")
    repo = base / "cpython"
    repo.mkdir()
    runner = Runner(base / "logs")
    # Fixed identity and dates: the fixture does not depend on the machine's git setup.
    env = {
        **GIT_ENV,
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@localhost",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@localhost",
    }

    def git(*args, **kw):
        return runner.run(f"git {args[0]}", ["git", *args], cwd=repo, env=env, **kw)

    git("init", "--quiet", "--initial-branch=main")
    # No automatic gc: it would detach and repack while the tests read the repository.
    git("config", "gc.auto", "0")
    for n, version in enumerate(["3.11.2", "3.13.5", "3.13.15"]):
        # Replace the whole tree: what a release removed must disappear from the commit.
        for child in repo.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        tree = extract(release_tarball(version), base / f"tree-{version}")
        for child in tree.iterdir():
            child.rename(repo / child.name)
        tree.rmdir()
        # -f: the tarballs ship a .gitignore that would hide some of their own files.
        git("add", "-A", "-f", ".")
        stamp = f"@{1700000000 + n * 86400} +0000"
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        git("commit", "--quiet", "--no-verify", "-m", f"Python {version}")
        git("tag", "-a", "-m", f"Python {version}", f"v{version}")
    # One pack of whole objects, quickly compressed: every fetch from this repository then
    # copies stored objects instead of compressing ~5000 loose ones (10 s -> 2 s per fetch).
    git("config", "pack.compression", "1")
    git("repack", "-a", "-d", "-q", "--window=0")
    return repo
