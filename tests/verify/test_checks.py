"""Fast tier for verify.py: module tables, the individual checks, and verify() end to end
against the host's own (dynamic, glibc) CPython, which exercises the probe, the smoke
script, the TLS material and the report without a static build."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpython_static.build.toolchain import TARGETS
from cpython_static.core.runner import Runner
from cpython_static.runtime import smoke_checks
from cpython_static.verify import checks as V
from cpython_static.verify.elf import read_elf

REPO = Path(__file__).resolve().parents[2]
HOST_PYTHON = Path(sys.executable).resolve()  # past pyenv shims and venv symlinks
HOST_SERIES = f"{sys.version_info.major}.{sys.version_info.minor}"
FOREIGN_ARCH = "aarch64" if V.host_arch() == "x86_64" else "x86_64"


@pytest.fixture
def runner(tmp_path) -> Runner:
    return Runner(tmp_path / "logs")


def write_exe(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


# ================================================================ module sets
def test_compare_reports_missing_and_unexpected():
    diff = V.compare_modules({"sys", "_ssl", "zlib"}, {"sys", "zlib", "_tkinter", "nis"})
    assert diff.missing == ("_ssl",)
    assert diff.unexpected == ("_tkinter", "nis")
    assert not diff.ok
    text = diff.describe({"_tkinter": "needs Tcl/Tk"})
    assert "missing: _ssl" in text
    assert "_tkinter (excluded: needs Tcl/Tk)" in text and ", nis" in text


def test_compare_equal_sets_is_ok():
    diff = V.compare_modules(["a", "b"], ("b", "a"))
    assert diff.ok and diff.describe() == ""


names = st.sets(st.sampled_from([f"m{i}" for i in range(12)]))


@given(names, names)
def test_compare_partitions_the_symmetric_difference(expected, actual):
    diff = V.compare_modules(expected, actual)
    assert set(diff.missing) == expected - actual
    assert set(diff.unexpected) == actual - expected
    assert diff.ok == (expected == actual)
    assert list(diff.missing) == sorted(diff.missing)


# ================================================================ the tables
CORE = {"builtins", "sys", "_imp", "marshal", "_warnings", "_io", "posix", "_thread"}


def test_shipped_tables_load_and_are_consistent():
    tables = V.load_module_tables()
    assert {"3.11", "3.12", "3.13", "3.14"} <= tables.keys()
    for series in ("3.11", "3.13"):
        table = tables[series]
        assert table.derived and CORE <= table.builtin, series
        assert {"_ssl", "_sqlite3", "_ctypes", "_decimal", "readline", "_curses"} <= table.builtin
        assert "_tkinter" in table.excluded and "_testcapi" in table.excluded
    assert not tables["3.12"].derived
    with pytest.raises(V.UnverifiedSeries, match="3.12"):
        V.expected_builtin_modules(tables["3.12"], "x86_64-linux-musl")
    # 3.14: derived from the 3.14.7 tree and proven by its build; 3.15: derived only.
    assert tables["3.14"].derived and tables["3.14"].proven
    assert tables["3.15"].derived and not tables["3.15"].proven
    for series in ("3.14", "3.15"):
        assert {"_zstd", "_hmac", "_remote_debugging", "_types"} <= tables[series].builtin
        assert "_testexternalinspection" not in tables[series].builtin | tables[series].excluded.keys()
    assert "_math_integer" in tables["3.15"].builtin - tables["3.14"].builtin
    assert "xxlimited_3_13" in tables["3.15"].excluded


def test_series_specific_modules():
    tables = V.load_module_tables()
    # PEP 594 removed these in 3.13; 3.11 still builds them on musl.
    assert {"_crypt", "spwd", "audioop", "ossaudiodev"} <= tables["3.11"].builtin
    assert not {"_crypt", "spwd", "audioop", "ossaudiodev", "nis"} & tables["3.13"].builtin
    assert "nis" in tables["3.11"].excluded
    assert {"_sha256", "_sha512"} <= tables["3.11"].builtin
    assert "_sha2" in tables["3.13"].builtin


def test_target_overrides_and_validation(tmp_path):
    toml = tmp_path / "modules.toml"
    toml.write_text(
        '[series."9.9"]\nderived = true\nbuiltin = ["sys", "a", "b"]\n'
        '[series."9.9".excluded]\nc = "why not"\n'
        '[series."9.9".targets."aarch64-linux-musl"]\nadd = ["d"]\nremove = ["a"]\n'
    )
    table = V.load_module_tables(toml)["9.9"]
    assert V.expected_builtin_modules(table, "x86_64-linux-musl") == {"sys", "a", "b"}
    assert V.expected_builtin_modules(table, "aarch64-linux-musl") == {"sys", "b", "d"}

    toml.write_text('[series."9.9"]\nderived = true\nbuiltin = ["a"]\n[series."9.9".excluded]\na = "contradiction"\n')
    with pytest.raises(ValueError, match="both expects and excludes"):
        V.load_module_tables(toml)
    toml.write_text('[series."9.9"]\nderived = true\nbuiltin = ["a"]\n[series."9.9".excluded]\nb = " "\n')
    with pytest.raises(ValueError, match="without a reason"):
        V.load_module_tables(toml)


def host_extension_modules() -> set[str]:
    dynload = Path(sysconfig.get_path("platstdlib")) / "lib-dynload"
    return {p.name.split(".", 1)[0] for p in dynload.glob("*.so")}


def has_derived_table(series: str) -> bool:
    table = V.load_module_tables().get(series)
    return table is not None and table.derived


@pytest.mark.skipif(
    not has_derived_table(HOST_SERIES), reason=f"no derived module table for the host's Python {HOST_SERIES}"
)
def test_host_interpreter_modules_are_all_classified():
    # A real CPython of the same series, built the ordinary (shared) way: every module
    # it has, built in or in lib-dynload, must be expected or deliberately excluded.
    table = V.load_module_tables()[HOST_SERIES]
    host = set(sys.builtin_module_names) | host_extension_modules()
    assert host - table.builtin - table.excluded.keys() == set()
    assert set(sys.builtin_module_names) <= table.builtin


# ------------------------------------------- re-derivation from the real sources
def source_tarball(series: str, lock_source_named) -> Path:
    # The table names the tarball it was read from; reconcile against exactly that one.
    name = V.load_module_tables()[series].note.split(":", 1)[0].strip()
    return lock_source_named(name)


def read_members(tarball: Path, wanted: tuple[str, ...]) -> dict[str, str]:
    found = {}
    with tarfile.open(tarball) as tar:
        for member in tar:
            rel = member.name.split("/", 1)[-1]
            if rel in wanted:
                found[rel] = tar.extractfile(member).read().decode()
    return found


_SETUP_LINE = re.compile(r"^#?(?:@MODULE_\w+_TRUE@)?([A-Za-z_]\w*)\s+\S+\.c\b")


def modules_in_setup(text: str, *, include_commented: bool) -> set[str]:
    out = set()
    for line in text.splitlines():
        if line.startswith("#") and not (include_commented and line.startswith("#@MODULE_")):
            continue
        if m := _SETUP_LINE.match(line):
            out.add(m.group(1))
    return out


def source_universe(files: dict[str, str]) -> tuple[set[str], set[str]]:
    """(every module the build system knows on Linux, the TEST_MODULES-gated ones)."""
    inittab = files["Modules/config.c.in"].split("_PyImport_Inittab[]", 1)[1]
    universe = set(re.findall(r'\{"(\w+)",', inittab))
    universe |= modules_in_setup(files["Modules/Setup.bootstrap.in"], include_commented=False)
    universe |= modules_in_setup(files["Modules/Setup"], include_commented=False)
    # 3.11 comments out the setup.py-built modules (#@MODULE_…); they still exist.
    universe |= modules_in_setup(files["Modules/Setup.stdlib.in"], include_commented=True)
    gated = set(re.findall(r'PY_STDLIB_MOD\(\[(\w+)\],\s*\[test "\$TEST_MODULES" = yes\]', files["configure.ac"]))
    return universe - {"_scproxy"}, gated  # _scproxy: macOS only


@pytest.mark.parametrize("series", ["3.11", "3.13"])
def test_tables_match_release_sources(series, lock_source_named):
    tarball = source_tarball(series, lock_source_named)
    files = read_members(
        tarball,
        (
            "Modules/config.c.in",
            "Modules/Setup.bootstrap.in",
            "Modules/Setup",
            "Modules/Setup.stdlib.in",
            "configure.ac",
        ),
    )
    universe, test_gated = source_universe(files)
    table = V.load_module_tables()[series]
    classified = table.builtin | table.excluded.keys()
    assert universe - classified == set(), "modules in the sources the table ignores"
    assert classified - universe == set(), "table names modules the sources do not have"
    assert test_gated and test_gated <= table.excluded.keys()


# ================================================================ single checks
def test_check_static(tmp_path):
    shell = read_elf("/bin/sh")
    check = V.check_static(shell, f"{shell.machine}-linux-musl")
    assert not check.ok and "PT_INTERP" in check.detail and "DT_NEEDED" in check.detail


def test_check_static_rejects_wrong_machine():
    shell = read_elf("/bin/sh")
    check = V.check_static(shell, f"{FOREIGN_ARCH}-linux-musl")
    assert not check.ok and f"not the target's {FOREIGN_ARCH}" in check.detail


@pytest.mark.parametrize(
    "actual, wanted, ok",
    [
        ("3.13.5", None, True),
        ("3.13.5", "3.13", True),
        ("3.13.5", "3.13.5", True),
        ("3.13.5", "3.13.4", False),
        ("3.13.5", "3.12", False),
        ("3.14.0rc1", "3.14", True),
        ("3.14.0rc1", "3.14.0", True),
        ("3.14.0rc1", "3.14.0rc2", False),
    ],
)
def test_check_version(actual, wanted, ok):
    assert V.check_version(actual, wanted).ok is ok


def test_format_version():
    assert V.format_version([3, 13, 5, "final", 0]) == "3.13.5"
    assert V.format_version([3, 14, 0, "candidate", 1]) == "3.14.0rc1"


def test_check_builtin_modules_against_table():
    tables = V.load_module_tables()
    expected = sorted(tables["3.13"].builtin)
    assert V.check_builtin_modules(expected, "3.13", "x86_64-linux-musl", tables).ok
    broken = [m for m in expected if m != "_ssl"] + ["_tkinter"]
    check = V.check_builtin_modules(broken, "3.13", "x86_64-linux-musl", tables)
    assert not check.ok
    assert "missing: _ssl" in check.detail and "_tkinter (excluded: tkinter" in check.detail
    unverified = V.check_builtin_modules(["sys"], "3.12", "x86_64-linux-musl", tables)
    assert not unverified.ok and "the binary has: sys" in unverified.detail
    unknown = V.check_builtin_modules(["sys"], "2.7", "x86_64-linux-musl", tables)
    assert not unknown.ok and "no table for 2.7" in unknown.detail


def test_check_no_shared_modules(tmp_path):
    dynload = tmp_path / "lib-dynload"
    assert V.check_no_shared_modules([str(dynload)]).ok  # absent directory
    dynload.mkdir()
    (dynload / "README.txt").write_text("not a module")
    assert V.check_no_shared_modules([str(dynload)]).ok
    (dynload / "sub").mkdir()
    (dynload / "sub" / "xxlimited.cpython-313-x86_64-linux-musl.so").write_bytes(b"")
    check = V.check_no_shared_modules([str(dynload)])
    assert not check.ok and "xxlimited.cpython-313" in check.detail


# ================================================================ emulation
def test_emulator_not_needed_for_native_target():
    assert V.resolve_emulator(f"{V.host_arch()}-linux-musl", None, os.defpath) == []


def test_explicit_emulator_wins():
    assert V.resolve_emulator(f"{FOREIGN_ARCH}-linux-musl", ["box64"], "") == ["box64"]


@pytest.mark.parametrize("target", sorted(t for t, v in TARGETS.items() if v.arch != V.host_arch()))
def test_every_foreign_target_s_emulator_is_qemu_named_by_its_arch(tmp_path, target):
    arch = TARGETS[target].arch
    qemu = write_exe(tmp_path / f"qemu-{arch}-static", "#!/bin/sh\n")
    assert V.resolve_emulator(target, None, str(tmp_path)) == [str(qemu)]


def test_missing_emulator_names_debian_package(tmp_path):
    with pytest.raises(V.VerifyError, match="qemu-user-static"):
        V.resolve_emulator(f"{FOREIGN_ARCH}-linux-musl", None, str(tmp_path))


def test_emulator_found_on_path_runs_foreign_binary(tmp_path, runner):
    search = os.environ.get("PATH", os.defpath)
    try:
        prefix = V.resolve_emulator(f"{FOREIGN_ARCH}-linux-musl", None, search)
    except V.VerifyError:
        pytest.skip(f"no qemu for {FOREIGN_ARCH} on this host (Debian: qemu-user-static)")
    assert Path(prefix[0]).name in (f"qemu-{FOREIGN_ARCH}-static", f"qemu-{FOREIGN_ARCH}")
    (tmp_path / "hello.c").write_text('#include <stdio.h>\nint main(void){puts("hi");}\n')
    runner.run(
        "zig",
        [
            sys.executable,
            "-m",
            "ziglang",
            "cc",
            "-target",
            f"{FOREIGN_ARCH}-linux-musl",
            "-static",
            "-O2",
            "hello.c",
            "-o",
            "hello",
        ],
        cwd=tmp_path,
    )
    assert read_elf(tmp_path / "hello").machine == FOREIGN_ARCH
    out = runner.run("run foreign", [*prefix, tmp_path / "hello"], capture=True).output
    assert out.strip() == "hi"


# ================================================================ the smoke script
def run_smoke(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(HOST_PYTHON), "-I", str(V.SMOKE_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TERM": "xterm-256color"},
    )


def test_smoke_script_lists_and_rejects_unknown_names():
    listed = run_smoke("--list")
    assert listed.stdout.split() == list(V.SMOKE_CHECKS)
    bad = run_smoke("no_such_check")
    assert bad.returncode == 2 and "unknown check" in bad.stderr


def test_smoke_stdout_carries_only_the_report():
    # readline and curses are the C libraries most prone to writing escape sequences.
    proc = run_smoke("readline", "curses", "compression")
    assert proc.stdout.count("\n") == 1
    report = json.loads(proc.stdout)
    assert [c["name"] for c in report["checks"]] == ["readline", "curses", "compression"]
    assert proc.returncode == (0 if all(c["ok"] for c in report["checks"]) else 1)
    assert "smoke: starting curses" in proc.stderr


def test_smoke_ssl_without_material_fails_cleanly():
    report = json.loads(run_smoke("ssl").stdout)
    assert report["checks"][0]["ok"] is False
    assert "--tls-ca" in report["checks"][0]["detail"]


def test_ctypes_check_calls_the_c_api_through_pythonapi():
    # The host's dynamic CPython answers pythonapi like the static file's own table must.
    from cpython_static.runtime import smoke_checks

    detail = smoke_checks.check_ctypes()
    assert detail.startswith("CFUNCTYPE closure round trip ok")
    assert "pythonapi calls Py_GetVersion and reads PyExc_TypeError" in detail


def test_ctypes_check_fails_where_pythonapi_cannot_look_up(monkeypatch):
    """A static file without the own-symbol table: patch 0002 keeps ctypes importable, and
    pythonapi raises AttributeError on every lookup, which the check must not pass."""
    import ctypes

    from cpython_static.runtime import smoke_checks

    class Unavailable:  # patch 0002's stand-in for PyDLL(None) when dlopen(NULL) fails
        def __getattr__(self, name):
            raise AttributeError(f"ctypes.pythonapi is unavailable ({name})")

    monkeypatch.setattr(ctypes, "pythonapi", Unavailable())
    with pytest.raises(AttributeError, match="pythonapi is unavailable"):
        smoke_checks.check_ctypes()


def smoke_checks_dir() -> str:
    from cpython_static import runtime

    return str(Path(runtime.__file__).parent)


# ================================================================ verify() end to end
def host_lacks(module: str) -> bool:
    return importlib.util.find_spec(module) is None


# Smoke checks the host CPython cannot pass, each with why.
HOST_GAPS = {
    "dbm": ("_gdbm", "the host CPython was built without gdbm"),
    "readline": ("readline", "the host CPython was built without readline"),
    "curses": ("_curses", "the host CPython was built without curses"),
    "uuid": ("_uuid", "the host CPython was built without libuuid"),
}


@pytest.fixture(scope="module")
def host_report(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("verify-host")
    return V.verify(HOST_PYTHON, runner=Runner(log_dir), version=HOST_SERIES)


def series_checks(series: str) -> list[str]:
    """ALL_CHECKS without the smoke checks of modules the series' table does not expect."""
    table = V.load_module_tables()[series]
    return [n for n in V.ALL_CHECKS if n not in smoke_checks.REQUIRES or smoke_checks.REQUIRES[n] in table.builtin]


def test_report_shape(host_report):
    data = host_report.to_json()
    assert [c["name"] for c in data["checks"]] == series_checks(HOST_SERIES)
    assert data["binary"] == str(HOST_PYTHON)
    assert data["target"] == f"{V.host_arch()}-linux-musl"
    assert data["version"].startswith(HOST_SERIES + ".")
    assert all(set(c) == {"name", "ok", "detail", "duration_s"} for c in data["checks"])
    assert data["modules"] == sorted(sys.builtin_module_names)
    json.dumps(data)  # the CLI prints it
    # The host python is dynamic, so the whole report must fail.
    assert data["ok"] is False


def test_host_python_is_not_static(host_report):
    static = next(c for c in host_report.checks if c.name == "static")
    assert not static.ok and "PT_INTERP" in static.detail


def test_host_python_version_matches(host_report):
    assert next(c for c in host_report.checks if c.name == "version").ok


def test_host_python_has_shared_modules(host_report):
    shared = next(c for c in host_report.checks if c.name == "no_shared_modules")
    assert not shared.ok and "lib-dynload" in shared.detail


@pytest.mark.parametrize("name", V.SMOKE_CHECKS)
def test_smoke_checks_pass_on_host_python(host_report, name):
    module, why = HOST_GAPS.get(name, (None, ""))
    if module and host_lacks(module):
        pytest.skip(why)
    if name not in series_checks(HOST_SERIES):
        assert name not in [c.name for c in host_report.checks]  # verify left it out
        pytest.skip(f"{smoke_checks.REQUIRES[name]} is not a {HOST_SERIES} module")
    check = next(c for c in host_report.checks if c.name == name)
    assert check.ok, check.detail
    assert check.duration_s >= 0


def test_only_selects_and_orders_checks(runner):
    report = V.verify(HOST_PYTHON, runner=runner, only=["hashlib", "static"])
    assert [c.name for c in report.checks] == ["static", "hashlib"]


def test_unknown_check_name_is_an_error(runner):
    with pytest.raises(V.VerifyError, match="unknown check"):
        V.verify(HOST_PYTHON, runner=runner, only=["staticc"])


def test_not_elf_is_an_error(tmp_path, runner):
    script = write_exe(tmp_path / "python", "#!/bin/sh\nexit 0\n")
    with pytest.raises(V.VerifyError, match="not an ELF"):
        V.verify(script, runner=runner)


def test_binary_that_is_not_python(runner):
    # /bin/false is a real ELF that exits 1: every runtime check must fail and point
    # at a log instead of raising.
    report = V.verify(Path("/bin/false"), runner=runner, only=["version", "hashlib"])
    version, hashlib_check = report.checks
    assert not version.ok and "exit status 1" in version.detail and ".log" in version.detail
    assert not hashlib_check.ok and "without a report" in hashlib_check.detail
    assert not report.ok


def test_crash_during_smoke_names_the_check(tmp_path, runner):
    # An "emulator" that runs the probe faithfully but dies like a segfaulting
    # interpreter once the smoke script has announced its first check.
    shim = write_exe(
        tmp_path / "crashy",
        (
            "#!/bin/sh\n"
            'case "$*" in *smoke_checks.py*) echo "smoke: starting ctypes" >&2; kill -SEGV $$;; esac\n'
            'exec "$@"\n'
        ),
    )
    report = V.verify(HOST_PYTHON, runner=runner, emulator=[str(shim)], only=["version", "ctypes", "decimal"])
    version, ctypes_check, decimal_check = report.checks
    assert version.ok
    for check in (ctypes_check, decimal_check):
        assert not check.ok
        assert "SIGSEGV" in check.detail and "last check started: ctypes" in check.detail


def test_children_run_under_the_emulator(tmp_path, runner):
    # A recording "emulator": child interpreters started by multiprocessing and asyncio
    # must go through it too, or a foreign binary could not start them.
    calls = tmp_path / "calls.log"
    shim = write_exe(tmp_path / "recorder", f'#!/bin/sh\necho "$*" >> {calls}\nexec "$@"\n')
    report = V.verify(HOST_PYTHON, runner=runner, emulator=[str(shim)], only=["multiprocessing", "asyncio_subprocess"])
    assert report.ok, [c.detail for c in report.checks]
    recorded = calls.read_text()
    assert "--multiprocessing-fork" in recorded  # the spawn child
    assert "6 * 7" in recorded  # the asyncio child


def test_missing_openssl_is_an_error(tmp_path):
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    runner = Runner(tmp_path / "logs", base_env={"PATH": str(empty_path)})
    with pytest.raises(V.VerifyError, match="openssl"):
        V.verify(HOST_PYTHON, runner=runner, only=["ssl"])


def test_tls_material_is_a_real_chain(tmp_path, runner):
    tls = V.make_tls_material(runner, "openssl", tmp_path / "tls")
    verified = runner.run(
        "verify chain",
        ["openssl", "verify", "-CAfile", tls["ca"], "-x509_strict", "-purpose", "sslserver", tls["cert"]],
        capture=True,
    )
    assert f"{tls['cert']}: OK" in verified.output


def test_check_stdlib_one_file_and_tree(tmp_path):
    exe = tmp_path / "python3.13"
    exe.write_bytes(b"\x7fELF" + b"\0" * 64)
    assert not V.ends_with_zip(exe)
    import zipfile

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("json/__init__.py", "")
    exe.write_bytes(exe.read_bytes() + archive.read_bytes())
    assert V.ends_with_zip(exe)
    assert V.check_stdlib(True, str(exe), f"{exe}/json/__init__.pyc").ok
    bad = V.check_stdlib(True, str(exe), "/usr/lib/python3.13/json/__init__.py")
    assert not bad.ok and "not from inside" in bad.detail
    tree = V.check_stdlib(False, "/opt/p/bin/python3.13", "/opt/p/lib/python3.13/json/__init__.py")
    assert tree.ok and "tree layout" in tree.detail


# ================================================================ the start-up hook check
GOOD_HOOK = {
    "loaded": True,
    "import_errors": {},
    "installed": [
        "extension-refusal",
        "zip-filenames",
        "zip-sources",
        "zip-file-attrs",
        "tzdata-member",
        "after-import-fixups",
        "shared-object-finder",
    ],
    "fixups": {
        "ssl": "applied",
        "ensurepip": "not needed: ensurepip keeps the bundled wheel's name itself",
        "venv": "copies the activate scripts out of the archive",
    },
    "ensurepip": {"bundled": "26.2.1", "version": "26.2.1"},
}


def test_hook_check_passes_when_everything_was_installed():
    check = V.check_hook(GOOD_HOOK, one_file=True)
    assert check.ok and "ssl: applied" in check.detail


def test_hook_check_fails_when_pip_would_get_the_wheel_under_a_temporary_name():
    """What an unfixed 3.12+ ensurepip gives from a zipped stdlib (the real value's shape)."""
    lost = dict(GOOD_HOOK, ensurepip={"bundled": "26.2.1", "version": "tmpx3tsk7qzpip"})
    check = V.check_hook(lost, one_file=True)
    assert not check.ok and "ensurepip.version() gives 'tmpx3tsk7qzpip', not the bundled pip 26.2.1" in check.detail
    broken = dict(GOOD_HOOK, ensurepip={"bundled": "26.2.1", "error": "OSError: read-only"})
    assert "ensurepip.version() failed: OSError: read-only" in V.check_hook(broken, one_file=True).detail
    assert "ensurepip.version() 26.2.1" in V.check_hook(GOOD_HOOK, one_file=True).detail


def test_hook_check_names_a_hook_that_raised():
    output = (
        "cpython-static: start-up hook failed:\nTraceback (most recent call last):\n"
        "  File \"x\", line 1\nAttributeError: module 'zipimport' has no attribute '_unmarshal_code'\n{\"hook\": {}}\n"
        "\n# ---- exit status 0 after 0.05s ----\n"
    )
    check = V.check_hook({"loaded": False}, one_file=True, output=output)
    assert not check.ok and "start-up hook failed" in check.detail and "_unmarshal_code" in check.detail
    assert "not loaded" in V.check_hook({"loaded": False}, one_file=False).detail


def test_hook_check_names_what_is_missing():
    partial = dict(
        GOOD_HOOK,
        installed=["extension-refusal"],
        fixups={"ssl": "applied"},
        import_errors={"ensurepip": "ImportError: x"},
    )
    detail = V.check_hook(partial, one_file=True).detail
    assert "after-import-fixups not installed" in detail and "zip-filenames not installed" in detail
    assert "import ensurepip failed" in detail
    tree = dict(GOOD_HOOK, installed=["extension-refusal", "after-import-fixups", "shared-object-finder"])
    assert V.check_hook(tree, one_file=False).ok  # no zipimport fix-up without a zip


def test_hook_reports_its_work_when_imported(tmp_path):
    """The hook itself, run in this (host) interpreter's child: it fills REPORT."""
    hook = REPO / "cpython_static" / "runtime" / "stdlib" / "_cpython_static.py"
    # The host's C modules are shared objects the hook would refuse: load them first,
    # then let ssl.py and ensurepip be imported again under the hook.
    code = (
        "import sys, json, ssl, ensurepip; del sys.modules['ssl'], sys.modules['ensurepip']; "
        "sys.path.insert(0, %r); import _cpython_static as h, ssl, ensurepip; "
        "print(json.dumps(h.REPORT))" % str(hook.parent)
    )
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    assert {"extension-refusal", "after-import-fixups", "shared-object-finder"} <= set(report["installed"])
    assert report["fixups"]["ssl"] == "applied" and "ensurepip" in report["fixups"]


def test_unproven_table_says_so():
    tables = {"9.9": V.SeriesTable("9.9", True, frozenset({"a"}), {}, {}, proven=False)}
    check = V.check_builtin_modules(["a"], "9.9", "x86_64-linux-musl", tables)
    assert check.ok and "not yet proven" in check.detail
    check = V.check_builtin_modules(["a", "b"], "9.9", "x86_64-linux-musl", tables)
    assert not check.ok and "unexpected: b" in check.detail
