"""The one-file layout's pieces, run with the host's Python: the archive writer, the
start-up hook's parts that do not need a static binary, and publishing."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cpython_static.build import publish as onefile
from cpython_static.core.runner import Runner
from cpython_static.verify.checks import make_tls_material

PACKAGE = Path(onefile.__file__).parents[1] / "runtime"  # the code that runs inside the interpreter
ZIP_SCRIPT = PACKAGE / "stdlib_zip.py"
HOOK = PACKAGE / "stdlib" / "_cpython_static.py"


def _fake_stdlib(root: Path) -> Path:
    lib = root / "lib" / "python3.x"
    for rel, text in {
        "alpha.py": "def f():\n    raise ValueError('from alpha')\n",
        "pkg/__init__.py": "",
        "pkg/data.txt": "resource",
        "pkg/sub/mod.py": "X = 1\n",
        "nspkg/inner.py": "Y = 2\n",  # namespace package: found through its directory entry
        "broken.py": "def (:\n",
        "test/test_alpha.py": "x = 1\n",
        "pkg/tests/t.py": "x = 1\n",
        "idlelib/x.py": "",
        "tkinter/__init__.py": "",
        "site-packages/foreign.py": "",
        "config-3.x/Makefile": "",
        "__pycache__/alpha.cpython-3x.pyc": "stale",
    }.items():
        p = lib / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return lib


def _wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("tzlike/__init__.py", "")
        whl.writestr("tzlike/zone/UTC", b"TZif")
        whl.writestr("tzlike-1.0.dist-info/METADATA", "Name: tzlike\n")
    return path


def _tzdata_wheel(path: Path) -> Path:
    """tzdata's shape: a package per zone directory, zone files as resources."""
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("tzdata/__init__.py", 'IANA_VERSION = "2099z"\n')
        whl.writestr("tzdata/zones", "Etc/UTC\n")
        whl.writestr("tzdata/zoneinfo/__init__.py", "")
        whl.writestr("tzdata/zoneinfo/Etc/__init__.py", "")
        whl.writestr("tzdata/zoneinfo/Etc/UTC", b"TZif2-fake")
        whl.writestr("tzdata-2099.26.dist-info/METADATA", "Name: tzdata\n")
    return path


def _write_zip(tmp_path, out: Path) -> str:
    lib = _fake_stdlib(tmp_path / "root") if not (tmp_path / "root").exists() else tmp_path / "root/lib/python3.x"
    res = subprocess.run(
        [
            sys.executable,
            str(ZIP_SCRIPT),
            "--stdlib",
            str(lib),
            "--out",
            str(out),
            "--wheel",
            str(_wheel(tmp_path / "tzlike-1.0-py3-none-any.whl")),
            "--wheel",
            str(_tzdata_wheel(tmp_path / "tzdata-2099.26-py2.py3-none-any.whl")),
            "--module",
            str(HOOK),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return res.stdout


def test_archive_contents(tmp_path):
    summary = _write_zip(tmp_path, tmp_path / "a.zip")
    archive = zipfile.ZipFile(tmp_path / "a.zip")
    names = set(archive.namelist())
    assert {
        "alpha.pyc",
        "pkg/",
        "pkg/__init__.pyc",
        "pkg/data.txt",
        "pkg/sub/mod.pyc",
        "nspkg/",
        "nspkg/inner.pyc",
        "broken.py",  # no bytecode: its source stays where zipimport sees it
        "_cpython_static.py",  # --module files keep their source beside the bytecode
        "_cpython_static.pyc",
        "tzlike/__init__.pyc",  # another wheel's modules are shipped like the stdlib's
        "tzlike/zone/UTC",
        "cpython-static-sources.zip",
        "cpython-static-tzdata.zip",
    } <= names
    left_out = {
        n
        for n in names
        if n.startswith(
            ("test/", "pkg/tests/", "idlelib/", "tkinter/", "site-packages/", "config-", "__pycache__", "tzlike-1.0")
        )
    }
    assert not left_out
    assert "broken.pyc" not in names and "1 left as source" in summary
    # One member each for the compiled modules' sources and for tzdata: stored, so the
    # hook reads them in place.
    assert not {n for n in names if n.endswith(".py")} - {"broken.py", "_cpython_static.py"}
    assert not {n for n in names if n.startswith("tzdata")}
    for member in ("cpython-static-sources.zip", "cpython-static-tzdata.zip"):
        assert archive.getinfo(member).compress_type == zipfile.ZIP_STORED
    sources = zipfile.ZipFile(archive.open("cpython-static-sources.zip"))
    assert {"alpha.py", "pkg/__init__.py", "pkg/sub/mod.py", "nspkg/inner.py"} <= set(sources.namelist())
    assert "broken.py" not in sources.namelist() and "_cpython_static.py" not in sources.namelist()
    zones = zipfile.ZipFile(archive.open("cpython-static-tzdata.zip"))
    assert zones.read("tzdata/zoneinfo/Etc/UTC") == b"TZif2-fake"
    assert not [n for n in zones.namelist() if ".dist-info" in n]


def test_archive_is_reproducible(tmp_path):
    _write_zip(tmp_path, tmp_path / "a.zip")
    _write_zip(tmp_path, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_build_paths_in_sysconfig_data_are_mapped(tmp_path):
    """Two builds in different cache directories give the same archive: --map rewrites
    the build's paths in sysconfig's data (and nowhere else)."""
    archives = []
    for cache in ("/home/a/.cache/cs", "/srv/other-cache"):
        root = tmp_path / cache.replace("/", "_")
        lib = _fake_stdlib(root)
        data = f"build_time_vars = {{'abs_builddir': '{cache}/tmp/work-cpython.pid1.x/src', 'CC': '{cache}/toolchains/k/bin/gcc'}}\n"
        (lib / "_sysconfigdata__linux_x86_64-linux-musl.py").write_text(data)
        (lib / "other.py").write_text(f"PATH = {cache!r}\n")
        out = root / "a.zip"
        maps = [f"--map={cache}/tmp/work-cpython.pid1.x=/m/build", f"--map={cache}=/m"]
        subprocess.run([sys.executable, str(ZIP_SCRIPT), "--stdlib", str(lib), "--out", str(out), *maps], check=True)
        with zipfile.ZipFile(out) as z, zipfile.ZipFile(z.open("cpython-static-sources.zip")) as sources:
            archives.append((sources.read("_sysconfigdata__linux_x86_64-linux-musl.py"), sources.read("other.py")))
    assert archives[0][0] == archives[1][0]
    assert archives[0][0] == b"build_time_vars = {'abs_builddir': '/m/build/src', 'CC': '/m/toolchains/k/bin/gcc'}\n"
    assert archives[0][1] != archives[1][1]  # only sysconfig's data is rewritten


def test_bytecode_is_unchecked_hash(tmp_path):
    _write_zip(tmp_path, tmp_path / "a.zip")
    pyc = zipfile.ZipFile(tmp_path / "a.zip").read("alpha.pyc")
    assert int.from_bytes(pyc[4:8], "little") == 0b01  # hash-based, not checked against source


def test_imported_in_place_from_behind_an_executable(tmp_path):
    """Bytes in front of the archive (the interpreter) do not disturb zipimport or
    importlib.resources; the hook, imported from the archive as the launcher does, gives
    tracebacks and inspect their source lines (from the sources member, under the
    module's real path) and serves tzdata from its member."""
    _write_zip(tmp_path, tmp_path / "a.zip")
    carrier = tmp_path / "carrier"
    carrier.write_bytes(os.urandom(4096) + (tmp_path / "a.zip").read_bytes())
    code = f"""
import sys, traceback, inspect
sys.path.insert(0, {str(carrier)!r})
import _frozen_importlib_external as e; keep = e.ExtensionFileLoader.create_module
import _cpython_static as hook  # from the archive, as the launcher imports it
e.ExtensionFileLoader.create_module = keep
assert {{"zip-filenames", "zip-sources", "zip-file-attrs", "tzdata-member"}} <= set(hook.REPORT["installed"]), hook.REPORT
# The hook is machinery, named as frozen code is (coverage tools leave it out); itself
# imported before its fix, its module is named like the others.
assert hook.install.__code__.co_filename == "<_cpython_static>", hook.install.__code__.co_filename
assert hook.__file__ == {str(carrier / "_cpython_static.py")!r}, hook.__file__
import alpha, nspkg.inner, pkg.sub.mod, importlib.resources as r
assert alpha.__file__ == {str(carrier / "alpha.py")!r}, alpha.__file__  # its source, in the sources member
assert r.files('pkg').joinpath('data.txt').read_text() == 'resource'
assert nspkg.inner.Y == 2
try:
    alpha.f()
except ValueError:
    text = traceback.format_exc()
assert "raise ValueError('from alpha')" in text, text
assert {str(carrier / "alpha.py")!r} in text, text
assert inspect.getsource(alpha.f).startswith("def f():"), inspect.getsource(alpha.f)
assert inspect.getsource(pkg.sub.mod) == "X = 1\\n" and pkg.__loader__.get_source("pkg") == ""
import tzdata, tzdata.zoneinfo.Etc
assert tzdata.IANA_VERSION == "2099z"
assert r.files("tzdata.zoneinfo.Etc").joinpath("UTC").read_bytes() == b"TZif2-fake"
assert r.files("tzdata").joinpath("zones").read_text() == "Etc/UTC\\n"
try:
    import tzdata.nowhere
except ModuleNotFoundError:
    pass
else:
    raise AssertionError("tzdata.nowhere imported")
print('ok')
"""
    res = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True)
    assert res.stdout.strip() == "ok", res.stderr


def _hook_run(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` under the host Python with the hook's ssl and tag fix-ups (the
    extension refusal is left out: the host Python's own modules are .so files)."""
    prelude = f"""
import sys
sys.path.insert(0, {str(PACKAGE / "stdlib")!r})
import _frozen_importlib_external as e; keep = e.ExtensionFileLoader.create_module
import _cpython_static as hook
e.ExtensionFileLoader.create_module = keep
"""
    return subprocess.run(
        [sys.executable, "-I", "-c", prelude + code],
        capture_output=True,
        text=True,
        env=env if env is not None else {"PATH": os.environ["PATH"]},
    )


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    return make_tls_material(Runner(d / "logs"), "openssl", d / "pki")


def test_ca_discovery_takes_the_first_existing_bundle(tmp_path, tls):
    bundle = tmp_path / "etc/pki/tls/certs/ca-bundle.crt"
    bundle.parent.mkdir(parents=True)
    bundle.write_bytes(Path(tls["ca"]).read_bytes())
    res = _hook_run(f"""
hook.CA_FILES = ({str(tmp_path / "missing.pem")!r}, {str(bundle)!r})
hook.CA_DIRS = ()
import ssl
ctx = ssl.create_default_context()
print([dict(c['subject'][0])['commonName'] for c in ctx.get_ca_certs()])
print(ssl.get_default_verify_paths().cafile)
""")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(eval(lines[0])) == 1 and lines[1] == str(bundle)


def test_no_ca_anywhere_is_a_clear_error_for_clients_only(tmp_path):
    res = _hook_run(f"""
hook.CA_FILES = ({str(tmp_path / "none.pem")!r},); hook.CA_DIRS = ({str(tmp_path / "nodir")!r},)
import ssl
ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # a server needs no CA to start
try:
    ssl.create_default_context()
except ssl.SSLError as exc:
    print(exc)
""")
    assert res.returncode == 0, res.stderr
    assert "no CA certificates found" in res.stdout and "SSL_CERT_FILE" in res.stdout


def test_ssl_cert_file_naming_nothing_is_an_error(tmp_path):
    res = _hook_run(
        "import ssl; ssl.create_default_context()",
        env={"PATH": os.environ["PATH"], "SSL_CERT_FILE": str(tmp_path / "gone.pem")},
    )
    assert res.returncode == 1 and "SSL_CERT_FILE names" in res.stderr and "gone.pem" in res.stderr


def test_ssl_cert_file_is_honoured(tmp_path, tls):
    res = _hook_run(
        """
hook.CA_FILES = (); hook.CA_DIRS = ()
import ssl; print(len(ssl.create_default_context().get_ca_certs()))
""",
        env={"PATH": os.environ["PATH"], "SSL_CERT_FILE": str(tls["ca"])},
    )
    assert res.returncode == 0 and res.stdout.strip() == "1", res.stderr


def test_hashed_names():
    sys.path.insert(0, str(PACKAGE / "stdlib"))
    try:
        import _frozen_importlib_external as e

        keep = e.ExtensionFileLoader.create_module
        import _cpython_static as hook

        e.ExtensionFileLoader.create_module = keep
    finally:
        sys.path.pop(0)
    assert hook._is_hashed("9d6523ce.0") and hook._is_hashed("002c0b4f.1")
    assert not hook._is_hashed("ca-certificates.crt") and not hook._is_hashed("9d6523ce.pem")


def test_installers_see_no_platform_tags():
    res = _hook_run("""
from pip._vendor.packaging import tags
found = [str(t) for t in tags.sys_tags()]
assert found and all(t.endswith('-any') for t in found), found[:5]
print(len(found))
""")
    assert res.returncode == 0, res.stderr


def test_extension_modules_are_refused_with_the_reason(tmp_path):
    (tmp_path / "native.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    res = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"""
import sys
sys.path.insert(0, {str(PACKAGE / "stdlib")!r}); sys.path.insert(0, {str(tmp_path)!r})
import _cpython_static
import native
""",
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1
    assert "cannot load the C extension module 'native'" in res.stderr
    assert "statically linked" in res.stderr and "pure-Python" in res.stderr


def test_publish_onefile_appends_after_stripping(tmp_path):
    launcher = tmp_path / "launcher"
    launcher.write_bytes(b"\x7fELF" + b"\0" * 100 + b"SYMBOLS")
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("m.py", "")
    stripped = []

    def strip(path):
        stripped.append(path)
        path.write_bytes(path.read_bytes().replace(b"SYMBOLS", b""))

    out = onefile.publish_onefile(launcher, archive, tmp_path / "dist" / "python3.x", strip=strip)
    data = out.read_bytes()
    assert data == b"\x7fELF" + b"\0" * 100 + archive.read_bytes()
    assert os.access(out, os.X_OK) and zipfile.ZipFile(out).namelist() == ["m.py"]
    assert launcher.read_bytes().endswith(b"SYMBOLS")  # the cache's copy is untouched
    assert [p.name for p in (tmp_path / "dist").iterdir()] == ["python3.x"]


def test_publish_onefile_failure_keeps_the_previous_file(tmp_path):
    dest = tmp_path / "python3.x"
    dest.write_bytes(b"previous")
    with pytest.raises(FileNotFoundError):
        onefile.publish_onefile(tmp_path / "launcher", tmp_path / "missing.zip", dest)
    assert dest.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == ["python3.x"]


# ------------------------------------------------- ensurepip from a zipped stdlib
ENSUREPIP_RELEASE = "3.13.15"  # a 3.12+ ensurepip, as released, from the pinned tarball
ENSUREPIP_PATCH = "0004-ensurepip-wheel-name-from-zipped-stdlib.patch"


@pytest.fixture(scope="module")
def ensurepip_zips(tmp_path_factory, release_tarball):
    """Zips holding 3.13.15's ensurepip package (its real bundled wheel), as released
    and with patches/0004 applied: a zipped stdlib's ensurepip, imported by zipimport."""
    import tarfile

    from cpython_static.build import patches

    root = tmp_path_factory.mktemp("ensurepip")
    tree = root / "tree"
    with tarfile.open(release_tarball(ENSUREPIP_RELEASE)) as tar:
        for m in tar:  # streamed: the release lists Lib/ensurepip/ before Lib/test/
            rel = m.name.partition("/")[2]
            if m.isfile() and (rel.startswith("Lib/ensurepip/") or rel == "Lib/test/test_ensurepip.py"):
                out = tree / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(tar.extractfile(m).read())
            if rel == "Lib/test/test_ensurepip.py":
                break
    assert (tree / "Lib/ensurepip/__init__.py").is_file()
    zips = {}
    for state in ("released", "patched"):
        if state == "patched":
            series = {p.name: p for p in patches.load_series(patches.default_patches_dir())}
            patches.apply([series[ENSUREPIP_PATCH]], tree, Runner(root / "logs"))
        zips[state] = root / f"{state}.zip"
        with zipfile.ZipFile(zips[state], "w") as z:
            for path in sorted((tree / "Lib").glob("ensurepip/**/*")):
                if path.is_file():
                    z.write(path, path.relative_to(tree / "Lib").as_posix())
    return zips


_ENSUREPIP_PROBE = """
import json
sys.path.insert(0, {zip!r})
import ensurepip
assert ensurepip.__file__.startswith({zip!r}), ensurepip.__file__
out = {{"own": ensurepip._get_pip_whl_path_ctx.__module__ == "ensurepip", "bundled": ensurepip._PIP_VERSION}}
out["fixup"] = hook.REPORT["fixups"].get("ensurepip") if "hook" in globals() else None
if {call}:
    with ensurepip._get_pip_whl_path_ctx() as path:
        out["name"] = path.name
    out["version"] = ensurepip.version()
    # A distribution's wheel directory (WHEEL_PKG_DIR) takes precedence, under its own name.
    import pathlib, tempfile
    with tempfile.TemporaryDirectory() as wheels:
        pathlib.Path(wheels, "pip-20.2.2-py2.py3-none-any.whl").touch()
        ensurepip._WHEEL_PKG_DIR = pathlib.Path(wheels)
        with ensurepip._get_pip_whl_path_ctx() as path:
            out["pkg_dir_name"] = path.name
print(json.dumps(out))
"""


def test_ensurepip_fixup_only_where_the_patch_is_absent(ensurepip_zips):
    """Released 3.12+ ensurepip from a zip: the wheel's temporary name reaches pip (the
    bug, shown without the hook) and the hook's wrapper hands the real name instead.
    Patched by 0004: the hook reports the fix-up not needed and wraps nothing.  (The
    patched module itself runs on 3.12+ only, as_file of a directory; its own test is
    CPython's test_ensurepip, run by tests/real on the built interpreter.)"""
    import json

    released = str(ensurepip_zips["released"])
    bare = subprocess.run(
        [sys.executable, "-I", "-c", "import sys\n" + _ENSUREPIP_PROBE.format(zip=released, call=True)],
        capture_output=True,
        text=True,
    )
    assert bare.returncode == 0, bare.stderr
    bug = json.loads(bare.stdout)
    assert bug["name"].startswith("tmp") and bug["name"].endswith(f"pip-{bug['bundled']}-py3-none-any.whl")
    assert bug["version"] != bug["bundled"]

    res = _hook_run(_ENSUREPIP_PROBE.format(zip=released, call=True))
    assert res.returncode == 0, res.stderr
    fixed = json.loads(res.stdout)
    assert fixed["fixup"] == "applied" and not fixed["own"]
    assert fixed["name"] == f"pip-{fixed['bundled']}-py3-none-any.whl" and fixed["version"] == fixed["bundled"]
    assert fixed["pkg_dir_name"] == bug["pkg_dir_name"] == "pip-20.2.2-py2.py3-none-any.whl"

    res = _hook_run(_ENSUREPIP_PROBE.format(zip=str(ensurepip_zips["patched"]), call=False))
    assert res.returncode == 0, res.stderr
    patched = json.loads(res.stdout)
    assert patched["fixup"].startswith("not needed") and "0004" in patched["fixup"] and patched["own"]
