"""The mirror of CPython's git repository, as `rebase TAG` and `watch` need it.

One persistent bare mirror per source lives in the cache (``git/<sha256(url)[:16]>.git``).
It only ever holds the tags asked for, each fetched alone and shallow (``--depth=1``): a
release's tree is all a rebase needs, and CPython's full history is hundreds of MiB.  A tag
the mirror already has is answered without contacting the source, so once fetched a
release works offline.  Work happens in ``git worktree``s of the mirror: ordinary
checkouts where commits can be made, sharing the mirror's objects.

Every git command goes through the Runner, so each one has a log.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

from cpython_static.core.cache import Cache
from cpython_static.core.errors import UsageError
from cpython_static.core.git import git
from cpython_static.core.runner import Runner, StepFailed
from cpython_static.versions import Release, VersionError

DEFAULT_UPSTREAM = "https://github.com/python/cpython.git"


# The identity commits in a worktree are made under, so they work where git has none.
IDENTITY = {"user.name": "cpython-static", "user.email": "cpython-static@localhost"}

LS_REMOTE_TIMEOUT = 120  # seconds: listing tags is one small round trip


class MirrorError(UsageError):
    """An unknown tag, an unreachable or broken repository."""


def tag_version(tag: str) -> tuple[int, int, int, int, int] | None:
    """A sort key for a release tag (v3.13.15, v3.15.0rc1, the old two-part v3.0), or None
    for anything that is not one (a "..", a space, a leading "-" git would read as an
    option: refused before git ever sees it).  Rank 3 (key[3]) is a final release."""
    release = Release.lenient(tag, tag=True) if isinstance(tag, str) else None
    return release.sort_key[:5] if release is not None else None


def check_tag(tag: str) -> str:
    try:
        Release.parse(tag, tag=True)
    except VersionError:
        raise MirrorError(
            f"{tag!r} is not a CPython release tag: expected the form v3.13.15, v3.15.0 or v3.15.0rc1"
        ) from None
    return tag


def source_url(source: str) -> str:
    """A URL for git: local paths become file:// URLs (git ignores --depth for plain paths)."""
    # A URL, or scp-like [user@]host:path (git's own rule: a colon before any slash).
    if "://" in source or re.match(r"^[^/]+:", source):
        return source
    return Path(source).expanduser().resolve().as_uri()


def _git_error(exc: StepFailed) -> str:
    """git's own words for what went wrong: its first fatal/error line (the later ones
    are generic, "Could not read from remote repository")."""
    lines = [line.strip() for line in exc.tail.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]  # not the log's header
    wanted = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return wanted[0] if wanted else (lines or ["(no output)"])[-1]


class Mirror:
    """The CPython repository at ``source`` (URL or local path; default: the official one)."""

    def __init__(self, cache: Cache, runner: Runner, source: str | None = None):
        self.cache = cache
        self.runner = runner
        self.source = source or DEFAULT_UPSTREAM
        self.url = source_url(self.source)
        # Keyed by the URL, so "./cpython" and "/abs/cpython" share one mirror.
        key = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        self.mirror = cache.root / "git" / f"{key}.git"
        self._lock = f"git-{key}"

    # -- plumbing -------------------------------------------------------------------------
    def git(self, step: str, *args: str | Path, cwd: Path | None = None, **kw):
        """Run ``git ARGS`` in ``cwd`` (default: the mirror) through the runner."""
        return git(self.runner, step, *args, cwd=cwd or self.mirror, **kw)

    def _ensure_mirror(self) -> None:
        """Create the bare mirror on first use; built aside and renamed in, so a crash
        never leaves a half-made one."""
        if self.mirror.is_dir():
            return
        stage = self.cache.scratch("git-mirror")
        try:
            self.git("git init mirror", "init", "--bare", "--quiet", "--initial-branch=main", stage, cwd=stage)
            self.git("git remote add", "remote", "add", "origin", self.url, cwd=stage)
            # Only the tags we name: never the whole tag list.  Worktrees share this config:
            # commits in them get an identity and no signing, on any machine.
            settings = {"remote.origin.tagOpt": "--no-tags", **IDENTITY, "commit.gpgSign": "false"}
            for name, value in settings.items():
                self.git(f"git config {name}", "config", name, value, cwd=stage)
            self.mirror.parent.mkdir(parents=True, exist_ok=True)
            stage.rename(self.mirror)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise

    def _clear_stale_locks(self) -> None:
        """git's own lock files left in the mirror by a git killed outright (kill -9 of a
        cron run): with our lock held no git of ours is working in it, so they are stale,
        and each would fail every later fetch ("shallow.lock: File exists")."""
        for lock in [*self.mirror.glob("*.lock"), *(self.mirror / "refs").rglob("*.lock")]:
            lock.unlink(missing_ok=True)

    def _forget_stale_worktrees(self) -> None:
        """Registrations of worktrees whose directory is gone.  `git worktree prune` keeps
        the ones marked locked, and `git worktree add` marks its new worktree locked until
        it is done: one killed outright leaves a registration that blocks every later add
        at that path ("missing but locked worktree").  Adds happen under our lock, so with
        it held such a registration is stale; this private mirror has no other locks."""
        admin = self.mirror / "worktrees"
        if not admin.is_dir():
            return
        for entry in admin.iterdir():
            gitdir = entry / "gitdir"
            try:
                checkout = Path(gitdir.read_text().strip()).parent
            except OSError:
                checkout = None
            if checkout is None or not checkout.exists():
                shutil.rmtree(entry, ignore_errors=True)

    def _local_commit(self, tag: str) -> str | None:
        """The commit ``tag`` names in the mirror, or None if the mirror lacks it."""
        if not self.mirror.is_dir():
            return None
        res = self.git(
            f"git rev-parse {tag}",
            "rev-parse",
            "--verify",
            "--quiet",
            f"refs/tags/{tag}^{{commit}}",
            capture=True,
            check=False,
        )
        return res.output.strip() if res.returncode == 0 else None

    # -- the API --------------------------------------------------------------------------
    def fetch(self, tag: str) -> str:
        """Make sure the mirror has ``tag`` (fetching that tag alone, shallow); its commit sha."""
        check_tag(tag)
        if sha := self._local_commit(tag):
            return sha
        with self.cache.locked(self._lock):
            if sha := self._local_commit(tag):  # another process fetched it meanwhile
                return sha
            self._ensure_mirror()
            self._clear_stale_locks()
            ref = f"refs/tags/{tag}"
            try:
                self.git(
                    f"git fetch {tag}",
                    "fetch",
                    "--depth=1",
                    "--no-tags",
                    "--no-write-fetch-head",
                    "origin",
                    f"{ref}:{ref}",
                )
            except StepFailed as exc:
                raise self._explain_fetch_failure(tag, exc) from None
        sha = self._local_commit(tag)
        if sha is None:  # a tag pointing at a tree or a blob: not a release
            raise MirrorError(f"tag {tag} of {self.source} does not name a commit")
        return sha

    def _explain_fetch_failure(self, tag: str, exc: StepFailed) -> MirrorError:
        """Tell an unreachable source from a missing tag: ask the source for its tag list."""
        try:
            listing = self.git(
                "git ls-remote --tags", "ls-remote", "--tags", "origin", capture=True, timeout=LS_REMOTE_TIMEOUT
            )
        except StepFailed as ls_exc:
            return MirrorError(
                f"cannot reach the CPython repository {self.source}: {_git_error(ls_exc)}\n"
                f"  (log: {ls_exc.log})\n"
                f"  Name a reachable one with --upstream PATH|URL (a local clone of "
                f"{DEFAULT_UPSTREAM} works offline)."
            )
        tags = {
            line.split("\t", 1)[1].removeprefix("refs/tags/").removesuffix("^{}")
            for line in listing.output.splitlines()
            if "\t" in line
        }
        if tag in tags:  # reachable and the tag is there: something else broke
            return MirrorError(f"fetching tag {tag} from {self.source} failed: {_git_error(exc)}\n  (log: {exc.log})")
        hint = ""
        if near := self._near_tags(tag, tags):
            hint = f"\n  Tags there that look close: {', '.join(near)}"
        return MirrorError(f"tag {tag} does not exist in {self.source}{hint}")

    @staticmethod
    def _near_tags(tag: str, tags: set[str], count: int = 5) -> list[str]:
        """The latest few releases of the same X.Y as ``tag``, else the latest few of all."""
        releases = sorted((t for t in tags if tag_version(t)), key=tag_version)
        same = [t for t in releases if tag_version(t)[:2] == tag_version(tag)[:2]]
        return (same or releases)[-count:]

    def add_worktree(self, tag: str, dest: Path) -> Path:
        """A checkout of ``tag`` at ``dest`` (detached HEAD) where commits can be made."""
        check_tag(tag)
        dest = Path(dest)
        if dest.exists() or dest.is_symlink():
            raise MirrorError(f"cannot check out {tag} at {dest}: it already exists")
        dest = dest.resolve()
        sha = self.fetch(tag)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.cache.locked(self._lock):
            self._clear_stale_locks()
            self._forget_stale_worktrees()
            self.git(f"git worktree add {tag}", "worktree", "add", "--detach", "--quiet", dest, sha)
        return dest

    def remove_worktree(self, dest: Path) -> None:
        """Delete the checkout at ``dest`` and forget it (local changes are discarded)."""
        dest = Path(dest).resolve()
        with self.cache.locked(self._lock):
            if dest.exists():
                self.git("git worktree remove", "worktree", "remove", "--force", dest)
            # Also forgets a worktree whose directory someone deleted by hand.
            self.git("git worktree prune", "worktree", "prune")
