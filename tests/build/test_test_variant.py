"""The test variant (build --test-modules, versions.toml [variant.test-modules]): a key of
its own with its patches and install arguments, the series it is made for, its configure
arguments, its module tables, how verify tells it apart, and where it must not go (pack,
--with)."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from cpython_static.build import cpython, pipeline
from cpython_static.build.cpython import BuiltPython, CPythonBuilder, Request
from cpython_static.build.patches import default_patches_dir, load_series
from cpython_static.build.sbom import document
from cpython_static.build.sources import load_lock
from cpython_static.core.errors import UsageError
from cpython_static.verify import checks as V
from cpython_static.verify.modules import expected_builtin_modules, load_module_tables, variant_adds
from cpython_static.versions import VersionError, get_series, get_variant

from .test_variant_keys import DEFAULT_PARTS

VARIANT = "test-modules"


@pytest.fixture
def payload(monkeypatch):
    """The key's payload of a build with fakes around CPythonBuilder.build."""
    seen = {}
    real = cpython.digest_of

    class Libraries:
        def __init__(self, *args):
            pass

        def build_all(self, names):
            return [SimpleNamespace(recipe=SimpleNamespace(name=n), key=f"key-of-{n}") for n in names]

    def digest_of(p):
        seen["payload"] = p
        return real(p)

    monkeypatch.setattr(cpython, "LibraryBuilder", Libraries)
    monkeypatch.setattr(cpython, "digest_of", digest_of)
    cache = SimpleNamespace(lookup=lambda kind, key: SimpleNamespace(path=Path("/cached"), reused=True, manifest={}))
    toolchain = SimpleNamespace(
        cross=False, capabilities=frozenset(), identity=lambda: {"t": 1}, target=SimpleNamespace(name="x86_64")
    )

    def build(version="3.13.15", variant=VARIANT):
        CPythonBuilder(cache, None, load_lock(), toolchain, None, default_patches_dir(), variant=variant).build(
            Request(version)
        )
        return seen["payload"]

    return build


def test_its_key_adds_the_variant_its_patches_and_install_arguments(payload):
    default = payload(variant="default")
    got = payload()
    assert set(default) == DEFAULT_PARTS  # the series' own patches are in "patches" as always
    assert set(got) == DEFAULT_PARTS | {"variant", "variant_patches", "install"}
    assert [name for name, _ in got["variant_patches"]] == ["0001-getpath_noop-stub-for-the-getpath-code-object.patch"]
    assert got["install"] == ["TEST_MODULES=no"] and got["patches"] == default["patches"]
    assert got["series"] == repr(get_series("3.13.15", VARIANT)) != default["series"]


def test_it_is_made_for_311_and_313_only(payload):
    assert payload("3.11.2")["variant"] == VARIANT
    with pytest.raises(VersionError, match="for CPython 3.11, 3.13, not 3.14"):
        get_series("3.14.7", VARIANT)


def test_it_configures_with_test_modules_and_leaves_out_the_shared_only_ones():
    shipped, variant = get_series("3.13.15"), get_series("3.13.15", VARIANT)
    before, after = [a.value for a in shipped.configure], [a.value for a in variant.configure]
    assert after[before.index("--disable-test-modules")] == "--enable-test-modules"
    assert "--disable-test-modules" not in after
    added = {a.value for a in variant.cache_vars} - {a.value for a in shipped.cache_vars}
    assert {"py_cv_module__testmultiphase=n/a", "py_cv_module__ctypes_test=n/a"} <= added


def test_what_it_leaves_out_is_what_modules_toml_never_builds_static():
    """versions.toml's n/a variables (the build's) and modules.toml's never_static (verify's)
    agree: every shared-only module of a series is left out, and only _testinternalcapi,
    which the variant's patch lets link, is built in although never_static."""
    n_a = {a.value.split("=")[0].removeprefix("py_cv_module_") for a in get_variant(VARIANT).add_cache_vars}
    tables = load_module_tables(variant=VARIANT)
    for series in ("3.11", "3.13"):
        never = set(load_module_tables()[series].never_static)
        adds = set(variant_adds(VARIANT)[series])
        assert never - adds <= n_a and not n_a & adds and never & adds <= {"_testinternalcapi"}
        assert adds <= tables[series].builtin and not adds & tables[series].excluded.keys()


def test_its_own_patches_are_a_series_of_their_own():
    own = load_series(default_patches_dir() / get_variant(VARIANT).patches)
    assert [p.files for p in own] == [["Modules/getpath_noop.c"]]
    assert not {p.name for p in own} & {p.name for p in load_series(default_patches_dir())}


def test_verify_expects_its_modules_only_of_it():
    default, variant = load_module_tables(), load_module_tables(variant=VARIANT)
    shipped = expected_builtin_modules(default["3.13"], "x86_64-linux-musl")
    test = expected_builtin_modules(variant["3.13"], "x86_64-linux-musl")
    assert test - shipped >= {"_testcapi", "_testinternalcapi", "_testlimitedcapi"} and shipped <= test
    assert V.check_builtin_modules(sorted(test), "3.13", "x86_64-linux-musl", variant).ok
    wrong = V.check_builtin_modules(sorted(test), "3.13", "x86_64-linux-musl", default)
    assert not wrong.ok and "unexpected: _testbuffer (excluded: disabled by --disable-test-modules" in wrong.detail
    assert not variant["3.14"].derived  # not made for it: verify says so rather than guess


def facts(*extra):
    return {
        "versions": {},
        "readline": {"library": "8.2"},
        "modules": ["_dbm", "_gdbm", "readline", *extra],
        "dbm": "x",
    }


def test_the_binary_and_its_sbom_say_it_is_the_test_variant(tmp_path):
    marks = sorted(variant_adds(VARIANT)["3.11"])  # what every series of it has
    assert V.binary_variant(facts(*marks)) == VARIANT and V.binary_variant(facts()) == "default"
    assert V.binary_variant(facts("_testcapi")) is None  # a stray test module is no variant
    # 3.11 always has xxsubtype, which only 3.13's variant adds: no mark of the variant.
    assert V.binary_variant(facts("xxsubtype")) == "default"
    built = BuiltPython("3.13.15", "x86_64-linux-musl", tmp_path, "k" * 64, True, [], variant=VARIANT)
    doc = document(built, load_lock())
    assert V.declared_variant(doc) == VARIANT and "(test-modules)" in doc["name"]
    built.variant = "default"
    assert V.declared_variant(document(built, load_lock())) == "default"
    assert pipeline.published_dir(tmp_path, built).name == "cpython-3.13.15-x86_64-linux-musl"
    built.variant = VARIANT
    assert pipeline.published_dir(tmp_path, built).name == "cpython-3.13.15-x86_64-linux-musl-test-modules"


def test_it_never_ships():
    from cpython_static.cli.build import make_builder
    from cpython_static.cli.main import build_parser

    assert not get_variant(VARIANT).ships and get_variant("no-gpl").ships
    args = build_parser().parse_args(["pack", "app", "--test-modules", "-o", "x"])
    with pytest.raises(UsageError, match="never to ship"):
        make_builder(args, "pack", SimpleNamespace(line=print), args.python)
    builder = SimpleNamespace(variant=VARIANT)
    with pytest.raises(UsageError, match="never to ship"):
        pipeline.build_publish_verify(builder, Request("3.13.15"), None, extensions=["psutil"])
