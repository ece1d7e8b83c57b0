"""The pipeline's --with rule: without it, nothing of the extension machinery runs, so
every cache key (interpreter, archive, published file) is what it was; with it, the
sdists are fetched and classified before the interpreter is built."""

from types import SimpleNamespace

import pytest

from cpython_static.build import pipeline
from cpython_static.build.cpython import BuiltPython, Request
from cpython_static.core.errors import UsageError


class Builder:
    def __init__(self, events, cross=False):
        self.events = events
        self.cache = SimpleNamespace(root=None)
        self.fetcher = self.lock = None
        self.runner = SimpleNamespace(base_env={})
        self.jobs = 1
        self.variant = "default"
        self.toolchain = SimpleNamespace(cross=cross, target=SimpleNamespace(name="x86_64-linux-musl"))

    def build(self, request):
        self.events.append("interpreter")
        return BuiltPython(request.version, "x86_64-linux-musl", pipeline.Path("/nonexistent"), "k" * 64, True, [])


@pytest.fixture
def events(monkeypatch, tmp_path):
    seen = []

    def publish(built, out, **kw):
        seen.append(("publish", kw["added"]))
        return tmp_path / "python3.13", None

    def verify(binary, **kw):
        seen.append(("verify", tuple(kw["added_modules"])))

    class Extensions:
        def __init__(self, *a, **kw):
            seen.append("extension builder")

        def prepare(self, specs):
            seen.append(("prepare", tuple(specs)))
            return []

    monkeypatch.setattr(pipeline, "publish", publish)
    monkeypatch.setattr(pipeline, "verify", verify)
    monkeypatch.setattr(pipeline, "ExtensionBuilder", Extensions)
    return seen


def test_without_with_nothing_of_it_runs(events, tmp_path):
    pipeline.build_publish_verify(Builder(events), Request("3.13.15"), tmp_path)
    assert events == ["interpreter", ("publish", None), ("verify", ())]


def test_with_the_sdists_come_before_the_interpreter(events, tmp_path):
    pipeline.build_publish_verify(Builder(events), Request("3.13.15"), tmp_path, extensions=["psutil"])
    assert events[:3] == ["extension builder", ("prepare", ("psutil",)), "interpreter"]


def test_with_is_refused_where_it_cannot_work_yet(events, tmp_path):
    with pytest.raises(UsageError, match="one-file layout"):
        pipeline.build_publish_verify(
            Builder(events), Request("3.13.15"), tmp_path, extensions=["psutil"], layout="tree"
        )
    assert events == []  # before anything was built
