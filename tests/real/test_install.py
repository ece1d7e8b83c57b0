"""A plain (non-editable) install finds everything it carries: `pip install .` into a
fresh venv, run from outside the checkout, gives a `cpython-static` whose `upstream
nixpkgs` and `upstream cpython` find their templates, and whose build data (launcher,
start-up hook, smoke checks, tables, lock, recipes) is package data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cpython_static.core.runner import Runner
from tests.upstream.test_nixpkgs import NIX, make_checkout

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    base = tmp_path_factory.mktemp("install")
    env_dir = base / "venv"
    # --system-site-packages: the dependencies come from this machine; the project itself
    # is built into a wheel (setuptools from the configured index) and installed from it.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(env_dir)], check=True)
    res = subprocess.run(
        [env_dir / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return env_dir, base


def _run(venv, *args, cwd):
    env_dir, _ = venv
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [env_dir / "bin" / "cpython-static", *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )


def test_installed_package_is_not_the_checkout(venv):
    env_dir, base = venv
    code = (
        "import json, cpython_static as c\n"
        "from cpython_static.build.cpython import LAUNCHER\n"
        "from cpython_static.build.own_symbols import SOURCE\n"
        "from cpython_static.build.publish import HOOK, ZIP_SCRIPT\n"
        "from cpython_static.build.libraries import all_recipe_names\n"
        "from cpython_static.build.sources import load_lock\n"
        "from cpython_static.upstream.cpython import TEMPLATES, Wording\n"
        "from cpython_static.upstream.nixpkgs import load_spec\n"
        "from cpython_static.verify.checks import SMOKE_SCRIPT\n"
        "from cpython_static.verify.modules import load_module_tables\n"
        "from cpython_static.series.watch import SCHEDULE_DIR\n"
        "import pathlib\n"
        "Wording.load(); load_spec(patches_dir=pathlib.Path(%r)); load_module_tables(); load_lock()\n"
        "print(json.dumps({'file': c.__file__, 'launcher': LAUNCHER.joinpath('main.c').is_file(),\n"
        "  'own_symbols': SOURCE.is_file(),\n"
        "  'hook': HOOK.is_file(), 'zip': ZIP_SCRIPT.is_file(), 'smoke': SMOKE_SCRIPT.is_file(),\n"
        "  'templates': TEMPLATES.is_dir(), 'recipes': len(all_recipe_names()),\n"
        "  'schedule': len(list(SCHEDULE_DIR.glob('cpython-static-watch.*')))}))\n"
    ) % str(ROOT / "patches")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run(
        [env_dir / "bin" / "python", "-I", "-c", code], cwd=base, capture_output=True, text=True, env=env
    )
    assert res.returncode == 0, res.stderr
    found = json.loads(res.stdout)
    assert Path(found.pop("file")).is_relative_to(env_dir), "the checkout was imported, not the install"
    assert found == {
        "launcher": True,
        "own_symbols": True,
        "hook": True,
        "zip": True,
        "smoke": True,
        "templates": True,
        "recipes": len(list((ROOT / "cpython_static" / "build" / "recipes").glob("*.toml"))),
        "schedule": 2,
    }


@pytest.mark.skipif(NIX is None, reason="nix-instantiate not installed (.ci/setup installs nix-bin)")
def test_installed_upstream_nixpkgs_finds_its_templates(venv, tmp_path):
    repo = make_checkout(Runner(tmp_path / "logs"), tmp_path / "nixpkgs")
    res = _run(
        venv, "upstream", "nixpkgs", "--nixpkgs", str(repo), "--json", "--log-dir", str(tmp_path / "l"), cwd=tmp_path
    )
    # No patches/ beside an installed wheel: the patch the commit carries cannot be found.
    assert res.returncode == 2 and "pass --patches DIR" in res.stderr, res.stderr[-3000:]
    res = _run(
        venv,
        "upstream",
        "nixpkgs",
        "--nixpkgs",
        str(repo),
        "--patches",
        str(Path(__file__).resolve().parents[2] / "patches"),
        "--json",
        "--log-dir",
        str(tmp_path / "l2"),
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads(res.stdout)["changed"] is True


def test_installed_upstream_cpython_finds_its_templates(venv, tmp_path):
    # Past the template check, the first thing refused is the missing checkout.
    res = _run(
        venv,
        "upstream",
        "cpython",
        "--repo",
        str(tmp_path / "nowhere"),
        "--patches",
        str(ROOT / "patches"),
        "--issue",
        "116303",
        "--log-dir",
        str(tmp_path / "l"),
        cwd=tmp_path,
    )
    assert res.returncode == 2 and "no such directory" in res.stderr, res.stderr[-2000:]
    assert "templates are not" not in res.stderr
