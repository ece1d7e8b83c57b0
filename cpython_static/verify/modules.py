"""The reviewed tables of built-in modules, one per CPython series (``modules.toml``),
and the comparison of a binary's ``sys.builtin_module_names`` against them."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MODULES_TOML = Path(__file__).resolve().parents[1] / "modules.toml"


@dataclass(frozen=True)
class SeriesTable:
    series: str
    derived: bool
    builtin: frozenset[str]
    excluded: Mapping[str, str]
    targets: Mapping[str, tuple[frozenset[str], frozenset[str]]]  # target -> (add, remove)
    note: str = ""
    proven: bool = True  # False: derived from sources, no build has reported the set yet
    # Built shared whatever MODULE_BUILDTYPE says, or breaking the static link: a static
    # build must disable them (modules.toml's schema says how).
    never_static: tuple[str, ...] = ()
    # What the test variant (build --test-modules) has on top of `builtin`; empty: the
    # series has no variant.
    test_modules: frozenset[str] = frozenset()


def _series_from_toml(series: str, raw: Mapping) -> SeriesTable:
    derived = bool(raw.get("derived", False))
    builtin = frozenset(raw.get("builtin", ()))
    excluded = dict(raw.get("excluded", {}))
    if derived and not builtin:
        raise ValueError(f"modules.toml: series {series} is derived but has no builtin list")
    if overlap := builtin & excluded.keys():
        raise ValueError(f"modules.toml: {series} both expects and excludes {sorted(overlap)}")
    if blank := [name for name, why in excluded.items() if not str(why).strip()]:
        raise ValueError(f"modules.toml: {series} excludes {blank} without a reason")
    never_static = tuple(raw.get("never_static", ()))
    if derived and (stray := [m for m in never_static if m not in excluded]):
        raise ValueError(f"modules.toml: {series} lists {stray} as never_static but does not exclude them")
    test_modules = frozenset(raw.get("test_modules", {}).get("builtin", ()))
    if stray := sorted(test_modules - excluded.keys()):
        raise ValueError(
            f"modules.toml: {series}'s test variant builds in {stray}, which the default build does not exclude"
        )
    targets = {}
    for target, override in raw.get("targets", {}).items():
        add, remove = frozenset(override.get("add", ())), frozenset(override.get("remove", ()))
        if add & remove:
            raise ValueError(f"modules.toml: {series}/{target} adds and removes {sorted(add & remove)}")
        targets[target] = (add, remove)
    return SeriesTable(
        series,
        derived,
        builtin,
        excluded,
        targets,
        note=str(raw.get("reason", raw.get("sources", ""))),
        proven=bool(raw.get("proven", True)),
        never_static=never_static,
        test_modules=test_modules,
    )


def load_module_tables(path: Path | None = None) -> dict[str, SeriesTable]:
    data = tomllib.loads((path or MODULES_TOML).read_text(encoding="utf-8"))
    return {series: _series_from_toml(series, raw) for series, raw in data["series"].items()}


class UnverifiedSeries(LookupError):
    pass


def expected_builtin_modules(table: SeriesTable, target: str, test_modules: bool = False) -> frozenset[str]:
    """The modules a binary of ``table``'s series for ``target`` must have exactly;
    ``test_modules``: the test variant's (build --test-modules)."""
    if not table.derived:
        raise UnverifiedSeries(f"no verified module table for {table.series}: {table.note}")
    if test_modules and not table.test_modules:
        raise UnverifiedSeries(
            f'modules.toml has no test variant for {table.series} ([series."{table.series}".test_modules])'
        )
    add, remove = table.targets.get(target, (frozenset(), frozenset()))
    return (table.builtin | add | (table.test_modules if test_modules else frozenset())) - remove


@dataclass(frozen=True)
class ModuleDiff:
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected

    def describe(self, excluded: Mapping[str, str] | None = None) -> str:
        if self.ok:
            return ""
        excluded = excluded or {}
        parts = []
        if self.missing:
            parts.append("missing: " + ", ".join(self.missing))
        if self.unexpected:
            # An unexpected module we excluded on purpose is worth its reason: the
            # build engine probably forgot the flag that keeps it out.
            shown = [f"{m} (excluded: {excluded[m]})" if m in excluded else m for m in self.unexpected]
            parts.append("unexpected: " + ", ".join(shown))
        return "; ".join(parts)


def compare_modules(expected: Iterable[str], actual: Iterable[str]) -> ModuleDiff:
    expected, actual = set(expected), set(actual)
    return ModuleDiff(tuple(sorted(expected - actual)), tuple(sorted(actual - expected)))
