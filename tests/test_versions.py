import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# ------------------------------------------------------------ one grammar, every shape
from cpython_static.versions import Release, release_sort_key, supported_series  # noqa: E402

LEVELS = st.sampled_from([None, "a", "b", "rc"])


@given(st.integers(3, 4), st.integers(0, 40), st.integers(0, 40), LEVELS, st.integers(1, 9), st.booleans())
def test_release_round_trips_every_tag_shape(major, minor, micro, level, serial, tag):
    text = f"{major}.{minor}.{micro}" + (f"{level}{serial}" if level else "")
    r = Release.parse(("v" if tag else "") + text)
    assert str(r) == text and r.tag == "v" + text and r.series == f"{major}.{minor}"
    assert r.exact and r.is_final is (level is None)
    assert parse_release(("v" if tag else "") + text) == text


@given(st.lists(st.tuples(st.integers(0, 20), LEVELS, st.integers(1, 4)), min_size=2, max_size=8))
def test_prereleases_sort_before_their_release(parts):
    versions = [f"3.15.{m}" + (f"{lv}{s}" if lv else "") for m, lv, s in parts]
    ordered = sorted(versions, key=release_sort_key)
    rank = {"a": 0, "b": 1, "rc": 2, None: 3}
    keys = [(m, rank[lv], s if lv else 0) for m, lv, s in parts]
    assert [release_sort_key(v)[2:5] for v in ordered] == sorted(keys)


@pytest.mark.parametrize(
    "text, shape",
    [
        ("v3.15.0", "3.15.0"),
        ("v3.15.0rc1", "3.15.0rc1"),
        ("v3.14.10", "3.14.10"),
        ("3.15.0a7+", "3.15.0a7+"),
        ("v3.0", "3.0"),
        ("3.14", "3.14"),
    ],
)
def test_release_shapes(text, shape):
    assert str(Release.parse(text)) == shape


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "v3",
        "3.13.x",
        "v3.14.0rc",
        "v3.15.0+",
        " v3.13.15",
        "v3.13.15\n",
        "3.13.15c1",
        "v\u0663.13.15",
        "3.13.15.1",
        "V3.13.15",
    ],
)
def test_release_refuses_other_shapes(bad):
    with pytest.raises(VersionError):
        Release.parse(bad)
    assert Release.lenient(bad) is None


def test_tag_and_version_are_told_apart():
    with pytest.raises(VersionError, match="release tag"):
        Release.parse("3.14.7", tag=True)
    with pytest.raises(VersionError, match="a version like"):
        Release.parse("v3.14.7", tag=False)


def test_lock_sorts_prereleases_and_two_digit_micros():
    from cpython_static.build.sources import load_lock

    versions = load_lock().cpython_versions()
    assert versions == sorted(versions, key=release_sort_key)
    assert versions.index("3.14.7") < versions.index("3.14.10") < versions.index("3.15.2")


def test_live_series_have_tables():
    assert {"3.14", "3.15"} <= set(supported_series())
    for version, autoconf in (("3.14.7", "2.72"), ("3.15.0rc1", "2.72")):
        s = get_series(version)
        assert s.autoconf == autoconf and "zstd" in s.libraries


def test_version_of_tree_refuses_a_garbled_py_version(tmp_path):
    (tmp_path / "Include").mkdir()
    (tmp_path / "Include" / "patchlevel.h").write_text('#define PY_VERSION "3.15.x"\n')
    with pytest.raises(VersionError, match="3.15.x"):
        version_of_tree(tmp_path)


# ------------------------------------------------------------------ build variants
from cpython_static.versions import DEFAULT_VARIANT, get_variant, supported_variants  # noqa: E402


@pytest.mark.parametrize("version", ["3.11.2", "3.12.0", "3.13.15", "3.14.7", "3.15.2"])
def test_the_default_variant_is_the_tables_unchanged(version):
    # The default build's cache key has repr(series) in it: the same object, the same key.
    assert get_series(version, DEFAULT_VARIANT) == get_series(version)
    assert repr(get_series(version, DEFAULT_VARIANT)) == repr(get_series(version))


@pytest.mark.parametrize("version", ["3.11.2", "3.13.15", "3.14.7"])
def test_no_gpl_swaps_readline_for_libedit_and_drops_gdbm(version):
    default, no_gpl = get_series(version), get_series(version, "no-gpl")
    assert [lib for lib in default.libraries if lib not in ("readline", "gdbm")] == [
        lib for lib in no_gpl.libraries if lib != "libedit"
    ]
    assert no_gpl.libraries.index("libedit") == default.libraries.index("readline")  # in readline's place
    args = [a.value for a in no_gpl.configure]
    assert "--with-readline=editline" in args and not any("dbmliborder" in a or a.endswith("=readline") for a in args)
    forced = [a.value for a in no_gpl.cache_vars]
    assert forced == ["py_cv_module__gdbm=n/a", "py_cv_module__dbm=n/a"]  # and no ac_cv_search_dbm_open
    assert all(a.why for a in (*no_gpl.configure, *no_gpl.cache_vars))
    assert no_gpl.optimize == default.optimize and no_gpl.by_patch == default.by_patch


def test_no_gpl_setup_local_of_311_builds_readline_on_libedit_and_no_dbm():
    spec = get_series("3.11.2", "no-gpl").setup_local
    assert "_dbm" not in spec.enable and "readline" in spec.enable
    values = dict(spec.vars)
    assert values["MODULE_READLINE_CFLAGS"] == "{cflags:libedit} -D_RL_FUNCTION_TYPEDEF"
    assert values["MODULE_READLINE_LDFLAGS"] == "{libs:libedit}"
    assert not any(var.startswith("MODULE__DBM_") for var in values)
    assert get_series("3.13.15", "no-gpl").setup_local is None


def test_every_variant_change_carries_its_reason():
    assert supported_variants()[0] == DEFAULT_VARIANT
    for variant in map(get_variant, supported_variants()):
        changes = (
            *variant.libraries,
            *variant.configure,
            *variant.drop_cache_vars,
            *variant.add_cache_vars,
            *variant.disable_setup_local,
            *variant.setup_local_vars,
        )
        assert all(c.why for c in changes) and variant.summary and variant.readline in ("readline", "editline")
        assert bool(variant.flag) == (variant.name != DEFAULT_VARIANT) and (variant.flag is None or variant.help)


def test_a_stale_variant_change_is_said_not_ignored():
    from dataclasses import replace

    from cpython_static.versions import Change

    stale = replace(get_variant("no-gpl"), configure=(Change("--with-readline=gnu", None, "gone"),))
    with pytest.raises(VersionError, match=r"variant.no-gpl.configure.*--with-readline=gnu"):
        stale.apply(get_series("3.13.15"))
    with pytest.raises(VersionError, match="no build variant 'gpl-free'; known: default, no-gpl"):
        get_series("3.13.15", "gpl-free")
