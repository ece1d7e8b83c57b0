import pytest
from hypothesis import given, strategies as st

from cpython_static.versions import VersionError, get_series, parse_release, series_of, version_of_tree


@given(st.integers(3, 4), st.integers(0, 30), st.integers(0, 40), st.booleans())
def test_parse_release_accepts_tags_and_versions(major, minor, micro, tag):
    v = f"{major}.{minor}.{micro}"
    assert parse_release(("v" if tag else "") + v) == v
    assert series_of(v) == f"{major}.{minor}"


@pytest.mark.parametrize("bad", ["", "3.13", "latest", "v3", "3.13.x", "../3.13.15"])
def test_parse_release_rejects(bad):
    assert parse_release(bad) is None


def test_series_facts_carry_reasons():
    s = get_series("3.13.15")
    assert s.autoconf == "2.71"
    assert any(a.value == "MODULE_BUILDTYPE=static" for a in s.configure)
    assert all(a.why for a in (*s.configure, *s.cache_vars))
    old = get_series("3.11.2")
    assert old.autoconf == "2.69"
    for entry in old.by_patch:
        assert all(a.why for a in (*entry.with_, *entry.without))


def test_patch_dependent_arguments():
    s = get_series("3.11.2")
    patch = s.by_patch[0].patch
    assert [a.value for a in s.patch_args({patch})] == ["--disable-xxlimited-modules"]
    assert [a.value for a in s.patch_args(set())] == ["py_cv_module_xxlimited=n/a", "py_cv_module_xxlimited_35=n/a"]
    assert get_series("3.13.15").patch_args(set()) == []


def test_by_patch_names_real_patches():
    from pathlib import Path
    series = (Path(__file__).parent.parent / "patches" / "series").read_text().split()
    for name in ("3.11", "3.12"):
        for entry in get_series(name + ".0").by_patch:
            assert entry.patch in series


def test_unsupported_series_lists_supported():
    with pytest.raises(VersionError, match="supported series: 3.11"):
        get_series("2.7.18")


def test_version_of_tree(tmp_path):
    (tmp_path / "Include").mkdir()
    (tmp_path / "Include" / "patchlevel.h").write_text('#define PY_VERSION              "3.13.15+"\n')
    assert version_of_tree(tmp_path) == "3.13.15"
    with pytest.raises(VersionError, match="not a CPython source tree"):
        version_of_tree(tmp_path / "Include")


def test_setup_local_covers_each_enabled_module():
    spec = get_series("3.11.2").setup_local
    names = {var for var, _ in spec.vars}
    for module in spec.enable:
        assert {f"MODULE_{module.upper()}_CFLAGS", f"MODULE_{module.upper()}_LDFLAGS"} <= names, module
    assert get_series("3.13.15").setup_local is None


def test_cross_cache_vars_carry_reasons():
    s = get_series("3.13.15")
    assert {a.value.split("=")[0] for a in s.cross_cache_vars} >= {"ac_cv_file__dev_ptmx", "ac_cv_buggy_getaddrinfo"}
    assert all(a.why for a in s.cross_cache_vars)
