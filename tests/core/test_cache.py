import json
import multiprocessing
import time

import pytest

from cpython_static.core.cache import Cache, digest_of


def test_digest_is_stable_under_key_order():
    assert digest_of({"a": 1, "b": [1, 2]}) == digest_of({"b": [1, 2], "a": 1})
    assert digest_of({"a": 1}) != digest_of({"a": 2})


def test_entry_appears_complete_and_is_reused(tmp_path):
    cache = Cache(tmp_path)
    calls = []

    def produce(stage, final):
        calls.append(final)
        (stage / "lib").mkdir()
        (stage / "lib" / "x.a").write_text("x")
        return {"name": "x"}

    e1 = cache.build("libs", "k1", produce)
    e2 = cache.build("libs", "k1", produce)
    assert not e1.reused and e2.reused and len(calls) == 1
    assert calls[0] == e1.path == tmp_path / "libs" / "k1"
    assert json.loads((e1.path / "manifest.json").read_text())["name"] == "x"


@pytest.mark.parametrize("exc", [RuntimeError("build broke"), KeyboardInterrupt()])
def test_failed_or_interrupted_build_leaves_nothing(tmp_path, exc):
    cache = Cache(tmp_path)

    def produce(stage, final):
        (stage / "half-written").write_text("oops")
        raise exc

    with pytest.raises(type(exc)):
        cache.build("libs", "k2", produce)
    assert cache.lookup("libs", "k2") is None
    assert not (tmp_path / "libs" / "k2").exists()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_leftover_without_manifest_is_replaced(tmp_path):
    cache = Cache(tmp_path)
    leftover = tmp_path / "libs" / "k3"
    leftover.mkdir(parents=True)
    (leftover / "junk").write_text("from a crash")
    e = cache.build("libs", "k3", lambda stage, final: {"ok": True})
    assert not (e.path / "junk").exists() and e.manifest["ok"]


def _slow_build(root, out):
    def produce(stage, final):
        time.sleep(0.5)
        (stage / "pid").write_text(str(multiprocessing.current_process().pid))
        return {}

    e = Cache(root).build("libs", "shared", produce)
    out.put(e.reused)


def test_concurrent_builders_produce_once(tmp_path):
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_slow_build, args=(tmp_path, q)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(20)
    assert sorted([q.get(), q.get()]) == [False, True]


def test_sweep_removes_only_dead_owners(tmp_path):
    cache = Cache(tmp_path)
    mine = cache.scratch("work-x")
    dead = tmp_path / "tmp" / "work-y.pid999999999.abc"  # no such pid
    dead.mkdir()
    removed = cache.sweep()
    assert removed == [dead] and mine.is_dir() and not dead.exists()
