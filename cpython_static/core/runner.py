"""The one door every external command goes through.

Each call is a *step*: it gets its own log file holding the command line, the working
directory, the environment delta against the runner's base environment, the merged
stdout/stderr and the exit status with the duration.  A failing step raises StepFailed,
which names the step, its log file and the log's last lines, so no error ever says
"command failed" without saying where to look.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from plumbum import local

from cpython_static.core.errors import WorkFailed

# Variables that silently change what compilers, configure scripts and pkg-config do.
# The base environment keeps none of them, so a user's shell cannot leak into a build.
_LEAKY = re.compile(
    r"^(CC|CXX|CPP|LD|AR|AS|NM|RANLIB|STRIP|OBJCOPY|CFLAGS|CXXFLAGS|CPPFLAGS|LDFLAGS|LIBS"
    r"|PKG_CONFIG.*|LD_LIBRARY_PATH|LD_PRELOAD|LIBRARY_PATH|C_INCLUDE_PATH|CPATH"
    r"|CPLUS_INCLUDE_PATH|PYTHON.*|MAKEFLAGS|MFLAGS|MAKELEVEL|CONFIG_SITE|ACLOCAL_PATH"
    r"|TERMINFO.*|ZIG_.*|DESTDIR|PREFIX)$"
)

TAIL_LINES = 25


def base_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The host environment with every build-influencing variable removed."""
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items() if not _LEAKY.match(k)}
    # Messages in one language make logs greppable and comparable between machines.
    env["LC_ALL"] = "C"
    env.pop("LANG", None)
    env.pop("LANGUAGE", None)
    return env


class StepFailed(WorkFailed, RuntimeError):
    """A command exited non-zero (or could not start); carries where its log is."""

    def __init__(self, step: str, log: Path, returncode: int | None, tail: str, why: str = ""):
        self.log, self.returncode, self.tail = log, returncode, tail
        status = why or f"exit status {returncode}"
        super().__init__(
            f"step '{step}' failed ({status})\n  log: {log}\n  last lines:\n"
            + "\n".join("    " + line for line in tail.splitlines()),
            step=step,
        )


@dataclass
class StepResult:
    step: str
    argv: list[str]
    returncode: int
    duration_s: float
    log: Path
    output: str = ""


def tail_of(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(log unreadable: {exc})"
    return "\n".join(data.splitlines()[-lines:])


def _slug(step: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", step).strip("-")[:80] or "step"


@dataclass
class Runner:
    """Runs commands, one log per step, under ``log_dir``.

    ``base_env`` is what every command starts from; a step's ``env`` is a delta on top of
    it (a value of None removes the variable).  ``on_step`` is told of each finished step
    (for progress output) and may be None.
    """

    log_dir: Path
    base_env: dict[str, str] = field(default_factory=base_environment)
    on_step: Callable[[StepResult], None] | None = None
    _seq: int = 0

    def __post_init__(self) -> None:
        self.log_dir = Path(self.log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def log_path(self, step: str) -> Path:
        self._seq += 1
        return self.log_dir / f"{self._seq:03d}-{_slug(step)}.log"

    def run(
        self,
        step: str,
        argv: Sequence[str | os.PathLike[str]],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str | None] | None = None,
        timeout: float | None = None,
        capture: bool = False,
        check: bool = True,
        stdin: str | None = None,
    ) -> StepResult:
        """Run ``argv`` as step ``step``; raise StepFailed on a non-zero exit when ``check``."""
        argv = [os.fspath(a) for a in argv]
        delta = dict(env or {})
        full_env = dict(self.base_env)
        for key, value in delta.items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        log = self.log_path(step)
        workdir = Path(cwd) if cwd is not None else Path.cwd()
        started = time.monotonic()
        with open(log, "w", encoding="utf-8", errors="replace") as fh:
            fh.write(f"# step: {step}\n# cwd: {workdir}\n# command: {shlex.join(argv)}\n")
            for key in sorted(delta):
                value = delta[key]
                fh.write(f"# env: {key}={'<unset>' if value is None else shlex.quote(value)}\n")
            fh.write("# ---- output ----\n")
            fh.flush()
            try:
                with local.cwd(workdir), local.env():
                    # plumbum's env() only adds: make it exactly full_env inside the block.
                    for key in list(local.env.keys()):
                        if key not in full_env:
                            del local.env[key]
                    local.env.update(full_env)
                    cmd = local[argv[0]][argv[1:]]
                    proc = cmd.popen(
                        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                        stdout=subprocess.PIPE if capture else fh,
                        stderr=fh,
                    )
            except Exception as exc:  # command not found, cwd missing …
                fh.write(f"# could not start: {exc}\n")
                fh.flush()
                raise StepFailed(step, log, None, str(exc), why=f"could not start: {exc}") from exc
            try:
                out, _ = proc.communicate(input=stdin.encode() if stdin is not None else None, timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                fh.write(f"\n# killed after {timeout}s timeout\n")
                fh.flush()
                raise StepFailed(step, log, None, tail_of(log), why=f"timed out after {timeout}s")
            except BaseException:
                # Ctrl-C: take the child down with us; the log says so.
                proc.kill()
                proc.wait()
                fh.write("\n# interrupted\n")
                raise
            output = out.decode("utf-8", "replace") if capture and out is not None else ""
            if capture:
                fh.write(output)
            duration = time.monotonic() - started
            fh.write(f"\n# ---- exit status {proc.returncode} after {duration:.2f}s ----\n")
        result = StepResult(step, argv, proc.returncode, duration, log, output)
        if self.on_step is not None:
            self.on_step(result)
        if check and proc.returncode != 0:
            raise StepFailed(step, log, proc.returncode, tail_of(log))
        return result
