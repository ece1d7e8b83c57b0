"""`build 3.13.15 --with psutil --with pyyaml --with markupsafe`: third-party C
extensions compiled into the interpreter (quick, on the cached quick 3.13.15 build), the
one file run with an empty environment: psutil's calls, PyYAML's C loader (libyaml),
MarkupSafe's C speedups, each a built-in module under its full dotted name."""

import json
import subprocess
import sys
import textwrap

from .conftest import VERSION, run_cli

PACKAGES = ("psutil", "pyyaml", "markupsafe")
MODULES = {"psutil._psutil_linux", "yaml._yaml", "markupsafe._speedups"}

PROBE = textwrap.dedent(
    """
    import importlib.util, json, sys
    import psutil, yaml, markupsafe
    from markupsafe import _speedups
    print(json.dumps({
        "cpu_count": psutil.cpu_count(),
        "pid_is_ours": psutil.Process().pid == __import__("os").getpid(),
        "with_libyaml": yaml.__with_libyaml__,
        "cloader": yaml.load("a: [1, {b: c}]", Loader=yaml.CLoader),
        "cloader_class": yaml.CLoader.__module__,
        "speedups": markupsafe._escape_inner is _speedups._escape_inner,
        "escaped": str(markupsafe.escape("<a href='x'>")),
        "origins": {m: importlib.util.find_spec(m).origin for m in sorted(%r)},
        "files_in_exe": all(m.__file__.startswith(sys.executable + "/") for m in (psutil, yaml, markupsafe)),
        "builtins": sorted(sys.builtin_module_names),
    }))
    """
    % (sorted(MODULES),)
)


def test_build_with_c_extensions(tmp_path):
    out = tmp_path / "dist"
    args = ["build", VERSION, *(a for p in PACKAGES for a in ("--with", p)), "--json", "--out", str(out)]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr[-6000:]
    result = json.loads(first.stdout)
    assert result["ok"] and set(result["added"]["modules"]) == MODULES
    sdists = {s["name"]: s for s in result["added"]["sdists"]}
    assert set(sdists) == set(PACKAGES) and all(len(s["sha256"]) == 64 for s in sdists.values())
    assert sdists["pyyaml"]["libraries"].keys() == {"libyaml"}
    checks = {c["name"]: c for c in result["verify"]["checks"]}
    assert checks["builtin_modules"]["ok"] and "+ 3 added" in checks["builtin_modules"]["detail"]
    assert checks["added_modules"]["ok"]

    # The one file alone, with an empty environment.
    res = subprocess.run(["env", "-i", result["binary"], "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["cpu_count"] >= 1 and got["pid_is_ours"]
    assert (
        got["with_libyaml"] is True
        and got["cloader"] == {"a": [1, {"b": "c"}]}
        and got["cloader_class"] == "yaml.cyaml"
    )
    assert got["speedups"] and got["escaped"] == "&lt;a href=&#39;x&#39;&gt;"
    assert got["origins"] == {m: "built-in" for m in sorted(MODULES)} and got["files_in_exe"]
    assert MODULES <= set(got["builtins"])

    # Same interpreter underneath as a build without --with (its key is untouched), and
    # verify, told the added modules, passes; without them it names each as unexpected.
    plain = run_cli("build", VERSION, "--json", "--no-verify", "--out", str(tmp_path / "plain"))
    assert plain.returncode == 0, plain.stderr[-4000:]
    assert json.loads(plain.stdout)["interpreter_key"] == result["interpreter_key"]
    told = run_cli("verify", result["binary"], *(a for m in sorted(MODULES) for a in ("--with-module", m)))
    assert told.returncode == 0, told.stdout + told.stderr
    untold = run_cli("verify", result["binary"], "--json")
    assert untold.returncode == 1
    detail = next(c for c in json.loads(untold.stdout)["checks"] if c["name"] == "builtin_modules")["detail"]
    assert all(m in detail for m in MODULES) and "unexpected" in detail

    # Warm: every piece from the cache.
    again = run_cli(*args[:-1], str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr[-4000:]
    warm = json.loads(again.stdout)
    assert all(s["cached"] for s in warm["added"]["sdists"]) and warm["added"]["interpreter"]["cached"]
    sys.stderr.write(
        f"--with build: cold {first.duration:.1f}s, warm {again.duration:.1f}s; one file "
        f"{result['size_bytes']} bytes (without --with: {json.loads(plain.stdout)['size_bytes']})\n"
    )


def test_refusals_come_before_any_build_and_leave_out_untouched(tmp_path):
    out = tmp_path / "dist"
    rust = run_cli("build", VERSION, "--with", "psutil", "--with", "pydantic-core", "--out", str(out))
    assert (
        rust.returncode == 2 and "pydantic-core" in rust.stderr and "Rust" in rust.stderr and "instead" in rust.stderr
    )
    unknown = run_cli("build", VERSION, "--with", "no-such-package-cpython-static-test", "--out", str(out))
    assert (
        unknown.returncode == 2
        and "pip found no source distribution" in unknown.stderr
        and "pip's log" in unknown.stderr
    )
    assert "building CPython" not in rust.stderr + unknown.stderr
    assert not out.exists()
