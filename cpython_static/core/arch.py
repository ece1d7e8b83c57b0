"""CPU names: the one answer to "what is this machine" and "what CPU is this target for".

``platform.machine()`` says ``amd64``/``arm64`` on some systems and ``x86_64``/``aarch64``
on Linux; targets are triples (``aarch64-linux-musl``).  Both are normalised here, so the
toolchain (cross or native?) and verify (which emulator?) can never disagree."""

from __future__ import annotations

import platform

_ALIASES = {"amd64": "x86_64", "arm64": "aarch64", "i386": "x86", "i486": "x86", "i586": "x86", "i686": "x86"}


def host_arch() -> str:
    machine = platform.machine().lower()
    return _ALIASES.get(machine, machine)


def target_arch(target: str) -> str:
    """``aarch64-linux-musl`` -> ``aarch64``."""
    arch = target.split("-", 1)[0]
    return _ALIASES.get(arch, arch)
