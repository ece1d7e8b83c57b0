"""The rebase engine's pure parts and its patch algebra, on real GNU patch runs in
temporary trees (hypothesis generates the files and edits)."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpython_static.build import patches
from cpython_static.core.cache import Cache
from cpython_static.core.runner import Runner
from cpython_static.series import rebase

SERIES = Path(__file__).resolve().parents[2] / "patches"

HEADER = """Description: test patch
Origin: vendor, cpython-static
Forwarded: no
Applied-Upstream: no
Last-Update: 2026-01-01
Python-Versions: >=3.11
Base: v3.13.5

"""


@pytest.mark.parametrize("patch", patches.load_series(SERIES), ids=lambda p: p.name)
def test_shipped_patches_are_already_normalized(patch):
    """The write-back format is the series' own: normalizing changes nothing (and the
    unidiff round trip is lossless)."""
    assert rebase.normalize_diff(patch.diff) == patch.diff


def test_context_width_is_kept():
    by_name = {p.name: p for p in patches.load_series(SERIES)}
    assert rebase._context_lines(by_name["0002-ctypes-importable-without-dlopen.patch"].diff) == 1
    assert rebase._context_lines(by_name["0001-configure-add-disable-xxlimited-modules.patch"].diff) == 3


def test_set_field_rewrites_one_line_only():
    out = rebase._set_field(rebase._set_field(HEADER, "Base", "v3.13.15"), "Last-Update", "2026-11-23")
    assert "Base: v3.13.15\n" in out and "Last-Update: 2026-11-23\n" in out
    assert out.replace("v3.13.15", "v3.13.5").replace("2026-11-23", "2026-01-01") == HEADER
    with pytest.raises(rebase.RebaseError):
        rebase._set_field("Description: x\n", "Base", "v1.2.3")


def test_markdown_report_names_every_status():
    report = {
        "tag": "v3.13.15",
        "ok": False,
        "message": "stopped",
        "steps": {"fetch": 0.1},
        "patches": [{"name": "a.patch", "status": "conflict", "detail": "x", "duration_s": 0.2}],
        "regen": {"autoconf": "2.71", "origin": "system", "fidelity": True, "regenerated": False},
        "build": {"ok": None, "skipped": True},
        "verify": {"ok": None, "skipped": True},
    }
    text = rebase.render_markdown(report)
    assert "| a.patch | conflict | x | 0.2 |" in text and "byte-identical" in text
    assert all(f"**{s}**" in text for s in rebase.STATUSES)


# --------------------------------------------------------------- the patch algebra
# Distinct lines: with repeated ones a hunk matches in several places and "where it
# applies" is patch's choice, not a property of the edit.
lines_strategy = st.lists(
    st.text(alphabet="abcdefgh xyz", min_size=1, max_size=12), min_size=8, max_size=40, unique=True
)


def _make_patch(tmp: Path, before: list[str], after: list[str], runner: Runner) -> patches.Patch:
    (tmp / "a").mkdir(parents=True, exist_ok=True)
    (tmp / "b").mkdir(parents=True, exist_ok=True)
    (tmp / "a" / "f.txt").write_text("\n".join(before) + "\n")
    (tmp / "b" / "f.txt").write_text("\n".join(after) + "\n")
    res = runner.run("diff", ["diff", "-u", "a/f.txt", "b/f.txt"], cwd=tmp, capture=True, check=False)
    diff = "".join(l for l in res.output.splitlines(keepends=True))
    diff = "--- a/f.txt\n+++ b/f.txt\n" + diff.split("\n", 2)[2]
    path = tmp / "t.patch"
    path.write_text(HEADER + diff)
    return patches.parse_patch(path)


def _one_line_edit(tmp_path_factory, lines: list[str], where: int):
    """A patch changing line ``where`` of ``lines``, and an empty tree to apply it in;
    None when the edit changes nothing."""
    tmp = tmp_path_factory.mktemp("alg")
    runner = Runner(tmp / "logs")
    after = lines[:where] + ["CHANGED LINE"] + lines[where + 1 :]
    if after == lines:
        return None
    tree = tmp / "tree"
    tree.mkdir()
    return tmp, runner, _make_patch(tmp, lines, after, runner), tree, after


def _rebaser(tmp: Path) -> rebase.Rebaser:
    return rebase.Rebaser(Cache(tmp / "cache"), Runner(tmp / "logs"), patches_dir=SERIES, results_dir=tmp / "results")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=lines_strategy, where=st.integers(min_value=3, max_value=7), inserted=st.integers(min_value=1, max_value=30)
)
def test_unrelated_lines_above_make_an_offset(tmp_path_factory, lines, where, inserted):
    # where >= 3: the hunk has its full leading context (a hunk at the top of a file has
    # none and is anchored to line 1, so lines above it are a real conflict, not an offset)
    edit = _one_line_edit(tmp_path_factory, lines, where)
    if edit is None:
        return
    tmp, runner, patch, tree, after = edit
    # unrelated lines inserted above every hunk: only the position moves
    (tree / "f.txt").write_text("\n".join([f"unrelated {i}" for i in range(inserted)] + lines) + "\n")
    ok, fuzz, offset = _rebaser(tmp)._dry_run(patch, tree, fuzz=0)
    assert ok and fuzz == 0 and offset == inserted


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=lines_strategy, where=st.integers(min_value=0, max_value=7))
def test_apply_then_reverse_is_the_identity_and_reverse_means_upstream(tmp_path_factory, lines, where):
    edit = _one_line_edit(tmp_path_factory, lines, where)
    if edit is None:
        return
    tmp, runner, patch, tree, after = edit
    original = "\n".join(lines) + "\n"
    (tree / "f.txt").write_text(original)
    r = _rebaser(tmp)
    r._patch(patch, tree, fuzz=0)
    assert (tree / "f.txt").read_text() == "\n".join(after) + "\n"
    # applied already: forward refuses, reverse applies — what `upstream` means
    assert not r._dry_run(patch, tree, fuzz=0)[0]
    assert r._dry_run(patch, tree, fuzz=0, reverse=True)[0]
    patches.apply([patch], tree, runner, reverse=True)
    assert (tree / "f.txt").read_text() == original


def test_normalize_keeps_only_file_headers_and_hunks():
    git_diff = (
        "diff --git a/x b/x\nindex 1111111..2222222 100644\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@ def f():\n a\n-b\n+c\n"
    )
    assert rebase.normalize_diff(git_diff) == "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"


# ------------------------------------------------ Applied-Upstream: proven, not assumed
HACL = next(p for p in patches.load_series(SERIES) if p.name.startswith("0003-"))


def _hacl_tree(tmp: Path, *, fixed: bool) -> Path:
    """A tree whose configure.ac is the hunk's side after (upstream's fix) or before."""
    keep = "+" if fixed else "-"
    body = [line[1:] for line in HACL.diff.splitlines()[3:] if line[:1] in (" ", keep)]
    tree = tmp / ("fixed" if fixed else "unfixed")
    tree.mkdir()
    (tree / "configure.ac").write_text("\n".join([f"dnl line {i}" for i in range(40)] + body) + "\n")
    return tree


def test_backport_is_upstream_where_applied_upstream_says_and_the_tree_shows_it(tmp_path):
    assert HACL.applies_to("3.14.4") and HACL.applies_to("3.14.0rc1") and not HACL.applies_to("3.14.5")
    assert str(HACL.fixed_in) == "3.14.5" and HACL.upstream_has_it("3.14.7")
    assert not HACL.upstream_has_it("3.14.4")
    r = _rebaser(tmp_path)
    outcome = r.apply_patch(HACL, _hacl_tree(tmp_path, fixed=True), version="3.14.7", tag="v3.14.7")
    assert outcome.status == "upstream" and "Applied-Upstream: 3.14.5" in outcome.detail


def test_applied_upstream_that_the_tree_contradicts_is_not_upstream(tmp_path):
    outcome = _rebaser(tmp_path).apply_patch(HACL, _hacl_tree(tmp_path, fixed=False), version="3.14.7", tag="v3.14.7")
    assert outcome.status == "not-applicable"
    assert "does not apply in reverse" in outcome.detail and "outside Python-Versions" in outcome.detail


def test_patch_outside_its_range_without_applied_upstream_is_not_applicable(tmp_path):
    xxlimited = next(p for p in patches.load_series(SERIES) if p.name.startswith("0001-"))
    # 0001's Applied-Upstream names 3.13, where upstream solved it another way.
    outcome = _rebaser(tmp_path).apply_patch(
        xxlimited, _hacl_tree(tmp_path, fixed=True), version="3.13.15", tag="v3.13.15"
    )
    assert outcome.status == "not-applicable" and "another form" in outcome.detail
