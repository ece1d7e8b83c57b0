"""The nixpkgs commit's build logic, run: for each fixture layout, the edited derivation's
configureFlags (evaluated by nix, static, 3.13.15) configure a real static CPython that
is built and `make install`ed, and the derivation's postInstall -- found with our Nix
tokenizer, its text evaluated by nix -- runs on that tree with `bash -euo pipefail` and
nullglob, as stdenv's setup.sh runs phases (a glob that matches nothing is an empty list:
nixpkgs' own `config-313*` loop relies on it).

The build and the postInstall run are for the current layout (cached build: a second
run of the suite only reruns postInstall); the other layouts are proven to evaluate to
the same configure flags and the same postInstall text, so the same run stands for
them.  stdenv is played by our toolchain
(tests/real/nix_install.py says how); `nuke-refs` is nixpkgs' tool that blanks store
hashes, and the tree has none to blank: here it only has to find its files.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cpython_static.core.runner import Runner
from cpython_static.upstream.nixpkgs import _binding, load_spec, make_commit, tokenize
from cpython_static.verify.elf import read_elf
from tests.real.nix_install import STORE_OUT, install_tree, libraries
from tests.upstream.test_nixpkgs import CHECKOUT, FILE, HARNESS, NIX, file_at, make_checkout

VERSION = "3.13.15"
SPEC = load_spec()
pytestmark = pytest.mark.skipif(NIX is None, reason="nix-instantiate not installed (.ci/setup installs nix-bin)")

NUKE_REFS = """#!/bin/sh
# nixpkgs' nuke-refs [-e KEEP]... FILE...: blank /nix/store/<hash>- references in FILEs.
set -eu
keep=""
while [ "$1" = "-e" ]; do keep="$keep|$2"; shift 2; done
for f in "$@"; do
  [ -f "$f" ] || { echo "nuke-refs: $f: not a file" >&2; exit 1; }
  sed -i -E "s|/nix/store/[a-z0-9]{32}-|/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-|g" "$f"
done
"""


@pytest.fixture(scope="module")
def libs(cache, tmp_path_factory):
    return libraries(cache, Runner(tmp_path_factory.mktemp("nix-libs-logs")), VERSION)


def committed(tmp_path, variant):
    """The default.nix of the commit `upstream nixpkgs` makes on a fixture layout."""
    runner = Runner(tmp_path / "logs")
    repo = make_checkout(runner, tmp_path / "nixpkgs", variant)
    out = make_commit(repo, runner)
    return runner, file_at(runner, repo, out.commit, tmp_path / "eval" / "default.nix")


def phase_text(path: Path, name: str = "postInstall") -> str:
    """A binding's Nix source, found with the tokenizer."""
    src = path.read_text()
    toks = tokenize(src)
    lo, hi = _binding(toks, src, name)
    return src[toks[lo].start : toks[hi - 1].end]


@pytest.mark.parametrize("variant", ["rfc-style.nix", "optional-static.nix"])
def test_other_layouts_evaluate_to_the_same_build_logic_real(variant, libs, tmp_path):
    openssl = str(libs.prefixes["openssl"])
    runner, current = committed(tmp_path / "current", None)
    _, edited = committed(tmp_path / "variant", variant)
    assert phase_text(edited) == phase_text(CHECKOUT.parent / "variants" / variant)  # untouched
    for attr in ("configureFlags", "postInstall"):
        a, b = _evaluate(runner, current, attr, openssl), _evaluate(runner, edited, attr, openssl)
        assert (sorted(a) if attr == "configureFlags" else a) == (sorted(b) if attr == "configureFlags" else b), attr


def test_postinstall_succeeds_on_the_static_install_tree_real(cache, libs, tmp_path):
    runner, edited = committed(tmp_path, None)
    # The commit leaves postInstall's text alone.
    assert phase_text(edited) == phase_text(CHECKOUT / FILE)

    openssl = str(libs.prefixes["openssl"])
    flags = _evaluate(runner, edited, "configureFlags", openssl)
    for flag in SPEC.flags:
        assert flag in flags
    assert "--disable-test-modules" not in flags
    post_install = _evaluate(runner, edited, "postInstall", openssl)

    entry = install_tree(cache, Runner(tmp_path / "build-logs"), VERSION, flags, libs)
    installed = entry / "out"
    # What --disable-test-modules would have removed, and postInstall needs.
    assert (installed / "lib" / "python3.13" / "test" / "support").is_dir()

    # $out at its store path is not writable here: the tree runs from a copy, as
    # relocatable as CPython's getpath makes it.
    work = tmp_path / "run"
    out_dir = work / STORE_OUT.lstrip("/")
    shutil.copytree(installed, out_dir, symlinks=True)
    build_dir = work / "build"
    shutil.copytree(entry / "build", build_dir, symlinks=True)
    tools = work / "bin"
    tools.mkdir()
    (tools / "nuke-refs").write_text(NUKE_REFS)
    (tools / "nuke-refs").chmod(0o755)
    (work / "tmp").mkdir()
    env = {
        "PATH": f"{tools}:/usr/bin:/bin",
        "out": str(out_dir),
        "TMPDIR": str(work / "tmp"),
        "HOME": "/homeless-shelter",  # what a nix build has
        "LANG": "C.UTF-8",
    }
    res = subprocess.run(
        ["bash", "-euo", "pipefail", "-O", "nullglob", "-c", post_install],
        cwd=build_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert res.returncode == 0, f"postInstall failed ({res.returncode}):\n{res.stderr[-4000:]}"

    lib = out_dir / "lib" / "python3.13"
    assert (lib / "test" / "__init__.py").is_file() and (lib / "test" / "support").is_dir()
    assert not (lib / "test" / "test_os.py").exists()
    assert (lib / "EXTERNALLY-MANAGED").is_file()
    assert (out_dir / "bin" / "python").is_symlink()
    assert list((lib / "__pycache__").glob("os.cpython-313.opt-2.pyc"))

    # The interpreter postInstall ran compileall with: static, modules built in.
    python = out_dir / "bin" / "python3.13"
    assert read_elf(python).is_static
    dynload = lib / "lib-dynload"
    assert not dynload.exists() or not any(dynload.iterdir())
    check = (
        "import sys, ssl, sqlite3, readline, zlib, lzma, bz2, _decimal, _ctypes, _uuid, _curses, _gdbm; "
        "names = set(sys.builtin_module_names); "
        "print(sorted({'_ssl', '_sqlite3', 'readline', '_ctypes', '_testcapi'} - names))"
    )
    ran = subprocess.run([python, "-c", check], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert ran.returncode == 0 and ran.stdout.strip() == "[]", ran.stderr[-2000:]


def _evaluate(runner, file: Path, attr: str, openssl: str):
    import json

    res = runner.run(
        f"evaluate {attr}",
        [
            NIX,
            "--store",
            "dummy://",
            "--eval",
            "--strict",
            "--json",
            HARNESS,
            "--arg",
            "root",
            CHECKOUT,
            "--arg",
            "file",
            file,
            "--arg",
            "static",
            "true",
            "--argstr",
            "version",
            VERSION,
            "--argstr",
            "attr",
            attr,
            "--argstr",
            "openssl",
            openssl,
        ],
        capture=True,
    )
    return json.loads(res.output)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
