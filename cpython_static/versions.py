"""Per-CPython-series facts (``versions.toml``) and parsing of what a user asks for."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path


class VersionError(ValueError):
    pass


@dataclass(frozen=True)
class Arg:
    value: str
    why: str


@dataclass(frozen=True)
class Series:
    name: str  # "3.13"
    autoconf: str
    libraries: tuple[str, ...]
    configure: tuple[Arg, ...]  # common + series arguments
    cache_vars: tuple[Arg, ...]  # VAR=value, always
    cross_cache_vars: tuple[Arg, ...] = ()  # VAR=value, when cross compiling
    by_patch: tuple["PatchArgs", ...] = ()
    setup_local: "SetupLocal | None" = None

    def patch_args(self, applied: set[str]) -> list[Arg]:
        """Arguments that depend on whether each patch of the series was applied."""
        out: list[Arg] = []
        for entry in self.by_patch:
            out += entry.with_ if entry.patch in applied else entry.without
        return out


@dataclass(frozen=True)
class SetupLocal:
    """A Modules/Setup.local written from the rendered Setup.stdlib (see versions.toml)."""

    enable: tuple[str, ...]
    vars: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PatchArgs:
    patch: str
    with_: tuple[Arg, ...]
    without: tuple[Arg, ...]


@cache
def _table() -> dict:
    return tomllib.loads(resources.files(__package__).joinpath("versions.toml").read_text())


def _args(entries, key="arg") -> tuple[Arg, ...]:
    out = []
    for e in entries:
        value = e[key] if key == "arg" else f"{e['var']}={e['value']}"
        out.append(Arg(value, e["why"]))
    return tuple(out)


def supported_series() -> list[str]:
    return sorted(_table()["series"], key=lambda s: tuple(map(int, s.split("."))))


def series_of(version: str) -> str:
    m = re.match(r"^(\d+)\.(\d+)", version)
    if not m:
        raise VersionError(f"not a CPython version: {version!r}")
    return f"{m.group(1)}.{m.group(2)}"


def get_series(version: str) -> Series:
    name = series_of(version)
    table = _table()
    try:
        s = table["series"][name]
    except KeyError:
        raise VersionError(
            f"CPython {name} is not supported; supported series: {', '.join(supported_series())}"
        ) from None
    common = table["common"]
    return Series(
        name=name,
        autoconf=s["autoconf"],
        libraries=tuple(s["libraries"]),
        configure=_args(common["configure"]) + _args(s.get("configure", [])),
        cache_vars=_args(common.get("cache_vars", []), key="var"),
        cross_cache_vars=_args(common.get("cross_cache_vars", []), key="var"),
        by_patch=tuple(
            PatchArgs(e["patch"], _args(e.get("with", [])), _args(e.get("without", []), key="var"))
            for e in s.get("by_patch", [])
        ),
        setup_local=SetupLocal(tuple(s["setup_local"]["enable"]), tuple(s["setup_local"]["vars"].items()))
        if "setup_local" in s else None,
    )


_RELEASE = re.compile(r"^v?(\d+\.\d+\.\d+)((?:a|b|rc)\d+)?$")


def parse_release(text: str) -> str | None:
    """'3.13.15' or 'v3.13.15' -> '3.13.15'; anything else -> None."""
    m = _RELEASE.match(text.strip())
    return (m.group(1) + (m.group(2) or "")) if m else None


def version_of_tree(tree: Path) -> str:
    """The version a CPython source tree declares in Include/patchlevel.h."""
    header = Path(tree) / "Include" / "patchlevel.h"
    if not header.is_file():
        raise VersionError(f"{tree} is not a CPython source tree (no Include/patchlevel.h)")
    m = re.search(r'#define\s+PY_VERSION\s+"([^"]+)"', header.read_text(errors="replace"))
    if not m:
        raise VersionError(f"{header}: no PY_VERSION")
    return m.group(1).rstrip("+")
