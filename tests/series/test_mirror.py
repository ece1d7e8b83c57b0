"""The upstream git repository: shallow per-tag fetches into a persistent mirror, worktrees.

Runs against ``upstream_repo`` (tests/conftest.py): a real git repository holding the real
3.11.2, 3.13.5 and 3.13.15 release trees, reached by local path as an air-gapped user would.
"""

import re
import shutil
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpython_static.core.cache import Cache
from cpython_static.core.git import GIT_ENV
from cpython_static.core.runner import Runner
from cpython_static.series.mirror import (
    DEFAULT_UPSTREAM,
    Mirror,
    MirrorError,
    check_tag,
    source_url,
)


@pytest.fixture
def cache(tmp_path):
    return Cache(tmp_path / "cache")


@pytest.fixture
def runner(tmp_path):
    return Runner(tmp_path / "logs")


def git_out(runner, cwd, *args) -> str:
    return runner.run("test git", ["git", *args], cwd=cwd, env=GIT_ENV, capture=True).output.strip()


def tag_commit(runner, repo, tag) -> str:
    return git_out(runner, repo, "rev-parse", f"refs/tags/{tag}^{{commit}}")


def test_fetch_one_tag_shallow(upstream_repo, cache, runner):
    up = Mirror(cache, runner, str(upstream_repo))
    assert up.url == upstream_repo.resolve().as_uri()
    sha = up.fetch("v3.13.5")
    assert sha == tag_commit(runner, upstream_repo, "v3.13.5")
    assert up.mirror.is_relative_to(cache.root)
    assert git_out(runner, up.mirror, "rev-parse", "--is-bare-repository") == "true"
    assert git_out(runner, up.mirror, "rev-parse", "--is-shallow-repository") == "true"
    # Only the tag asked for, and no history behind it.
    assert git_out(runner, up.mirror, "tag", "--list") == "v3.13.5"
    assert git_out(runner, up.mirror, "rev-list", "--count", sha) == "1"
    # A second tag joins the same mirror.
    assert up.fetch("v3.11.2") == tag_commit(runner, upstream_repo, "v3.11.2")
    assert git_out(runner, up.mirror, "tag", "--list").split() == ["v3.11.2", "v3.13.5"]


def test_mirror_persists_and_works_offline(upstream_repo, tmp_path, cache, runner):
    clone = tmp_path / "clone.git"  # a source we can take away (shares upstream's objects)
    runner.run("clone", ["git", "clone", "--quiet", "--bare", "--shared", upstream_repo, clone], env=GIT_ENV)
    sha = Mirror(cache, runner, str(clone)).fetch("v3.13.15")
    clone.rename(tmp_path / "gone.git")

    again = Mirror(cache, runner, str(clone))  # a later run: new object, same cache
    assert again.fetch("v3.13.15") == sha  # answered from the mirror, source unreachable
    with pytest.raises(MirrorError, match="cannot reach"):
        again.fetch("v3.13.5")  # not in the mirror: needs the source


def test_worktree_is_the_release_and_takes_commits(upstream_repo, tmp_path, cache, runner, release_tarball):
    up = Mirror(cache, runner, str(upstream_repo))
    dest = up.add_worktree("v3.13.5", tmp_path / "work" / "v3.13.5")
    assert dest == (tmp_path / "work" / "v3.13.5").resolve()
    assert git_out(runner, dest, "rev-parse", "HEAD") == tag_commit(runner, upstream_repo, "v3.13.5")
    assert git_out(runner, dest, "status", "--porcelain") == ""
    assert '#define PY_VERSION              "3.13.5"' in (dest / "Include/patchlevel.h").read_text()

    # Exactly the release's files: nothing from 3.11.2 or 3.13.15 left over or missing.
    with tarfile.open(release_tarball("3.13.5")) as tar:
        released = {m.name.split("/", 1)[1] for m in tar.getmembers() if not m.isdir() and "/" in m.name}
    checked_out = {str(p.relative_to(dest)) for p in dest.rglob("*") if not p.is_dir() and p.name != ".git"}
    assert checked_out == released

    # A commit works on a machine where git knows nobody: no HOME config, no EMAIL.
    (dest / "README.rst").write_text("patched\n")
    bare_env = {
        **GIT_ENV,
        "HOME": str(tmp_path / "nohome"),
        "EMAIL": None,
        **{f"GIT_{who}_{what}": None for who in ("AUTHOR", "COMMITTER") for what in ("NAME", "EMAIL")},
    }
    runner.run("commit", ["git", "commit", "--quiet", "-am", "a patch"], cwd=dest, env=bare_env)
    assert (
        git_out(runner, dest, "log", "-1", "--format=%an <%ae>|%s")
        == "cpython-static <cpython-static@localhost>|a patch"
    )
    assert git_out(runner, dest, "rev-parse", "HEAD~1") == tag_commit(runner, upstream_repo, "v3.13.5")

    with pytest.raises(MirrorError, match="already exists"):
        up.add_worktree("v3.13.5", dest)

    up.remove_worktree(dest)
    assert not dest.exists()
    listed = git_out(runner, up.mirror, "worktree", "list", "--porcelain")
    assert listed.count("worktree ") == 1  # the mirror itself, nothing else
    assert not (up.mirror / "worktrees").exists() or not any((up.mirror / "worktrees").iterdir())


def test_remove_worktree_deleted_by_hand(upstream_repo, tmp_path, cache, runner):
    import shutil

    up = Mirror(cache, runner, str(upstream_repo))
    dest = up.add_worktree("v3.11.2", tmp_path / "wt")
    assert "3.11.2" in (dest / "Include/patchlevel.h").read_text()
    shutil.rmtree(dest)
    up.remove_worktree(dest)  # prunes the stale entry; no error
    assert git_out(runner, up.mirror, "worktree", "list", "--porcelain").count("worktree ") == 1
    # The same place can be used again.
    assert up.add_worktree("v3.11.2", dest) == dest.resolve()


def test_unknown_tag_names_tag_source_and_neighbours(upstream_repo, cache, runner):
    up = Mirror(cache, runner, str(upstream_repo))
    with pytest.raises(MirrorError) as err:
        up.fetch("v3.13.99")
    msg = str(err.value)
    assert "v3.13.99" in msg and str(upstream_repo) in msg and "does not exist" in msg
    assert "v3.13.5, v3.13.15" in msg and "v3.11.2" not in msg  # same series, in version order
    # A series the source has nothing of: the latest releases of any series.
    with pytest.raises(MirrorError, match=r"(?s)v3\.14\.0rc1 does not exist.*v3\.11\.2, v3\.13\.5, v3\.13\.15"):
        up.fetch("v3.14.0rc1")


@pytest.mark.parametrize("source", ["{tmp}/no/such/repo", "http://127.0.0.1:9/x.git"])
def test_unreachable_source(source, tmp_path, cache, runner):
    source = source.format(tmp=tmp_path)
    with pytest.raises(MirrorError) as err:
        Mirror(cache, runner, source).fetch("v3.13.15")
    msg = str(err.value)
    assert "cannot reach" in msg and source in msg and "--upstream PATH|URL" in msg
    assert "Could not read from remote" not in msg  # git's specific complaint, not its generic one


@pytest.mark.parametrize(
    "tag",
    [
        "",
        "main",
        "3.13.15",
        "v3.13.15 ",
        " v3.13.15",
        "-v3.13.15",
        "--upload-pack=touch",
        "v3..13",
        "v3.13.15..v3.13.5",
        "v3.13.15/x",
        "v3.13.15\n",
        "v3.13.15^{}",
        "v3.13.x",
        "v3.14.0rc",
        "refs/tags/v3.13.15",
        "v\u0663.13.15",
    ],
)
def test_bad_tag_refused_before_git(tag, tmp_path, cache, runner):
    up = Mirror(cache, runner, str(tmp_path / "anything"))
    with pytest.raises(MirrorError, match="not a CPython release tag"):
        up.fetch(tag)
    with pytest.raises(MirrorError, match="not a CPython release tag"):
        up.add_worktree(tag, tmp_path / "wt")
    assert list(runner.log_dir.iterdir()) == []  # git never ran
    assert not up.mirror.exists()


@given(st.text(max_size=20))
def test_accepted_tags_are_harmless(text):
    try:
        check_tag(text)
    except MirrorError:
        return
    assert re.fullmatch(r"v[0-9.abrc]+", text) and ".." not in text


@pytest.mark.parametrize("tag", ["v3.13.15", "v3.14.0rc1", "v3.14.0a7", "v3.14.0b2", "v2.7", "v3.0"])
def test_release_tags_accepted(tag):
    assert check_tag(tag) == tag


def test_sources_and_defaults(tmp_path, monkeypatch, cache, runner):
    assert Mirror(cache, runner).url == DEFAULT_UPSTREAM
    monkeypatch.chdir(tmp_path)
    assert source_url("cpython") == (tmp_path / "cpython").resolve().as_uri()
    assert source_url("git@github.com:python/cpython.git") == "git@github.com:python/cpython.git"
    assert source_url("mirror.lan:cpython.git") == "mirror.lan:cpython.git"
    assert source_url("./a:b") == (tmp_path / "a:b").resolve().as_uri()
    # One mirror per repository however it is named; another repository, another mirror.
    assert Mirror(cache, runner, "cpython").mirror == Mirror(cache, runner, str(tmp_path / "cpython")).mirror
    assert Mirror(cache, runner, "other").mirror != Mirror(cache, runner, "cpython").mirror


def test_stale_git_locks_of_a_killed_fetch_are_cleared(upstream_repo, cache, runner):
    """kill -9 of a git fetch leaves shallow.lock (and ref locks) behind; with them git
    refuses every later fetch.  Under the mirror's own lock they can only be stale."""
    up = Mirror(cache, runner, str(upstream_repo))
    up.fetch("v3.11.2")
    (up.mirror / "shallow.lock").write_text("")
    (up.mirror / "refs" / "tags" / "v3.13.5.lock").write_text("")
    raw = runner.run(
        "raw git fetch",
        ["git", "fetch", "--depth=1", "origin", "refs/tags/v3.13.5:refs/tags/v3.13.5"],
        cwd=up.mirror,
        env=GIT_ENV,
        capture=True,
        check=False,
    )
    assert raw.returncode != 0  # what git alone does with them
    assert up.fetch("v3.13.5") == tag_commit(runner, upstream_repo, "v3.13.5")
    assert not list(up.mirror.glob("*.lock")) and not list((up.mirror / "refs").rglob("*.lock"))


def test_worktree_add_killed_midway_does_not_block_the_next(upstream_repo, cache, runner, tmp_path):
    """`git worktree add` marks its worktree locked ("initializing") until it is done; a
    kill -9 in between leaves a registration every later add at that path trips over."""
    up = Mirror(cache, runner, str(upstream_repo))
    dest = tmp_path / "wt"
    up.add_worktree("v3.11.2", dest)
    admin = next((up.mirror / "worktrees").iterdir())
    (admin / "locked").write_text("initializing")  # what a killed add leaves, with its directory gone
    shutil.rmtree(dest)
    raw = runner.run(
        "raw git worktree add",
        ["git", "worktree", "add", "--detach", str(dest), "v3.11.2"],
        cwd=up.mirror,
        env=GIT_ENV,
        capture=True,
        check=False,
    )
    assert raw.returncode != 0 and "locked" in raw.output + Path(raw.log).read_text()
    assert up.add_worktree("v3.11.2", dest) == dest.resolve()
    assert (dest / "Include" / "patchlevel.h").is_file()
    up.remove_worktree(dest)
