"""One error base, two kinds: what the user must fix (exit 2) and work that failed
(exit 1, naming the failing step).  The command line prints any of them as
``cpython-static: error: …`` and exits with its ``exit_code``; nothing else is caught."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Error(Exception):
    """Every error cpython-static reports itself."""

    exit_code = EXIT_FAILED


class UsageError(Error):
    """Bad input: an unknown version or target, a path that is not what it should be, a
    dirty checkout, a lock held by another run.  Nothing was changed."""

    exit_code = EXIT_USAGE


class WorkFailed(Error):
    """The work itself failed (a build, a fetch, a patch): ``step`` names where."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str = "", step: str | None = None):
        super().__init__(message)
        self.step = step
