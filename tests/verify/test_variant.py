"""Build variants in verify (build --no-gpl): the module tables without what a variant
leaves out, the smoke checks of readline and dbm as the variant builds them, and the
``variant`` check's verdict from the interpreter's answers and the SBOM beside it."""

import subprocess
import sys
import types
from pathlib import Path

import pytest

from cpython_static.core.runner import Runner
from cpython_static.runtime import smoke_checks
from cpython_static.verify import checks as V
from cpython_static.verify.modules import load_module_tables, variant_removes
from cpython_static.versions import VersionError

LIBEDIT = {"library": "EditLine wrapper"}
GNU = {"library": "8.2"}


def test_no_gpl_tables_leave_gdbm_and_dbm_out_with_their_reasons():
    default, no_gpl = load_module_tables(), load_module_tables(variant="no-gpl")
    assert set(variant_removes("no-gpl")) == {"_gdbm", "_dbm"} and variant_removes("default") == {}
    for series, table in default.items():
        if not table.derived:
            continue
        assert no_gpl[series].builtin == table.builtin - {"_gdbm", "_dbm"}
        assert "readline" in no_gpl[series].builtin
        assert "GPL-3.0-or-later" in no_gpl[series].excluded["_gdbm"]
        assert "dbm.sqlite3" in no_gpl[series].excluded["_dbm"] and "dbm.dumb" in no_gpl[series].excluded["_dbm"]
    # What a stray _gdbm in a no-gpl file is told: the reason it should not be there.
    check = V.check_builtin_modules(sorted(default["3.13"].builtin), "3.13", "x86_64-linux-musl", no_gpl)
    assert not check.ok and "unexpected: _dbm (excluded: its ndbm API came from gdbm_compat" in check.detail


def facts(readline, modules=("_dbm", "_gdbm", "readline"), dbm="dbm.sqlite3"):
    return {"versions": {}, "readline": readline, "modules": sorted(modules), "dbm": dbm}


def doc(*libraries, whole):
    licences = {"readline": "GPL-3.0-or-later", "gdbm": "GPL-3.0-or-later", "libedit": "BSD-3-Clause AND BSD-2-Clause"}
    return {
        "packages": [
            {"name": "CPython", "versionInfo": "3.13.15", "licenseDeclared": "PSF-2.0", "licenseConcluded": whole},
            *({"name": n, "versionInfo": "1", "licenseDeclared": licences.get(n, "MIT")} for n in libraries),
        ]
    }


DEFAULT_DOC = doc("zlib", "readline", "gdbm", whole="GPL-3.0-or-later AND MIT AND PSF-2.0")
NO_GPL_DOC = doc("zlib", "libedit", whole="BSD-2-Clause AND BSD-3-Clause AND MIT AND PSF-2.0")


def test_the_binary_says_which_variant_it_is():
    assert V.binary_variant(facts(GNU)) == "default"
    assert V.binary_variant(facts(LIBEDIT, modules=("readline",))) == "no-gpl"
    # Half of each is neither: libedit beside gdbm, or GNU readline without it.
    assert V.binary_variant(facts(LIBEDIT)) is None
    assert V.binary_variant(facts(GNU, modules=("readline",))) is None
    assert V.binary_variant(facts({"error": "ModuleNotFoundError: readline"}, modules=())) is None


def test_the_sbom_declares_a_variant_by_its_components():
    assert V.declared_variant(DEFAULT_DOC) == "default"
    assert V.declared_variant(NO_GPL_DOC) == "no-gpl"
    assert V.declared_variant(doc("zlib", "libedit", "gdbm", whole="x")) == "default"  # not every change shows


def test_variant_verdict_names_the_variant_and_what_proves_it():
    ok, detail = V.variant_verdict(
        facts(LIBEDIT, modules=("readline",)),
        "no-gpl",
        NO_GPL_DOC,
        {"CPython", "zlib", "libedit"},
        "python3.13.spdx.json",
    )
    assert ok, detail
    assert detail.startswith(
        "no-gpl: readline on libedit (EditLine wrapper), no _dbm, _gdbm; dbm.open() makes dbm.sqlite3"
    )
    assert "as python3.13.spdx.json declares (libedit 1; the file: BSD-2-Clause AND" in detail
    assert detail.endswith("licence texts: libedit's, none of gdbm's or readline's")
    ok, detail = V.variant_verdict(facts(GNU), None, DEFAULT_DOC, {"CPython", "zlib", "readline", "gdbm"})
    assert (
        ok
        and detail.startswith("default: readline on GNU readline 8.2, with _dbm, _gdbm")
        and "GPL-3.0-or-later" in detail
    )
    # No SBOM, nothing asked: it says what the file is.
    assert V.variant_verdict(facts(GNU), None, None) == (
        True,
        "default: readline on GNU readline 8.2, with _dbm, _gdbm; dbm.open() makes dbm.sqlite3",
    )


def test_variant_verdict_fails_a_file_that_is_not_what_was_asked_or_declared():
    ok, detail = V.variant_verdict(facts(GNU), "no-gpl", None)
    assert not ok and detail.startswith("the file is the default build (readline on GNU readline 8.2, with _dbm, _gdbm")
    assert detail.endswith("not no-gpl")
    ok, detail = V.variant_verdict(facts(GNU), None, NO_GPL_DOC, sbom_name="x.spdx.json")
    assert (
        not ok and "not no-gpl as x.spdx.json declares" in detail and "x.spdx.json declares the no-gpl build" in detail
    )
    ok, detail = V.variant_verdict(facts(LIBEDIT), None, NO_GPL_DOC)
    assert not ok and detail.startswith(
        "the file is no build variant (readline on libedit (EditLine wrapper), with _dbm"
    )


def test_variant_verdict_fails_an_sbom_whose_licence_or_texts_do_not_match():
    gpl_but_permissive = doc("zlib", "readline", "gdbm", whole="MIT AND PSF-2.0")
    ok, detail = V.variant_verdict(facts(GNU), None, gpl_but_permissive)
    assert not ok and "gives the file MIT AND PSF-2.0, but its GPL components are: gdbm, readline" in detail
    permissive_but_gpl = doc("zlib", "libedit", whole="GPL-3.0-or-later AND MIT")
    ok, detail = V.variant_verdict(facts(LIBEDIT, modules=("readline",)), "no-gpl", permissive_but_gpl)
    assert not ok and "GPL components are: none" in detail
    ok, detail = V.variant_verdict(
        facts(LIBEDIT, modules=("readline",)), "no-gpl", NO_GPL_DOC, {"CPython", "zlib", "libedit", "readline"}
    )
    assert not ok and "licence texts for readline, which the SBOM does not list" in detail


def test_variant_verdict_accepts_an_unknown_whole_licence_from_a_packed_distribution():
    # statool (tests/real/apps) states no licence: the whole file's is NOASSERTION, not a lie.
    unknown = doc("zlib", "readline", "gdbm", whole="NOASSERTION")
    ok, detail = V.variant_verdict(facts(GNU), None, unknown)
    assert ok and "the file: NOASSERTION" in detail


# ---------------------------------------------------------------- smoke checks
@pytest.fixture
def variant_globals(monkeypatch):
    monkeypatch.setattr(smoke_checks, "ABSENT", set())
    monkeypatch.setattr(smoke_checks, "READLINE_BACKEND", "readline")
    return smoke_checks


def test_dbm_check_wants_the_left_out_flavours_absent(variant_globals, monkeypatch):
    for name in ("_gdbm", "_dbm", "dbm.gnu", "dbm.ndbm"):
        monkeypatch.setitem(sys.modules, name, None)  # unimportable, as in a no-gpl file
    variant_globals.ABSENT.update({"_gdbm", "_dbm"})
    detail = variant_globals.check_dbm()
    assert "dbm.dumb" in detail and "dbm.gnu, dbm.ndbm absent (no _dbm, _gdbm)" in detail
    # 3.11 and 3.12 have no dbm.sqlite3: dbm.open() falls back to dbm.dumb.
    want = "dbm.sqlite3" if sys.version_info >= (3, 13) else "dbm.dumb"
    assert f"dbm.open() makes {want}" in detail
    monkeypatch.setitem(sys.modules, "dbm.gnu", types.ModuleType("dbm.gnu"))
    with pytest.raises(smoke_checks.CheckFailed, match="dbm.gnu imports, but the build leaves _gdbm out"):
        variant_globals.check_dbm()


class FakeLibedit(types.ModuleType):
    """What CPython's readline module on libedit looks like from Python."""

    _READLINE_LIBRARY_VERSION = "EditLine wrapper"
    backend = "editline"

    def __init__(self):
        super().__init__("readline")
        self.history, self.bound = [], []

    def parse_and_bind(self, text):
        self.bound.append(text)

    def clear_history(self):
        self.history.clear()

    def add_history(self, line):
        self.history.append(line)

    def get_current_history_length(self):
        return len(self.history)

    def get_history_item(self, index):
        return self.history[index - 1]


def test_readline_check_wants_the_variants_backend(variant_globals, monkeypatch):
    fake = FakeLibedit()
    monkeypatch.setitem(sys.modules, "readline", fake)
    with pytest.raises(smoke_checks.CheckFailed, match="backed by libedit, expected GNU readline"):
        variant_globals.check_readline()
    variant_globals.READLINE_BACKEND = "editline"
    assert variant_globals.check_readline() == "libedit (EditLine wrapper)"
    assert fake.bound == ["bind ^I rl_complete"]  # site.py's syntax for libedit
    fake.backend = "readline"  # a module that contradicts its library
    with pytest.raises(smoke_checks.CheckFailed, match="readline.backend 'readline' for library 'EditLine wrapper'"):
        variant_globals.check_readline()


@pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import _gdbm"], capture_output=True).returncode == 0
    or subprocess.run([sys.executable, "-c", "import readline"], capture_output=True).returncode != 0,
    reason="wants a host Python with GNU readline and without gdbm",
)
def test_verify_runs_the_smoke_checks_as_the_variant_asked_for(tmp_path):
    """The host Python (GNU readline, no gdbm) through verify: its dbm is what --no-gpl
    builds, its readline is not."""
    report = V.verify(
        Path(sys.executable).resolve(), runner=Runner(tmp_path), only=["dbm", "readline"], variant="no-gpl"
    )
    by = {c.name: c for c in report.checks}
    assert by["dbm"].ok and "dbm.gnu, dbm.ndbm absent" in by["dbm"].detail
    assert not by["readline"].ok and "expected libedit" in by["readline"].detail
    with pytest.raises(VersionError, match="no build variant"):
        V.verify(Path(sys.executable).resolve(), runner=Runner(tmp_path), only=["dbm"], variant="gpl-free")
