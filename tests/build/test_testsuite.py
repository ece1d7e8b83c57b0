"""build/testsuite.py: the release's Lib/test, and the tests that live inside packages."""

from pathlib import Path

from cpython_static.build.testsuite import lib_test_of
from cpython_static.core.cache import Cache
from cpython_static.core.runner import Runner


def _release_tree(root: Path) -> Path:
    lib = root / "Lib"
    for rel in (
        "test/test_os.py",
        "unittest/test/test_case.py",
        "distutils/tests/test_core.py",
        "idlelib/idle_test/t.py",
    ):
        (lib / rel).parent.mkdir(parents=True, exist_ok=True)
        (lib / rel).write_text("# a test\n")
    (lib / "os.py").write_text("# not a test\n")
    return root


def test_lib_test_carries_package_tests_beside_it_and_is_cached_by_source(tmp_path):
    cache, runner = Cache(tmp_path / "cache"), Runner(tmp_path / "logs")
    made = []

    def unpack(dest: Path) -> Path:
        made.append(dest)
        return _release_tree(dest)

    got = lib_test_of(cache, runner, "3.11.2", None, "v3.11.2@abc", unpack)
    assert got.name == "test" and (got / "test_os.py").is_file()
    packages = got.parent / "packages"
    found = sorted(str(p.relative_to(packages)) for p in packages.rglob("*.py"))
    assert found == ["distutils/tests/test_core.py", "idlelib/idle_test/t.py", "unittest/test/test_case.py"]
    assert lib_test_of(cache, runner, "3.11.2", None, "v3.11.2@abc", unpack) == got and len(made) == 1
    assert lib_test_of(cache, runner, "3.11.2", None, "v3.11.2@def", unpack) != got  # another source
