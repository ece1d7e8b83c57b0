"""Keeping the series alive across CPython releases: the CPython git mirror, rebase, the
nightly watcher and its reports."""
