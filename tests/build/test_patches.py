"""The patch series: loading, validation, selection, application; configure regeneration.

Fast tier by default (synthetic trees, the shipped patch files, real `patch`/`diff`);
tests marked ``real`` work on actual CPython release sources.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import stat
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from unidiff import PatchSet

from cpython_static.build import autoconf
from cpython_static.build.autoconf import AutoconfError
from cpython_static.build.patches import (
    GENERATED_FILES,
    REQUIRED_HEADERS,
    SERIES_FILE,
    Patch,
    PatchError,
    apply,
    load_series,
    parse_patch,
    select,
)
from cpython_static.core.runner import Runner

REPO = Path(__file__).resolve().parents[2]
PATCHES_DIR = REPO / "patches"

# The one place that knows where release tarballs come from (to be replaced by the
# source fetcher): version -> tarball.
RELEASES = ("3.11.2", "3.13.5", "3.13.15")

GOOD_HEADERS = {
    "Description": "build: frob the widget\n longer explanation\n .\n second paragraph",
    "Origin": "vendor, cpython-static",
    "Forwarded": "not-needed",
    "Applied-Upstream": "",
    "Last-Update": "2026-11-23",
    "Python-Versions": ">=3.11, <3.13",
    "Base": "v3.11.2",
}

SIMPLE_DIFF = "--- a/Makefile.pre.in\n+++ b/Makefile.pre.in\n@@ -1 +1 @@\n-old\n+new\n"


def render(headers: dict[str, str], diff: str, between: str = "\n") -> str:
    head = "".join(f"{name}: {value}".rstrip() + "\n" for name, value in headers.items())
    return head + between + diff


def write_series(directory: Path, patches: dict[str, str]) -> Path:
    """Write each patch text under its name, and a series listing them in order."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in patches.items():
        (directory / name).write_text(text, encoding="utf-8")
    (directory / SERIES_FILE).write_text("# test series\n" + "".join(f"{n}\n" for n in patches))
    return directory


def load_one(tmp_path: Path, text: str) -> Patch:
    (patch,) = load_series(write_series(tmp_path / "patches", {"0001-test.patch": text}))
    return patch


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path / "logs")


# --- the shipped series ------------------------------------------------------------


def test_shipped_series_loads_and_lists_every_patch():
    series = load_series(PATCHES_DIR)
    assert series, "patches/series lists no patch"
    on_disk = sorted(p.name for p in PATCHES_DIR.glob("*.patch"))
    # A patch file that the series forgets is never applied: most likely an accident.
    assert sorted(p.name for p in series) == on_disk
    for patch in series:
        assert patch.files and not set(patch.files) & GENERATED_FILES.keys()
        assert patch.base.startswith("v") and patch.applies_to(patch.base[1:])


# Parametrized over the files rather than the series so that one broken patch fails its
# own test instead of the collection of this whole module.
@pytest.mark.parametrize("path", sorted(PATCHES_DIR.glob("*.patch")), ids=lambda p: p.name)
def test_shipped_patch_diff_round_trips_through_unidiff(path: Path):
    patch = parse_patch(path)
    assert str(PatchSet(patch.diff)) == patch.diff
    # The diff is the file's tail: no part of the file is neither header nor diff.
    assert patch.path.read_text(encoding="utf-8").endswith(patch.diff)


def test_xxlimited_patch_covers_3_11_and_3_12_only():
    series = load_series(PATCHES_DIR)
    names = lambda v: [p.name for p in select(series, v)]  # noqa: E731
    patch = "0001-configure-add-disable-xxlimited-modules.patch"
    assert patch in names("3.11.2") and patch in names("3.12.10")
    # 3.13 gates these modules on --disable-test-modules upstream (gh-116303).
    assert patch not in names("3.13.5") and patch not in names("3.13.15")
    assert patch not in names("3.10.14")
    # Pre-releases go with the release they lead to, not before it as in PEP 440.
    assert patch in names("3.11.0rc1") and patch in names("3.12.0a1")
    assert patch not in names("3.13.0b1")


# --- validation ------------------------------------------------------------------


def test_valid_synthetic_patch_loads(tmp_path: Path):
    patch = load_one(tmp_path, render(GOOD_HEADERS, SIMPLE_DIFF))
    assert patch.files == ["Makefile.pre.in"]
    assert patch.description == "build: frob the widget\nlonger explanation\n\nsecond paragraph"
    assert patch.versions == SpecifierSet(">=3.11,<3.13")
    assert list(patch.headers) == list(GOOD_HEADERS)
    assert patch.diff == SIMPLE_DIFF


def test_subject_stands_in_for_description_and_free_text_may_follow(tmp_path: Path):
    headers = {("Subject" if k == "Description" else k): v for k, v in GOOD_HEADERS.items()}
    # git format-patch style: "---" right after the fields, then a diffstat.
    text = render(headers, SIMPLE_DIFF, between="---\n Makefile.pre.in | 2 +-\n\n")
    patch = load_one(tmp_path, text)
    assert patch.description.startswith("build: frob the widget")
    assert patch.diff == SIMPLE_DIFF


@pytest.mark.parametrize("generated", sorted(GENERATED_FILES))
@pytest.mark.parametrize("shape", ["modify", "create", "second-file"])
def test_patch_touching_generated_file_is_rejected(tmp_path: Path, generated: str, shape: str):
    if shape == "modify":
        diff = f"--- a/{generated}\n+++ b/{generated}\n@@ -1 +1 @@\n-a\n+b\n"
    elif shape == "create":
        diff = f"--- /dev/null\n+++ b/{generated}\n@@ -0,0 +1 @@\n+b\n"
    else:
        diff = SIMPLE_DIFF + f"--- a/{generated}\n+++ b/{generated}\n@@ -1 +1 @@\n-a\n+b\n"
    with pytest.raises(PatchError) as err:
        load_one(tmp_path, render(GOOD_HEADERS, diff))
    assert f"generated file {generated!r}" in str(err.value)
    assert "0001-test.patch" in str(err.value)


def test_generated_file_name_elsewhere_in_tree_is_allowed(tmp_path: Path):
    # Only the top-level generated files are off limits; a vendored library's own
    # configure (Modules/_decimal/libmpdec in old releases) is ordinary source.
    diff = "--- a/Modules/x/configure\n+++ b/Modules/x/configure\n@@ -1 +1 @@\n-a\n+b\n"
    assert load_one(tmp_path, render(GOOD_HEADERS, diff)).files == ["Modules/x/configure"]


@pytest.mark.parametrize("missing", sorted(REQUIRED_HEADERS))
def test_patch_missing_required_header_is_rejected(tmp_path: Path, missing: str):
    headers = {k: v for k, v in GOOD_HEADERS.items() if k != missing}
    with pytest.raises(PatchError) as err:
        load_one(tmp_path, render(headers, SIMPLE_DIFF))
    assert missing in str(err.value) and "0001-test.patch" in str(err.value)


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("Python-Versions", "3.11", "not a version specifier set"),
        ("Python-Versions", "~=3", "not a version specifier set"),
        ("Python-Versions", ">=3.11, <3.13, banana", "not a version specifier set"),
        ("Last-Update", "23/11/2026", "not YYYY-MM-DD"),
        ("Last-Update", "20261123", "not YYYY-MM-DD"),
        ("Last-Update", "2026-02-30", "not YYYY-MM-DD"),
        ("Origin", "cpython-static", "Origin"),
        ("Origin", "somewhere, cpython-static", "Origin"),
        ("Forwarded", "maybe", "Forwarded"),
        ("Base", "3.11.2", "not a CPython release tag"),
        ("Base", "v3.10.0", "outside its own Python-Versions"),
        ("Description", "", "Description is empty"),
    ],
)
def test_bad_header_value_is_rejected(tmp_path: Path, field: str, value: str, expected: str):
    with pytest.raises(PatchError) as err:
        load_one(tmp_path, render({**GOOD_HEADERS, field: value}, SIMPLE_DIFF))
    assert expected in str(err.value) and "0001-test.patch" in str(err.value)


@pytest.mark.parametrize(
    "diff, expected",
    [
        ("", "no unified diff"),
        ("--- a/x/y\n+++ b/x/y\n@@ -1,3 +1,3 @@\n-old\n+new\n", "unparseable diff"),
        ("--- x\n+++ x\n@@ -1 +1 @@\n-a\n+b\n", "no leading directory"),
        ("--- a/../x\n+++ b/../x\n@@ -1 +1 @@\n-a\n+b\n", "leaves the source tree"),
    ],
)
def test_bad_diff_is_rejected(tmp_path: Path, diff: str, expected: str):
    with pytest.raises(PatchError) as err:
        load_one(tmp_path, render(GOOD_HEADERS, diff))
    assert expected in str(err.value) and "0001-test.patch" in str(err.value)


def test_malformed_header_line_and_duplicate_field_are_rejected(tmp_path: Path):
    with pytest.raises(PatchError, match="not a 'Field: value' header line"):
        load_one(tmp_path, "just some words\n" + render(GOOD_HEADERS, SIMPLE_DIFF))
    with pytest.raises(PatchError, match="'Origin' given twice"):
        load_one(tmp_path, "Origin: vendor, x\n" + render(GOOD_HEADERS, SIMPLE_DIFF))


def test_series_problems_are_rejected(tmp_path: Path):
    good = render(GOOD_HEADERS, SIMPLE_DIFF)
    with pytest.raises(PatchError, match="cannot read the series file"):
        load_series(tmp_path / "nowhere")
    directory = write_series(tmp_path / "p", {"a.patch": good})
    series = directory / SERIES_FILE
    for content, expected in [
        ("a.patch\nmissing.patch\n", r"series:2: patch file .*missing\.patch does not exist"),
        ("a.patch\n# comment\na.patch\n", "already listed on line 1"),
        ("a.patch -p0\n", "expected one patch file name"),
        ("../a.patch\n", "must be a path inside"),
    ]:
        series.write_text(content)
        with pytest.raises(PatchError, match=expected):
            load_series(directory)
    series.write_text("# only comments\n\n  a.patch   # trailing comment\n")
    assert [p.name for p in load_series(directory)] == ["a.patch"]


# --- selection -------------------------------------------------------------------

versions = st.builds(
    lambda major, minor, micro, pre: f"{major}.{minor}.{micro}{pre}",
    st.sampled_from([2, 3]),
    st.integers(0, 20),
    st.integers(0, 30),
    st.sampled_from(["", "a1", "b3", "rc2"]),
)


@given(version=versions)
def test_shipped_series_selection_follows_minor_version(version: str):
    major, minor = (int(x) for x in version.split(".")[:2])
    expected = (3, 11) <= (major, minor) < (3, 13)
    names = [p.name for p in select(load_series(PATCHES_DIR), version)]
    assert ("0001-configure-add-disable-xxlimited-modules.patch" in names) == expected


@given(
    ranges=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=6),
    version=versions,
)
def test_select_keeps_order_and_exactly_the_covering_patches(ranges, version):
    series = [
        Patch(
            name=f"{i:04d}.patch",
            path=Path(f"{i:04d}.patch"),
            description="d",
            origin="vendor, x",
            forwarded="no",
            applied_upstream="",
            last_update=datetime.date(2026, 1, 1),
            versions=SpecifierSet(f">=3.{lo}, <3.{hi}"),
            base="v3.0.0",
            files=["x"],
        )
        for i, (lo, hi) in enumerate(ranges)
    ]
    major, minor = (int(x) for x in version.split(".")[:2])
    # Pre-releases count as the release they lead to (patches.Patch.applies_to).
    expected = [p.name for p, (lo, hi) in zip(series, ranges) if (3, lo) <= (major, minor) < (3, hi)]
    assert [p.name for p in select(series, version)] == expected


# --- application -----------------------------------------------------------------

FILE_NAMES = ["f.txt", "g.c", "d/h.in", "d/e/k"]
line_text = st.text(alphabet="abcXYZ019 \t-+@\\#é", max_size=10)
contents = st.builds(
    lambda lines, newline: "\n".join(lines) + ("\n" if newline else ""),
    st.lists(line_text, min_size=1, max_size=8),
    st.booleans(),
).filter(bool)  # diff -N cannot tell an empty file from an absent one
trees = st.fixed_dictionaries({name: st.none() | contents for name in FILE_NAMES})


def write_tree(root: Path, files: dict[str, str | None]) -> None:
    root.mkdir(parents=True)
    for name, text in files.items():
        if text is not None:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(text.encode())


def read_tree(root: Path) -> dict[str, str | None]:
    found = {p.relative_to(root).as_posix(): p.read_bytes().decode() for p in root.rglob("*") if p.is_file()}
    return {name: found.pop(name, None) for name in FILE_NAMES} | found


# GNU diff writes "@@ -0,0 +1 @@" for a one-line side, unidiff writes it back as
# "+1,1": the same hunk, so compare with the counts made explicit.
_HUNK_HEADER = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@", re.MULTILINE)


def explicit_hunk_counts(diff: str) -> str:
    return _HUNK_HEADER.sub(lambda m: f"@@ -{m[1]}{m[2] or ',1'} +{m[3]}{m[4] or ',1'} @@", diff)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=trees, after=trees)
# A one-line file created: the case that showed unidiff's count spelling.
@example(before=dict.fromkeys(FILE_NAMES), after={**dict.fromkeys(FILE_NAMES), "d/e/k": "\n"})
def test_apply_then_reverse_gives_back_the_original_tree(before, after):
    assume(before != after)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = Runner(tmp / "logs")
        write_tree(tmp / "a", before)
        write_tree(tmp / "b", after)
        diff = run.run("diff", ["diff", "-ruN", "a", "b"], cwd=tmp, capture=True, check=False)
        diff = diff.output
        # Round trip also for generated diffs (timestamps, new/deleted files, "\ No newline
        # at end of file"), lossless up to unidiff spelling out the counts GNU diff elides.
        assert str(PatchSet(diff)) == explicit_hunk_counts(diff)
        patches_dir = write_series(tmp / "patches", {"x.patch": render(GOOD_HEADERS, diff)})
        (patch,) = load_series(patches_dir)
        shutil.copytree(tmp / "a", tmp / "work")

        assert apply([patch], tmp / "work", run) == ["x.patch"]
        assert read_tree(tmp / "work") == after
        apply([patch], tmp / "work", run, reverse=True)
        assert read_tree(tmp / "work") == before


def make_tree_and_patches(tmp_path: Path) -> tuple[Path, list[Patch]]:
    tree = tmp_path / "tree"
    write_tree(tree, {"one.txt": "a\nb\nc\n", "two.txt": "x\ny\nz\n"})
    first = "--- a/one.txt\n+++ b/one.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
    # The second patch's first file would apply, its second file cannot.
    second = (
        "--- a/two.txt\n+++ b/two.txt\n@@ -1,3 +1,3 @@\n x\n-y\n+Y\n z\n"
        "--- a/one.txt\n+++ b/one.txt\n@@ -1,3 +1,3 @@\n a\n-WRONG\n+b\n c\n"
    )
    patches = load_series(
        write_series(
            tmp_path / "p",
            {
                "0001-first.patch": render(GOOD_HEADERS, first),
                "0002-second.patch": render(GOOD_HEADERS, second),
            },
        )
    )
    return tree, patches


def test_failing_patch_is_named_and_leaves_no_trace(tmp_path: Path, runner: Runner):
    tree, patches = make_tree_and_patches(tmp_path)
    with pytest.raises(PatchError) as err:
        apply(patches, tree, runner)
    message = str(err.value)
    assert "0002-second.patch" in message and "log: " in message and "FAILED" in message
    # The first patch is in, the failing one left nothing behind: no half-applied
    # files, no .rej or .orig droppings.
    expected = {"one.txt": "a\nB\nc\n", "two.txt": "x\ny\nz\n"}
    assert read_tree(tree) == {**dict.fromkeys(FILE_NAMES), **expected}


def test_reverse_unapplies_last_patch_first(tmp_path: Path, runner: Runner):
    tree = tmp_path / "tree"
    write_tree(tree, {"one.txt": "a\nb\nc\n"})
    header = "--- a/one.txt\n+++ b/one.txt\n"
    # The second patch edits what the first one wrote, so only last-first order works.
    patches = load_series(
        write_series(
            tmp_path / "p",
            {
                "0001.patch": render(GOOD_HEADERS, f"{header}@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"),
                "0002.patch": render(GOOD_HEADERS, f"{header}@@ -1,3 +1,3 @@\n a\n-B\n+BB\n c\n"),
            },
        )
    )
    assert apply(patches, tree, runner) == ["0001.patch", "0002.patch"]
    assert (tree / "one.txt").read_text() == "a\nBB\nc\n"
    assert apply(patches, tree, runner, reverse=True) == ["0002.patch", "0001.patch"]
    assert (tree / "one.txt").read_text() == "a\nb\nc\n"


def test_patch_already_applied_is_refused(tmp_path: Path, runner: Runner):
    tree, patches = make_tree_and_patches(tmp_path)
    apply(patches[:1], tree, runner)
    with pytest.raises(PatchError, match="0001-first.patch"):
        apply(patches[:1], tree, runner)


def test_offset_is_accepted_without_backup_but_fuzz_is_refused(tmp_path: Path, runner: Runner):
    tree, patches = make_tree_and_patches(tmp_path)
    (tree / "one.txt").write_text("new first line\nanother\na\nb\nc\n")
    apply(patches[:1], tree, runner)
    assert (tree / "one.txt").read_text() == "new first line\nanother\na\nB\nc\n"
    assert sorted(p.name for p in tree.iterdir()) == ["one.txt", "two.txt"]

    (tree / "one.txt").write_text("a\nb\nc CHANGED\n")  # context drifted: needs fuzz 1
    with pytest.raises(PatchError, match="0001-first.patch"):
        apply(patches[:1], tree, runner)
    assert (tree / "one.txt").read_text() == "a\nb\nc CHANGED\n"


def test_apply_to_missing_tree_is_an_error(tmp_path: Path, runner: Runner):
    _, patches = make_tree_and_patches(tmp_path)
    with pytest.raises(PatchError, match="not a directory"):
        apply(patches, tmp_path / "absent", runner)


# --- configure regeneration --------------------------------------------------------

CONFIGURE_HEAD = "#! /bin/sh\n# Guess values for system-dependent variables and create Makefiles.\n"


def fake_autotools(bin_dir: Path, version: str, with_runstatedir: bool, autoheader_version: str | None = None) -> Path:
    """An autoconf/autoheader pair that report ``version`` and write recognisable output."""
    header_version = autoheader_version or version
    bin_dir.mkdir(parents=True)
    extra = "  --runstatedir=DIR\\n" if with_runstatedir else ""
    head = CONFIGURE_HEAD.replace("\n", "\\n")  # printf format: newlines as \n
    scripts = {
        "autoconf": (
            # Stands for a real autoconf being redirected to another installation's pieces.
            '[ -n "$AUTOM4TE$M4" ] && { echo "AUTOM4TE/M4 leaked in" >&2; exit 1; }\n'
            f'[ "$1" = --version ] && {{ echo "autoconf (GNU Autoconf) {version}"; exit 0; }}\n'
            'for a; do case "$a" in --output=*) out="${a#--output=}";; esac; done\n'
            "mkdir -p autom4te.cache\n"
            f'printf "{head}# Generated by GNU Autoconf {version}'
            f' for python 3.99.\\n{extra}# from: %s\\n" "$(cat configure.ac)" > "$out"\n'
        ),
        "autoheader": (
            f'[ "$1" = --version ] && {{ echo "autoheader (GNU Autoconf) {header_version}";'
            " exit 0; }\n"
            # Like the real one under --force: the old template is kept as a backup.
            'mv pyconfig.h.in "pyconfig.h.in${SIMPLE_BACKUP_SUFFIX:-~}"\n'
            'echo "/* from: $(cat configure.ac) */" > pyconfig.h.in\n'
        ),
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return bin_dir / "autoconf"


def fake_tree(root: Path, version: str, with_runstatedir: bool) -> Path:
    root.mkdir()
    extra = "  --runstatedir=DIR\n" if with_runstatedir else ""
    (root / "configure").write_text(
        f"{CONFIGURE_HEAD}# Generated by GNU Autoconf {version} for python 3.99.\n{extra}old\n"
    )
    (root / "configure.ac").write_text("AC_INIT patched")
    (root / "pyconfig.h.in").write_text("old\n")
    return root


def test_required_version_reads_the_header(tmp_path: Path):
    tree = fake_tree(tmp_path / "t", "2.69", False)
    assert autoconf.required_version(tree / "configure") == "2.69"
    (tree / "configure").write_text("#! /bin/sh\necho hand written\n")
    with pytest.raises(AutoconfError, match="configure: no '# Generated by GNU Autoconf"):
        autoconf.required_version(tree / "configure")


def test_system_version_of_absent_autoconf_is_none(tmp_path: Path, runner: Runner):
    assert autoconf.system_version(runner, str(tmp_path / "no" / "autoconf")) is None
    tool = fake_autotools(tmp_path / "bin", "2.71", True)
    assert autoconf.system_version(runner, str(tool)) == "2.71"


@pytest.mark.parametrize("found", ["2.71", None])
def test_regenerate_refuses_another_autoconf_version(tmp_path: Path, runner: Runner, found):
    tree = fake_tree(tmp_path / "t", "2.69", True)
    if found is None:
        tool = tmp_path / "none" / "autoconf"
    else:
        tool = fake_autotools(tmp_path / "bin", found, True)
    with pytest.raises(AutoconfError) as err:
        autoconf.regenerate(tree, runner, str(tool))
    message = str(err.value)
    assert "Autoconf 2.69" in message and "built from its pinned" in message and "--no-regen" in message
    assert ("version 2.71" if found else "was not found") in message
    assert (tree / "configure").read_text().endswith("old\n")


def test_regenerate_refuses_autoheader_of_another_version(tmp_path: Path, runner: Runner):
    tree = fake_tree(tmp_path / "t", "2.69", True)
    tool = fake_autotools(tmp_path / "bin", "2.69", True, autoheader_version="2.71")
    with pytest.raises(AutoconfError, match=r"`\S*/autoheader` is version 2\.71"):
        autoconf.regenerate(tree, runner, str(tool))


@pytest.mark.parametrize("shipped_has, tool_has", [(True, False), (False, True)])
def test_regenerate_refuses_autoconf_differing_in_a_backport(
    tmp_path: Path, runner: Runner, shipped_has: bool, tool_has: bool
):
    tree = fake_tree(tmp_path / "t", "2.69", with_runstatedir=shipped_has)
    tool = fake_autotools(tmp_path / "bin", "2.69", with_runstatedir=tool_has)
    with pytest.raises(AutoconfError) as err:
        autoconf.regenerate(tree, runner, str(tool))
    side = "the shipped configure has" if shipped_has else "this autoconf 2.69 adds"
    assert f"{side} the --runstatedir option" in str(err.value)
    assert (tree / "configure").read_text().endswith("old\n")
    assert sorted(p.name for p in tree.iterdir()) == ["configure", "configure.ac", "pyconfig.h.in"]


def test_regenerate_rewrites_configure_and_pyconfig(tmp_path: Path):
    runner = Runner(tmp_path / "logs")
    runner.base_env.update(AUTOM4TE="/elsewhere/autom4te", M4="/elsewhere/m4", SIMPLE_BACKUP_SUFFIX=".bak")
    tree = fake_tree(tmp_path / "t", "2.69", with_runstatedir=True)
    tool = fake_autotools(tmp_path / "bin", "2.69", with_runstatedir=True)
    (tree / "configure").chmod(0o755)
    assert autoconf.regenerate(tree, runner, str(tool)) == "2.69"
    assert (tree / "configure").read_text().endswith("# from: AC_INIT patched\n")
    assert (tree / "pyconfig.h.in").read_text() == "/* from: AC_INIT patched */\n"
    assert sorted(p.name for p in tree.iterdir()) == ["configure", "configure.ac", "pyconfig.h.in"]


# --- real release sources ----------------------------------------------------------


@pytest.fixture
def cpython_source(tmp_path: Path, release_tarball):
    """Extract the pinned release tarball of a CPython version (fetched if needed)."""

    def extract(version: str) -> Path:
        tarball = release_tarball(version)
        dest = tmp_path / "src"
        with tarfile.open(tarball) as tar:
            # filter="data" refuses absolute paths and links out of the tree; older
            # 3.11 patch releases lack it and extract as before.
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(dest, **kwargs)
        (root,) = dest.iterdir()
        return root

    return extract


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.real
@pytest.mark.parametrize("version", RELEASES)
def test_real_series_applies(cpython_source, runner: Runner, version: str):
    tree = cpython_source(version)
    before = snapshot(tree)
    selected = select(load_series(PATCHES_DIR), version)
    assert apply(selected, tree, runner) == [p.name for p in selected]
    after = snapshot(tree)
    # Exactly the files the patches name changed, and no .orig/.rej files appeared.
    assert after.keys() == before.keys()
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {f for patch in selected for f in patch.files}
    if version.startswith("3.11."):
        configure_ac = (tree / "configure.ac").read_text()
        assert "AC_ARG_ENABLE([xxlimited-modules]" in configure_ac
        assert "--disable-xxlimited-modules" in configure_ac


@pytest.mark.real
def test_real_regenerate_reproduces_pristine_3_13_15(cpython_source, runner: Runner):
    tree = cpython_source("3.13.15")
    needed = autoconf.required_version(tree / "configure")
    if autoconf.system_version(runner) != needed:
        pytest.skip(f"system autoconf is not {needed}")
    before = snapshot(tree)
    assert autoconf.regenerate(tree, runner) == needed
    after = snapshot(tree)
    # Same files (no cache, backup or side output left behind), same bytes.
    assert sorted(after) == sorted(before)
    assert [name for name in after if after[name] != before[name]] == []
    assert os.access(tree / "configure", os.X_OK)
