import pytest

from cpython_static.build import libraries
from cpython_static.build.libraries import RecipeError, all_recipe_names, load_recipe, resolve
from cpython_static.build.toolchain import TARGETS
from cpython_static.versions import get_series, get_variant, supported_series, supported_variants

EXPECTED = {
    "zlib",
    "bzip2",
    "xz",
    "libffi",
    "openssl",
    "sqlite",
    "ncurses",
    "readline",
    "gdbm",
    "libuuid",
    "zstd",
    "libyaml",
    "libedit",
}


def test_one_recipe_per_library():
    assert set(all_recipe_names()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recipe_is_well_formed(name):
    r = load_recipe(name)
    assert r.build in ("autotools", "make")
    assert r.check_files or r.copy, "a recipe must say what its install must contain"
    for dep in r.depends:
        load_recipe(dep)
    if r.hook:
        assert r.hook_module is not None


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_per_target_configure_names_every_target(name):
    """A recipe that names its target per triple (OpenSSL's Configure: linux64-riscv64 …)
    must name every one: a missing entry would let the build machine be guessed."""
    by_target = load_recipe(name).configure_by_target
    if by_target:
        assert set(by_target) == set(TARGETS)
        assert all(by_target.values())


def test_dependencies_come_first():
    order = [r.name for r in resolve(["readline", "zlib"])]
    assert order.index("ncurses") < order.index("readline")


def test_every_series_library_has_a_recipe():
    for s in supported_series():
        for variant in supported_variants():
            if get_variant(variant).series and s not in get_variant(variant).series:
                continue  # a variant made for other series (build --test-modules)
            for lib in get_series(s, variant).libraries:
                load_recipe(lib)


def test_libraries_a_variant_swaps_are_named_as_their_sources():
    # verify's variant check reads the SBOM, which names libraries by their source.
    for variant in map(get_variant, supported_variants()):
        for change in variant.libraries:
            for name in filter(None, (change.what, change.by)):
                assert load_recipe(name).source == name


def test_cycle_is_reported(monkeypatch):
    real = libraries.load_recipe

    def fake(name):
        r = real("zlib")
        return libraries.Recipe(**{**r.__dict__, "name": name, "depends": ("b",) if name == "a" else ("a",)})

    monkeypatch.setattr(libraries, "load_recipe", fake)
    with pytest.raises(RecipeError, match="cycle: a -> b -> a"):
        resolve(["a"])


def test_unknown_recipe_lists_known():
    with pytest.raises(RecipeError, match="known: .*zlib"):
        load_recipe("nope")
