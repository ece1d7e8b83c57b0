import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest

from cpython_static.build.sources import DebianOrig, Fetcher, Source, SourceError, extract, load_lock
from cpython_static.core.cache import Cache
from cpython_static.core.runner import Runner


def _source(content: bytes, name="demo.tar.gz", urls=(), debian=None) -> Source:
    return Source(
        "lib", "demo", "1.0", "MIT", name, hashlib.sha256(content).hexdigest(), len(content), tuple(urls), debian
    )


def _fetcher(tmp_path, **kw) -> Fetcher:
    kw.setdefault("use_debian", False)
    return Fetcher(Cache(tmp_path / "cache"), Runner(tmp_path / "logs"), **kw)


def test_lock_entries_are_complete():
    lock = load_lock()
    assert {"3.11.2", "3.13.5", "3.13.15"} <= set(lock.cpython_versions())
    for src in lock.sources.values():
        assert len(src.sha256) == 64 and int(src.sha256, 16) >= 0, src.name
        assert src.license and src.version and src.file
        assert src.urls or src.debian or src.pypi, f"{src.name}: no provider can give it"
        if src.debian:
            assert len(src.debian.sha256) == 64 and src.debian.suite


def test_every_recipe_source_is_locked():
    from cpython_static.build.libraries import all_recipe_names, load_recipe

    lock = load_lock()
    for name in all_recipe_names():
        lock.get("lib", load_recipe(name).source)


def test_mirror_directory_by_either_file_name(tmp_path):
    content = b"pinned bytes"
    deb = DebianOrig("demo", "1.0-1", "trixie", "demo_1.0.orig.tar.gz", hashlib.sha256(content).hexdigest())
    src = _source(content, debian=deb)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / deb.file).write_bytes(content)  # only the Debian name is present
    got = _fetcher(tmp_path, mirror=str(mirror), use_upstream=False).fetch(src)
    assert got.read_bytes() == content
    # second time it comes from the cache, even with the mirror gone
    (mirror / deb.file).unlink()
    assert _fetcher(tmp_path, mirror=str(mirror), use_upstream=False).fetch(src) == got


def test_mismatch_is_deleted_and_every_provider_is_named(tmp_path):
    src = _source(b"the real thing", urls=["http://127.0.0.1:9/nothing-listens-here.tar.gz"])
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / src.file).write_bytes(b"tampered")
    with pytest.raises(SourceError) as info:
        _fetcher(tmp_path, mirror=str(mirror)).fetch(src)
    msg = str(info.value)
    assert "mirror" in msg and "not a pinned digest; file deleted" in msg
    assert "upstream: http://127.0.0.1:9/" in msg
    assert (mirror / src.file).read_bytes() == b"tampered"  # the user's mirror is untouched
    assert not list((tmp_path / "cache").glob("sources/*/*"))  # nothing unpinned was kept
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@pytest.fixture
def http_dir(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **kw: _Quiet(*a, directory=str(root), **kw)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_upstream_url_over_real_http(tmp_path, http_dir):
    root, base = http_dir
    content = b"x" * 100_000
    (root / "demo.tar.gz").write_bytes(content)
    src = _source(content, urls=[base + "/missing.tar.gz", base + "/demo.tar.gz"])
    got = _fetcher(tmp_path).fetch(src)
    assert got.read_bytes() == content


def test_mirror_url_is_tried_before_upstream(tmp_path, http_dir):
    root, base = http_dir
    (root / "demo.tar.gz").write_bytes(b"mirrored")
    src = _source(b"mirrored", urls=["http://127.0.0.1:9/never.tar.gz"])
    assert _fetcher(tmp_path, mirror=base).fetch(src).read_bytes() == b"mirrored"


def _tar(tmp_path, members: dict[str, bytes], top="pkg-1.0") -> Path:
    path = tmp_path / "src.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{top}/{name}" if top else name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_extract_strips_the_top_directory(tmp_path):
    archive = _tar(tmp_path, {"configure": b"#!/bin/sh\n", "src/a.c": b"int a;"})
    dest = extract(archive, tmp_path / "out")
    assert (dest / "configure").read_bytes() == b"#!/bin/sh\n"
    assert (dest / "src" / "a.c").is_file()


def test_extract_refuses_escaping_members(tmp_path):
    archive = _tar(tmp_path, {"../../evil": b"x"}, top="")
    with pytest.raises(Exception):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "evil").exists()


def test_wheel_from_the_package_index(tmp_path):
    """The pinned tzdata wheel through a real `pip download` (the index pip is set up
    with), accepted only for its pinned digest."""
    src = load_lock().get("wheel", "tzdata")
    got = _fetcher(tmp_path, mirror=None).fetch(src)
    assert got.name == src.file and hashlib.sha256(got.read_bytes()).hexdigest() == src.sha256


def test_wheel_with_a_wrong_pin_is_refused(tmp_path):
    real = load_lock().get("wheel", "tzdata")
    wrong = Source(
        real.kind, real.name, real.version, real.license, real.file, "0" * 64, real.size, (), None, pypi=real.pypi
    )
    with pytest.raises(SourceError) as err:
        _fetcher(tmp_path, mirror=None).fetch(wrong)
    assert "pip download tzdata==" in str(err.value) and "not a pinned digest" in str(err.value)
    assert not list((tmp_path / "cache").glob("sources/*/*.whl"))
