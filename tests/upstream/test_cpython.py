"""`cpython-static upstream cpython`: the pieces that need no CPython tree (fast tier).

Templates and texts from the shipped patches, NEWS entries checked with blurb's own
parser and file naming, commit message wrapping, the skip logic, the documentation
insertion, branch phases, the optional patch header fields, and the refusals that need
only a small git repository.  tests/real/test_upstream_cpython.py runs the whole command
on real CPython trees.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import string
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpython_static.build.patches import OPTIONAL_HEADERS, PatchError, load_series, parse_patch
from cpython_static.core.cache import Cache
from cpython_static.core.runner import Runner
from cpython_static.upstream import cpython as cpython_pr
from cpython_static.upstream.cpython import (
    LOWEST_GH_ISSUE,
    TEMPLATES,
    BranchMaker,
    Commit,
    CPythonPRError,
    Wording,
    _Failed,
    added_configure_options,
    branch_phase,
    check_issue,
    commit_message,
    default_branch_name,
    description_parts,
    insert_option_doc,
    news_source,
    next_release,
    pr_text,
    pre_skip,
    wrap,
)

REPO = Path(__file__).resolve().parents[2]
SERIES = {p.name: p for p in load_series(REPO / "patches")}
XXLIMITED = SERIES["0001-configure-add-disable-xxlimited-modules.patch"]
CTYPES = SERIES["0002-ctypes-importable-without-dlopen.patch"]
ENSUREPIP = SERIES["0004-ensurepip-wheel-name-from-zipped-stdlib.patch"]
ISSUE = 116303
TODAY = datetime.date(2026, 11, 24)

# The shape of Doc/using/configure.rst around the anchor entry, in both directive styles.
DOC = """\
Install Options
---------------

.. {d}:: --disable-test-modules

   Don't build nor install test modules, like the :mod:`test` package or the
   :mod:`!_testcapi` extension module (built and installed by default).

   .. versionadded:: 3.10

.. {d}:: --with-ensurepip=[upgrade|install|no]

   Select the :mod:`ensurepip` command run on Python installation.
"""


# ------------------------------------------------------------------- patch headers
def test_shipped_patches_carry_what_a_cpython_commit_needs():
    assert XXLIMITED.upstream_issue == ISSUE
    assert CTYPES.upstream_issue is None  # no upstream issue yet: --issue is required for it
    assert XXLIMITED.headers["NEWS-Section"] == "Build"
    assert CTYPES.headers["NEWS-Section"] == "Library"
    for patch in SERIES.values():
        if patch.forwarded == "not-needed":  # a backport of upstream's own fix (0003)
            continue
        assert patch.headers["NEWS-Entry"].strip()
        assert patch.headers["Upstream-Subject"][0].isupper()
    # Every optional field is used by the series (0001 by all but Prior-Art, 0002's).
    assert set().union(*(p.headers for p in SERIES.values())) >= set(OPTIONAL_HEADERS)


def _write_patch(tmp_path, extra: str) -> Path:
    """0002 with its own optional fields replaced by ``extra``."""
    path = tmp_path / "p.patch"
    path.write_text(CTYPES.path.read_text().split("Upstream-Subject:")[0] + extra + "\n" + CTYPES.diff)
    return path


@pytest.mark.parametrize(
    "extra, error",
    [
        ("", None),
        ("Upstream-Issue: 120000\n", None),
        ("Upstream-Issue: gh-120000\n", "Upstream-Issue 'gh-120000' is not"),
        ("Upstream-Issue: 0\n", "Upstream-Issue '0' is not"),
        ("NEWS-Section:\n", "header field NEWS-Section is empty"),
        ("NEWS-Entry: one\n two\n", None),
    ],
)
def test_optional_header_fields(tmp_path, extra, error):
    path = _write_patch(tmp_path, extra)
    if error is None:
        patch = parse_patch(path)
        assert patch.upstream_issue == (120000 if "120000" in extra else None)
        if "NEWS-Entry" in extra:
            assert patch.headers["NEWS-Entry"] == "one\ntwo"
    else:
        with pytest.raises(PatchError, match=re.escape(error)):
            parse_patch(path)


# ------------------------------------------------------------------ commit message
def test_commit_message_follows_cpython_convention():
    message = commit_message(ISSUE, XXLIMITED)
    subject, blank, *body = message.splitlines()
    assert subject == f"gh-{ISSUE}: Add configure option --disable-xxlimited-modules"
    assert blank == ""
    assert all(len(line) <= 72 for line in body)
    text = " ".join(body)
    # The first paragraph of the Description (what and why) ...
    assert "MODULE_BUILDTYPE=static" in text
    # ... and not this project's own notes that follow it.
    assert "cpython-static" not in message and "Not forwarded" not in message


def test_subject_falls_back_to_the_description():
    bare = dataclasses.replace(CTYPES, headers={k: v for k, v in CTYPES.headers.items() if k != "Upstream-Subject"})
    assert commit_message(40000, bare).splitlines()[0] == (
        "gh-40000: Ctypes: stay importable when the interpreter cannot dlopen() itself"
    )


def test_description_parts():
    assert description_parts("title\nfirst para\ncontinued\n\nsecond para") == ("title", "first para\ncontinued")
    assert description_parts("title only") == ("title only", "")


words = st.text(alphabet=st.characters(whitelist_categories=("L", "N", "P")), min_size=1, max_size=30)


@given(
    st.lists(st.lists(words, min_size=1, max_size=40), min_size=1, max_size=4), st.integers(min_value=20, max_value=100)
)
def test_wrap_keeps_words_and_width(paragraphs, width):
    text = "\n\n".join(" ".join(p) for p in paragraphs)
    out = wrap(text, width)
    assert [p.split() for p in out.split("\n\n")] == paragraphs
    for line in out.splitlines():
        assert len(line) <= width or " " not in line  # only an overlong single word may exceed it


# ----------------------------------------------------------------------- NEWS entry
def test_news_entry_is_what_blurb_accepts(tmp_path, monkeypatch):
    blurb_file = pytest.importorskip("blurb._blurb_file")
    source = tmp_path / "entry.rst"
    source.write_text(news_source(ISSUE, "Build", XXLIMITED.headers["NEWS-Entry"]))
    blurbs = blurb_file.Blurbs()
    blurbs.load(str(source))  # blurb's own parser: raises BlurbError on anything it refuses
    ((metadata, body),) = blurbs
    assert metadata == {"gh-issue": str(ISSUE), "section": "Build"}
    assert ":option:`--disable-xxlimited-modules`" in body
    # blurb's own naming, as `blurb add` saves it.
    monkeypatch.setattr(blurb_file, "root", str(tmp_path))
    saved = Path(blurbs.save_next())
    assert saved.parent == tmp_path / "Misc" / "NEWS.d" / "next" / "Build"
    assert re.fullmatch(rf"\d{{4}}(-\d\d){{5}}\.gh-issue-{ISSUE}\.[A-Za-z0-9_-]{{6}}\.rst", saved.name)


def test_lowest_issue_is_blurbs():
    blurb_file = pytest.importorskip("blurb._blurb_file")
    assert LOWEST_GH_ISSUE == blurb_file.lowest_possible_gh_issue_number


@pytest.mark.parametrize(
    "section", sorted({p.headers["NEWS-Section"] for p in SERIES.values() if "NEWS-Section" in p.headers})
)
def test_news_sections_are_blurbs(section):
    template = pytest.importorskip("blurb._template")
    assert section in template.sections


def test_check_issue():
    assert check_issue(ISSUE, "x") == ISSUE
    with pytest.raises(CPythonPRError, match="start at 32426"):
        check_issue(12345, "--issue")
    with pytest.raises(CPythonPRError, match="a CPython PR needs one"):
        check_issue(None, "0002")


# ------------------------------------------------------------------- configure docs
def test_added_configure_options():
    assert added_configure_options(XXLIMITED) == ["--disable-xxlimited-modules"]
    assert added_configure_options(CTYPES) == []


@pytest.mark.parametrize("directive", ["option", "cmdoption"])
def test_option_doc_goes_after_the_anchor_in_its_style(directive):
    doc = DOC.format(d=directive)
    out = insert_option_doc(doc, "--disable-xxlimited-modules", XXLIMITED.headers["Configure-Doc"], "3.11.3")
    assert out.startswith(doc[: doc.index(f".. {directive}:: --with-ensurepip")])
    assert out.endswith(doc[doc.index(f".. {directive}:: --with-ensurepip") :])
    added = out[
        len(doc[: doc.index(f".. {directive}:: --with-ensurepip")]) : -len(
            doc[doc.index(f".. {directive}:: --with-ensurepip") :]
        )
    ]
    lines = added.splitlines()
    assert lines[0] == f".. {directive}:: --disable-xxlimited-modules"
    assert lines[1] == "" and lines[-2:] == ["   .. versionadded:: 3.11.3", ""]
    assert all(len(line) < 80 and (not line or line.startswith("   ")) for line in lines[1:])


def test_option_doc_refusals():
    with pytest.raises(_Failed, match="has no '.. option:: --disable-test-modules' entry"):
        insert_option_doc("Nothing here\n", "--x", "text", "3.14")
    doc = insert_option_doc(DOC.format(d="option"), "--x", "text", "3.14")
    with pytest.raises(_Failed, match="already documents --x"):
        insert_option_doc(doc, "--x", "text", "3.14")


@pytest.mark.parametrize(
    "version, expected",
    [
        ("3.11.2", "3.11.3"),
        ("3.13.15+", "3.13.16"),
        ("3.14.0a7+", "3.14"),
        ("3.14.0rc1", "3.14"),
        ("3.15.0b2", "3.15"),
    ],
)
def test_next_release(version, expected):
    assert next_release(version) == expected


@pytest.mark.parametrize("bad", ["3.11", "3.11.2.1", "v3.11.2", "3.11.2c1", ""])
def test_bad_py_version(bad):
    with pytest.raises(CPythonPRError):
        next_release(bad)


# --------------------------------------------------------------------- branch phase
@pytest.mark.parametrize(
    "version, today, phase",
    [
        ("3.11.2", TODAY, "security"),
        ("3.12.9", TODAY, "security"),
        ("3.13.15", datetime.date(2026, 5, 1), "bugfix"),
        ("3.13.15", TODAY, "security"),
        ("3.11.15", datetime.date(2027, 10, 1), "end-of-life"),
        ("3.16.0a1+", TODAY, "feature"),
        ("3.15.0b1", TODAY, "prerelease"),
        ("3.9.2", TODAY, "unknown"),
        ("3.15.2", TODAY, "bugfix"),
    ],
)
def test_branch_phase(version, today, phase):
    wording = Wording.load()
    assert branch_phase(version, today, wording.branches)[0] == phase
    note = string.Template(wording.branches["phases"][phase]).substitute(series="3.x")
    assert "3.x" in note


def test_branch_table_is_consistent():
    branches = Wording.load().branches
    for series, dates in branches["series"].items():
        assert dates["beta"] < dates["first"] < dates["security"] < dates["end_of_life"], series
        assert all(re.fullmatch(r"\d{4}-\d\d", d) for d in dates.values())


@pytest.mark.parametrize(
    "patches_, base, today, main, backports",
    [
        # Bug fixes, on 2026-11-24: main is 3.16; 3.14 and 3.15 take bug fixes, 3.13 has
        # taken security fixes only since 2026-10 (and 3.11, 3.12 before it).
        ((CTYPES, ENSUREPIP), "3.14.7", TODAY, "3.16", ["3.14", "3.15"]),
        ((ENSUREPIP,), "3.14.7", datetime.date(2026, 6, 1), "3.16", ["3.13", "3.14", "3.15"]),  # 3.15 in beta
        ((CTYPES,), "3.13.2", datetime.date(2025, 3, 1), "3.14", ["3.12", "3.13"]),  # 3.12's last bugfix months
        # A new configure option is a feature: main only, whatever its range.
        ((XXLIMITED, CTYPES), "3.14.7", TODAY, "3.16", []),
    ],
)
def test_target_branch_is_main_with_backports(patches_, base, today, main, backports):
    commits = [_commit(p, added_configure_options(p)) for p in patches_]
    target = cpython_pr.target_branch(commits, base, today, Wording.load().branches)
    assert target["main"] == main and target["backports"] == backports
    assert target["labels"] == [f"needs backport to {s}" for s in backports]
    note = target["note"]
    assert note.startswith(f"This PR is meant for `main` ({main}).")
    if backports:
        assert "backported to " + ", ".join(backports) in note and "`needs backport to " in note
    else:
        assert "a new feature: main only" in note
    # ... and what the base's own branch (in its bugfix phase) takes.
    assert f"The {target['series']} branch takes bug fixes" in note and target["phase"] == "bugfix"


def test_target_branch_without_a_covered_branch():
    old = dataclasses.replace(CTYPES, versions=XXLIMITED.versions)  # a fix for 3.11 and 3.12 only
    target = cpython_pr.target_branch([_commit(old)], "3.11.2", TODAY, Wording.load().branches)
    assert target["backports"] == [] and "No branch still taking bug fixes" in target["note"]
    assert "takes security fixes only, and this is not one" in target["note"]


# ----------------------------------------------------------------------- skip logic
@given(
    forwarded=st.sampled_from(["no", "not-needed", "https://github.com/python/cpython/pull/1"]),
    minor=st.integers(min_value=8, max_value=16),
    micro=st.integers(min_value=0, max_value=30),
)
def test_pre_skip(forwarded, minor, micro):
    patch = dataclasses.replace(XXLIMITED, forwarded=forwarded)
    version = f"3.{minor}.{micro}"
    got = pre_skip(patch, version)
    if forwarded == "not-needed":
        assert got[0] == "not-forwardable"
    elif forwarded != "no":
        assert got[0] == "forwarded" and forwarded in got[1]
    elif not 11 <= minor < 13:
        assert got[0] == "not-applicable"
        assert version in got[1] and "upstream has it: 3.13" in got[1]
    else:
        assert got is None


def test_default_branch_name():
    assert default_branch_name("v3.11.2") == "static-build-v3.11.2"
    assert default_branch_name("main") == "static-build-main"
    assert default_branch_name("origin/3.12") == "static-build-origin-3.12"
    assert default_branch_name("~weird:") == "static-build-weird"


# ---------------------------------------------------------------------- PR wording
def _commit(patch, options=()):
    return Commit(
        patch.name,
        "clean",
        "",
        ISSUE,
        cpython_pr.commit_subject(patch),
        sha="0" * 40,
        files=["configure.ac"],
        options=list(options),
        body=commit_message(ISSUE, patch).split("\n\n", 1)[1].strip(),
        versions=str(patch.versions),
        prior_art=patch.headers.get("Prior-Art", ""),
    )


FIDELITY = {"autoconf": "2.69", "origin": "built", "fidelity": True, "backports": ["--runstatedir"]}
BUILD = {
    "ok": True,
    "cached": False,
    "target": "x86_64-linux-musl",
    "toolchain": "zig",
    "size_bytes": 40_000_000,
    "modules": 70,
    "binary": "/x",
    "configure_args": ["./configure", "MODULE_BUILDTYPE=static"],
}


def _pr(commits, evidence, built=True):
    return pr_text(
        Wording.load(),
        commits,
        evidence,
        base="v3.11.2",
        base_commit="a" * 40,
        py_version="3.11.2",
        target_note="NOTE",
        built=built,
        target="x86_64-linux-musl",
    )


def test_pr_for_one_commit_with_evidence():
    pr = _pr(
        [_commit(XXLIMITED, ["--disable-xxlimited-modules"])],
        {"fidelity": FIDELITY, "build": BUILD, "verify": {"ok": True, "checks": 18, "failed": []}},
    )
    assert pr["title"] == f"gh-{ISSUE}: Add configure option --disable-xxlimited-modules"
    body = pr["body"]
    assert "GNU Autoconf 2.69 (with the `--runstatedir` backport)" in body
    assert "70 built-in modules, no shared objects; published as one 40.0 MB executable" in body
    assert "for `x86_64-linux-musl` (zig cc, musl libc)" in body  # the build's own toolchain
    gcc = _pr([_commit(CTYPES)], {"fidelity": None, "build": {**BUILD, "toolchain": "gcc"}, "verify": None})
    assert "(gcc, musl libc)" in gcc["body"]
    assert "passed all 18 checks" in body
    # Honest: the evidence build did not pass the new option.
    assert "did not pass `--disable-xxlimited-modules`" in body
    assert "NOTE" in body and "$" not in body.replace("${", "")


def test_pr_for_several_commits_not_built():
    pr = _pr([_commit(XXLIMITED), _commit(CTYPES)], {"fidelity": None, "build": None, "verify": None}, built=False)
    assert pr["title"].startswith(f"gh-{ISSUE}: Add configure option") and "; Keep ctypes" in pr["title"]
    assert "2 independent changes" in pr["body"]
    assert "Not built (`--no-build` was given)" in pr["body"]
    assert "No commit changes `configure.ac`" in pr["body"]


def test_pr_cites_prior_art():
    """0002's Prior-Art header: python-build-standalone's patch, linked, under its item."""
    body = _pr([_commit(CTYPES), _commit(ENSUREPIP)], {"fidelity": None, "build": None, "verify": None})["body"]
    item = body[body.index("Keep ctypes importable") : body.index("Fix ensurepip when")]
    assert "\n\n  Prior art: python-build-standalone" in item
    assert (
        "(https://github.com/astral-sh/python-build-standalone/blob/main/cpython-unix/"
        "patch-ctypes-static-binary.patch)" in item
    )
    assert "Prior art" not in body[body.index("Fix ensurepip when") :]  # 0004 has none


def test_pr_says_when_verification_failed():
    pr = _pr(
        [_commit(CTYPES)],
        {
            "fidelity": None,
            "build": {**BUILD, "configure_args": []},
            "verify": {"ok": False, "failed": ["ctypes"], "checks": 18},
        },
    )
    assert "FAILED on it: ctypes" in pr["body"]


def test_every_template_is_a_template():
    for path in TEMPLATES.glob("*.tmpl"):
        string.Template(path.read_text()).get_identifiers()  # parses
    assert {p.name for p in TEMPLATES.glob("*.tmpl")} >= {
        "commit-message.txt.tmpl",
        "news.rst.tmpl",
        "pr-body.md.tmpl",
        "pr-title.txt.tmpl",
        "configure-option.rst.tmpl",
    }


# ------------------------------------------------------------- refusals (small repos)
@pytest.fixture
def maker(tmp_path):
    return BranchMaker(Cache(tmp_path / "cache"), Runner(tmp_path / "logs"), REPO / "patches")


def test_refuses_a_directory_that_is_no_checkout(maker, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(CPythonPRError, match="is not a git checkout"):
        maker.make(plain, base="HEAD")
    with pytest.raises(CPythonPRError, match="no such directory"):
        maker.make(tmp_path / "missing")


def test_refuses_a_checkout_of_something_else(maker, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    (other / "configure.ac").write_text("AC_INIT\n")
    before = sorted(p.relative_to(other) for p in other.rglob("*"))
    with pytest.raises(CPythonPRError, match=r"is not a CPython checkout: .* has no Include/patchlevel.h"):
        maker.make(other)
    assert sorted(p.relative_to(other) for p in other.rglob("*")) == before


def test_refuses_a_patch_without_its_upstream_texts(maker):
    maker._check_upstream_fields(XXLIMITED, None)  # 0001 has all it needs, its own issue included
    no_doc = dataclasses.replace(
        XXLIMITED, headers={k: v for k, v in XXLIMITED.headers.items() if k != "Configure-Doc"}
    )
    with pytest.raises(CPythonPRError, match="Configure-Doc missing"):
        maker._check_upstream_fields(no_doc, None)
    no_news = dataclasses.replace(CTYPES, headers={k: v for k, v in CTYPES.headers.items() if not k.startswith("NEWS")})
    with pytest.raises(CPythonPRError, match="NEWS-Section, NEWS-Entry missing"):
        maker._check_upstream_fields(no_news, ISSUE)
    with pytest.raises(CPythonPRError, match="names no CPython issue"):
        maker._check_upstream_fields(CTYPES, None)


def test_skipped_patch_that_upstream_has_is_proven_upstream(maker, tmp_path, release_tarball):
    """A backport whose Applied-Upstream names a release at or before the base (0003 on
    3.14.7) is "upstream" when the base's tree has that very change (it applies in
    reverse); when it does not (0001 on 3.13+: upstream solved it another way) it keeps its
    own skip, saying so.  Shown with 0002 on 3.13.15's real ctypes/__init__.py."""
    import tarfile

    from cpython_static.build.patches import apply

    tree = tmp_path / "tree"
    with tarfile.open(release_tarball("3.13.15")) as tar:
        for m in tar:
            if m.name.partition("/")[2] == "Lib/ctypes/__init__.py":
                (tree / "Lib" / "ctypes").mkdir(parents=True)
                (tree / "Lib" / "ctypes" / "__init__.py").write_bytes(tar.extractfile(m).read())
                break
    backport = dataclasses.replace(CTYPES, forwarded="not-needed", applied_upstream="3.13.15, https://example.org/x")
    status, reason = pre_skip(backport, "3.13.15")
    assert status == "not-forwardable"
    kept = maker._upstream_skip(tree, backport, status, reason, "v3.13.15")
    assert kept["status"] == "not-forwardable"
    assert kept["reason"].startswith(reason) and "does not apply in reverse to v3.13.15" in kept["reason"]
    apply([CTYPES], tree, Runner(tmp_path / "logs"))  # now the base has the change
    proven = maker._upstream_skip(tree, backport, status, reason, "v3.13.15")
    assert proven == {
        "patch": CTYPES.name,
        "status": "upstream",
        "reason": "v3.13.15 already has the change (the patch applies in reverse); "
        "Applied-Upstream: 3.13.15, https://example.org/x",
    }
