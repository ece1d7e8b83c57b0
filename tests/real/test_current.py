"""CPython's live series: the newest pinned 3.14.x and 3.15.x, built from their release
tarballs through the normal providers (cache, mirror, python.org, Debian) and verified
like 3.13's, with the checks of what is new (zstd, HMAC, remote debugging) and the
start-up hook.  Where no provider has the tarball (the project's own machine reaches
neither python.org nor Debian's pool for these) the test skips and says what was tried."""

import json

import pytest

from cpython_static.build.sources import Fetcher, SourceError, load_lock
from cpython_static.core.cache import Cache
from cpython_static.core.runner import Runner
from cpython_static.versions import Release

from .conftest import run_cli

LOCK = load_lock()
NEWEST = {}
for _v in LOCK.cpython_versions():
    _r = Release.parse(_v)
    if _r.series in ("3.14", "3.15") and _r.is_final:
        NEWEST[_r.series] = _v  # ascending: the last one wins


@pytest.fixture(scope="module", params=sorted(NEWEST.values()))
def live_release(request, tmp_path_factory):
    version = request.param
    fetcher = Fetcher(Cache(), Runner(tmp_path_factory.mktemp("fetch-logs")))
    try:
        fetcher.fetch(LOCK.get("cpython", version))
    except SourceError as exc:
        pytest.skip(f"no provider has CPython {version} here: {exc}")
    return version


def test_live_release_builds_and_verifies(live_release, dist):
    res = run_cli("build", live_release, "--json", "--out", str(dist))
    assert res.returncode == 0, res.stderr[-6000:]
    result = json.loads(res.stdout)
    checks = {c["name"]: c for c in result["verify"]["checks"]}
    assert result["verify"]["ok"], [c for c in checks.values() if not c["ok"]]
    assert {"hook", "zstd", "hmac", "remote_debugging", "builtin_modules"} <= checks.keys()
    assert {"_zstd", "_hmac", "_remote_debugging", "_types"} <= set(result["modules"])
