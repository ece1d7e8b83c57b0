"""git, run one way: the environment every git command gets, and the user's checkout.

Every git command goes through the Runner (so each has a log) with ``GIT_ENV``, or with
``USER_GIT_ENV`` where the user's own configuration must apply (their identity, their
credentials for a push).  ``UserRepo`` is a checkout that belongs to the user
(``upstream cpython --repo``, ``upstream nixpkgs --nixpkgs``): it is only read, until a
branch is created — never over an existing one — or pushed on request.
"""

from __future__ import annotations

from pathlib import Path

from cpython_static.core.errors import UsageError
from cpython_static.core.runner import Runner, StepFailed

# What every git command runs with.  No prompt may wait for a password that nobody will
# type; the system and user configuration stay out (a user's url.insteadOf, fetch.*,
# commit.gpgSign … would change what we do).  Variables pointing git at another
# repository (set when running inside a git hook, say) are removed.
GIT_ENV: dict[str, str | None] = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    # A stalled transfer (under 1 KB/s for a minute) fails instead of hanging forever.
    "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
    "GIT_HTTP_LOW_SPEED_TIME": "60",
    # No editor ever opens (every message is given) and no command refreshes an index it
    # only reads (`git status` would otherwise rewrite a user's index file).
    "GIT_EDITOR": "true",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_DIR": None,
    "GIT_WORK_TREE": None,
    "GIT_INDEX_FILE": None,
    "GIT_COMMON_DIR": None,
    "GIT_OBJECT_DIRECTORY": None,
}

# What git runs with where the *user's* configuration must apply (their identity for the
# commits they will submit, their credentials and url rewrites for a push to their fork):
# GIT_ENV without its config isolation; still no prompt waits for a password.
USER_GIT_ENV: dict[str, str | None] = {**GIT_ENV, "GIT_CONFIG_NOSYSTEM": None, "GIT_CONFIG_GLOBAL": None}

# In a user's checkout: no opportunistic index refresh (`git status` would otherwise
# rewrite the user's index file while only reading it), no editor (messages are given).
# The fixed identity of the commits made in our own worktrees (they only carry the
# series' patches; nothing of the user's is involved).
WORKTREE_IDENTITY_ENV = {
    "GIT_AUTHOR_NAME": "cpython-static",
    "GIT_AUTHOR_EMAIL": "cpython-static@localhost",
    "GIT_COMMITTER_NAME": "cpython-static",
    "GIT_COMMITTER_EMAIL": "cpython-static@localhost",
}


def git(runner: Runner, step: str | None, *args: str, cwd: Path | None = None, env: dict | None = None, **kw):
    """``git ARGS`` in ``cwd`` through ``runner`` (so it has a log) with GIT_ENV plus
    ``env``: the one way git is run.  ``step`` defaults to ``git SUBCOMMAND``."""
    return runner.run(step or f"git {args[0]}", ["git", *args], cwd=cwd, env={**GIT_ENV, **(env or {})}, **kw)


class UserRepo:
    """A git checkout that belongs to the user; ``error`` is the exception raised for bad
    input (a UsageError subclass of the command), ``option`` the flag that named it."""

    def __init__(self, path: Path, runner: Runner, *, option: str, error: type[UsageError] = UsageError):
        self.runner, self.option, self.error = runner, option, error
        given = path
        path = Path(path).expanduser()
        if not path.is_dir():
            raise error(f"{option} {given}: no such directory")
        res = self.git("git rev-parse (is it a checkout?)", "rev-parse", "--show-toplevel", cwd=path, check=False)
        if res.returncode != 0 or not res.output.strip():
            raise error(
                f"{option} {given} is not a git checkout (git rev-parse --show-toplevel failed; log: {res.log})"
            )
        self.root = Path(res.output.strip()).resolve()

    # -- plumbing -------------------------------------------------------------------------
    def git(self, step: str, *args: str, cwd: Path | None = None, env: dict | None = None, **kw):
        kw.setdefault("capture", True)
        return git(self.runner, step, *args, cwd=cwd or self.root, env=env, **kw)

    def out(self, step: str, *args: str, **kw) -> str:
        return self.git(step, *args, **kw).output.strip()

    # -- reading --------------------------------------------------------------------------
    def resolve(self, ref: str, *, option: str = "--base", hint: str = "") -> str:
        """The commit ``ref`` names (a branch, tag or sha), refusing option-like names."""
        if not ref or ref.startswith("-"):
            raise self.error(f"{option} {ref!r} is not a branch, tag or commit")
        res = self.git(
            f"git rev-parse {ref}",
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{ref}^{{commit}}",
            check=False,
        )
        if res.returncode != 0:
            raise self.error(f"{self.root} has no commit {ref!r} (give {option} a branch, tag or sha){hint}")
        return res.output.strip()

    def has(self, rev: str, path: str) -> bool:
        return self.git(f"look for {path}", "cat-file", "-e", f"{rev}:{path}", check=False).returncode == 0

    def check_clean(self, *, untracked: bool = False, why: str = "") -> None:
        """Refuse uncommitted changes to tracked files (and untracked ones if asked)."""
        dirty = self.out(
            "check the working tree",
            "status",
            "--porcelain",
            "--ignore-submodules=none",
            f"--untracked-files={'normal' if untracked else 'no'}",
        )
        if dirty:
            lines = dirty.splitlines()
            more = f" … ({len(lines)} in all)" if len(lines) > 5 else ""
            raise self.error(
                f"{self.root} has uncommitted changes; commit or stash them first{why}:\n  "
                + "\n  ".join(lines[:5])
                + more
            )

    def check_branch_name(self, branch: str, *, option: str = "--branch") -> None:
        res = self.git("git check-ref-format", "check-ref-format", "--branch", branch, check=False)
        if branch.startswith("-") or res.returncode != 0:
            raise self.error(f"{option} {branch!r} is not a valid branch name")

    def branch_tip(self, branch: str) -> str | None:
        res = self.git(
            f"git rev-parse refs/heads/{branch}",
            "rev-parse",
            "--verify",
            "--quiet",
            f"refs/heads/{branch}",
            check=False,
        )
        return res.output.strip() if res.returncode == 0 else None

    def check_remote(self, remote: str, *, option: str = "--push") -> None:
        names = self.out("git remote", "remote").split()
        if remote.startswith("-") or remote not in names:
            raise self.error(
                f"{option} {remote}: {self.root} has no such remote"
                + (f" (it has: {', '.join(names)})" if names else " (it has none)")
                + f"; add it with git remote add {remote} URL"
            )

    def identity(self) -> tuple[str, str] | None:
        """The user's git identity as git itself would pick it (the checkout's config, then
        the user's global one): the commits are theirs to submit."""
        found = []
        for key in ("user.name", "user.email"):
            res = self.git(f"git config {key}", "config", "--get", key, env=USER_GIT_ENV, check=False)
            found.append(res.output.strip() if res.returncode == 0 else "")
        return (found[0], found[1]) if all(found) else None

    # -- the only writes ------------------------------------------------------------------
    def create_branch(self, branch: str, commit: str) -> None:
        """``refs/heads/branch`` at ``commit``; fails if it appeared meanwhile: never
        overwrites anything."""
        self.git(f"create branch {branch}", "update-ref", "--stdin", stdin=f"create refs/heads/{branch} {commit}\n")

    def delete_branch(self, branch: str, commit: str) -> None:
        """Remove a branch this run created (only while it still points at ``commit``)."""
        self.git(f"remove branch {branch}", "update-ref", "-d", f"refs/heads/{branch}", commit, check=False)

    def push(self, remote: str, branch: str) -> None:
        """Push ``branch`` to ``remote`` under the user's own configuration (credentials and
        url rewrites for their fork live in it); no prompt may wait for a password."""
        if remote.startswith("-"):
            raise self.error(f"--push {remote!r}: not a remote")
        try:
            self.git(
                f"push {branch} to {remote}",
                "push",
                "--porcelain",
                "--",
                remote,
                f"refs/heads/{branch}:refs/heads/{branch}",
                env=USER_GIT_ENV,
                timeout=600,
            )
        except StepFailed as exc:
            lines = [ln.strip() for ln in exc.tail.splitlines() if ln.strip() and not ln.startswith("#")]
            why = next((ln for ln in lines if ln.startswith(("fatal:", "error:", "!"))), lines[-1] if lines else "")
            raise self.error(f"pushing {branch} to {remote} failed: {why}\n  (log: {exc.log})") from None
