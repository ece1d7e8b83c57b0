"""The reviewed tables of built-in modules, one per CPython series (``modules.toml``),
and the comparison of a binary's ``sys.builtin_module_names`` against them."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from cpython_static.versions import DEFAULT_VARIANT

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
    )


def load_module_tables(path: Path | None = None, variant: str = DEFAULT_VARIANT) -> dict[str, SeriesTable]:
    """Every series' table; for a build ``variant``, without the modules it leaves out
    (then excluded, with the variant's reason) and with those it adds to the series (a
    series it adds nothing to, when it adds to some: no table the variant was proven on)."""
    data = tomllib.loads((path or MODULES_TOML).read_text(encoding="utf-8"))
    tables = {series: _series_from_toml(series, raw) for series, raw in data["series"].items()}
    removed, added = variant_removes(variant, data), variant_adds(variant, data)
    if not removed and not added:
        return tables
    for series, table in tables.items():
        if table.derived and (stray := sorted(removed.keys() - table.builtin)):
            raise ValueError(f"modules.toml: variant {variant} removes {stray}, which {series} does not build")
        table = replace(table, builtin=table.builtin - removed.keys(), excluded={**table.excluded, **removed})
        adds = added.get(series, {})
        if stray := sorted(adds.keys() - table.excluded.keys()):
            raise ValueError(f"modules.toml: variant {variant} adds {stray} to {series}, which does not exclude them")
        if added and not adds:
            table = replace(table, derived=False, note=f"the {variant} build was not made for {series}")
        excluded = {m: why for m, why in table.excluded.items() if m not in adds}
        tables[series] = replace(table, builtin=table.builtin | adds.keys(), excluded=excluded)
    return tables


def variant_adds(variant: str, data: Mapping | None = None) -> dict[str, dict[str, str]]:
    """The built-in modules ``variant`` adds, series -> name -> what it is for."""
    data = data if data is not None else tomllib.loads(MODULES_TOML.read_text(encoding="utf-8"))
    added = {s: dict(m) for s, m in data.get("variant", {}).get(variant, {}).get("add", {}).items()}
    if blank := [f"{s} {name}" for s, m in added.items() for name, why in m.items() if not str(why).strip()]:
        raise ValueError(f"modules.toml: variant {variant} adds {blank} without a reason")
    return added


def variant_removes(variant: str, data: Mapping | None = None) -> dict[str, str]:
    """The built-in modules ``variant`` leaves out of every series, name -> reason."""
    data = data if data is not None else tomllib.loads(MODULES_TOML.read_text(encoding="utf-8"))
    removed = dict(data.get("variant", {}).get(variant, {}).get("remove", {}))
    if blank := [name for name, why in removed.items() if not str(why).strip()]:
        raise ValueError(f"modules.toml: variant {variant} removes {blank} without a reason")
    return removed


class UnverifiedSeries(LookupError):
    pass


def expected_builtin_modules(table: SeriesTable, target: str) -> frozenset[str]:
    if not table.derived:
        raise UnverifiedSeries(f"no verified module table for {table.series}: {table.note}")
    add, remove = table.targets.get(target, (frozenset(), frozenset()))
    return (table.builtin | add) - remove


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
