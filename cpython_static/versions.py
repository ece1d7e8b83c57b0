"""Per-CPython-series facts (``versions.toml``) and parsing of what a user asks for."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path

from cpython_static.core.errors import UsageError


class VersionError(UsageError, ValueError):
    """A version, tag or series cpython-static does not know."""


# The build as the tables above [variant.*] in versions.toml describe it, unchanged.
DEFAULT_VARIANT = "default"


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
    by_patch: tuple[PatchArgs, ...] = ()
    setup_local: SetupLocal | None = None
    # Functions the C library must have (versions.toml); chooses a toolchain, not a build input.
    libc_needs: tuple[str, ...] = field(default=(), repr=False)
    # Not in repr (a cache key input): the build keys the optimisations it applied.
    optimize: tuple[Optimization, ...] = field(default=(), repr=False)

    def optimize_args(self, capabilities) -> list[Optimization]:
        """The optimisations a toolchain with ``capabilities`` gives this series."""
        return [o for o in self.optimize if o.needs in capabilities]

    def patch_args(self, applied: set[str]) -> list[Arg]:
        """Arguments that depend on whether each patch of the series was applied."""
        out: list[Arg] = []
        for entry in self.by_patch:
            out += entry.with_ if entry.patch in applied else entry.without
        return out


@dataclass(frozen=True)
class Optimization:
    value: str
    needs: str  # a toolchain capability (build/toolchain.py)
    why: str


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
    return sorted(_table()["series"], key=release_sort_key)


def series_of(version: str) -> str:
    try:
        return Release.parse(version).series
    except VersionError:
        raise VersionError(f"not a CPython version: {version!r}") from None


def get_series(version: str, variant: str = DEFAULT_VARIANT) -> Series:
    """The series of ``version``; ``variant`` (versions.toml [variant.*]) changes its tables."""
    series = _base_series(version)
    return series if variant == DEFAULT_VARIANT else get_variant(variant).apply(series)


def _base_series(version: str) -> Series:
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
        libc_needs=tuple(e["name"] for e in s.get("libc_needs", [])),
        optimize=tuple(
            Optimization(e["arg"], e["needs"], e["why"]) for e in [*common.get("optimize", []), *s.get("optimize", [])]
        ),
        setup_local=SetupLocal(tuple(s["setup_local"]["enable"]), tuple(s["setup_local"]["vars"].items()))
        if "setup_local" in s
        else None,
    )


@dataclass(frozen=True)
class Change:
    """One change a variant makes to a table: ``what`` replaced by ``by`` (None: dropped)."""

    what: str
    by: str | None
    why: str


@dataclass(frozen=True)
class Variant:
    """A build option's changes to the series tables (versions.toml [variant.*])."""

    name: str
    summary: str
    readline: str  # the readline module's backend, as `readline.backend` names it
    flag: str | None = None
    help: str = ""
    libraries: tuple[Change, ...] = ()
    configure: tuple[Change, ...] = ()
    drop_cache_vars: tuple[Change, ...] = ()
    add_cache_vars: tuple[Arg, ...] = ()
    disable_setup_local: tuple[Change, ...] = ()
    setup_local_vars: tuple[Change, ...] = ()  # `by` None: the variable is left out
    # The series it is made for (empty: every one); `make install` arguments; a series of
    # its own patches under patches/, applied after the project's.  Not Series fields: the
    # build keys them itself, only when a variant has them.
    series: tuple[str, ...] = ()
    install: tuple[Arg, ...] = ()
    patches: str | None = None
    ships: bool = True  # False: never to ship (pack and build --with refuse it)

    def apply(self, series: Series) -> Series:
        """``series`` with this variant's changes; a change naming something the series does
        not have is a stale table, said as such rather than ignored."""
        if self.series and series.name not in self.series:
            raise VersionError(
                f"the {self.name} build is for CPython {', '.join(self.series)}, not {series.name} "
                f"(versions.toml [variant.{self.name}] series)"
            )
        return replace(
            series,
            libraries=self._changed("libraries", series.libraries, self.libraries),
            configure=self._changed("configure", series.configure, self.configure, key=lambda a: a.value),
            cache_vars=self._changed("cache_vars", series.cache_vars, self.drop_cache_vars, key=_var_name)
            + self.add_cache_vars,
            setup_local=self._setup_local(series.setup_local),
        )

    def _setup_local(self, spec: SetupLocal | None) -> SetupLocal | None:
        if spec is None:
            return None
        enable = self._changed("setup_local", spec.enable, self.disable_setup_local)
        vars_ = self._changed("setup_local", spec.vars, self.setup_local_vars, key=lambda kv: kv[0])
        return SetupLocal(enable, vars_)

    def _changed(self, table: str, items: tuple, changes: tuple[Change, ...], key=lambda item: item) -> tuple:
        """``items`` with each change made in place: replaced by its ``by``, or dropped."""
        by = {c.what: c for c in changes}
        if stray := sorted(set(by) - {key(item) for item in items}):
            raise VersionError(f"versions.toml [variant.{self.name}.{table}]: nothing named {', '.join(stray)}")
        out = []
        for item in items:
            change = by.get(key(item))
            if change is None:
                out.append(item)
            elif change.by is None:
                continue
            elif isinstance(item, Arg):
                out.append(Arg(change.by, change.why))
            elif isinstance(item, tuple):  # a (variable, value) of setup_local
                out.append((item[0], change.by))
            else:
                out.append(change.by)
        return tuple(out)


def _var_name(arg: Arg) -> str:
    return arg.value.split("=", 1)[0]


def supported_variants() -> list[str]:
    return list(_table()["variant"])


def get_variant(name: str = DEFAULT_VARIANT) -> Variant:
    try:
        v = _table()["variant"][name]
    except KeyError:
        raise VersionError(f"no build variant {name!r}; known: {', '.join(supported_variants())}") from None

    def changes(table: dict) -> tuple[Change, ...]:
        return tuple(Change(what, e.get("by"), e["why"]) for what, e in table.items())

    cache_vars = v.get("cache_vars", {})
    setup_local = v.get("setup_local", {})
    return Variant(
        name=name,
        summary=v["summary"],
        readline=v["readline"],
        flag=v.get("flag"),
        help=v.get("help", ""),
        libraries=changes(v.get("libraries", {})),
        configure=changes(v.get("configure", {})),
        drop_cache_vars=tuple(Change(e["var"], None, e["why"]) for e in cache_vars.get("drop", [])),
        add_cache_vars=_args(cache_vars.get("add", []), key="var"),
        disable_setup_local=tuple(Change(e["module"], None, e["why"]) for e in setup_local.get("disable", [])),
        setup_local_vars=tuple(Change(e["var"], e.get("value"), e["why"]) for e in setup_local.get("vars", []))
        + tuple(Change(e["var"], None, e["why"]) for e in setup_local.get("drop_vars", [])),
        series=tuple(v.get("series", ())),
        install=_args(v.get("install", [])),
        patches=v.get("patches"),
        ships=v.get("ships", True),
    )


# Every shape a CPython version takes: a release (3.13.15), its tag (v3.13.15), a
# pre-release (3.14.0rc1, v3.15.0a7), a tree between releases (PY_VERSION "3.15.0a7+"),
# and the old two-part tags (v3.0).  ASCII digits only: str.isdigit() would take "٣".
_GRAMMAR = re.compile(
    r"(?P<tag>v)?(?P<major>[0-9]+)\.(?P<minor>[0-9]+)(?:\.(?P<micro>[0-9]+))?"
    r"(?:(?P<level>a|b|rc)(?P<serial>[0-9]+))?(?P<dev>\+)?"
)
# Pre-releases sort before the final release: a < b < rc < final.
_LEVEL_RANK = {"a": 0, "b": 1, "rc": 2, None: 3}
# sys.version_info.releaselevel -> the suffix letters
_LEVEL_OF_INFO = {"alpha": "a", "beta": "b", "candidate": "rc", "final": None}


@dataclass(frozen=True)
class Release:
    """One CPython version, whatever shape it was written in (the only version grammar)."""

    major: int
    minor: int
    micro: int | None = None  # None: a two-part tag or a series ("3.13")
    level: str | None = None  # "a", "b", "rc"; None for a final release
    serial: int = 0
    dev: bool = False  # PY_VERSION's "+": a tree past this release

    @classmethod
    def parse(cls, text: str, *, tag: bool | None = None) -> Release:
        """Parse ``text``; ``tag=True`` demands the leading "v", ``False`` refuses it."""
        m = _GRAMMAR.fullmatch(text) if isinstance(text, str) else None
        if m is None or (tag is True and not m["tag"]) or (tag is False and m["tag"]):
            shape = {
                True: "a release tag like v3.13.15 or v3.15.0rc1",
                False: "a version like 3.13.15 or 3.15.0rc1",
            }.get(tag, "a CPython version like 3.13.15, v3.15.0 or 3.15.0rc1")
            raise VersionError(f"{text!r} is not {shape}")
        if m["tag"] and m["dev"]:
            raise VersionError(f"{text!r} is not a CPython tag: a tag has no '+'")
        return cls(
            int(m["major"]),
            int(m["minor"]),
            int(m["micro"]) if m["micro"] else None,
            m["level"],
            int(m["serial"] or 0),
            bool(m["dev"]),
        )

    @classmethod
    def lenient(cls, text: str, **kw) -> Release | None:
        try:
            return cls.parse(text, **kw)
        except VersionError:
            return None

    @classmethod
    def from_version_info(cls, info) -> Release:
        major, minor, micro, level, serial = info
        return cls(int(major), int(minor), int(micro), _LEVEL_OF_INFO.get(level, level), int(serial))

    @property
    def series(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def is_final(self) -> bool:
        return self.level is None

    @property
    def exact(self) -> bool:
        """Names one release (three parts, no "+"): what a build or a tag can be."""
        return self.micro is not None and not self.dev

    @property
    def sort_key(self) -> tuple[int, int, int, int, int, int]:
        return (self.major, self.minor, self.micro or 0, _LEVEL_RANK[self.level], self.serial, int(self.dev))

    @property
    def tag(self) -> str:
        return "v" + str(self).rstrip("+")

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}"
        if self.micro is not None:
            text += f".{self.micro}"
        if self.level:
            text += f"{self.level}{self.serial}"
        return text + ("+" if self.dev else "")

    def matches(self, other: Release) -> bool:
        """Whether ``other`` agrees with every part spelled out here ("3.13" takes 3.13.x)."""
        if (self.major, self.minor) != (other.major, other.minor):
            return False
        if self.micro is not None and self.micro != other.micro:
            return False
        return self.level is None or (self.level, self.serial) == (other.level, other.serial)

    def next_release(self) -> str:
        """The release a change made on top of this one first ships in (versionadded):
        a pre-release is on its way to X.Y; a final X.Y.Z (or X.Y.Z+) is followed by X.Y.(Z+1)."""
        if self.level or self.micro is None:
            return self.series
        return f"{self.major}.{self.minor}.{self.micro + 1}"


def parse_release(text: str) -> str | None:
    """'3.13.15', 'v3.13.15', '3.14.0rc1' -> the version; anything else (a series, a
    tree's "+", a path) -> None."""
    release = Release.lenient(text.strip()) if isinstance(text, str) else None
    return str(release) if release is not None and release.exact else None


def release_sort_key(version: str) -> tuple:
    """Sort key of a version or tag; raises VersionError on anything else."""
    return Release.parse(version).sort_key


def version_of_tree(tree: Path) -> str:
    """The version a CPython source tree declares in Include/patchlevel.h."""
    header = Path(tree) / "Include" / "patchlevel.h"
    if not header.is_file():
        raise VersionError(f"{tree} is not a CPython source tree (no Include/patchlevel.h)")
    m = re.search(r'#define\s+PY_VERSION\s+"([^"]+)"', header.read_text(errors="replace"))
    if not m:
        raise VersionError(f"{header}: no PY_VERSION")
    release = Release.parse(m.group(1), tag=False)
    return str(release).rstrip("+")
