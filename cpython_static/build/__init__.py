"""Building: pinned sources, the toolchain, library recipes, the patch series, configure
regeneration with the exact autoconf, CPython itself, publishing, and the pipeline (build ->
publish -> verify) that everything goes through."""
