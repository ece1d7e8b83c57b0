"""The added_modules verdict: built-in, imported, its package from the one file."""

from cpython_static.verify.added import judge

EXE = "/dist/python3.13"


def answer(**modules):
    return {"executable": EXE, "modules": modules}


def test_built_in_and_from_the_one_file_passes():
    ok, detail = judge(
        answer(**{"psutil._psutil_linux": {"origin": "built-in", "package_file": f"{EXE}/psutil/__init__.pyc"}}),
        ["psutil._psutil_linux"],
    )
    assert ok and "psutil._psutil_linux" in detail


def test_each_fault_is_named():
    got = answer(
        **{
            "a._x": {"origin": "/site-packages/a/_x.so"},
            "b._y": {"error": "ImportError: nope"},
            "c._z": {"origin": "built-in", "package_file": "/usr/lib/python3/c/__init__.py"},
        }
    )
    ok, detail = judge(got, ["a._x", "b._y", "c._z", "d._w"])
    assert not ok
    assert "a._x: found as '/site-packages/a/_x.so'" in detail and "b._y: ImportError: nope" in detail
    assert "c._z: its package comes from '/usr/lib/python3/c/__init__.py'" in detail
    assert "d._w: found as None" in detail
