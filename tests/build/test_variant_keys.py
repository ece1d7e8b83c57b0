"""A build variant (build --no-gpl) is a cache key of its own, and the default build's key
is made of exactly what it was made of before variants existed."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from cpython_static.build import cpython, pipeline
from cpython_static.build.cpython import BuiltPython, CPythonBuilder, Request
from cpython_static.build.sources import load_lock
from cpython_static.versions import get_series

# The key's parts before variants (what the warm cache's entries were keyed on).
DEFAULT_PARTS = {
    "format",
    "version",
    "source",
    "patches",
    "applied",
    "series",
    "toolchain",
    "libs",
    "build_python",
    "launcher",
}


@pytest.fixture
def key_payload(monkeypatch):
    """Build with fakes around CPythonBuilder.build and return its key's payload and libraries."""

    class Libraries:
        def __init__(self, *args):
            pass

        def build_all(self, names):
            seen["libraries"] = list(names)
            return [SimpleNamespace(recipe=SimpleNamespace(name=n), key=f"key-of-{n}") for n in names]

    seen: dict = {}
    real_digest = cpython.digest_of

    def digest_of(payload):
        seen["payload"] = payload
        return real_digest(payload)

    monkeypatch.setattr(cpython, "LibraryBuilder", Libraries)
    monkeypatch.setattr(cpython, "digest_of", digest_of)
    cache = SimpleNamespace(lookup=lambda kind, key: SimpleNamespace(path=Path("/cached"), reused=True, manifest={}))
    toolchain = SimpleNamespace(
        cross=False,
        capabilities=frozenset(),
        identity=lambda: {"toolchain": "fake"},
        target=SimpleNamespace(name="x86_64-linux-musl"),
    )

    def build(variant=None):
        kw = {"variant": variant} if variant else {}
        builder = CPythonBuilder(cache, None, load_lock(), toolchain, None, None, use_series=False, **kw)
        built = builder.build(Request("3.13.15"))
        return seen["payload"], seen["libraries"], built

    return build


def test_the_default_key_has_no_new_part(key_payload):
    payload, libraries, built = key_payload()
    assert set(payload) == DEFAULT_PARTS
    assert payload["series"] == repr(get_series("3.13.15"))
    assert "readline" in libraries and "gdbm" in libraries and "libedit" not in libraries
    assert built.variant == "default"


def test_no_gpl_is_a_key_of_its_own(key_payload):
    default, _, _ = key_payload()
    payload, libraries, built = key_payload("no-gpl")
    assert set(payload) == DEFAULT_PARTS | {"variant"} and payload["variant"] == "no-gpl"
    assert payload["series"] == repr(get_series("3.13.15", "no-gpl")) != default["series"]
    assert "libedit" in libraries and not {"readline", "gdbm"} & set(libraries)
    assert cpython.digest_of(payload) != cpython.digest_of(default) and built.variant == "no-gpl"


def test_a_variant_is_published_beside_the_default_build(tmp_path):
    built = BuiltPython("3.13.15", "x86_64-linux-musl", tmp_path, "k" * 64, True, [])
    assert pipeline.published_dir(tmp_path, built) == tmp_path / "cpython-3.13.15-x86_64-linux-musl"
    built.variant = "no-gpl"
    assert pipeline.published_dir(tmp_path, built) == tmp_path / "cpython-3.13.15-x86_64-linux-musl-no-gpl"
