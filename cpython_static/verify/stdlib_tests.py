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


LAYOUTS = ("onefile", "tree")


@dataclass(frozen=True)
class Expected:
    test: str
    kind: str
    why: str
    layout: str | None = None  # only on this layout (None: both; a one-file kind: onefile)


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
            layout = entry.get("layout") or ("onefile" if kind == "one-file" else None)
            if layout not in (None, *LAYOUTS) or (kind == "one-file" and layout != "onefile"):
                raise StdlibTestsError(
                    f"stdlib_tests.toml [{series}] {test}: layout {layout!r} is not one of {LAYOUTS}"
                    + (" (a one-file entry is the one file's)" if kind == "one-file" else "")
                )
            table.setdefault(series, {})[test] = Expected(test, kind, why, layout)
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


def expected_for(table: dict[str, Expected], layout: str) -> dict[str, Expected]:
    """What a ``layout`` file is expected to fail: a tree has its stdlib as files, so the
    one-file entries must pass there (one that fails is misclassified, and says so); an
    entry for one layout only (``layout = "tree"``) is not expected of the other."""
    return {t: e for t, e in table.items() if e.layout in (None, layout)}


def judge(result: SuiteResult, expected: dict[str, Expected]) -> Verdict:
    unexpected = sorted(t for t in result.failed if t not in expected)
    stale = sorted(t for t in expected if t in result.ran and t not in result.failed and t not in result.skipped)
    listed = [expected[t] for t in sorted(result.failed) if t in expected]
    return Verdict(not unexpected and not stale, unexpected, stale, listed, result)


def tree_of(binary: Path, mm: str) -> Path | None:
    """The installed tree ``binary`` is the interpreter of (``--layout tree``: its stdlib in
    ../lib/pythonX.Y), or None for a one file."""
    import zipfile

    root = binary.resolve().parent.parent
    # A one file carries its stdlib appended (a zip), whatever happens to lie beside it.
    if zipfile.is_zipfile(binary) or not (root / "lib" / f"python{mm}" / "os.py").is_file():
        return None
    return root


def prepare_prefix(binary: Path, lib_test: Path, work: Path, mm: str) -> Path:
    """``work``/bin/python``mm`` (a copy of ``binary``) whose lib/python``mm`` holds ``test``;
    for a tree's interpreter, the rest of its tree too (hard links), so that it finds its
    standard library where it was installed relative to itself."""
    bindir = work / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    if (tree := tree_of(binary, mm)) is not None:
        for child in sorted(tree.iterdir()):
            if child.name != "bin" and child.is_dir():
                shutil.copytree(child, work / child.name, symlinks=True, copy_function=_link_or_copy)
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
    # A tree's packages are directories, so their own tests (3.11's unittest/test …, in
    # build/testsuite.py's packages/) go inside them; a one file's are in its archive,
    # where nothing can be added.
    inside = lib_test.parent / "packages"
    if tree is not None and inside.is_dir():
        shutil.copytree(inside, stdlib_dir, symlinks=True, copy_function=_link_or_copy, dirs_exist_ok=True)
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


# ----------------------------------------------------------------- one whole run
@dataclass(frozen=True)
class Interpreter:
    """A file to run the suite with: how to start it (its emulator, for a foreign one),
    the CPython version and the built-in modules it reports."""

    path: Path
    emulator: tuple[str, ...]
    version: str
    modules: frozenset[str]

    @property
    def series(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def layout(self) -> str:
        """ "tree" for an installed tree's interpreter, else "onefile"."""
        return "tree" if tree_of(self.path, self.series) is not None else "onefile"


def interpreter(runner: Runner, path: Path, what: str, target: str | None = None) -> Interpreter:
    from cpython_static.verify.checks import resolve_emulator
    from cpython_static.verify.elf import read_elf

    emulator = resolve_emulator(target or f"{read_elf(path).machine}-linux-musl", None, runner.base_env.get("PATH", ""))
    asked = runner.run(
        f"stdlib tests: the {what}'s version",
        [
            *emulator,
            str(path),
            "-I",
            "-c",
            "import sys; print('%d.%d.%d' % sys.version_info[:3]); print(' '.join(sys.builtin_module_names))",
        ],
        capture=True,
    )
    version, modules = (asked.output.strip().splitlines() + ["", ""])[:2]
    return Interpreter(path, tuple(emulator), version.strip(), frozenset(modules.split()))


def build_hint(version: str) -> str:
    from cpython_static.versions import get_variant

    mm = ".".join(version.split(".")[:2])
    return (
        f"cpython-static build {version} {get_variant(VARIANT_BUILD).flag} --optimize quick "
        f"(it publishes OUT/cpython-{version}-<target>-{VARIANT_BUILD}/python{mm})"
    )


def variant_problem(shipped: Interpreter, variant: Interpreter) -> str | None:
    """Why ``variant`` is not the test variant of ``shipped``'s release, or None."""
    from cpython_static.verify.modules import load_module_tables

    mm = shipped.series
    default, wanted = load_module_tables().get(mm), load_module_tables(variant=VARIANT_BUILD).get(mm)
    adds = wanted.builtin - default.builtin if default and wanted and wanted.derived else frozenset()
    missing = sorted(adds - variant.modules)
    if variant.version != shipped.version:
        return f"{variant.path} is CPython {variant.version}, the file under test is {shipped.version}"
    if not adds or missing:
        return (
            f"{variant.path} is not the test variant of CPython {shipped.version}"
            + (f": it lacks {', '.join(missing)}" if missing else f": modules.toml has no test variant for {mm}")
            + f"; build it with {build_hint(shipped.version)}"
        )
    return None


@dataclass
class Run:
    role: str  # SHIPPED or VARIANT
    binary: Path
    tests: list[str] | None  # None: the whole suite but plan.excluded
    result: SuiteResult
    log: Path


@dataclass
class Report:
    """What one ``--stdlib-tests`` run found, for the CLI and the watcher alike."""

    shipped: Interpreter
    plan: Plan
    runs: list[Run]
    verdict: Verdict
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.verdict.ok

    @property
    def result(self) -> SuiteResult:
        return self.verdict.result

    def ran_by(self, test: str) -> str:
        return next((r.role for r in self.runs if test in r.result.ran), SHIPPED)

    def not_run(self) -> dict | None:
        if not self.plan.not_run:
            return None
        return {
            "tests": [n.test for n in self.plan.not_run],
            "why": "they import CPython's test-only C modules, which the shipped file leaves out "
            "(--disable-test-modules); stdlib_tests.toml [test_modules] says which and why",
            "how": f"build the test variant with {build_hint(self.shipped.version)} and pass it with "
            "--test-modules-binary",
        }

    def to_json(self) -> dict:
        return {
            **self.verdict.to_json(),
            "version": self.shipped.version,
            "binary": str(self.shipped.path),
            "layout": self.shipped.layout,
            "log": str(self.runs[0].log) if self.runs else None,
            "duration_s": self.duration_s,
            "runs": [
                {
                    "role": r.role,
                    "binary": str(r.binary),
                    "tests": r.tests if r.tests is not None else "all",
                    "excluded": self.plan.excluded if r.tests is None else [],
                    "ran": len(r.result.ran),
                    "failed": sorted(r.result.failed),
                    "log": str(r.log),
                }
                for r in self.runs
            ],
            "not_run": self.not_run(),
        }

    def summary(self) -> str:
        """One line: the verdict and its counts."""
        v, r = self.verdict, self.result
        kinds = ", ".join(f"{k} {n}" for k, n in v.counts().items()) or "none"
        return (
            f"{'OK' if v.ok else 'FAILED'}: {len(r.ran)} test files ({self.shipped.layout}), {len(r.failed)} failed "
            f"({len(v.expected)} expected: {kinds}; {len(v.unexpected)} unexpected, {len(v.stale)} stale), "
            f"{len(r.skipped)} skipped"
            + (f", {len(self.plan.not_run)} not run (no --test-modules-binary)" if self.plan.not_run else "")
        )

    def lines(self) -> list[str]:
        """The human report, a line per run and per file that is not a plain pass."""
        mm, out = self.shipped.series, []
        for r in self.runs:
            what = f"the whole suite but {len(self.plan.excluded)} files" if r.tests is None else ", ".join(r.tests)
            out.append(
                f"{r.role:13s} {r.binary}: {what}; {len(r.result.ran)} ran, {len(r.result.failed)} failed; log {r.log}"
            )
        for e in self.verdict.expected:
            out.append(f"expected {e.test:28s} {e.kind:9s} ({self.ran_by(e.test)}) {e.why}")
        for t in self.verdict.unexpected:
            out.append(f"FAIL     {t:28s} not in stdlib_tests.toml [{mm}]: a new failure ({self.ran_by(t)})")
        for t in self.verdict.stale:
            out.append(f"STALE    {t:28s} listed in stdlib_tests.toml [{mm}] but passed ({self.ran_by(t)})")
        if not_run := self.not_run():
            names = ", ".join(f"{n.test} ({', '.join(n.modules)})" for n in self.plan.not_run)
            n = len(self.plan.not_run)
            out.append(f"NOT RUN  {n} test file{'s' if n != 1 else ''}, because {not_run['why']}: {names}")
            out.append(f"         to run them, {not_run['how']}")
        return out


def run_stdlib_tests(
    runner: Runner,
    scratch: Path,
    shipped: Interpreter,
    lib_test: Path,
    *,
    tests: list[str] = (),
    variant: Interpreter | None = None,
    jobs: int = 2,
    progress=lambda line: None,
) -> Report:
    """CPython's suite (``lib_test``: the release's patched Lib/test) run by ``shipped``, the
    files needing test-only C modules by ``variant`` when given, each in a prefix of the
    same shape under ``scratch`` (removed afterwards); judged against the series' table."""
    import time

    started = time.monotonic()
    mm = shipped.series
    planned = plan(list(tests), load_test_module_files().get(mm, {}), have_variant=variant is not None)
    runs: list[Run] = []
    try:
        for role, interp, asked in ((SHIPPED, shipped, planned.shipped), (VARIANT, variant, planned.variant)):
            if interp is None or asked == []:
                continue
            # The same kind of prefix for each: <scratch>/<role>/bin/pythonX.Y, lib/pythonX.Y/test.
            prefix = scratch / role.replace(" ", "-")
            (prefix / "tmp").mkdir(parents=True)
            python = prepare_prefix(interp.path, lib_test, prefix, mm)
            whole = asked is None
            progress(
                f"{role}: running "
                + ("the whole suite but the files listed as needing test modules" if whole else ", ".join(asked))
                + f" with -j{jobs}"
                + (" (the full suite takes tens of minutes)" if whole else "")
            )
            result, log = run_suite(
                runner,
                [*interp.emulator, str(python)],
                tests=asked or [],
                exclude=planned.excluded if whole else [],
                jobs=jobs,
                workdir=prefix,
                step=f"stdlib tests (regrtest, {role})",
            )
            runs.append(Run(role, interp.path, asked, result, log))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    verdict = judge(merge([r.result for r in runs]), expected_for(load_table().get(mm, {}), shipped.layout))
    return Report(shipped, planned, runs, verdict, round(time.monotonic() - started, 1))
