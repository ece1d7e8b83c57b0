"""The test variant (build --test-modules): its own cache key on top of an unchanged default
one, its configure arguments, where it is published and what its SBOM says (read back by
verify), the module set verify expects of it."""

from types import SimpleNamespace

import pytest

from cpython_static.build import cpython, pipeline, sbom
from cpython_static.build.cpython import CPythonBuilder, Request
from cpython_static.build.patches import default_patches_dir, load_series
from cpython_static.core.cache import digest_of
from cpython_static.verify.checks import check_builtin_modules, sbom_says_test_variant
from cpython_static.verify.modules import expected_builtin_modules, load_module_tables
from cpython_static.versions import TEST_VARIANT, VersionError, get_series


@pytest.fixture
def builder(monkeypatch, tmp_path):
    keys = []

    class Cache:
        def lookup(self, kind, key):
            keys.append(key)
            return SimpleNamespace(path=tmp_path, reused=True, manifest={})

    class Libraries:
        def __init__(self, *a):
            pass

        def build_all(self, names):
            return []

    monkeypatch.setattr(cpython, "LibraryBuilder", Libraries)
    toolchain = SimpleNamespace(
        capabilities=frozenset(), cross=False, identity=lambda: {"gcc": "12"}, target=SimpleNamespace(name="x86")
    )
    lock = SimpleNamespace(get=lambda kind, version: SimpleNamespace(sha256="5" * 64))
    b = CPythonBuilder(Cache(), None, lock, toolchain, None, default_patches_dir())
    b.keys = keys
    return b


def test_the_default_key_is_what_it_was_before_the_variant(builder):
    """The ~20 GB of warm cache CI relies on: a default build's key has exactly the fields
    it always had; the variant's key is another one."""
    built = builder.build(Request("3.13.15"))
    series = get_series("3.13.15")
    selected = builder._patches("3.13.15")
    assert built.key == digest_of(
        {
            "format": cpython.FORMAT,
            "version": "3.13.15",
            "source": {"sha256": "5" * 64},
            "patches": [(p.name, p.path.read_text()) for p in selected],
            "applied": [],
            "series": repr(series),
            "toolchain": {"gcc": "12"},
            "libs": {},
            "build_python": None,
            "launcher": cpython.LAUNCHER.joinpath("main.c").read_text(),
        }
    )
    assert "test_modules" not in repr(series) and not built.test_modules
    variant = builder.build(Request("3.13.15", test_modules=True))
    assert variant.key != built.key and variant.test_modules


def test_a_series_without_a_variant_says_so(builder):
    with pytest.raises(VersionError, match="no test variant yet"):
        builder.build(Request("3.14.7", test_modules=True))


def test_the_variant_configures_with_test_modules_and_leaves_out_the_shared_only_ones():
    series = get_series("3.13.15")
    shipped = [a.value for a in series.configure]
    args = series.test_modules.configure_args(shipped)
    assert "--disable-test-modules" in shipped and "--disable-test-modules" not in args
    assert args.index("--enable-test-modules") == shipped.index("--disable-test-modules")
    assert "py_cv_module__testmultiphase=n/a" in args and "py_cv_module__ctypes_test=n/a" in args
    assert [a.value for a in series.test_modules.install] == ["TEST_MODULES=no"]


def test_what_the_variant_leaves_out_is_what_modules_toml_says_never_builds_static():
    """versions.toml's left_out (the build's) and modules.toml's never_static (verify's) agree:
    every shared-only module is left out, and only _testinternalcapi, which the variant's
    patch lets link, is built in although never_static."""
    tables = load_module_tables()
    for name in ("3.11.2", "3.13.15"):
        series, table = get_series(name), tables[get_series(name).name]
        left_out = set(series.test_modules.left_out)
        assert left_out <= set(table.never_static) | {"xxlimited", "xxlimited_35"}
        assert not left_out & table.test_modules
        assert set(table.never_static) - left_out - table.test_modules <= {"xxlimited", "xxlimited_35"}


def test_the_variant_patches_are_a_series_of_their_own(builder):
    patches_dir = default_patches_dir()
    own = load_series(patches_dir / get_series("3.13.15").test_modules.patches)
    assert [p.files for p in own] == [["Modules/getpath_noop.c"]]
    assert not {p.name for p in own} & {p.name for p in load_series(patches_dir)}
    assert [p.name for p in builder._variant_patches(get_series("3.11.2").test_modules, "3.11.2")] == [own[0].name]


def built(tmp_path, test_modules):
    return SimpleNamespace(
        version="3.13.15",
        target="x86_64-linux-musl",
        key="k" * 64,
        prefix=tmp_path / "install",
        patches=[],
        libraries=[],
        test_modules=test_modules,
    )


def test_published_apart_and_its_sbom_says_what_it_is(tmp_path):
    from cpython_static.build.sources import load_lock

    assert (
        pipeline.published_dir(tmp_path, built(tmp_path, True)).name == "cpython-3.13.15-x86_64-linux-musl-testmodules"
    )
    assert pipeline.published_dir(tmp_path, built(tmp_path, False)).name == "cpython-3.13.15-x86_64-linux-musl"
    for variant in (True, False):
        doc = sbom.document(built(tmp_path, variant), load_lock())
        assert (TEST_VARIANT in doc["name"]) is variant and (TEST_VARIANT in doc["packages"][0]["comment"]) is variant
        binary = tmp_path / str(variant) / "python3.13"
        binary.parent.mkdir()
        sbom.write(binary, doc)
        assert sbom_says_test_variant(sbom.sbom_path(binary)) is variant
    assert not sbom_says_test_variant(tmp_path / "none.spdx.json")


def test_verify_expects_the_variants_modules_only_of_the_variant():
    tables = load_module_tables()
    table = tables["3.13"]
    shipped = expected_builtin_modules(table, "x86_64-linux-musl")
    variant = expected_builtin_modules(table, "x86_64-linux-musl", test_modules=True)
    assert variant - shipped == table.test_modules >= {"_testcapi", "_testinternalcapi", "_testlimitedcapi"}
    ok = check_builtin_modules(sorted(variant), "3.13", "x86_64-linux-musl", tables, test_modules=True)
    assert ok.ok and "test variant" in ok.detail
    wrong = check_builtin_modules(sorted(variant), "3.13", "x86_64-linux-musl", tables)
    assert (
        not wrong.ok
        and "_testcapi (excluded: disabled by --disable-test-modules; built in by build --test-modules"
        in (wrong.detail)
    )
    assert not check_builtin_modules(sorted(shipped), "3.13", "x86_64-linux-musl", tables, test_modules=True).ok
