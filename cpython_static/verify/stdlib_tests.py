"""``verify --stdlib-tests``: CPython's own test suite run by the shipped file.

The release's ``Lib/test`` (from its pinned source with the series' patches applied:
build/testsuite.py) is never shipped in the one file.  So that every child interpreter the
suite starts sees it too — children run with ``-I``, ``-E`` or a scrubbed environment, so
``PYTHONPATH`` cannot carry it — the file is copied to ``<work>/bin/pythonX.Y`` (the same
bytes: the layout-sensitive tests run against what ships) and ``test`` is put in
``<work>/lib/pythonX.Y``, the directory the launcher puts after the archive on sys.path
whatever the flags (launcher/main.c), where an installed tree has its stdlib: every
interpreter started from that path finds it, with ``-I``, ``-E`` and ``-S`` too.

The result is per test file (regrtest's summary); ``stdlib_tests.toml`` lists, per series,
the files expected to fail, each with its kind and reason.  The verdict fails on a failure
not listed *and* on a listed file that passed (a stale entry): the table says exactly what
differs from a normal Python, no more.

The shipped file has none of CPython's test-only C modules (``--disable-test-modules``), so
the files that import one without a skip guard cannot run on it.  The table's
``[test_modules."X.Y"]`` lists them, each with the modules and the tests that need them;
they run on the test variant (``build --test-modules``) when one is given, copied into a
prefix of the same shape, and everything else on the shipped file.  Without it they are
not run, and the report says so and how to build it.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cpython_static.core.runner import Runner

TABLE = resources.files("cpython_static.verify").joinpath("stdlib_tests.toml")
# What an expected failure can be, so that a reader knows whose it is.
KINDS = {
    "musl": "musl libc behaves differently from glibc (locale, …)",
    "static": "what a static binary cannot do (load shared objects, …)",
    "one-file": "the standard library is a zip inside the executable",
    "harness": "how the suite runs here (no network, a root user, no terminal, …)",
    # The test variant has the others ([test_modules] of the table runs those files on it).
    "test-module": "needs a test-only C module that only builds shared (_testmultiphase, _ctypes_test, …): "
    "not even the test variant has it",
    "upstream": "fails with upstream's own build in the same place too",
}
# regrtest's summary: a header ("3 tests failed:", "1 test skipped:" …) then indented names.
_HEADER = re.compile(
    r"^(?P<count>\d+) tests? (?P<what>OK|failed|failed again|skipped|skipped \(resource denied\)"
    r"|altered the execution environment(?: \(env changed\))?|run no tests|did not run|omitted"
    r"|re-run tests|interrupted)[.:]?$"
)


# The table's section of the files that need test-only C modules (not a series).
TEST_MODULES = "test_modules"
SHIPPED, VARIANT = "shipped", "test variant"
VARIANT_BUILD = "test-modules"  # versions.toml [variant.test-modules]: build --test-modules
WORKER_BUG = "(a regrtest worker failed: see the log)"


class StdlibTestsError(ValueError):
    """A table entry that says nothing a reader can use."""


@dataclass(frozen=True)
class NeedsTestModules:
    """A test file that imports CPython's test-only C modules without a skip guard."""

    test: str
    modules: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Expected:
    test: str
    kind: str
    why: str


@dataclass
class SuiteResult:
    ran: set[str] = field(default_factory=set)  # every test file asked for (any outcome)
    failed: set[str] = field(default_factory=set)  # failed, also when re-run (failed again)
    skipped: set[str] = field(default_factory=set)
    env_changed: set[str] = field(default_factory=set)
    summary: str = ""


@dataclass
class Verdict:
    ok: bool
    unexpected: list[str]
    stale: list[str]
    expected: list[Expected]  # listed and failing, as listed
    result: SuiteResult

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.expected:
            out[e.kind] = out.get(e.kind, 0) + 1
        return dict(sorted(out.items()))

    def to_json(self) -> dict:
        r = self.result
        return {
            "ok": self.ok,
            "ran": len(r.ran),
            "failed": sorted(r.failed),
            "unexpected": self.unexpected,
            "stale": self.stale,
            "expected": [{"test": e.test, "kind": e.kind, "why": e.why} for e in self.expected],
            "expected_by_kind": self.counts(),
            "skipped": len(r.skipped),
        }


def load_table(text: str | None = None) -> dict[str, dict[str, Expected]]:
    """series -> test file -> Expected; every entry needs a known kind and a reason."""
    data = tomllib.loads(text if text is not None else TABLE.read_text())
    table: dict[str, dict[str, Expected]] = {}
    for series, entries in data.items():
        if series == TEST_MODULES:
            continue
        for test, entry in entries.items():
            kind, why = entry.get("kind"), (entry.get("why") or "").strip()
            if kind not in KINDS:
                raise StdlibTestsError(
                    f"stdlib_tests.toml [{series}] {test}: kind {kind!r} is not one of {sorted(KINDS)}"
                )
            if len(why) < 20:
                raise StdlibTestsError(f"stdlib_tests.toml [{series}] {test}: say why it fails ({why!r})")
            table.setdefault(series, {})[test] = Expected(test, kind, why)
    return table


def load_test_module_files(text: str | None = None) -> dict[str, dict[str, NeedsTestModules]]:
    """series -> test file -> NeedsTestModules (the table's [test_modules."X.Y"])."""
    data = tomllib.loads(text if text is not None else TABLE.read_text()).get(TEST_MODULES, {})
    out: dict[str, dict[str, NeedsTestModules]] = {}
    for series, entries in data.items():
        for test, entry in entries.items():
            modules, why = tuple(entry.get("modules", ())), (entry.get("why") or "").strip()
            if not modules:
                raise StdlibTestsError(f"stdlib_tests.toml [test_modules.{series!r}] {test}: name the modules")
            if len(why) < 20:
                raise StdlibTestsError(
                    f"stdlib_tests.toml [test_modules.{series!r}] {test}: say which tests need them ({why!r})"
                )
            out.setdefault(series, {})[test] = NeedsTestModules(test, modules, why)
    return out


@dataclass
class Plan:
    """Which file runs which test files: ``shipped`` None is the whole suite but the
    ``variant`` and ``not_run`` ones (regrtest -x)."""

    shipped: list[str] | None
    variant: list[str]
    not_run: list[NeedsTestModules]
    listed: dict[str, NeedsTestModules]

    @property
    def excluded(self) -> list[str]:
        """What the shipped file's whole-suite run leaves out."""
        return sorted(self.listed)


def plan(asked: list[str], listed: dict[str, NeedsTestModules], have_variant: bool) -> Plan:
    """``asked`` (empty: the whole suite) split between the shipped file and the test
    variant: the files ``listed`` as needing test modules go to the variant, or are not
    run without one."""
    needing = sorted(listed) if not asked else [t for t in asked if t in listed]
    shipped = None if not asked else [t for t in asked if t not in listed]
    if have_variant:
        return Plan(shipped, needing, [], listed)
    return Plan(shipped, [], [listed[t] for t in needing], listed)


def merge(results: list[SuiteResult]) -> SuiteResult:
    """One result of runs over disjoint sets of test files."""
    out = SuiteResult()
    for r in results:
        out.ran |= r.ran
        out.failed |= r.failed
        out.skipped |= r.skipped
        out.env_changed |= r.env_changed
    out.summary = "\n".join(r.summary for r in results)
    return out


def _sections(text: str) -> dict[str, set[str]]:
    """regrtest's name lists ("2 tests failed:" then indented names) by heading; a later
    list of the same heading replaces an earlier one."""
    out: dict[str, set[str]] = {}
    section = None
    for line in text.splitlines():
        stripped = line.strip()
        if m := _HEADER.match(stripped):
            section = m.group("what")
            out[section] = set()
        elif line.startswith("    ") and section is not None:
            out[section].update(n for n in stripped.split() if n.startswith("test"))
        else:
            section = None
    return out


def parse_summary(output: str) -> SuiteResult:
    """regrtest's closing summary, 3.11 to 3.14.  With -w a failed file is re-run: the
    header then says "FAILURE then SUCCESS" (every re-run passed) or "then FAILURE", and
    the files that failed again are the list printed just before it."""
    result = SuiteResult()
    start = output.rfind("== Tests result")
    if start < 0:
        return result
    header = output[start:].split("\n", 1)[0]
    final = _sections(output[start:])
    if "then SUCCESS" in header:
        result.failed = set()
    elif " then " in header:
        result.failed = _sections(output[:start]).get("failed again", set()) or final.get("failed", set())
    else:
        result.failed = final.get("failed", set())
    result.skipped = final.get("skipped", set()) | final.get("skipped (resource denied)", set())
    result.env_changed = final.get("altered the execution environment", set()) | final.get(
        "altered the execution environment (env changed)", set()
    )
    # A worker that could not start or died ("WORKER BUG": e.g. a foreign binary's
    # sys.executable exec'd without its emulator) leaves the files it had "omitted", in
    # the first run's summary: they did not pass, and regrtest lists none as failed.
    if "WORKER BUG" in header:
        result.failed.add(WORKER_BUG)
    every = _sections(output)
    result.failed |= every.get("omitted", set()) | every.get("did not run", set()) | every.get("interrupted", set())
    # regrtest names the files that passed nowhere: the caller knows what it asked for.
    result.ran = result.failed | result.skipped | result.env_changed | final.get("run no tests", set())
    result.summary = output[start:]
    return result


def judge(result: SuiteResult, expected: dict[str, Expected]) -> Verdict:
    unexpected = sorted(t for t in result.failed if t not in expected)
    stale = sorted(t for t in expected if t in result.ran and t not in result.failed and t not in result.skipped)
    listed = [expected[t] for t in sorted(result.failed) if t in expected]
    return Verdict(not unexpected and not stale, unexpected, stale, listed, result)


def prepare_prefix(binary: Path, lib_test: Path, work: Path, mm: str) -> Path:
    """``work``/bin/python``mm`` (a copy of ``binary``) whose lib/python``mm`` holds ``test``."""
    bindir = work / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    python = bindir / f"python{mm}"
    shutil.copy2(binary, python)
    stdlib_dir = work / "lib" / f"python{mm}"
    stdlib_dir.mkdir(parents=True, exist_ok=True)
    # Hard links, not a symlink to the cache entry: tests that compare a module's path
    # with one they compute (unittest discovery: "Path must be within the project") must
    # see one tree, and the links cost no copy.
    dest = stdlib_dir / "test"
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(lib_test, dest, symlinks=True, copy_function=_link_or_copy)
    return python


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem
        shutil.copy2(src, dst)


def run_suite(
    runner: Runner,
    python: list[str],
    *,
    tests: list[str] = (),
    exclude: list[str] = (),
    jobs: int = 2,
    timeout_per_test: int = 900,
    workdir: Path,
    step: str = "stdlib tests (regrtest)",
) -> tuple[SuiteResult, Path]:
    """``python -m test`` (regrtest) on ``tests`` (all by default, but ``exclude``); (result, log)."""
    if tests and exclude:
        raise ValueError("regrtest takes either the tests to run or, with -x, the ones to leave out")
    names = ["-x", *exclude] if exclude else list(tests)
    argv = [*python, "-m", "test", f"-j{jobs}", "--timeout", str(timeout_per_test), "-w", *names]
    res = runner.run(
        step,
        argv,
        cwd=workdir,
        env={"HOME": str(workdir), "TMPDIR": str(workdir / "tmp"), "PYTHONPATH": None, "PYTHONHOME": None},
        capture=True,
        check=False,
    )
    result = parse_summary(res.output)
    result.ran |= set(tests) if tests else test_files(Path(python[-1]).parent.parent, python[-1]) - set(exclude)
    if not result.summary:
        result.failed.add("(regrtest did not finish)")
    return result, res.log


def test_files(prefix: Path, python: str) -> set[str]:
    """Every test file of the suite in the prefix's lib/pythonX.Y (what regrtest runs
    without arguments: test_* modules and packages)."""
    mm = Path(python).name.removeprefix("python")
    lib_test = prefix / "lib" / f"python{mm}" / "test"
    return {
        p.stem if p.suffix == ".py" else p.name
        for p in lib_test.iterdir()
        if p.name.startswith("test_") and (p.suffix == ".py" or p.is_dir())
    }
