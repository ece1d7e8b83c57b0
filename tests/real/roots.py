"""Throw-away root directories that hold the interpreter and nothing else, and a way to run
it inside one: chrooted, as a user and group the system has never heard of, with an empty
environment.  Whatever works there cannot have come from the host's files.

No /proc, /dev, /tmp, /etc or /usr: a test adds the files it is about (a CA bundle at one
path), nothing more.  Nothing in a root is writable by the user the interpreter runs as,
so a program that needs a writable directory fails.
"""

from __future__ import annotations

import functools
import grp
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

# A uid/gid with no passwd or group entry on the host (checked; there is no /etc in a root
# anyway): nothing may depend on looking the user up (getpwuid, $HOME, ~ expansion).
UID = GID = 54321
PROBE = "/cpython-static-no-such-program"


def _check_ids_unknown() -> None:
    for lookup, what, ident in ((pwd.getpwuid, "user", UID), (grp.getgrgid, "group", GID)):
        try:
            entry = lookup(ident)
        except KeyError:
            continue
        raise AssertionError(
            f"{what} id {ident} exists on this host ({entry}); the tests need an id with no entry: change roots.UID/GID"
        )


@functools.cache
def _jail() -> tuple[str, str]:
    """How to enter a root: ("chroot" | "unshare", path of the tool), or skip the caller.

    As root, coreutils `chroot --userspec` drops to UID:GID after chroot(2) (and clears the
    supplementary groups: none can be looked up).  Otherwise (or when root lacks
    CAP_SYS_CHROOT, as in some containers) util-linux `unshare --user --map-user
    --map-group --root` does the same inside a new user namespace, where the host user
    appears as UID:GID.  Each is probed by running a program that does not exist in an
    empty root: the tool must get as far as trying to execute it.
    """
    _check_ids_unknown()
    kinds = ["chroot", "unshare"] if os.geteuid() == 0 else ["unshare"]
    failures = []
    for kind in kinds:
        tool = shutil.which(kind, path=os.defpath + ":/usr/sbin:/sbin")
        if tool is None:
            failures.append(f"no `{kind}` command")
            continue
        with tempfile.TemporaryDirectory() as empty:
            os.chmod(empty, 0o755)
            res = subprocess.run(
                [*_prefix(kind, tool, empty), PROBE],
                check=False,
                env={},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=30,
            )
        if res.returncode != 0 and PROBE in res.stderr and "No such file" in res.stderr:
            return kind, tool
        failures.append((res.stderr.strip().splitlines() or [f"{kind}: exit status {res.returncode}"])[-1])
    pytest.skip(f"this machine cannot run a program in a chroot as uid {UID}: " + "; ".join(failures))


def _prefix(kind: str, tool: str, root: str | os.PathLike[str]) -> list[str]:
    if kind == "chroot":
        return [tool, f"--userspec={UID}:{GID}", os.fspath(root)]
    return [tool, "--user", f"--map-user={UID}", f"--map-group={GID}", f"--root={os.fspath(root)}"]


class Root:
    """An empty directory with a copy of ``binary`` at ``python`` (a path inside the root)."""

    def __init__(
        self,
        directory: Path,
        binary: str | os.PathLike[str],
        python: str = "/python3",
        emulator: str | os.PathLike[str] | None = None,
    ):
        self.path = Path(directory)
        self.path.mkdir(parents=True, exist_ok=True)
        # pytest makes tmp_path 0700; after the chroot, "/" is this directory and the
        # unknown user must be able to enter it.
        os.chmod(self.path, 0o755)
        self.python = python
        self.add(python, Path(binary), mode=0o755)
        # A binary for another CPU runs under qemu-user, itself a static binary copied in
        # beside it (binfmt_misc would need the host's emulator path inside the root).
        self.emulator = None
        if emulator is not None:
            self.emulator = "/" + Path(emulator).name
            self.add(self.emulator, Path(emulator), mode=0o755)

    def host_path(self, inside: str) -> Path:
        assert inside.startswith("/"), inside
        return self.path / inside.lstrip("/")

    def add(self, inside: str, content: bytes | str | Path, mode: int = 0o644) -> Path:
        """Put a file at absolute path ``inside``; owned by the host user, readable by all."""
        target = self.host_path(inside)
        for parent in reversed(target.relative_to(self.path).parents[:-1]):
            (self.path / parent).mkdir(exist_ok=True)
            os.chmod(self.path / parent, 0o755)
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            target.write_bytes(content.encode() if isinstance(content, str) else content)
        os.chmod(target, mode)
        return target

    def run(
        self, *args: str, env: dict[str, str] | None = None, stdin: str = "", timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run the interpreter with ``args`` inside the root; ``env`` is the whole
        environment (empty by default, as `env -i`).  stdin, stdout and stderr are pipes:
        there is no /dev/null to use inside the root."""
        kind, tool = _jail()
        argv = [*_prefix(kind, tool, self.path), *([self.emulator] if self.emulator else []), self.python, *args]
        return subprocess.run(
            argv, check=False, env=dict(env or {}), input=stdin, capture_output=True, text=True, timeout=timeout
        )
