"""cpython-static: a fully static CPython, kept alive across CPython releases."""

__version__ = "0.1.0"
