"""The `upstream` command: the series as a CPython branch and as a nixpkgs commit; their
wording and templates are package data (templates/)."""
